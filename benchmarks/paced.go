package benchmarks

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ehg/hub"
)

// LatencyResult is what a paced run measured: accept-to-delivery latency at a fixed
// offered rate.
type LatencyResult struct {
	Store string
	// Rate is the offered rate (events/s) and Events the number offered.
	Rate   float64
	Events int
	// Achieved is the events delivered per second over the run.
	Achieved float64
	// P50, P95, P99 and Max are accept-to-first-delivery latencies, measured from each
	// event's scheduled offer time (so a producer falling behind schedule counts).
	P50, P95, P99, Max time.Duration
}

// pacedCallers is the number of goroutines that make a paced run's accept calls: enough
// that the offered rate never waits for a free caller at the rates measured here.
const pacedCallers = 64

// RunHubPaced offers events one call each (Async) at rate events/s for d on a fresh hub
// of cfg, after a warm-up round, and measures accept-to-delivery latency. The schedule is
// fixed in advance (an open loop): latency counts from each event's scheduled time.
func RunHubPaced(ctx context.Context, w *Workload, cfg HubConfig, rate float64, d time.Duration) (*LatencyResult, error) {
	n := int(rate * d.Seconds())
	if rate <= 0 || n <= 0 {
		return nil, fmt.Errorf("benchmarks: paced run needs a positive rate and duration (%.1f/s for %s)", rate, d)
	}
	cfg.Batch = 1
	s, err := OpenHub(ctx, w, cfg)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.Round(ctx, s.cfg.Warmup, nil); err != nil {
		return nil, fmt.Errorf("benchmarks: warm-up: %w", err)
	}
	tr := NewTracker()
	s.Sink.Track(tr)
	target := s.Sink.Delivered() + int64(n)

	slots := make(chan time.Time, pacedCallers)
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	for range pacedCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for at := range slots {
				if firstErr.Load() != nil {
					continue
				}
				r, err := s.Hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "bench", Payload: w.Compact, Mode: hub.Async})
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				tr.Accepted(r.EventID, at)
			}
		}()
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		}
		if ctx.Err() != nil || firstErr.Load() != nil {
			break
		}
		slots <- at
	}
	close(slots)
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return nil, fmt.Errorf("benchmarks: paced accept: %w", *p)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.WaitDelivered(ctx, target); err != nil {
		return nil, err
	}
	if err := s.Sink.Err(); err != nil {
		return nil, err
	}
	h := &tr.Hist
	return &LatencyResult{
		Store: cfg.Store, Rate: rate, Events: n,
		Achieved: float64(n) / time.Since(start).Seconds(),
		P50:      h.Quantile(0.50), P95: h.Quantile(0.95), P99: h.Quantile(0.99), Max: h.Max(),
	}, nil
}

// RunPipeline runs the peer's per-event work over events events from workers goroutines
// (each with its own Transformer) and measures the throughput: the pipeline alone, no
// store and no delivery.
func RunPipeline(ctx context.Context, w *Workload, p Peer, events, workers int) (*Result, error) {
	if got, err := p.New().Transform(w.Event); err != nil {
		return nil, fmt.Errorf("benchmarks: %s: %w", p.Name, err)
	} else if string(got) != string(w.Expected) {
		return nil, fmt.Errorf("benchmarks: %s: %w: %.300s", p.Name, ErrUnexpectedBody, got)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	m := startMeasure("")
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := p.New()
			for next.Add(1) <= int64(events) && ctx.Err() == nil {
				if _, err := tr.Transform(w.Event); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	res := &Result{System: p.Name, Variant: fmt.Sprintf("pipeline only, %d goroutines", workers), Events: events}
	res.Elapsed, res.CPU, _ = m.stop()
	if p := firstErr.Load(); p != nil {
		return nil, *p
	}
	return res, ctx.Err()
}
