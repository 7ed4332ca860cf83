package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func healthCases() []testCase {
	return []testCase{
		{"InsertAndList", testHealthInsert},
		{"ListOrderFiltersAndPages", testHealthList},
		{"Invalid", testHealthInvalid},
		{"CopyInCopyOut", testHealthCopies},
	}
}

func newMetric(serviceID string, typ store.MetricType, v float64) *store.HealthMetric {
	return &store.HealthMetric{ServiceID: serviceID, MetricType: typ, Value: v, Status: store.MetricNormal}
}

func (b *bundle) metric(t *testing.T, m *store.HealthMetric) *store.HealthMetric {
	t.Helper()
	got, err := b.st.InsertHealthMetric(b.ctx, m)
	require.NoError(t, err)
	return got
}

func testHealthInsert(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	in := &store.HealthMetric{
		ServiceID: sv.ID, MetricType: store.MetricResponseTime, Value: 812.5,
		WarningThreshold: ptr(500.0), CriticalThreshold: ptr(1000.0),
		Status: store.MetricWarning, IncidentTriggered: true,
		RecoveryActions: json.RawMessage(`["failover"]`),
	}
	got := b.metric(t, in)
	require.NotEmpty(t, got.ID)
	want := in.Clone()
	want.ID, want.RecordedAt = got.ID, b.now()
	assert.Equal(t, normMetric(t, want), normMetric(t, got), "recorded_at defaults to now")

	explicit := newMetric(sv.ID, store.MetricAvailability, 99.9)
	explicit.RecordedAt = start.Add(-time.Hour)
	e := b.metric(t, explicit)
	assert.Equal(t, at(-time.Hour), e.RecordedAt, "a given recorded_at is kept")

	list, err := b.st.ListHealthMetrics(b.ctx, store.HealthMetricFilter{})
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, normMetric(t, want), normMetric(t, list[0]))
	assert.Nil(t, list[1].WarningThreshold)
	assert.Nil(t, list[1].CriticalThreshold)
}

func testHealthList(t *testing.T, b *bundle) {
	gh := b.service(t, "github")
	sl := b.service(t, "slack")
	mk := func(sv *store.Service, typ store.MetricType, d time.Duration, id int) string {
		m := newMetric(sv.ID, typ, 1)
		m.ID = fixedID(id)
		m.RecordedAt = start.Add(d)
		return b.metric(t, m).ID
	}
	m1 := mk(gh, store.MetricResponseTime, 0, 1)
	m2 := mk(gh, store.MetricErrorRate, time.Minute, 2)
	m3 := mk(sl, store.MetricResponseTime, 2*time.Minute, 3)
	m4 := mk(gh, store.MetricResponseTime, 2*time.Minute, 4) // same time as m3: id order
	m5 := mk(sl, store.MetricQueueDepth, 3*time.Minute, 5)
	list := func(f store.HealthMetricFilter) []string {
		t.Helper()
		ms, err := b.st.ListHealthMetrics(b.ctx, f)
		require.NoError(t, err)
		out := []string{}
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	assert.Equal(t, []string{m5, m3, m4, m2, m1}, list(store.HealthMetricFilter{}), "newest first, then id")
	assert.Equal(t, []string{m4, m2, m1}, list(store.HealthMetricFilter{ServiceID: gh.ID}))
	assert.Equal(t, []string{m3, m4, m1}, list(store.HealthMetricFilter{MetricType: store.MetricResponseTime}))
	assert.Equal(t, []string{m4, m1}, list(store.HealthMetricFilter{ServiceID: gh.ID, MetricType: store.MetricResponseTime}))
	assert.Equal(t, []string{m3, m4, m2}, list(store.HealthMetricFilter{From: start.Add(time.Minute), To: start.Add(3 * time.Minute)}))
	assert.Equal(t, []string{m4, m2}, list(store.HealthMetricFilter{Page: store.Page{Limit: 2, Offset: 2}}))
	assert.Equal(t, []string{}, list(store.HealthMetricFilter{ServiceID: newID()}))
	for name, f := range map[string]store.HealthMetricFilter{
		"bad type":    {MetricType: "temperature"},
		"bad service": {ServiceID: "github"},
		"bad page":    {Page: store.Page{Offset: -1}},
	} {
		_, err := b.st.ListHealthMetrics(b.ctx, f)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
}

func testHealthInvalid(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	for name, mutate := range map[string]func(m *store.HealthMetric){
		"bad service": func(m *store.HealthMetric) { m.ServiceID = "github" },
		"bad type":    func(m *store.HealthMetric) { m.MetricType = "temperature" },
		"bad status":  func(m *store.HealthMetric) { m.Status = "" },
		"bad JSON":    func(m *store.HealthMetric) { m.RecoveryActions = json.RawMessage(`[`) },
		"bad id":      func(m *store.HealthMetric) { m.ID = "m1" },
	} {
		m := newMetric(sv.ID, store.MetricErrorRate, 0.5)
		mutate(m)
		_, err := b.st.InsertHealthMetric(b.ctx, m)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	_, err := b.st.InsertHealthMetric(b.ctx, nil)
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
	list, err := b.st.ListHealthMetrics(b.ctx, store.HealthMetricFilter{})
	require.NoError(t, err)
	assert.Empty(t, list)
}

func testHealthCopies(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	in := newMetric(sv.ID, store.MetricResponseTime, 100)
	in.WarningThreshold = ptr(50.0)
	in.RecoveryActions = json.RawMessage(`{"a":1}`)
	got := b.metric(t, in)
	want := normMetric(t, got)
	*in.WarningThreshold = 1
	in.RecoveryActions[2] = 'X'
	*got.WarningThreshold = 2
	got.RecoveryActions[2] = 'Y'
	list, err := b.st.ListHealthMetrics(b.ctx, store.HealthMetricFilter{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, want, normMetric(t, list[0]))
	*list[0].WarningThreshold = 3
	list, err = b.st.ListHealthMetrics(b.ctx, store.HealthMetricFilter{})
	require.NoError(t, err)
	assert.Equal(t, want, normMetric(t, list[0]))
}
