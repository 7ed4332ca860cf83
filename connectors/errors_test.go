package connectors_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
)

func TestErrorClassMethods(t *testing.T) {
	t.Parallel()
	cause := errors.New("boom")
	tests := []struct {
		class                            connectors.Class
		sentinel                         error
		retryable, permanent, rateLimite bool
	}{
		{connectors.ClassTransient, connectors.ErrTransient, true, false, false},
		{connectors.ClassPermanent, connectors.ErrPermanent, false, true, false},
		{connectors.ClassAuth, connectors.ErrAuth, false, true, false},
		{connectors.ClassRateLimited, connectors.ErrRateLimited, true, false, true},
	}
	all := []error{connectors.ErrTransient, connectors.ErrPermanent, connectors.ErrAuth, connectors.ErrRateLimited}
	for _, tt := range tests {
		t.Run(tt.class.String(), func(t *testing.T) {
			t.Parallel()
			e := &connectors.Error{Class: tt.class, Op: "x.op", StatusCode: 503, RetryDelay: 2 * time.Second, Err: cause}
			wrapped := fmt.Errorf("outer: %w", e)
			for _, s := range all {
				assert.Equal(t, s == tt.sentinel, errors.Is(wrapped, s), "sentinel %v", s)
			}
			assert.ErrorIs(t, wrapped, cause)
			assert.Equal(t, tt.retryable, e.Retryable())
			assert.Equal(t, tt.permanent, e.Permanent())
			assert.Equal(t, tt.rateLimite, e.RateLimited())
			assert.Equal(t, 2*time.Second, e.RetryAfter())
			var got *connectors.Error
			require.ErrorAs(t, wrapped, &got)
			assert.Equal(t, 503, got.StatusCode)
		})
	}
}

func TestErrorTextAndNegativeDelay(t *testing.T) {
	t.Parallel()
	e := &connectors.Error{Class: connectors.ClassRateLimited, Op: "slack.chat.postMessage", StatusCode: 429, Code: "ratelimited", Message: "slow down", RetryDelay: 3 * time.Second}
	assert.Equal(t, "connectors: slack.chat.postMessage: rate-limited (HTTP 429, code ratelimited) retry after 3s: slow down", e.Error())
	assert.Equal(t, time.Duration(0), (&connectors.Error{RetryDelay: -time.Second}).RetryAfter())
	assert.Equal(t, "unknown", connectors.Class(0).String())
}

func TestClassForStatus(t *testing.T) {
	t.Parallel()
	tests := map[int]connectors.Class{
		400: connectors.ClassPermanent, 401: connectors.ClassAuth, 403: connectors.ClassAuth,
		404: connectors.ClassPermanent, 408: connectors.ClassTransient, 409: connectors.ClassPermanent,
		422: connectors.ClassPermanent, 425: connectors.ClassTransient, 429: connectors.ClassRateLimited,
		500: connectors.ClassTransient, 501: connectors.ClassPermanent, 502: connectors.ClassTransient,
		503: connectors.ClassTransient, 504: connectors.ClassTransient, 302: connectors.ClassPermanent,
	}
	for status, want := range tests {
		assert.Equal(t, want, connectors.ClassForStatus(status), "status %d", status)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "token [REDACTED] and [REDACTED]", connectors.Redact("token abc123 and xyz", "abc123", "", "xyz"))
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.value != "" {
			h.Set("Retry-After", tt.value)
		}
		assert.Equal(t, tt.want, connectors.ParseRetryAfter(h, now), "value %q", tt.value)
	}
}

func TestHMAC(t *testing.T) {
	t.Parallel()
	secret, msg := []byte("s3cret"), []byte("payload")
	sig := connectors.SignHMACSHA256(secret, msg)
	assert.True(t, connectors.ValidHMACSHA256(secret, msg, sig))
	assert.False(t, connectors.ValidHMACSHA256(secret, []byte("payloaD"), sig))
	assert.False(t, connectors.ValidHMACSHA256(secret, msg, "zz"))
	assert.False(t, connectors.ValidHMACSHA256(nil, msg, sig))
}

// The method sets package resilience reads through errors.As. They are restated here
// because connectors does not import resilience; a change on either side breaks this.
type (
	retryableError interface {
		error
		Retryable() bool
	}
	permanentError interface {
		error
		Permanent() bool
	}
	rateLimitedError interface {
		error
		RateLimited() bool
		RetryAfter() time.Duration
	}
)

var (
	_ retryableError   = (*connectors.Error)(nil)
	_ permanentError   = (*connectors.Error)(nil)
	_ rateLimitedError = (*connectors.Error)(nil)
)

func TestContextErrorsAreNotClassified(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := connectors.TransportError(ctx, "op", errors.New("read: connection reset"))
	require.ErrorIs(t, err, context.Canceled)
	var rl rateLimitedError
	assert.False(t, errors.As(err, &rl), "a cancelled call must not look rate-limited")
	var pe permanentError
	assert.False(t, errors.As(err, &pe))
}
