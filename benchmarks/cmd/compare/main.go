// Command compare runs the shared workload through the hub (memory, SQLite, PostgreSQL),
// River (PostgreSQL and SQLite, default and tuned settings) and the pipeline peers
// (Benthos bloblang + jsonschema and others) and a floor queue on PostgreSQL (the least a
// durable queue with outcome records asks of the server: COPY, claim, complete) in one run,
// and prints one table: events/s, this process's CPU per event, the PostgreSQL server's CPU
// per event (when it runs on this machine) and the rate those two CPU costs allow on this
// machine's cores, PostgreSQL WAL bytes per event and ratios, then the hub's
// accept-to-delivery latency at half its best single-call rate.
//
//	cd benchmarks && go run ./cmd/compare                 # about a minute
//	cd benchmarks && go run ./cmd/compare -markdown       # the tables as Markdown
//	cd benchmarks && go run ./cmd/compare -river-sweep    # how RiverTuned's settings were chosen
//
// PostgreSQL runs use -postgres-url (default $HUB_TEST_POSTGRES_URL) and are skipped
// without one; each run creates a schema of its own and drops it. The command exits 1 when
// a run failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ehg/hub/benchmarks"
)

func main() {
	var (
		cfg                            benchmarks.CompareConfig
		stores, producers              string
		evMemory, evSQLite, evPostgres int
		markdown, sweep                bool
	)
	flag.StringVar(&cfg.PostgresURL, "postgres-url", os.Getenv("HUB_TEST_POSTGRES_URL"), "PostgreSQL URL (default $HUB_TEST_POSTGRES_URL); PostgreSQL runs are skipped without one")
	flag.StringVar(&stores, "stores", "memory,sqlite,postgres", "stores to run, comma-separated")
	flag.StringVar(&producers, "producers", "8,32", "producer counts of the hub's single-call runs, comma-separated")
	flag.IntVar(&cfg.Batch, "batch", 100, "events per call of the hub's batch run")
	flag.IntVar(&cfg.BatchProducers, "batch-producers", 8, "producers of the hub's batch run")
	flag.IntVar(&evMemory, "events-memory", 20000, "events per memory run")
	flag.IntVar(&evSQLite, "events-sqlite", 3000, "events per SQLite run (hub and River tuned)")
	flag.IntVar(&evPostgres, "events-postgres", 3000, "events per PostgreSQL run (hub and River tuned)")
	flag.IntVar(&cfg.RiverDefaultEvents, "river-default-events", 600, "events of the River runs with default settings (about 160 jobs/s)")
	flag.IntVar(&cfg.RiverTuned.Workers, "river-workers", 0, "River tuned: MaxWorkers (0: RiverTuned's)")
	flag.IntVar(&cfg.RiverTuned.Batch, "river-batch", 0, "River tuned: jobs per InsertMany call (0: RiverTuned's)")
	flag.IntVar(&cfg.RiverTuned.Producers, "river-producers", 0, "River tuned: producers (0: RiverTuned's)")
	flag.BoolVar(&cfg.NoRiver, "no-river", false, "skip River (and the queue floor)")
	flag.BoolVar(&cfg.NoFloor, "no-floor", false, "skip the PostgreSQL queue floor")
	flag.DurationVar(&cfg.LatencyDuration, "latency", 5*time.Second, "length of each paced latency run (0 or negative: none)")
	flag.IntVar(&cfg.PipelineEvents, "pipeline-events", 20000, "events per pipeline-only run (0 or negative: none)")
	flag.IntVar(&cfg.PipelineWorkers, "pipeline-workers", 16, "goroutines of the pipeline-only runs")
	flag.BoolVar(&markdown, "markdown", false, "print Markdown tables")
	flag.BoolVar(&sweep, "river-sweep", false, "instead: run River on PostgreSQL over a grid of tuned settings and print each rate")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	w, err := benchmarks.FindWorkload()
	if err != nil {
		fail(err)
	}
	if sweep {
		if err := riverSweep(ctx, w, cfg.PostgresURL, evPostgres); err != nil {
			fail(err)
		}
		return
	}
	cfg.Stores = strings.Split(stores, ",")
	if cfg.Producers, err = ints(producers); err != nil {
		fail(fmt.Errorf("-producers: %w", err))
	}
	cfg.Events = map[string]int{benchmarks.StoreMemory: evMemory, benchmarks.StoreSQLite: evSQLite, benchmarks.StorePostgres: evPostgres}
	if cfg.LatencyDuration <= 0 {
		cfg.LatencyDuration = -1
	}
	if cfg.PipelineEvents <= 0 {
		cfg.PipelineEvents = -1
	}
	cfg.Progress = os.Stderr
	rep := benchmarks.Compare(ctx, w, cfg)
	fmt.Println()
	rep.Print(os.Stdout, markdown)
	if len(rep.Failed) > 0 {
		os.Exit(1)
	}
}

// riverSweep runs River tuned on PostgreSQL over a grid of worker counts, insert batch
// sizes and insert calls.
func riverSweep(ctx context.Context, w *benchmarks.Workload, url string, events int) error {
	if url == "" {
		return benchmarks.ErrNoPostgres
	}
	for _, fast := range []bool{true, false} {
		for _, batch := range []int{100, 1000} {
			for _, workers := range []int{16, 100, 1000} {
				for _, producers := range []int{1, 4} {
					c := benchmarks.RiverTuned(benchmarks.StorePostgres)
					c.PostgresURL, c.Events, c.Fast, c.Batch, c.Workers, c.Producers = url, events, fast, batch, workers, producers
					r, err := benchmarks.RunRiver(ctx, w, c)
					if err != nil {
						return err
					}
					fmt.Printf("%-80s %8.0f events/s  %6.0f WAL B/event\n", r.Variant, r.Rate(), r.WAL.PerEvent)
				}
			}
		}
	}
	return nil
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "compare:", err)
	os.Exit(1)
}
