package resilience_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/resilience"
)

func TestErrorValues(t *testing.T) {
	t.Parallel()
	rej := &resilience.RejectedError{Reason: resilience.ErrCircuitOpen, Endpoint: "https://a", Wait: 2 * time.Second}
	assert.Equal(t, `resilience: circuit breaker open: circuit breaker open (host "https://a"); retry in 2s`, rej.Error())
	assert.True(t, rej.Retryable())
	assert.False(t, rej.RateLimited())
	assert.Equal(t, 2*time.Second, rej.RetryAfter())
	bh := &resilience.RejectedError{Reason: resilience.ErrBulkheadFull}
	assert.Equal(t, resilience.ErrBulkheadFull.Error(), bh.Error())

	_, err := resilience.ParseColumns(resilience.Columns{RateLimits: json.RawMessage(`{"burst": -1}`)})
	assert.Equal(t, "resilience: invalid config rate_limits.burst = -1: must be between 0 (one second's worth) and 1e9", err.Error())
	_, err = resilience.ParseColumns(resilience.Columns{RateLimits: json.RawMessage(`{x}`)})
	var ce *resilience.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Error(t, ce.Err)
	assert.Contains(t, err.Error(), "rate_limits: cannot decode JSON")
	var syntax *json.SyntaxError
	assert.True(t, errors.As(err, &syntax), "the decoding error stays reachable")

	names := map[resilience.Class]string{
		resilience.ClassNone: "none", resilience.ClassTransient: "transient", resilience.ClassRateLimited: "rate-limited",
		resilience.ClassPermanent: "permanent", resilience.ClassCanceled: "canceled", resilience.ClassRejected: "rejected",
		resilience.Class(42): "Class(42)",
	}
	for c, want := range names {
		assert.Equal(t, want, c.String())
	}
}

func TestPolicyAccessors(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Retry.MaxRetries = 6
	p := newPolicy(t, cfg, resilience.Options{Name: "billing", Endpoints: []string{"https://a", "https://b"}})
	assert.Equal(t, "billing", p.Name())
	assert.Equal(t, 6, p.MaxRetries())
	assert.Equal(t, cfg, p.Config())
	var eps []string
	for _, b := range p.Breakers() {
		eps = append(eps, b.Endpoint())
	}
	assert.Equal(t, []string{"https://a", "https://b"}, eps)

	p.ForceOpen()
	assert.False(t, p.Allows())
	p.ForceClose()
	assert.True(t, p.Allows())
	assert.Equal(t, resilience.StateClosed, p.State())

	cfg.RateLimit.Adaptive = false
	q := newPolicy(t, cfg, resilience.Options{})
	q.Observe(429, nil)
	q.ResetHeadroom()
	assert.Equal(t, resilience.Headroom{Limit: -1, Remaining: -1}, q.Headroom())
	assert.True(t, q.Allows(), "without adaptive limiting a 429 header does not pause")
}
