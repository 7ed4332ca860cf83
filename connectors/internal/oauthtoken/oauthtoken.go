// Package oauthtoken caches OAuth2 access tokens for connectors: one fetch at a time
// (concurrent callers wait for it and share its result, or give up when their
// context ends), invalidation by the token that failed (so fifty requests rejected
// with the same stale token cause one refresh, not fifty), and conversion of token
// endpoint failures into classified connectors errors.
//
// It plays the role of oauth2.ReuseTokenSource, adding what that lacks: a context
// per call (golang/oauth2#262) and invalidation after the remote rejects a token it
// believed valid (Salesforce sessions carry no expiry).
package oauthtoken

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/ehg/hub/connectors"
)

// ExpiryDelta is how long before its expiry a token is treated as expired, so a
// token does not lapse in flight (the same margin x/oauth2 uses).
const ExpiryDelta = 10 * time.Second

// ErrNoAccessToken is returned when a fetch succeeds without an access token.
var ErrNoAccessToken = errors.New("oauthtoken: token endpoint returned no access token")

// FetchFunc obtains a new token. prev is the last token (nil at first), from which a
// refresh-token flow takes its refresh token.
type FetchFunc func(ctx context.Context, prev *oauth2.Token) (*oauth2.Token, error)

// Cache holds one token. It is safe for concurrent use.
type Cache struct {
	fetch FetchFunc
	now   func() time.Time
	sem   chan struct{} // one fetch at a time; a channel so waiters honour ctx

	mu  sync.Mutex
	tok *oauth2.Token

	keeper   connectors.TokenKeeper // persists tokens; nil keeps them in memory
	loaded   bool                   // the keeper's token was loaded (under sem)
	rejected string                 // the access token Invalidate dropped
}

// Persist makes the cache load its first token from k and refresh through k, so tokens
// survive restarts and are shared with every process using k's store. A nil k changes
// nothing. It returns c.
func (c *Cache) Persist(k connectors.TokenKeeper) *Cache {
	c.keeper = k
	return c
}

// New returns a cache that fetches with fetch, starting from initial (which may be
// nil, expired or hold only a refresh token). now nil means time.Now.
func New(fetch FetchFunc, initial *oauth2.Token, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{fetch: fetch, now: now, sem: make(chan struct{}, 1), tok: initial}
}

func (c *Cache) current() *oauth2.Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tok
}

func (c *Cache) valid(t *oauth2.Token) bool {
	if t == nil || t.AccessToken == "" {
		return false
	}
	return t.Expiry.IsZero() || c.now().Add(ExpiryDelta).Before(t.Expiry)
}

// Token returns a valid token, fetching one when the cached token is missing or
// expired. Only one fetch runs at a time; callers arriving during a fetch wait for
// it and reuse its token. It returns ctx's error if ctx ends while waiting, or the
// fetch's error.
func (c *Cache) Token(ctx context.Context) (*oauth2.Token, error) {
	if t := c.current(); c.valid(t) {
		return t, nil
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.sem }()
	if c.keeper != nil && !c.loaded {
		// the newest persisted token supersedes the configured one: its refresh token is
		// the one the server last issued
		t, err := c.keeper.Load(ctx)
		if err != nil {
			return nil, err
		}
		c.loaded = true
		if t != nil {
			c.mu.Lock()
			c.tok = t
			c.mu.Unlock()
		}
	}
	prev := c.current()
	if c.valid(prev) { // another caller fetched while we waited
		return prev, nil
	}
	fetch := func(ctx context.Context, prev *oauth2.Token) (*oauth2.Token, error) {
		t, err := c.fetch(ctx, prev)
		if err != nil {
			return nil, err
		}
		if t == nil || t.AccessToken == "" {
			return nil, ErrNoAccessToken
		}
		if t.RefreshToken == "" && prev != nil {
			t.RefreshToken = prev.RefreshToken // servers that do not rotate omit it
		}
		return t, nil
	}
	var (
		t   *oauth2.Token
		err error
	)
	if c.keeper != nil {
		stale := &oauth2.Token{}
		if prev != nil {
			*stale = *prev
		}
		if stale.AccessToken == "" {
			stale.AccessToken = c.rejected
		}
		t, err = c.keeper.Refresh(ctx, stale, fetch)
		if err == nil && (t == nil || t.AccessToken == "") {
			err = ErrNoAccessToken
		}
	} else {
		t, err = fetch(ctx, prev)
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.tok = t
	c.mu.Unlock()
	return t, nil
}

// Invalidate marks accessToken as rejected by the remote. The cached token is
// dropped only when it is still that token, so a refresh that already replaced it
// is kept. The refresh token is retained.
func (c *Cache) Invalidate(accessToken string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != nil && c.tok.AccessToken == accessToken {
		c.tok = &oauth2.Token{RefreshToken: c.tok.RefreshToken}
		c.rejected = accessToken
	}
}

// WithClient returns ctx carrying client for x/oauth2's token requests, so they go
// through the connector's injected *http.Client.
func WithClient(ctx context.Context, client *http.Client) context.Context {
	if client == nil {
		return ctx
	}
	return context.WithValue(ctx, oauth2.HTTPClient, client)
}

// ClassifyError converts an error from a token request into a classified error for
// op. Context errors are returned wrapped as themselves. An *oauth2.RetrieveError
// becomes a *connectors.Error whose class follows the token endpoint's status
// (400 and 401, e.g. invalid_grant or invalid_client, are auth failures) and whose
// text holds the OAuth error code and description, redacted of secrets; the raw
// response body is not kept because token endpoints may echo request parameters.
func ClassifyError(ctx context.Context, op string, err error, secrets ...string) error {
	if ctx.Err() != nil {
		return connectors.TransportError(ctx, op, err)
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		var header http.Header
		if re.Response != nil {
			status = re.Response.StatusCode
			header = re.Response.Header
		}
		class := connectors.ClassForStatus(status)
		if status == http.StatusBadRequest {
			class = connectors.ClassAuth
		}
		e := &connectors.Error{
			Class:      class,
			Op:         op,
			StatusCode: status,
			Code:       connectors.Redact(re.ErrorCode, secrets...),
			Message:    connectors.Redact("token request failed: "+re.ErrorDescription, secrets...),
			Header:     connectors.SafeHeader(header),
		}
		if header != nil {
			e.RetryDelay = connectors.ParseRetryAfter(header, time.Now())
		}
		return e
	}
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, ErrNoAccessToken) {
		return &connectors.Error{Class: connectors.ClassAuth, Op: op, Err: err}
	}
	return connectors.TransportError(ctx, op, err)
}
