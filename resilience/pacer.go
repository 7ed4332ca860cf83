package resilience

import (
	"context"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/common"
	"github.com/failsafe-go/failsafe-go/policy"
)

const (
	// firstRemotePause is the pause after a 429 that gave no hint; it doubles on each further
	// unhinted 429 up to maxRemotePause and resets on the next success.
	firstRemotePause = time.Second
	maxRemotePause   = time.Minute
	// sameWindowTolerance: two reset times closer than this belong to the same remote window
	// (delta-seconds headers shift by less than a second between responses).
	sameWindowTolerance = time.Second
)

// Headroom is the remote rate limit as last observed and tracked since, for health reports.
// Counts are -1 and times zero when unknown.
type Headroom struct {
	// Limit is the remote's calls per window.
	Limit int
	// Remaining is the estimate of calls left in the current window: the last reported value,
	// less the calls sent since.
	Remaining int
	// Reset is when the current remote window ends.
	Reset time.Time
	// Window is the remote window length when known (stated or inferred).
	Window time.Duration
	// PausedUntil is when calls resume after a 429 or Retry-After; zero or past when not paused.
	PausedUntil time.Time
	// ObservedAt is when rate-limit information was last observed.
	ObservedAt time.Time
	// Source is the header family last read ("x-ratelimit", "ratelimit", "sforce"), or
	// "429" when only limited replies were seen.
	Source string
	// Limited counts the rate-limited replies (429) observed since the policy was built.
	Limited int
}

// pacer is the adaptive part of rate limiting: it learns the remote limit from responses and
// paces calls under it. The configured ceiling is a failsafe ratelimiter composed before it.
type pacer struct {
	clock    Clock
	lowWater float64
	maxWait  time.Duration

	active atomic.Bool // set once anything was observed; the healthy fast path checks it alone

	mu          sync.Mutex
	limit       int
	remaining   int
	reset       time.Time
	window      time.Duration // stated by the remote
	inferred    time.Duration // learned from successive resets
	lastReset   time.Time     // the reset of the window that ended last
	pausedUntil time.Time
	nextSlot    time.Time
	unhinted    int // consecutive 429s without a hint
	observedAt  time.Time
	source      string
	limited     atomic.Int64 // rate-limited replies seen; also lets a call tell whether its own 429 was already observed
}

func newPacer(clock Clock, lowWater float64, maxWait time.Duration) *pacer {
	return &pacer{clock: clock, lowWater: lowWater, maxWait: maxWait, limit: -1, remaining: -1}
}

// observe feeds one response's status and headers.
func (p *pacer) observe(status int, h http.Header) {
	now := p.clock.Now()
	q := ParseQuota(h, now)
	limitedReply := status == http.StatusTooManyRequests ||
		(status == http.StatusServiceUnavailable && q.HasRetryAfter)
	if !q.Known() && !limitedReply {
		if status > 0 && status < 400 && p.active.Load() {
			p.mu.Lock()
			p.unhinted = 0
			p.mu.Unlock()
		}
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active.Store(true)
	p.apply(q, now)
	switch {
	case limitedReply:
		if status == http.StatusTooManyRequests {
			p.limited.Add(1)
			if p.source == "" {
				p.source = "429"
			}
		}
		p.pauseLocked(now, q.RetryAfter, q.HasRetryAfter)
	case status > 0 && status < 400:
		p.unhinted = 0
	}
}

// apply merges a quota into the state. Requires p.mu.
func (p *pacer) apply(q Quota, now time.Time) {
	if q.Source != "" {
		p.source = q.Source
		p.observedAt = now
	}
	if q.Limit >= 0 {
		p.limit = q.Limit
	}
	if q.Window > 0 {
		p.window = q.Window
	}
	if !q.Reset.IsZero() && !q.Reset.After(now) {
		// A late response from a window that has already ended says nothing current.
		q.Reset, q.Remaining = time.Time{}, -1
	}
	sameWindow := false
	if !q.Reset.IsZero() {
		prev := p.reset
		if prev.IsZero() {
			prev = p.lastReset
		}
		if !prev.IsZero() {
			d := q.Reset.Sub(prev)
			switch {
			case d.Abs() < sameWindowTolerance:
				sameWindow = !p.reset.IsZero()
			case d > 0 && (p.inferred == 0 || d < p.inferred):
				// The smallest gap between successive resets is the window (or a multiple
				// of it when windows passed unobserved).
				p.inferred = d
			}
		}
		p.reset = q.Reset
	}
	if q.Remaining >= 0 {
		if sameWindow && p.remaining >= 0 {
			// Within one window the remote count only falls; the local count may be lower
			// because of calls in flight that the remote has not counted yet.
			p.remaining = min(p.remaining, q.Remaining)
		} else {
			p.remaining = q.Remaining
		}
	}
}

// limitedError records a rate-limited error a call returned (a 429 the connector turned into
// a RateLimitedError). counted is true when the reply was already observed (the caller fed it
// to Observe during the call): the pause still applies (it is idempotent), the count does not.
func (p *pacer) limitedError(retryAfter time.Duration, counted bool) {
	now := p.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active.Store(true)
	if !counted {
		p.limited.Add(1)
	}
	if p.source == "" {
		p.source = "429"
	}
	p.pauseLocked(now, retryAfter, retryAfter > 0)
}

// pauseLocked stops calls until the hint, the known reset, or an escalating default. Requires p.mu.
func (p *pacer) pauseLocked(now time.Time, hint time.Duration, hasHint bool) {
	var d time.Duration
	switch {
	case hasHint:
		d = hint
	case !p.reset.IsZero() && p.reset.After(now):
		d = p.reset.Sub(now)
		p.remaining = 0
	default:
		if !now.Before(p.pausedUntil) {
			p.unhinted++
		}
		d = firstRemotePause << min(max(p.unhinted, 1)-1, 6)
		d = min(d, maxRemotePause)
	}
	if until := now.Add(d); until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
}

// succeeded notes a successful call (resets the unhinted-429 escalation).
func (p *pacer) succeeded() {
	if !p.active.Load() {
		return
	}
	p.mu.Lock()
	p.unhinted = 0
	p.mu.Unlock()
}

// reserve returns 0 and takes a slot when a call may go now, else how long to wait first.
func (p *pacer) reserve(now time.Time) time.Duration {
	if !p.active.Load() {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Before(p.pausedUntil) {
		return p.pausedUntil.Sub(now)
	}
	p.rollover(now)
	if p.remaining < 0 {
		return 0
	}
	window := p.windowLocked()
	if p.remaining == 0 {
		if !p.reset.IsZero() {
			return p.reset.Sub(now)
		}
		// Exhausted with no reset known (e.g. Salesforce's rolling day): wait one
		// sustainable interval, then probe.
		d := firstRemotePause
		if window > 0 && p.limit > 0 {
			d = max(d, window/time.Duration(p.limit))
		}
		p.pausedUntil = now.Add(d)
		p.remaining = -1
		return d
	}
	if low := p.lowWaterMark(); p.remaining <= low {
		if now.Before(p.nextSlot) {
			return p.nextSlot.Sub(now)
		}
		var interval time.Duration
		switch {
		case !p.reset.IsZero():
			interval = p.reset.Sub(now) / time.Duration(p.remaining)
		case window > 0 && p.limit > 0:
			interval = window / time.Duration(p.limit)
		}
		p.nextSlot = now.Add(interval)
	}
	p.remaining--
	return 0
}

// rollover starts a new remote window once the known reset has passed. Requires p.mu.
func (p *pacer) rollover(now time.Time) {
	if p.reset.IsZero() || now.Before(p.reset) {
		return
	}
	p.remaining = p.limit // -1 when the limit is unknown
	p.nextSlot = time.Time{}
	p.lastReset = p.reset
	if w := p.windowLocked(); w > 0 {
		n := now.Sub(p.reset)/w + 1
		p.reset = p.reset.Add(n * w)
	} else {
		p.reset = time.Time{}
	}
}

func (p *pacer) windowLocked() time.Duration {
	if p.window > 0 {
		return p.window
	}
	return p.inferred
}

func (p *pacer) lowWaterMark() int {
	if p.limit <= 0 {
		return 0
	}
	return int(math.Ceil(float64(p.limit) * p.lowWater))
}

// wait blocks until reserve grants a slot, the ctx is done, or the wait would exceed maxWait
// (then a *RejectedError with ErrRateLimited and the wait).
func (p *pacer) wait(ctx context.Context) error {
	if !p.active.Load() {
		return nil
	}
	start := p.clock.Now()
	for {
		now := p.clock.Now()
		d := p.reserve(now)
		if d <= 0 {
			return nil
		}
		if now.Add(d).Sub(start) > p.maxWait {
			return &RejectedError{Reason: ErrRateLimited, Wait: d}
		}
		select {
		case <-p.clock.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pausedFor reports how long calls stay paused (0 when not paused); it does not take a slot.
func (p *pacer) pausedFor(now time.Time) time.Duration {
	if !p.active.Load() {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Before(p.pausedUntil) {
		return p.pausedUntil.Sub(now)
	}
	p.rollover(now)
	if p.remaining == 0 && !p.reset.IsZero() {
		return p.reset.Sub(now)
	}
	return 0
}

func (p *pacer) headroom() Headroom {
	now := p.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rollover(now)
	return Headroom{
		Limit: p.limit, Remaining: p.remaining, Reset: p.reset, Window: p.windowLocked(),
		PausedUntil: p.pausedUntil, ObservedAt: p.observedAt, Source: p.source, Limited: int(p.limited.Load()),
	}
}

func (p *pacer) resetState() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.limit, p.remaining = -1, -1
	p.reset, p.lastReset, p.pausedUntil, p.nextSlot, p.observedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	p.window, p.inferred = 0, 0
	p.unhinted = 0
	p.source = ""
	p.active.Store(false)
}

// pacerPolicy runs the pacer as a failsafe-go policy, so that it composes between the ceiling
// rate limiter and the circuit breaker and every inline retry passes through it.
type pacerPolicy struct{ p *pacer }

// ToExecutor returns the policy itself: it keeps no per-execution state.
func (pp *pacerPolicy) ToExecutor(_ any) any { return pp }

// Apply waits for the pacer before the inner policies run.
func (pp *pacerPolicy) Apply(inner func(failsafe.Execution[any]) *common.PolicyResult[any]) func(failsafe.Execution[any]) *common.PolicyResult[any] {
	return func(exec failsafe.Execution[any]) *common.PolicyResult[any] {
		if err := pp.p.wait(exec.Context()); err != nil {
			if ei, ok := exec.(policy.ExecutionInternal[any]); ok {
				if canceled, res := ei.IsCanceledWithResult(); canceled {
					return res
				}
			}
			return &common.PolicyResult[any]{Error: err, Done: true}
		}
		return inner(exec)
	}
}

var _ failsafe.Policy[any] = (*pacerPolicy)(nil)
