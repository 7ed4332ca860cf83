package resilience_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"

	"github.com/ehg/hub/resilience"
)

// recorder collects StateChange events.
type recorder struct {
	mu     sync.Mutex
	events []resilience.StateChange
}

func (r *recorder) add(e resilience.StateChange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) transitions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.events))
	for _, e := range r.events {
		out = append(out, e.From.String()+"->"+e.To.String())
	}
	return out
}

// counting returns a call that fails with err (nil = success) and counts its invocations.
func counting(calls *atomic.Int32, err func() error) func(context.Context, string) (string, error) {
	return func(context.Context, string) (string, error) {
		calls.Add(1)
		if e := err(); e != nil {
			return "", e
		}
		return "ok", nil
	}
}

func TestBreakerLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg := testConfig()
	cfg.CircuitBreaker.FailureThreshold = 3
	cfg.CircuitBreaker.SuccessThreshold = 2
	cfg.CircuitBreaker.RecoveryTimeout = resilience.Duration(200 * time.Millisecond)
	p := newPolicy(t, cfg, resilience.Options{Name: "crm"})
	rec := &recorder{}
	cancel := p.OnStateChange(rec.add)
	defer cancel()

	var calls atomic.Int32
	var failing atomic.Bool
	failing.Store(true)
	fn := counting(&calls, func() error {
		if failing.Load() {
			return &transientErr{503}
		}
		return nil
	})

	// Exactly failure_threshold consecutive failures open it: two do not.
	for range 2 {
		_, err := resilience.Execute(ctx, p, fn)
		require.ErrorAs(t, err, new(*transientErr))
	}
	assert.Equal(t, resilience.StateClosed, p.State())
	assert.True(t, p.Allows())
	_, err := resilience.Execute(ctx, p, fn)
	require.ErrorAs(t, err, new(*transientErr), "the failing call's own error comes back")
	assert.Equal(t, resilience.StateOpen, p.State())
	assert.Equal(t, []string{"closed->open"}, rec.transitions())

	// While open it rejects without calling.
	before := calls.Load()
	_, err = resilience.Execute(ctx, p, fn)
	require.ErrorIs(t, err, resilience.ErrCircuitOpen)
	require.ErrorIs(t, err, circuitbreaker.ErrOpen, "the sentinel wraps failsafe's")
	var rej *resilience.RejectedError
	require.ErrorAs(t, err, &rej)
	assert.Positive(t, rej.Wait)
	assert.LessOrEqual(t, rej.Wait, 200*time.Millisecond)
	assert.Equal(t, resilience.ClassRejected, resilience.Classify(err))
	assert.Equal(t, before, calls.Load())
	assert.False(t, p.Allows())
	assert.Positive(t, p.Ready())

	// After the recovery timeout it lets a probe through (half-open), and closes only after
	// success_threshold successes.
	require.Eventually(t, p.Allows, 2*time.Second, time.Millisecond)
	failing.Store(false)
	_, err = resilience.Execute(ctx, p, fn)
	require.NoError(t, err)
	assert.Equal(t, resilience.StateHalfOpen, p.State())
	_, err = resilience.Execute(ctx, p, fn)
	require.NoError(t, err)
	assert.Equal(t, resilience.StateClosed, p.State())
	assert.Equal(t, []string{"closed->open", "open->half-open", "half-open->closed"}, rec.transitions())
	for _, e := range rec.events {
		assert.Equal(t, "crm", e.Service)
		assert.False(t, e.Forced)
	}
}

func TestBreakerHalfOpenFailureReopens(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.CircuitBreaker.FailureThreshold = 1
	cfg.CircuitBreaker.RecoveryTimeout = resilience.Duration(20 * time.Millisecond)
	p := newPolicy(t, cfg, resilience.Options{})
	var calls atomic.Int32
	fn := counting(&calls, func() error { return &transientErr{500} })
	_, _ = resilience.Execute(t.Context(), p, fn)
	require.Equal(t, resilience.StateOpen, p.State())
	require.Eventually(t, p.Allows, 2*time.Second, time.Millisecond)
	_, err := resilience.Execute(t.Context(), p, fn)
	require.ErrorAs(t, err, new(*transientErr))
	assert.Equal(t, resilience.StateOpen, p.State(), "a failed probe re-opens the breaker")
	assert.Equal(t, int32(2), calls.Load())
}

func TestPermanentErrorsNeitherRetriedNorTrip(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Retry.InlineRetries = 3
	cfg.CircuitBreaker.FailureThreshold = 2
	p := newPolicy(t, cfg, resilience.Options{})
	var calls atomic.Int32
	fn := counting(&calls, func() error { return &permanentErr{400} })
	for range 10 {
		_, err := resilience.Execute(t.Context(), p, fn)
		require.ErrorAs(t, err, new(*permanentErr))
		assert.Equal(t, resilience.ClassPermanent, resilience.Classify(err))
	}
	assert.Equal(t, int32(10), calls.Load(), "one call per Execute: permanent errors are not retried")
	assert.Equal(t, resilience.StateClosed, p.State())
	assert.Zero(t, p.Breakers()[0].Metrics().Failures)
}

func TestRateLimitedErrorsDoNotTrip(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Retry.InlineRetries = 2
	cfg.CircuitBreaker.FailureThreshold = 1
	cfg.RateLimit.Adaptive = false // no pause, so the loop below calls every time
	p := newPolicy(t, cfg, resilience.Options{})
	var calls atomic.Int32
	fn := counting(&calls, func() error { return &plainLimitedErr{after: time.Second} })
	for range 5 {
		_, err := resilience.Execute(t.Context(), p, fn)
		require.ErrorAs(t, err, new(*plainLimitedErr))
	}
	assert.Equal(t, int32(5), calls.Load(), "429s are not retried inline: the engine waits Retry-After")
	assert.Equal(t, resilience.StateClosed, p.State())
}

func TestCallerCancellationDoesNotTrip(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Retry.InlineRetries = 2
	cfg.CircuitBreaker.FailureThreshold = 1
	p := newPolicy(t, cfg, resilience.Options{})
	var calls atomic.Int32
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Millisecond)
	defer cancel()
	_, err := resilience.Execute(ctx, p, func(ctx context.Context, _ string) (int, error) {
		calls.Add(1)
		<-ctx.Done()
		return 0, ctx.Err()
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, int32(1), calls.Load(), "cancellation is never retried")
	assert.Equal(t, resilience.StateClosed, p.State(), "the caller's deadline is not an outage")

	_, err = resilience.Execute(ctx, p, func(context.Context, string) (int, error) { return 1, nil })
	require.ErrorIs(t, err, context.DeadlineExceeded, "a done context is refused before any call")
}

func TestForceOpenCloseReset(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.CircuitBreaker.RecoveryTimeout = resilience.Duration(time.Millisecond)
	p := newPolicy(t, cfg, resilience.Options{Endpoints: []string{"http://primary", "http://backup"}})
	rec := &recorder{}
	defer p.OnStateChange(rec.add)()
	var calls atomic.Int32
	ok := counting(&calls, func() error { return nil })

	p.ForceOpen()
	time.Sleep(5 * time.Millisecond) // longer than the recovery timeout: a forced open holds anyway
	_, err := resilience.Execute(t.Context(), p, ok)
	require.ErrorIs(t, err, resilience.ErrCircuitOpen)
	assert.Zero(t, calls.Load())
	assert.Equal(t, resilience.StateOpen, p.State())
	assert.False(t, p.Allows())
	for _, b := range p.Breakers() {
		assert.True(t, b.Forced())
		assert.False(t, b.Permits())
	}

	b, err := p.Breaker("http://primary")
	require.NoError(t, err)
	b.ForceClose()
	assert.Equal(t, resilience.StateClosed, b.State())
	ep, err := resilience.Execute(t.Context(), p, func(_ context.Context, endpoint string) (string, error) { return endpoint, nil })
	require.NoError(t, err)
	assert.Equal(t, "http://primary", ep)

	p.Reset()
	for _, b := range p.Breakers() {
		assert.Equal(t, resilience.StateClosed, b.State())
		assert.False(t, b.Forced())
	}
	_, err = p.Breaker("http://nowhere")
	require.ErrorIs(t, err, resilience.ErrUnknownEndpoint)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.events, 4) // 2 forced opens, primary closed, backup reset
	for _, e := range rec.events {
		assert.True(t, e.Forced)
	}
}

func TestFailureRateThreshold(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.CircuitBreaker.FailureRateThreshold = 0.5
	cfg.CircuitBreaker.MinimumCalls = 4
	cfg.CircuitBreaker.Window = resilience.Duration(time.Minute)
	p := newPolicy(t, cfg, resilience.Options{})
	var n atomic.Int32
	fn := counting(&n, func() error {
		if n.Load()%2 == 0 {
			return &transientErr{500}
		}
		return nil
	})
	for range 3 {
		_, _ = resilience.Execute(t.Context(), p, fn)
	}
	assert.Equal(t, resilience.StateClosed, p.State(), "below minimum_calls the rate does not apply")
	_, _ = resilience.Execute(t.Context(), p, fn)
	assert.Equal(t, resilience.StateOpen, p.State(), "2 of 4 failed: 50%% opens it")
}

func TestInlineRetryStopsWhenBreakerOpens(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Retry.InlineRetries = 3
	cfg.CircuitBreaker.FailureThreshold = 2
	p := newPolicy(t, cfg, resilience.Options{})
	var calls atomic.Int32
	_, err := resilience.Execute(t.Context(), p, counting(&calls, func() error { return &transientErr{500} }))
	require.ErrorAs(t, err, new(*transientErr), "the failure that opened the breaker comes back, not a rejection")
	assert.Equal(t, resilience.ClassTransient, resilience.Classify(err))
	assert.Equal(t, int32(2), calls.Load(), "no inline retry against an open breaker")
	assert.Equal(t, resilience.StateOpen, p.State())
}
