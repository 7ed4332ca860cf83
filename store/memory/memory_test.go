package memory_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
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

// BenchmarkClaimComplete measures the queue's round trip: insert a batch of 100 events,
// claim them in one call and complete them in one call. events/s counts events through the
// whole cycle.
func BenchmarkClaimComplete(b *testing.B) {
	const batch = 100
	st := memory.New(memory.Options{})
	ctx := b.Context()
	svc, err := st.CreateService(ctx, &store.Service{Name: "bench", Category: store.CategoryOther, ConnectorKind: "http"})
	require.NoError(b, err)
	payload := json.RawMessage(`{"action":"opened","issue":{"number":42,"title":"bench"}}`)
	evs := make([]*store.Event, batch)
	done := make([]store.CompleteParams, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i := range evs {
			evs[i] = &store.Event{ServiceID: svc.ID, ServiceName: svc.Name, PayloadIn: payload,
				IdempotencyKey: uuid.NewString()}
		}
		if _, err := st.InsertEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
		claimed, err := st.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: batch, Lease: time.Minute})
		if err != nil || len(claimed) != batch {
			b.Fatalf("claimed %d events: %v", len(claimed), err)
		}
		for i, e := range claimed {
			done[i] = store.CompleteParams{ID: e.ID, Owner: "w", ResponseCode: 200, ResponseTimeMS: 5}
		}
		lost, err := st.CompleteEvents(ctx, done)
		if err != nil || len(lost) > 0 {
			b.Fatalf("lost %v: %v", lost, err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}
