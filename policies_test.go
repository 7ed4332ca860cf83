package hub_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/resilience"
	"github.com/ehg/hub/store"
)

func fastRetryPolicy() *resilience.RetryConfig {
	r := resilience.DefaultRetryConfig()
	r.MaxRetries = 1
	r.InitialBackoff = resilience.Duration(5 * time.Millisecond)
	r.MaxBackoff = resilience.Duration(50 * time.Millisecond)
	r.InlineRetries = 0
	return &r
}

// TestTypedPolicies: typed policies are validated, stored as the JSON columns and take
// effect; given with their JSON document they must agree.
func TestTypedPolicies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	failing := hubtest.NewSink(t)
	failing.FailWith(503)
	breaker := resilience.DefaultCircuitBreakerConfig()
	breaker.FailureThreshold = 1000
	rate := resilience.DefaultRateLimitConfig()
	rate.RequestsPerMinute = 0
	hc := &hub.HealthCheckConfig{WindowSeconds: 120, MinSamples: 3}
	reg, err := b.hub.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "typed", Connector: "http", BaseURL: failing.URL,
		RetryPolicy: fastRetryPolicy(), BreakerPolicy: &breaker, RateLimitPolicy: &rate, HealthPolicy: hc})
	require.NoError(t, err)
	svc := reg.Service
	assert.Equal(t, 1, svc.MaxRetries, "max_retries from the typed retry policy")
	stored, err := resilience.ParseColumns(resilience.Columns{RateLimits: svc.RateLimits, CircuitBreaker: svc.CircuitBreakerConfig, Retry: svc.RetryConfig})
	require.NoError(t, err)
	assert.Equal(t, *fastRetryPolicy(), stored.Retry)
	assert.Equal(t, breaker, stored.CircuitBreaker)
	assert.Equal(t, rate, stored.RateLimit)
	report, err := b.hub.GetIntegrationHealth(ctx, "typed")
	require.NoError(t, err)
	require.Len(t, report.Services, 1)
	assert.Equal(t, 120, report.Services[0].Thresholds.WindowSeconds)
	assert.Equal(t, 3, report.Services[0].Thresholds.MinSamples)

	res, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "typed", Mode: hub.Async, Payload: json.RawMessage(`{}`)})
	require.NoError(t, err)
	ev, err := b.hub.WaitEvent(ctx, res.EventID)
	require.NoError(t, err)
	assert.Equal(t, store.StatusDead, ev.Status)
	assert.Equal(t, 2, ev.RetryCount, "one attempt and the typed policy's one retry")

	// ConfigureService takes them too.
	slower := fastRetryPolicy()
	slower.MaxRetries = 4
	conf, err := b.hub.ConfigureService(ctx, "typed", hub.ServiceConfig{RetryPolicy: slower})
	require.NoError(t, err)
	assert.Contains(t, conf.Changed, "retry_config")
	got, err := resilience.ParseRetry(conf.Service.RetryConfig)
	require.NoError(t, err)
	assert.Equal(t, 4, got.MaxRetries)
}

func TestTypedPolicyErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	badRetry := fastRetryPolicy()
	badRetry.Multiplier = 0.5
	for _, tc := range []struct {
		name  string
		edit  func(c *hub.IntegrationConfig)
		field string
	}{
		{"same in both", func(c *hub.IntegrationConfig) {
			c.RetryPolicy = fastRetryPolicy()
			c.Retry = json.RawMessage(`{"max_retries":1,"initial_backoff":"5ms","max_backoff":"50ms","inline_retries":0}`)
		}, ""},
		{"conflicting retry", func(c *hub.IntegrationConfig) {
			c.RetryPolicy = fastRetryPolicy()
			c.Retry = json.RawMessage(`{"max_retries":7}`)
		}, "IntegrationConfig.RetryPolicy"},
		{"conflicting health", func(c *hub.IntegrationConfig) {
			c.HealthPolicy = &hub.HealthCheckConfig{WindowSeconds: 60}
			c.HealthCheck = json.RawMessage(`{"window_seconds": 61}`)
		}, "IntegrationConfig.HealthPolicy"},
		{"invalid typed retry", func(c *hub.IntegrationConfig) { c.RetryPolicy = badRetry }, "IntegrationConfig.RetryPolicy.multiplier"},
		{"invalid typed breaker", func(c *hub.IntegrationConfig) {
			br := resilience.DefaultCircuitBreakerConfig()
			br.FailureRateThreshold = 2
			c.BreakerPolicy = &br
		}, "IntegrationConfig.BreakerPolicy.failure_rate_threshold"},
		{"invalid typed health", func(c *hub.IntegrationConfig) {
			c.HealthPolicy = &hub.HealthCheckConfig{ErrorRateWarning: 2}
		}, "IntegrationConfig.HealthPolicy.error_rate_warning"},
		{"invalid JSON beside a typed policy", func(c *hub.IntegrationConfig) {
			r := resilience.DefaultRateLimitConfig()
			c.RateLimitPolicy = &r
			c.RateLimits = json.RawMessage(`{"requests_per_minute": -1}`)
		}, "IntegrationConfig.RateLimits.requests_per_minute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := hub.IntegrationConfig{Name: "svc-" + tc.name, Connector: "http", BaseURL: b.sink.URL}
			tc.edit(&cfg)
			_, err := b.hub.RegisterIntegration(ctx, cfg)
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var ce *hub.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
			assert.True(t, errors.Is(err, hub.ErrInvalidConfig))
		})
	}
	_, err := b.hub.ConfigureService(ctx, "sink", hub.ServiceConfig{RetryPolicy: badRetry})
	var ce *hub.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "ServiceConfig.RetryPolicy.multiplier", ce.Field)
}
