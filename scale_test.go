package hub_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/postgres"
)

// TestScaleOutPostgres runs three hubs on one Postgres database delivering 3,000 events:
// no event is delivered twice while its lease holds, and each hub does at least 20% of the
// work.
func TestScaleOutPostgres(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	const events = 3000
	sink := hubtest.NewSink(t)
	sink.SetDelay(time.Millisecond)
	opts := append(hubtest.Fast(), hub.WithWorkers(8), hub.WithBatchSize(16), hub.WithLease(10*time.Second), hub.WithPollInterval(50*time.Millisecond))
	hubs := make([]*hub.Hub, 3)
	// The test is about coordination, not durability: commits need not wait for the disk.
	url := postgresURL(t)
	if strings.Contains(url, "?") {
		url += "&synchronous_commit=off"
	} else {
		url += "?synchronous_commit=off"
	}
	for i := range hubs {
		st, err := postgres.Open(t.Context(), url, postgres.Options{Schema: schema})
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		hubs[i] = hubtest.New(t, st, append(opts, hub.WithInstanceID(fmt.Sprintf("hub-%d", i)))...)
	}
	register(t, hubs[0], "sink", sink.URL, nil)
	ctx := t.Context()
	// Producers on every hub accept the events in batches of 100.
	start := time.Now()
	var wg sync.WaitGroup
	const batch = 100
	for b := 0; b < events/batch; b++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			evs := make([]hub.EventData, batch)
			for i := range evs {
				evs[i] = hub.EventData{Service: "sink", Payload: json.RawMessage(`{}`), IdempotencyKey: fmt.Sprintf("scale-%d", b*batch+i)}
			}
			_, err := hubs[b%3].ProcessIntegrationEvents(ctx, evs)
			assert.NoError(t, err)
		}()
		if b%8 == 7 {
			wg.Wait()
		}
	}
	wg.Wait()
	t.Logf("accepted %d events in %s; delivered so far %d", events, time.Since(start), sink.Total())
	st := hubs[0].Store()
	eventually(t, 120*time.Second, func() bool {
		c, err := st.CountEventsByStatus(ctx, store.EventFilter{})
		return err == nil && c[store.StatusSucceeded] == events
	}, "every event delivered")
	t.Logf("all delivered after %s", time.Since(start))
	// The store commits a completion before the engine counts it: wait for the counters.
	split := make([]int64, 3)
	eventually(t, 10*time.Second, func() bool {
		for i, h := range hubs {
			split[i] = h.EngineStats()["succeeded"]
		}
		return split[0]+split[1]+split[2] == events
	}, "every hub counted its completions")
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

// TestFlakyService delivers 2,000 events to a sink answering 20% 500s, 5% timeouts and,
// twice in the run, a quota window of 429s with Retry-After; with max_retries 20 none ends
// dead (a busy machine adds failures of its own), and after the first 429 of a window the hub pauses, so few more 429s follow. The
// attempt timeout (1 s) is far above a healthy call even on a saturated machine, so only
// the injected stalls (3 s) time out.
func TestFlakyService(t *testing.T) {
	t.Parallel()
	const events = 2000
	sink := hubtest.NewSink(t)
	sink.SetFaults(hubtest.Faults{P500: 0.20, PTimeout: 0.05, Stall: 3 * time.Second, ThrottleEvery: 800, RetryAfter: time.Second, Seed: 42})
	h := hubtest.New(t, nil, hub.WithWorkers(32), hub.WithBatchSize(32))
	register(t, h, "flaky", sink.URL, func(c *hub.IntegrationConfig) {
		c.MaxRetries = intp(20)
		c.Retry = json.RawMessage(`{"initial_backoff":"2ms","max_backoff":"20ms","inline_retries":0,"timeout":"1s"}`)
		c.CircuitBreaker = json.RawMessage(`{"failure_threshold": 25, "recovery_timeout": "50ms"}`)
	})
	ctx := t.Context()
	start := time.Now()
	defer func() { t.Logf("flaky run took %s", time.Since(start)) }()
	for i := range events {
		_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "flaky", Payload: json.RawMessage(`{}`), IdempotencyKey: fmt.Sprintf("f-%d", i), Mode: hub.Async})
		require.NoError(t, err)
	}
	t.Logf("accepted in %s", time.Since(start))
	st := h.Store()
	last := time.Now()
	eventually(t, 120*time.Second, func() bool {
		if time.Since(last) > 5*time.Second {
			last = time.Now()
			c, _ := st.CountEventsByStatus(ctx, store.EventFilter{})
			hr, _ := h.GetIntegrationHealth(ctx, "flaky")
			t.Logf("progress: %v requests=%d 429=%d breaker=%s stats=%v", c, sink.Requests(), sink.RateLimited(), hr.Services[0].Breaker, h.EngineStats())
		}
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
	assert.LessOrEqual(t, sink.RateLimitedAfterFirst(), int64(32*sink.ThrottleWindows()), "after the first 429 only calls already in flight are refused")
}
