package hub_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ehg/hub"
	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
	"github.com/ehg/hub/store/postgres"
	"github.com/ehg/hub/store/sqlite"
)

// perfSinkKind is the connector kind of the in-process sink the throughput benchmarks and
// the memory-bound test deliver to.
const perfSinkKind = "perf-sink"

// perfSink is an in-process connector: it counts deliveries and bytes, optionally sleeps
// per call, and closes done when the target count is reached. Safe for concurrent use.
type perfSink struct {
	delivered atomic.Int64
	bytes     atomic.Int64
	latency   atomic.Int64 // time.Duration per call
	mu        sync.Mutex
	target    int64
	done      chan struct{}
}

func newPerfSink() *perfSink { return &perfSink{done: make(chan struct{})} }

// expect arms the sink: done closes once n deliveries in total have been seen.
func (s *perfSink) expect(n int64) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.target, s.done = n, make(chan struct{})
	if s.delivered.Load() >= n {
		close(s.done)
	}
	return s.done
}

func (s *perfSink) Info() connectors.Info {
	return connectors.Info{Kind: perfSinkKind, Name: "perf", Operations: []string{"deliver"}, DefaultOperation: "deliver"}
}

func (s *perfSink) Invoke(ctx context.Context, req *connectors.Request) (*connectors.Response, error) {
	if d := time.Duration(s.latency.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, &connectors.Error{Class: connectors.ClassTransient, Op: "deliver", Err: ctx.Err()}
		}
	}
	s.bytes.Add(int64(len(req.Body)))
	if n := s.delivered.Add(1); n >= s.target {
		s.mu.Lock()
		if n >= s.target {
			select {
			case <-s.done:
			default:
				close(s.done)
			}
		}
		s.mu.Unlock()
	}
	return &connectors.Response{StatusCode: 200}, nil
}

func (s *perfSink) Check(context.Context) error { return nil }

// perfHub starts a hub on st delivering to sink (a connector) through a service named
// "perf" (the shared work-item mapping and contract when mapped, the payload as is
// otherwise).
func perfHub(tb testing.TB, st store.Store, sink connectors.Connector, mapped bool, opts ...hub.Option) *hub.Hub {
	tb.Helper()
	reg := connectors.NewRegistry()
	if err := reg.Register(perfSinkKind, func(connectors.Config) (connectors.Connector, error) { return sink, nil }); err != nil {
		tb.Fatal(err)
	}
	base := []hub.Option{
		hub.WithConnectors(reg),
		hub.WithMaintenanceInterval(time.Second),
		hub.WithLease(30 * time.Second),
		hub.WithRollupInterval(-1), hub.WithShutdownTimeout(10 * time.Second),
	}
	h, err := hub.New(st, append(base, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			tb.Errorf("close hub: %v", err)
		}
	})
	cfg := hub.IntegrationConfig{
		Name:           "perf",
		Connector:      perfSinkKind,
		RateLimits:     json.RawMessage(hubtest.Unlimited),
		Retry:          json.RawMessage(hubtest.FastRetry),
		CircuitBreaker: json.RawMessage(`{"failure_threshold": 100000, "recovery_timeout": "100ms"}`),
	}
	if mapped {
		cfg.Contract = &hub.ContractRef{Name: "work-item", Version: "1.0.0", Schema: perfData(tb, "work-item.schema.json")}
		cfg.Mapping = perfData(tb, "github-issue-to-work-item.expr.json")
	}
	if _, err := h.RegisterIntegration(context.Background(), cfg); err != nil {
		tb.Fatal(err)
	}
	return h
}

func perfData(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("examples", "quickstart", "data", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// perfEvent is the shared GitHub issue event, compacted (4,459 bytes).
func perfEvent(tb testing.TB) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, perfData(tb, "github-issue-event.json")); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// perfRound accepts n events asynchronously from producers goroutines, one call per event
// (acceptBatch 1) or ProcessIntegrationEvents calls of acceptBatch events, and waits until
// the sink has seen them all and the store reports none open. A busy hub (ErrBusy) is
// retried after a short pause.
func perfRound(tb testing.TB, h *hub.Hub, sink *perfSink, payload []byte, n, producers, acceptBatch int) {
	tb.Helper()
	ctx := context.Background()
	base := sink.delivered.Load()
	done := sink.expect(base + int64(n))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	acceptBatch = max(acceptBatch, 1)
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]hub.EventData, 0, acceptBatch)
			for {
				end := next.Add(int64(acceptBatch))
				start := end - int64(acceptBatch)
				if start >= int64(n) {
					return
				}
				batch = batch[:0]
				for range min(end, int64(n)) - start {
					batch = append(batch, hub.EventData{Service: "perf", Payload: payload, Mode: hub.Async})
				}
				for {
					var err error
					if acceptBatch == 1 {
						_, err = h.ProcessIntegrationEvent(ctx, batch[0])
					} else {
						_, err = h.ProcessIntegrationEvents(ctx, batch)
					}
					if err == nil {
						break
					}
					if !isBusy(err) {
						errs <- err
						return
					}
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatalf("accept: %v", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		tb.Fatalf("only %d of %d events delivered", sink.delivered.Load()-base, n)
	}
	// Delivered is not yet completed: wait for the store to record every success.
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := h.Store().CountEventsByStatus(ctx, store.EventFilter{Statuses: []store.EventStatus{store.StatusPending, store.StatusRetrying, store.StatusProcessing}})
		if err != nil {
			tb.Fatal(err)
		}
		if c[store.StatusPending]+c[store.StatusRetrying]+c[store.StatusProcessing] == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("events still open after delivery: %v", c)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func isBusy(err error) bool { return errors.Is(err, hub.ErrBusy) }

// perfStore opens a fresh store of the named kind for a benchmark or test.
func perfStore(tb testing.TB, kind string) store.Store {
	tb.Helper()
	ctx := context.Background()
	switch kind {
	case "memory":
		return memory.New(memory.Options{})
	case "sqlite":
		st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "hub.db"), sqlite.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = st.Close() })
		return st
	case "postgres":
		url := os.Getenv("HUB_TEST_POSTGRES_URL")
		if url == "" {
			tb.Skip("HUB_TEST_POSTGRES_URL is not set")
		}
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema := "hubperf_" + hex.EncodeToString(b[:])
		tb.Cleanup(func() {
			pool, err := pgxpool.New(context.Background(), url)
			if err != nil {
				return
			}
			defer pool.Close()
			_, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
		})
		st, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = st.Close() })
		return st
	}
	tb.Fatalf("unknown store %q", kind)
	return nil
}

// perfWAL returns the PostgreSQL server's WAL position in bytes (pg_current_wal_lsn, the
// position pg_stat_wal's wal_bytes counts up to), or 0 for the other stores.
func perfWAL(tb testing.TB, kind string) int64 {
	tb.Helper()
	if kind != "postgres" {
		return 0
	}
	pool, err := pgxpool.New(context.Background(), os.Getenv("HUB_TEST_POSTGRES_URL"))
	if err != nil {
		tb.Fatal(err)
	}
	defer pool.Close()
	var lsn int64
	if err := pool.QueryRow(context.Background(), `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint`).Scan(&lsn); err != nil {
		tb.Fatal(err)
	}
	return lsn
}

// perfEnvInt reads a positive integer tuning knob from the environment.
func perfEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkEndToEnd measures sustained throughput: events accepted asynchronously by
// producer goroutines, delivered by the hub's workers to an in-process sink connector, until
// the store records every one succeeded. Each iteration is one round of events (20,000 for
// SQLite and PostgreSQL, 100,000 for memory; HUB_BENCH_EVENTS overrides); the events/s
// metric is events over the timed rounds, cpu-ns/event the process CPU time per event.
// "raw" services deliver the 4.5 KB event as it is; "mapped" services run the shared
// work-item mapping and contract on accept; "batch100" is mapped with producers calling
// ProcessIntegrationEvents with 100 events at a time.
// PostgreSQL runs when HUB_TEST_POSTGRES_URL is set and also reports wal-B/event, the WAL
// the server wrote per event over the timed rounds. Tuning: HUB_BENCH_WORKERS,
// HUB_BENCH_BATCH, HUB_BENCH_PRODUCERS.
func BenchmarkEndToEnd(b *testing.B) {
	payload := perfEvent(b)
	variants := []struct {
		name        string
		mapped      bool
		acceptBatch int
	}{
		{"raw", false, 1},       // the event delivered as is, one accept call per event
		{"mapped", true, 1},     // work-item mapping and contract, one accept call per event
		{"batch100", true, 100}, // mapped, ProcessIntegrationEvents with 100 events per call
	}
	for _, kind := range []string{"memory", "sqlite", "postgres"} {
		for _, v := range variants {
			b.Run(kind+"/"+v.name, func(b *testing.B) {
				n := 20000
				if kind == "memory" {
					n = 100000
				}
				n = perfEnvInt("HUB_BENCH_EVENTS", n)
				workers := perfEnvInt("HUB_BENCH_WORKERS", 16)
				batch := perfEnvInt("HUB_BENCH_BATCH", 256)
				producers := perfEnvInt("HUB_BENCH_PRODUCERS", 8)
				mapped, acceptBatch := v.mapped, v.acceptBatch
				st := perfStore(b, kind)
				sink := newPerfSink()
				h := perfHub(b, st, sink, mapped,
					hub.WithWorkers(workers), hub.WithBatchSize(batch), hub.WithPollInterval(5*time.Millisecond))
				// warm up: compile, connect, fill caches
				perfRound(b, h, sink, payload, 200, producers, acceptBatch)
				b.ReportAllocs()
				b.SetBytes(int64(len(payload)) * int64(n))
				total := 0
				wal0 := perfWAL(b, kind)
				cpu0 := perfCPU()
				for b.Loop() {
					perfRound(b, h, sink, payload, n, producers, acceptBatch)
					total += n
				}
				cpu := perfCPU() - cpu0
				if kind == "postgres" {
					// WAL the server wrote over the timed rounds per event (server-wide: on
					// a shared server an upper bound of the hub's own).
					b.ReportMetric(float64(perfWAL(b, kind)-wal0)/float64(total), "wal-B/event")
				}
				b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(total), "ns/event")
				// CPU time of this process (all threads) per event: what the hub costs
				// regardless of how loaded the machine was; 2 cores deliver at most
				// 2e9/cpu-ns events per second.
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(total), "cpu-ns/event")
			})
		}
	}
}

var _ connectors.Connector = (*perfSink)(nil)

// perfCPU returns the user+system CPU time this process has used.
func perfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
