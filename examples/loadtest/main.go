// Command loadtest drives an Integration Hub with the shared workload (a GitHub issues
// webhook mapped to a canonical work item and validated) and reports what it sustained:
// throughput, end-to-end latency percentiles (accept to first successful delivery), peak
// memory, and the counts accepted / delivered / dead / lost. Lost must be 0: every accepted
// event is either delivered or, when its retries ran out, dead.
//
//	go run ./examples/loadtest -store sqlite -events 20000
//	go run ./examples/loadtest -store postgres -events 20000 -sink http -sink-latency 2ms -failure-rate 0.05
//
// The sink is in-process (a connector) or an HTTP server on loopback reached through the
// built-in "http" connector. Traffic never leaves this machine.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ehg/hub"
	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/builtin"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
	"github.com/ehg/hub/store/postgres"
	"github.com/ehg/hub/store/sqlite"
)

// config holds the command-line flags.
type config struct {
	store       string
	postgresURL string
	dataDir     string
	events      int
	producers   int
	sink        string
	sinkLatency time.Duration
	failureRate float64
	workers     int
	batch       int
	poll        time.Duration
	maxQueued   int
	raw         bool
	timeout     time.Duration
	progress    time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.store, "store", "memory", "store: memory, sqlite or postgres")
	flag.StringVar(&c.postgresURL, "postgres-url", os.Getenv("HUB_TEST_POSTGRES_URL"), "PostgreSQL URL (default $HUB_TEST_POSTGRES_URL); a fresh schema is created and dropped")
	flag.StringVar(&c.dataDir, "data", "", "folder with the workload files (default: examples/quickstart/data, found from the working directory)")
	flag.IntVar(&c.events, "events", 20000, "number of events to accept")
	flag.IntVar(&c.producers, "producers", 8, "concurrent producer goroutines")
	flag.StringVar(&c.sink, "sink", "inproc", "sink: inproc (a connector in this process) or http (a server on loopback)")
	flag.DurationVar(&c.sinkLatency, "sink-latency", 0, "time the sink takes per delivery")
	flag.Float64Var(&c.failureRate, "failure-rate", 0, "fraction of deliveries the sink fails transiently (503), in [0,1)")
	flag.IntVar(&c.workers, "workers", 16, "hub delivery workers")
	flag.IntVar(&c.batch, "batch", 256, "hub claim batch size")
	flag.DurationVar(&c.poll, "poll", 5*time.Millisecond, "hub idle poll interval")
	flag.IntVar(&c.maxQueued, "max-queued", 0, "hub async backpressure limit (0: none); producers retry on ErrBusy")
	flag.BoolVar(&c.raw, "raw", false, "deliver the event as is (no mapping or contract)")
	flag.DurationVar(&c.timeout, "timeout", 10*time.Minute, "give up after this long")
	flag.DurationVar(&c.progress, "progress", 2*time.Second, "progress line period (0: none)")
	flag.Parse()
	if err := run(context.Background(), c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// report is what a run measured.
type report struct {
	accepted, delivered, dead, failed, lost int64
	busy                                    int64
	elapsed                                 time.Duration
	latencies                               []time.Duration
	peakHeap                                uint64
	sinkCalls                               int64
}

func run(ctx context.Context, c config, out io.Writer) error {
	if err := c.validate(); err != nil {
		return err
	}
	payload, mapping, schema, err := loadWorkload(c.dataDir)
	if err != nil {
		return err
	}
	st, closeStore, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer closeStore()

	tr := newTracker(c.events)
	sink := &sink{tr: tr, latency: c.sinkLatency, failureRate: c.failureRate}
	reg := builtin.NewRegistry()
	svc := hub.IntegrationConfig{
		Name:           "loadtest",
		RateLimits:     []byte(`{"requests_per_minute":0,"adaptive":true,"max_concurrent":0}`),
		Retry:          []byte(`{"initial_backoff":"5ms","max_backoff":"50ms","multiplier":2,"jitter":0.2,"inline_retries":0,"timeout":"5s","max_retries":3}`),
		CircuitBreaker: []byte(`{"failure_threshold": 1000000, "recovery_timeout": "100ms"}`),
	}
	switch c.sink {
	case "inproc":
		if err := reg.Register("inproc", func(connectors.Config) (connectors.Connector, error) { return sink, nil }); err != nil {
			return err
		}
		svc.Connector = "inproc"
	case "http":
		srv := httptest.NewServer(http.HandlerFunc(sink.serveHTTP))
		defer srv.Close()
		svc.Connector, svc.BaseURL = "http", srv.URL
	}
	if !c.raw {
		svc.Contract = &hub.ContractRef{Name: "work-item", Version: "1.0.0", Schema: schema}
		svc.Mapping = mapping
	}
	h, err := hub.New(st,
		hub.WithConnectors(reg),
		hub.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))),
		hub.WithWorkers(c.workers), hub.WithBatchSize(c.batch), hub.WithPollInterval(c.poll),
		hub.WithMaintenanceInterval(time.Second), hub.WithMaxQueuedEvents(c.maxQueued),
		func(cfg *hub.Config) error { cfg.RollupInterval = -1; return nil },
		// The http sink is a local stand-in on loopback, which the destination guard
		// refuses by default: open exactly loopback.
		hub.WithAllowedNetworks(netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")),
	)
	if err != nil {
		return err
	}
	if err := h.Start(ctx); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = h.Close(cctx)
	}()
	if _, err := h.RegisterIntegration(ctx, svc); err != nil {
		return err
	}

	fmt.Fprintf(out, "loadtest: store=%s sink=%s events=%d producers=%d workers=%d batch=%d sink-latency=%s failure-rate=%.3f mapped=%t payload=%d bytes\n",
		c.store, c.sink, c.events, c.producers, c.workers, c.batch, c.sinkLatency, c.failureRate, !c.raw, len(payload))

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	peak := &peakMemory{}
	stopSampler := peak.sample(20 * time.Millisecond)
	start := time.Now()
	rep := &report{}
	stopProgress := progress(c.progress, out, start, tr, rep)

	// Producers: each event carries its sequence number as idempotency key, which the sink
	// reads back to time the event end to end.
	var next atomic.Int64
	var wg sync.WaitGroup
	var acceptErr atomic.Value
	for range c.producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(c.events) || ctx.Err() != nil {
					return
				}
				key := "lt-" + strconv.FormatInt(i, 10)
				tr.accepted(i)
				for {
					_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "loadtest", Payload: payload, Mode: hub.Async, IdempotencyKey: key})
					if err == nil {
						atomic.AddInt64(&rep.accepted, 1)
						break
					}
					if errors.Is(err, hub.ErrBusy) && ctx.Err() == nil {
						atomic.AddInt64(&rep.busy, 1)
						tr.accepted(i) // the clock starts when the hub takes it
						time.Sleep(time.Millisecond)
						continue
					}
					acceptErr.CompareAndSwap(nil, err)
					tr.forget(i)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v := acceptErr.Load(); v != nil {
		fmt.Fprintf(out, "loadtest: an accept failed: %v\n", v)
	}

	// Wait until every accepted event is delivered or dead (or failed permanently).
	var counts map[store.EventStatus]int64
	for {
		counts, err = h.Store().CountEventsByStatus(ctx, store.EventFilter{})
		if err != nil {
			break
		}
		open := counts[store.StatusPending] + counts[store.StatusRetrying] + counts[store.StatusProcessing]
		if open == 0 && tr.delivered.Load()+counts[store.StatusDead]+counts[store.StatusFailed] >= atomic.LoadInt64(&rep.accepted) {
			break
		}
		if ctx.Err() != nil {
			fmt.Fprintln(out, "loadtest: timed out waiting for deliveries")
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	rep.elapsed = time.Since(start)
	stopProgress()
	rep.peakHeap = stopSampler()
	if err != nil {
		return fmt.Errorf("counting events: %w", err)
	}
	rep.delivered = tr.delivered.Load()
	rep.dead = counts[store.StatusDead]
	rep.failed = counts[store.StatusFailed]
	rep.lost = rep.accepted - rep.delivered - rep.dead - rep.failed
	rep.latencies = tr.latencies()
	rep.sinkCalls = sink.calls.Load()
	rep.print(out, counts)
	if rep.lost != 0 {
		return fmt.Errorf("%d events lost", rep.lost)
	}
	if v := acceptErr.Load(); v != nil {
		return fmt.Errorf("accept failed: %v", v)
	}
	return nil
}

func (c *config) validate() error {
	switch {
	case c.store != "memory" && c.store != "sqlite" && c.store != "postgres":
		return fmt.Errorf("-store %q: want memory, sqlite or postgres", c.store)
	case c.sink != "inproc" && c.sink != "http":
		return fmt.Errorf("-sink %q: want inproc or http", c.sink)
	case c.events <= 0 || c.producers <= 0:
		return errors.New("-events and -producers must be positive")
	case c.failureRate < 0 || c.failureRate >= 1:
		return errors.New("-failure-rate must be in [0, 1)")
	case c.store == "postgres" && c.postgresURL == "":
		return errors.New("-store postgres needs -postgres-url or HUB_TEST_POSTGRES_URL")
	}
	return nil
}

// loadWorkload reads the event (compacted by the hub anyway), mapping and schema.
func loadWorkload(dir string) (payload, mapping, schema []byte, err error) {
	if dir == "" {
		for _, d := range []string{"examples/quickstart/data", "../quickstart/data", "../../examples/quickstart/data"} {
			if _, err := os.Stat(filepath.Join(d, "github-issue-event.json")); err == nil {
				dir = d
				break
			}
		}
		if dir == "" {
			return nil, nil, nil, errors.New("workload files not found: run from the repository root or pass -data")
		}
	}
	read := func(name string) []byte {
		if err != nil {
			return nil
		}
		var b []byte
		b, err = os.ReadFile(filepath.Join(dir, name))
		return b
	}
	payload, mapping, schema = read("github-issue-event.json"), read("github-issue-to-work-item.expr.json"), read("work-item.schema.json")
	return payload, mapping, schema, err
}

// openStore opens the selected store on fresh storage and returns how to dispose of it.
func openStore(ctx context.Context, c config) (store.Store, func(), error) {
	switch c.store {
	case "sqlite":
		dir, err := os.MkdirTemp("", "hub-loadtest-")
		if err != nil {
			return nil, nil, err
		}
		st, err := sqlite.Open(ctx, filepath.Join(dir, "hub.db"), sqlite.Options{})
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, nil, err
		}
		return st, func() { _ = st.Close(); _ = os.RemoveAll(dir) }, nil
	case "postgres":
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema := "hubload_" + hex.EncodeToString(b[:])
		st, err := postgres.Open(ctx, c.postgresURL, postgres.Options{Schema: schema})
		drop := func() {
			pool, err := pgxpool.New(context.Background(), c.postgresURL)
			if err != nil {
				return
			}
			defer pool.Close()
			_, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
		}
		if err != nil {
			drop()
			return nil, nil, err
		}
		return st, func() { _ = st.Close(); drop() }, nil
	}
	return memory.New(memory.Options{}), func() {}, nil
}

// tracker holds per-event accept times and first-delivery latencies.
type tracker struct {
	start     []atomic.Int64 // UnixNano of accept, by sequence number
	lat       []atomic.Int64 // first successful delivery latency in ns (0: not yet)
	delivered atomic.Int64   // events delivered at least once
}

func newTracker(n int) *tracker {
	return &tracker{start: make([]atomic.Int64, n), lat: make([]atomic.Int64, n)}
}

func (t *tracker) accepted(i int64) { t.start[i].Store(time.Now().UnixNano()) }
func (t *tracker) forget(i int64)   { t.start[i].Store(0) }

// delivery records a successful delivery of the event with key; duplicates (a redelivery
// after a lost completion) count once.
func (t *tracker) delivery(key string) {
	i, err := strconv.ParseInt(strings.TrimPrefix(key, "lt-"), 10, 64)
	if err != nil || i < 0 || i >= int64(len(t.start)) {
		return
	}
	d := time.Now().UnixNano() - t.start[i].Load()
	if d <= 0 {
		d = 1
	}
	if t.lat[i].CompareAndSwap(0, d) {
		t.delivered.Add(1)
	}
}

func (t *tracker) latencies() []time.Duration {
	out := make([]time.Duration, 0, len(t.lat))
	for i := range t.lat {
		if d := t.lat[i].Load(); d > 0 {
			out = append(out, time.Duration(d))
		}
	}
	slices.Sort(out)
	return out
}

// sink is the remote: in process (a connector) or behind an HTTP server.
type sink struct {
	tr          *tracker
	latency     time.Duration
	failureRate float64
	calls       atomic.Int64
}

// handle is one delivery: wait, maybe fail, record.
func (s *sink) handle(ctx context.Context, key string) error {
	s.calls.Add(1)
	if s.latency > 0 {
		t := time.NewTimer(s.latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if s.failureRate > 0 && mrand.Float64() < s.failureRate {
		return errors.New("injected failure")
	}
	s.tr.delivery(key)
	return nil
}

func (s *sink) Info() connectors.Info {
	return connectors.Info{Kind: "inproc", Name: "loadtest", Operations: []string{"deliver"}, DefaultOperation: "deliver"}
}

func (s *sink) Invoke(ctx context.Context, req *connectors.Request) (*connectors.Response, error) {
	if err := s.handle(ctx, req.IdempotencyKey); err != nil {
		return nil, &connectors.Error{Class: connectors.ClassTransient, Op: "inproc.deliver", StatusCode: http.StatusServiceUnavailable, Err: err}
	}
	return &connectors.Response{StatusCode: http.StatusOK}, nil
}

func (s *sink) Check(context.Context) error { return nil }

func (s *sink) serveHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	if err := s.handle(r.Context(), r.Header.Get(connectors.IdempotencyKeyHeader)); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// peakMemory samples the live heap and keeps the largest value seen.
type peakMemory struct{ peak atomic.Uint64 }

func (p *peakMemory) sample(every time.Duration) (stop func() uint64) {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(samples)
		if samples[0].Value.Kind() == metrics.KindUint64 {
			if v := samples[0].Value.Uint64(); v > p.peak.Load() {
				p.peak.Store(v)
			}
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				read()
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		read()
		return p.peak.Load()
	}
}

// progress prints a line every period until stopped.
func progress(every time.Duration, out io.Writer, start time.Time, tr *tracker, rep *report) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				el := time.Since(start)
				d := tr.delivered.Load()
				fmt.Fprintf(out, "  %6.1fs accepted %d delivered %d (%.0f/s)\n", el.Seconds(), atomic.LoadInt64(&rep.accepted), d, float64(d)/el.Seconds())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (r *report) print(out io.Writer, counts map[store.EventStatus]int64) {
	pct := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		i := int(math.Ceil(p*float64(len(r.latencies)))) - 1
		return r.latencies[max(0, min(i, len(r.latencies)-1))]
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(out, "throughput  %.0f events/s (%d delivered in %s)\n", float64(r.delivered)/r.elapsed.Seconds(), r.delivered, r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "latency     p50 %s  p95 %s  p99 %s  max %s (accept to first successful delivery)\n",
		pct(0.50).Round(time.Microsecond), pct(0.95).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	fmt.Fprintf(out, "memory      peak heap %.1f MiB, Go runtime total %.1f MiB\n", float64(r.peakHeap)/(1<<20), float64(ms.Sys)/(1<<20))
	fmt.Fprintf(out, "events      accepted %d  delivered %d  dead %d  failed %d  lost %d  (sink calls %d, busy retries %d)\n",
		r.accepted, r.delivered, r.dead, r.failed, r.lost, r.sinkCalls, r.busy)
	fmt.Fprintf(out, "store       %v\n", counts)
}

var _ connectors.Connector = (*sink)(nil)
