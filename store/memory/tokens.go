package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/ehg/hub/store"
)

// tokenTable holds the OAuth tokens and one lock per service.
type tokenTable struct {
	mu     sync.Mutex
	tokens map[string]*store.OAuthToken
	locks  map[string]*sync.Mutex
}

func (t *tokenTable) lock(id string) *sync.Mutex {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.locks == nil {
		t.locks, t.tokens = map[string]*sync.Mutex{}, map[string]*store.OAuthToken{}
	}
	l, ok := t.locks[id]
	if !ok {
		l = &sync.Mutex{}
		t.locks[id] = l
	}
	return l
}

func (t *tokenTable) get(id string) *store.OAuthToken {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tokens[id].Clone()
}

// GetOAuthToken implements [store.TokenStore].
func (s *Store) GetOAuthToken(ctx context.Context, serviceID string) (*store.OAuthToken, error) {
	if err := begin(ctx, "get oauth token"); err != nil {
		return nil, err
	}
	id, err := canonicalID("service", serviceID)
	if err != nil {
		return nil, err
	}
	if t := s.oauth.get(id); t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("%w: memory: no oauth token for service %s", store.ErrNotFound, id)
}

// UpdateOAuthToken implements [store.TokenStore].
func (s *Store) UpdateOAuthToken(ctx context.Context, serviceID string, fn func(*store.OAuthToken) (json.RawMessage, error)) (*store.OAuthToken, error) {
	if err := begin(ctx, "update oauth token"); err != nil {
		return nil, err
	}
	id, err := canonicalID("service", serviceID)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	_, known := s.services[id]
	s.mu.RUnlock()
	if !known {
		return nil, fmt.Errorf("%w: memory: service %s", store.ErrNotFound, id)
	}
	l := s.oauth.lock(id)
	l.Lock()
	defer l.Unlock()
	cur := s.oauth.get(id)
	next, err := fn(cur.Clone())
	if err != nil {
		return nil, err
	}
	if next == nil {
		return cur, nil
	}
	if !json.Valid(next) {
		return nil, fmt.Errorf("%w: memory: oauth token is not well-formed JSON", store.ErrInvalidArgument)
	}
	t := &store.OAuthToken{ServiceID: id, Sealed: append(json.RawMessage(nil), next...), Version: 1, UpdatedAt: s.clock()}
	if cur != nil {
		t.Version = cur.Version + 1
	}
	s.oauth.mu.Lock()
	s.oauth.tokens[id] = t
	s.oauth.mu.Unlock()
	return t.Clone(), nil
}

// DeleteOAuthToken implements [store.TokenStore].
func (s *Store) DeleteOAuthToken(ctx context.Context, serviceID string) error {
	if err := begin(ctx, "delete oauth token"); err != nil {
		return err
	}
	id, err := canonicalID("service", serviceID)
	if err != nil {
		return err
	}
	l := s.oauth.lock(id)
	l.Lock()
	defer l.Unlock()
	s.oauth.mu.Lock()
	delete(s.oauth.tokens, id)
	s.oauth.mu.Unlock()
	return nil
}

var _ store.TokenStore = (*Store)(nil)
