// Package health keeps the live health of each external service: rolling windows of delivery
// outcomes and latencies, a status judged against the service's thresholds and its breaker,
// explainable early warnings (EWMA anomaly bands, error-rate trends, rate-limit quota
// forecasts, breaker flapping) and a subscription that delivers each status change.
package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidConfig reports a health_check_config that cannot be used.
var ErrInvalidConfig = errors.New("health: invalid config")

// Config is a service's health_check_config column. Zero fields take the defaults below.
type Config struct {
	// IntervalSeconds is how often the connector's Check probes the service. Default 30;
	// negative disables probes.
	IntervalSeconds int `json:"interval_seconds"`
	// WindowSeconds is the length of the rolling window of outcomes. Default 300.
	WindowSeconds int `json:"window_seconds"`
	// ErrorRateWarning and ErrorRateCritical are error-rate thresholds in [0,1].
	// Defaults 0.05 and 0.25.
	ErrorRateWarning  float64 `json:"error_rate_warning"`
	ErrorRateCritical float64 `json:"error_rate_critical"`
	// LatencyP95WarningMS and LatencyP95CriticalMS are p95 latency thresholds.
	// Defaults 2000 and 10000.
	LatencyP95WarningMS  float64 `json:"latency_p95_warning_ms"`
	LatencyP95CriticalMS float64 `json:"latency_p95_critical_ms"`
	// LatencySLAMS is the latency a delivery should stay within. Default 2000.
	LatencySLAMS float64 `json:"latency_sla_ms"`
	// MinSamples is how many outcomes the window needs before error rate and latency judge
	// the status. Default 5.
	MinSamples int `json:"min_samples"`
}

// Defaults of Config.
const (
	DefaultIntervalSeconds      = 30
	DefaultWindowSeconds        = 300
	DefaultErrorRateWarning     = 0.05
	DefaultErrorRateCritical    = 0.25
	DefaultLatencyP95WarningMS  = 2000
	DefaultLatencyP95CriticalMS = 10000
	DefaultLatencySLAMS         = 2000
	DefaultMinSamples           = 5
)

// ParseConfig decodes a health_check_config column (empty means all defaults), applies the
// defaults and validates the result.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var c Config
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &c); err != nil {
			return Config{}, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
		}
	}
	c = c.WithDefaults()
	return c, c.Validate()
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	if c.IntervalSeconds == 0 {
		c.IntervalSeconds = DefaultIntervalSeconds
	}
	if c.WindowSeconds == 0 {
		c.WindowSeconds = DefaultWindowSeconds
	}
	if c.MinSamples == 0 {
		c.MinSamples = DefaultMinSamples
	}
	def(&c.ErrorRateWarning, DefaultErrorRateWarning)
	def(&c.ErrorRateCritical, DefaultErrorRateCritical)
	def(&c.LatencyP95WarningMS, DefaultLatencyP95WarningMS)
	def(&c.LatencyP95CriticalMS, DefaultLatencyP95CriticalMS)
	def(&c.LatencySLAMS, DefaultLatencySLAMS)
	return c
}

// Validate reports the first out-of-range field, naming it.
func (c Config) Validate() error {
	switch {
	case c.WindowSeconds < 1 || c.WindowSeconds > 86400:
		return fmt.Errorf("%w: window_seconds %d is outside 1..86400", ErrInvalidConfig, c.WindowSeconds)
	case c.ErrorRateWarning < 0 || c.ErrorRateWarning > 1:
		return fmt.Errorf("%w: error_rate_warning %v is outside 0..1", ErrInvalidConfig, c.ErrorRateWarning)
	case c.ErrorRateCritical < 0 || c.ErrorRateCritical > 1:
		return fmt.Errorf("%w: error_rate_critical %v is outside 0..1", ErrInvalidConfig, c.ErrorRateCritical)
	case c.ErrorRateWarning > c.ErrorRateCritical:
		return fmt.Errorf("%w: error_rate_warning %v exceeds error_rate_critical %v", ErrInvalidConfig, c.ErrorRateWarning, c.ErrorRateCritical)
	case c.LatencyP95WarningMS < 0 || c.LatencyP95CriticalMS < 0 || c.LatencySLAMS < 0:
		return fmt.Errorf("%w: latency thresholds must not be negative", ErrInvalidConfig)
	case c.LatencyP95WarningMS > c.LatencyP95CriticalMS:
		return fmt.Errorf("%w: latency_p95_warning_ms %v exceeds latency_p95_critical_ms %v", ErrInvalidConfig, c.LatencyP95WarningMS, c.LatencyP95CriticalMS)
	case c.MinSamples < 1:
		return fmt.Errorf("%w: min_samples %d must be positive", ErrInvalidConfig, c.MinSamples)
	}
	return nil
}

// Window returns the rolling window length.
func (c Config) Window() time.Duration { return time.Duration(c.WindowSeconds) * time.Second }

// Interval returns the probe interval, 0 when probes are disabled.
func (c Config) Interval() time.Duration {
	if c.IntervalSeconds < 0 {
		return 0
	}
	return time.Duration(c.IntervalSeconds) * time.Second
}
