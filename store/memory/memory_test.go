package memory_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
	"github.com/ehg/hub/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return memory.New(memory.Options{Now: now})
	})
}

// queueBench holds a store with one service and reusable batches: the store copies events
// in, so a caller may reuse its structs between calls.
type queueBench struct {
	st   *memory.Store
	evs  []*store.Event
	done []store.CompleteParams
	key  int
}

func newQueueBench(b *testing.B, batch int) *queueBench {
	st := memory.New(memory.Options{})
	svc, err := st.CreateService(b.Context(), &store.Service{Name: "bench", Category: store.CategoryOther, ConnectorKind: "http"})
	require.NoError(b, err)
	payload := json.RawMessage(`{"action":"opened","issue":{"number":42,"title":"bench"}}`)
	q := &queueBench{st: st, evs: make([]*store.Event, batch), done: make([]store.CompleteParams, batch)}
	for i := range q.evs {
		q.evs[i] = &store.Event{ServiceID: svc.ID, ServiceName: svc.Name, PayloadIn: payload}
	}
	return q
}

// insert stores one batch of new events, each with its own idempotency key.
func (q *queueBench) insert(b *testing.B) {
	for _, e := range q.evs {
		q.key++
		e.IdempotencyKey = "delivery-" + strconv.Itoa(q.key)
	}
	if _, err := q.st.InsertEvents(b.Context(), q.evs); err != nil {
		b.Fatal(err)
	}
}

// claimComplete claims one batch and completes it.
func (q *queueBench) claimComplete(b *testing.B) {
	n := len(q.evs)
	claimed, err := q.st.ClaimEvents(b.Context(), store.ClaimParams{Owner: "w", Limit: n, Lease: time.Minute})
	if err != nil || len(claimed) != n {
		b.Fatalf("claimed %d events: %v", len(claimed), err)
	}
	for i, e := range claimed {
		q.done[i] = store.CompleteParams{ID: e.ID, Owner: "w", ResponseCode: 200, ResponseTimeMS: 5}
	}
	lost, err := q.st.CompleteEvents(b.Context(), q.done)
	if err != nil || len(lost) > 0 {
		b.Fatalf("lost %v: %v", lost, err)
	}
}

// BenchmarkClaimComplete measures the delivery side of the queue: per iteration a batch
// of 100 events is inserted (untimed), then claimed in one call and completed in one call.
// events/s counts events claimed and completed per second of timed work.
func BenchmarkClaimComplete(b *testing.B) {
	const batch = 100
	q := newQueueBench(b, batch)
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		b.StopTimer()
		q.insert(b)
		b.StartTimer()
		q.claimComplete(b)
	}
	reportRates(b, batch, cpu0)
}

// reportRates reports events/s over the timed wall-clock time and, where the platform
// measures it, events per CPU-second of the whole process (garbage collection included) over
// the whole loop: on a busy machine the first falls with the CPU share the benchmark gets,
// the second much less.
func reportRates(b *testing.B, batch int, cpu0 time.Duration) {
	events := float64(b.N * batch)
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(events/cpu.Seconds(), "events/cpu-s")
	}
}

// BenchmarkInsertClaimComplete measures the whole cycle: insert a batch of 100 events,
// claim it and complete it, all timed.
func BenchmarkInsertClaimComplete(b *testing.B) {
	const batch = 100
	q := newQueueBench(b, batch)
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		q.insert(b)
		q.claimComplete(b)
	}
	reportRates(b, batch, cpu0)
}

// BenchmarkInsertEvents measures inserting batches of 100 new events, each with an
// idempotency key, into a growing store.
func BenchmarkInsertEvents(b *testing.B) {
	const batch = 100
	q := newQueueBench(b, batch)
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		q.insert(b)
	}
	reportRates(b, batch, cpu0)
}
