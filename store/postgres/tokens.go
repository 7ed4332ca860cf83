package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ehg/hub/store"
)

func scanToken(row pgx.Row) (*store.OAuthToken, error) {
	var (
		t   store.OAuthToken
		doc []byte
	)
	if err := row.Scan(&t.ServiceID, &doc, &t.Version, &t.UpdatedAt); err != nil {
		return nil, err
	}
	t.Sealed = jsonOut(doc)
	t.UpdatedAt = t.UpdatedAt.UTC()
	return &t, nil
}

// GetOAuthToken implements [store.TokenStore].
func (s *Store) GetOAuthToken(ctx context.Context, serviceID string) (*store.OAuthToken, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := checkID("service", serviceID); err != nil {
		return nil, err
	}
	t, err := scanToken(s.pool.QueryRow(ctx, s.schemaSQL(`SELECT service_id, token, version, updated_at
		FROM {s}.integration_oauth_tokens WHERE service_id = $1 AND version > 0`), serviceID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: postgres: no oauth token for service %s", store.ErrNotFound, serviceID)
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: get oauth token: %w", err))
	}
	return t, nil
}

// UpdateOAuthToken implements [store.TokenStore]: the service's row (created empty on first
// use) is locked with SELECT ... FOR UPDATE for the whole of fn, so hubs sharing the
// database refresh one at a time and each sees the token the one before saved.
func (s *Store) UpdateOAuthToken(ctx context.Context, serviceID string, fn func(*store.OAuthToken) (json.RawMessage, error)) (*store.OAuthToken, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := checkID("service", serviceID); err != nil {
		return nil, err
	}
	var out *store.OAuthToken
	var fnErr error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var known bool
		if err := tx.QueryRow(ctx, s.schemaSQL(`SELECT EXISTS (SELECT 1 FROM {s}.integration_services WHERE id = $1)`), serviceID).Scan(&known); err != nil {
			return err
		}
		if !known {
			fnErr = fmt.Errorf("%w: postgres: service %s", store.ErrNotFound, serviceID)
			return fnErr
		}
		if _, err := tx.Exec(ctx, s.schemaSQL(`INSERT INTO {s}.integration_oauth_tokens (service_id, token, version, updated_at)
			VALUES ($1, NULL, 0, $2) ON CONFLICT (service_id) DO NOTHING`), serviceID, s.now()); err != nil {
			return err
		}
		cur, err := scanToken(tx.QueryRow(ctx, s.schemaSQL(`SELECT service_id, token, version, updated_at
			FROM {s}.integration_oauth_tokens WHERE service_id = $1 FOR UPDATE`), serviceID))
		if err != nil {
			return err
		}
		if cur.Version == 0 {
			cur = nil
		}
		next, err := fn(cur.Clone())
		if err != nil {
			fnErr = err
			return err
		}
		if next == nil {
			out = cur
			return nil
		}
		if !json.Valid(next) {
			fnErr = fmt.Errorf("%w: postgres: oauth token is not well-formed JSON", store.ErrInvalidArgument)
			return fnErr
		}
		out, err = scanToken(tx.QueryRow(ctx, s.schemaSQL(`UPDATE {s}.integration_oauth_tokens
			SET token = $2, version = version + 1, updated_at = $3 WHERE service_id = $1
			RETURNING service_id, token, version, updated_at`), serviceID, next, s.now()))
		return err
	})
	if fnErr != nil {
		return nil, fnErr
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: update oauth token: %w", err))
	}
	return out, nil
}

// DeleteOAuthToken implements [store.TokenStore].
func (s *Store) DeleteOAuthToken(ctx context.Context, serviceID string) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := checkID("service", serviceID); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, s.schemaSQL(`DELETE FROM {s}.integration_oauth_tokens WHERE service_id = $1`), serviceID); err != nil {
		return mapError(fmt.Errorf("postgres: delete oauth token: %w", err))
	}
	return nil
}

var _ store.TokenStore = (*Store)(nil)
