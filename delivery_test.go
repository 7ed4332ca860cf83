package hub_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
)

func memoryStore(t *testing.T) store.Store {
	t.Helper()
	return memory.New(memory.Options{})
}

func TestDeliveryOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		want     store.EventStatus
		attempts int
		class    string
	}{
		{"permanent 400 fails at once", 400, store.StatusFailed, 1, "permanent"},
		{"auth 401 fails at once", 401, store.StatusFailed, 1, "auth"},
		{"auth 403 fails at once", 403, store.StatusFailed, 1, "auth"},
		{"transient 503 until dead (1 + max_retries 3)", 503, store.StatusDead, 4, "transient"},
		{"request timeout 408 until dead", 408, store.StatusDead, 4, "transient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.sink.FailWith(tt.status)
			res, err := b.hub.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "sink", Payload: json.RawMessage(`{}`), Mode: hub.Async})
			require.NoError(t, err)
			eventually(t, 5*time.Second, func() bool { return statusOf(t, b.st, res.EventID) == tt.want }, "reaches %s", tt.want)
			ev, err := b.st.GetEvent(t.Context(), res.EventID)
			require.NoError(t, err)
			assert.Equal(t, tt.status, ev.ResponseCode)
			assert.Equal(t, tt.attempts, ev.RetryCount, "failed attempts recorded")
			var d map[string]any
			require.NoError(t, json.Unmarshal(ev.ErrorDetails, &d))
			assert.Equal(t, tt.class, d["class"], "auth failures are their own class, distinct from other permanent errors")
			assert.EqualValues(t, tt.status, d["status_code"])
			assert.EqualValues(t, tt.attempts, b.sink.Requests(), "one request per attempt")
		})
	}
}

func TestDeadEventEscalates(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	flaky := hubtest.NewSink(t)
	pager := hubtest.NewSink(t)
	register(t, h, "pager", pager.URL, nil)
	register(t, h, "orders", flaky.URL, func(c *hub.IntegrationConfig) {
		c.MaxRetries = intp(1)
		c.EscalationService = "pager"
	})
	flaky.FailWith(500)
	res, err := h.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "orders", Payload: json.RawMessage(`{"order":1}`), Mode: hub.Async})
	require.NoError(t, err)
	eventually(t, 5*time.Second, func() bool { return pager.Total() == 1 }, "escalation delivered to the pager service")
	assert.Equal(t, store.StatusDead, statusOf(t, h.Store(), res.EventID))
	var msg map[string]any
	for k := range pager.Counts() {
		require.NoError(t, json.Unmarshal(pager.Body(k), &msg))
	}
	assert.Equal(t, "orders", msg["service"])
	assert.Equal(t, res.EventID, msg["event_id"])
	assert.Contains(t, msg["text"], "exhausted 1 retries")
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sink.FailWith(429) // Retry-After: 1
	res, err := b.hub.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "sink", Payload: json.RawMessage(`{}`), Mode: hub.Async})
	require.NoError(t, err)
	eventually(t, 5*time.Second, func() bool { return b.sink.RateLimited() >= 1 }, "first attempt throttled")
	first := time.Now()
	ev, err := b.st.GetEvent(t.Context(), res.EventID)
	require.NoError(t, err)
	if ev.Status == store.StatusRetrying {
		assert.GreaterOrEqual(t, ev.NextAttemptAt.Sub(ev.UpdatedAt), 900*time.Millisecond, "next attempt after Retry-After, not the 5 ms backoff")
	}
	b.sink.FailWith(0)
	eventually(t, 5*time.Second, func() bool { return statusOf(t, b.st, res.EventID) == store.StatusSucceeded }, "delivered after the pause")
	assert.GreaterOrEqual(t, time.Since(first), 800*time.Millisecond)
	assert.EqualValues(t, 1, b.sink.RateLimited(), "no second 429: the hub waited")
}

func TestOpenBreakerMakesEventsWait(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	sink := hubtest.NewSink(t)
	register(t, h, "svc", sink.URL, func(c *hub.IntegrationConfig) {
		c.CircuitBreaker = json.RawMessage(`{"failure_threshold": 3, "recovery_timeout": "300ms"}`)
		c.MaxRetries = intp(2)
	})
	ctx := t.Context()
	sink.FailWith(503)
	var ids []string
	for i := range 20 {
		res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "svc", Payload: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), Mode: hub.Async})
		require.NoError(t, err)
		ids = append(ids, res.EventID)
	}
	eventually(t, 5*time.Second, func() bool {
		hr, err := h.GetIntegrationHealth(ctx, "svc")
		return err == nil && hr.Services[0].Breaker == "open"
	}, "breaker opens")
	hr, err := h.GetIntegrationHealth(ctx, "svc")
	require.NoError(t, err)
	assert.Equal(t, store.HealthUnhealthy, hr.Services[0].Status)
	calls := sink.Requests()
	assert.LessOrEqual(t, calls, int64(3+4), "calls stop once the breaker is open (3 to open, plus in-flight)")

	// Sync calls while open are stored and told to wait.
	res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "svc", Payload: json.RawMessage(`{"sync":true}`)})
	require.ErrorIs(t, err, hub.ErrCircuitOpen)
	require.NotNil(t, res)
	ids = append(ids, res.EventID)

	sink.FailWith(0)
	eventually(t, 10*time.Second, func() bool {
		c, err := h.Store().CountEventsByStatus(ctx, store.EventFilter{})
		return err == nil && c[store.StatusSucceeded] == int64(len(ids))
	}, "every waiting event drains once the service recovers")
	dead, err := h.Store().CountEventsByStatus(ctx, store.EventFilter{Statuses: []store.EventStatus{store.StatusDead}})
	require.NoError(t, err)
	assert.Empty(t, dead, "waiting behind an open breaker burns no retries")
}

func TestNotificationWakesAnotherHub(t *testing.T) {
	t.Parallel()
	// Two hubs on one store: the one that accepts is not started, the other delivers.
	st := memoryStore(t)
	sink := hubtest.NewSink(t)
	producer, err := hub.New(st, hubtest.Fast()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = producer.Close(t.Context()) })
	register(t, producer, "svc", sink.URL, nil)
	worker := hubtest.New(t, st, hub.WithPollInterval(time.Hour))
	_ = worker
	res, err := producer.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "svc", Payload: json.RawMessage(`{}`), Mode: hub.Async})
	require.NoError(t, err)
	eventually(t, 3*time.Second, func() bool { return statusOf(t, st, res.EventID) == store.StatusSucceeded }, "the store's notification wakes the other hub")
}

func TestSyncWaitSeesAnotherHubsDelivery(t *testing.T) {
	t.Parallel()
	st := memoryStore(t)
	slow := hubtest.NewSink(t)
	slow.SetDelay(time.Second)
	fast := hubtest.NewSink(t)
	a := hubtest.New(t, st, hub.WithWorkers(1), hub.WithBatchSize(1))
	register(t, a, "slow", slow.URL, nil)
	register(t, a, "fast", fast.URL, nil)
	ctx := t.Context()
	// Occupy every slot of hub a (one worker plus one prefetched event).
	for range 2 {
		_, err := a.ProcessIntegrationEvent(ctx, hub.EventData{Service: "slow", Payload: json.RawMessage(`{}`), Mode: hub.Async})
		require.NoError(t, err)
	}
	eventually(t, 5*time.Second, func() bool { return a.EngineStats()["claimed"] == 2 }, "hub a is busy")
	b := hubtest.New(t, st)
	_ = b
	res, err := a.ProcessIntegrationEvent(ctx, hub.EventData{Service: "fast", Payload: json.RawMessage(`{"x":1}`), IdempotencyKey: "other-hub"})
	require.NoError(t, err)
	assert.Equal(t, store.StatusSucceeded, res.Status, "hub a saw hub b's delivery in the store")
	assert.Equal(t, 200, res.ResponseCode)
	assert.EqualValues(t, 1, b.EngineStats()["succeeded"], "hub b delivered it")
	assert.Equal(t, 1, fast.Total())
}
