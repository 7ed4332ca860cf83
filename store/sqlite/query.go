package sqlite

import (
	"context"
	"fmt"

	"github.com/ehg/hub/store"
)

// QueryEvents implements [store.EventQuerier] with a row-value comparison on
// (created_at, id), which SQLite answers from the (created_at, id) index, the
// (service_id, created_at, id) index or, with a subject key, the
// (subject_key, created_at, id) index of migration 0011.
func (s *Store) QueryEvents(ctx context.Context, q store.EventQuery) ([]*store.Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	q, err := q.Normalize()
	if err != nil {
		return nil, fmt.Errorf("sqlite: query events: %w", err)
	}
	w, err := eventWhere(store.EventFilter{
		ServiceID: q.ServiceID, Statuses: q.Statuses, CreatedFrom: q.CreatedFrom, CreatedTo: q.CreatedTo,
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: query events: %w", err)
	}
	if q.SubjectKey != "" {
		w.add("subject_key = ?", q.SubjectKey)
	}
	cmp, order := ">", " ORDER BY created_at, id"
	if q.Descending {
		cmp, order = "<", " ORDER BY created_at DESC, id DESC"
	}
	if !q.After.IsZero() {
		w.add("(created_at, id) "+cmp+" (?, ?)", micros(q.After.CreatedAt), q.After.ID)
	}
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	es, err := collectEvents(db.QueryContext(ctx,
		`SELECT `+eventCols+` FROM integration_events`+w.String()+order+` LIMIT ?`, append(w.args, q.Limit)...))
	if err != nil {
		return nil, fmt.Errorf("sqlite: query events: %w", mapError(err))
	}
	return es, nil
}

var _ store.EventQuerier = (*Store)(nil)
