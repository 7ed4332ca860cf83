package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

// retryBusy calls f until it returns anything but store.ErrBusy, at most 50 times: the
// contract lets a database refuse an operation it could not serialise (a deadlock between
// concurrent claims and releases, say), and the caller retries.
func retryBusy(f func() error) error {
	var err error
	for range 50 {
		if err = f(); !errors.Is(err, store.ErrBusy) {
			return err
		}
	}
	return err
}

// testConcurrentLeaseExpiry races claimers, completions and lease releases: every worker
// now and then stalls, moves the shared clock past every lease and releases them, so other
// workers' completions race the release and the next claim. Fencing must make exactly one
// completion of each event succeed.
func testConcurrentLeaseExpiry(t *testing.T, b *bundle, opts Options) {
	n := max(opts.ConcurrentEvents/10, 100)
	workers := opts.ConcurrentClaimers
	sv := b.service(t, "github")
	for i := 0; i < n; i += 500 {
		evs := make([]*store.Event, 0, 500)
		for range min(500, n-i) {
			evs = append(evs, newEvent(sv))
		}
		_, err := b.st.InsertEvents(b.ctx, evs)
		require.NoError(t, err)
	}

	completed := make([]map[string]int, workers+1)
	work := func(w int, owner string, stallEvery int) {
		completed[w] = map[string]int{}
		for round := 1; ; round++ {
			var evs []*store.Event
			err := retryBusy(func() (err error) {
				evs, err = b.st.ClaimEvents(b.ctx, store.ClaimParams{Owner: owner, Limit: 10, Lease: time.Second})
				return err
			})
			if !assert.NoError(t, err) || len(evs) == 0 {
				return
			}
			for _, e := range evs {
				assert.Equal(t, owner, e.LeaseOwner)
			}
			if stallEvery > 0 && round%stallEvery == 0 {
				b.clock.Advance(2 * time.Second)
				err := retryBusy(func() error { _, err := b.st.ReleaseExpiredLeases(b.ctx); return err })
				if !assert.NoError(t, err) {
					return
				}
			}
			done := make([]store.CompleteParams, len(evs))
			for i, e := range evs {
				done[i] = store.CompleteParams{ID: e.ID, Owner: owner, ResponseCode: 200}
			}
			var lost []string
			err = retryBusy(func() (err error) {
				lost, err = b.st.CompleteEvents(b.ctx, done)
				return err
			})
			if !assert.NoError(t, err) {
				return
			}
			isLost := map[string]bool{}
			for _, id := range lost {
				isLost[id] = true
			}
			for _, e := range evs {
				if !isLost[e.ID] {
					completed[w][e.ID]++
				}
			}
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { work(w, fmt.Sprintf("worker-%d", w), 5+w%4) })
	}
	wg.Wait()
	// Whatever the last releases returned to the queue, one more pass finishes.
	_, err := b.st.ReleaseExpiredLeases(b.ctx)
	require.NoError(t, err)
	work(workers, "sweeper", 0)

	total := map[string]int{}
	for _, m := range completed {
		for id, k := range m {
			total[id] += k
		}
	}
	assert.Len(t, total, n, "every event completed")
	for id, k := range total {
		if k != 1 {
			t.Errorf("event %s completed %d times", id, k)
		}
	}
	counts, err := b.st.CountEventsByStatus(b.ctx, store.EventFilter{})
	require.NoError(t, err)
	assert.Equal(t, map[store.EventStatus]int64{store.StatusSucceeded: int64(n)}, counts)
}

// testConcurrentIdempotentInsert has several goroutines insert the same keys at once, in
// different orders: each key must be created exactly once, and every caller must get that
// event. ErrBusy is retried, as the contract allows.
func testConcurrentIdempotentInsert(t *testing.T, b *bundle) {
	const writers, keys = 8, 50
	sv := b.service(t, "github")
	results := make([][]store.InsertResult, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			evs := make([]*store.Event, keys)
			for i := range keys {
				e := newEvent(sv)
				e.IdempotencyKey = fmt.Sprintf("key-%02d", (i+w*7)%keys)
				evs[i] = e
			}
			err := retryBusy(func() (err error) {
				results[w], err = b.st.InsertEvents(b.ctx, evs)
				return err
			})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	created := map[string]int{}
	idOf := map[string]string{}
	for _, res := range results {
		require.Len(t, res, keys)
		for _, r := range res {
			k := r.Event.IdempotencyKey
			if r.Created {
				created[k]++
			}
			if id, ok := idOf[k]; ok {
				assert.Equal(t, id, r.Event.ID, "key %s", k)
			}
			idOf[k] = r.Event.ID
		}
	}
	assert.Len(t, created, keys)
	for k, c := range created {
		assert.Equal(t, 1, c, "key %s created %d times", k, c)
	}
	list, err := b.st.ListEvents(b.ctx, store.EventFilter{Page: store.Page{Limit: 1000}})
	require.NoError(t, err)
	assert.Len(t, list, keys)
}
