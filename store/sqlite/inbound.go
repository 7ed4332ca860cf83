package sqlite

import (
	"context"
	"fmt"

	"github.com/ehg/hub/store"
)

// ListDerivedEvents implements store.DerivedEventStore through the partial index on
// source_event_id.
func (s *Store) ListDerivedEvents(ctx context.Context, sourceID string, p store.Page) ([]*store.Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	id, err := canonicalID("source event", sourceID)
	if err != nil {
		return nil, err
	}
	page, err := p.Normalize()
	if err != nil {
		return nil, err
	}
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	es, err := collectEvents(db.QueryContext(ctx, `SELECT `+eventCols+` FROM integration_events
		WHERE source_event_id = ? ORDER BY created_at, id LIMIT ? OFFSET ?`, id, page.Limit, page.Offset))
	if err != nil {
		return nil, fmt.Errorf("list derived events: %w", mapError(err))
	}
	return es, nil
}

var _ store.DerivedEventStore = (*Store)(nil)
