// Command soak pushes many events (default 1,000,000) through the hub on PostgreSQL and
// prints the throughput of every 100,000, the schema's table and index sizes, accept-to-
// delivery latency percentiles, the peak live heap, WAL bytes per event, and whether the
// throughput at the end is within 20% of the start.
//
//	cd benchmarks && go run ./cmd/soak                                 # 1,000,000 events
//	cd benchmarks && go run ./cmd/soak -events 200000 -window 20000    # a shorter one
//	cd benchmarks && go run ./cmd/soak -retention 1m                   # with a retention policy
//
// -retention has the hub delete delivered events older than the duration (a
// hub.RetentionPolicy applied by the background cleaner). Deleted rows leave space only
// VACUUM makes reusable: when the server runs with autovacuum off (as CI servers often
// do), the soak vacuums the events table itself every 30 s (-vacuum sets the interval, a
// negative one turns it off) and says so. The database is
// -postgres-url (default $HUB_TEST_POSTGRES_URL); the run creates a schema of its own and
// drops it (-keep leaves it). The command exits 1 when the run fails or the end is not
// within 20% of the start.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ehg/hub/benchmarks"
)

func main() {
	var cfg benchmarks.SoakConfig
	flag.StringVar(&cfg.PostgresURL, "postgres-url", os.Getenv("HUB_TEST_POSTGRES_URL"), "PostgreSQL URL (default $HUB_TEST_POSTGRES_URL)")
	flag.IntVar(&cfg.Events, "events", 1_000_000, "events to push")
	flag.IntVar(&cfg.Window, "window", 100_000, "events per throughput figure")
	flag.IntVar(&cfg.Producers, "producers", 16, "concurrent producers")
	flag.IntVar(&cfg.Batch, "batch", 1, "events per accept call: 1 calls ProcessIntegrationEvent, more ProcessIntegrationEvents")
	flag.IntVar(&cfg.Workers, "workers", 16, "hub delivery workers")
	flag.IntVar(&cfg.ClaimBatch, "claim-batch", 256, "hub claim batch size")
	flag.IntVar(&cfg.MaxQueued, "max-queued", 0, "hub backpressure limit: producers wait while this many events are undelivered (0: none)")
	flag.DurationVar(&cfg.Retention, "retention", 0, "delete delivered events older than this (0: off)")
	flag.DurationVar(&cfg.Vacuum, "vacuum", 0, "VACUUM the events table this often (0: every 30s when -retention is on and the server's autovacuum is off; negative: never)")
	flag.BoolVar(&cfg.Keep, "keep", false, "keep the schema after the run")
	flag.Parse()
	if cfg.Events <= 0 || cfg.Window <= 0 {
		fmt.Fprintln(os.Stderr, "soak: -events and -window must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.Progress = os.Stderr
	w, err := benchmarks.FindWorkload()
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	rep, err := benchmarks.Soak(ctx, w, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	fmt.Println()
	rep.Print(os.Stdout)
	if !rep.Stable {
		os.Exit(1)
	}
}
