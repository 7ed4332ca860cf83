package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/oauth2"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/store"
)

// tokenExpiryDelta is how close to its expiry a persisted token counts as expired (the
// margin the connectors' token caches use).
const tokenExpiryDelta = 10 * time.Second

// tokenKeeper persists one service's OAuth tokens in the store, sealed under the
// credential key and bound to the service (connectors.TokenKeeper).
type tokenKeeper struct {
	h         *Hub
	ts        store.TokenStore
	serviceID string
	name      string
}

// tokenKeeperFor returns the keeper of svc's tokens, or nil when the store keeps no
// tokens or the hub has no key to seal them with.
func (h *Hub) tokenKeeperFor(svc *store.Service) connectors.TokenKeeper {
	ts, ok := h.st.(store.TokenStore)
	if !ok || !h.vault.canSeal() {
		return nil
	}
	return &tokenKeeper{h: h, ts: ts, serviceID: svc.ID, name: svc.Name}
}

// aad binds a sealed token to its service, apart from the service's credentials.
func (k *tokenKeeper) aad() string { return k.name + "#oauth-token" }

func (k *tokenKeeper) open(ctx context.Context, rec *store.OAuthToken) (*oauth2.Token, error) {
	if rec == nil || len(rec.Sealed) == 0 {
		return nil, nil
	}
	plain, err := k.h.vault.open(ctx, k.aad(), rec.Sealed)
	if errors.Is(err, ErrDataKeyDestroyed) {
		return nil, nil // shredded with the credentials (DestroyDataKey): as if none was kept
	}
	if err != nil {
		return nil, fmt.Errorf("hub: the persisted OAuth token of %s cannot be opened: %w", k.name, err)
	}
	t, err := decodeToken(plain)
	if err != nil {
		return nil, fmt.Errorf("hub: the persisted OAuth token of %s is malformed", k.name)
	}
	return t, nil
}

// tokenExtraKeys are the token response members kept with a persisted token besides
// oauth2.Token's own, so a connector that reads them after a restart finds them
// (Salesforce's instance_url, where the org's API lives).
func tokenExtraKeys() []string { return []string{"instance_url", "id", "scope"} }

// persistedToken is a token as the store keeps it (sealed): oauth2.Token's fields and
// the extra members of tokenExtraKeys the token response had.
type persistedToken struct {
	oauth2.Token
	Extra map[string]any `json:"extra,omitempty"`
}

// encodeToken is the plaintext of a token to seal.
func encodeToken(t *oauth2.Token) ([]byte, error) {
	p := persistedToken{Token: *t}
	for _, k := range tokenExtraKeys() {
		if v := t.Extra(k); v != nil && v != "" {
			if p.Extra == nil {
				p.Extra = map[string]any{}
			}
			p.Extra[k] = v
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("hub: encoding an OAuth token: %w", err)
	}
	return b, nil
}

// decodeToken reads what encodeToken wrote (or a bare oauth2.Token, as kept before).
func decodeToken(plain []byte) (*oauth2.Token, error) {
	var p persistedToken
	if err := json.Unmarshal(plain, &p); err != nil {
		return nil, err
	}
	t := p.Token
	if len(p.Extra) > 0 {
		return t.WithExtra(p.Extra), nil
	}
	return &t, nil
}

// Load implements connectors.TokenKeeper.
func (k *tokenKeeper) Load(ctx context.Context) (*oauth2.Token, error) {
	rec, err := k.ts.GetOAuthToken(ctx, k.serviceID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, mapStoreErr(err)
	}
	return k.open(ctx, rec)
}

// Refresh implements connectors.TokenKeeper: under the store's token lock (a row lock
// on PostgreSQL), a token another hub saved meanwhile is used as is; otherwise fetch runs
// with the newest refresh token and its result is sealed and saved before the lock goes.
func (k *tokenKeeper) Refresh(ctx context.Context, stale *oauth2.Token, fetch func(context.Context, *oauth2.Token) (*oauth2.Token, error)) (*oauth2.Token, error) {
	var out *oauth2.Token
	_, err := k.ts.UpdateOAuthToken(ctx, k.serviceID, func(cur *store.OAuthToken) (json.RawMessage, error) {
		newest, err := k.open(ctx, cur)
		if err != nil {
			return nil, err
		}
		if newest != nil && newest.AccessToken != "" && (stale == nil || newest.AccessToken != stale.AccessToken) &&
			(newest.Expiry.IsZero() || k.h.cfg.Clock().Add(tokenExpiryDelta).Before(newest.Expiry)) {
			out = newest
			return nil, nil
		}
		base := newest
		if base == nil || base.RefreshToken == "" {
			base = stale
		}
		t, err := fetch(ctx, base)
		if err != nil {
			return nil, err
		}
		plain, err := encodeToken(t)
		if err != nil {
			return nil, err
		}
		sealed, err := k.h.vault.seal(ctx, serviceKeyOwner(k.name), k.aad(), plain)
		if err != nil {
			return nil, err
		}
		out = t
		return sealed, nil
	})
	if err != nil {
		return nil, err // fetch's errors as they are: the connector classifies them
	}
	return out, nil
}
