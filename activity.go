package hub

import (
	"context"
	"sync"
	"time"

	"github.com/ehg/hub/internal/engine"
	"github.com/ehg/hub/resilience"
	"github.com/ehg/hub/store"
)

// ActivityKind says what an [Activity] reports.
type ActivityKind string

// Activity kinds.
const (
	// ActivityEventOutcome: a delivery attempt's outcome was recorded (or a claimed event
	// was deferred or expired without an attempt).
	ActivityEventOutcome ActivityKind = "event_outcome"
	// ActivityBreaker: a service's primary circuit breaker changed state.
	ActivityBreaker ActivityKind = "breaker"
	// ActivityApproval: an approval request was made, decided, applied or expired.
	ActivityApproval ActivityKind = "approval"
)

// Activity is one thing that happened in this hub, delivered by WatchActivity: an event's
// delivery outcome or a breaker transition. Health status changes are delivered by
// Subscribe.
type Activity struct {
	Kind        ActivityKind
	At          time.Time
	ServiceID   string
	ServiceName string
	// EventID, Status, Attempted, RetryCount, ResponseCode, Latency and Error describe an
	// event outcome (Kind ActivityEventOutcome). Error is the attempt's error, scrubbed of
	// secrets ("" on success).
	EventID      string
	Status       store.EventStatus
	Attempted    bool
	RetryCount   int
	ResponseCode int
	Latency      time.Duration
	Error        string
	// Endpoint, From, To and Forced describe a breaker transition (Kind ActivityBreaker):
	// the endpoint's breaker went from From to To ("closed", "open", "half-open"); Forced
	// when an operator's recovery action caused it.
	Endpoint string
	From, To string
	Forced   bool
	// ApprovalID, Action and Actor describe an approval request's step (Kind
	// ActivityApproval): Action is the audit action ("approval.request", "approval.approve",
	// "approval.applied", "approval.failed", "approval.reject", "approval.expire"), Actor
	// who took it; ServiceName is the service the request names, if any.
	ApprovalID, Action, Actor string
}

// activityBufferSize is how many activities a subscriber may be behind before it loses
// the newest ones.
const activityBufferSize = 256

// activityFeed fans activities out to subscribers. The zero value is ready to use.
type activityFeed struct {
	mu   sync.Mutex
	subs map[*activitySub]struct{}
}

type activitySub struct {
	ch   chan Activity
	done bool
}

func (f *activityFeed) publish(a Activity) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		select {
		case s.ch <- a:
		default: // a slow subscriber loses the newest activity; deliveries never wait
		}
	}
}

func (f *activityFeed) subscribe() *activitySub {
	s := &activitySub{ch: make(chan Activity, activityBufferSize)}
	f.mu.Lock()
	if f.subs == nil {
		f.subs = map[*activitySub]struct{}{}
	}
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return s
}

func (f *activityFeed) unsubscribe(s *activitySub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !s.done {
		s.done = true
		delete(f.subs, s)
		close(s.ch)
	}
}

// WatchActivity returns a channel that receives this hub's event outcomes, breaker
// transitions and approval steps as they happen, until ctx ends or the hub closes; then the channel is
// closed. Outcomes recorded by other hubs sharing the store are not seen. A subscriber more
// than 256 activities behind loses the newest ones rather than slowing deliveries. Safe for
// concurrent use; each call is an independent subscription.
func (h *Hub) WatchActivity(ctx context.Context) <-chan Activity {
	if err := h.guard(ctx, call{method: "WatchActivity", perms: perms(PermRead)}); err != nil {
		ch := make(chan Activity)
		close(ch)
		return ch
	}
	s := h.activity.subscribe()
	go func() {
		select {
		case <-ctx.Done():
		case <-h.done:
		}
		h.activity.unsubscribe(s)
	}()
	return s.ch
}

// publishOutcome reports an engine outcome to activity subscribers.
func (h *Hub) publishOutcome(o engine.Outcome) {
	if o.Lost {
		return
	}
	a := Activity{Kind: ActivityEventOutcome, At: o.At, ServiceID: o.ServiceID, EventID: o.EventID,
		Status: o.Status, Attempted: o.Attempted, RetryCount: o.RetryCount, ResponseCode: o.ResponseCode,
		Latency: o.Latency, Error: o.ErrorText}
	if o.Event != nil {
		a.ServiceName = o.Event.ServiceName
	}
	h.activity.publish(a)
}

// publishBreaker reports a breaker transition of the service to activity subscribers.
func (h *Hub) publishBreaker(svc *store.Service, sc resilience.StateChange) {
	h.activity.publish(Activity{Kind: ActivityBreaker, At: sc.At, ServiceID: svc.ID, ServiceName: svc.Name,
		Endpoint: sc.Endpoint, From: sc.From.String(), To: sc.To.String(), Forced: sc.Forced})
}
