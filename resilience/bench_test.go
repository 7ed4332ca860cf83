package resilience_test

import (
	"context"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"

	"github.com/ehg/hub/resilience"
)

type benchResp struct{ status int }

var benchOK = &benchResp{status: 200}

func healthyCall(context.Context, string) (*benchResp, error) { return benchOK, nil }

// benchConfig is the default policy with a ceiling high enough never to bind: retry + bulkhead
// + rate limiter + adaptive pacer + breaker + timeout all run on every call.
func benchConfig() resilience.Config {
	cfg := resilience.DefaultConfig()
	cfg.RateLimit.RequestsPerMinute = 1_000_000_000
	return cfg
}

// BenchmarkExecuteHealthy: one successful call through the full policy, built once.
func BenchmarkExecuteHealthy(b *testing.B) {
	p, err := resilience.New(benchConfig(), resilience.Options{Name: "bench", Endpoints: []string{"https://api.example.com"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r, err := resilience.Execute(ctx, p, healthyCall)
		if err != nil || r != benchOK {
			b.Fatal(r, err)
		}
	}
}

// BenchmarkFailsafeDirect: the same failsafe-go policies, configured the same way, composed
// directly with failsafe.With and called the same way (with the caller's context, passing the
// attempt's context to the call).
func BenchmarkFailsafeDirect(b *testing.B) {
	cfg := benchConfig()
	isOutage := func(_ *benchResp, err error) bool { return resilience.Classify(err) == resilience.ClassTransient }
	retry := retrypolicy.NewBuilder[*benchResp]().
		HandleIf(isOutage).
		WithMaxRetries(cfg.Retry.InlineRetries).
		WithBackoffFactor(cfg.Retry.InlineBackoff.D(), time.Second, cfg.Retry.Multiplier).
		WithJitterFactor(cfg.Retry.Jitter).
		ReturnLastFailure().
		Build()
	bh := bulkhead.NewBuilder[*benchResp](uint(cfg.RateLimit.MaxConcurrent)).WithMaxWaitTime(cfg.RateLimit.MaxWait.D()).Build()
	burst := cfg.RateLimit.RequestsPerMinute / 60
	rl := ratelimiter.NewBurstyBuilder[*benchResp](uint(burst), time.Second).WithMaxWaitTime(cfg.RateLimit.MaxWait.D()).Build()
	cb := circuitbreaker.NewBuilder[*benchResp]().
		HandleIf(isOutage).
		WithFailureThreshold(uint(cfg.CircuitBreaker.FailureThreshold)).
		WithSuccessThreshold(uint(cfg.CircuitBreaker.SuccessThreshold)).
		WithDelay(cfg.CircuitBreaker.RecoveryTimeout.D()).
		Build()
	to := timeout.New[*benchResp](cfg.Retry.Timeout.D())
	exec := failsafe.With[*benchResp](retry, bh, rl, cb, to)
	ctx := context.Background()
	const endpoint = "https://api.example.com"
	b.ReportAllocs()
	for b.Loop() {
		r, err := exec.WithContext(ctx).GetWithExecution(func(e failsafe.Execution[*benchResp]) (*benchResp, error) {
			return healthyCall(e.Context(), endpoint)
		})
		if err != nil || r != benchOK {
			b.Fatal(r, err)
		}
	}
}

// BenchmarkExecuteHealthyParallel: the full policy under concurrent callers.
func BenchmarkExecuteHealthyParallel(b *testing.B) {
	p, err := resilience.New(benchConfig(), resilience.Options{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := resilience.Execute(ctx, p, healthyCall); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkExecuteHealthyObserved: a healthy call whose response carries GitHub-style
// rate-limit headers, observed by the adaptive limiter on every call.
func BenchmarkExecuteHealthyObserved(b *testing.B) {
	p, err := resilience.New(benchConfig(), resilience.Options{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	res := &httpResult{status: 200, header: map[string][]string{
		"X-Ratelimit-Limit": {"1000000000"}, "X-Ratelimit-Remaining": {"999999999"},
		"X-Ratelimit-Reset": {"4102444800"},
	}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := resilience.Execute(ctx, p, func(context.Context, string) (*httpResult, error) { return res, nil }); err != nil {
			b.Fatal(err)
		}
	}
}
