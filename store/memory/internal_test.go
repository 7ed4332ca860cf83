package memory

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func TestIDGenProducesDistinctV4UUIDs(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 3 * 256 { // crosses two refills of a block of 256 ids
		id, key := newID()
		u, err := uuid.Parse(id)
		require.NoError(t, err)
		assert.Equal(t, uuidKey(u), key)
		assert.Equal(t, key, keyOf(id))
		assert.Equal(t, uuid.Version(4), u.Version())
		assert.Equal(t, uuid.RFC4122, u.Variant())
		assert.True(t, isCanonical(id), id)
		assert.False(t, seen[id], "duplicate %s", id)
		seen[id] = true
	}
}

func TestCanonicalID(t *testing.T) {
	t.Parallel()
	id := "0f8fad5b-d9cb-469f-a165-70867728950e"
	for _, in := range []string{id, strings.ToUpper(id), "{" + id + "}", "urn:uuid:" + id} {
		got, err := canonicalID("event", in)
		require.NoError(t, err, in)
		assert.Equal(t, id, got)
	}
	for _, in := range []string{"", "x", id[:35], id + "0"} {
		_, err := canonicalID("event", in)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, in)
	}
}

func TestCloneEventSharesNothing(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	src := &store.Event{ID: "a", PayloadIn: []byte(`{"a":1}`), ErrorDetails: []byte(`{"e":2}`),
		PayloadOut: []byte{}, CompletedAt: &at, LeaseUntil: &at}
	c := cloneEvent(src)
	want := src.Clone()
	assert.Equal(t, want, c)
	assert.Nil(t, c.PayloadOut, "empty JSON becomes nil, as Event.Clone does")
	c.PayloadIn = append(c.PayloadIn, '!') // must not run into ErrorDetails' bytes
	c.PayloadIn[0] = '['
	*c.CompletedAt = at.Add(time.Hour)
	assert.JSONEq(t, `{"e":2}`, string(c.ErrorDetails))
	assert.Equal(t, want, src.Clone(), "the source is untouched")
	assert.NotSame(t, c.CompletedAt, c.LeaseUntil)
}

// TestClaimOrderModel checks the heaps against a sorted reference: random events (priority,
// override, creation time, due time) are inserted, some cancelled or expired from the middle
// of the heaps, and claims in random batches must return the rest in exactly the order a
// full sort gives.
func TestClaimOrderModel(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 99))
		now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		st := New(Options{Now: func() time.Time { return now }})
		services := []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}
		var all []*store.Event
		for range 300 {
			now = now.Add(time.Duration(rng.IntN(3)) * time.Millisecond) // ties on created_at
			e := &store.Event{
				ServiceID: services[rng.IntN(len(services))], ServiceName: "s",
				PriorityLevel:    store.Priorities()[rng.IntN(4)],
				ChairmanOverride: rng.IntN(10) == 0,
			}
			if rng.IntN(4) == 0 {
				e.NextAttemptAt = now.Add(time.Duration(rng.IntN(2000)) * time.Millisecond)
			}
			if rng.IntN(10) == 0 {
				e.ExpiresAt = new(now.Add(time.Duration(rng.IntN(1000)) * time.Millisecond))
			}
			got, _, err := st.InsertEvent(ctx, e)
			require.NoError(t, err)
			all = append(all, got)
		}
		now = now.Add(3 * time.Second) // everything due; some expired
		var want []*store.Event
		for _, e := range all {
			switch {
			case rng.IntN(8) == 0:
				_, err := st.CancelEvent(ctx, e.ID)
				require.NoError(t, err)
			case e.ExpiresAt != nil && !e.ExpiresAt.After(store.Timestamp(now)):
			default:
				want = append(want, e)
			}
		}
		if seed%2 == 0 {
			n, err := st.ExpireEvents(ctx)
			require.NoError(t, err)
			assert.Positive(t, n)
		}
		slices.SortFunc(want, func(a, b *store.Event) int {
			ea, eb := &entry{ev: *a, rank: a.PriorityLevel.Rank()}, &entry{ev: *b, rank: b.PriorityLevel.Rank()}
			switch {
			case claimBefore(ea, eb):
				return -1
			case claimBefore(eb, ea):
				return 1
			}
			return 0
		})
		var got []string
		for {
			evs, err := st.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: 1 + rng.IntN(40), Lease: time.Minute})
			require.NoError(t, err)
			if len(evs) == 0 {
				break
			}
			for _, e := range evs {
				got = append(got, e.ID)
			}
		}
		wantIDs := make([]string, len(want))
		for i, e := range want {
			wantIDs[i] = e.ID
		}
		require.Equal(t, wantIDs, got, "seed %d", seed)
	}
}

func TestCloneEventEveryTimeCombination(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for mask := range 8 {
		src := &store.Event{ID: "a"}
		for i, p := range []**time.Time{&src.CompletedAt, &src.ExpiresAt, &src.LeaseUntil} {
			if mask&(1<<i) != 0 {
				*p = new(base.Add(time.Duration(i) * time.Hour))
			}
		}
		c := cloneEvent(src)
		require.Equal(t, src.Clone(), c, "mask %b", mask)
		for _, p := range []*time.Time{c.CompletedAt, c.ExpiresAt, c.LeaseUntil} {
			if p != nil {
				*p = time.Time{}
			}
		}
		assert.Equal(t, src.Clone(), cloneEvent(src), "mask %b: the copy's times are its own", mask)
	}
}
