// Package engine is the hub's durable delivery engine: workers that claim due events from the
// store in batches, invoke each event's service through its resilience policy, and record the
// outcome, plus the background jobs that keep the queue healthy (lease release, expiry).
//
// The engine knows nothing of contracts, mappings or configuration columns: the hub resolves
// a service into a [Target] (connector + policy) and the engine drives it.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/resilience"
	"github.com/ehg/hub/store"
)

// Target delivers the events of one service. Implementations are safe for concurrent use.
type Target interface {
	// Deliver performs one delivery attempt of ev (its payload_out, operation and idempotency
	// key) through the service's policy. ctx governs the attempt and carries its
	// CallRecorder (CallRecorderFrom), where the requests it sends are to be recorded.
	Deliver(ctx context.Context, ev *store.Event) (*connectors.Response, error)
	// Backoff returns how long to wait before retry number retry (1 for the first retry)
	// after err, honouring a Retry-After the error carries.
	Backoff(retry int, err error) time.Duration
	// Scrub removes the service's secrets from s.
	Scrub(s string) string
}

// Masker is implemented by a Target whose delivered events are stored with their personal
// fields masked: on success the engine stores the documents it returns (nil: unchanged)
// in the same change that completes the event.
type Masker interface {
	MaskDelivered(ev *store.Event) (payloadIn, canonical, payloadOut json.RawMessage)
}

// Targets resolves services for the engine.
type Targets interface {
	// Target returns the target of a service. An error means the service cannot be
	// delivered to at all (removed, unusable configuration); the event fails permanently.
	// A *resilience.RejectedError instead means the service cannot be loaded for now (its
	// key service or the store is unavailable): the event waits, its attempt not counted,
	// for the error's Wait (at least one second) and is tried again.
	Target(ctx context.Context, serviceID string) (Target, error)
	// Excluded lists the services whose events must not be claimed now: breaker open (before
	// its recovery timeout) or service disabled.
	Excluded() []string
}

// Outcome is the recorded result of one delivery attempt. Observers receive every outcome
// after it is stored.
type Outcome struct {
	EventID   string
	ServiceID string
	// Status is the event's new status: succeeded, retrying, failed, dead or expired.
	Status store.EventStatus
	// RetryCount is the event's retry_count after the attempt.
	RetryCount   int
	ResponseCode int
	Latency      time.Duration
	// Class is how the error was treated (resilience.ClassNone on success).
	Class resilience.Class
	// Err is the attempt's error, nil on success. Its text has been scrubbed of secrets in
	// ErrorText; Err itself may hold vendor detail and must not be logged verbatim.
	Err error
	// ErrorText is the scrubbed error message ("" on success).
	ErrorText string
	// NextAttemptAt is when a retrying event is due again.
	NextAttemptAt time.Time
	// Attempted is false when nothing reached the service (breaker open, rate-limit wait,
	// expired before the call).
	Attempted bool
	// Lost is true when the store refused the record because the lease had been lost (the
	// event was released and may be delivered again).
	Lost bool
	At   time.Time
	// Event is the event as claimed (before the outcome).
	Event *store.Event
}

// Observer is told of every delivery outcome once it is recorded, before any waiter of
// the event (see Engine.Watch) is woken, so what an observer keeps is up to date when a
// waiting caller returns. Observe must be fast and must not block; it is called from the
// engine's recording goroutine.
type Observer interface {
	Observe(o Outcome)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Outcome)

// Observe calls f(o).
func (f ObserverFunc) Observe(o Outcome) { f(o) }

// Config configures an Engine. Every field is required unless marked optional.
type Config struct {
	Store   store.Store
	Targets Targets
	// Owner is the lease owner name, unique among engines sharing the store.
	Owner               string
	Workers             int
	BatchSize           int
	Lease               time.Duration
	PollInterval        time.Duration
	MaintenanceInterval time.Duration
	Clock               func() time.Time
	Logger              *slog.Logger
	// Observers are told of every outcome (optional).
	Observers []Observer
	// OnDead is called, in its own goroutine, for every event that went dead (optional).
	// Stop waits for the calls to return.
	OnDead func(ev *store.Event, o Outcome)
	// Claim, when set, replaces Store.ClaimEvents (a hub pinned to data regions claims
	// through store.RegionClaimer).
	Claim func(ctx context.Context, p store.ClaimParams) ([]*store.Event, error)
}

// funcNotifier is a store that calls a function where store.Notifier would send a value
// (memory.Store.NotifyFunc).
type funcNotifier interface {
	NotifyFunc(ctx context.Context, f func()) error
}

// Engine runs delivery workers. Create it with New, then Start and Stop it once.
type Engine struct {
	cfg Config
	log *slog.Logger

	wake    chan struct{}
	tokens  chan struct{}
	jobs    chan *store.Event
	results chan result

	mu       sync.Mutex
	inflight map[string]struct{}
	waiters  map[string][]chan Outcome

	started  atomic.Bool
	stopping chan struct{} // closed when Stop begins: no more claims
	dispDone chan struct{} // closed when the dispatcher returns
	hardStop context.CancelFunc
	callCtx  context.Context
	bgCancel context.CancelFunc

	workersWG sync.WaitGroup
	bgWG      sync.WaitGroup
	recWG     sync.WaitGroup
	hookWG    sync.WaitGroup // OnDead calls

	stats   Stats
	nextDue atomic.Int64 // unix nanos of the earliest known retry due time, 0 for none

	// The recorder's buffers, reused from one write to the next.
	cps     []store.CompleteParams
	fps     []store.FailParams
	waiting []waiting
}

// waiting is a batch's outcome (its index) whose waiters are to be told.
type waiting struct {
	i  int
	ws []chan Outcome
}

// Stats are counters of one engine since it started; read them with Engine.Stats.
type Stats struct {
	Claimed   atomic.Int64
	Succeeded atomic.Int64
	Retried   atomic.Int64
	Failed    atomic.Int64
	Dead      atomic.Int64
	Expired   atomic.Int64
	Deferred  atomic.Int64
	Lost      atomic.Int64
}

// result is one attempt's outcome on its way to the recorder: complete when it
// succeeded (ok), else fail.
type result struct {
	ev       *store.Event
	ok       bool
	complete store.CompleteParams
	fail     *store.FailParams
	outcome  Outcome
}

// New validates cfg and returns an engine that is not running.
func New(cfg Config) (*Engine, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("engine: nil store")
	case cfg.Targets == nil:
		return nil, errors.New("engine: nil targets")
	case cfg.Owner == "":
		return nil, errors.New("engine: empty owner")
	case cfg.Workers < 1 || cfg.BatchSize < 1:
		return nil, errors.New("engine: workers and batch size must be positive")
	case cfg.Lease <= 0 || cfg.PollInterval <= 0 || cfg.MaintenanceInterval <= 0:
		return nil, errors.New("engine: lease and intervals must be positive")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Claim == nil {
		cfg.Claim = cfg.Store.ClaimEvents
	}
	return &Engine{
		cfg:      cfg,
		log:      cfg.Logger,
		wake:     make(chan struct{}, 1),
		tokens:   make(chan struct{}, cfg.Workers+cfg.BatchSize),
		jobs:     make(chan *store.Event, cfg.BatchSize),
		results:  make(chan result, cfg.Workers*2),
		inflight: make(map[string]struct{}),
		waiters:  make(map[string][]chan Outcome),
		stopping: make(chan struct{}),
		dispDone: make(chan struct{}),
	}, nil
}

// Stats returns the engine's counters.
func (e *Engine) Stats() *Stats { return &e.stats }

// Running reports whether Start was called and Stop has not begun.
func (e *Engine) Running() bool {
	if !e.started.Load() {
		return false
	}
	select {
	case <-e.stopping:
		return false
	default:
		return true
	}
}

// Wake asks the dispatcher to look for due events now. It never blocks.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Watch returns a channel that receives the outcome of the next recorded attempt of event
// id by this engine, and a function that stops watching. Other processes' outcomes are not
// seen: callers poll the store as well.
func (e *Engine) Watch(id string) (<-chan Outcome, func()) {
	ch := make(chan Outcome, 1)
	e.mu.Lock()
	e.waiters[id] = append(e.waiters[id], ch)
	e.mu.Unlock()
	return ch, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		ws := e.waiters[id]
		for i, w := range ws {
			if w == ch {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(e.waiters, id)
		} else {
			e.waiters[id] = ws
		}
	}
}

// Start launches the dispatcher, workers, recorder, lease keeper and maintenance job. ctx
// only bounds the start-up work (subscribing to notifications); Stop ends the engine.
func (e *Engine) Start(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("engine: already started")
	}
	// One token per event this engine may hold: one per worker plus a batch prefetched.
	for range e.cfg.Workers + e.cfg.BatchSize {
		e.tokens <- struct{}{}
	}
	callCtx, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	e.callCtx, e.hardStop = callCtx, hardStop
	bgCtx, bgCancel := context.WithCancel(context.WithoutCancel(ctx))
	e.bgCancel = bgCancel

	if n, ok := e.cfg.Store.(funcNotifier); ok {
		// The store calls Wake itself (the memory store): no goroutine to hand off to.
		if err := n.NotifyFunc(bgCtx, e.Wake); err != nil {
			e.log.Warn("hub: store notifications unavailable; polling only", slog.Any("error", err))
		}
	} else if n, ok := e.cfg.Store.(store.Notifier); ok {
		ch, err := n.Notifications(bgCtx)
		if err != nil {
			e.log.Warn("hub: store notifications unavailable; polling only", slog.Any("error", err))
		} else {
			e.bgWG.Add(1)
			go func() {
				defer e.bgWG.Done()
				for range ch {
					e.Wake()
				}
			}()
		}
	}
	for range e.cfg.Workers {
		e.workersWG.Add(1)
		go e.worker()
	}
	e.recWG.Add(1)
	go e.recorder()
	go e.dispatcher(bgCtx)
	e.bgWG.Add(2)
	go e.leaseKeeper(bgCtx)
	go e.maintenance(bgCtx)
	return nil
}

// Stop stops claiming, waits for in-flight deliveries until ctx ends, then cancels the calls
// still running (their events are released for another attempt), records every outcome and
// stops the background jobs. Events whose outcome cannot be recorded return to the queue when
// their lease expires.
func (e *Engine) Stop(ctx context.Context) error {
	if !e.started.Load() {
		return nil
	}
	select {
	case <-e.stopping:
		return nil
	default:
	}
	close(e.stopping)
	done := make(chan struct{})
	go func() {
		// The dispatcher hands no more jobs once stopping is closed; wait for it first so
		// closing jobs cannot race a send.
		<-e.dispDone
		close(e.jobs)
		e.workersWG.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("engine: in-flight deliveries cancelled at shutdown: %w", ctx.Err())
		e.hardStop()
		<-done
	}
	close(e.results)
	e.recWG.Wait()
	e.hookWG.Wait()
	e.bgCancel()
	e.bgWG.Wait()
	e.hardStop()
	return err
}
