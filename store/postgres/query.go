package postgres

import (
	"context"
	"fmt"

	"github.com/ehg/hub/store"
)

// QueryEvents implements [store.EventQuerier] with a row comparison on (created_at, id),
// which PostgreSQL answers from the (created_at, id) index, the
// (service_id, created_at, id) index or, with a subject key, the
// (subject_key, created_at, id) index of migration 0011. ids compare as uuid values,
// whose order is that of their canonical strings.
func (s *Store) QueryEvents(ctx context.Context, q store.EventQuery) ([]*store.Event, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	q, err := q.Normalize()
	if err != nil {
		return nil, fmt.Errorf("postgres: query events: %w", err)
	}
	var w where
	if err := eventWhere(&w, store.EventFilter{
		ServiceID: q.ServiceID, Statuses: q.Statuses, CreatedFrom: q.CreatedFrom, CreatedTo: q.CreatedTo,
	}); err != nil {
		return nil, fmt.Errorf("postgres: query events: %w", err)
	}
	if q.SubjectKey != "" {
		w.add("subject_key = " + w.arg(q.SubjectKey))
	}
	cmp, order := ">", " ORDER BY created_at, id"
	if q.Descending {
		cmp, order = "<", " ORDER BY created_at DESC, id DESC"
	}
	if !q.After.IsZero() {
		w.add("(created_at, id) " + cmp + " (" + w.arg(q.After.CreatedAt) + "::timestamptz, " + w.arg(q.After.ID) + "::uuid)")
	}
	sql := s.q.listEvents + w.sql() + order + " LIMIT " + w.arg(q.Limit)
	rows, err := s.pool.Query(ctx, sql, w.args...)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: query events: %w", err))
	}
	out, err := collect(rows, scanEvent)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: query events: %w", err))
	}
	return out, nil
}

var _ store.EventQuerier = (*Store)(nil)
