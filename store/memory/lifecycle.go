package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ehg/hub/store"
)

// This file holds the optional capabilities of the data lifecycle: retention deletes,
// the subject index and erasure, subject requests, region claims and bulk cancellation.

// DeleteEvents implements [store.RetentionStore]. It scans the table once per call; the
// memory store holds what fits in memory, so a scan is cheap next to a batch's worth of
// work elsewhere.
func (s *Store) DeleteEvents(ctx context.Context, p store.DeleteEventsParams) (int, error) {
	const op = "delete events"
	if err := begin(ctx, op); err != nil {
		return 0, err
	}
	if err := p.Validate(); err != nil {
		return 0, fmt.Errorf("memory: %s: %w", op, err)
	}
	sm, err := newServiceMatch(p.DeleteParams)
	if err != nil {
		return 0, err
	}
	before := store.Timestamp(p.Before)
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*entry
	for e := range s.events.all() {
		ev := &e.ev
		if slices.Contains(p.Statuses, ev.Status) && ev.UpdatedAt.Before(before) && sm.match(ev.ServiceID) {
			match = append(match, e)
		}
	}
	if len(match) > p.Limit {
		slices.SortFunc(match, func(a, b *entry) int {
			if c := a.ev.UpdatedAt.Compare(b.ev.UpdatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ev.ID, b.ev.ID)
		})
		match = match[:p.Limit]
	}
	for _, e := range match {
		s.deleteEntry(e)
	}
	return len(match), nil
}

// deleteEntry removes a terminal event from every index and frees its slot. The caller
// holds s.mu for writing.
func (s *Store) deleteEntry(e *entry) {
	ev := &e.ev
	if q := s.queues[ev.ServiceID]; q != nil && ev.IdempotencyKey != "" && q.keys[ev.IdempotencyKey] == e {
		delete(q.keys, ev.IdempotencyKey)
	}
	s.unindexSubject(e)
	s.events.remove(keyOf(ev.ID))
}

// serviceMatch applies the service scope of retention parameters.
type serviceMatch struct {
	only    string
	exclude map[string]bool
}

func newServiceMatch(p store.DeleteParams) (*serviceMatch, error) {
	m := &serviceMatch{}
	if p.ServiceID != "" {
		id, err := canonicalID("service", p.ServiceID)
		if err != nil {
			return nil, err
		}
		m.only = id
	}
	for _, raw := range p.ExcludeServiceIDs {
		id, err := canonicalID("excluded service", raw)
		if err != nil {
			return nil, err
		}
		if m.exclude == nil {
			m.exclude = map[string]bool{}
		}
		m.exclude[id] = true
	}
	return m, nil
}

func (m *serviceMatch) match(serviceID string) bool {
	return (m.only == "" || serviceID == m.only) && !m.exclude[serviceID]
}

// DeleteHealthMetrics implements [store.RetentionStore].
func (s *Store) DeleteHealthMetrics(ctx context.Context, p store.DeleteParams) (int, error) {
	const op = "delete health metrics"
	if err := begin(ctx, op); err != nil {
		return 0, err
	}
	if err := p.Validate(); err != nil {
		return 0, fmt.Errorf("memory: %s: %w", op, err)
	}
	sm, err := newServiceMatch(p)
	if err != nil {
		return 0, err
	}
	before := store.Timestamp(p.Before)
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*store.HealthMetric
	for _, m := range s.metrics {
		if m.RecordedAt.Before(before) && sm.match(m.ServiceID) {
			match = append(match, m)
		}
	}
	slices.SortFunc(match, func(a, b *store.HealthMetric) int {
		return cmp.Or(a.RecordedAt.Compare(b.RecordedAt), strings.Compare(a.ID, b.ID))
	})
	match = match[:min(len(match), p.Limit)]
	gone := make(map[*store.HealthMetric]bool, len(match))
	for _, m := range match {
		gone[m] = true
		delete(s.metricIDs, m.ID)
	}
	s.metrics = slices.DeleteFunc(s.metrics, func(m *store.HealthMetric) bool { return gone[m] })
	return len(match), nil
}

// DeleteAnalytics implements [store.RetentionStore].
func (s *Store) DeleteAnalytics(ctx context.Context, p store.DeleteParams) (int, error) {
	const op = "delete analytics"
	if err := begin(ctx, op); err != nil {
		return 0, err
	}
	if err := p.Validate(); err != nil {
		return 0, fmt.Errorf("memory: %s: %w", op, err)
	}
	sm, err := newServiceMatch(p)
	if err != nil {
		return 0, err
	}
	before := store.Timestamp(p.Before)
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []analyticsKey
	for k, r := range s.analytics {
		if r.PeriodStart.Before(before) && sm.match(r.ServiceID) {
			match = append(match, k)
		}
	}
	slices.SortFunc(match, func(a, b analyticsKey) int {
		return cmp.Or(cmp.Compare(a.start, b.start), strings.Compare(s.analytics[a].ID, s.analytics[b].ID))
	})
	match = match[:min(len(match), p.Limit)]
	for _, k := range match {
		delete(s.analytics, k)
	}
	return len(match), nil
}

// indexSubject adds a stored event to the subject index. The caller holds s.mu.
func (s *Store) indexSubject(e *entry) {
	k := e.ev.SubjectKey
	if k == "" {
		return
	}
	set := s.subjects[k]
	if set == nil {
		set = map[*entry]struct{}{}
		s.subjects[k] = set
	}
	set[e] = struct{}{}
}

// unindexSubject removes an event from the subject index. The caller holds s.mu.
func (s *Store) unindexSubject(e *entry) {
	k := e.ev.SubjectKey
	if set := s.subjects[k]; set != nil {
		delete(set, e)
		if len(set) == 0 {
			delete(s.subjects, k)
		}
	}
}

// ListSubjectEvents implements [store.SubjectStore].
func (s *Store) ListSubjectEvents(ctx context.Context, p store.SubjectEventsParams) ([]*store.Event, error) {
	const op = "list subject events"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("memory: %s: %w", op, err)
	}
	page, err := normPage(op, store.Page{Limit: p.Limit})
	if err != nil {
		return nil, err
	}
	after := ""
	if p.AfterID != "" {
		if after, err = canonicalID("event", p.AfterID); err != nil {
			return nil, err
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var match []*entry
	for e := range s.subjects[p.SubjectKey] {
		if e.ev.ID > after {
			match = append(match, e)
		}
	}
	slices.SortFunc(match, func(a, b *entry) int { return strings.Compare(a.ev.ID, b.ev.ID) })
	match = match[:min(len(match), page.Limit)]
	out := make([]*store.Event, len(match))
	for i, e := range match {
		out[i] = cloneEvent(&e.ev)
	}
	return out, nil
}

// EraseEvents implements [store.SubjectStore]. The replaced documents are overwritten with
// zeros before they are dropped, so no copy of them stays in the process's memory.
func (s *Store) EraseEvents(ctx context.Context, b store.EraseBatch) ([]string, error) {
	const op = "erase events"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("memory: %s: %w", op, err)
	}
	ps := b.Events
	ids := make([]string, len(ps))
	for i := range ps {
		var err error
		if ids[i], err = canonicalID("event", ps[i].ID); err != nil {
			return nil, err
		}
	}
	var skipped []string
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	var req *store.SubjectRequest
	if b.RequestID != "" {
		rid, err := canonicalID("subject request", b.RequestID)
		if err != nil {
			return nil, err
		}
		if req = s.requests[rid]; req == nil {
			return nil, fmt.Errorf("%w: memory: subject request %s", store.ErrNotFound, b.RequestID)
		}
		if req.Owner != b.Owner {
			return nil, fmt.Errorf("%w: memory: subject request %s is held by another owner", store.ErrLeaseLost, b.RequestID)
		}
	}
	changed := 0
	defer func() {
		if req != nil {
			req.Records += int64(changed)
			req.LeaseUntil = stamp(&b.LeaseUntil)
			req.UpdatedAt = now
		}
	}()
	seen := make(map[string]bool, len(ps))
	for i, p := range ps {
		if seen[ids[i]] {
			continue
		}
		seen[ids[i]] = true
		e := s.events.get(keyOf(ids[i]))
		if e == nil {
			continue
		}
		ev := &e.ev
		if ev.Status == store.StatusProcessing || !ev.UpdatedAt.Equal(store.Timestamp(p.UpdatedAt)) {
			skipped = append(skipped, p.ID)
			continue
		}
		wipeDocs(ev)
		ev.PayloadIn = cloneRaw(p.PayloadIn)
		ev.PayloadOut = cloneRaw(p.PayloadOut)
		ev.CanonicalMapping = cloneRaw(p.CanonicalMapping)
		ev.ErrorDetails = cloneRaw(p.ErrorDetails)
		s.unindexSubject(e)
		ev.SubjectKey = ""
		changed++
		if ev.Status.Claimable() {
			e.q.drop(e)
			ev.Status = store.StatusCancelled
			ev.UpdatedAt = now
		}
	}
	return skipped, nil
}

// CreateSubjectRequest implements [store.SubjectStore].
func (s *Store) CreateSubjectRequest(ctx context.Context, in *store.SubjectRequest) (*store.SubjectRequest, error) {
	const op = "create subject request"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, fmt.Errorf("%w: memory: %s: nil request", store.ErrInvalidArgument, op)
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("memory: %s: %w", op, err)
	}
	r := in.Clone()
	var err error
	if r.ID, err = assignID("subject request", r.ID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.requests[r.ID]; ok {
		return nil, fmt.Errorf("%w: memory: subject request id %s exists", store.ErrConflict, r.ID)
	}
	now := s.clock()
	if r.RequestedAt.IsZero() {
		r.RequestedAt = now
	}
	r.RequestedAt, r.UpdatedAt = store.Timestamp(r.RequestedAt), now
	r.CompletedAt = stamp(r.CompletedAt)
	r.LeaseUntil = stamp(r.LeaseUntil)
	s.requests[r.ID] = r
	return r.Clone(), nil
}

func stamp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := store.Timestamp(*t)
	return &v
}

// GetSubjectRequest implements [store.SubjectStore].
func (s *Store) GetSubjectRequest(ctx context.Context, id string) (*store.SubjectRequest, error) {
	if err := begin(ctx, "get subject request"); err != nil {
		return nil, err
	}
	cid, err := canonicalID("subject request", id)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.requests[cid]
	if !ok {
		return nil, fmt.Errorf("%w: memory: subject request %s", store.ErrNotFound, id)
	}
	return r.Clone(), nil
}

// UpdateSubjectRequest implements [store.SubjectStore].
func (s *Store) UpdateSubjectRequest(ctx context.Context, in *store.SubjectRequest) (*store.SubjectRequest, error) {
	const op = "update subject request"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, fmt.Errorf("%w: memory: %s: nil request", store.ErrInvalidArgument, op)
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("memory: %s: %w", op, err)
	}
	cid, err := canonicalID("subject request", in.ID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.requests[cid]
	if !ok {
		return nil, fmt.Errorf("%w: memory: subject request %s", store.ErrNotFound, in.ID)
	}
	if r.Owner != in.Owner {
		return nil, fmt.Errorf("%w: memory: subject request %s is held by another owner", store.ErrLeaseLost, in.ID)
	}
	r.Status, r.SubjectKey, r.Records, r.Error = in.Status, in.SubjectKey, in.Records, in.Error
	r.CompletedAt, r.LeaseUntil = stamp(in.CompletedAt), stamp(in.LeaseUntil)
	r.UpdatedAt = s.clock()
	return r.Clone(), nil
}

// ClaimSubjectRequest implements [store.SubjectStore].
func (s *Store) ClaimSubjectRequest(ctx context.Context, owner string, lease time.Duration) (*store.SubjectRequest, error) {
	const op = "claim subject request"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	if owner == "" || lease <= 0 {
		return nil, fmt.Errorf("%w: memory: %s: owner %q and lease %v must be set", store.ErrInvalidArgument, op, owner, lease)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	var best *store.SubjectRequest
	for _, r := range s.requests {
		if r.Kind != store.RequestErasure || r.Status != store.RequestRunning ||
			(r.LeaseUntil != nil && r.LeaseUntil.After(now)) {
			continue
		}
		if best == nil || requestOrder(r, best) < 0 {
			best = r
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: memory: no subject request to claim", store.ErrNotFound)
	}
	best.Owner = owner
	best.LeaseUntil = stamp(ptrTo(now.Add(lease)))
	best.UpdatedAt = now
	return best.Clone(), nil
}

func ptrTo[T any](v T) *T { return &v }

func requestOrder(a, b *store.SubjectRequest) int {
	return cmp.Or(a.RequestedAt.Compare(b.RequestedAt), strings.Compare(a.ID, b.ID))
}

// ListSubjectRequests implements [store.SubjectStore].
func (s *Store) ListSubjectRequests(ctx context.Context, f store.SubjectRequestFilter) ([]*store.SubjectRequest, error) {
	const op = "list subject requests"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	page, err := normPage(op, f.Page)
	if err != nil {
		return nil, err
	}
	if (f.Kind != "" && !f.Kind.Valid()) || (f.Status != "" && !f.Status.Valid()) {
		return nil, fmt.Errorf("%w: memory: %s: unknown kind %q or status %q", store.ErrInvalidArgument, op, f.Kind, f.Status)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var match []*store.SubjectRequest
	for _, r := range s.requests {
		if (f.Kind == "" || r.Kind == f.Kind) && (f.Status == "" || r.Status == f.Status) &&
			inRange(r.RequestedAt, f.From, f.To) {
			match = append(match, r)
		}
	}
	slices.SortFunc(match, requestOrder)
	lo, hi := window(page, len(match))
	out := make([]*store.SubjectRequest, 0, hi-lo)
	for _, r := range match[lo:hi] {
		out = append(out, r.Clone())
	}
	return out, nil
}

// ClaimEventsInRegions implements [store.RegionClaimer]: ClaimEvents over the queues of the
// services in the regions.
func (s *Store) ClaimEventsInRegions(ctx context.Context, p store.RegionClaimParams) ([]*store.Event, error) {
	if err := begin(ctx, "claim events"); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("memory: claim events: %w", err)
	}
	regions := make(map[string]bool, len(p.Regions))
	for _, r := range p.Regions {
		regions[r] = true
	}
	return s.claim(p.ClaimParams, regions)
}

// CancelEvents implements [store.EventCanceller].
func (s *Store) CancelEvents(ctx context.Context, p store.CancelEventsParams) (int, error) {
	const op = "cancel events"
	if err := begin(ctx, op); err != nil {
		return 0, err
	}
	if err := p.Validate(); err != nil {
		return 0, fmt.Errorf("memory: %s: %w", op, err)
	}
	sid, err := canonicalID("service", p.ServiceID)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[sid]
	if q == nil {
		return 0, nil
	}
	now := s.clock()
	n := 0
	for _, h := range []*entryHeap{&q.ready, &q.waiting} {
		for h.len() > 0 && n < p.Limit {
			e := h.remove(h.len() - 1)
			e.ev.Status = store.StatusCancelled
			e.ev.UpdatedAt = now
			n++
		}
	}
	return n, nil
}

// Interface guards.
var (
	_ store.RetentionStore = (*Store)(nil)
	_ store.SubjectStore   = (*Store)(nil)
	_ store.RegionClaimer  = (*Store)(nil)
	_ store.EventCanceller = (*Store)(nil)
)
