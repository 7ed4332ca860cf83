package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ehg/hub/store"
)

// ClaimEvents implements [store.QueueStore]. It merges the services' ready heaps, so it
// costs O(services + n log events) and never scans the table.
//
// The JSON columns of the claimed events are the store's own bytes, not copies: they are
// read-only, and stay valid while the claimer holds the lease (completing an event with
// masked documents, and deleting it later, overwrite them).
func (s *Store) ClaimEvents(ctx context.Context, p store.ClaimParams) ([]*store.Event, error) {
	if err := begin(ctx, "claim events"); err != nil {
		return nil, err
	}
	return s.claim(p, nil)
}

// claim is ClaimEvents limited, when regions is not nil, to the services whose data region
// is in it.
func (s *Store) claim(p store.ClaimParams, regions map[string]bool) ([]*store.Event, error) {
	switch {
	case p.Owner == "":
		return nil, fmt.Errorf("%w: memory: claim events: owner is empty", store.ErrInvalidArgument)
	case p.Limit <= 0:
		return nil, fmt.Errorf("%w: memory: claim events: limit %d is not positive", store.ErrInvalidArgument, p.Limit)
	case p.Lease <= 0:
		return nil, fmt.Errorf("%w: memory: claim events: lease %v is not positive", store.ErrInvalidArgument, p.Lease)
	}
	var exclude map[string]bool
	if len(p.ExcludeServiceIDs) > 0 {
		exclude = make(map[string]bool, len(p.ExcludeServiceIDs))
		for _, id := range p.ExcludeServiceIDs {
			cid, err := canonicalID("excluded service", id)
			if err != nil {
				return nil, fmt.Errorf("memory: claim events: %w", err)
			}
			exclude[cid] = true
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	until := store.Timestamp(now.Add(p.Lease))
	heads := make(queueHeap, 0, len(s.queues))
	for id, q := range s.queues {
		if exclude[id] {
			continue
		}
		if regions != nil {
			sv := s.services[id]
			if sv == nil || !regions[sv.DataRegion] {
				continue
			}
		}
		q.promote(now)
		if q.ready.len() > 0 {
			heads = append(heads, q)
		}
	}
	heads.init()
	out := make([]*store.Event, 0, min(p.Limit, 256))
	var skipped []*entry
	for len(out) < p.Limit && len(heads) > 0 {
		q := heads[0]
		e := q.ready.pop()
		switch ev := &e.ev; {
		case ev.NextAttemptAt.After(now):
			// The clock went back since the entry became ready.
			q.waiting.push(e)
		case ev.ExpiresAt != nil && !ev.ExpiresAt.After(now):
			// Never delivered; ExpireEvents will move it to expired.
			skipped = append(skipped, e)
		default:
			ev.Status = store.StatusProcessing
			ev.LeaseOwner = p.Owner
			ev.LeaseUntil = e.setTime(slotLease, until)
			ev.UpdatedAt = now
			s.leased.push(e)
			out = append(out, shareEvent(ev, ev))
		}
		if q.ready.len() == 0 {
			heads.popFront()
		} else {
			heads.down(0)
		}
	}
	for _, e := range skipped {
		e.q.ready.push(e)
	}
	return out, nil
}

// fencedID checks one (id, owner) pair of a fenced batch and returns the canonical id.
func fencedID(op, id, owner string) (string, error) {
	cid, err := canonicalID("event", id)
	if err != nil {
		return "", fmt.Errorf("memory: %s: %w", op, err)
	}
	if owner == "" {
		return "", fmt.Errorf("%w: memory: %s: event %s: owner is empty", store.ErrInvalidArgument, op, id)
	}
	return cid, nil
}

func checkJSON(op, what, id string, v json.RawMessage) error {
	if len(v) > 0 && !json.Valid(v) {
		return fmt.Errorf("%w: memory: %s: event %s: %s is not well-formed JSON", store.ErrInvalidArgument, op, id, what)
	}
	return nil
}

// holder returns the entry of id when it is processing and leased to owner. The caller
// holds s.mu.
func (s *Store) holder(id, owner string) *entry {
	e := s.events.get(keyOf(id))
	if e == nil || e.ev.Status != store.StatusProcessing || e.ev.LeaseOwner != owner {
		return nil
	}
	return e
}

// CompleteEvents implements [store.QueueStore]. The batch applies in order, all under one
// lock; an id repeated in the batch is lost the second time.
func (s *Store) CompleteEvents(ctx context.Context, ps []store.CompleteParams) ([]string, error) {
	const op = "complete events"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	checked := store.DocumentsChecked(ctx)
	ids := make([]string, len(ps))
	for i, p := range ps {
		id, err := fencedID(op, p.ID, p.Owner)
		if err != nil {
			return nil, err
		}
		if !checked {
			if err := checkJSON(op, "payload_out", p.ID, p.PayloadOut); err != nil {
				return nil, err
			}
			if err := checkJSON(op, "masked payload_in", p.ID, p.MaskedPayloadIn); err != nil {
				return nil, err
			}
			if err := checkJSON(op, "masked canonical_mapping", p.ID, p.MaskedCanonical); err != nil {
				return nil, err
			}
		}
		if err := p.Call.Validate(); err != nil {
			return nil, fmt.Errorf("memory: %s: event %s: %w", op, p.ID, err)
		}
		ids[i] = id
	}
	var lost []string
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	for i, p := range ps {
		e := s.holder(ids[i], p.Owner)
		if e == nil {
			lost = append(lost, p.ID)
			continue
		}
		ev := &e.ev
		ev.Status = store.StatusSucceeded
		ev.ResponseCode = p.ResponseCode
		ev.ResponseTimeMS = p.ResponseTimeMS
		ev.PayloadOut = keepRaw(ev.PayloadOut, p.PayloadOut)
		// The unmasked documents are replaced, not zeroed: the claim handed them out, and
		// the completing worker (its outcome observers) may still read them.
		if len(p.MaskedPayloadIn) > 0 {
			ev.PayloadIn = cloneRaw(p.MaskedPayloadIn)
		}
		if len(p.MaskedCanonical) > 0 {
			ev.CanonicalMapping = cloneRaw(p.MaskedCanonical)
		}
		recordCall(ev, p.Call)
		ev.CompletedAt = e.setTime(slotCompleted, now)
		ev.UpdatedAt = now
		ev.LeaseOwner, ev.LeaseUntil = "", nil
		s.leased.remove(e)
	}
	return lost, nil
}

// FailEvents implements [store.QueueStore], fenced and ordered as CompleteEvents.
func (s *Store) FailEvents(ctx context.Context, ps []store.FailParams) ([]string, error) {
	const op = "fail events"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	checked := store.DocumentsChecked(ctx)
	ids := make([]string, len(ps))
	for i, p := range ps {
		id, err := fencedID(op, p.ID, p.Owner)
		if err != nil {
			return nil, err
		}
		switch p.Status {
		case store.StatusRetrying:
			if p.NextAttemptAt.IsZero() {
				return nil, fmt.Errorf("%w: memory: %s: event %s: retrying needs next_attempt_at", store.ErrInvalidArgument, op, p.ID)
			}
		case store.StatusFailed, store.StatusDead, store.StatusExpired:
		default:
			return nil, fmt.Errorf("%w: memory: %s: event %s: status %q is not retrying, failed, dead or expired",
				store.ErrInvalidArgument, op, p.ID, p.Status)
		}
		if !checked {
			if err := checkJSON(op, "payload_out", p.ID, p.PayloadOut); err != nil {
				return nil, err
			}
			if err := checkJSON(op, "error_details", p.ID, p.ErrorDetails); err != nil {
				return nil, err
			}
		}
		if err := p.Call.Validate(); err != nil {
			return nil, fmt.Errorf("memory: %s: event %s: %w", op, p.ID, err)
		}
		ids[i] = id
	}
	var lost []string
	due := false
	s.mu.Lock()
	now := s.clock()
	for i, p := range ps {
		e := s.holder(ids[i], p.Owner)
		if e == nil {
			lost = append(lost, p.ID)
			continue
		}
		ev := &e.ev
		ev.Status = p.Status
		if !p.KeepRetryCount {
			ev.RetryCount++
		}
		ev.ResponseCode = p.ResponseCode
		ev.ResponseTimeMS = p.ResponseTimeMS
		ev.PayloadOut = keepRaw(ev.PayloadOut, p.PayloadOut)
		ev.ErrorDetails = cloneRaw(p.ErrorDetails)
		recordCall(ev, p.Call)
		ev.UpdatedAt = now
		ev.LeaseOwner, ev.LeaseUntil = "", nil
		s.leased.remove(e)
		if p.Status == store.StatusRetrying {
			ev.NextAttemptAt = store.Timestamp(p.NextAttemptAt)
			ev.CompletedAt = nil
			s.queue(ev.ServiceID).add(e, now)
			due = due || !ev.NextAttemptAt.After(now)
		} else {
			ev.CompletedAt = e.setTime(slotCompleted, now)
		}
	}
	s.mu.Unlock()
	if due {
		s.notify.signal()
	}
	return lost, nil
}

// ExtendLease implements [store.QueueStore].
func (s *Store) ExtendLease(ctx context.Context, owner string, ids []string, lease time.Duration) ([]string, error) {
	const op = "extend lease"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	switch {
	case owner == "":
		return nil, fmt.Errorf("%w: memory: %s: owner is empty", store.ErrInvalidArgument, op)
	case lease <= 0:
		return nil, fmt.Errorf("%w: memory: %s: lease %v is not positive", store.ErrInvalidArgument, op, lease)
	}
	cids := make([]string, len(ids))
	for i, id := range ids {
		cid, err := fencedID(op, id, owner)
		if err != nil {
			return nil, err
		}
		cids[i] = cid
	}
	var lost []string
	s.mu.Lock()
	defer s.mu.Unlock()
	until := store.Timestamp(s.clock().Add(lease))
	for i, id := range cids {
		e := s.holder(id, owner)
		if e == nil {
			lost = append(lost, ids[i])
			continue
		}
		e.ev.LeaseUntil = e.setTime(slotLease, until)
	}
	return lost, nil
}

// ReleaseExpiredLeases implements [store.QueueStore]. It scans only the processing events.
func (s *Store) ReleaseExpiredLeases(ctx context.Context) (int, error) {
	if err := begin(ctx, "release expired leases"); err != nil {
		return 0, err
	}
	s.mu.Lock()
	now := s.clock()
	n := 0
	for e := s.leased.root.next; e != &s.leased.root; {
		ev := &e.ev
		next := e.next
		if ev.LeaseUntil == nil || ev.LeaseUntil.After(now) {
			e = next
			continue
		}
		s.leased.remove(e)
		ev.Status = store.StatusPending
		if ev.RetryCount > 0 {
			ev.Status = store.StatusRetrying
		}
		ev.NextAttemptAt, ev.UpdatedAt = now, now
		ev.LeaseOwner, ev.LeaseUntil = "", nil
		s.queue(ev.ServiceID).add(e, now)
		n++
		e = next
	}
	s.mu.Unlock()
	if n > 0 {
		s.notify.signal()
	}
	return n, nil
}

// ExpireEvents implements [store.QueueStore]. It scans only the queued events.
func (s *Store) ExpireEvents(ctx context.Context) (int, error) {
	if err := begin(ctx, "expire events"); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	var expired []*entry
	for _, q := range s.queues {
		for _, h := range []*entryHeap{&q.ready, &q.waiting} {
			for _, e := range h.items {
				if e.ev.ExpiresAt != nil && !e.ev.ExpiresAt.After(now) {
					expired = append(expired, e)
				}
			}
		}
	}
	for _, e := range expired {
		e.q.drop(e)
		e.ev.Status = store.StatusExpired
		e.ev.CompletedAt = e.setTime(slotCompleted, now)
		e.ev.UpdatedAt = now
	}
	return len(expired), nil
}

// keepRaw returns the new value of a stored document: cur itself when v is cur's own bytes
// (handed back unchanged by a claimer), else a copy of v.
func keepRaw(cur, v json.RawMessage) json.RawMessage {
	if sameBytes(cur, v) {
		return cur
	}
	return cloneRaw(v)
}

func cloneRaw(v json.RawMessage) json.RawMessage {
	if v == nil {
		return nil
	}
	return append(json.RawMessage(nil), v...)
}

// recordCall sets the request columns an attempt reported (store.Call); empty fields leave
// them as they are.
func recordCall(ev *store.Event, c store.Call) {
	if c.Method != "" {
		ev.RequestMethod = c.Method
	}
	if c.EndpointURL != "" {
		ev.EndpointURL = c.EndpointURL
	}
}
