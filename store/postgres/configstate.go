package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ehg/hub/store"
)

const (
	sqlGetConfigState = `SELECT revision, document, fingerprint, actor, updated_at FROM {s}.config_state WHERE id = 1`
	// sqlInsertConfigState takes the first revision; ON CONFLICT DO NOTHING makes a
	// concurrent first apply return no row.
	sqlInsertConfigState = `INSERT INTO {s}.config_state (id, revision, document, fingerprint, actor, updated_at)
		VALUES (1, 1, $1, $2, $3, $4) ON CONFLICT (id) DO NOTHING RETURNING revision`
	// sqlUpdateConfigState advances the revision only from the expected one: a concurrent
	// swap waits for the row lock, then re-reads the revision and matches nothing.
	sqlUpdateConfigState = `UPDATE {s}.config_state SET revision = revision + 1, document = $1, fingerprint = $2, actor = $3, updated_at = $4
		WHERE id = 1 AND revision = $5 RETURNING revision`
)

func (s *Store) configQuery(q string) string { return strings.ReplaceAll(q, "{s}", s.opts.Schema) }

// GetConfigState implements [store.ConfigStateStore].
func (s *Store) GetConfigState(ctx context.Context) (*store.ConfigState, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	var (
		st  store.ConfigState
		doc *string
		at  time.Time
	)
	err := s.pool.QueryRow(ctx, s.configQuery(sqlGetConfigState)).Scan(&st.Revision, &doc, &st.Fingerprint, &st.Actor, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return &store.ConfigState{}, nil
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: get config state: %w", err))
	}
	if doc != nil {
		st.Document = []byte(*doc)
	}
	st.UpdatedAt = store.Timestamp(at)
	return &st, nil
}

// SwapConfigState implements [store.ConfigStateStore] with one conditional statement.
func (s *Store) SwapConfigState(ctx context.Context, p store.SwapConfigStateParams) (*store.ConfigState, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: swap config state: %w", err)
	}
	now := store.Timestamp(s.now())
	var doc *string
	if len(p.Document) > 0 {
		d := string(p.Document)
		doc = &d
	}
	var rev int64
	var err error
	if p.Revision == 0 {
		err = s.pool.QueryRow(ctx, s.configQuery(sqlInsertConfigState), doc, p.Fingerprint, p.Actor, now).Scan(&rev)
	} else {
		err = s.pool.QueryRow(ctx, s.configQuery(sqlUpdateConfigState), doc, p.Fingerprint, p.Actor, now, p.Revision).Scan(&rev)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: swap config state: revision is no longer %d: %w", p.Revision, store.ErrConflict)
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: swap config state: %w", err))
	}
	return &store.ConfigState{Revision: rev, Document: append([]byte(nil), p.Document...), Fingerprint: p.Fingerprint, Actor: p.Actor, UpdatedAt: now}, nil
}

var _ store.ConfigStateStore = (*Store)(nil)
