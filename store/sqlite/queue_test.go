package sqlite_test

import (
	"encoding/json"
	"math"
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

func TestInsertEventsIdempotentAndAtomic(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clk := newClock()
	s := openStore(t, clk.Now)
	svc := newService(t, s, "github")

	res, err := s.InsertEvents(ctx, []*store.Event{
		{ServiceID: svc.ID, ServiceName: svc.Name, IdempotencyKey: "k1", PayloadIn: json.RawMessage(`{"a":1}`)},
		{ServiceID: svc.ID, ServiceName: svc.Name, IdempotencyKey: "k1", PayloadIn: json.RawMessage(`{"a":2}`)},
		{ServiceID: svc.ID, ServiceName: svc.Name},
	})
	require.NoError(t, err)
	require.Len(t, res, 3)
	assert.True(t, res[0].Created)
	assert.False(t, res[1].Created, "a duplicate key in the batch resolves to the first")
	assert.Equal(t, res[0].Event.ID, res[1].Event.ID)
	assert.JSONEq(t, `{"a":1}`, string(res[1].Event.PayloadIn))
	assert.True(t, res[2].Created)

	got, err := s.GetEvent(ctx, res[0].Event.ID)
	require.NoError(t, err)
	assert.Equal(t, res[0].Event, got, "the returned event is what a read gives back")
	assert.Equal(t, store.StatusPending, got.Status)
	assert.Equal(t, store.PriorityNormal, got.PriorityLevel)
	assert.Equal(t, store.MethodPost, got.RequestMethod)
	assert.Equal(t, clk.Now(), got.NextAttemptAt)

	// An invalid event anywhere in the batch stores nothing.
	_, err = s.InsertEvents(ctx, []*store.Event{
		{ServiceID: svc.ID, ServiceName: svc.Name, IdempotencyKey: "k2"},
		{ServiceID: svc.ID, ServiceName: svc.Name, PayloadIn: json.RawMessage(`{`)},
	})
	require.ErrorIs(t, err, store.ErrInvalidArgument)
	_, err = s.GetEventByIdempotencyKey(ctx, svc.ID, "k2")
	require.ErrorIs(t, err, store.ErrNotFound)

	// A duplicate ID fails the whole batch with ErrConflict and rolls it back.
	_, err = s.InsertEvents(ctx, []*store.Event{
		{ServiceID: svc.ID, ServiceName: svc.Name, IdempotencyKey: "k3"},
		{ID: res[2].Event.ID, ServiceID: svc.ID, ServiceName: svc.Name},
	})
	require.ErrorIs(t, err, store.ErrConflict)
	_, err = s.GetEventByIdempotencyKey(ctx, svc.ID, "k3")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestClaimOrderLeaseAndFencing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clk := newClock()
	s := openStore(t, clk.Now)
	svc := newService(t, s, "github")
	other := newService(t, s, "slack")

	mk := func(p store.Priority, override bool, svc *store.Service) *store.Event {
		clk.Advance(time.Millisecond)
		e, _, err := s.InsertEvent(ctx, &store.Event{ServiceID: svc.ID, ServiceName: svc.Name,
			PriorityLevel: p, ChairmanOverride: override})
		require.NoError(t, err)
		return e
	}
	low := mk(store.PriorityLow, false, svc)
	normal := mk(store.PriorityNormal, false, svc)
	critical := mk(store.PriorityCritical, false, svc)
	overridden := mk(store.PriorityLow, true, svc)
	excluded := mk(store.PriorityCritical, true, other)
	future, _, err := s.InsertEvent(ctx, &store.Event{ServiceID: svc.ID, ServiceName: svc.Name,
		NextAttemptAt: clk.Now().Add(time.Hour)})
	require.NoError(t, err)

	claimed, err := s.ClaimEvents(ctx, store.ClaimParams{Owner: "w1", Limit: 10, Lease: time.Minute,
		ExcludeServiceIDs: []string{other.ID}})
	require.NoError(t, err)
	ids := make([]string, len(claimed))
	for i, e := range claimed {
		ids[i] = e.ID
		assert.Equal(t, store.StatusProcessing, e.Status)
		assert.Equal(t, "w1", e.LeaseOwner)
		require.NotNil(t, e.LeaseUntil)
		assert.Equal(t, clk.Now().Add(time.Minute), *e.LeaseUntil)
	}
	assert.Equal(t, []string{overridden.ID, critical.ID, normal.ID, low.ID}, ids)
	assert.NotContains(t, ids, excluded.ID)
	assert.NotContains(t, ids, future.ID)

	// Nothing else is due for another claimer.
	again, err := s.ClaimEvents(ctx, store.ClaimParams{Owner: "w2", Limit: 10, Lease: time.Minute,
		ExcludeServiceIDs: []string{other.ID}})
	require.NoError(t, err)
	assert.Empty(t, again)

	// The lease runs out, is released, and w2 claims the event again: w1 is fenced off.
	clk.Advance(2 * time.Minute)
	n, err := s.ReleaseExpiredLeases(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	again, err = s.ClaimEvents(ctx, store.ClaimParams{Owner: "w2", Limit: 1, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, again, 1)
	assert.Equal(t, excluded.ID, again[0].ID, "override first, then critical")
	again, err = s.ClaimEvents(ctx, store.ClaimParams{Owner: "w2", Limit: 1, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, again, 1)
	assert.Equal(t, overridden.ID, again[0].ID)

	lost, err := s.CompleteEvents(ctx, []store.CompleteParams{
		{ID: overridden.ID, Owner: "w1", ResponseCode: 200},
		{ID: overridden.ID, Owner: "w2", ResponseCode: 201, ResponseTimeMS: 12, PayloadOut: json.RawMessage(`{"ok":true}`)},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{overridden.ID}, lost)
	done, err := s.GetEvent(ctx, overridden.ID)
	require.NoError(t, err)
	assert.Equal(t, store.StatusSucceeded, done.Status)
	assert.Equal(t, 201, done.ResponseCode)
	assert.Empty(t, done.LeaseOwner)
	assert.Nil(t, done.LeaseUntil)
	require.NotNil(t, done.CompletedAt)
	assert.Equal(t, clk.Now(), *done.CompletedAt)
}

func TestFailExtendExpire(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clk := newClock()
	s := openStore(t, clk.Now)
	svc := newService(t, s, "github")
	expires := clk.Now().Add(time.Hour)
	e, _, err := s.InsertEvent(ctx, &store.Event{ServiceID: svc.ID, ServiceName: svc.Name, ExpiresAt: &expires})
	require.NoError(t, err)

	claimed, err := s.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: 5, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, claimed, 1)

	missing := uuid.NewString()
	lost, err := s.ExtendLease(ctx, "w", []string{strings.ToUpper(e.ID), missing}, 5*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{missing}, lost, "ids are matched in any spelling")
	_, err = s.ExtendLease(ctx, "w", []string{"not-a-uuid"}, time.Minute)
	require.ErrorIs(t, err, store.ErrInvalidArgument)
	got, err := s.GetEvent(ctx, e.ID)
	require.NoError(t, err)
	assert.Equal(t, clk.Now().Add(5*time.Minute), *got.LeaseUntil)

	_, err = s.FailEvents(ctx, []store.FailParams{{ID: e.ID, Owner: "w", Status: store.StatusRetrying}})
	require.ErrorIs(t, err, store.ErrInvalidArgument, "retrying needs next_attempt_at")

	next := clk.Now().Add(30 * time.Second)
	lost, err = s.FailEvents(ctx, []store.FailParams{{ID: e.ID, Owner: "w", Status: store.StatusRetrying,
		NextAttemptAt: next, ResponseCode: 503, ErrorDetails: json.RawMessage(`{"e":"unavailable"}`)}})
	require.NoError(t, err)
	assert.Empty(t, lost)
	got, err = s.GetEvent(ctx, e.ID)
	require.NoError(t, err)
	assert.Equal(t, store.StatusRetrying, got.Status)
	assert.Equal(t, 1, got.RetryCount)
	assert.Equal(t, next, got.NextAttemptAt)
	assert.Nil(t, got.CompletedAt)

	none, err := s.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: 5, Lease: time.Minute})
	require.NoError(t, err)
	assert.Empty(t, none, "not due before next_attempt_at")

	clk.Advance(2 * time.Hour)
	n, err := s.ExpireEvents(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	none, err = s.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: 5, Lease: time.Minute})
	require.NoError(t, err)
	assert.Empty(t, none)
	got, err = s.GetEvent(ctx, e.ID)
	require.NoError(t, err)
	assert.Equal(t, store.StatusExpired, got.Status)
	assert.Equal(t, clk.Now(), *got.CompletedAt)

	_, err = s.CancelEvent(ctx, e.ID)
	var te *store.TransitionError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, store.StatusExpired, te.From)
	require.ErrorIs(t, err, store.ErrInvalidTransition)
}

// TestEventStatsMatchesPercentile checks the SQL percentiles and moments against
// store.Percentile and a direct computation, on random data with ties.
func TestEventStatsMatchesPercentile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clk := newClock()
	s := openStore(t, clk.Now)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 7, 100, 257} {
		svc := newService(t, s, "svc-"+string(rune('a'+n%26))+time.Duration(n).String())
		es := make([]*store.Event, n+3)
		for i := range es {
			es[i] = &store.Event{ServiceID: svc.ID, ServiceName: svc.Name, PayloadIn: json.RawMessage(`{"x":"é"}`)}
		}
		_, err := s.InsertEvents(ctx, es)
		require.NoError(t, err)
		claimed, err := s.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: len(es), Lease: time.Minute})
		require.NoError(t, err)
		require.Len(t, claimed, len(es))
		var done []store.CompleteParams
		var vals []float64
		for _, e := range claimed[:n] {
			ms := rng.Int64N(500)
			vals = append(vals, float64(ms))
			done = append(done, store.CompleteParams{ID: e.ID, Owner: "w", ResponseCode: 200, ResponseTimeMS: ms})
		}
		_, err = s.CompleteEvents(ctx, done)
		require.NoError(t, err)
		var failed []store.FailParams
		for _, e := range claimed[n:] {
			failed = append(failed, store.FailParams{ID: e.ID, Owner: "w", Status: store.StatusDead, ResponseTimeMS: 1})
		}
		_, err = s.FailEvents(ctx, failed)
		require.NoError(t, err)

		stats, err := s.EventStats(ctx, store.StatsParams{ServiceID: svc.ID, WithinMS: 250})
		require.NoError(t, err)
		require.Len(t, stats, 1)
		st := stats[0]
		slices.Sort(vals)
		var sum, within float64
		for _, v := range vals {
			sum += v
			if v <= 250 {
				within++
			}
		}
		mean := sum / float64(n)
		var ss float64
		for _, v := range vals {
			ss += (v - mean) * (v - mean)
		}
		assert.Equal(t, int64(n+3), st.Total)
		assert.Equal(t, map[store.EventStatus]int64{store.StatusSucceeded: int64(n), store.StatusDead: 3}, st.ByStatus)
		assert.Equal(t, int64(len(es)*len(`{"x":"é"}`)), st.PayloadBytes, "bytes, not characters")
		l := st.Latency
		assert.Equal(t, int64(n), l.Count)
		assert.Equal(t, int64(within), l.Within)
		assert.Equal(t, vals[0], l.Min)
		assert.Equal(t, vals[n-1], l.Max)
		assert.Equal(t, mean, l.Mean)
		assert.InDelta(t, math.Sqrt(ss/float64(n)), l.StdDev, 1e-9)
		assert.Equal(t, store.Percentile(vals, 0.5), l.P50, "n=%d", n)
		assert.Equal(t, store.Percentile(vals, 0.95), l.P95, "n=%d", n)
		assert.Equal(t, store.Percentile(vals, 0.99), l.P99, "n=%d", n)
	}
}

func TestEventVolumeBuckets(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clk := newClock()
	s := openStore(t, clk.Now)
	b := newService(t, s, "b-service")
	a := newService(t, s, "a-service")
	start := clk.Now().Truncate(time.Hour)
	for i, svc := range []*store.Service{b, a, b} {
		_, _, err := s.InsertEvent(ctx, &store.Event{ServiceID: svc.ID, ServiceName: svc.Name,
			ChairmanOverride: i == 2, PayloadIn: json.RawMessage(`[1]`)})
		require.NoError(t, err)
		clk.Advance(time.Hour)
	}
	vol, err := s.EventVolume(ctx, store.VolumeParams{From: start, To: clk.Now(), Period: store.PeriodHour})
	require.NoError(t, err)
	require.Len(t, vol, 3)
	assert.Equal(t, a.ID, vol[0].ServiceID)
	assert.Equal(t, "a-service", vol[0].ServiceName)
	assert.Equal(t, start.Add(time.Hour), vol[0].Start)
	assert.Equal(t, b.ID, vol[1].ServiceID)
	assert.Equal(t, start, vol[1].Start)
	assert.Equal(t, start.Add(2*time.Hour), vol[2].Start)
	assert.Equal(t, int64(1), vol[2].ChairmanOverrides)
	assert.Equal(t, int64(3), vol[2].PayloadBytes)

	day, err := s.EventVolume(ctx, store.VolumeParams{Period: store.PeriodDay})
	require.NoError(t, err)
	require.Len(t, day, 2)
	assert.Equal(t, store.PeriodDay.Truncate(start), day[0].Start)
	assert.Equal(t, int64(2), day[1].Total)

	_, err = s.EventVolume(ctx, store.VolumeParams{Period: "week"})
	require.ErrorIs(t, err, store.ErrInvalidArgument)
}
