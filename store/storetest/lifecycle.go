package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

// lifecycleCases check every pair of statuses against store.CanTransition: for each
// starting status an event is driven there, then the operation that would move it to each
// target status is attempted; it must succeed exactly when the transition is legal and
// leave the event unchanged otherwise.
func lifecycleCases() []testCase {
	var cases []testCase
	for _, from := range store.EventStatuses() {
		cases = append(cases, testCase{"From_" + string(from), func(t *testing.T, b *bundle) {
			for _, to := range store.EventStatuses() {
				t.Run("To_"+string(to), func(t *testing.T) {
					t.Parallel()
					testTransition(t, b.suite.setup(t), from, to)
				})
			}
		}})
	}
	return cases
}

const lifecycleOwner = "worker-1"

// driveTo inserts an event and moves it to status st through the store's operations. The
// event expires at start+1h; the clock stays before that unless st is expired.
func driveTo(t *testing.T, b *bundle, st store.EventStatus) *store.Event {
	t.Helper()
	sv := b.service(t, "svc")
	in := newEvent(sv)
	in.ExpiresAt = ptr(start.Add(time.Hour))
	ev := b.insert(t, in)
	switch st {
	case store.StatusPending:
	case store.StatusCancelled:
		_, err := b.st.CancelEvent(b.ctx, ev.ID)
		require.NoError(t, err)
	case store.StatusExpired:
		b.clock.Advance(2 * time.Hour)
		n, err := b.st.ExpireEvents(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	default:
		b.claimOne(t, lifecycleOwner, ev)
		switch st {
		case store.StatusProcessing:
		case store.StatusSucceeded:
			b.complete(t, ev.ID, lifecycleOwner, 12)
		case store.StatusRetrying:
			b.fail(t, store.FailParams{ID: ev.ID, Owner: lifecycleOwner, Status: st, NextAttemptAt: b.clock.Now()})
		default:
			b.fail(t, store.FailParams{ID: ev.ID, Owner: lifecycleOwner, Status: st})
		}
	}
	got := b.get(t, ev.ID)
	require.Equal(t, st, got.Status)
	return got
}

func testTransition(t *testing.T, b *bundle, from, to store.EventStatus) {
	ev := driveTo(t, b, from)
	legal := store.CanTransition(from, to)
	var changed bool // whether the operation reported a change
	switch to {
	case store.StatusPending:
		if from == store.StatusProcessing {
			b.clock.Advance(2 * time.Minute) // past the lease
			n, err := b.st.ReleaseExpiredLeases(b.ctx)
			require.NoError(t, err)
			changed = n == 1
		} else {
			_, err := b.st.RequeueEvent(b.ctx, ev.ID, true)
			if err != nil {
				requireTransitionError(t, err, ev.ID, from, to)
			}
			changed = err == nil
		}
	case store.StatusProcessing:
		evs := b.claim(t, "worker-2", 10, time.Minute)
		changed = len(evs) == 1
		if changed {
			assert.Equal(t, ev.ID, evs[0].ID)
		}
	case store.StatusSucceeded:
		lost, err := b.st.CompleteEvents(b.ctx, []store.CompleteParams{{ID: ev.ID, Owner: lifecycleOwner, ResponseCode: 200}})
		require.NoError(t, err)
		changed = len(lost) == 0
		if !changed {
			assert.Equal(t, []string{ev.ID}, lost)
		}
	case store.StatusRetrying, store.StatusFailed, store.StatusDead:
		lost, err := b.st.FailEvents(b.ctx, []store.FailParams{{ID: ev.ID, Owner: lifecycleOwner, Status: to, NextAttemptAt: start.Add(time.Minute)}})
		require.NoError(t, err)
		changed = len(lost) == 0
	case store.StatusExpired:
		if from == store.StatusProcessing {
			lost, err := b.st.FailEvents(b.ctx, []store.FailParams{{ID: ev.ID, Owner: lifecycleOwner, Status: to}})
			require.NoError(t, err)
			changed = len(lost) == 0
			// A processing event is not expired by ExpireEvents, even past expires_at.
			b.clock.Advance(2 * time.Hour)
			n, err := b.st.ExpireEvents(b.ctx)
			require.NoError(t, err)
			assert.Equal(t, 0, n)
		} else {
			if from != store.StatusExpired {
				b.clock.Advance(2 * time.Hour)
			}
			n, err := b.st.ExpireEvents(b.ctx)
			require.NoError(t, err)
			changed = n == 1
		}
	case store.StatusCancelled:
		_, err := b.st.CancelEvent(b.ctx, ev.ID)
		if err != nil {
			requireTransitionError(t, err, ev.ID, from, to)
		}
		changed = err == nil
	default:
		t.Fatalf("no operation leads to %s", to)
	}
	got := b.get(t, ev.ID)
	if legal {
		assert.True(t, changed, "%s -> %s is legal: the operation must apply", from, to)
		assert.Equal(t, to, got.Status)
		return
	}
	assert.False(t, changed, "%s -> %s is illegal: the operation must refuse", from, to)
	assert.Equal(t, from, got.Status, "illegal %s -> %s left the event alone", from, to)
}
