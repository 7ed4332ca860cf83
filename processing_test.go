package hub_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/contract"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/transform"
)

func TestProcessSyncDeliversCanonicalDocument(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	sink := hubtest.NewSink(t)
	register(t, h, "wi", sink.URL, workItemService)
	ctx := t.Context()

	res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "wi", Payload: issueEvent, IdempotencyKey: "gh-1347"})
	require.NoError(t, err)
	assert.Equal(t, store.StatusSucceeded, res.Status)
	assert.Equal(t, 200, res.ResponseCode)
	assert.Equal(t, "wi.mapping", res.RuleName)
	assert.Equal(t, 1, res.RuleVersion)
	expected := mustRead("examples/quickstart/data/work-item.expected.json")
	assert.JSONEq(t, string(expected), string(res.Canonical))
	assert.JSONEq(t, string(expected), string(sink.Body("gh-1347")))

	ev, err := h.Store().GetEvent(ctx, res.EventID)
	require.NoError(t, err)
	assert.Equal(t, store.StatusSucceeded, ev.Status)
	assert.JSONEq(t, string(expected), string(ev.CanonicalMapping))
	assert.Contains(t, string(ev.TransformationApplied), `"version":1`)
	assert.NotNil(t, ev.CompletedAt)

	// The same key again is the same event, not delivered twice.
	again, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "wi", Payload: issueEvent, IdempotencyKey: "gh-1347"})
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, res.EventID, again.EventID)
	assert.Equal(t, 1, sink.Delivered("gh-1347"))
}

func TestProcessAsyncAndConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	const n = 200
	var wg sync.WaitGroup
	ids := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// every key is submitted twice, concurrently
			key := "k" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
			res, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{"n":1}`), IdempotencyKey: key, Mode: hub.Async})
			assert.NoError(t, err)
			if res != nil {
				ids[i] = res.EventID
			}
		}()
	}
	wg.Wait()
	eventually(t, 10*time.Second, func() bool { return b.sink.Unique() == n }, "all %d keys delivered", n)
	eventually(t, 5*time.Second, func() bool {
		c, err := b.st.CountEventsByStatus(ctx, store.EventFilter{})
		return err == nil && c[store.StatusSucceeded] == n
	}, "all succeeded")
	assert.Equal(t, n, b.sink.Total(), "no key delivered twice")
}

func TestProcessBadInput(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil, hub.WithPayloadLimits(8192, 16))
	sink := hubtest.NewSink(t)
	register(t, h, "wi", sink.URL, workItemService)
	past := time.Now().Add(-time.Minute)
	deep := strings.Repeat("[", 40) + strings.Repeat("]", 40)
	tests := []struct {
		name string
		ev   hub.EventData
		want error
	}{
		{"unknown service", hub.EventData{Service: "nope", Payload: issueEvent}, hub.ErrUnknownService},
		{"no service", hub.EventData{Payload: issueEvent}, hub.ErrUnknownService},
		{"empty payload", hub.EventData{Service: "wi"}, hub.ErrInvalidInput},
		{"malformed JSON", hub.EventData{Service: "wi", Payload: json.RawMessage(`{"issue": `)}, hub.ErrInvalidInput},
		{"oversized", hub.EventData{Service: "wi", Payload: json.RawMessage(`"` + strings.Repeat("a", 9000) + `"`)}, hub.ErrInvalidInput},
		{"deeply nested", hub.EventData{Service: "wi", Payload: json.RawMessage(deep)}, hub.ErrInvalidInput},
		{"bad priority", hub.EventData{Service: "wi", Payload: issueEvent, Priority: "urgent!"}, hub.ErrInvalidInput},
		{"bad venture", hub.EventData{Service: "wi", Payload: issueEvent, VentureID: "v-1"}, hub.ErrInvalidInput},
		{"expired", hub.EventData{Service: "wi", Payload: issueEvent, ExpiresAt: &past}, hub.ErrExpired},
		{"contract violation", hub.EventData{Service: "wi", Payload: issueWith(t, func(i map[string]any) { i["title"] = "" })}, hub.ErrContractViolation},
		{"mapping fails", hub.EventData{Service: "wi", Payload: json.RawMessage(`{"issue": 5}`)}, hub.ErrTransform},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, mode := range []hub.DeliveryMode{hub.Sync, hub.Async} {
				ev := tt.ev
				ev.Mode = mode
				res, err := h.ProcessIntegrationEvent(t.Context(), ev)
				require.ErrorIs(t, err, tt.want)
				assert.Nil(t, res, "nothing accepted")
			}
		})
	}
	events, err := h.Store().ListEvents(t.Context(), store.EventFilter{})
	require.NoError(t, err)
	assert.Empty(t, events, "bad input stores nothing")
	assert.Zero(t, sink.Requests())
}

func TestContractViolationListsEveryPath(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	register(t, h, "wi", hubtest.NewSink(t).URL, workItemService)
	bad := issueWith(t, func(i map[string]any) {
		i["title"] = ""
		i["html_url"] = "not a url"
		i["comments"] = -3
	})
	_, err := h.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "wi", Payload: bad})
	var cv *hub.ContractViolationError
	require.ErrorAs(t, err, &cv)
	assert.Equal(t, "canonical", cv.Stage)
	assert.Equal(t, "work-item", cv.Contract)
	paths := map[string]string{}
	for _, v := range cv.Violations {
		paths[v.Path] = v.Keyword
	}
	assert.Equal(t, map[string]string{"/title": "minLength", "/url": "format", "/comment_count": "minimum"}, paths)
	var ve *contract.ValidationError
	require.ErrorAs(t, err, &ve, "the contract package's typed error is in the chain")
}

func TestProcessInputContract(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	register(t, h, "in", hubtest.NewSink(t).URL, func(c *hub.IntegrationConfig) {
		c.InputContract = &hub.ContractRef{Name: "needs-action", Version: "1.0.0", Schema: json.RawMessage(`{"type":"object","required":["action"]}`)}
	})
	_, err := h.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "in", Payload: json.RawMessage(`{"x":1}`)})
	var cv *hub.ContractViolationError
	require.ErrorAs(t, err, &cv)
	assert.Equal(t, "input", cv.Stage)
	res, err := h.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "in", Payload: json.RawMessage(`{"action":"opened"}`)})
	require.NoError(t, err)
	assert.Equal(t, store.StatusSucceeded, res.Status)
}

// TestProcessExpiresWhileWaiting: an event attempted while it was worth delivering, then
// retrying past its expires_at, expires and is never delivered. The hub and its store share
// a clock the test moves, so the steps do not race the machine's speed.
func TestProcessExpiresWhileWaiting(t *testing.T) {
	t.Parallel()
	clk := &monClock{t: time.Now().UTC()}
	h := hubtest.New(t, nil, hub.WithClock(clk.Now))
	sink := hubtest.NewSink(t)
	register(t, h, "sink", sink.URL, func(c *hub.IntegrationConfig) { c.MaxRetries = intp(100) })
	b := &bundle{hub: h, st: h.Store(), sink: sink}
	ctx := t.Context()
	b.sink.FailWith(503)
	exp := clk.Now().Add(time.Minute)
	res, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{}`), ExpiresAt: &exp, Mode: hub.Async})
	require.NoError(t, err)
	eventually(t, time.Minute, func() bool {
		ev, err := b.st.GetEvent(ctx, res.EventID)
		return err == nil && ev.RetryCount > 0 && ev.Status == store.StatusRetrying
	}, "attempted while it was worth delivering")
	clk.Set(exp.Add(time.Minute)) // past expires_at, and past the retry's due time
	eventually(t, time.Minute, func() bool { return statusOf(t, b.st, res.EventID) == store.StatusExpired }, "expired")
	b.sink.FailWith(0)
	time.Sleep(50 * time.Millisecond)
	assert.Zero(t, b.sink.Total(), "an expired event is never delivered")
}

func TestProcessSyncReportsFailures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()

	b.sink.FailWith(400)
	res, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{"a":1}`)})
	require.ErrorIs(t, err, hub.ErrDeliveryFailed)
	require.NotNil(t, res, "the event was accepted")
	assert.Equal(t, store.StatusFailed, res.Status)
	assert.Equal(t, 400, res.ResponseCode)
	assert.Equal(t, store.StatusFailed, statusOf(t, b.st, res.EventID))

	b.sink.FailWith(503)
	res, err = b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{"a":2}`)})
	require.ErrorIs(t, err, hub.ErrDeliveryFailed)
	assert.Equal(t, store.StatusRetrying, res.Status)
	assert.Equal(t, 1, res.RetryCount)
	b.sink.FailWith(0)
	eventually(t, 5*time.Second, func() bool { return statusOf(t, b.st, res.EventID) == store.StatusSucceeded }, "retried to success")

	// Sync needs a started hub; nothing is stored otherwise.
	idle, err := hub.New(nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = idle.Close(ctx) })
	_, err = idle.ProcessIntegrationEvent(ctx, hub.EventData{Service: "x", Payload: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, hub.ErrNotStarted)
}

func TestChairmanOverrideJumpsTheQueue(t *testing.T) {
	t.Parallel()
	sink := hubtest.NewSink(t)
	h, err := hub.New(nil, append(hubtest.Fast(), hub.WithWorkers(1), hub.WithBatchSize(1))...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(t.Context()) })
	register(t, h, "q", sink.URL, func(c *hub.IntegrationConfig) {
		// one call per minute, and a short wait for a permit: the others are deferred
		c.RateLimits = json.RawMessage(`{"requests_per_minute": 1, "burst": 1, "adaptive": false, "max_wait": "10ms"}`)
	})
	ctx := t.Context()
	for i := range 5 {
		_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "q", Payload: json.RawMessage(`{}`), IdempotencyKey: "normal-" + string(rune('0'+i)), Mode: hub.Async})
		require.NoError(t, err)
	}
	_, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "q", Payload: json.RawMessage(`{}`), IdempotencyKey: "boss", ChairmanOverride: true, Priority: store.PriorityLow, Mode: hub.Async})
	require.NoError(t, err)
	require.NoError(t, h.Start(ctx))
	eventually(t, 5*time.Second, func() bool { return sink.Delivered("boss") == 1 }, "override delivered")
	assert.Equal(t, "boss", sink.Order()[0], "the override is claimed before older, higher-priority events")

	// A second override bypasses the ceiling the others are deferred by: under one call a
	// minute it is delivered at once (a call bound by the ceiling would wait a minute and
	// run into the context's deadline), while the normal events still wait.
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := h.ProcessIntegrationEvent(wait, hub.EventData{Service: "q", Payload: json.RawMessage(`{}`), IdempotencyKey: "boss-2", ChairmanOverride: true})
	require.NoError(t, err)
	assert.Equal(t, store.StatusSucceeded, res.Status)
	assert.Equal(t, 1, sink.Delivered("boss-2"))
	assert.LessOrEqual(t, sink.Total(), 3, "the normal events still wait for the ceiling (one at most got the minute's call)")
}

func TestTransformData(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	rules, err := transform.Parse(workItemMapping)
	require.NoError(t, err)
	out, err := h.TransformData(t.Context(), json.RawMessage(issueEvent), rules)
	require.NoError(t, err)
	got, err := json.Marshal(out)
	require.NoError(t, err)
	assert.JSONEq(t, string(mustRead("examples/quickstart/data/work-item.expected.json")), string(got))

	bad, err := transform.Parse([]byte(`{"x": "1 +"}`))
	require.NoError(t, err)
	_, err = h.TransformData(t.Context(), map[string]any{}, bad)
	require.ErrorIs(t, err, hub.ErrInvalidConfig)

	failing, err := transform.Parse([]byte(`{"x": "issue.title.nope"}`))
	require.NoError(t, err)
	_, err = h.TransformData(t.Context(), map[string]any{"issue": 3}, failing)
	require.ErrorIs(t, err, hub.ErrTransform)

	_, err = h.TransformData(t.Context(), json.RawMessage(`{`), rules)
	require.ErrorIs(t, err, hub.ErrInvalidInput)
}

func TestValidateDataContract(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	c := contract.Contract{Name: "work-item", Version: "1.0.0", Schema: workItemSchema}
	expected := mustRead("examples/quickstart/data/work-item.expected.json")
	res, err := h.ValidateDataContract(t.Context(), json.RawMessage(expected), c)
	require.NoError(t, err)
	assert.True(t, res.Valid)

	res, err = h.ValidateDataContract(t.Context(), map[string]any{"id": "nope"}, c)
	require.NoError(t, err, "violations are a result, not an error")
	assert.False(t, res.Valid)
	assert.NotEmpty(t, res.Violations)

	_, err = h.ValidateDataContract(t.Context(), []byte(`{"a":1,"a":2}`), c)
	require.ErrorIs(t, err, hub.ErrInvalidInput)

	_, err = h.ValidateDataContract(t.Context(), map[string]any{}, contract.Contract{Name: "x", Version: "1.0.0", Schema: json.RawMessage(`{"type": 5}`)})
	require.ErrorIs(t, err, hub.ErrInvalidConfig)
}

// TestProcessKeepsNoCallerBytes: the memory store keeps the documents the hub hands it
// without copying them, so the hub must hand it only bytes of its own: a caller that reuses
// its payload buffer once an accept returned changes no stored or delivered event (raw and
// mapped services, single and batch accepts).
func TestProcessKeepsNoCallerBytes(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil, hub.WithPollInterval(time.Hour)) // nothing delivered meanwhile
	sink := hubtest.NewSink(t)
	register(t, h, "raw", sink.URL, nil)
	register(t, h, "mapped", sink.URL, workItemService)
	ctx := t.Context()
	want := compactJSON(t, issueEvent)
	var ids []string
	for _, svc := range []string{"raw", "mapped"} {
		buf := append([]byte(nil), issueEvent...)
		res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: svc, Payload: buf, Mode: hub.Async})
		require.NoError(t, err)
		ids = append(ids, res.EventID)
		canonical := append([]byte(nil), res.Canonical...)
		buf2 := append([]byte(nil), issueEvent...)
		batch, err := h.ProcessIntegrationEvents(ctx, []hub.EventData{{Service: svc, Payload: buf2}})
		require.NoError(t, err)
		ids = append(ids, batch[0].EventID)
		for i := range buf { // the caller reuses its buffers
			buf[i], buf2[i] = ' ', ' '
		}
		assert.Equal(t, string(canonical), string(res.Canonical), "%s: the result's canonical document", svc)
	}
	for _, id := range ids {
		ev, err := h.Store().GetEvent(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, want, string(ev.PayloadIn), "event %s of %s", id, ev.ServiceName)
		assert.True(t, json.Valid(ev.CanonicalMapping) || len(ev.CanonicalMapping) == 0)
	}
}
