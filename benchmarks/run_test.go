package benchmarks

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/ehg/hub"
	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/store"
)

// postgresURL returns the test database, or skips: only PostgreSQL tests may skip.
func postgresURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("HUB_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("set HUB_TEST_POSTGRES_URL to run the PostgreSQL benchmarks' tests")
	}
	return url
}

func TestRunHub(t *testing.T) {
	w := testWorkload(t)
	cases := []HubConfig{
		{Store: StoreMemory, Events: 500},
		{Store: StoreMemory, Events: 500, Batch: 100, Producers: 2},
		{Store: StoreSQLite, Events: 300, Dir: t.TempDir()},
		{Store: StorePostgres, Events: 300},
		{Store: StorePostgres, Events: 300, Batch: 50, Producers: 2},
	}
	for _, c := range cases {
		t.Run(c.Store+"/"+c.Variant(), func(t *testing.T) {
			if c.Store == StorePostgres {
				c.PostgresURL = postgresURL(t)
			}
			r, err := RunHub(t.Context(), w, c)
			if err != nil {
				t.Fatal(err)
			}
			if r.Events != c.Events || r.Rate() <= 0 || r.CPU <= 0 {
				t.Errorf("result %+v", r)
			}
			if (r.WAL != nil) != (c.Store == StorePostgres) {
				t.Errorf("WAL %+v on %s", r.WAL, c.Store)
			}
			// Each event is a 4.5 KB payload and its work item, written at least once
			// (TOAST may compress them).
			if r.WAL != nil && (r.WAL.PerEvent < 1000 || r.WAL.LSNBytes <= 0) {
				t.Errorf("WAL per event %.0f, LSN %d: too little for the events written", r.WAL.PerEvent, r.WAL.LSNBytes)
			}
			t.Logf("%s %s: %.0f events/s, %s CPU/event, WAL %+v", r.Store, r.Variant, r.Rate(), r.CPUPerEvent(), r.WAL)
		})
	}
}

func TestRunHubErrors(t *testing.T) {
	w := testWorkload(t)
	if _, err := RunHub(t.Context(), w, HubConfig{Store: "nosuch", Events: 10}); err == nil || !strings.Contains(err.Error(), "unknown store") {
		t.Errorf("unknown store: %v", err)
	}
	if _, err := RunHub(t.Context(), w, HubConfig{Store: StorePostgres, Events: 10}); err == nil {
		t.Error("PostgreSQL without a URL succeeded")
	}
	if _, err := RunRiver(t.Context(), w, RiverConfig{Store: StoreMemory, Events: 10}); err == nil {
		t.Error("River on the memory store succeeded")
	}
}

func TestRunRiver(t *testing.T) {
	w := testWorkload(t)
	for _, st := range []string{StoreSQLite, StorePostgres} {
		for _, c := range []RiverConfig{RiverDefault(st), RiverTuned(st)} {
			t.Run(st+"/"+c.Name, func(t *testing.T) {
				if st == StorePostgres {
					c.PostgresURL = postgresURL(t)
				} else {
					c.Dir = t.TempDir()
				}
				c.Events, c.Warmup = 300, 50
				r, err := RunRiver(t.Context(), w, c)
				if err != nil {
					t.Fatal(err)
				}
				if r.System != "River" || r.Events != 300 || r.Rate() <= 0 {
					t.Errorf("result %+v", r)
				}
				if (r.WAL != nil) != (st == StorePostgres) {
					t.Errorf("WAL %+v on %s", r.WAL, st)
				}
				t.Logf("%s %s: %.0f events/s, %s CPU/event, WAL %+v", r.Store, r.Variant, r.Rate(), r.CPUPerEvent(), r.WAL)
			})
		}
	}
}

// TestRiverWorkerDoesTheHubsWork: a River job runs the hub's pipeline and delivers the
// expected work item to the sink; a payload the pipeline refuses is cancelled.
func TestRiverWorkerDoesTheHubsWork(t *testing.T) {
	w := testWorkload(t)
	pipe, err := HubPipeline(w)
	if err != nil {
		t.Fatal(err)
	}
	sink := NewSink(w.Expected)
	wk := &eventWorker{pipe: pipe, sink: sink}
	job := newJob(7, w.Compact)
	if err := wk.Work(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	if sink.Delivered() != 1 || sink.Err() != nil || sink.Reformatted() != 0 {
		t.Errorf("delivered %d, err %v, reformatted %d", sink.Delivered(), sink.Err(), sink.Reformatted())
	}
	var cancel *river.JobCancelError
	if err := wk.Work(t.Context(), newJob(8, []byte(`{"issue":1}`))); !errors.As(err, &cancel) {
		t.Errorf("bad payload: %v, want a cancelled job", err)
	}
	if sink.Delivered() != 1 {
		t.Errorf("a refused payload was delivered")
	}
}

func newJob(id int64, event []byte) *river.Job[eventArgs] {
	return &river.Job[eventArgs]{JobRow: &rivertype.JobRow{ID: id, Kind: riverJobKind}, Args: eventArgs{Event: event}}
}

func TestSinkChecksBodies(t *testing.T) {
	w := testWorkload(t)
	s := NewSink(w.Expected)
	deliver := func(body []byte) {
		t.Helper()
		if _, err := s.Invoke(t.Context(), &connectors.Request{Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	deliver(w.Expected)
	// The same value re-serialised (as jsonb would) is accepted but counted.
	var v map[string]any
	if err := json.Unmarshal(w.Expected, &v); err != nil {
		t.Fatal(err)
	}
	spaced, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	deliver(spaced)
	if s.Err() != nil || s.Reformatted() != 1 {
		t.Errorf("re-serialised body: err %v, reformatted %d", s.Err(), s.Reformatted())
	}
	deliver(bytes.Replace(w.Expected, []byte(`"priority":"high"`), []byte(`"priority":"low"`), 1))
	if err := s.Err(); !errors.Is(err, ErrUnexpectedBody) || !strings.Contains(err.Error(), "1 deliveries") {
		t.Errorf("wrong body: %v", err)
	}
	if s.Delivered() != 3 {
		t.Errorf("delivered %d, want 3", s.Delivered())
	}
}

// TestTracker: latency is the delivery time minus the accept time whichever is reported
// first, a second delivery does not count, and nothing is left in flight.
func TestTracker(t *testing.T) {
	tr := NewTracker()
	t0 := time.Unix(1000, 0)
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := strconv.Itoa(i)
			acc, del := t0, t0.Add(time.Duration(i+1)*time.Millisecond)
			if i%2 == 0 {
				tr.Delivered(id, del)
				tr.Accepted(id, acc)
			} else {
				tr.Accepted(id, acc)
				tr.Delivered(id, del)
				tr.Delivered(id, del.Add(time.Hour)) // a redelivery
			}
		}()
	}
	wg.Wait()
	if n := tr.Hist.Count(); n != 1000 {
		t.Fatalf("count %d, want 1000", n)
	}
	if m := tr.Hist.Max(); m != time.Second {
		t.Errorf("max %s, want 1s", m)
	}
	if p := tr.Hist.Quantile(0.5); p < 490*time.Millisecond || p > 510*time.Millisecond {
		t.Errorf("median %s, want 500ms ±2%%", p)
	}
	left := 0
	for i := range tr.shards {
		left += len(tr.shards[i].m)
	}
	if left != 500 { // the odd events' redeliveries wait for an accept that never comes
		t.Errorf("%d entries left, want 500", left)
	}
}

// TestHistogramQuantiles compares the histogram with exact quantiles of random data.
func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 {
		t.Error("empty histogram has a quantile")
	}
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]time.Duration, 20000)
	for i := range vals {
		vals[i] = time.Duration(r.ExpFloat64() * float64(5*time.Millisecond))
		h.Record(vals[i])
	}
	h.Record(-time.Second) // counts as zero
	vals = append(vals, 0)
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.95, 0.99, 0.999, 1} {
		exact := vals[max(0, int(q*float64(len(vals)))-1)]
		got := h.Quantile(q)
		if d := float64(got-exact) / float64(exact); d < -0.02 || d > 0.02 {
			t.Errorf("q%.3f: %s, exact %s (%.1f%%)", q, got, exact, 100*d)
		}
	}
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 1 << 40, 1<<63 - 1} {
		i := histIndex(v)
		if lo, hi := histLow(i), histLow(i+1); v < lo || (hi > lo && v >= hi) {
			t.Errorf("%d in bucket %d [%d, %d)", v, i, lo, hi)
		}
	}
}

func TestRunHubPaced(t *testing.T) {
	w := testWorkload(t)
	lr, err := RunHubPaced(t.Context(), w, HubConfig{Store: StoreSQLite, Dir: t.TempDir()}, 200, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if lr.Events != 200 || lr.P50 <= 0 || lr.P50 > lr.P99 || lr.P99 > lr.Max {
		t.Errorf("%+v", lr)
	}
	t.Logf("SQLite at 200/s: p50 %s p95 %s p99 %s max %s", lr.P50, lr.P95, lr.P99, lr.Max)
	if _, err := RunHubPaced(t.Context(), w, HubConfig{Store: StoreSQLite}, 0, time.Second); err == nil {
		t.Error("a zero rate was accepted")
	}
}

func TestRunPipeline(t *testing.T) {
	w := testWorkload(t)
	for _, p := range testPeers(t, w)[:2] {
		r, err := RunPipeline(t.Context(), w, p, 400, 4)
		if err != nil {
			t.Fatal(err)
		}
		if r.Events != 400 || r.Rate() <= 0 || r.Store != "" {
			t.Errorf("%+v", r)
		}
	}
}

// TestSoak runs a small soak with retention on: windows, sizes, latency and the
// retention note are all reported.
func TestSoak(t *testing.T) {
	url := postgresURL(t)
	w := testWorkload(t)
	rep, err := Soak(t.Context(), w, SoakConfig{PostgresURL: url, Events: 2000, Window: 500, Producers: 8, Retention: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Windows) != 4 || rep.StartRate <= 0 || rep.EndRate <= 0 || rep.P99 <= 0 || rep.PeakHeap == 0 || rep.WAL == nil {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(rep.Retention, "deleted after 1m0s") {
		t.Errorf("retention: %q", rep.Retention)
	}
	var events *RelationSize
	for i := range rep.Sizes {
		if rep.Sizes[i].Table == "integration_events" {
			events = &rep.Sizes[i]
		}
	}
	if events == nil || events.Heap+events.Toast <= 0 || events.Indexes <= 0 {
		t.Errorf("sizes %+v", rep.Sizes)
	}
	var out strings.Builder
	rep.Print(&out)
	for _, want := range []string{"integration_events", "p99", "peak live heap", "within 20%", "deleted after 1m0s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	t.Log("\n" + out.String())
}

// TestCompare runs a small comparison on the memory and SQLite stores and checks the table.
func TestCompare(t *testing.T) {
	w := testWorkload(t)
	rep := Compare(t.Context(), w, CompareConfig{
		Stores: []string{StoreMemory, StoreSQLite, StorePostgres}, Producers: []int{4},
		Events:             map[string]int{StoreMemory: 400, StoreSQLite: 200},
		RiverDefaultEvents: 100, LatencyDuration: 500 * time.Millisecond, PipelineEvents: 200,
	})
	if len(rep.Failed) > 0 {
		t.Fatalf("failed: %v", rep.Failed)
	}
	var out strings.Builder
	rep.Print(&out, true)
	for _, want := range []string{"| hub | memory | single-call, 4 producers |", "| River | sqlite | tuned:", "x River tuned", "| bloblang+jsonschema | - |", "reference", "p99 ms", "skipped: PostgreSQL runs"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	t.Log("\n" + out.String())
}

// TestRetentionOption: the soak's -retention flag becomes the hub's retention policy on
// delivered events and a cleaner interval between a second and a minute.
func TestRetentionOption(t *testing.T) {
	for _, tc := range []struct {
		keep, interval time.Duration
	}{
		{time.Second, time.Second},
		{10 * time.Second, 5 * time.Second},
		{time.Hour, time.Minute},
	} {
		opt, err := RetentionOption(tc.keep)
		if err != nil {
			t.Fatal(err)
		}
		var c hub.Config
		if err := opt(&c); err != nil {
			t.Fatal(err)
		}
		if got := c.Retention.Events[store.StatusSucceeded]; got != tc.keep {
			t.Errorf("keep %s: policy keeps succeeded events %s", tc.keep, got)
		}
		if c.CleanupInterval != tc.interval {
			t.Errorf("keep %s: cleaner every %s, want %s", tc.keep, c.CleanupInterval, tc.interval)
		}
	}
	if _, err := RetentionOption(0); err == nil {
		t.Error("RetentionOption(0) returned no error")
	}
}

// TestRunQueueFloor: the floor queue completes every event once and reports its WAL, and
// the server's CPU when the server is on this machine.
func TestRunQueueFloor(t *testing.T) {
	w := testWorkload(t)
	url := postgresURL(t)
	r, err := RunQueueFloor(t.Context(), w, FloorConfig{PostgresURL: url, Events: 500, Warmup: 50, Producers: 2, Batch: 50, Workers: 4, Claim: 64})
	if err != nil {
		t.Fatal(err)
	}
	if r.System != "floor" || r.Events != 500 || r.Rate() <= 0 || r.WAL == nil || r.WAL.PerEvent < 500 {
		t.Errorf("result %+v, WAL %+v", r, r.WAL)
	}
	if _, local := serverCPU(url); local && r.ServerCPU <= 0 {
		t.Errorf("local server, but no server CPU measured: %+v", r)
	}
	if _, err := RunQueueFloor(t.Context(), w, FloorConfig{}); !errors.Is(err, ErrNoPostgres) {
		t.Errorf("no URL: %v", err)
	}
	t.Logf("%s: %.0f events/s, %s CPU/event, %s server CPU/event, WAL %.0f B/event", r.Variant, r.Rate(), r.CPUPerEvent(), r.ServerCPUPerEvent(), r.WAL.PerEvent)
}

func TestLocalDatabase(t *testing.T) {
	for url, want := range map[string]bool{
		"postgres://postgres@127.0.0.1:5432/test":      true,
		"postgres://postgres@localhost/test":           true,
		"postgres://postgres@[::1]:5432/test":          true,
		"postgres:///test?host=/var/run/postgresql":    true,
		"postgres://postgres@db.example.com:5432/test": false,
		"postgres://postgres@10.0.0.5/test":            false,
		"::not a url":                                  false,
	} {
		if got := localDatabase(url); got != want {
			t.Errorf("localDatabase(%q) = %v, want %v", url, got, want)
		}
	}
}
