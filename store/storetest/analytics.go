package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func analyticsCases() []testCase {
	return []testCase{
		{"UpsertInsertsAndReplaces", testAnalyticsUpsert},
		{"ListOrderFiltersAndPages", testAnalyticsList},
		{"InvalidBatchStoresNothing", testAnalyticsInvalid},
		{"UnknownUptimeAndTrends", testAnalyticsUptimeAndTrends},
	}
}

var hourStart = time.Date(2026, time.March, 2, 10, 0, 0, 0, time.UTC)

func newRollup(sv *store.Service, p store.Period, start time.Time, total int64) *store.AnalyticsRollup {
	return &store.AnalyticsRollup{
		ServiceID: sv.ID, ServiceName: sv.Name, Period: p, PeriodStart: start,
		TotalEvents: total, Successes: total - 1, Failures: 1, AvgResponseTimeMS: 123.5,
		ErrorRate: 1 / float64(total), UptimePercent: ptr(99.5), DataVolumeBytes: 4096,
		ChairmanInterventions: 2, Cost: 0.25,
	}
}

func (b *bundle) listRollups(t *testing.T, f store.AnalyticsFilter) []*store.AnalyticsRollup {
	t.Helper()
	rs, err := b.st.ListAnalytics(b.ctx, f)
	require.NoError(t, err)
	return rs
}

func testAnalyticsUpsert(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	in := newRollup(sv, store.PeriodHour, hourStart, 10)
	require.NoError(t, b.st.UpsertAnalytics(b.ctx, []*store.AnalyticsRollup{in}))
	rs := b.listRollups(t, store.AnalyticsFilter{})
	require.Len(t, rs, 1)
	first := rs[0]
	require.NotEmpty(t, first.ID)
	want := in.Clone()
	want.ID, want.CreatedAt, want.UpdatedAt = first.ID, b.now(), b.now()
	assert.Equal(t, want, first)

	// Re-running replaces the figures, keeps id and created_at. A key repeated in one batch
	// ends with its last rollup.
	b.clock.Advance(time.Hour)
	again := newRollup(sv, store.PeriodHour, hourStart, 20)
	again.ID = newID() // ignored for an existing row
	last := newRollup(sv, store.PeriodHour, hourStart, 30)
	day := newRollup(sv, store.PeriodDay, time.Date(2026, time.March, 2, 0, 0, 0, 0, time.UTC), 40)
	require.NoError(t, b.st.UpsertAnalytics(b.ctx, []*store.AnalyticsRollup{again, day, last}))
	rs = b.listRollups(t, store.AnalyticsFilter{Period: store.PeriodHour})
	require.Len(t, rs, 1)
	want = last.Clone()
	want.ID, want.CreatedAt, want.UpdatedAt = first.ID, first.CreatedAt, b.now()
	assert.Equal(t, want, rs[0])
	assert.Len(t, b.listRollups(t, store.AnalyticsFilter{}), 2)
	require.NoError(t, b.st.UpsertAnalytics(b.ctx, nil))

	// Copy in, copy out.
	last.TotalEvents = 999
	rs[0].TotalEvents = 998
	assert.Equal(t, int64(30), b.listRollups(t, store.AnalyticsFilter{Period: store.PeriodHour})[0].TotalEvents)
}

func testAnalyticsList(t *testing.T, b *bundle) {
	gh := b.service(t, "github")
	sl := b.service(t, "slack")
	var rs []*store.AnalyticsRollup
	for i := range 3 {
		rs = append(rs, newRollup(sl, store.PeriodHour, hourStart.Add(time.Duration(i)*time.Hour), 10))
		rs = append(rs, newRollup(gh, store.PeriodHour, hourStart.Add(time.Duration(2-i)*time.Hour), 10))
	}
	rs = append(rs, newRollup(gh, store.PeriodDay, hourStart.Add(-10*time.Hour), 10))
	require.NoError(t, b.st.UpsertAnalytics(b.ctx, rs))
	keys := func(f store.AnalyticsFilter) []string {
		t.Helper()
		out := []string{}
		for _, r := range b.listRollups(t, f) {
			out = append(out, r.ServiceName+"/"+string(r.Period)+"/"+r.PeriodStart.Format("15"))
		}
		return out
	}
	assert.Equal(t, []string{"github/day/00", "github/hour/10", "github/hour/11", "github/hour/12",
		"slack/hour/10", "slack/hour/11", "slack/hour/12"}, keys(store.AnalyticsFilter{}))
	assert.Equal(t, []string{"slack/hour/10", "slack/hour/11", "slack/hour/12"}, keys(store.AnalyticsFilter{ServiceID: sl.ID}))
	assert.Equal(t, []string{"github/day/00"}, keys(store.AnalyticsFilter{Period: store.PeriodDay}))
	assert.Equal(t, []string{"github/hour/11", "slack/hour/11"},
		keys(store.AnalyticsFilter{Period: store.PeriodHour, From: hourStart.Add(time.Hour), To: hourStart.Add(2 * time.Hour)}))
	assert.Equal(t, []string{"github/hour/12", "slack/hour/10"}, keys(store.AnalyticsFilter{Page: store.Page{Limit: 2, Offset: 3}}))
	for name, f := range map[string]store.AnalyticsFilter{
		"bad period":  {Period: "week"},
		"bad service": {ServiceID: "slack"},
		"bad page":    {Page: store.Page{Limit: -1}},
	} {
		_, err := b.st.ListAnalytics(b.ctx, f)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
}

func testAnalyticsInvalid(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	good := newRollup(sv, store.PeriodHour, hourStart, 10)
	for name, mutate := range map[string]func(r *store.AnalyticsRollup){
		"bad service":    func(r *store.AnalyticsRollup) { r.ServiceID = "github" },
		"bad period":     func(r *store.AnalyticsRollup) { r.Period = "week" },
		"zero start":     func(r *store.AnalyticsRollup) { r.PeriodStart = time.Time{} },
		"negative count": func(r *store.AnalyticsRollup) { r.Failures = -1 },
	} {
		bad := newRollup(sv, store.PeriodDay, hourStart, 10)
		mutate(bad)
		err := b.st.UpsertAnalytics(b.ctx, []*store.AnalyticsRollup{good, bad})
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	assert.ErrorIs(t, b.st.UpsertAnalytics(b.ctx, []*store.AnalyticsRollup{good, nil}), store.ErrInvalidArgument)
	assert.Empty(t, b.listRollups(t, store.AnalyticsFilter{}), "an invalid batch stores nothing")
}
