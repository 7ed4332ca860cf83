package resilience_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/resilience"
)

// pacedRun executes n calls back to back and returns the virtual time each started at,
// relative to the first.
func pacedRun(t *testing.T, p *resilience.Policy, clock *virtualClock, n int) []time.Duration {
	t.Helper()
	var starts []time.Duration
	t0 := clock.Now()
	for range n {
		_, err := resilience.Execute(t.Context(), p, func(context.Context, string) (int, error) {
			starts = append(starts, clock.Now().Sub(t0))
			return 0, nil
		})
		require.NoError(t, err)
	}
	return starts
}

func TestPacerSlowsBeforeTheLimitAndSpeedsBackUp(t *testing.T) {
	t.Parallel()
	clock := newVirtualClock()
	cfg := testConfig()
	cfg.RateLimit.LowWater = 0.1
	cfg.RateLimit.MaxWait = resilience.Duration(time.Minute)
	p := newPolicy(t, cfg, resilience.Options{Clock: clock})

	// 100 per window, 14 left, window ends in 40 s: the first 4 go at once, then the last 10
	// (the low-water mark) are spread evenly until the reset, and none is sent past it.
	reset := clock.Now().Add(40 * time.Second)
	p.Observe(http.StatusOK, http.Header{
		"X-Ratelimit-Limit": {"100"}, "X-Ratelimit-Remaining": {"14"},
		"X-Ratelimit-Reset": {strconv.FormatInt(reset.Unix(), 10)},
	})
	starts := pacedRun(t, p, clock, 14)
	for i := range 5 {
		assert.Zero(t, starts[i], "call %d is above the low-water mark", i)
	}
	for i := 5; i < 14; i++ {
		assert.Equal(t, 4*time.Second, starts[i]-starts[i-1], "call %d is spread", i)
	}
	assert.Less(t, starts[13], 40*time.Second)
	hr := p.Headroom()
	assert.Equal(t, 0, hr.Remaining)

	// The next call waits for the reset, then the new window goes at full speed again.
	more := pacedRun(t, p, clock, 20)
	assert.Equal(t, reset, clock.Now())
	for i := range 20 {
		assert.Zero(t, more[i]-more[0], "after the reset the limit is the ceiling again")
	}
	assert.Equal(t, 80, p.Headroom().Remaining, "100 assumed for the new window, 20 used")
}

func TestPacerInfersWindowFromResets(t *testing.T) {
	t.Parallel()
	clock := newVirtualClock()
	p := newPolicy(t, testConfig(), resilience.Options{Clock: clock})
	observe := func(remaining int, reset time.Time) {
		p.Observe(http.StatusOK, http.Header{
			"X-Ratelimit-Limit": {"10"}, "X-Ratelimit-Remaining": {strconv.Itoa(remaining)},
			"X-Ratelimit-Reset": {strconv.FormatInt(reset.Unix(), 10)},
		})
	}
	r1 := clock.Now().Add(10 * time.Second)
	observe(9, r1)
	clock.Advance(15 * time.Second)
	observe(9, r1.Add(time.Minute))
	assert.Equal(t, time.Minute, p.Headroom().Window)
	clock.Advance(2 * time.Minute)
	hr := p.Headroom()
	assert.Equal(t, 10, hr.Remaining, "rolled over into a new window")
	assert.WithinDuration(t, r1.Add(3*time.Minute), hr.Reset, 0, "the next reset follows the learned window")
}

func TestPacerSalesforceDailyLimit(t *testing.T) {
	t.Parallel()
	clock := newVirtualClock()
	cfg := testConfig()
	cfg.RateLimit.MaxWait = resilience.Duration(time.Minute)
	p := newPolicy(t, cfg, resilience.Options{Clock: clock})
	// 5000 a rolling day, 2 left: the sustainable pace is one per 17.28 s.
	p.Observe(http.StatusOK, http.Header{"Sforce-Limit-Info": {"api-usage=4998/5000"}})
	starts := pacedRun(t, p, clock, 3)
	assert.Equal(t, []time.Duration{0, 17280 * time.Millisecond, 34560 * time.Millisecond}, starts)
}

func TestPacerConcurrentCallers(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.RateLimit.MaxWait = resilience.Duration(time.Second)
	p := newPolicy(t, cfg, resilience.Options{})
	var ok, rejected atomic.Int32
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				remaining := strconv.Itoa(1000 - g*50 - i)
				_, err := resilience.Execute(t.Context(), p, func(context.Context, string) (*httpResult, error) {
					return &httpResult{status: 200, header: http.Header{
						"Ratelimit-Limit": {"1000"}, "Ratelimit-Remaining": {remaining}, "Ratelimit-Reset": {"60"},
					}}, nil
				})
				if err != nil {
					rejected.Add(1)
					continue
				}
				ok.Add(1)
				if i == 25 {
					p.Observe(http.StatusTooManyRequests, http.Header{"Retry-After": {"0"}})
				}
				_ = p.Headroom()
				_ = p.Ready()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(400), ok.Load()+rejected.Load())
	assert.Positive(t, ok.Load())
	assert.Equal(t, 1000, p.Headroom().Limit)
}
