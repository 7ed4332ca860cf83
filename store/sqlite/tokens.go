package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/ehg/hub/store"
)

// tokenLocks serialises the token updates of each service within the process.
type tokenLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (t *tokenLocks) get(id string) *sync.Mutex {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.locks == nil {
		t.locks = map[string]*sync.Mutex{}
	}
	l, ok := t.locks[id]
	if !ok {
		l = &sync.Mutex{}
		t.locks[id] = l
	}
	return l
}

// GetOAuthToken implements [store.TokenStore].
func (s *Store) GetOAuthToken(ctx context.Context, serviceID string) (*store.OAuthToken, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	id, err := canonicalID("service", serviceID)
	if err != nil {
		return nil, err
	}
	ts, err := list(ctx, s, scanToken, `SELECT service_id, token, version, updated_at FROM integration_oauth_tokens WHERE service_id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("get oauth token: %w", err)
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("%w: no oauth token for service %s", store.ErrNotFound, id)
	}
	return ts[0], nil
}

func scanToken(sc scanner) (*store.OAuthToken, error) {
	var (
		t       store.OAuthToken
		updated int64
	)
	if err := sc.Scan(&t.ServiceID, rawDest(&t.Sealed), &t.Version, &updated); err != nil {
		return nil, err
	}
	t.UpdatedAt = fromMicros(updated)
	return &t, nil
}

// UpdateOAuthToken implements [store.TokenStore]. The lock is the process's: hubs in other
// processes on the same file are not serialised with this one.
func (s *Store) UpdateOAuthToken(ctx context.Context, serviceID string, fn func(*store.OAuthToken) (json.RawMessage, error)) (*store.OAuthToken, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	id, err := canonicalID("service", serviceID)
	if err != nil {
		return nil, err
	}
	if _, err := s.GetService(ctx, id); err != nil {
		return nil, err
	}
	l := s.tokenLocks.get(id)
	l.Lock()
	defer l.Unlock()
	cur, err := s.GetOAuthToken(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	next, err := fn(cur.Clone())
	if err != nil {
		return nil, err
	}
	if next == nil {
		return cur, nil
	}
	if !json.Valid(next) {
		return nil, invalidf("oauth token is not well-formed JSON")
	}
	var out *store.OAuthToken
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		row := q.QueryRowContext(ctx, `INSERT INTO integration_oauth_tokens (service_id, token, version, updated_at) VALUES (?, ?, 1, ?)
			ON CONFLICT (service_id) DO UPDATE SET token = excluded.token, version = version + 1, updated_at = excluded.updated_at
			RETURNING service_id, token, version, updated_at`, id, string(next), micros(s.nowTS()))
		t, err := scanToken(row)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: service %s", store.ErrNotFound, id)
		}
		out = t
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update oauth token: %w", err)
	}
	return out, nil
}

// DeleteOAuthToken implements [store.TokenStore].
func (s *Store) DeleteOAuthToken(ctx context.Context, serviceID string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	id, err := canonicalID("service", serviceID)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(ctx context.Context, q *txConn) error {
		_, err := q.ExecContext(ctx, `DELETE FROM integration_oauth_tokens WHERE service_id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete oauth token: %w", err)
	}
	return nil
}

var _ store.TokenStore = (*Store)(nil)
