package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

// TestCancelledBatchLeavesNothing cancels large batches part-way: each call either stores
// its whole batch or nothing, and the writer stays usable (no transaction left open on a
// pooled connection).
func TestCancelledBatchLeavesNothing(t *testing.T) {
	t.Parallel()
	s := openStore(t, time.Now)
	svc := newService(t, s, "github")
	const batch = 2000
	stored := 0
	for round := range 6 {
		es := make([]*store.Event, batch)
		for i := range es {
			es[i] = &store.Event{ServiceID: svc.ID, ServiceName: svc.Name,
				IdempotencyKey: fmt.Sprintf("r%d-%d", round, i)}
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Duration(round)*2*time.Millisecond)
		_, err := s.InsertEvents(ctx, es)
		cancel()
		if err == nil {
			stored += batch
		} else {
			require.ErrorIs(t, err, context.DeadlineExceeded)
			t.Logf("round %d cancelled: %v", round, err)
		}
		counts, err := s.CountEventsByStatus(t.Context(), store.EventFilter{})
		require.NoError(t, err)
		assert.Equal(t, int64(stored), counts[store.StatusPending], "round %d: all or nothing", round)
	}
	// The writer still works.
	_, created, err := s.InsertEvent(t.Context(), &store.Event{ServiceID: svc.ID, ServiceName: svc.Name})
	require.NoError(t, err)
	assert.True(t, created)
}
