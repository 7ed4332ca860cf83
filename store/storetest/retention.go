package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func retentionCases() []testCase {
	return []testCase{
		{"DeleteEventsByStatusAndAge", testRetentionEvents},
		{"DeleteEventsInBatchesOldestFirst", testRetentionBatches},
		{"DeleteEventsPerService", testRetentionPerService},
		{"DeleteEventsFreesIdempotencyKey", testRetentionFreesKey},
		{"DeleteMetricsAndAnalytics", testRetentionMetricsAnalytics},
		{"Invalid", testRetentionInvalid},
		{"ConcurrentDeleters", testRetentionConcurrent},
	}
}

// retention returns the store's RetentionStore, skipping the case when it has none.
func (b *bundle) retention(t *testing.T) store.RetentionStore {
	t.Helper()
	rs, ok := b.st.(store.RetentionStore)
	if !ok {
		t.Skip("the store does not implement store.RetentionStore (optional)")
	}
	return rs
}

// eventIn stores an event of sv and brings it to status st now. Events meant to be claimed
// carry a chairman override at critical priority, so the claim takes them before any plain
// pending event made earlier; the pending and retrying ones are plain, so later claims pass
// them by.
func (b *bundle) eventIn(t *testing.T, sv *store.Service, st store.EventStatus) *store.Event {
	t.Helper()
	e := newEvent(sv)
	switch st {
	case store.StatusPending:
		return b.insert(t, e)
	case store.StatusCancelled:
		in := b.insert(t, e)
		_, err := b.st.CancelEvent(b.ctx, in.ID)
		require.NoError(t, err)
		return b.get(t, in.ID)
	case store.StatusExpired:
		e.ExpiresAt = ptr(b.now())
		in := b.insert(t, e)
		_, err := b.st.ExpireEvents(b.ctx)
		require.NoError(t, err)
		got := b.get(t, in.ID)
		require.Equal(t, store.StatusExpired, got.Status)
		return got
	}
	e.ChairmanOverride, e.PriorityLevel = true, store.PriorityCritical
	in := b.insert(t, e)
	c := b.claimOne(t, "w", in)
	switch st {
	case store.StatusProcessing:
	case store.StatusSucceeded:
		b.complete(t, c.ID, "w", 5)
	case store.StatusRetrying:
		b.fail(t, store.FailParams{ID: c.ID, Owner: "w", Status: st, NextAttemptAt: b.now().Add(365 * 24 * time.Hour)})
	default:
		b.fail(t, store.FailParams{ID: c.ID, Owner: "w", Status: st})
	}
	return b.get(t, in.ID)
}

// exists reports whether the event is still stored.
func (b *bundle) exists(t *testing.T, id string) bool {
	t.Helper()
	_, err := b.st.GetEvent(b.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	return true
}

func testRetentionEvents(t *testing.T, b *bundle) {
	rs := b.retention(t)
	sv := b.service(t, "github")
	old := map[store.EventStatus]*store.Event{}
	for _, st := range store.EventStatuses() {
		if st.Terminal() {
			old[st] = b.eventIn(t, sv, st)
		}
	}
	// The queued and in-flight ones are old too, yet never deleted.
	for _, st := range []store.EventStatus{store.StatusProcessing, store.StatusRetrying, store.StatusPending} {
		old[st] = b.eventIn(t, sv, st)
	}
	b.clock.Advance(10 * 24 * time.Hour)
	young := b.eventIn(t, sv, store.StatusSucceeded)
	b.clock.Advance(time.Hour)
	cutoff := b.now().Add(-2 * time.Hour) // between the old events and the young one

	n, err := rs.DeleteEvents(b.ctx, store.DeleteEventsParams{
		DeleteParams: store.DeleteParams{Before: cutoff, Limit: 100},
		Statuses:     []store.EventStatus{store.StatusSucceeded, store.StatusDead},
	})
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the old succeeded and dead events")
	for st, ev := range old {
		want := st != store.StatusSucceeded && st != store.StatusDead
		assert.Equal(t, want, b.exists(t, ev.ID), "old %s event kept", st)
	}
	assert.True(t, b.exists(t, young.ID), "an event younger than the cut-off is kept")

	// Every terminal status may be named; the rest of the old terminal events go.
	n, err = rs.DeleteEvents(b.ctx, store.DeleteEventsParams{
		DeleteParams: store.DeleteParams{Before: cutoff, Limit: 100},
		Statuses: []store.EventStatus{store.StatusSucceeded, store.StatusFailed, store.StatusDead,
			store.StatusExpired, store.StatusCancelled},
	})
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	counts, err := b.st.CountEventsByStatus(b.ctx, store.EventFilter{})
	require.NoError(t, err)
	assert.Equal(t, map[store.EventStatus]int64{store.StatusProcessing: 1, store.StatusRetrying: 1,
		store.StatusPending: 1, store.StatusSucceeded: 1}, counts)

	// Age runs from the last change: an old event completed recently is young.
	e := newEvent(sv)
	e.ChairmanOverride, e.PriorityLevel = true, store.PriorityCritical
	late := b.insert(t, e) // created now
	b.clock.Advance(48 * time.Hour)
	c := b.claimOne(t, "w", late)
	b.complete(t, c.ID, "w", 1)
	n, err = rs.DeleteEvents(b.ctx, store.DeleteEventsParams{
		DeleteParams: store.DeleteParams{Before: b.now().Add(-time.Hour), Limit: 100},
		Statuses:     []store.EventStatus{store.StatusSucceeded},
	})
	require.NoError(t, err)
	assert.Equal(t, 1, n, "only the young event of before, now older than the cut-off")
	assert.True(t, b.exists(t, late.ID), "completed within the hour")
}

func testRetentionBatches(t *testing.T, b *bundle) {
	rs := b.retention(t)
	sv := b.service(t, "github")
	var evs []*store.Event
	for range 25 {
		evs = append(evs, b.eventIn(t, sv, store.StatusSucceeded))
		b.clock.Advance(time.Minute)
	}
	p := store.DeleteEventsParams{
		DeleteParams: store.DeleteParams{Before: b.now(), Limit: 10},
		Statuses:     []store.EventStatus{store.StatusSucceeded},
	}
	var got []int
	for {
		n, err := rs.DeleteEvents(b.ctx, p)
		require.NoError(t, err)
		got = append(got, n)
		if n == 0 {
			break
		}
		if len(got) == 1 {
			for i, ev := range evs {
				assert.Equal(t, i >= 10, b.exists(t, ev.ID), "after the first batch, event %d", i)
			}
		}
	}
	assert.Equal(t, []int{10, 10, 5, 0}, got)
}

func testRetentionPerService(t *testing.T, b *bundle) {
	rs := b.retention(t)
	a, c := b.service(t, "a"), b.service(t, "c")
	ea, ec := b.eventIn(t, a, store.StatusSucceeded), b.eventIn(t, c, store.StatusSucceeded)
	b.clock.Advance(time.Hour)
	base := store.DeleteEventsParams{
		DeleteParams: store.DeleteParams{Before: b.now(), Limit: 100},
		Statuses:     []store.EventStatus{store.StatusSucceeded},
	}
	p := base
	p.ExcludeServiceIDs = []string{a.ID}
	n, err := rs.DeleteEvents(b.ctx, p)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.True(t, b.exists(t, ea.ID))
	assert.False(t, b.exists(t, ec.ID))
	p = base
	p.ServiceID = c.ID
	n, err = rs.DeleteEvents(b.ctx, p)
	require.NoError(t, err)
	assert.Equal(t, 0, n, "service c has nothing left")
	p.ServiceID = a.ID
	n, err = rs.DeleteEvents(b.ctx, p)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.False(t, b.exists(t, ea.ID))
}

func testRetentionFreesKey(t *testing.T, b *bundle) {
	rs := b.retention(t)
	sv := b.service(t, "github")
	e := newEvent(sv)
	e.IdempotencyKey = "order-7"
	first := b.insert(t, e)
	c := b.claimOne(t, "w", first)
	b.complete(t, c.ID, "w", 1)
	b.clock.Advance(time.Hour)
	n, err := rs.DeleteEvents(b.ctx, store.DeleteEventsParams{
		DeleteParams: store.DeleteParams{Before: b.now(), Limit: 10},
		Statuses:     []store.EventStatus{store.StatusSucceeded},
	})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = b.st.GetEventByIdempotencyKey(b.ctx, sv.ID, "order-7")
	require.ErrorIs(t, err, store.ErrNotFound)
	again, created, err := b.st.InsertEvent(b.ctx, e)
	require.NoError(t, err)
	assert.True(t, created, "the key of a deleted event may be used again")
	assert.NotEqual(t, first.ID, again.ID)
}

func testRetentionMetricsAnalytics(t *testing.T, b *bundle) {
	rs := b.retention(t)
	a, c := b.service(t, "a"), b.service(t, "c")
	var oldMetrics []string
	for i := range 5 {
		for _, sv := range []*store.Service{a, c} {
			m := b.metric(t, &store.HealthMetric{ServiceID: sv.ID, MetricType: store.MetricResponseTime,
				Value: float64(i), Status: store.MetricNormal, RecordedAt: start.Add(time.Duration(i) * time.Minute)})
			if sv == a {
				oldMetrics = append(oldMetrics, m.ID)
			}
		}
	}
	young := b.metric(t, &store.HealthMetric{ServiceID: a.ID, MetricType: store.MetricResponseTime,
		Status: store.MetricNormal, RecordedAt: start.Add(time.Hour)})
	cut := start.Add(30 * time.Minute)
	n, err := rs.DeleteHealthMetrics(b.ctx, store.DeleteParams{ServiceID: a.ID, Before: cut, Limit: 3})
	require.NoError(t, err)
	assert.Equal(t, 3, n, "bounded by the limit")
	ms, err := b.st.ListHealthMetrics(b.ctx, store.HealthMetricFilter{ServiceID: a.ID})
	require.NoError(t, err)
	var left []string
	for _, m := range ms {
		left = append(left, m.ID)
	}
	slices.Sort(left)
	want := append([]string{young.ID}, oldMetrics[3:]...)
	slices.Sort(want)
	assert.Equal(t, want, left, "the oldest three of service a went first")
	n, err = rs.DeleteHealthMetrics(b.ctx, store.DeleteParams{ExcludeServiceIDs: []string{a.ID}, Before: cut, Limit: 100})
	require.NoError(t, err)
	assert.Equal(t, 5, n, "every old metric of service c")
	n, err = rs.DeleteHealthMetrics(b.ctx, store.DeleteParams{Before: cut, Limit: 100})
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	ms, err = b.st.ListHealthMetrics(b.ctx, store.HealthMetricFilter{})
	require.NoError(t, err)
	require.Len(t, ms, 1)
	assert.Equal(t, young.ID, ms[0].ID)

	day := store.PeriodDay.Truncate(start)
	var rs2 []*store.AnalyticsRollup
	for i := range 4 {
		for _, sv := range []*store.Service{a, c} {
			rs2 = append(rs2, &store.AnalyticsRollup{ServiceID: sv.ID, ServiceName: sv.Name, Period: store.PeriodDay,
				PeriodStart: day.Add(time.Duration(i) * 24 * time.Hour), TotalEvents: int64(i)})
		}
	}
	require.NoError(t, b.st.UpsertAnalytics(b.ctx, rs2))
	n, err = rs.DeleteAnalytics(b.ctx, store.DeleteParams{Before: day.Add(2 * 24 * time.Hour), Limit: 3})
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	n, err = rs.DeleteAnalytics(b.ctx, store.DeleteParams{Before: day.Add(2 * 24 * time.Hour), Limit: 3})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	left2 := b.listRollups(t, store.AnalyticsFilter{})
	require.Len(t, left2, 4)
	for _, r := range left2 {
		assert.False(t, r.PeriodStart.Before(day.Add(2*24*time.Hour)), "rollup of %s kept", r.PeriodStart)
	}
	n, err = rs.DeleteAnalytics(b.ctx, store.DeleteParams{ServiceID: c.ID, Before: day.Add(10 * 24 * time.Hour), Limit: 100})
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	left2 = b.listRollups(t, store.AnalyticsFilter{})
	require.Len(t, left2, 2)
	for _, r := range left2 {
		assert.Equal(t, a.ID, r.ServiceID)
	}
}

func testRetentionInvalid(t *testing.T, b *bundle) {
	rs := b.retention(t)
	sv := b.service(t, "github")
	ev := b.eventIn(t, sv, store.StatusPending)
	ok := store.DeleteParams{Before: b.now().Add(time.Hour), Limit: 10}
	for name, p := range map[string]store.DeleteEventsParams{
		"no statuses":     {DeleteParams: ok},
		"pending":         {DeleteParams: ok, Statuses: []store.EventStatus{store.StatusPending}},
		"processing":      {DeleteParams: ok, Statuses: []store.EventStatus{store.StatusSucceeded, store.StatusProcessing}},
		"retrying":        {DeleteParams: ok, Statuses: []store.EventStatus{store.StatusRetrying}},
		"unknown status":  {DeleteParams: ok, Statuses: []store.EventStatus{"gone"}},
		"zero cut-off":    {DeleteParams: store.DeleteParams{Limit: 10}, Statuses: []store.EventStatus{store.StatusSucceeded}},
		"zero limit":      {DeleteParams: store.DeleteParams{Before: ok.Before}, Statuses: []store.EventStatus{store.StatusSucceeded}},
		"limit too large": {DeleteParams: store.DeleteParams{Before: ok.Before, Limit: store.MaxPageLimit + 1}, Statuses: []store.EventStatus{store.StatusSucceeded}},
		"bad service":     {DeleteParams: store.DeleteParams{Before: ok.Before, Limit: 1, ServiceID: "x"}, Statuses: []store.EventStatus{store.StatusSucceeded}},
		"bad exclusion":   {DeleteParams: store.DeleteParams{Before: ok.Before, Limit: 1, ExcludeServiceIDs: []string{"x"}}, Statuses: []store.EventStatus{store.StatusSucceeded}},
	} {
		_, err := rs.DeleteEvents(b.ctx, p)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	assert.True(t, b.exists(t, ev.ID))
	for name, p := range map[string]store.DeleteParams{
		"zero cut-off": {Limit: 10},
		"zero limit":   {Before: ok.Before},
		"bad service":  {Before: ok.Before, Limit: 1, ServiceID: "x"},
	} {
		_, err := rs.DeleteHealthMetrics(b.ctx, p)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, "metrics: "+name)
		_, err = rs.DeleteAnalytics(b.ctx, p)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, "analytics: "+name)
	}
}

// testRetentionConcurrent runs several deleters over one backlog with small batches: each
// event is deleted, and counted, exactly once.
func testRetentionConcurrent(t *testing.T, b *bundle) {
	rs := b.retention(t)
	sv := b.service(t, "github")
	const n = 200
	batch := make([]*store.Event, n)
	for i := range batch {
		batch[i] = newEvent(sv)
	}
	res, err := b.st.InsertEvents(b.ctx, batch)
	require.NoError(t, err)
	claimed := b.claim(t, "w", n, time.Minute)
	require.Len(t, claimed, n)
	cps := make([]store.CompleteParams, n)
	for i, c := range claimed {
		cps[i] = store.CompleteParams{ID: c.ID, Owner: "w", ResponseCode: 200}
	}
	lost, err := b.st.CompleteEvents(b.ctx, cps)
	require.NoError(t, err)
	require.Empty(t, lost)
	b.clock.Advance(time.Hour)
	p := store.DeleteEventsParams{
		DeleteParams: store.DeleteParams{Before: b.now(), Limit: 7},
		Statuses:     []store.EventStatus{store.StatusSucceeded},
	}
	var (
		mu    sync.Mutex
		total int
		wg    sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for {
				var k int
				err := retryBusy(func() error {
					var err error
					k, err = rs.DeleteEvents(b.ctx, p)
					return err
				})
				if !assert.NoError(t, err) || k == 0 {
					return
				}
				mu.Lock()
				total += k
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, n, total, "every event deleted and counted once")
	for _, r := range res {
		assert.False(t, b.exists(t, r.Event.ID))
	}
}
