// Package resilience builds the per-service resilience policy of the Integration Hub on
// failsafe-go: inline retries for quick blips, a bulkhead (or failsafe's adaptive concurrency
// limiter), a rate-limit ceiling, an adaptive limiter that learns the remote service's limits
// from its responses, a circuit breaker per endpoint with ordered failover, and a per-attempt
// timeout. It imports nothing of the hub.
//
// # Building
//
// A service's policy comes from its stored JSON columns:
//
//	cfg, err := resilience.ParseColumns(resilience.Columns{
//		RateLimits:     svc.RateLimits,           // {"requests_per_minute": 1000, "burst": 20}
//		CircuitBreaker: svc.CircuitBreakerConfig, // {"failure_threshold": 5, "recovery_timeout": 30}
//		Retry:          svc.RetryConfig,          // {"initial_backoff": 1, "max_backoff": 300}
//		MaxRetries:     &svc.MaxRetries,
//	})
//	p, err := resilience.New(cfg, resilience.Options{
//		Name:      svc.Name,
//		Endpoints: append([]string{svc.BaseURL}, svc.BackupURLs...),
//	})
//
// Missing keys keep the defaults (the seed's 1000 requests/minute, 5 consecutive failures,
// 30 s recovery, 3 retries); invalid or unknown keys give a *ConfigError wrapping
// ErrInvalidConfig. Build once per service; the Policy is safe for concurrent use.
//
// # Calling
//
//	resp, err := resilience.Execute(ctx, p, func(ctx context.Context, endpoint string) (*Response, error) {
//		return connector.Invoke(ctx, endpoint, req)
//	})
//
// The call passes bulkhead → ceiling rate limiter → adaptive limiter → the endpoint's circuit
// breaker → timeout, inside an inline retry that only repeats quick transient failures.
//
// # Errors
//
// Errors from the call are classified by errors.As against three small interfaces that the
// connectors' errors implement: [RetryableError], [PermanentError] and [RateLimitedError].
// Permanent errors are never retried and do not count as outage failures for the breaker;
// rate-limited errors pause the adaptive limiter (for Retry-After when given) and do not count
// either; cancellation is never retried. Anything else is transient. [Classify] exposes that
// decision. Calls refused before reaching the service return a *RejectedError matching
// ErrCircuitOpen, ErrRateLimited or ErrBulkheadFull, each of which wraps the failsafe-go error
// it stands for.
//
// # Durable retries, health and recovery
//
// The delivery engine owns durable retries: [Policy.NextBackoff] gives the delay for retry n,
// honouring Retry-After; [Policy.Ready] and [Policy.Allows] tell whether a call could go now, so
// events can wait out an open breaker or a remote pause instead of burning retries.
// [Policy.Observe] feeds response headers to the adaptive limiter, [Policy.Headroom] reports
// the remote limit and [Policy.Status] snapshots everything for health reports. Breaker state is readable per endpoint
// ([Policy.Breakers]), every transition reaches [Policy.OnStateChange] listeners, and
// ForceOpen, ForceClose and Reset control it.
package resilience
