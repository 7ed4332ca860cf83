package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// TestRouteFanOut: inbound GitHub webhooks through WebhookHandler fan out to two
// destinations, one failing half of its calls: every destination gets every event, and
// each inbound event links to both outcomes. On every store.
func TestRouteFanOut(t *testing.T) {
	t.Parallel()
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			n := 1000
			if raceEnabled && sk.name == "sqlite" {
				// The race detector slows modernc.org/sqlite about twentyfold: the full size
				// runs without it (go test -run TestRouteFanOut .), a fifth with it.
				n = 200
			}
			testRouteFanOut(t, sk.open(t), n)
		})
	}
}

func testRouteFanOut(t *testing.T, st store.Store, n int) {
	ctx := t.Context()
	h := hubtest.New(t, st, hub.WithWorkers(8))
	okSink, flaky := hubtest.NewSink(t), hubtest.NewSink(t)
	flaky.SetFaults(hubtest.Faults{P500: 0.5, Seed: 17})
	registerGitHub(t, h, "github", okSink.URL, "s3cret")
	destCfg := func(c *hub.IntegrationConfig) {
		c.MaxRetries = ptr(40) // at 50% failures, 41 attempts all failing has odds 2^-41
		c.Contract = &hub.ContractRef{Name: "work-item", Version: "1.0.0", Schema: workItemSchema}
	}
	register(t, h, "tracker", okSink.URL, destCfg)
	register(t, h, "chat", flaky.URL, destCfg)
	info, err := h.PutRoute(ctx, hub.Route{
		Name:      "new-issues",
		Source:    "github",
		Condition: `headers["X-GitHub-Event"] == "issues" && payload.action == "opened"`,
		Mapping:   workItemMapping,
		Contract:  &hub.ContractRef{Name: "work-item", Version: "1.0.0"},
		Destinations: []hub.RouteDestination{
			{Service: "tracker"},
			{Service: "chat", DeliveryMapping: json.RawMessage(`{"text":"'New work item: ' + title"}`)},
		},
		Actor: "route-test",
	})
	require.NoError(t, err)
	assert.Equal(t, 1, info.Version)

	handler := h.WebhookHandler()
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			body := bytes.Replace(issueEvent, []byte(`"number": 1347`), fmt.Appendf(nil, `"number": %d`, 10000+i), 1)
			rec := post(handler, "github", githubHeader("s3cret", fmt.Sprintf("d-%d", i), body), body)
			if !assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String()) {
				return
			}
			var r hub.WebhookResult
			assert.NoError(t, json.Unmarshal(rec.Body.Bytes(), &r))
			ids[i] = r.EventID
		}()
	}
	// Deliveries the condition refuses are stored but derive nothing.
	closed := bytes.Replace(issueEvent, []byte(`"action": "opened"`), []byte(`"action": "closed"`), 1)
	skipped := result(t, post(handler, "github", githubHeader("s3cret", "closed-1", closed), closed))
	ping := githubHeader("s3cret", "ping-1", issueEvent)
	ping.Set("X-GitHub-Event", "ping")
	pinged := result(t, post(handler, "github", ping, issueEvent))
	wg.Wait()

	require.Eventually(t, func() bool {
		return okSink.Unique() == n && flaky.Unique() == n
	}, 5*time.Minute, 50*time.Millisecond, "tracker %d/%d, chat %d/%d", okSink.Unique(), n, flaky.Unique(), n)
	// Once per destination: a call is repeated only after the hub saw an attempt fail (a
	// timeout on a very busy machine) or lost the lease before recording the outcome; both are
	// counted and checked below, once every outcome is recorded.
	repeats := 0
	for i := range n {
		d := okSink.Delivered(fmt.Sprintf("webhook:d-%d|route:new-issues", i))
		assert.GreaterOrEqual(t, d, 1, i)
		repeats += max(d-1, 0)
	}
	var msg struct {
		Text string `json:"text"`
	}
	require.NoError(t, json.Unmarshal(flaky.Body("webhook:d-0|route:new-issues"), &msg))
	assert.Contains(t, msg.Text, "New work item: ")
	assert.Positive(t, flaky.Failures(), "the flaky destination failed some calls")

	// every inbound event links to both outcomes, both delivered
	trackerRetries := 0
	for i, id := range ids {
		require.NotEmpty(t, id, i)
		kids, err := h.EventFanOut(ctx, id)
		require.NoError(t, err)
		require.Len(t, kids, 2, i)
		names := map[string]store.EventStatus{}
		for _, k := range kids {
			assert.Equal(t, id, k.SourceEventID)
			names[k.ServiceName] = k.Status
		}
		require.Eventually(t, func() bool {
			kids, err = h.EventFanOut(ctx, id)
			return err == nil && kids[0].Status == store.StatusSucceeded && kids[1].Status == store.StatusSucceeded
		}, time.Minute, 10*time.Millisecond, i)
		for _, k := range kids {
			if k.ServiceName == "tracker" {
				trackerRetries += k.RetryCount
			}
		}
		assert.Contains(t, names, "tracker")
		assert.Contains(t, names, "chat")
		in, err := h.Store().GetEvent(ctx, id)
		require.NoError(t, err)
		var rec struct {
			Routes []struct {
				Route        string
				Destinations []struct{ Service, EventID string } `json:"destinations"`
			} `json:"routes"`
		}
		require.NoError(t, json.Unmarshal(in.PayloadOut, &rec))
		require.Len(t, rec.Routes, 1)
		assert.Len(t, rec.Routes[0].Destinations, 2)
	}
	for _, id := range []string{skipped.EventID, pinged.EventID} {
		kids, err := h.EventFanOut(ctx, id)
		require.NoError(t, err)
		assert.Empty(t, kids)
	}
	if repeats > 0 {
		lost := h.EngineStats()["lost"]
		t.Logf("tracker: %d repeated calls, %d failed attempts recorded, %d outcomes lost with their lease", repeats, trackerRetries, lost)
		assert.LessOrEqual(t, int64(repeats), int64(trackerRetries)+lost, "a call was repeated without a failed attempt or a lost lease")
	}
}

func TestRouteVersionsAndAudit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	registerGitHub(t, b.hub, "github", b.sink.URL, "s3cret")
	ctx := t.Context()
	r := hub.Route{Name: "r", Source: "github", Destinations: []hub.RouteDestination{{Service: "sink"}}, Actor: "alice"}
	v1, err := b.hub.PutRoute(ctx, r)
	require.NoError(t, err)
	r.Condition = `event == "issues"`
	v2, err := b.hub.PutRoute(ctx, r)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, []int{v1.Version, v2.Version})
	routes, err := b.hub.Routes(ctx, "github")
	require.NoError(t, err)
	require.Len(t, routes, 1)
	assert.Equal(t, `event == "issues"`, routes[0].Condition)
	require.NoError(t, b.hub.DeleteRoute(ctx, "r", "bob"))
	routes, err = b.hub.Routes(ctx, "")
	require.NoError(t, err)
	require.Len(t, routes, 1)
	assert.True(t, routes[0].Disabled)
	assert.Equal(t, 3, routes[0].Version)
	for actor, want := range map[string][]string{"alice": {"route.put", "route.put"}, "bob": {"route.delete"}} {
		entries, err := b.st.ListAudit(ctx, store.AuditFilter{Actor: actor})
		require.NoError(t, err)
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action)
		}
		assert.Equal(t, want, actions, actor)
	}

	// a disabled route routes nothing
	res := result(t, post(b.hub.WebhookHandler(), "github", githubHeader("s3cret", "x", issueEvent), issueEvent))
	kids, err := b.hub.EventFanOut(ctx, res.EventID)
	require.NoError(t, err)
	assert.Empty(t, kids)

	for name, bad := range map[string]hub.Route{
		"name":        {Name: "", Source: "github", Destinations: []hub.RouteDestination{{Service: "sink"}}},
		"destination": {Name: "x", Source: "github"},
		"condition":   {Name: "x", Source: "github", Condition: "headers[", Destinations: []hub.RouteDestination{{Service: "sink"}}},
		"mapping":     {Name: "x", Source: "github", Mapping: json.RawMessage(`{"a":"("}`), Destinations: []hub.RouteDestination{{Service: "sink"}}},
	} {
		_, err := b.hub.PutRoute(ctx, bad)
		assert.ErrorIs(t, err, hub.ErrInvalidConfig, name)
	}
	_, err = b.hub.PutRoute(ctx, hub.Route{Name: "x", Source: "nope", Destinations: []hub.RouteDestination{{Service: "sink"}}})
	assert.ErrorIs(t, err, hub.ErrUnknownService)
}

// The permission matrix (governance_test.go) covers the route and inbound methods too.
func init() {
	exemptMethods["WebhookHandler"] = true // no context: providers authenticate by signature
	matrix = append(matrix,
		matrixRow{"PutRoute", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
			_, err := h.PutRoute(ctx, hub.Route{Name: "r", Source: "crm", Destinations: []hub.RouteDestination{{Service: "crm"}}})
			return err
		}},
		matrixRow{"DeleteRoute", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
			return h.DeleteRoute(ctx, "r", "")
		}},
		matrixRow{"Routes", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
			_, err := h.Routes(ctx, "crm")
			return err
		}},
		matrixRow{"EventFanOut", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
			_, err := h.EventFanOut(ctx, "00000000-0000-4000-8000-000000000001")
			return err
		}},
		matrixRow{"ReceiveEvent", access{1, 1, 1, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
			_, err := h.ReceiveEvent(ctx, "crm", json.RawMessage(`{"n":1}`), "k-1")
			return err
		}},
	)
}

// matrixRow is the type of a permission matrix row.
type matrixRow = struct {
	name string
	want access
	call matrixCall
}
