package postgres

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

// TestConcurrentClaimers has 8 claimers, each with its own pool as separate processes would,
// drain 20,000 events: every event is claimed exactly once while its lease holds, completed
// by its claimer, and none is lost.
func TestConcurrentClaimers(t *testing.T) {
	t.Parallel()
	const (
		events   = 20000
		claimers = 8
		batch    = 100
	)
	clk := newClock()
	seed := newTestStore(t, clk.Now)
	ids := insertN(t, seed, events)

	var (
		mu      sync.Mutex
		owners  = make(map[string]string, events)
		doubles []string
		wg      sync.WaitGroup
		errs    = make(chan error, claimers)
	)
	for w := range claimers {
		pool := testPool(t, 2)
		s, err := New(t.Context(), pool, Options{Schema: seed.Schema(), Now: clk.Now})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		owner := "worker-" + string(rune('a'+w))
		wg.Go(func() {
			for {
				got, err := s.ClaimEvents(t.Context(), store.ClaimParams{Owner: owner, Limit: batch, Lease: time.Hour})
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				done := make([]store.CompleteParams, len(got))
				mu.Lock()
				for i, e := range got {
					if prev, ok := owners[e.ID]; ok {
						doubles = append(doubles, e.ID+" by "+prev+" and "+owner)
					}
					owners[e.ID] = owner
					done[i] = store.CompleteParams{ID: e.ID, Owner: owner, ResponseCode: 200}
				}
				mu.Unlock()
				lost, err := s.CompleteEvents(t.Context(), done)
				if err != nil {
					errs <- err
					return
				}
				if len(lost) > 0 {
					mu.Lock()
					doubles = append(doubles, lost...)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Empty(t, doubles, "claimed twice or lost its lease")
	assert.Len(t, owners, events, "every event claimed")
	for _, id := range ids {
		_, ok := owners[id]
		require.True(t, ok, "event %s never claimed", id)
	}
	counts, err := seed.CountEventsByStatus(t.Context(), store.EventFilter{})
	require.NoError(t, err)
	assert.Equal(t, map[store.EventStatus]int64{store.StatusSucceeded: events}, counts)
	perOwner := map[string]int{}
	for _, o := range owners {
		perOwner[o]++
	}
	t.Logf("events per claimer: %v", perOwner)
}

// TestZombieWorker shows that a worker whose lease expired, and whose event was released and
// claimed by another worker, can neither complete, fail nor extend it; the new holder can.
func TestZombieWorker(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clk := newClock()
	s := newTestStore(t, clk.Now)
	ev, _, err := s.InsertEvent(ctx, newEvent("zombie"))
	require.NoError(t, err)

	got, err := s.ClaimEvents(ctx, store.ClaimParams{Owner: "zombie", Limit: 1, Lease: 30 * time.Second})
	require.NoError(t, err)
	require.Len(t, got, 1)

	// An expired but unreleased lease still lets its holder extend it.
	clk.Advance(31 * time.Second)
	lost, err := s.ExtendLease(ctx, "zombie", []string{ev.ID}, 30*time.Second)
	require.NoError(t, err)
	assert.Empty(t, lost)

	clk.Advance(31 * time.Second)
	n, err := s.ReleaseExpiredLeases(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	released, err := s.GetEvent(ctx, ev.ID)
	require.NoError(t, err)
	assert.Equal(t, store.StatusPending, released.Status)
	assert.Equal(t, clk.Now(), released.NextAttemptAt)

	got, err = s.ClaimEvents(ctx, store.ClaimParams{Owner: "fresh", Limit: 1, Lease: 30 * time.Second})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, ev.ID, got[0].ID)

	lost, err = s.CompleteEvents(ctx, []store.CompleteParams{{ID: ev.ID, Owner: "zombie", ResponseCode: 200}})
	require.NoError(t, err)
	assert.Equal(t, []string{ev.ID}, lost)
	lost, err = s.FailEvents(ctx, []store.FailParams{{ID: ev.ID, Owner: "zombie", Status: store.StatusDead}})
	require.NoError(t, err)
	assert.Equal(t, []string{ev.ID}, lost)
	lost, err = s.ExtendLease(ctx, "zombie", []string{ev.ID}, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{ev.ID}, lost)

	cur, err := s.GetEvent(ctx, ev.ID)
	require.NoError(t, err)
	assert.Equal(t, store.StatusProcessing, cur.Status)
	assert.Equal(t, "fresh", cur.LeaseOwner)
	assert.Equal(t, 0, cur.ResponseCode, "the zombie wrote nothing")

	lost, err = s.CompleteEvents(ctx, []store.CompleteParams{{ID: ev.ID, Owner: "fresh", ResponseCode: 201}})
	require.NoError(t, err)
	assert.Empty(t, lost)
	cur, err = s.GetEvent(ctx, ev.ID)
	require.NoError(t, err)
	assert.Equal(t, store.StatusSucceeded, cur.Status)
	assert.Equal(t, 201, cur.ResponseCode)

	// A released event that had failed before goes back as retrying.
	ev2, _, err := s.InsertEvent(ctx, newEvent("twice"))
	require.NoError(t, err)
	_, err = s.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: 1, Lease: time.Second})
	require.NoError(t, err)
	_, err = s.FailEvents(ctx, []store.FailParams{{ID: ev2.ID, Owner: "w", Status: store.StatusRetrying, NextAttemptAt: clk.Now()}})
	require.NoError(t, err)
	_, err = s.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: 1, Lease: time.Second})
	require.NoError(t, err)
	clk.Advance(time.Second)
	n, err = s.ReleaseExpiredLeases(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	cur, err = s.GetEvent(ctx, ev2.ID)
	require.NoError(t, err)
	assert.Equal(t, store.StatusRetrying, cur.Status)
}

// TestRescueDuringClaims runs lease rescues (ReleaseExpiredLeases, from two stores as two
// hubs would) while workers claim events with leases shorter than their work and complete
// them in batches: the rescuer and the completions meet on the same rows all the time.
// No call may fail — in particular none with ErrBusy from a deadlock — and every event
// ends succeeded.
func TestRescueDuringClaims(t *testing.T) {
	t.Parallel()
	const (
		events    = 2000
		workers   = 4
		rescuers  = 2
		batch     = 50
		lease     = 5 * time.Millisecond
		deadline  = 2 * time.Minute
		threshold = events
	)
	seed := newTestStore(t, nil)
	insertN(t, seed, events)
	stores := make([]*Store, workers+rescuers)
	for i := range stores {
		s, err := New(t.Context(), testPool(t, 2), Options{Schema: seed.Schema()})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}

	var (
		wg        sync.WaitGroup
		stop      atomic.Bool
		errs      = make(chan error, workers+rescuers)
		completed atomic.Int64
		lostLease atomic.Int64
		rescued   atomic.Int64
	)
	end := time.Now().Add(deadline)
	for w := range workers {
		s, owner := stores[w], "worker-"+strconv.Itoa(w)
		wg.Go(func() {
			for !stop.Load() && time.Now().Before(end) {
				got, err := s.ClaimEvents(t.Context(), store.ClaimParams{Owner: owner, Limit: batch, Lease: lease})
				if err != nil {
					errs <- fmt.Errorf("claim: %w", err)
					return
				}
				if len(got) == 0 {
					if completed.Load() >= threshold {
						return
					}
					time.Sleep(time.Millisecond)
					continue
				}
				// Work about as long as the lease, so some leases expire under the worker.
				time.Sleep(lease)
				done := make([]store.CompleteParams, len(got))
				for i, e := range got {
					done[i] = store.CompleteParams{ID: e.ID, Owner: owner, ResponseCode: 200}
				}
				lost, err := s.CompleteEvents(t.Context(), done)
				if err != nil {
					errs <- fmt.Errorf("complete: %w", err)
					return
				}
				completed.Add(int64(len(got) - len(lost)))
				lostLease.Add(int64(len(lost)))
			}
		})
	}
	for r := range rescuers {
		s := stores[workers+r]
		wg.Go(func() {
			for !stop.Load() && time.Now().Before(end) {
				n, err := s.ReleaseExpiredLeases(t.Context())
				if err != nil {
					errs <- fmt.Errorf("rescue: %w", err)
					return
				}
				rescued.Add(int64(n))
				if completed.Load() >= threshold {
					return
				}
			}
		})
	}
	go func() {
		for completed.Load() < threshold && time.Now().Before(end) && len(errs) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		stop.Store(true)
	}()
	wg.Wait()
	stop.Store(true)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	counts, err := seed.CountEventsByStatus(t.Context(), store.EventFilter{})
	require.NoError(t, err)
	assert.Equal(t, map[store.EventStatus]int64{store.StatusSucceeded: events}, nonZeroCounts(counts))
	assert.Positive(t, rescued.Load(), "the rescuer released expired leases while claims ran")
	t.Logf("completed %d, completions refused after a lost lease %d, leases rescued %d",
		completed.Load(), lostLease.Load(), rescued.Load())
}

// nonZeroCounts drops the statuses counted zero.
func nonZeroCounts(m map[store.EventStatus]int64) map[store.EventStatus]int64 {
	out := map[store.EventStatus]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}
