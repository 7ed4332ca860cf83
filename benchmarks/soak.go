package benchmarks

import (
	"context"
	"fmt"
	"io"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// SoakConfig describes a soak: a long run of the hub on PostgreSQL. Zero fields take the
// defaults noted.
type SoakConfig struct {
	// PostgresURL is the database; the run creates a schema of its own and drops it
	// (unless Keep).
	PostgresURL string
	// Events is the number of events pushed (default 1,000,000) and Window the events per
	// throughput figure (default 100,000).
	Events, Window int
	// Producers, Batch, Workers and ClaimBatch are as in HubConfig (defaults 16 producers
	// making one call per event, 16 workers, claims of 256).
	Producers, Batch, Workers, ClaimBatch int
	// MaxQueued is the hub's backpressure limit (0: none): the producers push as fast as
	// the hub takes events and, with a limit, wait (ErrBusy) while this many are undelivered.
	MaxQueued int
	// Retention, when positive, has the hub delete delivered events older than it (see
	// RetentionOption).
	Retention time.Duration
	// Vacuum, when positive, has the soak VACUUM the events table at this interval, as
	// PostgreSQL's autovacuum would (retention deletes rows; only VACUUM makes their space
	// reusable). Zero vacuums every 30 s when retention is on and the server runs with
	// autovacuum off, and never otherwise; negative never vacuums.
	Vacuum time.Duration
	// Keep leaves the schema in the database for inspection.
	Keep bool
	// Progress receives a line per window (nil: none).
	Progress io.Writer
}

func (c SoakConfig) withDefaults() SoakConfig {
	c.Events = cmpOr(c.Events, 1_000_000)
	c.Window = min(cmpOr(c.Window, 100_000), c.Events)
	c.Producers = cmpOr(c.Producers, 16)
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// SoakWindow is the throughput of one window of deliveries.
type SoakWindow struct {
	// Delivered is the delivery count at the window's end; Elapsed the window's length;
	// Bytes the schema's total size (tables, TOAST and indexes) at its end.
	Delivered int64
	Elapsed   time.Duration
	Rate      float64
	Bytes     int64
}

// SoakReport is what a soak measured.
type SoakReport struct {
	Config  SoakConfig
	Variant string
	// Retention says whether a retention policy was in force.
	Retention string
	// Vacuum says who reclaimed the space of deleted rows: the server's autovacuum, the
	// soak's own VACUUM (with the count run), or nobody.
	Vacuum  string
	Windows []SoakWindow
	Elapsed time.Duration
	// Sizes are the schema's tables at the end.
	Sizes []RelationSize
	// P50, P95, P99 and Max are accept-to-first-delivery latencies over all events.
	P50, P95, P99, Max time.Duration
	// PeakHeap is the largest live heap sampled (every 100 ms) in this process: the hub,
	// its store client and the harness.
	PeakHeap uint64
	// WAL is the WAL written over the whole soak.
	WAL *WALUse
	// StartRate and EndRate are the first and last windows' rates; Stable is true when the
	// end is within 20% of the start.
	StartRate, EndRate float64
	Stable             bool
}

// Soak pushes cfg.Events events through a hub on PostgreSQL and reports throughput per
// window, table and index sizes, latency percentiles and peak heap.
func Soak(ctx context.Context, w *Workload, cfg SoakConfig) (*SoakReport, error) {
	cfg = cfg.withDefaults()
	if cfg.PostgresURL == "" {
		return nil, ErrNoPostgres
	}
	hc := HubConfig{Store: StorePostgres, PostgresURL: cfg.PostgresURL, Producers: cfg.Producers, Batch: cfg.Batch,
		Workers: cfg.Workers, ClaimBatch: cfg.ClaimBatch, MaxQueued: cfg.MaxQueued}
	rep := &SoakReport{Config: cfg, Variant: hc.Variant(), Retention: "off"}
	if cfg.Retention > 0 {
		opt, err := RetentionOption(cfg.Retention)
		if err != nil {
			return nil, err
		}
		hc.Options = append(hc.Options, opt)
		rep.Retention = fmt.Sprintf("on: delivered events deleted after %s", cfg.Retention)
	}
	s, err := OpenHub(ctx, w, hc)
	if err != nil {
		return nil, err
	}
	schema := s.Schema
	if cfg.Keep {
		s.keep = true
		fmt.Fprintf(cfg.Progress, "soak: schema %s is kept\n", schema)
	}
	defer s.Close()
	if err := s.Round(ctx, 1000, nil); err != nil {
		return nil, fmt.Errorf("benchmarks: soak warm-up: %w", err)
	}
	wal0, err := readWALAfterReset(ctx, cfg.PostgresURL, s.resetPool)
	if err != nil {
		return nil, err
	}
	stopVacuum, err := vacuumEvents(ctx, cfg, schema, rep)
	if err != nil {
		return nil, err
	}
	defer stopVacuum()
	tr := NewTracker()
	s.Sink.Track(tr)
	base := s.Sink.Delivered()
	heap := sampleHeap(100 * time.Millisecond)
	start := time.Now()

	// Watch deliveries cross each window's boundary.
	watchDone := make(chan struct{})
	var watch sync.WaitGroup
	var watchErr atomic.Pointer[error]
	watch.Add(1)
	go func() {
		defer watch.Done()
		last := start
		next := int64(cfg.Window)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for next <= int64(cfg.Events) {
			select {
			case <-watchDone:
				return
			case <-tick.C:
			}
			if s.Sink.Delivered()-base < next {
				continue
			}
			now := time.Now()
			sizes, err := SchemaSizes(ctx, cfg.PostgresURL, schema, false)
			if err != nil {
				watchErr.CompareAndSwap(nil, &err)
			}
			win := SoakWindow{Delivered: next, Elapsed: now.Sub(last), Bytes: totalBytes(sizes)}
			win.Rate = float64(cfg.Window) / win.Elapsed.Seconds()
			rep.Windows = append(rep.Windows, win)
			fmt.Fprintf(cfg.Progress, "soak: %8d delivered  %7.0f events/s in the last %d  schema %s  %s elapsed\n",
				next, win.Rate, cfg.Window, mib(win.Bytes), now.Sub(start).Round(time.Second))
			last, next = now, next+int64(cfg.Window)
		}
	}()
	err = s.Produce(ctx, cfg.Events, tr)
	if err == nil {
		err = s.WaitDelivered(ctx, base+int64(cfg.Events))
	}
	rep.Elapsed = time.Since(start)
	// The watcher sees the last boundary within a tick; then it is stopped.
	time.Sleep(50 * time.Millisecond)
	close(watchDone)
	watch.Wait()
	rep.PeakHeap = heap()
	if err != nil {
		return nil, err
	}
	if p := watchErr.Load(); p != nil {
		return nil, *p
	}
	if err := s.Sink.Err(); err != nil {
		return nil, err
	}
	h := &tr.Hist
	rep.P50, rep.P95, rep.P99, rep.Max = h.Quantile(0.50), h.Quantile(0.95), h.Quantile(0.99), h.Max()
	if n := len(rep.Windows); n > 0 {
		rep.StartRate, rep.EndRate = rep.Windows[0].Rate, rep.Windows[n-1].Rate
		rep.Stable = rep.EndRate >= 0.8*rep.StartRate
	}
	stopVacuum()
	if s.resetPool != nil {
		s.resetPool()
	}
	if rep.WAL, err = walSince(ctx, cfg.PostgresURL, wal0, cfg.Events); err != nil {
		return nil, err
	}
	if rep.Sizes, err = SchemaSizes(ctx, cfg.PostgresURL, schema, true); err != nil {
		return nil, err
	}
	return rep, nil
}

func totalBytes(sizes []RelationSize) int64 {
	var n int64
	for _, s := range sizes {
		n += s.Heap + s.Toast + s.Indexes
	}
	return n
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// sampleHeap samples the live heap every period until the returned function is called,
// which returns the largest value seen.
func sampleHeap(every time.Duration) (stop func() uint64) {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	read := func() {
		metrics.Read(samples)
		if samples[0].Value.Kind() == metrics.KindUint64 {
			peak = max(peak, samples[0].Value.Uint64())
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
		return peak
	}
}

// vacuumEvents starts the soak's VACUUM of the events table as cfg.Vacuum says and records
// the choice in rep.Vacuum; stop ends it (safe to call twice) and adds the count run.
func vacuumEvents(ctx context.Context, cfg SoakConfig, schema string, rep *SoakReport) (stop func(), err error) {
	conn, err := pgx.Connect(ctx, cfg.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("benchmarks: soak vacuum: %w", err)
	}
	var auto string
	if err := conn.QueryRow(ctx, `SHOW autovacuum`).Scan(&auto); err != nil {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("benchmarks: soak vacuum: %w", err)
	}
	every := cfg.Vacuum
	if every == 0 && cfg.Retention > 0 && auto == "off" {
		every = 30 * time.Second
	}
	if every <= 0 {
		_ = conn.Close(ctx)
		rep.Vacuum = "the server's autovacuum (" + auto + ")"
		return func() {}, nil
	}
	table := pgx.Identifier{schema, "integration_events"}.Sanitize()
	done := make(chan struct{})
	var runs atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		defer func() { _ = conn.Close(context.Background()) }()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if _, err := conn.Exec(ctx, `VACUUM `+table); err == nil {
				runs.Add(1)
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			rep.Vacuum = fmt.Sprintf("VACUUM of integration_events by the soak every %s, %d runs (the server's autovacuum is %s)",
				every, runs.Load(), auto)
		})
	}, nil
}

// Print writes the soak's figures.
func (r *SoakReport) Print(out io.Writer) {
	c := r.Config
	fmt.Fprintf(out, "Soak: %d events through the hub on PostgreSQL (%s, %d workers, max queued %d); retention %s\n",
		c.Events, r.Variant, cmpOr(c.Workers, 16), c.MaxQueued, r.Retention)
	fmt.Fprintf(out, "Space of deleted rows: %s\n", r.Vacuum)
	fmt.Fprintf(out, "Machine: %s; load average %s\n\n", machine(), loadAverage())
	rows := make([][]string, 0, len(r.Windows))
	for _, w := range r.Windows {
		rows = append(rows, []string{fmt.Sprint(w.Delivered), fmt.Sprintf("%.0f", w.Rate), w.Elapsed.Round(time.Millisecond).String(), mib(w.Bytes)})
	}
	writeTable(out, false, 0, []string{"delivered", "events/s (window)", "window time", "schema size"}, rows)
	fmt.Fprintln(out)
	rows = rows[:0]
	for _, s := range r.Sizes {
		rows = append(rows, []string{s.Table, fmt.Sprint(s.Rows), mib(s.Heap), mib(s.Toast), mib(s.Indexes), mib(s.Heap + s.Toast + s.Indexes)})
	}
	writeTable(out, false, 1, []string{"table", "rows", "heap", "toast", "indexes", "total"}, rows)
	fmt.Fprintln(out)
	fmt.Fprintf(out, "throughput  %.0f events/s overall (%d in %s)\n", float64(c.Events)/r.Elapsed.Seconds(), c.Events, r.Elapsed.Round(time.Second))
	fmt.Fprintf(out, "latency     p50 %s  p95 %s  p99 %s  max %s (accept to first delivery)\n", r.P50.Round(time.Microsecond), r.P95.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond))
	fmt.Fprintf(out, "memory      peak live heap %.1f MiB\n", float64(r.PeakHeap)/(1<<20))
	if r.WAL != nil {
		fmt.Fprintf(out, "WAL         %.0f bytes/event (pg_stat_wal, server-wide)\n", r.WAL.PerEvent)
	}
	verdict := "yes"
	if !r.Stable {
		verdict = "NO"
	}
	fmt.Fprintf(out, "stable      end %.0f/s vs start %.0f/s (%.0f%%): within 20%%: %s\n", r.EndRate, r.StartRate, 100*r.EndRate/max(r.StartRate, 1e-9), verdict)
}
