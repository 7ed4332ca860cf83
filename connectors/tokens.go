package connectors

import (
	"context"

	"golang.org/x/oauth2"
)

// TokenKeeper persists the OAuth tokens a connector obtains or rotates, so a restarted
// process, or another process sharing the keeper's store, uses the newest token — with
// single-use refresh tokens the only one still valid. The hub supplies one per service
// (Config.Tokens); without one a connector keeps its token in memory only.
type TokenKeeper interface {
	// Load returns the newest persisted token, or nil when none was persisted.
	Load(ctx context.Context) (*oauth2.Token, error)
	// Refresh obtains a new token once among everyone sharing the keeper: holding the
	// keeper's lock, it reads the newest persisted token and, when that is not stale (its
	// access token differs from stale's: someone refreshed meanwhile) and does not expire
	// within 10 seconds, returns it without fetching; otherwise it calls fetch with the
	// newest token (stale when none was persisted) and persists what fetch returns before
	// releasing the lock.
	Refresh(ctx context.Context, stale *oauth2.Token, fetch func(ctx context.Context, prev *oauth2.Token) (*oauth2.Token, error)) (*oauth2.Token, error)
}
