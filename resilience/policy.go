package resilience

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"
)

// State is a circuit breaker state: StateClosed, StateOpen or StateHalfOpen. Its String method
// gives "closed", "open" and "half-open".
type State = circuitbreaker.State

// Breaker states.
const (
	StateClosed   State = circuitbreaker.ClosedState
	StateOpen     State = circuitbreaker.OpenState
	StateHalfOpen State = circuitbreaker.HalfOpenState
)

// StateChange is delivered to [Policy.OnStateChange] listeners on every breaker transition.
type StateChange struct {
	// Service is Options.Name.
	Service string
	// Endpoint is the endpoint whose breaker changed ("" for a policy built without endpoints).
	Endpoint string
	// From and To are the states before and after the transition.
	From, To State
	// At is the wall-clock time of the transition.
	At time.Time
	// Forced is true when the transition came from ForceOpen, ForceClose or Reset.
	Forced bool
}

// ResponseMeta is implemented by call results (or errors) that carry an HTTP status and
// headers. [Execute] feeds them to [Policy.Observe] automatically, as it does for an
// *http.Response result: the result when the call succeeded (it must then be usable, not a
// nil pointer), the error otherwise. Without it the caller calls Observe itself.
type ResponseMeta interface {
	ResponseStatus() int
	ResponseHeader() http.Header
}

type responseMetaError interface {
	error
	ResponseMeta
}

// Options are the parts of a Policy that do not come from stored configuration. The zero
// value is valid.
type Options struct {
	// Name identifies the service in logs and StateChange events.
	Name string
	// Endpoints is the ordered failover list: the primary first, then backups. Each gets its own
	// circuit breaker. Empty means a single endpoint "" (the caller knows where to send).
	Endpoints []string
	// Clock drives the adaptive rate limiter; nil means the wall clock.
	Clock Clock
	// Logger receives breaker transitions and remote-limit pauses; nil discards.
	Logger *slog.Logger
}

// Policy is the resilience policy of one service, built once from its [Config] by [New] and
// shared by every call to it through [Execute]. Safe for concurrent use.
//
// A call passes, in order: inline retry → bulkhead (or adaptive concurrency limiter) →
// ceiling rate limiter → adaptive remote-limit pacer → the endpoint's circuit breaker →
// per-attempt timeout → the call. All but the pacer are failsafe-go policies; the breaker,
// timeout and inline retry are per endpoint, the rest per service. The pacer joins the chain
// once the remote has said something about its limits.
type Policy struct {
	name     string
	cfg      Config
	clock    Clock
	log      *slog.Logger
	pacer    *pacer // nil when rate_limits.adaptive is false
	breakers []*Breaker

	lmu       sync.Mutex
	lnext     int
	listeners []listener
}

type listener struct {
	id int
	fn func(StateChange)
}

// Breaker is the circuit breaker of one endpoint. Safe for concurrent use.
type Breaker struct {
	p        *Policy
	endpoint string
	cb       circuitbreaker.CircuitBreaker[any]
	exec     failsafe.Executor[any] // the chain without the pacer
	paced    failsafe.Executor[any] // the chain with the pacer; nil when adaptive is off
	forced   atomic.Bool
	manual   atomic.Bool // set while a forced transition's listener runs
	open     atomic.Bool // the failsafe breaker is open (kept by its state listener)
}

// New builds the policy for one service: validates cfg (a *ConfigError on failure), then
// composes the failsafe-go policies. Build it once per service (and again when its
// configuration changes), never per call.
func New(cfg Config, opts Options) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	endpoints := opts.Endpoints
	if len(endpoints) == 0 {
		endpoints = []string{""}
	}
	for i, e := range endpoints {
		if slices.Contains(endpoints[:i], e) {
			return nil, invalid("endpoints", e, "listed twice")
		}
	}
	p := &Policy{name: opts.Name, cfg: cfg, clock: opts.Clock, log: opts.Logger}
	if p.clock == nil {
		p.clock = wallClock{}
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}

	var shared []failsafe.Policy[any]
	rl := cfg.RateLimit
	if rl.MaxConcurrent > 0 {
		if rl.AdaptiveConcurrency {
			initial := min(uint(rl.MaxConcurrent), adaptiveInitialLimit)
			shared = append(shared, adaptivelimiter.NewBuilder[any]().
				WithLimits(1, uint(rl.MaxConcurrent), initial).
				WithQueueing(2, 3).
				WithMaxWaitTime(rl.MaxWait.D()).
				Build())
		} else {
			shared = append(shared, bulkhead.NewBuilder[any](uint(rl.MaxConcurrent)).
				WithMaxWaitTime(rl.MaxWait.D()).
				Build())
		}
	}
	if rl.RequestsPerMinute > 0 {
		burst := rl.Burst
		if burst == 0 {
			burst = max(1, rl.RequestsPerMinute/60)
		}
		period := time.Duration(float64(time.Minute) * float64(burst) / float64(rl.RequestsPerMinute))
		shared = append(shared, ratelimiter.NewBurstyBuilder[any](uint(burst), period).
			WithMaxWaitTime(rl.MaxWait.D()).
			Build())
	}
	if rl.Adaptive {
		p.pacer = newPacer(p.clock, rl.LowWater, rl.MaxWait.D())
	}
	var attemptTimeout failsafe.Policy[any]
	if cfg.Retry.Timeout > 0 {
		attemptTimeout = timeout.New[any](cfg.Retry.Timeout.D())
	}

	for _, ep := range endpoints {
		b := &Breaker{p: p, endpoint: ep}
		b.cb = p.buildBreaker(b)
		var chain []failsafe.Policy[any]
		if rc := cfg.Retry; rc.InlineRetries > 0 {
			chain = append(chain, retrypolicy.NewBuilder[any]().
				// Only transient failures are retried inline, and not once they opened the
				// endpoint's breaker: Execute then fails over instead.
				HandleIf(func(_ any, err error) bool {
					return Classify(err) == ClassTransient && !b.open.Load()
				}).
				WithMaxRetries(rc.InlineRetries).
				WithDelayFunc(func(exec failsafe.ExecutionAttempt[any]) time.Duration {
					return backoff(rc.InlineBackoff.D(), max(rc.MaxBackoff.D(), rc.InlineBackoff.D()), rc.Multiplier, rc.Jitter, exec.Retries()+1, randFloat)
				}).
				ReturnLastFailure().
				Build())
		}
		chain = append(chain, shared...)
		inner := []failsafe.Policy[any]{b.cb}
		if attemptTimeout != nil {
			inner = append(inner, attemptTimeout)
		}
		b.exec = failsafe.With(slices.Concat(chain, inner)...)
		if p.pacer != nil {
			// Until the remote says anything about its limits the pacer has nothing to do, so
			// calls skip it (b.exec); afterwards they go through it (b.paced).
			b.paced = failsafe.With(slices.Concat(chain, []failsafe.Policy[any]{&pacerPolicy{p: p.pacer}}, inner)...)
		}
		p.breakers = append(p.breakers, b)
	}
	return p, nil
}

func (p *Policy) buildBreaker(b *Breaker) circuitbreaker.CircuitBreaker[any] {
	c := p.cfg.CircuitBreaker
	bb := circuitbreaker.NewBuilder[any]().
		HandleIf(func(_ any, err error) bool { return Classify(err) == ClassTransient }).
		WithDelay(c.RecoveryTimeout.D()).
		WithSuccessThreshold(uint(c.SuccessThreshold)).
		OnStateChanged(func(e circuitbreaker.StateChangedEvent) { p.emit(b, e.OldState, e.NewState) })
	if c.FailureRateThreshold > 0 {
		bb = bb.WithFailureRateThreshold(c.FailureRateThreshold, uint(c.MinimumCalls), c.Window.D())
	} else {
		bb = bb.WithFailureThreshold(uint(c.FailureThreshold))
	}
	return bb.Build()
}

// Execute runs fn under p and returns its result. fn receives the attempt's context (cancelled
// by the per-attempt timeout or the caller) and the endpoint to call: the first one, in
// Options.Endpoints order, whose breaker accepts calls. When a transient failure opens that
// endpoint's breaker (or fails its half-open probe), the same call moves on to the next
// endpoint; once the primary's probe succeeds, calls return to it. Only quick transient blips
// are retried inline (retry_config.inline_retries); everything else comes back for the caller
// (the delivery engine) to schedule with [Policy.NextBackoff].
//
// Errors: fn's own error when the call failed (classify it with [Classify]); a *RejectedError
// (errors.Is ErrCircuitOpen, ErrRateLimited or ErrBulkheadFull) when nothing reached the
// service; an error wrapping ErrTimeout when the attempt timed out; the context's error when
// ctx ended. A rate-limited error from fn pauses the adaptive limiter; results and errors
// implementing [ResponseMeta], and *http.Response results, are observed automatically.
//
// A non-pointer R is boxed once per attempt (an allocation); pointer results are not.
func Execute[R any](ctx context.Context, p *Policy, fn func(ctx context.Context, endpoint string) (R, error)) (R, error) {
	var zero R
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	var lastErr error // the last call's failure when it made its endpoint fail over
	minWait := time.Duration(-1)
	last := len(p.breakers) - 1
	for i, b := range p.breakers {
		if w, ok := b.permitsIn(); !ok {
			minWait = minPositive(minWait, w)
			continue
		}
		endpoint := b.endpoint
		ex := b.exec
		if p.pacer != nil && p.pacer.active.Load() {
			ex = b.paced
		}
		res, err := ex.WithContext(ctx).GetWithExecution(func(exec failsafe.Execution[any]) (any, error) {
			var seen int64
			if p.pacer != nil {
				seen = p.pacer.limited.Load()
			}
			r, err := fn(exec.Context(), endpoint)
			return r, p.afterCall(ctx, r, err, seen)
		})
		if err == circuitbreaker.ErrOpen {
			minWait = minPositive(minWait, b.cb.RemainingDelay())
			continue // the breaker opened or its probe is taken: try the next endpoint
		}
		if err != nil && i < last && b.open.Load() && Classify(err) == ClassTransient {
			// This failure opened the endpoint's breaker (or failed its probe): the endpoint
			// is no longer healthy, so the call moves on to the next one.
			minWait = minPositive(minWait, b.cb.RemainingDelay())
			lastErr = p.translate(b, err)
			continue
		}
		r, _ := res.(R)
		return r, p.translate(b, err)
	}
	if lastErr != nil {
		return zero, lastErr
	}
	return zero, &RejectedError{Reason: ErrCircuitOpen, Endpoint: p.breakers[0].endpoint, Wait: max(minWait, 0)}
}

// afterCall feeds the pacer and marks errors caused by the caller's own cancellation.
// seen is the pacer's count of limited replies before the call.
func (p *Policy) afterCall(ctx context.Context, r any, err error, seen int64) error {
	if err == nil {
		if p.pacer != nil {
			// A successful result is observed; a failed call's result is usually a nil
			// pointer, so there the error is observed instead.
			switch m := r.(type) {
			case *http.Response:
				if m != nil {
					p.pacer.observe(m.StatusCode, m.Header)
					return nil
				}
			case ResponseMeta:
				p.pacer.observe(m.ResponseStatus(), m.ResponseHeader())
				return nil
			}
			p.pacer.succeeded()
		}
		return nil
	}
	if ctx.Err() != nil {
		return &callerCanceledError{err: err}
	}
	if p.pacer != nil {
		if m, ok := errors.AsType[responseMetaError](err); ok {
			p.pacer.observe(m.ResponseStatus(), m.ResponseHeader())
		}
		if rl, ok := errors.AsType[RateLimitedError](err); ok && rl.RateLimited() {
			// A 429 the caller (or the ResponseMeta above) already fed to Observe during this
			// call is not counted twice.
			p.pacer.limitedError(rl.RetryAfter(), p.pacer.limited.Load() != seen)
			p.log.Info("resilience: remote rate limit hit", "service", p.name, "retry_after", rl.RetryAfter())
		}
	}
	return err
}

// translate maps failsafe-go's bare rejection errors to this package's errors.
func (p *Policy) translate(b *Breaker, err error) error {
	switch {
	case err == nil:
		return nil
	case err == ratelimiter.ErrExceeded:
		return &RejectedError{Reason: ErrRateLimited}
	case err == bulkhead.ErrFull || err == adaptivelimiter.ErrExceeded:
		return &RejectedError{Reason: ErrBulkheadFull}
	case err == timeout.ErrExceeded:
		return fmt.Errorf("%w after %s (host %q)", ErrTimeout, p.cfg.Retry.Timeout.D(), Host(b.endpoint))
	}
	return unwrapCanceled(err)
}

func unwrapCanceled(err error) error {
	if ce, ok := err.(*callerCanceledError); ok {
		return ce.err
	}
	return err
}

func minPositive(cur, d time.Duration) time.Duration {
	if cur < 0 || d < cur {
		return max(d, 0)
	}
	return cur
}

// Observe feeds the status and headers of a response from the service to the adaptive rate
// limiter: Retry-After, X-RateLimit-*, RateLimit-* and Sforce-Limit-Info (see [ParseQuota]).
// A 429 (or a 503 with Retry-After) stops calls until the hinted time, the known reset, or an
// escalating pause from 1 s to 1 min; remaining counts near the low-water mark spread calls
// until the reset. A no-op when rate_limits.adaptive is false. Safe for concurrent use.
func (p *Policy) Observe(status int, h http.Header) {
	if p.pacer != nil {
		p.pacer.observe(status, h)
	}
}

// Headroom reports the remote rate limit as observed (see [Headroom]); all unknown when nothing
// was observed or adaptive limiting is off.
func (p *Policy) Headroom() Headroom {
	if p.pacer == nil {
		return Headroom{Limit: -1, Remaining: -1}
	}
	return p.pacer.headroom()
}

// ResetHeadroom forgets everything learned about the remote rate limit, including a pause.
func (p *Policy) ResetHeadroom() {
	if p.pacer != nil {
		p.pacer.resetState()
	}
}

// NextBackoff returns how long to wait before durable retry number attempt (1 for the first
// retry, i.e. retry_count+1) after err: the jittered exponential backoff of [RetryConfig.Backoff],
// replaced by the error's own hint when it has one (a RateLimitedError's RetryAfter, which is the
// remote's Retry-After, or a *RejectedError's Wait), and never shorter than a pause the remote
// imposed that is still running. Safe for concurrent use.
func (p *Policy) NextBackoff(attempt int, err error) time.Duration {
	d := p.cfg.Retry.Backoff(attempt)
	if rl, ok := errors.AsType[RateLimitedError](err); ok && rl.RateLimited() && rl.RetryAfter() > 0 {
		d = rl.RetryAfter()
	} else if rej, ok := errors.AsType[*RejectedError](err); ok && rej.Wait > 0 {
		d = rej.Wait
	}
	if p.pacer != nil {
		d = max(d, p.pacer.pausedFor(p.clock.Now()))
	}
	return d
}

// MaxRetries returns retry_config.max_retries: how many durable retries the engine may make.
func (p *Policy) MaxRetries() int { return p.cfg.Retry.MaxRetries }

// Config returns the configuration the policy was built from.
func (p *Policy) Config() Config { return p.cfg }

// Name returns Options.Name.
func (p *Policy) Name() string { return p.name }

// Ready returns how long until a call could go through: 0 when some endpoint's breaker accepts
// calls and the remote limit is not pausing us. For a forced-open breaker it returns the
// recovery timeout as a re-check interval. Takes no permit. Safe for concurrent use.
func (p *Policy) Ready() time.Duration {
	var pause time.Duration
	if p.pacer != nil {
		pause = p.pacer.pausedFor(p.clock.Now())
	}
	wait := time.Duration(-1)
	for _, b := range p.breakers {
		w, _ := b.permitsIn()
		wait = minPositive(wait, w)
	}
	return max(pause, wait)
}

// Allows reports whether a call could go through now (Ready() == 0), so a caller can keep an
// event waiting instead of spending a retry on a certain rejection.
func (p *Policy) Allows() bool { return p.Ready() == 0 }

// State returns the primary endpoint's breaker state.
func (p *Policy) State() State { return p.breakers[0].State() }

// Breakers returns the endpoints' breakers in failover order.
func (p *Policy) Breakers() []*Breaker { return slices.Clone(p.breakers) }

// Breaker returns the breaker of endpoint, or an error wrapping ErrUnknownEndpoint.
func (p *Policy) Breaker(endpoint string) (*Breaker, error) {
	for _, b := range p.breakers {
		if b.endpoint == endpoint {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownEndpoint, endpoint)
}

// ForceOpen holds every endpoint's breaker open (calls are rejected with ErrCircuitOpen) until
// ForceClose or Reset.
func (p *Policy) ForceOpen() {
	for _, b := range p.breakers {
		b.ForceOpen()
	}
}

// ForceClose closes every endpoint's breaker, releasing a forced open.
func (p *Policy) ForceClose() {
	for _, b := range p.breakers {
		b.ForceClose()
	}
}

// Reset closes every endpoint's breaker and clears its failure counts.
func (p *Policy) Reset() {
	for _, b := range p.breakers {
		b.Reset()
	}
}

// OnStateChange registers fn for every breaker transition of every endpoint and returns a
// function that unregisters it. fn runs synchronously on the goroutine that caused the
// transition (a call, or a Force/Reset), so it must be quick and must not call Execute.
func (p *Policy) OnStateChange(fn func(StateChange)) (cancel func()) {
	p.lmu.Lock()
	defer p.lmu.Unlock()
	p.lnext++
	id := p.lnext
	p.listeners = append(p.listeners, listener{id: id, fn: fn})
	return func() {
		p.lmu.Lock()
		defer p.lmu.Unlock()
		p.listeners = slices.DeleteFunc(p.listeners, func(l listener) bool { return l.id == id })
	}
}

func (p *Policy) emit(b *Breaker, from, to State) {
	b.open.Store(to == StateOpen)
	ev := StateChange{Service: p.name, Endpoint: b.endpoint, From: from, To: to, At: time.Now(), Forced: b.manual.Load()}
	level := slog.LevelInfo
	if to == StateOpen {
		level = slog.LevelWarn
	}
	p.log.Log(context.Background(), level, "resilience: circuit breaker "+to.String(),
		"service", p.name, "host", Host(b.endpoint), "from", from.String(), "forced", ev.Forced)
	p.lmu.Lock()
	ls := slices.Clone(p.listeners)
	p.lmu.Unlock()
	for _, l := range ls {
		l.fn(ev)
	}
}

// Endpoint returns the endpoint this breaker guards.
func (b *Breaker) Endpoint() string { return b.endpoint }

// State returns the breaker state; StateOpen while forced open. An open breaker whose
// recovery timeout has passed reports StateOpen until the next call probes it (see Permits).
func (b *Breaker) State() State {
	if b.forced.Load() {
		return StateOpen
	}
	return b.cb.State()
}

// RemainingDelay returns how long an open breaker stays open before it lets a probe through;
// 0 when closed, half-open, or the recovery timeout has passed.
func (b *Breaker) RemainingDelay() time.Duration { return b.cb.RemainingDelay() }

// Permits reports whether the breaker would let a call through now: closed, half-open, or open
// with the recovery timeout passed (the call becomes the probe). False while forced open.
func (b *Breaker) Permits() bool {
	_, ok := b.permitsIn()
	return ok
}

func (b *Breaker) permitsIn() (time.Duration, bool) {
	if b.forced.Load() {
		return b.p.cfg.CircuitBreaker.RecoveryTimeout.D(), false
	}
	if b.open.Load() { // checked first so the healthy path takes no lock
		if d := b.cb.RemainingDelay(); d > 0 {
			return d, false
		}
	}
	return 0, true
}

// Forced reports whether the breaker is held open by ForceOpen.
func (b *Breaker) Forced() bool { return b.forced.Load() }

// BreakerMetrics are the counts of the breaker's current state (the previous closed state while
// open).
type BreakerMetrics struct {
	Executions, Failures, Successes uint
	FailureRate                     float64
}

// Metrics returns the breaker's counts.
func (b *Breaker) Metrics() BreakerMetrics {
	m := b.cb.Metrics()
	return BreakerMetrics{Executions: m.Executions(), Failures: m.Failures(), Successes: m.Successes(), FailureRate: m.FailureRate()}
}

// ForceOpen opens the breaker and holds it open, rejecting calls, until ForceClose or Reset.
func (b *Breaker) ForceOpen() {
	b.manual.Store(true)
	defer b.manual.Store(false)
	b.forced.Store(true)
	b.cb.Open()
}

// ForceClose closes the breaker (keeping no hold).
func (b *Breaker) ForceClose() {
	b.manual.Store(true)
	defer b.manual.Store(false)
	b.forced.Store(false)
	b.cb.Close()
}

// Reset closes the breaker and clears its counts.
func (b *Breaker) Reset() {
	b.manual.Store(true)
	defer b.manual.Store(false)
	b.forced.Store(false)
	if r, ok := b.cb.(interface{ Reset() }); ok {
		r.Reset()
	} else {
		b.cb.Close()
	}
}

// EndpointStatus is one endpoint's breaker as seen by [Policy.Status].
type EndpointStatus struct {
	Endpoint string
	State    State
	// Forced is true while held open by ForceOpen.
	Forced bool
	// RemainingDelay is how long an open breaker stays open before it lets a probe through.
	RemainingDelay time.Duration
	Metrics        BreakerMetrics
}

// Status is a snapshot of the policy for health reports.
type Status struct {
	Service string
	// Endpoints are in failover order; the first is the primary.
	Endpoints []EndpointStatus
	// Headroom is the remote rate limit as observed.
	Headroom Headroom
	// Ready is how long until a call could go through (0: now); see [Policy.Ready].
	Ready time.Duration
}

// Status returns a snapshot of every breaker, the remote rate-limit headroom and readiness.
// Safe for concurrent use; the parts are read one after another, not atomically together.
func (p *Policy) Status() Status {
	s := Status{Service: p.name, Headroom: p.Headroom(), Ready: p.Ready()}
	for _, b := range p.breakers {
		s.Endpoints = append(s.Endpoints, EndpointStatus{
			Endpoint: b.endpoint, State: b.State(), Forced: b.Forced(),
			RemainingDelay: b.RemainingDelay(), Metrics: b.Metrics(),
		})
	}
	return s
}
