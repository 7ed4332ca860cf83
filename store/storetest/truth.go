package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

// The cases of this file check that records can tell the truth: a service's health as last
// judged and when, the request a delivery actually made, an unknown uptime, and the
// performance trends of a rollup.

// testServiceHealthRecorded: RecordServiceHealth sets health_status and last_health_check
// in place, ignores observations older than the stored one, and validates its arguments.
func testServiceHealthRecorded(t *testing.T, b *bundle) {
	rec, ok := b.st.(store.ServiceHealthRecorder)
	if !ok {
		t.Skip("the store does not implement store.ServiceHealthRecorder (optional)")
	}
	sv := b.service(t, "github")
	require.Nil(t, sv.LastHealthCheck, "never checked")
	created := sv.UpdatedAt

	b.clock.Advance(time.Minute)
	t1 := b.clock.Now().Add(-time.Second)
	got, err := rec.RecordServiceHealth(b.ctx, store.ServiceHealthParams{ServiceID: sv.ID, Status: store.HealthUnhealthy, At: t1})
	require.NoError(t, err)
	assert.Equal(t, store.HealthUnhealthy, got.HealthStatus)
	require.NotNil(t, got.LastHealthCheck)
	assert.Equal(t, store.Timestamp(t1), *got.LastHealthCheck)
	assert.Equal(t, created, got.UpdatedAt, "the configuration did not change")
	stored, err := b.st.GetService(b.ctx, sv.ID)
	require.NoError(t, err)
	assert.Equal(t, normService(t, got), normService(t, stored))

	// A probe: only the time.
	t2 := t1.Add(30 * time.Second)
	got, err = rec.RecordServiceHealth(b.ctx, store.ServiceHealthParams{ServiceID: sv.ID, At: t2})
	require.NoError(t, err)
	assert.Equal(t, store.HealthUnhealthy, got.HealthStatus)
	assert.Equal(t, store.Timestamp(t2), *got.LastHealthCheck)

	// A late observation, older than the stored one, changes nothing.
	got, err = rec.RecordServiceHealth(b.ctx, store.ServiceHealthParams{ServiceID: sv.ID, Status: store.HealthHealthy, At: t1.Add(time.Second)})
	require.NoError(t, err)
	assert.Equal(t, store.HealthUnhealthy, got.HealthStatus)
	assert.Equal(t, store.Timestamp(t2), *got.LastHealthCheck)

	// The recovery, later.
	t3 := t2.Add(time.Minute)
	_, err = rec.RecordServiceHealth(b.ctx, store.ServiceHealthParams{ServiceID: sv.ID, Status: store.HealthHealthy, At: t3})
	require.NoError(t, err)
	list, err := b.st.ListServices(b.ctx, store.ServiceFilter{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, store.HealthHealthy, list[0].HealthStatus)
	assert.Equal(t, store.Timestamp(t3), *list[0].LastHealthCheck)

	_, err = rec.RecordServiceHealth(b.ctx, store.ServiceHealthParams{ServiceID: newID(), Status: store.HealthHealthy, At: t3})
	assert.ErrorIs(t, err, store.ErrNotFound)
	for name, p := range map[string]store.ServiceHealthParams{
		"bad id":     {ServiceID: "github", At: t3},
		"bad status": {ServiceID: sv.ID, Status: "sick", At: t3},
		"zero time":  {ServiceID: sv.ID, Status: store.HealthHealthy},
	} {
		_, err := rec.RecordServiceHealth(b.ctx, p)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
}

// testCallRecorded: CompleteEvents and FailEvents record the request the attempt actually
// made (method and endpoint, a backup's after a failover), and leave the columns alone
// when the call is not given.
func testCallRecorded(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	ev := newEvent(sv)
	ev.EndpointURL = "https://api.example.com/v1"
	first := b.insert(t, ev)
	b.clock.Advance(time.Second) // claimed after first
	second := b.insert(t, newEvent(sv))
	assert.Equal(t, store.MethodPost, first.RequestMethod, "defaulted on insert")

	c := b.claimOne(t, "w", first)
	b.fail(t, store.FailParams{ID: c.ID, Owner: "w", Status: store.StatusRetrying, NextAttemptAt: b.clock.Now(),
		ResponseCode: 503, Call: store.Call{Method: store.MethodPatch, EndpointURL: "https://api.example.com/v1/items/7"}})
	got := b.get(t, first.ID)
	assert.Equal(t, store.MethodPatch, got.RequestMethod)
	assert.Equal(t, "https://api.example.com/v1/items/7", got.EndpointURL)

	// The next attempt fails over to a backup: its URL is recorded.
	c = b.claimOne(t, "w", first)
	lost, err := b.st.CompleteEvents(b.ctx, []store.CompleteParams{{ID: c.ID, Owner: "w", ResponseCode: 200,
		Call: store.Call{Method: store.MethodPatch, EndpointURL: "https://backup.example.com/v1/items/7"}}})
	require.NoError(t, err)
	require.Empty(t, lost)
	got = b.get(t, first.ID)
	assert.Equal(t, store.StatusSucceeded, got.Status)
	assert.Equal(t, store.MethodPatch, got.RequestMethod)
	assert.Equal(t, "https://backup.example.com/v1/items/7", got.EndpointURL)

	// No call given: the columns keep what they hold.
	c = b.claimOne(t, "w", second)
	lost, err = b.st.CompleteEvents(b.ctx, []store.CompleteParams{{ID: c.ID, Owner: "w", ResponseCode: 200}})
	require.NoError(t, err)
	require.Empty(t, lost)
	got = b.get(t, second.ID)
	assert.Equal(t, store.MethodPost, got.RequestMethod)
	assert.Empty(t, got.EndpointURL)

	// An unknown method is refused and changes nothing.
	third := b.insert(t, newEvent(sv))
	c = b.claimOne(t, "w", third)
	_, err = b.st.CompleteEvents(b.ctx, []store.CompleteParams{{ID: c.ID, Owner: "w", ResponseCode: 200, Call: store.Call{Method: "BREW"}}})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
	_, err = b.st.FailEvents(b.ctx, []store.FailParams{{ID: c.ID, Owner: "w", Status: store.StatusFailed, Call: store.Call{Method: "BREW"}}})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
	assert.Equal(t, store.StatusProcessing, b.get(t, third.ID).Status)
}

// testAnalyticsUptimeAndTrends: an unknown uptime is stored as such (not as 0 or 100), a
// zero uptime stays zero, and performance_trends is kept with each rollup.
func testAnalyticsUptimeAndTrends(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	unknown := newRollup(sv, store.PeriodHour, hourStart, 10)
	unknown.UptimePercent = nil
	unknown.PerformanceTrends = json.RawMessage(`{"direction":"worsening","error_rate_change":0.25,"events_change":-0.5}`)
	down := newRollup(sv, store.PeriodHour, hourStart.Add(time.Hour), 10)
	down.UptimePercent = ptr(0.0)
	require.NoError(t, b.st.UpsertAnalytics(b.ctx, []*store.AnalyticsRollup{unknown, down}))
	rs := b.listRollups(t, store.AnalyticsFilter{})
	require.Len(t, rs, 2)
	assert.Nil(t, rs[0].UptimePercent, "unknown, not 0 or 100")
	assert.JSONEq(t, string(unknown.PerformanceTrends), string(rs[0].PerformanceTrends))
	require.NotNil(t, rs[1].UptimePercent)
	assert.Zero(t, *rs[1].UptimePercent, "down the whole period")
	assert.Empty(t, rs[1].PerformanceTrends)

	// Replacing a rollup replaces both.
	known := newRollup(sv, store.PeriodHour, hourStart, 10)
	known.PerformanceTrends = json.RawMessage(`{"direction":"steady"}`)
	require.NoError(t, b.st.UpsertAnalytics(b.ctx, []*store.AnalyticsRollup{known}))
	rs = b.listRollups(t, store.AnalyticsFilter{From: hourStart, To: hourStart.Add(time.Hour)})
	require.Len(t, rs, 1)
	require.NotNil(t, rs[0].UptimePercent)
	assert.InDelta(t, *known.UptimePercent, *rs[0].UptimePercent, 1e-9)
	assert.JSONEq(t, `{"direction":"steady"}`, string(rs[0].PerformanceTrends))

	for name, mutate := range map[string]func(r *store.AnalyticsRollup){
		"uptime above 100": func(r *store.AnalyticsRollup) { r.UptimePercent = ptr(100.5) },
		"negative uptime":  func(r *store.AnalyticsRollup) { r.UptimePercent = ptr(-1.0) },
		"bad trends":       func(r *store.AnalyticsRollup) { r.PerformanceTrends = json.RawMessage(`{"direction"`) },
	} {
		bad := newRollup(sv, store.PeriodDay, hourStart, 10)
		mutate(bad)
		assert.ErrorIs(t, b.st.UpsertAnalytics(b.ctx, []*store.AnalyticsRollup{bad}), store.ErrInvalidArgument, name)
	}
}
