package resilience

import (
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
)

// Backoff returns the delay before retry number attempt (1 for the first retry) under c:
// d = min(InitialBackoff * Multiplier^(attempt-1), MaxBackoff), then jittered uniformly in
// [d*(1-Jitter), min(d*(1+Jitter), MaxBackoff)]. attempt < 1 counts as 1. It ignores
// Retry-After; [Policy.NextBackoff] adds that. Safe for concurrent use.
func (c RetryConfig) Backoff(attempt int) time.Duration {
	return backoff(c.InitialBackoff.D(), c.MaxBackoff.D(), c.Multiplier, c.Jitter, attempt, randFloat)
}

// backoff is the shared exponential-with-bounded-jitter computation; random returns [0, 1).
func backoff(initial, maxDelay time.Duration, mult, jitter float64, attempt int, random func() float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if initial <= 0 {
		return 0
	}
	d := float64(initial) * math.Pow(mult, float64(attempt-1))
	if maxDelay <= 0 {
		maxDelay = maxConfigDuration // never overflow, even uncapped
	}
	if d > float64(maxDelay) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(maxDelay)
	}
	if jitter > 0 {
		lo, hi := d*(1-jitter), min(d*(1+jitter), float64(maxDelay))
		d = lo + random()*(hi-lo)
	}
	return time.Duration(d)
}

// ParseRetryAfter reads a Retry-After header, either delta-seconds or an HTTP date (relative
// to now), and reports whether a usable value was present. Negative or past values yield 0 and
// true. Connectors can use it to fill RateLimitedError.RetryAfter.
//
// Delta-seconds go through failsafehttp.DelayFunc, failsafe-go's own Retry-After parsing;
// failsafe-go does not read HTTP dates, so those are parsed with http.ParseTime.
func ParseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	// failsafehttp.DelayFunc only reads Retry-After of a 429/503 response.
	resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {v}}}
	if d := failsafehttp.DelayFunc(retryAfterAttempt{resp: resp}); d >= 0 {
		return d, true
	} else if d < -1 {
		return 0, true // negative delta-seconds: retry now
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

// retryAfterAttempt hands a synthetic response to failsafehttp.DelayFunc, which reads only
// LastResult; the embedded interface is nil and never called.
type retryAfterAttempt struct {
	failsafe.ExecutionAttempt[*http.Response]
	resp *http.Response
}

func (a retryAfterAttempt) LastResult() *http.Response { return a.resp }
