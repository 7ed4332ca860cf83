package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ehg/hub/store"
)

// InsertEvent implements [store.EventStore].
func (s *Store) InsertEvent(ctx context.Context, e *store.Event) (*store.Event, bool, error) {
	res, err := s.InsertEvents(ctx, []*store.Event{e})
	if err != nil {
		return nil, false, err
	}
	return res[0].Event, res[0].Created, nil
}

// InsertEvents implements [store.EventStore]. The batch is validated whole before anything
// is stored, so an error leaves the store unchanged.
func (s *Store) InsertEvents(ctx context.Context, es []*store.Event) ([]store.InsertResult, error) {
	if err := begin(ctx, "insert events"); err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return []store.InsertResult{}, nil
	}
	ents := make([]*entry, len(es))
	for i, in := range es {
		e, err := s.prepareEvent(i, in)
		if err != nil {
			return nil, err
		}
		ents[i] = e
	}

	out := make([]store.InsertResult, len(es))
	// first[i] is the index of the earlier event of the batch with i's key, or -1.
	first := make([]int, len(es))
	var batchKeys map[eventKey]int
	var batchIDs map[string]bool

	s.mu.Lock()
	now := s.clock()
	for i, e := range ents {
		first[i] = -1
		ev := &e.ev
		if ev.IdempotencyKey != "" {
			k := eventKey{ev.ServiceID, ev.IdempotencyKey}
			if ex := s.byKey(ev.ServiceID, ev.IdempotencyKey); ex != nil {
				out[i] = store.InsertResult{Event: cloneEvent(&ex.ev)}
				ents[i] = nil
				continue
			}
			if j, ok := batchKeys[k]; ok {
				first[i] = j
				ents[i] = nil
				continue
			}
			if batchKeys == nil {
				batchKeys = map[eventKey]int{}
			}
			batchKeys[k] = i
		}
		if _, ok := s.events[ev.ID]; ok || batchIDs[ev.ID] {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: memory: insert events: event id %s exists", store.ErrConflict, ev.ID)
		}
		if len(ents) > 1 {
			if batchIDs == nil {
				batchIDs = make(map[string]bool, len(ents))
			}
			batchIDs[ev.ID] = true
		}
	}
	created := 0
	for i, e := range ents {
		if e == nil {
			continue
		}
		ev := &e.ev
		ev.CreatedAt, ev.UpdatedAt = now, now
		if ev.NextAttemptAt.IsZero() {
			ev.NextAttemptAt = now
		}
		s.events[ev.ID] = e
		q := s.queue(ev.ServiceID)
		if ev.IdempotencyKey != "" {
			q.keys[ev.IdempotencyKey] = e
		}
		q.add(e, now)
		out[i] = store.InsertResult{Event: cloneEvent(ev), Created: true}
		created++
	}
	s.mu.Unlock()
	for i, j := range first {
		if j >= 0 {
			out[i] = store.InsertResult{Event: cloneEvent(out[j].Event)}
		}
	}
	if created > 0 {
		s.notify.signal()
	}
	return out, nil
}

// prepareEvent validates the i-th event of a batch and returns the entry to store, with
// canonical ids, defaults and times at store precision; CreatedAt and NextAttemptAt (when
// zero) are set under the lock.
func (s *Store) prepareEvent(i int, in *store.Event) (*entry, error) {
	if in == nil {
		return nil, fmt.Errorf("%w: memory: insert events: event %d is nil", store.ErrInvalidArgument, i)
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("memory: insert events: event %d: %w", i, err)
	}
	if in.Status != "" && in.Status != store.StatusPending {
		return nil, fmt.Errorf("%w: memory: insert events: event %d: a new event must be pending, not %q",
			store.ErrInvalidArgument, i, in.Status)
	}
	e := &entry{idx: -1}
	ev := &e.ev
	copyEvent(ev, in, &e.slots)
	var err error
	if ev.ID == "" {
		ev.ID = s.ids.newID()
	} else if ev.ID, err = canonicalID("event", ev.ID); err != nil {
		return nil, err
	}
	if ev.ServiceID, err = canonicalID("service", ev.ServiceID); err != nil {
		return nil, err
	}
	if ev.VentureID != "" {
		if ev.VentureID, err = canonicalID("venture", ev.VentureID); err != nil {
			return nil, err
		}
	}
	ev.Status = store.StatusPending
	if ev.RequestMethod == "" {
		ev.RequestMethod = store.MethodPost
	}
	if ev.PriorityLevel == "" {
		ev.PriorityLevel = store.PriorityNormal
	}
	if !ev.NextAttemptAt.IsZero() {
		ev.NextAttemptAt = store.Timestamp(ev.NextAttemptAt)
	}
	for i := range e.slots {
		e.slots[i] = store.Timestamp(e.slots[i])
	}
	ev.LeaseOwner, ev.LeaseUntil = "", nil
	e.rank = ev.PriorityLevel.Rank()
	e.payloadBytes = int64(len(in.PayloadIn))
	return e, nil
}

// queue returns the service's queue, creating it. The caller holds s.mu for writing.
func (s *Store) queue(serviceID string) *serviceQueue {
	q, ok := s.queues[serviceID]
	if !ok {
		q = newServiceQueue(serviceID)
		s.queues[serviceID] = q
	}
	return q
}

// byKey returns the event of the service with the idempotency key, or nil. The caller
// holds s.mu.
func (s *Store) byKey(serviceID, key string) *entry {
	if q := s.queues[serviceID]; q != nil {
		return q.keys[key]
	}
	return nil
}

// GetEvent implements [store.EventStore].
func (s *Store) GetEvent(ctx context.Context, id string) (*store.Event, error) {
	if err := begin(ctx, "get event"); err != nil {
		return nil, err
	}
	cid, err := canonicalID("event", id)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.events[cid]
	if !ok {
		return nil, fmt.Errorf("%w: memory: event %s", store.ErrNotFound, id)
	}
	return cloneEvent(&e.ev), nil
}

// GetEventByIdempotencyKey implements [store.EventStore].
func (s *Store) GetEventByIdempotencyKey(ctx context.Context, serviceID, key string) (*store.Event, error) {
	if err := begin(ctx, "get event by idempotency key"); err != nil {
		return nil, err
	}
	sid, err := canonicalID("service", serviceID)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.byKey(sid, key)
	if e == nil {
		return nil, fmt.Errorf("%w: memory: event of service %s with idempotency key %q", store.ErrNotFound, serviceID, key)
	}
	return cloneEvent(&e.ev), nil
}

// eventMatcher is an EventFilter checked and ready to apply.
type eventMatcher struct {
	serviceID string
	statuses  []store.EventStatus
	f         store.EventFilter
}

func newEventMatcher(op string, f store.EventFilter) (*eventMatcher, error) {
	m := &eventMatcher{f: f}
	if f.ServiceID != "" {
		id, err := canonicalID("service", f.ServiceID)
		if err != nil {
			return nil, fmt.Errorf("memory: %s: %w", op, err)
		}
		m.serviceID = id
	}
	for _, st := range f.Statuses {
		if !st.Valid() {
			return nil, fmt.Errorf("%w: memory: %s: unknown event status %q", store.ErrInvalidArgument, op, st)
		}
	}
	m.statuses = f.Statuses
	return m, nil
}

func (m *eventMatcher) match(ev *store.Event) bool {
	if m.serviceID != "" && ev.ServiceID != m.serviceID {
		return false
	}
	if len(m.statuses) > 0 && !slices.Contains(m.statuses, ev.Status) {
		return false
	}
	return inRange(ev.CreatedAt, m.f.CreatedFrom, m.f.CreatedTo)
}

// eventOrder is the list order of events: created_at, then id.
func eventOrder(a, b *store.Event) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// ListEvents implements [store.EventStore].
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]*store.Event, error) {
	if err := begin(ctx, "list events"); err != nil {
		return nil, err
	}
	page, err := normPage("list events", f.Page)
	if err != nil {
		return nil, err
	}
	m, err := newEventMatcher("list events", f)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var match []*store.Event
	for _, e := range s.events {
		if m.match(&e.ev) {
			match = append(match, &e.ev)
		}
	}
	slices.SortFunc(match, eventOrder)
	lo, hi := window(page, len(match))
	out := make([]*store.Event, 0, hi-lo)
	for _, ev := range match[lo:hi] {
		out = append(out, cloneEvent(ev))
	}
	return out, nil
}

// CancelEvent implements [store.EventStore].
func (s *Store) CancelEvent(ctx context.Context, id string) (*store.Event, error) {
	if err := begin(ctx, "cancel event"); err != nil {
		return nil, err
	}
	cid, err := canonicalID("event", id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.events[cid]
	if !ok {
		return nil, fmt.Errorf("%w: memory: cancel event %s", store.ErrNotFound, id)
	}
	if !e.ev.Status.Claimable() {
		return nil, fmt.Errorf("memory: cancel event: %w",
			&store.TransitionError{EventID: cid, From: e.ev.Status, To: store.StatusCancelled})
	}
	e.q.drop(e)
	e.ev.Status = store.StatusCancelled
	e.ev.UpdatedAt = s.clock()
	return cloneEvent(&e.ev), nil
}

// RequeueEvent implements [store.EventStore].
func (s *Store) RequeueEvent(ctx context.Context, id string, resetRetries bool) (*store.Event, error) {
	if err := begin(ctx, "requeue event"); err != nil {
		return nil, err
	}
	cid, err := canonicalID("event", id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	e, ok := s.events[cid]
	if !ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: memory: requeue event %s", store.ErrNotFound, id)
	}
	if st := e.ev.Status; st != store.StatusFailed && st != store.StatusDead {
		s.mu.Unlock()
		return nil, fmt.Errorf("memory: requeue event: %w",
			&store.TransitionError{EventID: cid, From: st, To: store.StatusPending})
	}
	s.requeue(e, resetRetries, s.clock())
	out := cloneEvent(&e.ev)
	s.mu.Unlock()
	s.notify.signal()
	return out, nil
}

// requeue moves a failed or dead entry back to pending, due now. The caller holds s.mu.
func (s *Store) requeue(e *entry, resetRetries bool, now time.Time) {
	ev := &e.ev
	ev.Status = store.StatusPending
	ev.NextAttemptAt, ev.UpdatedAt = now, now
	ev.CompletedAt = nil
	ev.LeaseOwner, ev.LeaseUntil = "", nil
	if resetRetries {
		ev.RetryCount = 0
	}
	s.queue(ev.ServiceID).add(e, now)
}

// RequeueEvents implements [store.EventStore].
func (s *Store) RequeueEvents(ctx context.Context, f store.RequeueFilter) (int, error) {
	if err := begin(ctx, "requeue events"); err != nil {
		return 0, err
	}
	statuses := []store.EventStatus{store.StatusFailed, store.StatusDead}
	if len(f.Statuses) > 0 {
		for _, st := range f.Statuses {
			if st != store.StatusFailed && st != store.StatusDead {
				return 0, fmt.Errorf("%w: memory: requeue events: status %q is not failed or dead", store.ErrInvalidArgument, st)
			}
		}
		statuses = f.Statuses
	}
	var sid string
	if f.ServiceID != "" {
		var err error
		if sid, err = canonicalID("service", f.ServiceID); err != nil {
			return 0, err
		}
	}
	s.mu.Lock()
	now := s.clock()
	n := 0
	for _, e := range s.events {
		ev := &e.ev
		if !slices.Contains(statuses, ev.Status) || (sid != "" && ev.ServiceID != sid) ||
			!inRange(ev.CreatedAt, f.Since, time.Time{}) {
			continue
		}
		s.requeue(e, true, now)
		n++
	}
	s.mu.Unlock()
	if n > 0 {
		s.notify.signal()
	}
	return n, nil
}
