package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/ehg/hub/store"
)

// QueryEvents implements [store.EventQuerier]. It scans the events (or, with a subject key,
// the subject's index) under the read lock and keeps the first q.Limit after the cursor.
func (s *Store) QueryEvents(ctx context.Context, q store.EventQuery) ([]*store.Event, error) {
	const op = "query events"
	if err := begin(ctx, op); err != nil {
		return nil, err
	}
	q, err := q.Normalize()
	if err != nil {
		return nil, fmt.Errorf("memory: %s: %w", op, err)
	}
	m, err := newEventMatcher(op, store.EventFilter{
		ServiceID: q.ServiceID, Statuses: q.Statuses, CreatedFrom: q.CreatedFrom, CreatedTo: q.CreatedTo,
	})
	if err != nil {
		return nil, err
	}
	order := func(a, b *store.Event) int { return store.KeyOf(a).Compare(store.KeyOf(b)) }
	if q.Descending {
		order = func(a, b *store.Event) int { return store.KeyOf(b).Compare(store.KeyOf(a)) }
	}
	var after *store.Event
	if !q.After.IsZero() {
		after = &store.Event{CreatedAt: q.After.CreatedAt, ID: q.After.ID}
	}
	keep := func(ev *store.Event) bool {
		return m.match(ev) && (q.SubjectKey == "" || ev.SubjectKey == q.SubjectKey) &&
			(after == nil || order(ev, after) > 0)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var match []*store.Event
	if q.SubjectKey != "" {
		for e := range s.subjects[q.SubjectKey] {
			if keep(&e.ev) {
				match = append(match, &e.ev)
			}
		}
	} else {
		for e := range s.events.all() {
			if keep(&e.ev) {
				match = append(match, &e.ev)
			}
		}
	}
	slices.SortFunc(match, order)
	match = match[:min(len(match), q.Limit)]
	out := make([]*store.Event, len(match))
	for i, ev := range match {
		out[i] = cloneEvent(ev)
	}
	return out, nil
}

var _ store.EventQuerier = (*Store)(nil)
