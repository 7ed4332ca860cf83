package store

import (
	"context"
	"encoding/json"
	"time"
)

// OAuthToken is a service's persisted OAuth token (table integration_oauth_tokens): the
// token document (access token, refresh token, expiry) sealed by the hub, never in the
// clear.
type OAuthToken struct {
	ServiceID string          `json:"service_id"`
	Sealed    json.RawMessage `json:"sealed"`
	// Version counts the saves: 1 for the first token, +1 for each refresh.
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Clone returns a deep copy of t.
func (t *OAuthToken) Clone() *OAuthToken {
	if t == nil {
		return nil
	}
	c := *t
	c.Sealed = cloneRaw(t.Sealed)
	return &c
}

// TokenStore is the optional capability of persisting the OAuth tokens connectors obtain,
// so a restarted hub, or another hub on the same store, uses the newest token — with
// single-use refresh tokens the only one that still works. Find it with a type assertion.
type TokenStore interface {
	// GetOAuthToken returns the service's token, or ErrNotFound when none was saved.
	GetOAuthToken(ctx context.Context, serviceID string) (*OAuthToken, error)
	// UpdateOAuthToken runs fn with the service's current token (nil when none) while
	// holding the service's token lock, and saves the document fn returns, when not nil, as
	// the next version before releasing the lock; it returns the token then current. On
	// PostgreSQL the lock is a row lock held in a transaction, so one refresh happens
	// across every hub sharing the database; elsewhere it is held within the process.
	// fn's error is returned and nothing is saved. Errors: ErrInvalidArgument for a
	// malformed id or a document that is not JSON.
	UpdateOAuthToken(ctx context.Context, serviceID string, fn func(cur *OAuthToken) (json.RawMessage, error)) (*OAuthToken, error)
	// DeleteOAuthToken removes the service's token (nothing when there is none).
	DeleteOAuthToken(ctx context.Context, serviceID string) error
}
