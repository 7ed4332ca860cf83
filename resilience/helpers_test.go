package resilience_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ehg/hub/resilience"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// transientErr is a 5xx-style error: Retryable.
type transientErr struct{ status int }

func (e *transientErr) Error() string   { return fmt.Sprintf("remote returned %d", e.status) }
func (e *transientErr) Retryable() bool { return true }

// permanentErr is a 4xx-style error: the caller's fault.
type permanentErr struct{ status int }

func (e *permanentErr) Error() string {
	return fmt.Sprintf("remote rejected the request: %d", e.status)
}
func (e *permanentErr) Permanent() bool { return true }

// limitedErr is a 429: rate limited, with an optional Retry-After and the response headers.
type limitedErr struct {
	after  time.Duration
	header http.Header
}

func (e *limitedErr) Error() string               { return "remote rate limit exceeded" }
func (e *limitedErr) RateLimited() bool           { return true }
func (e *limitedErr) RetryAfter() time.Duration   { return e.after }
func (e *limitedErr) ResponseStatus() int         { return http.StatusTooManyRequests }
func (e *limitedErr) ResponseHeader() http.Header { return e.header }

// plainLimitedErr is a rate-limited error without headers.
type plainLimitedErr struct{ after time.Duration }

func (e *plainLimitedErr) Error() string             { return "rate limited" }
func (e *plainLimitedErr) RateLimited() bool         { return true }
func (e *plainLimitedErr) RetryAfter() time.Duration { return e.after }

// virtualClock is a Clock whose After advances time at once: a sequential run over minutes of
// remote windows takes milliseconds and is deterministic.
type virtualClock struct {
	mu  sync.Mutex
	now time.Time
}

func newVirtualClock() *virtualClock {
	return &virtualClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *virtualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
}

func (c *virtualClock) After(d time.Duration) <-chan time.Time {
	c.Advance(d)
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

var _ resilience.Clock = (*virtualClock)(nil)

// testConfig returns defaults made quick and deterministic for unit tests.
func testConfig() resilience.Config {
	cfg := resilience.DefaultConfig()
	cfg.RateLimit.RequestsPerMinute = 0
	cfg.Retry.InlineRetries = 0
	cfg.Retry.InlineBackoff = resilience.Duration(time.Millisecond)
	cfg.CircuitBreaker.RecoveryTimeout = resilience.Duration(40 * time.Millisecond)
	return cfg
}

func newPolicy(t testing.TB, cfg resilience.Config, opts resilience.Options) *resilience.Policy {
	t.Helper()
	p, err := resilience.New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}
