package benchmarks

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
)

// CompareConfig selects what Compare measures. Zero fields take the defaults noted, sized
// to finish in about a minute on a 2-core machine.
type CompareConfig struct {
	// PostgresURL is the database for the PostgreSQL runs; without it they are skipped.
	PostgresURL string
	// Stores to run the hub on (default memory, sqlite, postgres); River runs on the
	// durable ones among them.
	Stores []string
	// Producers lists the producer counts of the single-call runs (default 8 and 32).
	Producers []int
	// Batch is the event count per call of the batch run (default 100) and BatchProducers
	// its producers (default 8).
	Batch, BatchProducers int
	// Events is the measured round of the hub and River tuned runs per store (default
	// memory 20,000, sqlite 3,000, postgres 3,000).
	Events map[string]int
	// RiverDefaultEvents is the round of River with its default settings (default 600:
	// its 100 ms fetch cooldown holds 16 workers near 160 jobs/s).
	RiverDefaultEvents int
	// RiverTuned overrides RiverTuned's Producers, Batch and Workers where non-zero.
	RiverTuned RiverConfig
	// NoRiver skips River; NoFloor the PostgreSQL queue floor (RunQueueFloor).
	NoRiver, NoFloor bool
	// LatencyDuration is the length of each paced latency run (default 5 s); negative
	// skips them.
	LatencyDuration time.Duration
	// PipelineEvents and PipelineWorkers size the pipeline-only runs (default 20,000
	// events on 16 goroutines); negative PipelineEvents skips them.
	PipelineEvents, PipelineWorkers int
	// Progress receives one line per finished run (nil: none).
	Progress io.Writer
}

func (c CompareConfig) withDefaults() CompareConfig {
	if len(c.Stores) == 0 {
		c.Stores = []string{StoreMemory, StoreSQLite, StorePostgres}
	}
	if len(c.Producers) == 0 {
		c.Producers = []int{8, 32}
	}
	c.Batch = cmpOr(c.Batch, 100)
	c.BatchProducers = cmpOr(c.BatchProducers, 8)
	ev := map[string]int{StoreMemory: 20000, StoreSQLite: 3000, StorePostgres: 3000}
	for k, v := range c.Events {
		if v > 0 {
			ev[k] = v
		}
	}
	c.Events = ev
	c.RiverDefaultEvents = cmpOr(c.RiverDefaultEvents, 600)
	c.LatencyDuration = cmpOr(c.LatencyDuration, 5*time.Second)
	c.PipelineEvents = cmpOr(c.PipelineEvents, 20000)
	c.PipelineWorkers = cmpOr(c.PipelineWorkers, 16)
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// Report is what Compare measured.
type Report struct {
	// Machine describes where the run happened; LoadStart and LoadEnd are the load
	// averages (1, 5, 15 min) at its start and end; Postgres the server version.
	Machine, LoadStart, LoadEnd, Postgres string
	Started                               time.Time
	Elapsed                               time.Duration
	Results                               []*Result
	Latency                               []*LatencyResult
	// Failed lists the runs that failed, with their errors; Skipped those not run and why.
	Failed, Skipped []string
}

// Compare runs the pipeline peers, the hub on each store and River on the durable ones,
// then the paced latency runs at half of the hub's best single-call rate per durable
// store. A failing run is reported in Failed and the others go on.
func Compare(ctx context.Context, w *Workload, cfg CompareConfig) *Report {
	cfg = cfg.withDefaults()
	rep := &Report{Started: time.Now(), LoadStart: loadAverage(), Machine: machine()}
	if cfg.PostgresURL != "" {
		rep.Postgres = serverVersion(ctx, cfg.PostgresURL)
	}
	add := func(r *Result, err error, what string) {
		if err != nil {
			rep.Failed = append(rep.Failed, what+": "+err.Error())
			fmt.Fprintf(cfg.Progress, "FAILED %s: %v\n", what, err)
			return
		}
		rep.Results = append(rep.Results, r)
		fmt.Fprintf(cfg.Progress, "%-20s %-8s %-62s %8d events %9.0f events/s\n", r.System, r.Store, r.Variant, r.Events, r.Rate())
	}

	if cfg.PipelineEvents > 0 {
		peers, err := Peers(w)
		if err != nil {
			rep.Failed = append(rep.Failed, "pipeline peers: "+err.Error())
		}
		for _, p := range peers {
			r, err := RunPipeline(ctx, w, p, cfg.PipelineEvents, cfg.PipelineWorkers)
			add(r, err, "pipeline "+p.Name)
		}
	}

	for _, st := range cfg.Stores {
		if ctx.Err() != nil {
			break
		}
		if st == StorePostgres && cfg.PostgresURL == "" {
			rep.Skipped = append(rep.Skipped, "PostgreSQL runs: no database URL (set HUB_TEST_POSTGRES_URL or -postgres-url)")
			continue
		}
		n := cfg.Events[st]
		base := HubConfig{Store: st, PostgresURL: cfg.PostgresURL, Events: n}
		for _, p := range cfg.Producers {
			c := base
			c.Producers = p
			r, err := RunHub(ctx, w, c)
			add(r, err, "hub "+st+" "+c.Variant())
		}
		c := base
		c.Producers, c.Batch = cfg.BatchProducers, cfg.Batch
		r, err := RunHub(ctx, w, c)
		add(r, err, "hub "+st+" "+c.Variant())
		if st == StoreMemory || cfg.NoRiver {
			continue
		}
		tuned := RiverTuned(st)
		tuned.Producers = cmpOr(cfg.RiverTuned.Producers, tuned.Producers)
		tuned.Batch = cmpOr(cfg.RiverTuned.Batch, tuned.Batch)
		tuned.Workers = cmpOr(cfg.RiverTuned.Workers, tuned.Workers)
		tuned.PostgresURL, tuned.Events = cfg.PostgresURL, n
		r, err = RunRiver(ctx, w, tuned)
		add(r, err, "River "+st+" "+tuned.Variant())
		def := RiverDefault(st)
		def.PostgresURL, def.Events = cfg.PostgresURL, cfg.RiverDefaultEvents
		r, err = RunRiver(ctx, w, def)
		add(r, err, "River "+st+" "+def.Variant())
		if st == StorePostgres && !cfg.NoFloor {
			fc := FloorConfig{PostgresURL: cfg.PostgresURL, Events: n}
			r, err = RunQueueFloor(ctx, w, fc)
			add(r, err, "floor "+st)
		}
	}

	if cfg.LatencyDuration > 0 {
		for _, st := range cfg.Stores {
			if st == StoreMemory || (st == StorePostgres && cfg.PostgresURL == "") || ctx.Err() != nil {
				continue
			}
			peak := rep.bestSingleCall(st)
			if peak == nil {
				rep.Skipped = append(rep.Skipped, "latency on "+st+": no single-call rate measured")
				continue
			}
			c := HubConfig{Store: st, PostgresURL: cfg.PostgresURL, Producers: pacedCallers}
			lr, err := RunHubPaced(ctx, w, c, peak.Rate()/2, cfg.LatencyDuration)
			if err != nil {
				rep.Failed = append(rep.Failed, "latency on "+st+": "+err.Error())
				fmt.Fprintf(cfg.Progress, "FAILED latency on %s: %v\n", st, err)
				continue
			}
			rep.Latency = append(rep.Latency, lr)
			fmt.Fprintf(cfg.Progress, "latency %-8s at %.0f/s: p50 %s p95 %s p99 %s max %s\n", st, lr.Rate, lr.P50, lr.P95, lr.P99, lr.Max)
		}
	}
	rep.Elapsed = time.Since(rep.Started)
	rep.LoadEnd = loadAverage()
	return rep
}

// bestSingleCall returns the hub's fastest single-call run on the store.
func (rep *Report) bestSingleCall(st string) *Result {
	var best *Result
	for _, r := range rep.Results {
		if r.System == "hub" && r.Store == st && strings.HasPrefix(r.Variant, "single-call") && (best == nil || r.Rate() > best.Rate()) {
			best = r
		}
	}
	return best
}

// find returns the first result matching.
func (rep *Report) find(system, st, variantPrefix string) *Result {
	for _, r := range rep.Results {
		if r.System == system && r.Store == st && strings.HasPrefix(r.Variant, variantPrefix) {
			return r
		}
	}
	return nil
}

// ratio describes r against the reference of its kind: the hub and River default on a
// durable store against River tuned on the same store, a pipeline peer against
// bloblang+jsonschema.
func (rep *Report) ratio(r *Result) string {
	var ref *Result
	var name string
	switch {
	case r.Store == "":
		ref, name = rep.find(PeerBloblang, "", ""), PeerBloblang
	case r.Store != StoreMemory && !(r.System == "River" && strings.HasPrefix(r.Variant, "tuned")):
		ref, name = rep.find("River", r.Store, "tuned"), "River tuned"
	}
	if ref == r {
		return "reference"
	}
	if ref == nil || ref.Rate() == 0 {
		return ""
	}
	return fmt.Sprintf("%.2fx %s", r.Rate()/ref.Rate(), name)
}

// Print writes the report as aligned text, or as Markdown tables when markdown is set.
func (rep *Report) Print(out io.Writer, markdown bool) {
	fmt.Fprintf(out, "Shared workload: %s\n", "4,459-byte GitHub issues event mapped to the canonical work item and validated, 16 workers, in-process sink")
	fmt.Fprintf(out, "Machine: %s; load average %s at start, %s at end; PostgreSQL %s; %s in all\n\n",
		rep.Machine, rep.LoadStart, rep.LoadEnd, cmpOr(rep.Postgres, "not used"), rep.Elapsed.Round(time.Second))
	header := []string{"system", "store", "variant", "events", "events/s", "CPU µs/event", "server CPU µs/event", "CPU-bound events/s", "WAL B/event", "ratio"}
	rows := make([][]string, 0, len(rep.Results))
	for _, r := range rep.Results {
		wal, server, bound := "", "", ""
		if r.WAL != nil {
			wal = fmt.Sprintf("%.0f", r.WAL.PerEvent)
		}
		if s := r.ServerCPUPerEvent(); s > 0 {
			server = fmt.Sprintf("%.1f", float64(s.Nanoseconds())/1e3)
			bound = fmt.Sprintf("%.0f", float64(runtime.NumCPU())*float64(time.Second)/float64(s+r.CPUPerEvent()))
		}
		rows = append(rows, []string{r.System, cmpOr(r.Store, "-"), r.Variant, fmt.Sprint(r.Events), fmt.Sprintf("%.0f", r.Rate()),
			fmt.Sprintf("%.1f", float64(r.CPUPerEvent().Nanoseconds())/1e3), server, bound, wal, rep.ratio(r)})
	}
	writeTable(out, markdown, 3, header, rows)
	if len(rep.Latency) > 0 {
		fmt.Fprintln(out)
		fmt.Fprintln(out, "Accept-to-delivery latency of the hub at half its best single-call rate (paced producer, one call per event):")
		fmt.Fprintln(out)
		rows = rows[:0]
		for _, l := range rep.Latency {
			rows = append(rows, []string{l.Store, fmt.Sprintf("%.0f", l.Rate), fmt.Sprint(l.Events), fmt.Sprintf("%.0f", l.Achieved),
				ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max)})
		}
		writeTable(out, markdown, 1, []string{"store", "offered/s", "events", "delivered/s", "p50 ms", "p95 ms", "p99 ms", "max ms"}, rows)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(out, "\nskipped: %s", s)
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(out, "\nFAILED: %s", f)
	}
	if len(rep.Skipped)+len(rep.Failed) > 0 {
		fmt.Fprintln(out)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

// writeTable prints rows under header, aligned, or as a Markdown table whose columns after
// the first textCols are right aligned.
func writeTable(out io.Writer, markdown bool, textCols int, header []string, rows [][]string) {
	if markdown {
		fmt.Fprintf(out, "| %s |\n", strings.Join(header, " | "))
		seps := make([]string, len(header))
		for i := range header {
			seps[i] = "---"
			if i >= textCols {
				seps[i] = "---:"
			}
		}
		fmt.Fprintf(out, "| %s |\n", strings.Join(seps, " | "))
		for _, r := range rows {
			fmt.Fprintf(out, "| %s |\n", strings.Join(r, " | "))
		}
		return
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
}

// machine describes this machine: OS and architecture, CPU count and model, Go version.
func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = " (" + strings.TrimSpace(v) + ")"
				break
			}
		}
	}
	return fmt.Sprintf("%s/%s, %d CPUs%s, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), model, runtime.Version())
}

// loadAverage returns the 1, 5 and 15 minute load averages, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// serverVersion returns PostgreSQL's server_version, or the error's text.
func serverVersion(ctx context.Context, url string) string {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "unreachable: " + err.Error()
	}
	defer func() { _ = conn.Close(ctx) }()
	var v string
	if err := conn.QueryRow(ctx, `SHOW server_version`).Scan(&v); err != nil {
		return "unknown: " + err.Error()
	}
	return v
}
