package sqlite_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/sqlite"
)

// TestGroupCommitIsolatesFailures runs many concurrent writes, so that they are committed
// in groups, where every other one fails (a name already taken, an invalid batch): each
// failure is rolled back alone, every success is stored.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openStore(t, time.Now)
	const n = 64
	for i := range n / 2 {
		newService(t, s, fmt.Sprintf("taken-%d", i))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("new-%d", i)
			if i%2 == 1 {
				name = fmt.Sprintf("taken-%d", i/2)
			}
			_, errs[i] = s.CreateService(ctx, &store.Service{Name: name, Category: store.CategoryOther,
				ConnectorKind: "http", RateLimits: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 1 {
			require.ErrorIs(t, err, store.ErrConflict, "write %d", i)
			got, err := s.GetServiceByName(ctx, fmt.Sprintf("taken-%d", i/2))
			require.NoError(t, err)
			assert.Nil(t, got.RateLimits, "the failed write changed nothing")
		} else {
			require.NoError(t, err, "write %d", i)
			got, err := s.GetServiceByName(ctx, fmt.Sprintf("new-%d", i))
			require.NoError(t, err)
			assert.JSONEq(t, fmt.Sprintf(`{"i":%d}`, i), string(got.RateLimits))
		}
	}
	all, err := s.ListServices(ctx, store.ServiceFilter{})
	require.NoError(t, err)
	assert.Len(t, all, n)
}

// TestGroupCommitBatchAtomicity mixes, in concurrent groups, event batches that fail half-way
// (a duplicate id at the end) with ones that succeed: a failed batch leaves none of its
// events, a successful one all.
func TestGroupCommitBatchAtomicity(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openStore(t, time.Now)
	svc := newService(t, s, "github")
	first, _, err := s.InsertEvent(ctx, &store.Event{ServiceID: svc.ID, ServiceName: svc.Name})
	require.NoError(t, err)
	const n = 40
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			es := make([]*store.Event, 10)
			for j := range es {
				es[j] = &store.Event{ServiceID: svc.ID, ServiceName: svc.Name, IdempotencyKey: fmt.Sprintf("%d-%d", i, j)}
			}
			if i%2 == 1 {
				es[9].ID = first.ID
			}
			_, errs[i] = s.InsertEvents(ctx, es)
		})
	}
	wg.Wait()
	for i, err := range errs {
		_, getErr := s.GetEventByIdempotencyKey(ctx, svc.ID, fmt.Sprintf("%d-0", i))
		if i%2 == 1 {
			require.ErrorIs(t, err, store.ErrConflict)
			require.ErrorIs(t, getErr, store.ErrNotFound, "batch %d left an event", i)
		} else {
			require.NoError(t, err)
			require.NoError(t, getErr)
		}
	}
	counts, err := s.CountEventsByStatus(ctx, store.EventFilter{})
	require.NoError(t, err)
	assert.Equal(t, int64(1+n/2*10), counts[store.StatusPending])
}

// TestCloseDuringWrites closes the store while many goroutines write: every write either
// succeeds or fails with store.ErrClosed, none hangs, and what succeeded is in the file.
func TestCloseDuringWrites(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hub.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	svc := newService(t, s, "github")
	var (
		wg sync.WaitGroup
		ok atomic.Int64
	)
	for range 16 {
		wg.Go(func() {
			for {
				_, _, err := s.InsertEvent(ctx, &store.Event{ServiceID: svc.ID, ServiceName: svc.Name})
				if err != nil {
					assert.ErrorIs(t, err, store.ErrClosed)
					return
				}
				ok.Add(1)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, s.Close())
	wg.Wait()

	s2, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	defer s2.Close()
	counts, err := s2.CountEventsByStatus(ctx, store.EventFilter{})
	require.NoError(t, err)
	assert.Equal(t, ok.Load(), counts[store.StatusPending], "every acknowledged insert is stored")
}
