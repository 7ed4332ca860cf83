package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ehg/hub/store"
)

const dataKeyCols = `id, owner, key_id, wrapped, created_at, updated_at, destroyed_at`

func scanDataKey(row pgx.Row) (*store.DataKey, error) {
	var k store.DataKey
	if err := row.Scan(&k.ID, &k.Owner, &k.KeyID, &k.Wrapped, &k.CreatedAt, &k.UpdatedAt, &k.DestroyedAt); err != nil {
		return nil, err
	}
	k.CreatedAt, k.UpdatedAt = k.CreatedAt.UTC(), k.UpdatedAt.UTC()
	if k.DestroyedAt != nil {
		t := k.DestroyedAt.UTC()
		k.DestroyedAt = &t
	}
	return &k, nil
}

// CreateDataKey implements [store.DataKeyStore]: the partial unique index on the live
// key of an owner decides between hubs creating one at once.
func (s *Store) CreateDataKey(ctx context.Context, k *store.DataKey) (*store.DataKey, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	id := k.ID
	if id == "" {
		id = uuid.NewString()
	}
	if err := checkID("data key", id); err != nil {
		return nil, err
	}
	now := s.now()
	if _, err := s.pool.Exec(ctx, s.schemaSQL(`INSERT INTO {s}.integration_data_keys (`+dataKeyCols+`)
		VALUES ($1, $2, $3, $4, $5, $5, NULL) ON CONFLICT (owner) WHERE destroyed_at IS NULL DO NOTHING`),
		id, k.Owner, k.KeyID, k.Wrapped, now); err != nil {
		return nil, mapError(fmt.Errorf("postgres: create data key: %w", err))
	}
	return s.LiveDataKey(ctx, k.Owner)
}

func (s *Store) getDataKey(ctx context.Context, what, where string, arg any) (*store.DataKey, error) {
	k, err := scanDataKey(s.pool.QueryRow(ctx, s.schemaSQL(`SELECT `+dataKeyCols+` FROM {s}.integration_data_keys WHERE `+where), arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: postgres: no data key %s", store.ErrNotFound, what)
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: get data key: %w", err))
	}
	return k, nil
}

// GetDataKey implements [store.DataKeyStore].
func (s *Store) GetDataKey(ctx context.Context, id string) (*store.DataKey, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := checkID("data key", id); err != nil {
		return nil, err
	}
	return s.getDataKey(ctx, id, `id = $1`, id)
}

// LiveDataKey implements [store.DataKeyStore].
func (s *Store) LiveDataKey(ctx context.Context, owner string) (*store.DataKey, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.getDataKey(ctx, "for "+owner, `owner = $1 AND destroyed_at IS NULL`, owner)
}

// ListDataKeys implements [store.DataKeyStore].
func (s *Store) ListDataKeys(ctx context.Context, after string, p store.Page) ([]*store.DataKey, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	from := uuid.Nil // below every data key's id
	if after != "" {
		u, err := uuid.Parse(after)
		if err != nil {
			return nil, fmt.Errorf("%w: data key id %q is not a UUID", store.ErrInvalidArgument, after)
		}
		from = u
	}
	page, err := p.Normalize()
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, s.schemaSQL(`SELECT `+dataKeyCols+` FROM {s}.integration_data_keys
		WHERE destroyed_at IS NULL AND id > $1 ORDER BY id LIMIT $2 OFFSET $3`), from.String(), page.Limit, page.Offset)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: list data keys: %w", err))
	}
	defer rows.Close()
	var out []*store.DataKey
	for rows.Next() {
		k, err := scanDataKey(rows)
		if err != nil {
			return nil, mapError(fmt.Errorf("postgres: list data keys: %w", err))
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(fmt.Errorf("postgres: list data keys: %w", err))
	}
	return out, nil
}

// RewrapDataKey implements [store.DataKeyStore].
func (s *Store) RewrapDataKey(ctx context.Context, id, oldKeyID, newKeyID string, wrapped []byte) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := checkID("data key", id); err != nil {
		return err
	}
	if newKeyID == "" || len(wrapped) == 0 {
		return fmt.Errorf("%w: postgres: a re-wrapped data key needs its key id and wrapped key", store.ErrInvalidArgument)
	}
	tag, err := s.pool.Exec(ctx, s.schemaSQL(`UPDATE {s}.integration_data_keys SET key_id = $3, wrapped = $4, updated_at = $5
		WHERE id = $1 AND key_id = $2 AND destroyed_at IS NULL`), id, oldKeyID, newKeyID, wrapped, s.now())
	if err != nil {
		return mapError(fmt.Errorf("postgres: rewrap data key: %w", err))
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if _, err := s.GetDataKey(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("%w: postgres: data key %s was destroyed or re-wrapped", store.ErrConflict, id)
}

// DestroyDataKey implements [store.DataKeyStore].
func (s *Store) DestroyDataKey(ctx context.Context, owner string) (*store.DataKey, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	now := s.now()
	k, err := scanDataKey(s.pool.QueryRow(ctx, s.schemaSQL(`UPDATE {s}.integration_data_keys
		SET wrapped = NULL, updated_at = $2, destroyed_at = $2 WHERE owner = $1 AND destroyed_at IS NULL
		RETURNING `+dataKeyCols), owner, now))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: postgres: no data key for %s", store.ErrNotFound, owner)
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: destroy data key: %w", err))
	}
	return k, nil
}

var _ store.DataKeyStore = (*Store)(nil)
