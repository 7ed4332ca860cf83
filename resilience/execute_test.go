package resilience_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/failsafe-go/failsafe-go/timeout"

	"github.com/ehg/hub/resilience"
)

func TestInlineRetriesForBlips(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Retry.InlineRetries = 2
	cfg.Retry.InlineBackoff = resilience.Duration(time.Millisecond)
	p := newPolicy(t, cfg, resilience.Options{})

	var calls atomic.Int32
	got, err := resilience.Execute(t.Context(), p, func(context.Context, string) (int, error) {
		if calls.Add(1) < 3 {
			return 0, &transientErr{502}
		}
		return 42, nil
	})
	require.NoError(t, err)
	assert.Equal(t, 42, got)
	assert.Equal(t, int32(3), calls.Load())

	calls.Store(0)
	_, err = resilience.Execute(t.Context(), p, counting(&calls, func() error { return &transientErr{500} }))
	var te *transientErr
	require.ErrorAs(t, err, &te, "the last failure comes back, not a retries-exceeded wrapper")
	assert.Equal(t, int32(3), calls.Load(), "1 attempt + inline_retries")
}

func TestTimeoutPerAttempt(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Retry.Timeout = resilience.Duration(10 * time.Millisecond)
	cfg.CircuitBreaker.FailureThreshold = 1
	p := newPolicy(t, cfg, resilience.Options{Endpoints: []string{"http://slow"}})
	_, err := resilience.Execute(t.Context(), p, func(ctx context.Context, _ string) (int, error) {
		<-ctx.Done() // the attempt's context is cancelled by the timeout
		return 0, ctx.Err()
	})
	require.ErrorIs(t, err, resilience.ErrTimeout)
	require.ErrorIs(t, err, timeout.ErrExceeded)
	assert.Equal(t, resilience.ClassTransient, resilience.Classify(err))
	assert.Equal(t, resilience.StateOpen, p.State(), "a timeout is an outage failure")
}

func TestBulkheadFull(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.RateLimit.MaxConcurrent = 1
	cfg.RateLimit.MaxWait = 0
	p := newPolicy(t, cfg, resilience.Options{})
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := resilience.Execute(context.Background(), p, func(context.Context, string) (int, error) {
			close(started)
			<-release
			return 1, nil
		})
		done <- err
	}()
	<-started
	_, err := resilience.Execute(t.Context(), p, func(context.Context, string) (int, error) { return 2, nil })
	require.ErrorIs(t, err, resilience.ErrBulkheadFull)
	require.ErrorIs(t, err, bulkhead.ErrFull)
	assert.Equal(t, resilience.ClassRejected, resilience.Classify(err))
	close(release)
	require.NoError(t, <-done)
}

func TestCeilingRateLimit(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.RateLimit.RequestsPerMinute = 60
	cfg.RateLimit.Burst = 2
	cfg.RateLimit.MaxWait = 0
	p := newPolicy(t, cfg, resilience.Options{})
	ok := func(context.Context, string) (int, error) { return 1, nil }
	for range 2 {
		_, err := resilience.Execute(t.Context(), p, ok)
		require.NoError(t, err)
	}
	_, err := resilience.Execute(t.Context(), p, ok)
	require.ErrorIs(t, err, resilience.ErrRateLimited)
	require.ErrorIs(t, err, ratelimiter.ErrExceeded)
	var rl resilience.RateLimitedError
	require.ErrorAs(t, err, &rl)
	assert.True(t, rl.RateLimited())
	assert.Equal(t, resilience.StateClosed, p.State())
}

func TestAdaptiveConcurrency(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.RateLimit.MaxConcurrent = 4
	cfg.RateLimit.AdaptiveConcurrency = true
	p := newPolicy(t, cfg, resilience.Options{})
	for i := range 20 {
		got, err := resilience.Execute(t.Context(), p, func(context.Context, string) (int, error) { return i, nil })
		require.NoError(t, err)
		assert.Equal(t, i, got)
	}
}

// TestCancellationStopsWaiting: every place a call can wait (remote pause, bulkhead, ceiling,
// inline retry delay) returns as soon as the caller's context is cancelled.
func TestCancellationStopsWaiting(t *testing.T) {
	t.Parallel()
	hour := resilience.Duration(time.Hour)
	tests := []struct {
		name  string
		cfg   func(*resilience.Config)
		setup func(*resilience.Policy) (unblock func())
		fn    func(context.Context, string) (int, error)
	}{
		{
			name: "remote pause",
			cfg:  func(c *resilience.Config) { c.RateLimit.MaxWait = hour },
			setup: func(p *resilience.Policy) func() {
				p.Observe(http.StatusTooManyRequests, http.Header{"Retry-After": {"3600"}})
				return func() {}
			},
		},
		{
			name: "inline retry delay",
			cfg: func(c *resilience.Config) {
				c.Retry.InlineRetries = 1
				c.Retry.InlineBackoff = hour
			},
			fn: func(context.Context, string) (int, error) { return 0, &transientErr{503} },
		},
		{
			name: "ceiling",
			cfg: func(c *resilience.Config) {
				c.RateLimit.RequestsPerMinute = 1
				c.RateLimit.Burst = 1
				c.RateLimit.MaxWait = hour
			},
			setup: func(p *resilience.Policy) func() {
				_, _ = resilience.Execute(context.Background(), p, func(context.Context, string) (int, error) { return 0, nil })
				return func() {}
			},
		},
		{
			name: "bulkhead",
			cfg: func(c *resilience.Config) {
				c.RateLimit.MaxConcurrent = 1
				c.RateLimit.MaxWait = hour
			},
			setup: func(p *resilience.Policy) func() {
				started, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
				go func() {
					defer close(done)
					_, _ = resilience.Execute(context.Background(), p, func(context.Context, string) (int, error) {
						close(started)
						<-release
						return 0, nil
					})
				}()
				<-started
				return func() { close(release); <-done }
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			tt.cfg(&cfg)
			p := newPolicy(t, cfg, resilience.Options{})
			unblock := func() {}
			if tt.setup != nil {
				unblock = tt.setup(p)
			}
			defer unblock()
			fn := tt.fn
			if fn == nil {
				fn = func(context.Context, string) (int, error) { return 1, nil }
			}
			ctx, cancel := context.WithCancel(t.Context())
			errc := make(chan error, 1)
			go func() {
				_, err := resilience.Execute(ctx, p, fn)
				errc <- err
			}()
			time.Sleep(5 * time.Millisecond) // let it reach the wait
			start := time.Now()
			cancel()
			select {
			case err := <-errc:
				require.ErrorIs(t, err, context.Canceled)
				assert.Less(t, time.Since(start), time.Second)
			case <-time.After(5 * time.Second):
				t.Fatal("Execute kept waiting after cancellation")
			}
		})
	}
}

// httpResult makes Execute observe headers from a result.
type httpResult struct {
	status int
	header http.Header
}

func (r *httpResult) ResponseStatus() int         { return r.status }
func (r *httpResult) ResponseHeader() http.Header { return r.header }

func TestExecuteObservesResponses(t *testing.T) {
	t.Parallel()
	clock := newVirtualClock()
	cfg := testConfig()
	p := newPolicy(t, cfg, resilience.Options{Clock: clock})
	reset := clock.Now().Add(time.Minute).Unix()
	h := http.Header{}
	h.Set("X-RateLimit-Limit", "100")
	h.Set("X-RateLimit-Remaining", "40")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	_, err := resilience.Execute(t.Context(), p, func(context.Context, string) (*httpResult, error) {
		return &httpResult{status: 200, header: h}, nil
	})
	require.NoError(t, err)
	hr := p.Headroom()
	assert.Equal(t, 100, hr.Limit)
	assert.Equal(t, 40, hr.Remaining)
	assert.Equal(t, time.Unix(reset, 0), hr.Reset)
	assert.Equal(t, "x-ratelimit", hr.Source)

	// *http.Response results are observed as well; the call itself consumed one slot.
	h2 := http.Header{"Ratelimit-Remaining": {"5"}, "Ratelimit-Limit": {"100"}, "Ratelimit-Reset": {"60"}}
	_, err = resilience.Execute(t.Context(), p, func(context.Context, string) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: h2}, nil
	})
	require.NoError(t, err)
	assert.Equal(t, 5, p.Headroom().Remaining)

	// An error carrying a 429 and headers pauses calls.
	_, err = resilience.Execute(t.Context(), p, func(context.Context, string) (int, error) {
		return 0, &limitedErr{after: 30 * time.Second, header: http.Header{"Retry-After": {"30"}}}
	})
	require.ErrorAs(t, err, new(*limitedErr))
	hr = p.Headroom()
	assert.Equal(t, clock.Now().Add(30*time.Second), hr.PausedUntil)
	assert.Equal(t, 1, hr.Limited, "observed once although both the header and the error said so")
	assert.Equal(t, 30*time.Second, p.Ready())
	assert.Equal(t, 30*time.Second, p.NextBackoff(1, err))

	p.ResetHeadroom()
	assert.Equal(t, -1, p.Headroom().Limit)
	assert.True(t, p.Allows())
}

func TestRemotePauseRejectsBeyondMaxWait(t *testing.T) {
	t.Parallel()
	clock := newVirtualClock()
	cfg := testConfig()
	cfg.RateLimit.MaxWait = resilience.Duration(10 * time.Second)
	p := newPolicy(t, cfg, resilience.Options{Clock: clock})
	var calls atomic.Int32
	fn := counting(&calls, func() error { return nil })

	// A short pause is waited out inside Execute.
	p.Observe(http.StatusTooManyRequests, http.Header{"Retry-After": {"5"}})
	start := clock.Now()
	_, err := resilience.Execute(t.Context(), p, fn)
	require.NoError(t, err)
	assert.Equal(t, 5*time.Second, clock.Now().Sub(start))

	// A long one is not: the call is rejected with the wait, for the engine to reschedule.
	p.Observe(http.StatusTooManyRequests, http.Header{"Retry-After": {"60"}})
	_, err = resilience.Execute(t.Context(), p, fn)
	var rej *resilience.RejectedError
	require.ErrorAs(t, err, &rej)
	require.ErrorIs(t, err, resilience.ErrRateLimited)
	assert.Equal(t, 60*time.Second, rej.Wait)
	assert.Equal(t, 60*time.Second, p.NextBackoff(1, err))
	assert.Equal(t, int32(1), calls.Load())
	assert.False(t, errors.Is(err, resilience.ErrCircuitOpen))
}

func TestUnhintedLimitedEscalates(t *testing.T) {
	t.Parallel()
	clock := newVirtualClock()
	p := newPolicy(t, testConfig(), resilience.Options{Clock: clock})
	var want []time.Duration
	var got []time.Duration
	for i := range 4 {
		p.Observe(http.StatusTooManyRequests, nil)
		got = append(got, p.Ready())
		want = append(want, time.Second<<i)
		clock.Advance(p.Ready())
	}
	assert.Equal(t, want, got)
	p.Observe(http.StatusOK, nil)
	p.Observe(http.StatusTooManyRequests, nil)
	assert.Equal(t, time.Second, p.Ready(), "a success resets the escalation")
}

// A caller that feeds the 429 to Observe itself and also returns a RateLimitedError is counted once.
func TestLimitedReplyObservedByCallerCountsOnce(t *testing.T) {
	t.Parallel()
	clock := newVirtualClock()
	p := newPolicy(t, testConfig(), resilience.Options{Clock: clock})
	_, err := resilience.Execute(t.Context(), p, func(context.Context, string) (int, error) {
		h := http.Header{"Retry-After": {"12"}}
		p.Observe(http.StatusTooManyRequests, h)
		return 0, &plainLimitedErr{after: 12 * time.Second}
	})
	require.ErrorAs(t, err, new(*plainLimitedErr))
	hr := p.Headroom()
	assert.Equal(t, 1, hr.Limited)
	assert.Equal(t, clock.Now().Add(12*time.Second), hr.PausedUntil)
}

func TestUnhintedLimitedDuringHintedPause(t *testing.T) {
	t.Parallel()
	clock := newVirtualClock()
	p := newPolicy(t, testConfig(), resilience.Options{Clock: clock})
	p.Observe(http.StatusTooManyRequests, http.Header{"Retry-After": {"10"}})
	p.Observe(http.StatusTooManyRequests, nil) // no hint while already paused
	assert.Equal(t, 10*time.Second, p.Ready(), "the longer pause stands")
	_, err := resilience.Execute(t.Context(), p, func(context.Context, string) (int, error) {
		return 0, &plainLimitedErr{}
	})
	require.ErrorAs(t, err, new(*plainLimitedErr))
	assert.Equal(t, 3, p.Headroom().Limited, "two observed replies and one returned error")
}
