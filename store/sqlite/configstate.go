package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ehg/hub/store"
)

// GetConfigState implements [store.ConfigStateStore].
func (s *Store) GetConfigState(ctx context.Context) (*store.ConfigState, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	var (
		st  store.ConfigState
		doc sql.NullString
		at  int64
	)
	err = db.QueryRowContext(ctx, `SELECT revision, document, fingerprint, actor, updated_at FROM config_state WHERE id = 1`).
		Scan(&st.Revision, &doc, &st.Fingerprint, &st.Actor, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return &store.ConfigState{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get config state: %w", mapError(err))
	}
	if doc.Valid {
		st.Document = []byte(doc.String)
	}
	st.UpdatedAt = fromMicros(at)
	return &st, nil
}

// SwapConfigState implements [store.ConfigStateStore] with one conditional write in the
// single writer's transaction.
func (s *Store) SwapConfigState(ctx context.Context, p store.SwapConfigStateParams) (*store.ConfigState, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := s.nowTS()
	var doc any
	if len(p.Document) > 0 {
		doc = string(p.Document)
	}
	err := s.write(ctx, func(ctx context.Context, q *txConn) error {
		var res sql.Result
		var err error
		if p.Revision == 0 {
			res, err = q.ExecContext(ctx, `INSERT INTO config_state (id, revision, document, fingerprint, actor, updated_at)
				VALUES (1, 1, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, doc, p.Fingerprint, p.Actor, micros(now))
		} else {
			res, err = q.ExecContext(ctx, `UPDATE config_state SET revision = revision + 1, document = ?, fingerprint = ?, actor = ?, updated_at = ?
				WHERE id = 1 AND revision = ?`, doc, p.Fingerprint, p.Actor, micros(now), p.Revision)
		}
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("configuration revision is no longer %d: %w", p.Revision, store.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("swap config state: %w", mapError(err))
	}
	return &store.ConfigState{Revision: p.Revision + 1, Document: append([]byte(nil), p.Document...), Fingerprint: p.Fingerprint, Actor: p.Actor, UpdatedAt: now}, nil
}

var _ store.ConfigStateStore = (*Store)(nil)
