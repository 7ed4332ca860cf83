package benchmarks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
	"github.com/ehg/hub/store/postgres"
	"github.com/ehg/hub/store/sqlite"
)

// Store kinds.
const (
	StoreMemory   = "memory"
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
)

// ErrNoPostgres is returned for a PostgreSQL run without a database URL.
var ErrNoPostgres = errors.New("benchmarks: PostgreSQL run without a URL (set HUB_TEST_POSTGRES_URL or -postgres-url)")

// HubConfig describes one hub run. Zero fields take the defaults of the shared workload.
type HubConfig struct {
	// Store is StoreMemory, StoreSQLite or StorePostgres.
	Store string
	// PostgresURL is the database of a PostgreSQL run; the run creates a schema of its own
	// and drops it at the end.
	PostgresURL string
	// Dir holds the SQLite file; a fresh temporary folder (removed at the end) when empty.
	Dir string
	// Producers is the number of concurrent producer goroutines (default 8).
	Producers int
	// Batch is the number of events per accept call: 1 (default) calls
	// ProcessIntegrationEvent once per event (Async), more calls ProcessIntegrationEvents.
	Batch int
	// Workers, ClaimBatch and Poll configure the hub's delivery (defaults 16, 256, 5 ms).
	Workers    int
	ClaimBatch int
	Poll       time.Duration
	// MaxQueued is the hub's backpressure limit (0: none); producers retry on ErrBusy.
	MaxQueued int
	// Events is the number of events of the measured round; Warmup of the round before it
	// (default 200), which compiles, connects and fills caches.
	Events int
	Warmup int
	// Options are added to the hub's options (after the run's own).
	Options []hub.Option
}

func (c HubConfig) withDefaults() HubConfig {
	c.Producers = cmpOr(c.Producers, 8)
	c.Batch = cmpOr(c.Batch, 1)
	c.Workers = cmpOr(c.Workers, 16)
	c.ClaimBatch = cmpOr(c.ClaimBatch, 256)
	c.Poll = cmpOr(c.Poll, 5*time.Millisecond)
	c.Warmup = cmpOr(c.Warmup, 200)
	return c
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// dbURL is the PostgreSQL server of the run, "" when it uses another store.
func (c HubConfig) dbURL() string {
	if c.Store != StorePostgres {
		return ""
	}
	return c.PostgresURL
}

// Variant describes the accept path in tables: "single-call, 8 producers" or
// "batch 100, 8 producers".
func (c HubConfig) Variant() string {
	c = c.withDefaults()
	if c.Batch == 1 {
		return fmt.Sprintf("single-call, %d producers", c.Producers)
	}
	return fmt.Sprintf("batch %d, %d producers", c.Batch, c.Producers)
}

// HubSession is a started hub on a fresh store, delivering the shared workload (the
// work-item mapping and contract) to a Sink through a service named "bench".
type HubSession struct {
	Hub  *hub.Hub
	Sink *Sink
	cfg  HubConfig
	w    *Workload
	// Schema is the PostgreSQL schema of the store ("" for the other stores).
	Schema string
	// resetPool closes the PostgreSQL pool's idle connections (nil for other stores).
	resetPool func()
	// keep leaves the PostgreSQL schema in place on Close.
	keep    bool
	cleanup []func()
}

// OpenHub opens a fresh store of the configured kind, starts a hub on it and registers the
// service. Close releases everything (a PostgreSQL schema is dropped).
func OpenHub(ctx context.Context, w *Workload, cfg HubConfig) (_ *HubSession, err error) {
	cfg = cfg.withDefaults()
	s := &HubSession{Sink: NewSink(w.Expected), cfg: cfg, w: w}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	st, err := s.openStore(ctx)
	if err != nil {
		return nil, err
	}
	reg := connectors.NewRegistry()
	if err := reg.Register(SinkKind, func(connectors.Config) (connectors.Connector, error) { return s.Sink, nil }); err != nil {
		return nil, err
	}
	opts := []hub.Option{
		hub.WithConnectors(reg),
		hub.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))),
		hub.WithWorkers(cfg.Workers), hub.WithBatchSize(cfg.ClaimBatch), hub.WithPollInterval(cfg.Poll),
		hub.WithMaintenanceInterval(time.Second), hub.WithLease(30 * time.Second),
		hub.WithMaxQueuedEvents(cfg.MaxQueued),
		func(c *hub.Config) error { c.RollupInterval = -1; c.ShutdownTimeout = 30 * time.Second; return nil },
	}
	h, err := hub.New(st, append(opts, cfg.Options...)...)
	if err != nil {
		return nil, err
	}
	if err := h.Start(ctx); err != nil {
		return nil, err
	}
	s.Hub = h
	s.cleanup = append(s.cleanup, func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = h.Close(cctx)
	})
	_, err = h.RegisterIntegration(ctx, hub.IntegrationConfig{
		Name:           "bench",
		Connector:      SinkKind,
		RateLimits:     json.RawMessage(hubtest.Unlimited),
		Retry:          json.RawMessage(hubtest.FastRetry),
		CircuitBreaker: json.RawMessage(`{"failure_threshold": 1000000, "recovery_timeout": "100ms"}`),
		Contract:       &hub.ContractRef{Name: "work-item", Version: "1.0.0", Schema: w.Schema},
		Mapping:        w.Mapping,
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *HubSession) openStore(ctx context.Context) (store.Store, error) {
	switch s.cfg.Store {
	case StoreMemory:
		return memory.New(memory.Options{}), nil
	case StoreSQLite:
		dir := s.cfg.Dir
		if dir == "" {
			d, err := os.MkdirTemp("", "hub-bench-")
			if err != nil {
				return nil, err
			}
			dir = d
			s.cleanup = append(s.cleanup, func() { _ = os.RemoveAll(d) })
		}
		st, err := sqlite.Open(ctx, filepath.Join(dir, "hub.db"), sqlite.Options{})
		if err != nil {
			return nil, err
		}
		s.cleanup = append(s.cleanup, func() { _ = st.Close() })
		return st, nil
	case StorePostgres:
		if s.cfg.PostgresURL == "" {
			return nil, ErrNoPostgres
		}
		schema := freshSchema("hubbench")
		s.cleanup = append(s.cleanup, func() {
			if !s.keep {
				_ = dropSchema(context.Background(), s.cfg.PostgresURL, schema)
			}
		})
		st, err := postgres.Open(ctx, s.cfg.PostgresURL, postgres.Options{Schema: schema})
		if err != nil {
			return nil, err
		}
		s.Schema, s.resetPool = schema, st.Pool().Reset
		s.cleanup = append(s.cleanup, func() { _ = st.Close() })
		return st, nil
	}
	return nil, fmt.Errorf("benchmarks: unknown store %q (want memory, sqlite or postgres)", s.cfg.Store)
}

// Close stops the hub, closes the store and removes its storage. Idempotent.
func (s *HubSession) Close() {
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
	s.cleanup = nil
}

// Produce accepts n events from the configured producers as fast as the hub takes them
// (ErrBusy is retried after a millisecond) and returns when every call has returned. With
// a tracker, each event's accept time is the start of the call that accepted it.
func (s *HubSession) Produce(ctx context.Context, n int, tr *Tracker) error {
	err := produce(ctx, n, s.cfg.Producers, s.cfg.Batch, func(k int) error {
		evs := make([]hub.EventData, k)
		for i := range evs {
			evs[i] = hub.EventData{Service: "bench", Payload: s.w.Compact, Mode: hub.Async}
		}
		return s.accept(ctx, evs, tr)
	})
	if err != nil {
		return fmt.Errorf("benchmarks: accept: %w", err)
	}
	return nil
}

// produce makes calls of up to batch items each, from producers goroutines, until n items
// are handed over; call(k) hands over k items. It returns the first error (the other
// producers stop at their next call) or the context's error.
func produce(ctx context.Context, n, producers, batch int, call func(k int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && firstErr.Load() == nil {
				end := next.Add(int64(batch))
				start := end - int64(batch)
				if start >= int64(n) {
					return
				}
				if err := call(int(min(end, int64(n)) - start)); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return *p
	}
	return ctx.Err()
}

// accept hands evs to the hub in one call, retrying while it is busy.
func (s *HubSession) accept(ctx context.Context, evs []hub.EventData, tr *Tracker) error {
	for {
		t0 := time.Now()
		var err error
		if len(evs) == 1 && s.cfg.Batch == 1 {
			var r *hub.ProcessingResult
			if r, err = s.Hub.ProcessIntegrationEvent(ctx, evs[0]); err == nil && tr != nil {
				tr.Accepted(r.EventID, t0)
			}
		} else {
			var rs []*hub.ProcessingResult
			if rs, err = s.Hub.ProcessIntegrationEvents(ctx, evs); err == nil && tr != nil {
				for _, r := range rs {
					tr.Accepted(r.EventID, t0)
				}
			}
		}
		if !errors.Is(err, hub.ErrBusy) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// WaitDelivered waits until the sink has seen target deliveries in all and the store
// reports no event pending, retrying or processing (a delivery is recorded as a success
// only after the sink saw it).
func (s *HubSession) WaitDelivered(ctx context.Context, target int64) error {
	return waitDone(ctx, s.Sink, target, func(ctx context.Context) (int64, error) {
		c, err := s.Hub.Store().CountEventsByStatus(ctx, store.EventFilter{Statuses: []store.EventStatus{store.StatusPending, store.StatusRetrying, store.StatusProcessing}})
		if err != nil {
			return 0, err
		}
		return c[store.StatusPending] + c[store.StatusRetrying] + c[store.StatusProcessing], nil
	})
}

// roundTimeout bounds one round: a stalled system fails the run instead of hanging it.
const roundTimeout = 10 * time.Minute

// waitDone waits for the sink to reach target deliveries, then for open() to report none
// left in the queue.
func waitDone(ctx context.Context, sink *Sink, target int64, open func(context.Context) (int64, error)) error {
	ctx, cancel := context.WithTimeout(ctx, roundTimeout)
	defer cancel()
	select {
	case <-sink.Expect(target):
	case <-ctx.Done():
		return fmt.Errorf("benchmarks: %d of %d deliveries after %s: %w", sink.Delivered(), target, roundTimeout, ctx.Err())
	}
	for {
		n, err := open(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("benchmarks: %d events still open after delivery: %w", n, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// Round accepts n events and waits until all are delivered and recorded.
func (s *HubSession) Round(ctx context.Context, n int, tr *Tracker) error {
	target := s.Sink.Delivered() + int64(n)
	if err := s.Produce(ctx, n, tr); err != nil {
		return err
	}
	return s.WaitDelivered(ctx, target)
}

// RunHub measures one hub configuration: a warm-up round, then a timed round of
// cfg.Events events from the first accept until the store has recorded every delivery.
// PostgreSQL runs also measure the WAL the round wrote.
func RunHub(ctx context.Context, w *Workload, cfg HubConfig) (*Result, error) {
	cfg = cfg.withDefaults()
	if cfg.Events <= 0 {
		return nil, fmt.Errorf("benchmarks: hub run needs a positive event count")
	}
	s, err := OpenHub(ctx, w, cfg)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.Round(ctx, cfg.Warmup, nil); err != nil {
		return nil, fmt.Errorf("benchmarks: warm-up: %w", err)
	}
	res := &Result{System: "hub", Store: cfg.Store, Variant: cfg.Variant(), Events: cfg.Events}
	var wal0 WALSnapshot
	if cfg.Store == StorePostgres {
		if wal0, err = readWALAfterReset(ctx, cfg.PostgresURL, s.resetPool); err != nil {
			return nil, err
		}
	}
	m := startMeasure(cfg.dbURL())
	if err := s.Round(ctx, cfg.Events, nil); err != nil {
		return nil, err
	}
	res.Elapsed, res.CPU, res.ServerCPU = m.stop()
	if err := s.Sink.Err(); err != nil {
		return nil, err
	}
	if cfg.Store == StorePostgres {
		// Closing the pool ends its backends, which flushes their pending WAL statistics.
		s.Close()
		if res.WAL, err = walSince(ctx, cfg.PostgresURL, wal0, cfg.Events); err != nil {
			return nil, err
		}
	}
	return res, nil
}
