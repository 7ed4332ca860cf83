package hubhttp

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/ehg/hub"
)

// Principal is the authenticated caller of a request: an ID and the roles it holds. The
// handler records the ID as the actor of every change it asks of the hub.
type Principal struct {
	ID    string
	Roles []string
}

// AuthenticateFunc identifies the caller of a request. It returns an error (answered 401,
// with the error's text as detail, so it must not hold secrets) when the request carries no
// valid credentials. It must be safe for concurrent use.
type AuthenticateFunc func(r *http.Request) (Principal, error)

// Authentication errors of BearerTokens.
var (
	// ErrNoCredentials: the request has no Authorization: Bearer header.
	ErrNoCredentials = errors.New("hubhttp: no bearer token (send Authorization: Bearer <token>)")
	// ErrBadCredentials: the bearer token is not one of the known tokens.
	ErrBadCredentials = errors.New("hubhttp: unknown bearer token")
)

// BearerTokens returns an AuthenticateFunc mapping the bearer tokens of tokens to their
// principals. Tokens are compared in constant time, by their SHA-256, and never logged.
// The map is copied.
func BearerTokens(tokens map[string]Principal) AuthenticateFunc {
	type entry struct {
		sum [sha256.Size]byte
		p   Principal
	}
	entries := make([]entry, 0, len(tokens))
	for t, p := range tokens {
		entries = append(entries, entry{sha256.Sum256([]byte(t)), Principal{ID: p.ID, Roles: append([]string(nil), p.Roles...)}})
	}
	return func(r *http.Request) (Principal, error) {
		tok, ok := BearerToken(r)
		if !ok {
			return Principal{}, ErrNoCredentials
		}
		sum := sha256.Sum256([]byte(tok))
		var found *Principal
		for i := range entries {
			if subtle.ConstantTimeCompare(sum[:], entries[i].sum[:]) == 1 {
				found = &entries[i].p
			}
		}
		if found == nil {
			return Principal{}, ErrBadCredentials
		}
		return *found, nil
	}
}

// Request headers that carry governance context to the hub.
const (
	// ReasonHeader carries the justification an approval request stores (hub.WithReason).
	ReasonHeader = "Hub-Reason"
	// OverrideHeader makes the request a chairman's override with its reason
	// (hub.WithOverride): a change held for approval applies at once, an event with
	// chairman_override goes to the front of the queue. The hub refuses it without the
	// governance.override permission or with an empty reason.
	OverrideHeader = "Hub-Override-Reason"
)

// BearerToken returns the token of the request's Authorization: Bearer header.
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(h[len(prefix):])
	return tok, tok != ""
}

// authenticate runs Options.Authenticate and returns the context hub calls run with.
func (x *Handler) authenticate(r *http.Request) (context.Context, error) {
	p, err := x.opts.Authenticate(r)
	if err != nil {
		return nil, err
	}
	if p.ID == "" {
		return nil, errors.New("hubhttp: the authenticated principal has no ID")
	}
	roles := make([]hub.Role, len(p.Roles))
	for i, role := range p.Roles {
		roles[i] = hub.Role(role)
	}
	// The hub checks the principal's permissions when it was built WithAuthorization.
	ctx := hub.WithPrincipal(r.Context(), hub.Principal{ID: p.ID, Roles: roles})
	if reason := strings.TrimSpace(r.Header.Get(ReasonHeader)); reason != "" {
		ctx = hub.WithReason(ctx, reason)
	}
	if reason, ok := r.Header[http.CanonicalHeaderKey(OverrideHeader)]; ok {
		ctx = hub.WithOverride(ctx, strings.Join(reason, " ")) // an empty reason is refused by the hub
	}
	return context.WithValue(ctx, ctxKey{}, p), nil
}
