package resilience

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Defaults: the seed's values where it has them ({"requests_per_minute": 1000},
// {"failure_threshold": 5, "recovery_timeout": 30}, max_retries 3), otherwise conservative
// choices. See the Config fields for what each governs.
const (
	// DefaultRequestsPerMinute is rate_limits.requests_per_minute (the seed's 1000).
	DefaultRequestsPerMinute = 1000
	// DefaultMaxWait is rate_limits.max_wait.
	DefaultMaxWait = 30 * time.Second
	// DefaultMaxConcurrent is rate_limits.max_concurrent.
	DefaultMaxConcurrent = 50
	// DefaultLowWater is rate_limits.low_water.
	DefaultLowWater = 0.1
	// DefaultFailureThreshold is circuit_breaker_config.failure_threshold (the seed's 5).
	DefaultFailureThreshold = 5
	// DefaultRecoveryTimeout is circuit_breaker_config.recovery_timeout (the seed's 30 s).
	DefaultRecoveryTimeout = 30 * time.Second
	// DefaultSuccessThreshold is circuit_breaker_config.success_threshold.
	DefaultSuccessThreshold = 1
	// DefaultMinimumCalls is circuit_breaker_config.minimum_calls.
	DefaultMinimumCalls = 10
	// DefaultFailureRateWindow is circuit_breaker_config.window.
	DefaultFailureRateWindow = time.Minute
	// DefaultMaxRetries is retry_config.max_retries (the seed's 3).
	DefaultMaxRetries = 3
	// DefaultInitialBackoff is retry_config.initial_backoff.
	DefaultInitialBackoff = time.Second
	// DefaultMaxBackoff is retry_config.max_backoff.
	DefaultMaxBackoff = 5 * time.Minute
	// DefaultMultiplier is retry_config.multiplier.
	DefaultMultiplier = 2.0
	// DefaultJitter is retry_config.jitter.
	DefaultJitter = 0.2
	// DefaultInlineRetries is retry_config.inline_retries.
	DefaultInlineRetries = 1
	// DefaultInlineBackoff is retry_config.inline_backoff.
	DefaultInlineBackoff = 50 * time.Millisecond
	// DefaultAttemptTimeout is retry_config.timeout.
	DefaultAttemptTimeout = 30 * time.Second
)

// Validation bounds.
const (
	maxConfigDuration        = 24 * time.Hour * 365
	maxRequestsPerMinute     = 1_000_000_000
	maxFailureOrSuccessCount = 1_000_000
	maxRetriesLimit          = 1_000
	maxInlineRetries         = 10
	adaptiveInitialLimit     = 20 // failsafe adaptivelimiter's own default initial limit
)

// Duration is a time.Duration that reads JSON as a number of seconds (fractions allowed, so
// the seed's {"recovery_timeout": 30} means 30 s and 0.05 means 50 ms) or as a Go duration
// string ("250ms", "1m30s"), and writes a number of seconds.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as seconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, time.Duration(d).Seconds(), 'f', -1, 64), nil
}

// UnmarshalJSON reads seconds or a Go duration string. Errors on other JSON types, on
// unparsable strings and on values that overflow.
func (d *Duration) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("duration must be seconds or a duration string: %w", err)
	}
	ns := f * float64(time.Second)
	if math.IsNaN(ns) || ns > math.MaxInt64 || ns < math.MinInt64 {
		return fmt.Errorf("duration %v s out of range", f)
	}
	*d = Duration(ns)
	return nil
}

// Config is the whole resilience configuration of one service. Each section mirrors one stored
// JSON column of integration_services (see [ParseColumns]). Start from [DefaultConfig]: the
// zero Config is invalid (a zero failure threshold, for example).
type Config struct {
	RateLimit      RateLimitConfig      `json:"rate_limits"`
	CircuitBreaker CircuitBreakerConfig `json:"circuit_breaker_config"`
	Retry          RetryConfig          `json:"retry_config"`
}

// RateLimitConfig is the rate_limits column, e.g. {"requests_per_minute": 1000, "burst": 20}.
type RateLimitConfig struct {
	// RequestsPerMinute is the ceiling this hub never exceeds for the service. 0 means no
	// ceiling. Default 1000.
	RequestsPerMinute int `json:"requests_per_minute"`
	// Burst is how many calls may go at once before the ceiling spaces them: the ceiling allows
	// Burst calls per Burst*60s/RequestsPerMinute. 0 means one second's worth
	// (RequestsPerMinute/60, at least 1). Default 0.
	Burst int `json:"burst"`
	// MaxWait is the longest a call waits for a rate-limit permit, for the remote limit to reset
	// or for a concurrency slot; beyond it the call is rejected with ErrRateLimited or
	// ErrBulkheadFull carrying how long to wait. Default 30 s.
	MaxWait Duration `json:"max_wait"`
	// MaxConcurrent bounds calls in flight (a failsafe bulkhead). 0 means unbounded. Default 50.
	MaxConcurrent int `json:"max_concurrent"`
	// AdaptiveConcurrency replaces the fixed bulkhead with failsafe's adaptive limiter, which
	// lowers the concurrency limit (between 1 and MaxConcurrent) when latency rises. Requires
	// MaxConcurrent > 0. Default false.
	AdaptiveConcurrency bool `json:"adaptive_concurrency"`
	// Adaptive makes the policy learn the remote limit from responses (Retry-After,
	// X-RateLimit-*, RateLimit-*, Sforce-Limit-Info): it slows down before the remote limit is
	// hit and stops until the reset after a 429. Default true.
	Adaptive bool `json:"adaptive"`
	// LowWater is the fraction of the remote limit below which remaining calls are spread
	// evenly until the remote reset instead of sent as fast as the ceiling allows. In [0, 1).
	// Default 0.1.
	LowWater float64 `json:"low_water"`
}

// CircuitBreakerConfig is the circuit_breaker_config column, e.g.
// {"failure_threshold": 5, "recovery_timeout": 30}.
//
// Only outages count as failures: transient errors and timeouts. Permanent errors (the
// caller's fault), rate-limited replies and cancellations do not.
type CircuitBreakerConfig struct {
	// FailureThreshold is the number of consecutive failures that opens the breaker. Default 5.
	// Ignored when FailureRateThreshold is set.
	FailureThreshold int `json:"failure_threshold"`
	// FailureRateThreshold, when > 0, switches to time-based thresholding: the breaker opens when
	// at least this fraction (0 < x <= 1) of the calls in the last Window failed, once at least
	// MinimumCalls were made. Default 0 (consecutive counting).
	FailureRateThreshold float64 `json:"failure_rate_threshold"`
	// MinimumCalls is the number of calls in Window before the rate applies. Default 10.
	MinimumCalls int `json:"minimum_calls"`
	// Window is the rolling window of the failure rate. Default 60 s.
	Window Duration `json:"window"`
	// RecoveryTimeout is how long the breaker stays open before letting a probe through
	// (half-open). Default 30 s.
	RecoveryTimeout Duration `json:"recovery_timeout"`
	// SuccessThreshold is the number of consecutive successful probes that closes a half-open
	// breaker; any failure while half-open re-opens it. Default 1.
	SuccessThreshold int `json:"success_threshold"`
}

// RetryConfig is the retry_config column (plus the max_retries column, see [Columns]).
//
// Two kinds of retries use it. Durable retries belong to the delivery engine, which stores the
// event and asks [Policy.NextBackoff] when to try again: delays grow from InitialBackoff by
// Multiplier up to MaxBackoff, jittered by ±Jitter without leaving that range, and a remote
// Retry-After overrides them. Inline retries happen inside [Execute] for quick transient blips
// only: InlineRetries attempts after delays growing from InlineBackoff.
type RetryConfig struct {
	// MaxRetries is the number of durable retries after the first attempt. Default 3.
	MaxRetries int `json:"max_retries"`
	// InitialBackoff is the delay before the first durable retry. Default 1 s.
	InitialBackoff Duration `json:"initial_backoff"`
	// MaxBackoff caps durable retry delays (not Retry-After). Default 5 min.
	MaxBackoff Duration `json:"max_backoff"`
	// Multiplier grows each delay from the previous one; >= 1. Default 2.
	Multiplier float64 `json:"multiplier"`
	// Jitter is the fraction (0 <= x < 1) by which each delay is randomly varied. Default 0.2.
	Jitter float64 `json:"jitter"`
	// InlineRetries is the number of in-process retries of a transient failure. 0 disables
	// them. Default 1.
	InlineRetries int `json:"inline_retries"`
	// InlineBackoff is the delay before the first inline retry; later ones grow by Multiplier up
	// to max(MaxBackoff, InlineBackoff). Default 50 ms.
	InlineBackoff Duration `json:"inline_backoff"`
	// Timeout bounds each attempt (its context is cancelled). 0 disables. Default 30 s.
	Timeout Duration `json:"timeout"`
}

// DefaultConfig returns the defaults of every section.
func DefaultConfig() Config {
	return Config{
		RateLimit:      DefaultRateLimitConfig(),
		CircuitBreaker: DefaultCircuitBreakerConfig(),
		Retry:          DefaultRetryConfig(),
	}
}

// DefaultRateLimitConfig returns the rate_limits defaults.
func DefaultRateLimitConfig() RateLimitConfig {
	return RateLimitConfig{
		RequestsPerMinute: DefaultRequestsPerMinute,
		MaxWait:           Duration(DefaultMaxWait),
		MaxConcurrent:     DefaultMaxConcurrent,
		Adaptive:          true,
		LowWater:          DefaultLowWater,
	}
}

// DefaultCircuitBreakerConfig returns the circuit_breaker_config defaults.
func DefaultCircuitBreakerConfig() CircuitBreakerConfig {
	return CircuitBreakerConfig{
		FailureThreshold: DefaultFailureThreshold,
		MinimumCalls:     DefaultMinimumCalls,
		Window:           Duration(DefaultFailureRateWindow),
		RecoveryTimeout:  Duration(DefaultRecoveryTimeout),
		SuccessThreshold: DefaultSuccessThreshold,
	}
}

// DefaultRetryConfig returns the retry_config defaults.
func DefaultRetryConfig() RetryConfig {
	return RetryConfig{
		MaxRetries:     DefaultMaxRetries,
		InitialBackoff: Duration(DefaultInitialBackoff),
		MaxBackoff:     Duration(DefaultMaxBackoff),
		Multiplier:     DefaultMultiplier,
		Jitter:         DefaultJitter,
		InlineRetries:  DefaultInlineRetries,
		InlineBackoff:  Duration(DefaultInlineBackoff),
		Timeout:        Duration(DefaultAttemptTimeout),
	}
}

// Columns holds the raw JSON of a service's stored columns. A nil, empty or JSON null column
// means "use the defaults"; keys missing from a column keep their defaults.
type Columns struct {
	RateLimits     json.RawMessage // rate_limits
	CircuitBreaker json.RawMessage // circuit_breaker_config
	Retry          json.RawMessage // retry_config
	// MaxRetries is the max_retries column; when non-nil it overrides retry_config's max_retries.
	MaxRetries *int
}

// ParseColumns builds a validated Config from a service's stored columns. Errors are
// *ConfigError (errors.Is ErrInvalidConfig) naming the column and field; unknown keys are
// rejected so that typos do not silently fall back to defaults.
func ParseColumns(c Columns) (Config, error) {
	cfg := DefaultConfig()
	if err := decodeColumn("rate_limits", c.RateLimits, &cfg.RateLimit); err != nil {
		return Config{}, err
	}
	if err := decodeColumn("circuit_breaker_config", c.CircuitBreaker, &cfg.CircuitBreaker); err != nil {
		return Config{}, err
	}
	if err := decodeColumn("retry_config", c.Retry, &cfg.Retry); err != nil {
		return Config{}, err
	}
	if c.MaxRetries != nil {
		cfg.Retry.MaxRetries = *c.MaxRetries
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// ParseRateLimits parses and validates the rate_limits column over the defaults.
func ParseRateLimits(raw json.RawMessage) (RateLimitConfig, error) {
	c := DefaultRateLimitConfig()
	if err := decodeColumn("rate_limits", raw, &c); err != nil {
		return RateLimitConfig{}, err
	}
	if err := c.validate(); err != nil {
		return RateLimitConfig{}, err
	}
	return c, nil
}

// ParseCircuitBreaker parses and validates the circuit_breaker_config column over the defaults.
func ParseCircuitBreaker(raw json.RawMessage) (CircuitBreakerConfig, error) {
	c := DefaultCircuitBreakerConfig()
	if err := decodeColumn("circuit_breaker_config", raw, &c); err != nil {
		return CircuitBreakerConfig{}, err
	}
	if err := c.validate(); err != nil {
		return CircuitBreakerConfig{}, err
	}
	return c, nil
}

// ParseRetry parses and validates the retry_config column over the defaults.
func ParseRetry(raw json.RawMessage) (RetryConfig, error) {
	c := DefaultRetryConfig()
	if err := decodeColumn("retry_config", raw, &c); err != nil {
		return RetryConfig{}, err
	}
	if err := c.validate(); err != nil {
		return RetryConfig{}, err
	}
	return c, nil
}

// ParseConfig parses one JSON document holding the three sections under their column names
// ({"rate_limits": {...}, "circuit_breaker_config": {...}, "retry_config": {...}}) over the
// defaults, and validates it.
func ParseConfig(raw json.RawMessage) (Config, error) {
	cfg := DefaultConfig()
	if err := decodeColumn("config", raw, &cfg); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func decodeColumn(column string, raw json.RawMessage, dst any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return &ConfigError{Field: column, Reason: "cannot decode JSON", Err: err}
	}
	if dec.More() {
		return &ConfigError{Field: column, Reason: "trailing data after the JSON object"}
	}
	return nil
}

// Validate checks every section and returns the first *ConfigError found.
func (c Config) Validate() error {
	if err := c.RateLimit.validate(); err != nil {
		return err
	}
	if err := c.CircuitBreaker.validate(); err != nil {
		return err
	}
	return c.Retry.validate()
}

func invalid(field string, value any, reason string) error {
	return &ConfigError{Field: field, Value: value, Reason: reason}
}

func checkDuration(field string, d Duration, allowZero bool) error {
	switch {
	case d < 0:
		return invalid(field, d.D(), "must not be negative")
	case d == 0 && !allowZero:
		return invalid(field, d.D(), "must be positive")
	case d.D() > maxConfigDuration:
		return invalid(field, d.D(), "must be at most a year")
	}
	return nil
}

func (c RateLimitConfig) validate() error {
	const col = "rate_limits."
	switch {
	case c.RequestsPerMinute < 0 || c.RequestsPerMinute > maxRequestsPerMinute:
		return invalid(col+"requests_per_minute", c.RequestsPerMinute, "must be between 0 (no ceiling) and 1e9")
	case c.Burst < 0 || c.Burst > maxRequestsPerMinute:
		return invalid(col+"burst", c.Burst, "must be between 0 (one second's worth) and 1e9")
	case c.MaxConcurrent < 0 || c.MaxConcurrent > maxFailureOrSuccessCount:
		return invalid(col+"max_concurrent", c.MaxConcurrent, "must be between 0 (unbounded) and 1e6")
	case c.AdaptiveConcurrency && c.MaxConcurrent == 0:
		return invalid(col+"adaptive_concurrency", true, "needs max_concurrent > 0 as its upper limit")
	case !(c.LowWater >= 0 && c.LowWater < 1):
		return invalid(col+"low_water", c.LowWater, "must be a fraction in [0, 1)")
	}
	return checkDuration(col+"max_wait", c.MaxWait, true)
}

func (c CircuitBreakerConfig) validate() error {
	const col = "circuit_breaker_config."
	switch {
	case c.FailureThreshold < 1 || c.FailureThreshold > maxFailureOrSuccessCount:
		return invalid(col+"failure_threshold", c.FailureThreshold, "must be between 1 and 1e6")
	case !(c.FailureRateThreshold >= 0 && c.FailureRateThreshold <= 1):
		return invalid(col+"failure_rate_threshold", c.FailureRateThreshold, "must be a fraction in (0, 1], or 0 to disable")
	case c.SuccessThreshold < 1 || c.SuccessThreshold > maxFailureOrSuccessCount:
		return invalid(col+"success_threshold", c.SuccessThreshold, "must be between 1 and 1e6")
	}
	if c.FailureRateThreshold > 0 {
		if c.MinimumCalls < 1 || c.MinimumCalls > maxFailureOrSuccessCount {
			return invalid(col+"minimum_calls", c.MinimumCalls, "must be between 1 and 1e6 when failure_rate_threshold is set")
		}
		if err := checkDuration(col+"window", c.Window, false); err != nil {
			return err
		}
	}
	return checkDuration(col+"recovery_timeout", c.RecoveryTimeout, false)
}

func (c RetryConfig) validate() error {
	const col = "retry_config."
	switch {
	case c.MaxRetries < 0 || c.MaxRetries > maxRetriesLimit:
		return invalid(col+"max_retries", c.MaxRetries, "must be between 0 and 1000")
	case !(c.Multiplier >= 1 && c.Multiplier <= 100):
		return invalid(col+"multiplier", c.Multiplier, "must be between 1 and 100")
	case !(c.Jitter >= 0 && c.Jitter < 1):
		return invalid(col+"jitter", c.Jitter, "must be a fraction in [0, 1)")
	case c.InlineRetries < 0 || c.InlineRetries > maxInlineRetries:
		return invalid(col+"inline_retries", c.InlineRetries, "must be between 0 and 10")
	}
	if err := checkDuration(col+"initial_backoff", c.InitialBackoff, true); err != nil {
		return err
	}
	if err := checkDuration(col+"max_backoff", c.MaxBackoff, true); err != nil {
		return err
	}
	if c.MaxBackoff < c.InitialBackoff {
		return invalid(col+"max_backoff", c.MaxBackoff.D(), "must not be below initial_backoff")
	}
	if err := checkDuration(col+"inline_backoff", c.InlineBackoff, true); err != nil {
		return err
	}
	return checkDuration(col+"timeout", c.Timeout, true)
}
