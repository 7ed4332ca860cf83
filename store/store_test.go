package store_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func TestCanTransition(t *testing.T) {
	t.Parallel()
	legal := map[store.EventStatus][]store.EventStatus{
		store.StatusPending:    {store.StatusProcessing, store.StatusExpired, store.StatusCancelled},
		store.StatusRetrying:   {store.StatusProcessing, store.StatusExpired, store.StatusCancelled},
		store.StatusProcessing: {store.StatusSucceeded, store.StatusRetrying, store.StatusFailed, store.StatusDead, store.StatusExpired, store.StatusPending},
		store.StatusFailed:     {store.StatusPending},
		store.StatusDead:       {store.StatusPending},
	}
	for _, from := range store.EventStatuses() {
		for _, to := range store.EventStatuses() {
			want := false
			for _, s := range legal[from] {
				if s == to {
					want = true
				}
			}
			assert.Equal(t, want, store.CanTransition(from, to), "%s -> %s", from, to)
			err := store.CheckTransition(from, to)
			if want {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, store.ErrInvalidTransition)
				var te *store.TransitionError
				require.True(t, errors.As(err, &te))
				assert.Equal(t, from, te.From)
				assert.Equal(t, to, te.To)
			}
		}
	}
}

func TestEnumsValid(t *testing.T) {
	t.Parallel()
	for _, s := range store.EventStatuses() {
		assert.True(t, s.Valid(), s)
	}
	assert.False(t, store.EventStatus("done").Valid())
	for i, p := range store.Priorities() {
		assert.True(t, p.Valid())
		assert.Equal(t, i+1, p.Rank())
	}
	assert.False(t, store.Priority("urgent").Valid())
	assert.True(t, store.HealthDegraded.Valid())
	assert.False(t, store.HealthStatus("ok").Valid())
	assert.True(t, store.CategoryCRM.Valid())
	assert.False(t, store.ServiceCategory("x").Valid())
	assert.True(t, store.MethodPatch.Valid())
	assert.False(t, store.HTTPMethod("get").Valid())
	assert.True(t, store.MetricErrorRate.Valid())
	assert.False(t, store.MetricType("cpu").Valid())
	assert.True(t, store.MetricWarning.Valid())
	assert.False(t, store.MetricStatus("bad").Valid())
	assert.True(t, store.PeriodDay.Valid())
	assert.False(t, store.Period("week").Valid())
}

func TestPeriodTruncate(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 25, 21, 47, 13, 5, time.FixedZone("x", 3600))
	assert.Equal(t, time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC), store.PeriodHour.Truncate(at))
	assert.Equal(t, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), store.PeriodDay.Truncate(at))
	assert.Equal(t, 24*time.Hour, store.PeriodDay.Duration())
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		vals []float64
		p    float64
		want float64
	}{
		{nil, 0.5, 0},
		{[]float64{7}, 0.99, 7},
		{[]float64{1, 2, 3, 4}, 0.5, 2.5},
		{[]float64{10, 20, 30, 40, 50}, 0.95, 48},
		{[]float64{10, 20, 30, 40, 50}, 0, 10},
		{[]float64{10, 20, 30, 40, 50}, 1, 50},
	}
	for _, tc := range tests {
		assert.InDelta(t, tc.want, store.Percentile(tc.vals, tc.p), 1e-9, "%v p%v", tc.vals, tc.p)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	const sid = "0b9c2f57-5b8a-4d0a-9d7e-0d3f0b9a1c11"
	tests := []struct {
		name string
		v    interface{ Validate() error }
		ok   bool
	}{
		{"service ok", &store.Service{Name: "s", Category: store.CategoryCRM, ConnectorKind: "http", BaseURL: "https://x.example"}, true},
		{"service no name", &store.Service{Category: store.CategoryCRM, ConnectorKind: "http"}, false},
		{"service bad category", &store.Service{Name: "s", Category: "x", ConnectorKind: "http"}, false},
		{"service ftp url", &store.Service{Name: "s", Category: store.CategoryCRM, ConnectorKind: "http", BaseURL: "ftp://x"}, false},
		{"service bad json", &store.Service{Name: "s", Category: store.CategoryCRM, ConnectorKind: "http", RateLimits: json.RawMessage("{")}, false},
		{"service bad backup", &store.Service{Name: "s", Category: store.CategoryCRM, ConnectorKind: "http", BackupURLs: []string{"nope"}}, false},
		{"event ok", &store.Event{ServiceID: sid, ServiceName: "s"}, true},
		{"event bad service", &store.Event{ServiceID: "x", ServiceName: "s"}, false},
		{"event bad priority", &store.Event{ServiceID: sid, ServiceName: "s", PriorityLevel: "urgent"}, false},
		{"event bad payload", &store.Event{ServiceID: sid, ServiceName: "s", PayloadIn: json.RawMessage("[")}, false},
		{"metric ok", &store.HealthMetric{ServiceID: sid, MetricType: store.MetricErrorRate, Status: store.MetricNormal}, true},
		{"metric bad type", &store.HealthMetric{ServiceID: sid, MetricType: "cpu", Status: store.MetricNormal}, false},
		{"rule ok", &store.TransformationRule{Name: "r", Version: 1, TransformationLogic: json.RawMessage(`{}`)}, true},
		{"rule version 0", &store.TransformationRule{Name: "r", TransformationLogic: json.RawMessage(`{}`)}, false},
		{"contract ok", &store.Contract{Name: "c", Version: "1.0.0", Schema: json.RawMessage(`{}`)}, true},
		{"contract no schema", &store.Contract{Name: "c", Version: "1.0.0"}, false},
		{"rollup ok", &store.AnalyticsRollup{ServiceID: sid, Period: store.PeriodHour, PeriodStart: time.Now()}, true},
		{"rollup negative", &store.AnalyticsRollup{ServiceID: sid, Period: store.PeriodHour, PeriodStart: time.Now(), Failures: -1}, false},
		{"audit ok", &store.AuditEntry{Actor: "a", Action: "create", EntityType: "service"}, true},
		{"audit no actor", &store.AuditEntry{Action: "create", EntityType: "service"}, false},
	}
	for _, tc := range tests {
		err := tc.v.Validate()
		if tc.ok {
			assert.NoError(t, err, tc.name)
		} else {
			assert.ErrorIs(t, err, store.ErrInvalidArgument, tc.name)
		}
	}
}

func TestCloneIsDeep(t *testing.T) {
	t.Parallel()
	now := time.Now()
	e := &store.Event{PayloadIn: json.RawMessage(`{"a":1}`), LeaseUntil: &now}
	c := e.Clone()
	c.PayloadIn[2] = 'b'
	*c.LeaseUntil = now.Add(time.Hour)
	assert.Equal(t, `{"a":1}`, string(e.PayloadIn))
	assert.Equal(t, now, *e.LeaseUntil)
	s := &store.Service{BackupURLs: []string{"https://a"}}
	sc := s.Clone()
	sc.BackupURLs[0] = "https://b"
	assert.Equal(t, "https://a", s.BackupURLs[0])
}

func TestPageNormalize(t *testing.T) {
	t.Parallel()
	p, err := store.Page{}.Normalize()
	require.NoError(t, err)
	assert.Equal(t, store.DefaultPageLimit, p.Limit)
	p, err = store.Page{Limit: store.MaxPageLimit + 1}.Normalize()
	require.NoError(t, err)
	assert.Equal(t, store.MaxPageLimit, p.Limit)
	_, err = store.Page{Offset: -1}.Normalize()
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
}
