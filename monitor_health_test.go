package hub_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// remote is a fake service: POSTs answer deliverStatus, GETs (probes) answer probeStatus,
// and every response can carry X-RateLimit headers counting down a quota. failedAt holds the
// time (unix ns) the last failing delivery response was written.
type remote struct {
	URL           string
	deliverStatus atomic.Int64
	probeStatus   atomic.Int64
	quota         atomic.Int64 // remaining; negative: no rate-limit headers
	failedAt      atomic.Int64
	probes        atomic.Int64
}

func newRemote(t testing.TB) *remote {
	t.Helper()
	r := &remote{}
	r.deliverStatus.Store(200)
	r.probeStatus.Store(200)
	r.quota.Store(-1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if q := r.quota.Load(); q >= 0 {
			w.Header().Set("X-RateLimit-Limit", "1000")
			w.Header().Set("X-RateLimit-Remaining", strconv.FormatInt(q, 10))
			w.Header().Set("X-RateLimit-Reset", "3600")
			r.quota.Store(max(q-50, 0))
		}
		status := int(r.deliverStatus.Load())
		if req.Method == http.MethodGet {
			r.probes.Add(1)
			status = int(r.probeStatus.Load())
		}
		w.Header().Set("Content-Type", "application/json")
		if status >= 300 && req.Method != http.MethodGet {
			r.failedAt.Store(time.Now().UnixNano())
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func registerMonitored(t testing.TB, h *hub.Hub, name, url, healthCheck string, edit func(*hub.IntegrationConfig)) *hub.Registration {
	t.Helper()
	return register(t, h, name, url, func(c *hub.IntegrationConfig) {
		c.HealthCheck = json.RawMessage(healthCheck)
		c.MaxRetries = intp(0)
		if edit != nil {
			edit(c)
		}
	})
}

// nextChange returns the next change of the service from sub.
func nextChange(t testing.TB, sub <-chan hub.HealthChange, serviceID string) hub.HealthChange {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case c, ok := <-sub:
			require.True(t, ok, "subscription closed")
			if c.ServiceID == serviceID {
				return c
			}
		case <-timeout:
			t.Fatal("no health change within 10 s")
		}
	}
}

func TestHealthChangeArrivesOnSubscription(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	rem := newRemote(t)
	reg := registerMonitored(t, h, "crm", rem.URL, `{"min_samples":3,"interval_seconds":-1}`, nil)
	ctx := t.Context()
	sub := h.Subscribe(ctx)
	send := func(i int) error {
		_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Payload: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
		return err
	}
	for i := range 3 {
		require.NoError(t, send(i))
	}
	c := nextChange(t, sub, reg.ServiceID)
	assert.Equal(t, store.HealthUnknown, c.From)
	assert.Equal(t, store.HealthHealthy, c.To)
	assert.Equal(t, "crm", c.ServiceName)

	// One failure in four is 25 %: the default critical error rate.
	rem.deliverStatus.Store(503)
	require.ErrorIs(t, send(3), hub.ErrDeliveryFailed)
	c = nextChange(t, sub, reg.ServiceID)
	assert.Equal(t, store.HealthHealthy, c.From)
	assert.Equal(t, store.HealthUnhealthy, c.To)
	assert.Contains(t, c.Reason, "error rate 25.0%")

	hr, err := h.GetIntegrationHealth(ctx, "crm")
	require.NoError(t, err)
	require.Len(t, hr.Services, 1)
	s := hr.Services[0]
	assert.Equal(t, store.HealthUnhealthy, hr.Status)
	assert.Equal(t, store.HealthUnhealthy, s.Status)
	assert.InDelta(t, 0.25, s.ErrorRate, 1e-9)
	assert.Equal(t, 4, s.Attempts)
	assert.Contains(t, s.LastError, "503")
	assert.Positive(t, s.LatencyP50MS)
	assert.GreaterOrEqual(t, s.LatencyP99MS, s.LatencyP95MS)
	assert.GreaterOrEqual(t, s.LatencyP95MS, s.LatencyP50MS)
	assert.EqualValues(t, 3, s.QueueDepth[store.StatusSucceeded])
	assert.EqualValues(t, 1, s.QueueDepth[store.StatusDead])
	assert.Equal(t, 0.25, s.Thresholds.ErrorRateCritical)
	assert.Equal(t, 3, s.Thresholds.MinSamples)

	// The change is persisted with thresholds, status and the incident.
	// (The dead event's escalation stores an incident row of its own, without thresholds.)
	var inc *store.HealthMetric
	eventually(t, 5*time.Second, func() bool {
		rows, err := h.Store().ListHealthMetrics(ctx, store.HealthMetricFilter{ServiceID: reg.ServiceID, MetricType: store.MetricErrorRate})
		for _, r := range rows {
			if err == nil && r.IncidentTriggered && r.WarningThreshold != nil {
				inc = r
			}
		}
		return inc != nil
	}, "incident row stored")
	assert.InDelta(t, 0.25, inc.Value, 1e-9)
	assert.Equal(t, store.MetricCritical, inc.Status)
	require.NotNil(t, inc.WarningThreshold)
	assert.Equal(t, 0.05, *inc.WarningThreshold)
	assert.Equal(t, 0.25, *inc.CriticalThreshold)
	assert.True(t, json.Valid(inc.RecoveryActions))

	// Recovery: successes bring the rate under the 5 % warning (1 in 21 = 4.8 %).
	rem.deliverStatus.Store(200)
	for i := range 17 {
		require.NoError(t, send(100+i))
	}
	c = nextChange(t, sub, reg.ServiceID)
	assert.Equal(t, store.HealthDegraded, c.To)
	c = nextChange(t, sub, reg.ServiceID)
	assert.Equal(t, store.HealthHealthy, c.To)
}

func TestBreakerOpeningReachesSubscribersAndIsRecorded(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	rem := newRemote(t)
	reg := registerMonitored(t, h, "erp", rem.URL, `{"min_samples":50,"interval_seconds":-1}`, func(c *hub.IntegrationConfig) {
		c.CircuitBreaker = json.RawMessage(`{"failure_threshold": 2, "recovery_timeout": "1m"}`)
	})
	ctx := t.Context()
	sub := h.Subscribe(ctx)
	rem.deliverStatus.Store(500)
	for i := range 2 {
		_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "erp", Payload: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
		require.Error(t, err)
	}
	c := nextChange(t, sub, reg.ServiceID)
	assert.Equal(t, store.HealthUnhealthy, c.To)
	assert.Equal(t, "circuit breaker open", c.Reason)
	hr, err := h.GetIntegrationHealth(ctx, "erp")
	require.NoError(t, err)
	assert.Equal(t, "open", hr.Services[0].Breaker)
	assert.Equal(t, store.HealthUnhealthy, hr.Services[0].Status)
	eventually(t, 5*time.Second, func() bool {
		rows, err := h.Store().ListHealthMetrics(ctx, store.HealthMetricFilter{ServiceID: reg.ServiceID, MetricType: store.MetricErrorRate})
		if err != nil {
			return false
		}
		for _, r := range rows {
			var acts []struct {
				Action    string `json:"action"`
				Automatic bool   `json:"automatic"`
			}
			if json.Unmarshal(r.RecoveryActions, &acts) == nil && len(acts) > 0 &&
				acts[0].Action == "circuit_opened" && acts[0].Automatic && r.IncidentTriggered {
				return true
			}
		}
		return false
	}, "the breaker opening is recorded as an automatic recovery action")
}

func TestHealthReportsProbesAndRateLimitForecast(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	rem := newRemote(t)
	reg := registerMonitored(t, h, "gh", rem.URL, `{"interval_seconds":1}`, nil)
	ctx := t.Context()

	// Probes run at the configured interval through the connector's Check.
	eventually(t, 5*time.Second, func() bool {
		hr, err := h.GetIntegrationHealth(ctx, "gh")
		return err == nil && hr.Services[0].LastProbe != nil
	}, "first probe")
	hr, err := h.GetIntegrationHealth(ctx, "gh")
	require.NoError(t, err)
	s := hr.Services[0]
	assert.True(t, s.LastProbe.OK)
	assert.Equal(t, store.HealthHealthy, s.Status, "a passing probe and no traffic")
	assert.Equal(t, 1, s.Thresholds.ProbeIntervalSeconds)

	rem.probeStatus.Store(503)
	eventually(t, 5*time.Second, func() bool {
		hr, err := h.GetIntegrationHealth(ctx, "gh")
		return err == nil && hr.Services[0].LastProbe != nil && !hr.Services[0].LastProbe.OK
	}, "failing probe")
	hr, err = h.GetIntegrationHealth(ctx, "gh")
	require.NoError(t, err)
	s = hr.Services[0]
	assert.Equal(t, store.HealthUnhealthy, s.Status)
	assert.NotEmpty(t, s.LastProbe.Error)
	assert.True(t, hasWarning(s.Warnings, "probe_failing"))
	rows, err := h.Store().ListHealthMetrics(ctx, store.HealthMetricFilter{ServiceID: reg.ServiceID, MetricType: store.MetricAvailability})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(rows), 2, "each probe is stored as an availability row")
	assert.Equal(t, 0.0, rows[0].Value, "newest first: the failed probe")
	rem.probeStatus.Store(200)

	// The remote's quota counts down by 50 a call from 400: the forecast warns before it
	// runs out, and the headroom is reported.
	rem.quota.Store(400)
	for i := range 4 {
		_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "gh", Payload: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
		require.NoError(t, err)
	}
	hr, err = h.GetIntegrationHealth(ctx, "gh")
	require.NoError(t, err)
	s = hr.Services[0]
	require.NotNil(t, s.RateLimit)
	assert.Equal(t, 1000, s.RateLimit.Limit)
	assert.LessOrEqual(t, s.RateLimit.Remaining, 250)
	var quota *hub.HealthWarning
	for i := range s.Warnings {
		if s.Warnings[i].Kind == "quota_exhaustion" {
			quota = &s.Warnings[i]
		}
	}
	require.NotNil(t, quota, "warnings: %+v", s.Warnings)
	assert.Contains(t, quota.Message, "quota exhausted in ~")
	assert.Contains(t, quota.Evidence, "minutes_to_exhaustion")
}

func hasWarning(ws []hub.HealthWarning, kind string) bool {
	for _, w := range ws {
		if w.Kind == kind {
			return true
		}
	}
	return false
}

func TestInvalidHealthCheckConfigIsRejected(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	_, err := h.RegisterIntegration(t.Context(), hub.IntegrationConfig{Name: "bad", Connector: "http", BaseURL: "http://127.0.0.1:1",
		HealthCheck: json.RawMessage(`{"error_rate_warning":0.5,"error_rate_critical":0.1}`)})
	require.ErrorIs(t, err, hub.ErrInvalidConfig)
	var ce *hub.ConfigError
	require.True(t, errors.As(err, &ce))
	assert.Equal(t, "IntegrationConfig.HealthCheck.error_rate_warning", ce.Field)
}

func TestAnalyticsRollupJobPersistsRows(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil, hub.WithRollupInterval(20*time.Millisecond))
	rem := newRemote(t)
	reg := registerMonitored(t, h, "job", rem.URL, `{"interval_seconds":-1}`, func(c *hub.IntegrationConfig) { c.CostPerCall = 0.5 })
	ctx := t.Context()
	for i := range 3 {
		_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "job", Payload: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
		require.NoError(t, err)
	}
	eventually(t, 5*time.Second, func() bool {
		rows, err := h.Store().ListAnalytics(ctx, store.AnalyticsFilter{ServiceID: reg.ServiceID})
		if err != nil || len(rows) != 2 {
			return false
		}
		for _, r := range rows {
			if r.TotalEvents != 3 || r.Successes != 3 || r.Cost != 1.5 {
				return false
			}
		}
		return true
	}, "the background job rolls up the hour and the day without a query")
}
