package memory

import (
	"context"
	"slices"

	"github.com/ehg/hub/store"
)

// ListDerivedEvents implements [store.DerivedEventStore]. It scans the events: the memory
// store is for tests and small deployments.
func (s *Store) ListDerivedEvents(ctx context.Context, sourceID string, p store.Page) ([]*store.Event, error) {
	if err := begin(ctx, "list derived events"); err != nil {
		return nil, err
	}
	page, err := normPage("list derived events", p)
	if err != nil {
		return nil, err
	}
	sid, err := canonicalID("event", sourceID)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var match []*store.Event
	for e := range s.events.all() {
		if e.ev.SourceEventID == sid {
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

var _ store.DerivedEventStore = (*Store)(nil)
