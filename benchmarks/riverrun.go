package benchmarks

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite" // database/sql driver "sqlite" for riversqlite

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/internal/pipeline"
)

// RiverConfig describes one River run. Zero fields take River's own defaults, except
// Producers (8), Batch (1) and Workers (16, the shared workload's worker count).
type RiverConfig struct {
	// Name labels the settings in tables ("default", "tuned").
	Name string
	// Store is StoreSQLite (riversqlite over modernc.org/sqlite, WAL, synchronous=NORMAL,
	// one connection as the driver recommends) or StorePostgres (riverpgxv5; River's
	// tables are migrated into a schema of the run's own, dropped at the end).
	Store       string
	PostgresURL string
	// Dir holds the SQLite file; a fresh temporary folder (removed at the end) when empty.
	Dir string
	// Producers is the number of concurrent producer goroutines.
	Producers int
	// Batch is the number of jobs per insert call: 1 calls Client.Insert, more calls
	// Client.InsertMany, or Client.InsertManyFast (COPY FROM on PostgreSQL) when Fast.
	Batch int
	Fast  bool
	// Workers is the queue's MaxWorkers.
	Workers int
	// FetchCooldown and FetchPollInterval are River's fetch settings (River's defaults,
	// 100 ms and 1 s, when zero).
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	// Events is the number of jobs of the measured round; Warmup of the round before it
	// (default 200).
	Events int
	Warmup int
}

// RiverDefault is River as a user gets it: its default fetch settings, one Insert per
// event from 8 producers, 16 workers (the hub's worker count).
func RiverDefault(store string) RiverConfig {
	return RiverConfig{Name: "default", Store: store, Producers: 8, Batch: 1, Workers: 16}
}

// RiverTuned is River with the knobs its documentation and its own benchmark (riverbench)
// turn for throughput: FetchCooldown 2 ms and FetchPollInterval 20 ms, batched inserts
// (InsertManyFast, COPY FROM, on PostgreSQL; InsertMany on SQLite, which has no COPY)
// and more workers. Batch and Workers are this machine's best of a sweep (BENCHMARKS.md).
func RiverTuned(store string) RiverConfig {
	return RiverConfig{Name: "tuned", Store: store, Producers: 4, Batch: 100, Fast: store == StorePostgres, Workers: 100,
		FetchCooldown: 2 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond}
}

func (c RiverConfig) withDefaults() RiverConfig {
	c.Producers = cmpOr(c.Producers, 8)
	c.Batch = cmpOr(c.Batch, 1)
	c.Workers = cmpOr(c.Workers, 16)
	c.Warmup = cmpOr(c.Warmup, 200)
	return c
}

// Variant describes the settings in tables.
func (c RiverConfig) Variant() string {
	c = c.withDefaults()
	insert := "Insert"
	switch {
	case c.Batch > 1 && c.Fast:
		insert = fmt.Sprintf("InsertManyFast %d", c.Batch)
	case c.Batch > 1:
		insert = fmt.Sprintf("InsertMany %d", c.Batch)
	}
	fetch := "fetch defaults"
	if c.FetchCooldown != 0 || c.FetchPollInterval != 0 {
		fetch = fmt.Sprintf("cooldown %s poll %s", cmpOr(c.FetchCooldown, 100*time.Millisecond), cmpOr(c.FetchPollInterval, time.Second))
	}
	return fmt.Sprintf("%s: %s, %d producers, %d workers, %s", c.Name, insert, c.Producers, c.Workers, fetch)
}

// riverJobKind is the kind of the benchmark's River jobs.
const riverJobKind = "hub_bench_event"

// eventArgs is a River job carrying one event.
type eventArgs struct {
	Event json.RawMessage `json:"event"`
}

// Kind implements river.JobArgs.
func (eventArgs) Kind() string { return riverJobKind }

// eventWorker does per job what the hub does per event: the same pipeline (decode, map,
// validate), then a delivery to the same sink.
type eventWorker struct {
	river.WorkerDefaults[eventArgs]
	pipe *pipeline.Pipeline
	sink *Sink
}

// Work implements river.Worker. A payload the pipeline refuses is cancelled (a permanent
// failure); a sink error is returned for River to retry.
func (w *eventWorker) Work(ctx context.Context, job *river.Job[eventArgs]) error {
	res, err := w.pipe.Run(ctx, job.Args.Event)
	if err != nil {
		return river.JobCancel(err)
	}
	_, err = w.sink.Invoke(ctx, &connectors.Request{Body: res.Canonical, IdempotencyKey: strconv.FormatInt(job.ID, 10)})
	return err
}

// RunRiver measures one River configuration as RunHub measures the hub: a warm-up round,
// then a timed round from the first insert until every job is recorded completed.
func RunRiver(ctx context.Context, w *Workload, cfg RiverConfig) (*Result, error) {
	cfg = cfg.withDefaults()
	if cfg.Events <= 0 {
		return nil, fmt.Errorf("benchmarks: River run needs a positive event count")
	}
	pipe, err := HubPipeline(w)
	if err != nil {
		return nil, err
	}
	r := &riverRun{cfg: cfg, w: w, sink: NewSink(w.Expected), pipe: pipe}
	switch cfg.Store {
	case StorePostgres:
		return r.postgres(ctx)
	case StoreSQLite:
		return r.sqlite(ctx)
	}
	return nil, fmt.Errorf("benchmarks: River runs on sqlite or postgres, not %q", cfg.Store)
}

type riverRun struct {
	cfg  RiverConfig
	w    *Workload
	sink *Sink
	pipe *pipeline.Pipeline
}

func (r *riverRun) postgres(ctx context.Context) (*Result, error) {
	if r.cfg.PostgresURL == "" {
		return nil, ErrNoPostgres
	}
	schema := freshSchema("riverbench")
	defer func() { _ = dropSchema(context.Background(), r.cfg.PostgresURL, schema) }()
	pool, err := pgxpool.New(ctx, r.cfg.PostgresURL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return nil, err
	}
	open := `SELECT count(*) FROM ` + pgx.Identifier{schema, "river_job"}.Sanitize() + ` WHERE state <> 'completed'`
	countOpen := func(ctx context.Context) (n int64, err error) {
		err = pool.QueryRow(ctx, open).Scan(&n)
		return n, err
	}
	return runRiver(ctx, r, riverpgxv5.New(pool), schema, countOpen, pool.Reset, pool.Close)
}

func (r *riverRun) sqlite(ctx context.Context) (*Result, error) {
	dir := r.cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "river-bench-")
		if err != nil {
			return nil, err
		}
		defer func() { _ = os.RemoveAll(d) }()
		dir = d
	}
	dsn := "file:" + filepath.Join(dir, "river.db") + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	db.SetMaxOpenConns(1) // riversqlite: SQLite runs one writer; more connections only meet SQLITE_BUSY
	countOpen := func(ctx context.Context) (n int64, err error) {
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE state <> 'completed'`).Scan(&n)
		return n, err
	}
	return runRiver(ctx, r, riversqlite.New(db), "", countOpen, nil, func() { _ = db.Close() })
}

// runRiver migrates River's tables, starts a client, runs the warm-up and the timed
// round, and stops the client. resetDB and closeDB end the database connections before
// the WAL is read (PostgreSQL backends report their WAL statistics as they end).
func runRiver[TTx any](ctx context.Context, r *riverRun, driver riverdriver.Driver[TTx], schema string, countOpen func(context.Context) (int64, error), resetDB, closeDB func()) (*Result, error) {
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	mig, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: schema, Logger: quiet})
	if err != nil {
		return nil, err
	}
	if _, err := mig.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("benchmarks: River migrations: %w", err)
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &eventWorker{pipe: r.pipe, sink: r.sink}); err != nil {
		return nil, err
	}
	client, err := river.NewClient(driver, &river.Config{
		Schema:            schema,
		Logger:            quiet,
		FetchCooldown:     r.cfg.FetchCooldown,
		FetchPollInterval: r.cfg.FetchPollInterval,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: r.cfg.Workers}},
		Workers:           workers,
	})
	if err != nil {
		return nil, err
	}
	if err := client.Start(ctx); err != nil {
		return nil, err
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = client.Stop(sctx)
		}
	}
	defer stop()
	round := func(n int) error {
		target := r.sink.Delivered() + int64(n)
		if err := r.produce(ctx, client, n); err != nil {
			return err
		}
		return waitDone(ctx, r.sink, target, countOpen)
	}
	if err := round(r.cfg.Warmup); err != nil {
		return nil, fmt.Errorf("benchmarks: River warm-up: %w", err)
	}
	res := &Result{System: "River", Store: r.cfg.Store, Variant: r.cfg.Variant(), Events: r.cfg.Events}
	var wal0 WALSnapshot
	if r.cfg.Store == StorePostgres {
		if wal0, err = readWALAfterReset(ctx, r.cfg.PostgresURL, resetDB); err != nil {
			return nil, err
		}
	}
	dbURL := ""
	if r.cfg.Store == StorePostgres {
		dbURL = r.cfg.PostgresURL
	}
	m := startMeasure(dbURL)
	if err := round(r.cfg.Events); err != nil {
		return nil, err
	}
	res.Elapsed, res.CPU, res.ServerCPU = m.stop()
	if err := r.sink.Err(); err != nil {
		return nil, err
	}
	if r.cfg.Store == StorePostgres {
		stop()
		closeDB()
		if res.WAL, err = walSince(ctx, r.cfg.PostgresURL, wal0, r.cfg.Events); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// produce inserts n jobs from the configured producers.
func (r *riverRun) produce(ctx context.Context, insert riverInserter, n int) error {
	args := eventArgs{Event: r.w.Compact}
	err := produce(ctx, n, r.cfg.Producers, r.cfg.Batch, func(k int) error {
		if r.cfg.Batch == 1 {
			_, err := insert.Insert(ctx, args, nil)
			return err
		}
		params := make([]river.InsertManyParams, k)
		for i := range params {
			params[i].Args = args
		}
		var err error
		if r.cfg.Fast {
			_, err = insert.InsertManyFast(ctx, params)
		} else {
			_, err = insert.InsertMany(ctx, params)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("benchmarks: River insert: %w", err)
	}
	return nil
}

// riverInserter is the part of *river.Client the producers use (its methods do not depend
// on the driver's transaction type).
type riverInserter interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	InsertManyFast(ctx context.Context, params []river.InsertManyParams) (int, error)
}
