package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ehg/hub/store"
)

// inSchema substitutes the store's schema for {s} in query. The queries of the optional
// capabilities in this package's newer files use it rather than the prepared query table.
func (s *Store) inSchema(query string) string {
	return strings.ReplaceAll(query, "{s}", pgx.Identifier{s.opts.Schema}.Sanitize())
}

const sqlDerivedEvents = `SELECT ` + eventCols + ` FROM {s}.integration_events
	WHERE source_event_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3`

// ListDerivedEvents implements store.DerivedEventStore through the partial index on
// source_event_id.
func (s *Store) ListDerivedEvents(ctx context.Context, sourceID string, p store.Page) ([]*store.Event, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := checkID("source event", sourceID); err != nil {
		return nil, err
	}
	page, err := normPage("derived events", p)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, s.inSchema(sqlDerivedEvents), canonical(sourceID), page.Limit, page.Offset)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list derived events: %w", err))
	}
	defer rows.Close()
	var out []*store.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, mapError(fmt.Errorf("postgres: list derived events: %w", err))
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(fmt.Errorf("postgres: list derived events: %w", err))
	}
	return out, nil
}

var _ store.DerivedEventStore = (*Store)(nil)
