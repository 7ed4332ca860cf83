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

// TestContentionNoBusy runs 50 goroutines over two Stores on one file (two sets of pools,
// as two processes would have) doing read-then-write transactions for a few seconds:
// idempotent inserts (look up the key, then insert), claim and complete, rule activation
// (read, deactivate, activate) and cancellation (read the status, then change it). None may
// fail, in particular not with store.ErrBusy, and no event may be claimed twice.
func TestContentionNoBusy(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hub.db")
	var stores [2]*sqlite.Store
	for i := range stores {
		s, err := sqlite.Open(ctx, path, sqlite.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	svc := newService(t, stores[0], "github")
	for v := 1; v <= 3; v++ {
		_, err := stores[0].CreateRule(ctx, &store.TransformationRule{Name: "r", Version: v,
			TransformationLogic: json.RawMessage(`{}`), IsActive: v == 1})
		require.NoError(t, err)
	}

	duration := 3 * time.Second
	if testing.Short() {
		duration = 500 * time.Millisecond
	}
	deadline := time.Now().Add(duration)
	const workers = 50
	var (
		wg       sync.WaitGroup
		ops      atomic.Int64
		mu       sync.Mutex
		claimed  = map[string]string{}
		failures []error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, err)
	}
	for w := range workers {
		s := stores[w%2]
		owner := fmt.Sprintf("worker-%d", w)
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				var err error
				switch i % 4 {
				case 0:
					_, _, err = s.InsertEvent(ctx, &store.Event{ServiceID: svc.ID, ServiceName: svc.Name,
						IdempotencyKey: fmt.Sprintf("k-%d", (w*7+i)%200)})
					if err == nil {
						_, _, err = s.InsertEvent(ctx, &store.Event{ServiceID: svc.ID, ServiceName: svc.Name})
					}
				case 1:
					var es []*store.Event
					es, err = s.ClaimEvents(ctx, store.ClaimParams{Owner: owner, Limit: 5, Lease: time.Minute})
					if err == nil && len(es) > 0 {
						ps := make([]store.CompleteParams, len(es))
						mu.Lock()
						for j, e := range es {
							if prev, ok := claimed[e.ID]; ok {
								failures = append(failures, fmt.Errorf("event %s claimed by %s and %s", e.ID, prev, owner))
							}
							claimed[e.ID] = owner
							ps[j] = store.CompleteParams{ID: e.ID, Owner: owner, ResponseCode: 200}
						}
						mu.Unlock()
						var lost []string
						lost, err = s.CompleteEvents(ctx, ps)
						if err == nil && len(lost) > 0 {
							err = fmt.Errorf("lost leases %v", lost)
						}
					}
				case 2:
					_, err = s.ActivateRule(ctx, "r", 1+(w+i)%3)
				case 3:
					var e *store.Event
					e, _, err = s.InsertEvent(ctx, &store.Event{ServiceID: svc.ID, ServiceName: svc.Name,
						NextAttemptAt: time.Now().Add(time.Hour)})
					if err == nil {
						_, err = s.CancelEvent(ctx, e.ID)
					}
				}
				if err != nil {
					fail(fmt.Errorf("%s op %d: %w", owner, i%4, err))
					return
				}
				ops.Add(1)
			}
		})
	}
	wg.Wait()
	require.Empty(t, failures)
	assert.Positive(t, ops.Load())
	active, err := stores[1].ListRules(ctx, store.RuleFilter{Name: "r", ActiveOnly: true})
	require.NoError(t, err)
	assert.Len(t, active, 1, "exactly one active version after concurrent activations")
	t.Logf("%d read-then-write operations by %d goroutines in %s", ops.Load(), workers, duration)
}
