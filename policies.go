package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ehg/hub/internal/health"
	"github.com/ehg/hub/resilience"
)

// HealthCheckConfig is the typed form of a service's health_check_config document
// (IntegrationConfig.HealthPolicy): the thresholds its health is judged by. Zero fields
// take their defaults, as missing keys of the JSON document do.
type HealthCheckConfig struct {
	// IntervalSeconds is how often the connector's Check probes the service. Default 30;
	// negative disables probes.
	IntervalSeconds int `json:"interval_seconds"`
	// WindowSeconds is the length of the rolling window of outcomes, 1 to 86400. Default
	// 300.
	WindowSeconds int `json:"window_seconds"`
	// ErrorRateWarning and ErrorRateCritical are error-rate thresholds in [0, 1], warning
	// at most critical. Defaults 0.05 and 0.25.
	ErrorRateWarning  float64 `json:"error_rate_warning"`
	ErrorRateCritical float64 `json:"error_rate_critical"`
	// LatencyP95WarningMS and LatencyP95CriticalMS are p95 latency thresholds in
	// milliseconds, warning at most critical. Defaults 2000 and 10000.
	LatencyP95WarningMS  float64 `json:"latency_p95_warning_ms"`
	LatencyP95CriticalMS float64 `json:"latency_p95_critical_ms"`
	// LatencySLAMS is the latency a delivery should stay within. Default 2000.
	LatencySLAMS float64 `json:"latency_sla_ms"`
	// MinSamples is how many outcomes the window needs before error rate and latency judge
	// the status. Default 5.
	MinSamples int `json:"min_samples"`
}

// typedPolicy is one typed policy and the JSON document it stands for.
type typedPolicy struct {
	field, docField string           // "IntegrationConfig.RetryPolicy", "IntegrationConfig.Retry"
	typed           any              // the typed value (a non-nil pointer) or nil
	doc             *json.RawMessage // the JSON document, replaced by the typed value's
	// parse validates a document over the defaults and returns a comparable value.
	parse func(json.RawMessage) (any, error)
}

// resolvePolicies validates the typed policies given and writes each into its JSON
// document, so the rest of the hub (and the store) sees only documents. A typed policy and
// a document that both are given must say the same; otherwise the result is a
// *ConfigError naming both.
func resolvePolicies(prefix string, retry *resilience.RetryConfig, breaker *resilience.CircuitBreakerConfig,
	rate *resilience.RateLimitConfig, hc *HealthCheckConfig, docs [4]*json.RawMessage) error {
	ps := []typedPolicy{
		{"RetryPolicy", "Retry", nilIf(retry), docs[0], func(b json.RawMessage) (any, error) { return resilience.ParseRetry(b) }},
		{"BreakerPolicy", "CircuitBreaker", nilIf(breaker), docs[1], func(b json.RawMessage) (any, error) { return resilience.ParseCircuitBreaker(b) }},
		{"RateLimitPolicy", "RateLimits", nilIf(rate), docs[2], func(b json.RawMessage) (any, error) { return resilience.ParseRateLimits(b) }},
		{"HealthPolicy", "HealthCheck", nilIf(hc), docs[3], func(b json.RawMessage) (any, error) { return health.ParseConfig(b) }},
	}
	for _, p := range ps {
		if p.typed == nil {
			continue
		}
		field, docField := prefix+p.field, prefix+p.docField
		b, err := json.Marshal(p.typed)
		if err != nil {
			return configErr(field, "cannot encode", err)
		}
		want, err := p.parse(b)
		if err != nil {
			return policyErr(field, err)
		}
		if len(*p.doc) > 0 {
			got, err := p.parse(*p.doc)
			if err != nil {
				return policyErr(docField, err)
			}
			if got != want {
				return configErr(field, fmt.Sprintf("conflicts with %s: give one of them, or both saying the same", docField), nil)
			}
		}
		*p.doc = b
	}
	return nil
}

// nilIf returns p as an any, or a nil any when p is a nil pointer.
func nilIf[T any](p *T) any {
	if p == nil {
		return nil
	}
	return p
}

// policyErr names the field of a policy's validation error.
func policyErr(field string, err error) error {
	var rce *resilience.ConfigError
	if errors.As(err, &rce) {
		if _, key, ok := strings.Cut(rce.Field, "."); ok {
			field += "." + key // "retry_config.multiplier" -> RetryPolicy.multiplier
		}
		return configErr(field, rce.Reason, err)
	}
	var hce *health.ConfigError
	if errors.As(err, &hce) {
		if hce.Field != "health_check_config" {
			field += "." + hce.Field
		}
		return configErr(field, hce.Reason, nil)
	}
	return configErr(field, "invalid", err)
}

// resolve applies resolvePolicies to an IntegrationConfig.
func (cfg *IntegrationConfig) resolvePolicies() error {
	return resolvePolicies("IntegrationConfig.", cfg.RetryPolicy, cfg.BreakerPolicy, cfg.RateLimitPolicy, cfg.HealthPolicy,
		[4]*json.RawMessage{&cfg.Retry, &cfg.CircuitBreaker, &cfg.RateLimits, &cfg.HealthCheck})
}

// resolve applies resolvePolicies to a ServiceConfig.
func (cfg *ServiceConfig) resolvePolicies() error {
	return resolvePolicies("ServiceConfig.", cfg.RetryPolicy, cfg.BreakerPolicy, cfg.RateLimitPolicy, cfg.HealthPolicy,
		[4]*json.RawMessage{&cfg.Retry, &cfg.CircuitBreaker, &cfg.RateLimits, &cfg.HealthCheck})
}
