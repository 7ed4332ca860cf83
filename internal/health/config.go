// Package health keeps the live health of each external service: rolling windows of delivery
// outcomes and latencies, a status judged against the service's thresholds and its breaker,
// explainable early warnings (EWMA anomaly bands, error-rate trends, rate-limit quota
// forecasts, breaker flapping) and a subscription that delivers each status change.
package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
)

// ErrInvalidConfig reports a health_check_config that cannot be used. Every error of
// ParseConfig and Validate is a *ConfigError matching it.
var ErrInvalidConfig = errors.New("health: invalid config")

// ConfigError names the health_check_config field that is unusable: an unknown field (a
// typo such as window_secs), a value of the wrong type, or one out of range. Field is
// "health_check_config" when the document as a whole is not a JSON object.
type ConfigError struct {
	// Field is the JSON name of the offending field.
	Field string
	// Reason says what is wrong with it.
	Reason string
}

// Error names the field and the reason.
func (e *ConfigError) Error() string {
	return "health: invalid config: " + e.Field + ": " + e.Reason
}

// Is reports whether target is ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

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
// defaults and validates the result. It is strict, like the retry, breaker and connector
// documents: an unknown field or a value of the wrong type is a *ConfigError naming it.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var c Config
	if len(raw) > 0 && string(raw) != "null" {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return Config{}, &ConfigError{Field: "health_check_config", Reason: "not a JSON object: " + err.Error()}
		}
		known := configFields()
		for _, name := range slices.Sorted(maps.Keys(fields)) {
			if !slices.Contains(known, name) {
				return Config{}, &ConfigError{Field: name, Reason: "unknown field (known: " + strings.Join(known, ", ") + ")"}
			}
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return Config{}, &ConfigError{Field: te.Field, Reason: fmt.Sprintf("must be %s, not %s", te.Type, te.Value)}
			}
			return Config{}, &ConfigError{Field: "health_check_config", Reason: err.Error()}
		}
	}
	c = c.WithDefaults()
	return c, c.Validate()
}

// configFields returns the JSON names of Config's fields, in declaration order.
func configFields() []string {
	t := reflect.TypeFor[Config]()
	names := make([]string, 0, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
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

// Validate reports the first out-of-range field as a *ConfigError naming it.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.WindowSeconds < 1 || c.WindowSeconds > 86400:
		return bad("window_seconds", "%d is outside 1..86400", c.WindowSeconds)
	case c.ErrorRateWarning < 0 || c.ErrorRateWarning > 1:
		return bad("error_rate_warning", "%v is outside 0..1", c.ErrorRateWarning)
	case c.ErrorRateCritical < 0 || c.ErrorRateCritical > 1:
		return bad("error_rate_critical", "%v is outside 0..1", c.ErrorRateCritical)
	case c.ErrorRateWarning > c.ErrorRateCritical:
		return bad("error_rate_warning", "%v exceeds error_rate_critical %v", c.ErrorRateWarning, c.ErrorRateCritical)
	case c.LatencyP95WarningMS < 0:
		return bad("latency_p95_warning_ms", "%v is negative", c.LatencyP95WarningMS)
	case c.LatencyP95CriticalMS < 0:
		return bad("latency_p95_critical_ms", "%v is negative", c.LatencyP95CriticalMS)
	case c.LatencySLAMS < 0:
		return bad("latency_sla_ms", "%v is negative", c.LatencySLAMS)
	case c.LatencyP95WarningMS > c.LatencyP95CriticalMS:
		return bad("latency_p95_warning_ms", "%v exceeds latency_p95_critical_ms %v", c.LatencyP95WarningMS, c.LatencyP95CriticalMS)
	case c.MinSamples < 1:
		return bad("min_samples", "%d must be positive", c.MinSamples)
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
