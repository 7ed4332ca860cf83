package sqlite_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

// benchPayload is about the size of the shared workload's GitHub issue webhook mapped to a
// canonical work item.
var benchPayload = json.RawMessage(`{"action":"opened","issue":{"number":1347,"title":"Found a bug",` +
	`"body":"I'm having a problem with this.","state":"open","labels":[{"name":"bug"}],` +
	`"user":{"login":"octocat","id":1}},"repository":{"full_name":"octocat/Hello-World","id":1296269}}`)

// sharedEvent reads the shared workload's GitHub issue webhook from the repository
// (examples/quickstart/data/github-issue-event.json) without insignificant white space:
// 4,459 bytes, more than a page holds locally, so its row spills to overflow pages.
func sharedEvent(tb testing.TB) json.RawMessage {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "quickstart", "data", "github-issue-event.json"))
	require.NoError(tb, err)
	var buf bytes.Buffer
	require.NoError(tb, json.Compact(&buf, raw))
	return buf.Bytes()
}

// writtenBytes returns the bytes this process has passed to write system calls (wchar of
// /proc/self/io: WAL frames and checkpoint writes), or -1 where that is not available.
func writtenBytes() int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range bytes.Lines(data) {
		if v, ok := bytes.CutPrefix(line, []byte("wchar: ")); ok {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// BenchmarkQueueThroughput measures the store's side of delivery end to end: events are
// inserted in batches, claimed in batches of 100 and completed in batches, one op being one
// event through the whole cycle. It reports events/s and, on Linux, the bytes written (WAL
// frames and checkpoints) per event.
func BenchmarkQueueThroughput(b *testing.B) {
	for _, bc := range []struct {
		name   string
		batch  int
		shared bool
	}{
		{"batch=100", 100, false},
		{"batch=500", 500, false},
		{"batch=100/payload=4.5KB", 100, true},
	} {
		batch := bc.batch
		b.Run(bc.name, func(b *testing.B) {
			payload := benchPayload
			if bc.shared {
				payload = sharedEvent(b)
			}
			s := openStore(b, time.Now)
			svc := newService(b, s, "github")
			ctx := b.Context()
			es := make([]*store.Event, batch)
			done := make([]store.CompleteParams, 0, batch)
			b.ReportAllocs()
			written := writtenBytes()
			b.ResetTimer()
			start := time.Now()
			for n := 0; n < b.N; n += batch {
				k := min(batch, b.N-n)
				for i := range k {
					es[i] = &store.Event{ServiceID: svc.ID, ServiceName: svc.Name, Operation: "issues.opened",
						IdempotencyKey: fmt.Sprintf("delivery-%d", n+i), PayloadIn: payload}
				}
				_, err := s.InsertEvents(ctx, es[:k])
				require.NoError(b, err)
				for left := k; left > 0; {
					claimed, err := s.ClaimEvents(ctx, store.ClaimParams{Owner: "bench", Limit: min(100, left), Lease: time.Minute})
					require.NoError(b, err)
					require.NotEmpty(b, claimed)
					done = done[:0]
					for _, e := range claimed {
						done = append(done, store.CompleteParams{ID: e.ID, Owner: "bench", ResponseCode: 201,
							ResponseTimeMS: 42, PayloadOut: json.RawMessage(`{"id":1}`)})
					}
					lost, err := s.CompleteEvents(ctx, done)
					require.NoError(b, err)
					require.Empty(b, lost)
					left -= len(claimed)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			if written >= 0 {
				b.ReportMetric(float64(writtenBytes()-written)/float64(b.N), "written-B/event")
			}
		})
	}
}

// BenchmarkInsertEvent measures single-event inserts, as ProcessIntegrationEvent makes them,
// from 8 callers per CPU (as concurrent HTTP requests would); one op is one event. The
// writer commits concurrent inserts together.
func BenchmarkInsertEvent(b *testing.B) {
	s := openStore(b, time.Now)
	svc := newService(b, s, "github")
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _, err := s.InsertEvent(b.Context(), &store.Event{ServiceID: svc.ID, ServiceName: svc.Name,
				Operation: "issues.opened", IdempotencyKey: fmt.Sprintf("delivery-%d", seq.Add(1)), PayloadIn: benchPayload})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkQueueHubLoad drives the store as the hub does under load (BenchmarkEndToEnd in
// the root package, without the hub's own work): producers insert the shared 4.5 KB event
// one at a time with a caller-chosen random ID (HUB_BENCH_PRODUCERS, default 8); one
// claimer claims up to 256 due events, woken by the store's notifications or every 5 ms;
// one recorder completes what was claimed in batches of whatever has arrived. One op is one
// event inserted, claimed and completed. It reports events/s, the process's CPU time per
// event and, on Linux, the bytes written per event.
func BenchmarkQueueHubLoad(b *testing.B) {
	payload := sharedEvent(b)
	producers := 8
	if v, err := strconv.Atoi(os.Getenv("HUB_BENCH_PRODUCERS")); err == nil && v > 0 {
		producers = v
	}
	// HUB_BENCH_UUIDV7=1 gives the events time-ordered IDs (UUIDv7), so their primary-key
	// entries are appended instead of landing on random index pages.
	timeOrdered := os.Getenv("HUB_BENCH_UUIDV7") != ""
	s := openStore(b, time.Now)
	svc := newService(b, s, "github")
	ctx := b.Context()
	note, err := s.Notifications(ctx)
	require.NoError(b, err)
	claimed := make(chan []*store.Event, 64)
	var completed atomic.Int64
	allDone := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	var target atomic.Int64
	target.Store(math.MaxInt64)
	go func() { // claimer
		defer close(claimed)
		for {
			es, err := s.ClaimEvents(ctx, store.ClaimParams{Owner: "bench", Limit: 256, Lease: time.Minute})
			if err != nil {
				select {
				case <-stop:
				default:
					b.Error(err)
				}
				return
			}
			if len(es) > 0 {
				claimed <- es
				continue
			}
			select {
			case <-stop:
				return
			case <-note:
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	go func() { // recorder
		var batch []store.CompleteParams
		for es := range claimed {
			batch = batch[:0]
			add := func(es []*store.Event) {
				for _, e := range es {
					batch = append(batch, store.CompleteParams{ID: e.ID, Owner: "bench", ResponseCode: 200})
				}
			}
			add(es)
		more:
			for len(batch) < 256 {
				select {
				case es, ok := <-claimed:
					if !ok {
						break more
					}
					add(es)
				default:
					break more
				}
			}
			lost, err := s.CompleteEvents(ctx, batch)
			if err != nil || len(lost) > 0 {
				select {
				case <-stop:
				default:
					b.Error(err, lost)
				}
				return
			}
			if completed.Add(int64(len(batch))) >= target.Load() {
				select {
				case allDone <- struct{}{}:
				case <-stop:
					return
				}
			}
		}
	}()
	round := func(n int) {
		target.Store(completed.Load() + int64(n))
		var next atomic.Int64
		var wg sync.WaitGroup
		for range producers {
			wg.Go(func() {
				for next.Add(1) <= int64(n) {
					id := uuid.NewString()
					if timeOrdered {
						id = uuid.Must(uuid.NewV7()).String()
					}
					_, _, err := s.InsertEvent(ctx, &store.Event{ID: id, ServiceID: svc.ID,
						ServiceName: svc.Name, Operation: "deliver", PayloadIn: payload})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		<-allDone
	}
	round(200) // warm up
	b.ReportAllocs()
	written, cpu := writtenBytes(), processCPU()
	b.ResetTimer()
	start := time.Now()
	round(b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/event")
	if written >= 0 {
		b.ReportMetric(float64(writtenBytes()-written)/float64(b.N), "written-B/event")
	}
}

// processCPU returns the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
