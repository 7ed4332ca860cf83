package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ehg/hub/store"
)

const dataKeyCols = `id, owner, key_id, wrapped, created_at, updated_at, destroyed_at`

func scanDataKey(sc scanner) (*store.DataKey, error) {
	var (
		k                store.DataKey
		created, updated int64
		destroyed        sql.NullInt64
	)
	if err := sc.Scan(&k.ID, &k.Owner, &k.KeyID, &k.Wrapped, &created, &updated, &destroyed); err != nil {
		return nil, err
	}
	k.CreatedAt, k.UpdatedAt, k.DestroyedAt = fromMicros(created), fromMicros(updated), timePtr(destroyed)
	return &k, nil
}

// CreateDataKey implements [store.DataKeyStore].
func (s *Store) CreateDataKey(ctx context.Context, k *store.DataKey) (*store.DataKey, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	id, err := assignID("data key", k.ID)
	if err != nil {
		return nil, err
	}
	var out *store.DataKey
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		now := micros(s.nowTS())
		if _, err := q.ExecContext(ctx, `INSERT INTO integration_data_keys (`+dataKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, NULL)
			ON CONFLICT (owner) WHERE destroyed_at IS NULL DO NOTHING`, id, k.Owner, k.KeyID, k.Wrapped, now, now); err != nil {
			return err
		}
		out, err = scanDataKey(q.QueryRowContext(ctx, `SELECT `+dataKeyCols+` FROM integration_data_keys
			WHERE owner = ? AND destroyed_at IS NULL`, k.Owner))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create data key: %w", err)
	}
	return out, nil
}

func (s *Store) getDataKey(ctx context.Context, what, query string, arg any) (*store.DataKey, error) {
	ks, err := list(ctx, s, scanDataKey, `SELECT `+dataKeyCols+` FROM integration_data_keys WHERE `+query, arg)
	if err != nil {
		return nil, fmt.Errorf("get data key: %w", err)
	}
	if len(ks) == 0 {
		return nil, fmt.Errorf("%w: no data key %s", store.ErrNotFound, what)
	}
	return ks[0], nil
}

// GetDataKey implements [store.DataKeyStore].
func (s *Store) GetDataKey(ctx context.Context, id string) (*store.DataKey, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	id, err := canonicalID("data key", id)
	if err != nil {
		return nil, err
	}
	return s.getDataKey(ctx, id, `id = ?`, id)
}

// LiveDataKey implements [store.DataKeyStore].
func (s *Store) LiveDataKey(ctx context.Context, owner string) (*store.DataKey, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	return s.getDataKey(ctx, "for "+owner, `owner = ? AND destroyed_at IS NULL`, owner)
}

// ListDataKeys implements [store.DataKeyStore].
func (s *Store) ListDataKeys(ctx context.Context, after string, p store.Page) ([]*store.DataKey, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if after != "" {
		var err error
		if after, err = canonicalID("data key", after); err != nil {
			return nil, err
		}
	}
	page, err := p.Normalize()
	if err != nil {
		return nil, err
	}
	ks, err := list(ctx, s, scanDataKey, `SELECT `+dataKeyCols+` FROM integration_data_keys WHERE destroyed_at IS NULL
		AND id > ? ORDER BY id LIMIT ? OFFSET ?`, after, page.Limit, page.Offset)
	if err != nil {
		return nil, fmt.Errorf("list data keys: %w", err)
	}
	return ks, nil
}

// RewrapDataKey implements [store.DataKeyStore].
func (s *Store) RewrapDataKey(ctx context.Context, id, oldKeyID, newKeyID string, wrapped []byte) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	id, err := canonicalID("data key", id)
	if err != nil {
		return err
	}
	if newKeyID == "" || len(wrapped) == 0 {
		return invalidf("a re-wrapped data key needs its key id and wrapped key")
	}
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		res, err := q.ExecContext(ctx, `UPDATE integration_data_keys SET key_id = ?, wrapped = ?, updated_at = ?
			WHERE id = ? AND key_id = ? AND destroyed_at IS NULL`, newKeyID, wrapped, micros(s.nowTS()), id, oldKeyID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		if err := q.QueryRowContext(ctx, `SELECT 1 FROM integration_data_keys WHERE id = ?`, id).Scan(&one); err != nil {
			return fmt.Errorf("%w: data key %s", store.ErrNotFound, id)
		}
		return fmt.Errorf("%w: data key %s was destroyed or re-wrapped", store.ErrConflict, id)
	})
	if err != nil {
		return fmt.Errorf("rewrap data key: %w", err)
	}
	return nil
}

// DestroyDataKey implements [store.DataKeyStore].
func (s *Store) DestroyDataKey(ctx context.Context, owner string) (*store.DataKey, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	var out *store.DataKey
	err := s.write(ctx, func(ctx context.Context, q *txConn) error {
		now := micros(s.nowTS())
		k, err := scanDataKey(q.QueryRowContext(ctx, `UPDATE integration_data_keys SET wrapped = NULL, updated_at = ?, destroyed_at = ?
			WHERE owner = ? AND destroyed_at IS NULL RETURNING `+dataKeyCols, now, now, owner))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: no data key for %s", store.ErrNotFound, owner)
		}
		out = k
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("destroy data key: %w", err)
	}
	return out, nil
}

var _ store.DataKeyStore = (*Store)(nil)
