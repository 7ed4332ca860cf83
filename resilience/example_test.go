package resilience_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ehg/hub/resilience"
)

// A service's policy built from its stored columns, and a call through it.
func ExampleExecute() {
	cfg, err := resilience.ParseColumns(resilience.Columns{
		RateLimits:     json.RawMessage(`{"requests_per_minute": 1000}`),
		CircuitBreaker: json.RawMessage(`{"failure_threshold": 5, "recovery_timeout": 30}`),
		Retry:          json.RawMessage(`{"inline_backoff": 0.001}`),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := resilience.New(cfg, resilience.Options{
		Name:      "crm",
		Endpoints: []string{"https://api.example.com", "https://backup.example.com"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	attempts := 0
	body, err := resilience.Execute(context.Background(), p, func(ctx context.Context, endpoint string) (string, error) {
		attempts++
		if attempts == 1 {
			return "", errors.New("connection reset") // a blip: retried inline once
		}
		return "created via " + endpoint, nil
	})
	fmt.Println(body, err)
	fmt.Println("attempts:", attempts, "breaker:", p.State())
	// Output:
	// created via https://api.example.com <nil>
	// attempts: 2 breaker: closed
}

type rateLimited struct{ after time.Duration }

func (e rateLimited) Error() string             { return "429 Too Many Requests" }
func (e rateLimited) RateLimited() bool         { return true }
func (e rateLimited) RetryAfter() time.Duration { return e.after }

// The delivery engine schedules durable retries with NextBackoff; Retry-After overrides it.
func ExamplePolicy_NextBackoff() {
	cfg, _ := resilience.ParseColumns(resilience.Columns{
		Retry: json.RawMessage(`{"initial_backoff": 2, "max_backoff": 30, "multiplier": 3, "jitter": 0}`),
	})
	p, _ := resilience.New(cfg, resilience.Options{})
	var delays []time.Duration
	for attempt := 1; attempt <= 4; attempt++ {
		delays = append(delays, p.NextBackoff(attempt, errors.New("502 Bad Gateway")))
	}
	fmt.Println(delays)
	fmt.Println(p.NextBackoff(1, rateLimited{after: 90 * time.Second}))
	// Output:
	// [2s 6s 18s 30s]
	// 1m30s
}

// Breaker transitions reach every listener, so health checks and recovery can react.
func ExamplePolicy_OnStateChange() {
	cfg := resilience.DefaultConfig()
	cfg.CircuitBreaker.FailureThreshold = 2
	cfg.Retry.InlineRetries = 0
	p, _ := resilience.New(cfg, resilience.Options{Name: "slack"})
	stop := p.OnStateChange(func(c resilience.StateChange) {
		fmt.Printf("%s: %s -> %s (forced %t)\n", c.Service, c.From, c.To, c.Forced)
	})
	defer stop()

	fail := func(context.Context, string) (int, error) { return 0, errors.New("503 Service Unavailable") }
	for range 3 {
		_, err := resilience.Execute(context.Background(), p, fail)
		fmt.Println(resilience.Classify(err), errors.Is(err, resilience.ErrCircuitOpen))
	}
	p.Reset()
	// Output:
	// transient false
	// slack: closed -> open (forced false)
	// transient false
	// rejected true
	// slack: open -> closed (forced true)
}

// Reading a remote's rate-limit headers; Observe feeds the same to the adaptive limiter.
func ExampleParseQuota() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("RateLimit-Limit", "100")
	h.Set("RateLimit-Remaining", "3")
	h.Set("RateLimit-Reset", "20")
	q := resilience.ParseQuota(h, now)
	fmt.Println(q.Source, q.Limit, q.Remaining, q.Reset.Sub(now))

	h = http.Header{}
	h.Set("Sforce-Limit-Info", "api-usage=4990/5000")
	q = resilience.ParseQuota(h, now)
	fmt.Println(q.Source, q.Limit, q.Remaining, q.Window)
	// Output:
	// ratelimit 100 3 20s
	// sforce 5000 10 24h0m0s
}
