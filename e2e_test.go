package hub_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// TestEndToEnd runs the whole lifecycle on every store: register with the shared contract
// and mapping, deliver the shared event synchronously, a burst asynchronously (with
// duplicates), refuse a contract violation, survive an outage, then read health, metrics
// and analytics.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			st := sk.open(t)
			h := hubtest.New(t, st, hub.WithWorkers(8))
			sink := hubtest.NewSink(t)
			ctx := t.Context()
			reg := register(t, h, "work-items", sink.URL, func(c *hub.IntegrationConfig) {
				workItemService(c)
				c.Auth = json.RawMessage(`{"type":"bearer","token":"e2e-secret-token"}`)
				c.CostPerCall = 0.5
				c.MaxRetries = intp(50)
			})

			res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "work-items", Payload: issueEvent, IdempotencyKey: "gh-1347", ChairmanOverride: true})
			require.NoError(t, err)
			require.Equal(t, store.StatusSucceeded, res.Status)
			assert.JSONEq(t, string(mustRead("examples/quickstart/data/work-item.expected.json")), string(sink.Body("gh-1347")))

			_, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "work-items", Payload: issueWith(t, func(i map[string]any) { i["title"] = "" })})
			require.ErrorIs(t, err, hub.ErrContractViolation)

			const n = 100
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p := issueWith(t, func(is map[string]any) { is["number"] = 5000 + i })
					for range 2 { // every event twice: the key dedupes
						_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "work-items", Payload: p, IdempotencyKey: fmt.Sprintf("gh-%d", 5000+i), Mode: hub.Async})
						assert.NoError(t, err)
					}
				}()
			}
			wg.Wait()
			eventually(t, 20*time.Second, func() bool { return sink.Unique() == n+1 }, "burst delivered")

			// An outage: transient failures are retried, nothing is lost.
			sink.FailWith(503)
			out, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "work-items", Payload: issueWith(t, func(is map[string]any) { is["number"] = 9999 }), Mode: hub.Async})
			require.NoError(t, err)
			eventually(t, 5*time.Second, func() bool { return statusOf(t, st, out.EventID) == store.StatusRetrying }, "retrying during the outage")
			sink.FailWith(0)
			eventually(t, 10*time.Second, func() bool { return statusOf(t, st, out.EventID) == store.StatusSucceeded }, "delivered after it")
			assert.Equal(t, n+2, sink.Total(), "each event delivered exactly once; stats %v", h.EngineStats())

			hr, err := h.GetIntegrationHealth(ctx, "")
			require.NoError(t, err)
			require.Len(t, hr.Services, 1)
			assert.Equal(t, reg.ServiceID, hr.Services[0].ServiceID)
			assert.EqualValues(t, n+2, hr.Services[0].QueueDepth[store.StatusSucceeded])
			assert.Equal(t, "closed", hr.Services[0].Breaker)

			pm, err := h.GetPerformanceMetrics(ctx, hub.TimeRange{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Minute)})
			require.NoError(t, err)
			assert.EqualValues(t, n+2, pm.Overall.Events)
			assert.EqualValues(t, n+2, pm.Overall.Succeeded)
			assert.EqualValues(t, 1, pm.Overall.Retried)
			assert.InDelta(t, 1.0, pm.Overall.SuccessRate, 1e-9)

			an, err := h.GetIntegrationAnalytics(ctx, hub.AnalyticsQuery{Service: "work-items", Period: store.PeriodDay})
			require.NoError(t, err)
			assert.EqualValues(t, n+2, an.Totals.Events)
			assert.EqualValues(t, n+2, an.Totals.Successes)
			assert.EqualValues(t, 1, an.Totals.ChairmanInterventions)
			assert.InDelta(t, 0.5*float64(n+2), an.Totals.Cost, 1e-9)

			evs, err := st.ListEvents(ctx, store.EventFilter{Page: store.Page{Limit: store.MaxPageLimit}})
			require.NoError(t, err)
			for _, e := range evs {
				assert.NotContains(t, string(e.PayloadOut)+string(e.ErrorDetails), "e2e-secret-token")
			}
		})
	}
}
