package resilience_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/resilience"
)

func TestParseColumnsSeedDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := resilience.ParseColumns(resilience.Columns{
		RateLimits:     json.RawMessage(`{"requests_per_minute": 1000}`),
		CircuitBreaker: json.RawMessage(`{"failure_threshold": 5, "recovery_timeout": 30}`),
	})
	require.NoError(t, err)
	assert.Equal(t, resilience.DefaultConfig(), cfg)
	assert.Equal(t, 1000, cfg.RateLimit.RequestsPerMinute)
	assert.Equal(t, 5, cfg.CircuitBreaker.FailureThreshold)
	assert.Equal(t, 30*time.Second, cfg.CircuitBreaker.RecoveryTimeout.D())
	assert.Equal(t, 3, cfg.Retry.MaxRetries)

	// Empty and null columns mean defaults too.
	cfg2, err := resilience.ParseColumns(resilience.Columns{RateLimits: json.RawMessage(" null "), Retry: json.RawMessage{}})
	require.NoError(t, err)
	assert.Equal(t, resilience.DefaultConfig(), cfg2)
}

func TestParseColumnsOverrides(t *testing.T) {
	t.Parallel()
	maxRetries := 7
	cfg, err := resilience.ParseColumns(resilience.Columns{
		RateLimits:     json.RawMessage(`{"requests_per_minute": 60, "burst": 5, "max_wait": "2s", "max_concurrent": 0, "adaptive": false, "low_water": 0}`),
		CircuitBreaker: json.RawMessage(`{"failure_threshold": 3, "recovery_timeout": 0.25, "success_threshold": 2, "failure_rate_threshold": 0.5, "minimum_calls": 4, "window": "10s"}`),
		Retry:          json.RawMessage(`{"max_retries": 1, "initial_backoff": 0.5, "max_backoff": 10, "multiplier": 3, "jitter": 0, "inline_retries": 0, "timeout": "1500ms"}`),
		MaxRetries:     &maxRetries,
	})
	require.NoError(t, err)
	assert.Equal(t, resilience.RateLimitConfig{
		RequestsPerMinute: 60, Burst: 5, MaxWait: resilience.Duration(2 * time.Second),
	}, cfg.RateLimit)
	assert.Equal(t, resilience.CircuitBreakerConfig{
		FailureThreshold: 3, RecoveryTimeout: resilience.Duration(250 * time.Millisecond), SuccessThreshold: 2,
		FailureRateThreshold: 0.5, MinimumCalls: 4, Window: resilience.Duration(10 * time.Second),
	}, cfg.CircuitBreaker)
	assert.Equal(t, 7, cfg.Retry.MaxRetries, "the max_retries column overrides retry_config")
	assert.Equal(t, 500*time.Millisecond, cfg.Retry.InitialBackoff.D())
	assert.Equal(t, 10*time.Second, cfg.Retry.MaxBackoff.D())
	assert.Equal(t, 3.0, cfg.Retry.Multiplier)
	assert.Zero(t, cfg.Retry.Jitter, "an explicit 0 is kept, not replaced by the default")
	assert.Zero(t, cfg.Retry.InlineRetries)
	assert.Equal(t, 1500*time.Millisecond, cfg.Retry.Timeout.D())
	assert.Equal(t, resilience.DefaultInlineBackoff, cfg.Retry.InlineBackoff.D(), "missing keys keep defaults")
}

func TestParseColumnsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cols  resilience.Columns
		field string
	}{
		{"malformed json", resilience.Columns{RateLimits: json.RawMessage(`{"requests_per_minute":`)}, "rate_limits"},
		{"unknown key", resilience.Columns{CircuitBreaker: json.RawMessage(`{"failure_treshold": 5}`)}, "circuit_breaker_config"},
		{"wrong type", resilience.Columns{RateLimits: json.RawMessage(`{"requests_per_minute": "fast"}`)}, "rate_limits"},
		{"trailing data", resilience.Columns{Retry: json.RawMessage(`{} {}`)}, "retry_config"},
		{"bad duration string", resilience.Columns{Retry: json.RawMessage(`{"timeout": "soon"}`)}, "retry_config"},
		{"negative rpm", resilience.Columns{RateLimits: json.RawMessage(`{"requests_per_minute": -1}`)}, "rate_limits.requests_per_minute"},
		{"negative burst", resilience.Columns{RateLimits: json.RawMessage(`{"burst": -2}`)}, "rate_limits.burst"},
		{"negative max_wait", resilience.Columns{RateLimits: json.RawMessage(`{"max_wait": -1}`)}, "rate_limits.max_wait"},
		{"low water 1", resilience.Columns{RateLimits: json.RawMessage(`{"low_water": 1}`)}, "rate_limits.low_water"},
		{"adaptive concurrency unbounded", resilience.Columns{RateLimits: json.RawMessage(`{"max_concurrent": 0, "adaptive_concurrency": true}`)}, "rate_limits.adaptive_concurrency"},
		{"zero failure threshold", resilience.Columns{CircuitBreaker: json.RawMessage(`{"failure_threshold": 0}`)}, "circuit_breaker_config.failure_threshold"},
		{"rate above 1", resilience.Columns{CircuitBreaker: json.RawMessage(`{"failure_rate_threshold": 50}`)}, "circuit_breaker_config.failure_rate_threshold"},
		{"rate without calls", resilience.Columns{CircuitBreaker: json.RawMessage(`{"failure_rate_threshold": 0.5, "minimum_calls": 0}`)}, "circuit_breaker_config.minimum_calls"},
		{"zero recovery", resilience.Columns{CircuitBreaker: json.RawMessage(`{"recovery_timeout": 0}`)}, "circuit_breaker_config.recovery_timeout"},
		{"huge recovery", resilience.Columns{CircuitBreaker: json.RawMessage(`{"recovery_timeout": 1e300}`)}, "circuit_breaker_config"},
		{"zero success threshold", resilience.Columns{CircuitBreaker: json.RawMessage(`{"success_threshold": 0}`)}, "circuit_breaker_config.success_threshold"},
		{"negative max_retries column", resilience.Columns{MaxRetries: new(-1)}, "retry_config.max_retries"},
		{"multiplier below 1", resilience.Columns{Retry: json.RawMessage(`{"multiplier": 0.5}`)}, "retry_config.multiplier"},
		{"jitter 1", resilience.Columns{Retry: json.RawMessage(`{"jitter": 1}`)}, "retry_config.jitter"},
		{"too many inline", resilience.Columns{Retry: json.RawMessage(`{"inline_retries": 11}`)}, "retry_config.inline_retries"},
		{"max below initial", resilience.Columns{Retry: json.RawMessage(`{"initial_backoff": 10, "max_backoff": 5}`)}, "retry_config.max_backoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := resilience.ParseColumns(tt.cols)
			require.Error(t, err)
			assert.ErrorIs(t, err, resilience.ErrInvalidConfig)
			var ce *resilience.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.field, ce.Field)
		})
	}
}

func TestParseSingleColumns(t *testing.T) {
	t.Parallel()
	rl, err := resilience.ParseRateLimits(json.RawMessage(`{"requests_per_minute": 120}`))
	require.NoError(t, err)
	assert.Equal(t, 120, rl.RequestsPerMinute)
	cb, err := resilience.ParseCircuitBreaker(nil)
	require.NoError(t, err)
	assert.Equal(t, resilience.DefaultCircuitBreakerConfig(), cb)
	rc, err := resilience.ParseRetry(json.RawMessage(`{"jitter": 2}`))
	assert.ErrorIs(t, err, resilience.ErrInvalidConfig)
	assert.Zero(t, rc)

	all, err := resilience.ParseConfig(json.RawMessage(`{"rate_limits": {"burst": 3}, "retry_config": {"max_retries": 0}}`))
	require.NoError(t, err)
	assert.Equal(t, 3, all.RateLimit.Burst)
	assert.Zero(t, all.Retry.MaxRetries)
	_, err = resilience.ParseConfig(json.RawMessage(`{"retries": {}}`))
	assert.ErrorIs(t, err, resilience.ErrInvalidConfig)
}

func TestConfigJSONRoundTrip(t *testing.T) {
	t.Parallel()
	cfg := resilience.DefaultConfig()
	cfg.Retry.InlineBackoff = resilience.Duration(1500 * time.Microsecond)
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"recovery_timeout":30`)
	assert.Contains(t, string(b), `"inline_backoff":0.0015`)
	back, err := resilience.ParseConfig(b)
	require.NoError(t, err)
	assert.Equal(t, cfg, back)
}

func TestNewRejectsInvalid(t *testing.T) {
	t.Parallel()
	_, err := resilience.New(resilience.Config{}, resilience.Options{})
	assert.ErrorIs(t, err, resilience.ErrInvalidConfig, "the zero Config is invalid; start from DefaultConfig")

	_, err = resilience.New(resilience.DefaultConfig(), resilience.Options{Endpoints: []string{"http://a", "http://a"}})
	var ce *resilience.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "endpoints", ce.Field)
	assert.False(t, errors.Is(err, resilience.ErrCircuitOpen))
}
