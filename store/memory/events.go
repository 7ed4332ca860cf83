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
	if err := begin(ctx, "insert events"); err != nil {
		return nil, false, err
	}
	var ps [1]prepared
	var out [1]store.InsertResult
	if err := s.insert([]*store.Event{e}, ps[:], out[:], store.DocumentsChecked(ctx), false); err != nil {
		return nil, false, err
	}
	return out[0].Event, out[0].Created, nil
}

// InsertEvents implements [store.EventStore]. The batch is validated whole before anything
// is stored, so an error leaves the store unchanged. With a ctx marked by
// [store.CheckedDocuments] the JSON columns are not checked again.
//
// The store keeps its own copy of the documents; the event returned for a stored one
// shares the JSON columns of the event passed in (no copy is made for the result), so the
// caller must not change those bytes while it uses the result.
func (s *Store) InsertEvents(ctx context.Context, es []*store.Event) ([]store.InsertResult, error) {
	if err := begin(ctx, "insert events"); err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return []store.InsertResult{}, nil
	}
	out := make([]store.InsertResult, len(es))
	if err := s.insert(es, make([]prepared, len(es)), out, store.DocumentsChecked(ctx), false); err != nil {
		return nil, err
	}
	return out, nil
}

// AdoptEvent is [Store.AdoptEvents] for one event.
func (s *Store) AdoptEvent(ctx context.Context, e *store.Event) (*store.Event, bool, error) {
	if err := begin(ctx, "insert events"); err != nil {
		return nil, false, err
	}
	var ps [1]prepared
	var out [1]store.InsertResult
	if err := s.insert([]*store.Event{e}, ps[:], out[:], true, true); err != nil {
		return nil, false, err
	}
	return out[0].Event, out[0].Created, nil
}

// AdoptEvents stores events as InsertEvents does, for a writer that produced their JSON
// documents itself (well-formed, as with [store.CheckedDocuments]) and hands the events
// over: the store keeps the documents' bytes as its own, neither checked nor copied, and
// the result of a stored event is the event passed in, updated to its stored form
// (canonical ids, status, times). The caller must not write to the events or their
// documents afterwards; the documents are read-only for every holder, and are overwritten
// with zeros when the event is deleted or its documents erased, as the store's own copies
// are. An event not stored (its idempotency key names an earlier one) is left as it was,
// its documents not kept; its result is the earlier event, a copy.
//
// It saves InsertEvents' copy of every document (a 4.5 KB payload costs a few
// microseconds to copy into memory the process has not touched before) and the store's
// lock is held only for the bookkeeping.
func (s *Store) AdoptEvents(ctx context.Context, es []*store.Event) ([]store.InsertResult, error) {
	if err := begin(ctx, "insert events"); err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return []store.InsertResult{}, nil
	}
	out := make([]store.InsertResult, len(es))
	if err := s.insert(es, make([]prepared, len(es)), out, true, true); err != nil {
		return nil, err
	}
	return out, nil
}

// insert stores es, with ps and out (as long as es) for the prepared events and the
// results: documents checked unless checked, copied unless adopted.
func (s *Store) insert(es []*store.Event, ps []prepared, out []store.InsertResult, checked, adopt bool) error {
	explicitIDs := false
	for i, in := range es {
		if err := s.prepareEvent(i, in, &ps[i], checked); err != nil {
			return err
		}
		explicitIDs = explicitIDs || in.ID != ""
	}

	s.mu.Lock()
	if explicitIDs {
		if err := s.checkNewIDs(ps); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	// From here nothing can fail, so the batch is applied in one pass.
	now := s.clock()
	created := 0
	var q *serviceQueue
	for i := range ps {
		p := &ps[i]
		if q == nil || q.id != p.serviceID { // batches are mostly of one service
			q = s.queue(p.serviceID)
		}
		if k := p.in.IdempotencyKey; k != "" {
			if ex := q.keys[k]; ex != nil {
				// Stored before, or earlier in this batch: the first one wins.
				out[i] = store.InsertResult{Event: cloneEvent(&ex.ev)}
				continue
			}
		}
		e := s.events.add(p.key)
		s.fill(e, p, now, adopt)
		s.indexSubject(e)
		if k := e.ev.IdempotencyKey; k != "" {
			q.keys[k] = e
		}
		q.add(e, now)
		if adopt {
			adopted(p.in, &e.ev)
			out[i] = store.InsertResult{Event: p.in, Created: true}
		} else {
			out[i] = store.InsertResult{Event: shareEvent(&e.ev, p.in), Created: true}
		}
		created++
	}
	spare := s.events.needSpare()
	s.mu.Unlock()
	if created > 0 {
		s.notify.signal()
	}
	if spare {
		c := newChunk()
		s.mu.Lock()
		s.events.setSpare(c)
		s.mu.Unlock()
	}
	return nil
}

// adopted makes in, an adopted event, a copy of its stored form ev (whose documents are
// in's own): times of its own, a new one only for expires_at. The caller holds s.mu.
func adopted(in, ev *store.Event) {
	*in = *ev
	in.CompletedAt, in.LeaseUntil = nil, nil // a new event has neither
	if ev.ExpiresAt != nil {
		t := *ev.ExpiresAt
		in.ExpiresAt = &t
	}
}

// prepared is one event of an insert batch, validated, with its canonical ids.
type prepared struct {
	in                       *store.Event
	id, serviceID, ventureID string
	key                      uuidKey
}

// prepareEvent validates the i-th event of a batch (its JSON columns too unless checked)
// and works out its canonical ids (a new one when it has none) into p.
func (s *Store) prepareEvent(i int, in *store.Event, p *prepared, checked bool) error {
	if in == nil {
		return fmt.Errorf("%w: memory: insert events: event %d is nil", store.ErrInvalidArgument, i)
	}
	validate := in.Validate
	if checked {
		validate = in.ValidateFields
	}
	if err := validate(); err != nil {
		return fmt.Errorf("memory: insert events: event %d: %w", i, err)
	}
	if in.Status != "" && in.Status != store.StatusPending {
		return fmt.Errorf("%w: memory: insert events: event %d: a new event must be pending, not %q",
			store.ErrInvalidArgument, i, in.Status)
	}
	p.in = in
	var err error
	if in.ID == "" {
		p.id, p.key = newID()
	} else {
		if p.id, err = canonicalID("event", in.ID); err != nil {
			return err
		}
		p.key = keyOf(p.id)
	}
	if p.serviceID, err = canonicalID("service", in.ServiceID); err != nil {
		return err
	}
	if in.VentureID != "" {
		if p.ventureID, err = canonicalID("venture", in.VentureID); err != nil {
			return err
		}
	}
	return nil
}

// fill makes e the stored form of the prepared event: a deep copy (sharing the documents
// when adopt) with canonical ids, defaults, times at store precision, pending, due now
// unless it says otherwise, no lease. The caller holds s.mu.
func (s *Store) fill(e *entry, p *prepared, now time.Time, adopt bool) {
	ev := &e.ev
	if adopt {
		copyEvent(ev, p.in, &e.slots, nil, p.in)
	} else {
		copyEvent(ev, p.in, &e.slots, s.events.bytes(rawLen(p.in)), nil)
	}
	for i := range e.slots {
		e.slots[i] = store.Timestamp(e.slots[i])
	}
	ev.ID, ev.ServiceID, ev.VentureID = p.id, p.serviceID, p.ventureID
	ev.Status = store.StatusPending
	if ev.RequestMethod == "" {
		ev.RequestMethod = store.MethodPost
	}
	if ev.PriorityLevel == "" {
		ev.PriorityLevel = store.PriorityNormal
	}
	if ev.Direction == "" {
		ev.Direction = store.DirectionOutbound
	}
	if ev.SourceEventID != "" {
		ev.SourceEventID, _ = canonicalID("event", ev.SourceEventID) // validated
	}
	ev.CreatedAt, ev.UpdatedAt = now, now
	if ev.NextAttemptAt.IsZero() {
		ev.NextAttemptAt = now
	} else {
		ev.NextAttemptAt = store.Timestamp(ev.NextAttemptAt)
	}
	ev.LeaseOwner, ev.LeaseUntil = "", nil
	e.rank = ev.PriorityLevel.Rank()
	e.payloadBytes = int64(len(p.in.PayloadIn))
	e.idx = -1
}

// checkNewIDs returns ErrConflict when an event of the batch that would be stored (its
// idempotency key is new) carries a caller-supplied ID that is taken or repeated in the
// batch. Generated IDs are random version 4 UUIDs and are not checked: a collision has
// probability 2^-122. The caller holds s.mu.
func (s *Store) checkNewIDs(ps []prepared) error {
	if len(ps) == 1 { // one event: nothing in the batch to repeat
		p := &ps[0]
		if p.in.ID == "" || (p.in.IdempotencyKey != "" && s.byKey(p.serviceID, p.in.IdempotencyKey) != nil) {
			return nil
		}
		if s.events.get(p.key) != nil {
			return fmt.Errorf("%w: memory: insert events: event id %s exists", store.ErrConflict, p.id)
		}
		return nil
	}
	keys := map[eventKey]bool{}
	ids := map[uuidKey]bool{}
	for _, p := range ps {
		if k := p.in.IdempotencyKey; k != "" {
			ek := eventKey{p.serviceID, k}
			if s.byKey(p.serviceID, k) != nil || keys[ek] {
				continue
			}
			keys[ek] = true
		}
		if p.in.ID == "" {
			continue
		}
		if s.events.get(p.key) != nil || ids[p.key] {
			return fmt.Errorf("%w: memory: insert events: event id %s exists", store.ErrConflict, p.id)
		}
		ids[p.key] = true
	}
	return nil
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
	e := s.events.get(keyOf(cid))
	if e == nil {
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
	for e := range s.events.all() {
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
	e := s.events.get(keyOf(cid))
	if e == nil {
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
	e := s.events.get(keyOf(cid))
	if e == nil {
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
	for e := range s.events.all() {
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
