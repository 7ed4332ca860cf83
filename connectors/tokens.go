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

// AuthCodeSettings are an OAuth connector's authorization-code settings: where to send
// the user (AuthURL, with PKCE S256, RFC 7636) and where to trade the code (TokenURL),
// as the connector resolved them from its credentials and the vendor's defaults. The
// hub's AuthCodeURL and Exchange use them; the tokens obtained are persisted through
// the service's TokenKeeper, where the connector finds them.
type AuthCodeSettings struct {
	// AuthURL is the vendor's authorization endpoint; TokenURL its token endpoint.
	AuthURL, TokenURL string
	// ClientID and ClientSecret identify the app (ClientSecret may be empty for public
	// clients, which PKCE is for).
	ClientID, ClientSecret string
	// RedirectURL is the app's registered redirect URI; Scopes the scopes requested.
	RedirectURL string
	Scopes      []string
	// ClientAuthInParams sends the client credentials in the token request body instead
	// of HTTP basic auth.
	ClientAuthInParams bool
	// AuthParams are extra parameters of the authorization URL the vendor documents
	// (Atlassian's audience and prompt, for example).
	AuthParams map[string]string
}

// AuthCodeClient is implemented by connectors whose OAuth tokens can come from the
// authorization-code flow. AuthCode returns false when the connector is configured
// without OAuth (a static token or an API key).
type AuthCodeClient interface {
	AuthCode() (AuthCodeSettings, bool)
}
