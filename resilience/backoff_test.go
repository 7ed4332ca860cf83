package resilience_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/resilience"
)

func TestBackoffBoundsWithJitter(t *testing.T) {
	t.Parallel()
	rc := resilience.DefaultRetryConfig()
	rc.InitialBackoff = resilience.Duration(time.Second)
	rc.MaxBackoff = resilience.Duration(10 * time.Second)
	rc.Multiplier = 2
	rc.Jitter = 0.25
	base := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, d := range base {
		attempt := i + 1
		lo := time.Duration(float64(d) * 0.75)
		hi := min(time.Duration(float64(d)*1.25), 10*time.Second)
		var seenLow, seenHigh bool
		for range 2000 {
			got := rc.Backoff(attempt)
			require.GreaterOrEqual(t, got, lo, "attempt %d", attempt)
			require.LessOrEqual(t, got, hi, "attempt %d", attempt)
			seenLow = seenLow || got < d
			seenHigh = seenHigh || got > d
		}
		assert.True(t, seenLow, "attempt %d: jitter never went below the base", attempt)
		if hi > d {
			assert.True(t, seenHigh, "attempt %d: jitter never went above the base", attempt)
		}
	}
}

func TestBackoffWithoutJitter(t *testing.T) {
	t.Parallel()
	rc := resilience.DefaultRetryConfig()
	rc.Jitter = 0
	rc.InitialBackoff = resilience.Duration(100 * time.Millisecond)
	rc.MaxBackoff = resilience.Duration(time.Second)
	rc.Multiplier = 3
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{-5, 100 * time.Millisecond}, {0, 100 * time.Millisecond}, {1, 100 * time.Millisecond},
		{2, 300 * time.Millisecond}, {3, 900 * time.Millisecond}, {4, time.Second}, {1000, time.Second},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, rc.Backoff(tt.attempt), "attempt %d", tt.attempt)
	}
}

func TestNextBackoff(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Retry.Jitter = 0
	cfg.Retry.InitialBackoff = resilience.Duration(time.Second)
	cfg.Retry.MaxBackoff = resilience.Duration(time.Minute)
	clock := newVirtualClock()
	p := newPolicy(t, cfg, resilience.Options{Clock: clock})

	assert.Equal(t, 4*time.Second, p.NextBackoff(3, &transientErr{503}))
	assert.Equal(t, 4*time.Second, p.NextBackoff(3, &plainLimitedErr{}), "no hint: the backoff applies")
	assert.Equal(t, 90*time.Second, p.NextBackoff(1, &plainLimitedErr{after: 90 * time.Second}),
		"Retry-After overrides the backoff, even beyond max_backoff")
	assert.Equal(t, 2*time.Second, p.NextBackoff(6, &plainLimitedErr{after: 2 * time.Second}),
		"Retry-After overrides the backoff when shorter too")
	wrapped := fmt.Errorf("deliver: %w", &plainLimitedErr{after: 7 * time.Second})
	assert.Equal(t, 7*time.Second, p.NextBackoff(1, wrapped))
	assert.Equal(t, 3*time.Second, p.NextBackoff(1, &resilience.RejectedError{Reason: resilience.ErrCircuitOpen, Wait: 3 * time.Second}))

	// A pause the remote imposed (observed 429 with Retry-After) floors every backoff.
	p.Observe(http.StatusTooManyRequests, http.Header{"Retry-After": {"20"}})
	assert.Equal(t, 20*time.Second, p.NextBackoff(1, &transientErr{500}))
	clock.Advance(15 * time.Second)
	assert.Equal(t, 5*time.Second, p.NextBackoff(1, &transientErr{500}))
	clock.Advance(5 * time.Second)
	assert.Equal(t, time.Second, p.NextBackoff(1, &transientErr{500}))
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"120", 2 * time.Minute, true},
		{" 0 ", 0, true},
		{"-3", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0, true},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := resilience.ParseRetryAfter(http.Header{"Retry-After": {tt.value}}, now)
		assert.Equal(t, tt.ok, ok, "%q", tt.value)
		assert.Equal(t, tt.want, got, "%q", tt.value)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want resilience.Class
	}{
		{nil, resilience.ClassNone},
		{&transientErr{502}, resilience.ClassTransient},
		{fmt.Errorf("dial: %w", context.DeadlineExceeded), resilience.ClassTransient},
		{fmt.Errorf("boom"), resilience.ClassTransient},
		{&permanentErr{400}, resilience.ClassPermanent},
		{fmt.Errorf("wrapped: %w", &permanentErr{401}), resilience.ClassPermanent},
		{&plainLimitedErr{}, resilience.ClassRateLimited},
		{context.Canceled, resilience.ClassCanceled},
		{&resilience.RejectedError{Reason: resilience.ErrBulkheadFull}, resilience.ClassRejected},
		{resilience.ErrCircuitOpen, resilience.ClassTransient}, // the bare sentinel is not a rejection result
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, resilience.Classify(tt.err), "%v", tt.err)
	}
	assert.True(t, resilience.IsRetryable(&plainLimitedErr{}))
	assert.False(t, resilience.IsRetryable(&permanentErr{404}))
	assert.False(t, resilience.IsRetryable(context.Canceled))
	assert.Equal(t, "rate-limited", resilience.ClassRateLimited.String())
}

func TestInlineBackoffIsCapped(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Retry.InlineRetries = 10
	cfg.Retry.Multiplier = 100
	cfg.Retry.InlineBackoff = resilience.Duration(time.Microsecond)
	cfg.Retry.InitialBackoff = resilience.Duration(time.Microsecond)
	cfg.Retry.MaxBackoff = resilience.Duration(2 * time.Millisecond)
	cfg.CircuitBreaker.FailureThreshold = 100
	p := newPolicy(t, cfg, resilience.Options{})
	start := time.Now()
	var calls atomic.Int32
	_, err := resilience.Execute(t.Context(), p, counting(&calls, func() error { return &transientErr{500} }))
	require.Error(t, err)
	assert.Equal(t, int32(11), calls.Load())
	assert.Less(t, time.Since(start), 2*time.Second, "inline delays never exceed max_backoff")
}
