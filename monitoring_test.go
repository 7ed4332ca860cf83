package hub_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

func TestGetIntegrationHealth(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	good := hubtest.NewSink(t)
	bad := hubtest.NewSink(t)
	register(t, h, "good", good.URL, nil)
	register(t, h, "bad", bad.URL, func(c *hub.IntegrationConfig) { c.MaxRetries = intp(0) })
	register(t, h, "idle", good.URL, nil)
	ctx := t.Context()
	bad.FailWith(502)
	for range 5 {
		_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "good", Payload: json.RawMessage(`{}`)})
		require.NoError(t, err)
		_, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "bad", Payload: json.RawMessage(`{}`)})
		require.ErrorIs(t, err, hub.ErrDeliveryFailed)
	}
	_, err := h.GetIntegrationHealth(ctx, "missing")
	require.ErrorIs(t, err, hub.ErrUnknownService)

	rep, err := h.GetIntegrationHealth(ctx, "")
	require.NoError(t, err)
	require.Len(t, rep.Services, 3)
	byName := map[string]hub.ServiceHealth{}
	for _, s := range rep.Services {
		byName[s.Name] = s
	}
	assert.Equal(t, store.HealthUnhealthy, rep.Status, "the worst service decides")
	assert.Equal(t, store.HealthHealthy, byName["good"].Status)
	assert.Equal(t, 5, byName["good"].Attempts)
	assert.Zero(t, byName["good"].ErrorRate)
	assert.EqualValues(t, 5, byName["good"].QueueDepth[store.StatusSucceeded])
	assert.Equal(t, store.HealthUnhealthy, byName["bad"].Status)
	assert.InDelta(t, 1.0, byName["bad"].ErrorRate, 1e-9)
	assert.EqualValues(t, 5, byName["bad"].QueueDepth[store.StatusDead])
	assert.Contains(t, byName["bad"].LastError, "502")
	assert.Equal(t, store.HealthUnknown, byName["idle"].Status)
	assert.Equal(t, "closed", byName["idle"].Breaker)

	one, err := h.GetIntegrationHealth(ctx, "good")
	require.NoError(t, err)
	require.Len(t, one.Services, 1)
	assert.Equal(t, store.HealthHealthy, one.Status)
}

func TestGetPerformanceMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	for range 4 {
		_, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{"n":1}`)})
		require.NoError(t, err)
	}
	b.sink.FailWith(400)
	_, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{"n":2}`)})
	require.ErrorIs(t, err, hub.ErrDeliveryFailed)

	_, err = b.hub.GetPerformanceMetrics(ctx, hub.TimeRange{From: time.Now(), To: time.Now().Add(-time.Hour)})
	require.ErrorIs(t, err, hub.ErrInvalidInput)

	pm, err := b.hub.GetPerformanceMetrics(ctx, hub.TimeRange{From: time.Now().Add(-time.Minute), To: time.Now().Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, pm.Services, 1)
	s := pm.Services[0]
	assert.Equal(t, "sink", s.ServiceName)
	assert.EqualValues(t, 5, s.Events)
	assert.EqualValues(t, 4, s.Succeeded)
	assert.EqualValues(t, 1, s.Failed)
	assert.InDelta(t, 0.8, s.SuccessRate, 1e-9)
	assert.InDelta(t, 5.0/120, s.Throughput, 1e-9)
	assert.EqualValues(t, 5, pm.Overall.Events)

	empty, err := b.hub.GetPerformanceMetrics(ctx, hub.TimeRange{From: time.Now().Add(-48 * time.Hour), To: time.Now().Add(-47 * time.Hour)})
	require.NoError(t, err)
	assert.Empty(t, empty.Services)
	assert.InDelta(t, 1.0, empty.Overall.SuccessRate, 1e-9)
}

func TestGetIntegrationAnalytics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	_, err := b.hub.ConfigureService(ctx, "sink", hub.ServiceConfig{CostPerCall: ptr(0.25)})
	require.NoError(t, err)
	for i := range 3 {
		_, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{"abc":1}`), ChairmanOverride: i == 0})
		require.NoError(t, err)
	}
	_, err = b.hub.GetIntegrationAnalytics(ctx, hub.AnalyticsQuery{Period: "week"})
	require.ErrorIs(t, err, hub.ErrInvalidInput)
	_, err = b.hub.GetIntegrationAnalytics(ctx, hub.AnalyticsQuery{Service: "ghost"})
	require.ErrorIs(t, err, hub.ErrUnknownService)

	for range 2 { // the rollup is idempotent: a second run replaces the same rows
		a, err := b.hub.GetIntegrationAnalytics(ctx, hub.AnalyticsQuery{Service: "sink"})
		require.NoError(t, err)
		require.Len(t, a.Rollups, 1)
		r := a.Rollups[0]
		assert.Equal(t, store.PeriodHour, r.Period)
		assert.EqualValues(t, 3, r.TotalEvents)
		assert.EqualValues(t, 3, r.Successes)
		assert.EqualValues(t, 1, r.ChairmanInterventions)
		assert.EqualValues(t, 3*len(`{"abc":1}`), r.DataVolumeBytes)
		assert.InDelta(t, 0.75, r.Cost, 1e-9)
		assert.InDelta(t, 100, known(t, r.UptimePercent), 1e-9)
		assert.EqualValues(t, 3, a.Totals.Events)
	}
	day, err := b.hub.GetIntegrationAnalytics(ctx, hub.AnalyticsQuery{Period: store.PeriodDay})
	require.NoError(t, err)
	assert.EqualValues(t, 3, day.Totals.Events)
}

func ptr[T any](v T) *T { return &v }
