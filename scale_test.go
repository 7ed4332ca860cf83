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

// TestScaleOutPostgres runs three hubs on one Postgres database delivering 10,000 events:
// no event is delivered twice while its lease holds, and each hub does at least 20% of the
// work.
func TestScaleOutPostgres(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	const events = 10000
	sink := hubtest.NewSink(t)
	sink.SetDelay(time.Millisecond)
	opts := append(hubtest.Fast(), hub.WithWorkers(8), hub.WithBatchSize(16), hub.WithLease(10*time.Second), hub.WithPollInterval(50*time.Millisecond))
	hubs := make([]*hub.Hub, 3)
	for i := range hubs {
		st := openPostgres(t, schema)
		hubs[i] = hubtest.New(t, st, append(opts, hub.WithInstanceID(fmt.Sprintf("hub-%d", i)))...)
	}
	register(t, hubs[0], "sink", sink.URL, nil)
	ctx := t.Context()
	var wg sync.WaitGroup
	const producers = 16
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < events; i += producers {
				_, err := hubs[i%3].ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{}`), IdempotencyKey: fmt.Sprintf("scale-%d", i), Mode: hub.Async})
				if !assert.NoError(t, err) {
					return
				}
			}
		}()
	}
	wg.Wait()
	st := hubs[0].Store()
	eventually(t, 120*time.Second, func() bool {
		c, err := st.CountEventsByStatus(ctx, store.EventFilter{})
		return err == nil && c[store.StatusSucceeded] == events
	}, "every event delivered")
	split := make([]int64, 3)
	for i, h := range hubs {
		split[i] = h.EngineStats()["succeeded"]
	}
	fmt.Printf("SCALE-OUT postgres: %d events, split %v (%.1f%% / %.1f%% / %.1f%%), sink deliveries %d, concurrent duplicates %d\n",
		events, split, pct(split[0], events), pct(split[1], events), pct(split[2], events), sink.Total(), sink.ConcurrentDuplicates())
	assert.Zero(t, sink.ConcurrentDuplicates(), "no event delivered twice while its lease held")
	assert.Equal(t, events, sink.Unique())
	assert.Equal(t, events, sink.Total(), "leases never expired, so nothing was delivered twice")
	for i, n := range split {
		assert.GreaterOrEqual(t, pct(n, events), 20.0, "hub %d did at least 20%% of the work", i)
	}
	require.EqualValues(t, events, split[0]+split[1]+split[2])
}

func pct(n int64, of int) float64 { return 100 * float64(n) / float64(of) }

// TestFlakyService delivers 5,000 events to a sink answering 20% 500s, 5% timeouts and,
// twice in the run, a quota window of 429s with Retry-After; with max_retries 8 none ends
// dead, and after the first 429 of a window the hub pauses, so few more 429s follow.
func TestFlakyService(t *testing.T) {
	t.Parallel()
	const events = 5000
	sink := hubtest.NewSink(t)
	sink.SetFaults(hubtest.Faults{P500: 0.20, PTimeout: 0.05, Stall: time.Second, ThrottleEvery: 2000, RetryAfter: time.Second, Seed: 42})
	h := hubtest.New(t, nil, hub.WithWorkers(16), hub.WithBatchSize(32))
	register(t, h, "flaky", sink.URL, func(c *hub.IntegrationConfig) {
		c.MaxRetries = intp(8)
		c.Retry = json.RawMessage(`{"initial_backoff":"2ms","max_backoff":"20ms","inline_retries":0,"timeout":"100ms"}`)
		c.CircuitBreaker = json.RawMessage(`{"failure_threshold": 10, "recovery_timeout": "50ms"}`)
	})
	ctx := t.Context()
	for i := range events {
		_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "flaky", Payload: json.RawMessage(`{}`), IdempotencyKey: fmt.Sprintf("f-%d", i), Mode: hub.Async})
		require.NoError(t, err)
	}
	st := h.Store()
	eventually(t, 120*time.Second, func() bool {
		c, err := st.CountEventsByStatus(ctx, store.EventFilter{Statuses: []store.EventStatus{store.StatusSucceeded, store.StatusDead, store.StatusFailed}})
		return err == nil && c[store.StatusSucceeded]+c[store.StatusDead]+c[store.StatusFailed] == events
	}, "every event settled")
	c, err := st.CountEventsByStatus(ctx, store.EventFilter{})
	require.NoError(t, err)
	fmt.Printf("FLAKY: %d events, %d requests (%d failed: %d timeouts, %d 429s in %d quota windows, %d of them after the first of their window), succeeded %d, dead %d\n",
		events, sink.Requests(), sink.Failures(), sink.Timeouts(), sink.RateLimited(), sink.ThrottleWindows(), sink.RateLimitedAfterFirst(), c[store.StatusSucceeded], c[store.StatusDead])
	assert.EqualValues(t, events, c[store.StatusSucceeded])
	assert.Zero(t, c[store.StatusDead], "none dead")
	assert.Equal(t, events, sink.Unique())
	assert.Positive(t, sink.ThrottleWindows())
	assert.LessOrEqual(t, sink.RateLimitedAfterFirst(), int64(16*sink.ThrottleWindows()), "after the first 429 only calls already in flight are refused")
}
