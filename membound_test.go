package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/store"
)

// gatedSink is the perf sink held shut: every delivery waits until release is closed, so
// events pile up in flight (producers faster than the sink).
type gatedSink struct {
	*perfSink
	release chan struct{}
	waiting atomic.Int64
}

func (g *gatedSink) Invoke(ctx context.Context, req *connectors.Request) (*connectors.Response, error) {
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, &connectors.Error{Class: connectors.ClassTransient, Op: "deliver", Err: ctx.Err()}
	}
	return g.perfSink.Invoke(ctx, req)
}

// TestMemoryBoundUnderBackpressure: with a sink that does not answer, producers offer 400
// more events than Config.MaxQueuedEvents (4,000) allows in flight. The hub must refuse the
// excess with ErrBusy rather than queue it, and the heap grown by the 4,000 events held
// must stay within 3x the bytes of payload they carry (the shared 5.5 KB GitHub event: the
// stored copy of the payload, the canonical and delivery documents, the event records and
// the queues). Once the sink opens, every accepted event is delivered.
func TestMemoryBoundUnderBackpressure(t *testing.T) {
	const (
		limit     = 4000
		attempts  = limit + 400
		producers = 4
	)
	payload := perfData(t, "github-issue-event.json")
	gate := &gatedSink{perfSink: newPerfSink(), release: make(chan struct{})}
	var once sync.Once
	open := func() { once.Do(func() { close(gate.release) }) }
	t.Cleanup(open) // never leave the hub's workers blocked at Close

	baseline := heapInUse()
	h := perfHub(t, perfStore(t, "memory"), gate, true,
		hub.WithWorkers(8), hub.WithBatchSize(64), hub.WithPollInterval(5*time.Millisecond),
		hub.WithMaxQueuedEvents(limit))
	// A worker blocked at the shut sink holds its event until the sink opens: with the
	// default attempt timeout a slow run would time attempts out until events went dead,
	// freeing queue slots and letting more than the limit in.
	_, err := h.ConfigureService(t.Context(), "perf", hub.ServiceConfig{
		Retry: json.RawMessage(`{"initial_backoff":"5ms","max_backoff":"50ms","inline_retries":0,"timeout":"10m"}`)})
	require.NoError(t, err)

	ctx := t.Context()
	var next, accepted, busy atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	deadline := time.Now().Add(2 * time.Minute)
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= attempts && time.Now().Before(deadline) {
				_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "perf", Payload: payload, Mode: hub.Async})
				switch {
				case err == nil:
					accepted.Add(1)
				case errors.Is(err, hub.ErrBusy):
					busy.Add(1)
				default:
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(attempts), accepted.Load()+busy.Load(), "every attempt answered in time")

	// Backpressure, not an unbounded queue: the excess was refused.
	assert.LessOrEqual(t, accepted.Load(), int64(limit+producers), "accepted beyond MaxQueuedEvents")
	assert.GreaterOrEqual(t, accepted.Load(), int64(limit/2), "the hub accepted too little to measure")
	assert.Positive(t, busy.Load(), "no ErrBusy although the sink is shut")

	grown := heapInUse() - baseline
	held := accepted.Load() * int64(len(payload))
	ratio := float64(grown) / float64(held)
	t.Logf("accepted %d, busy %d; heap grew %.1f MiB for %.1f MiB of payload held: %.2fx (bound 3x); %d deliveries waiting at the sink",
		accepted.Load(), busy.Load(), float64(grown)/(1<<20), float64(held)/(1<<20), ratio, gate.waiting.Load())
	assert.LessOrEqual(t, ratio, 3.0, "heap beyond 3x the payload bytes held")

	// Open the sink: everything accepted is delivered, nothing lost.
	done := gate.expect(accepted.Load())
	open()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("delivered %d of %d after the sink opened", gate.delivered.Load(), accepted.Load())
	}
	require.Eventually(t, func() bool {
		c, err := h.Store().CountEventsByStatus(ctx, store.EventFilter{})
		return err == nil && c[store.StatusSucceeded] == accepted.Load()
	}, time.Minute, 10*time.Millisecond, "every accepted event succeeded")
}

// heapInUse returns the live heap after two collections.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
