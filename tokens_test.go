package hub_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// rotatingProvider is an OAuth provider whose refresh tokens are single-use: every refresh
// issues a new access token (valid an hour) and a new refresh token, and reusing an old
// refresh token is refused with invalid_grant. /api accepts only issued, unexpired access
// tokens.
type rotatingProvider struct {
	*httptest.Server
	mu       sync.Mutex
	current  string               // the one valid refresh token
	access   map[string]time.Time // issued access token -> expiry (provider time)
	refresh  atomic.Int64
	invalid  atomic.Int64
	apiCalls atomic.Int64
	clock    *offsetClock
	codes    map[string]string // authorization code -> PKCE challenge
}

// consent plays the user approving the app: the provider issues code for the challenge
// of an authorization URL.
func (p *rotatingProvider) consent(code, challenge string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.codes[code] = challenge
}

// issue rotates the refresh token and issues an access token, under p.mu.
func (p *rotatingProvider) issue(w http.ResponseWriter) {
	n := p.refresh.Add(1)
	p.current = fmt.Sprintf("rt-%d", n)
	at := fmt.Sprintf("at-%d", n)
	p.access[at] = p.clock.Now().Add(time.Hour)
	// x/oauth2 dates the expiry from the wall clock: the lifetime is stretched by the
	// test clock's offset so the token expires an hour from now on the test clock
	lifetime := time.Hour + time.Duration(p.clock.off.Load())
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": at, "token_type": "Bearer",
		"expires_in": int(lifetime / time.Second), "refresh_token": p.current})
}

func newRotatingProvider(t *testing.T, clock *offsetClock) *rotatingProvider {
	p := &rotatingProvider{current: "rt-0", access: map[string]time.Time{}, clock: clock, codes: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		p.mu.Lock()
		defer p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Form.Get("grant_type") == "authorization_code" {
			challenge, ok := p.codes[r.Form.Get("code")]
			sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
			if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
				p.invalid.Add(1)
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"code or PKCE verifier wrong"}`))
				return
			}
			delete(p.codes, r.Form.Get("code"))
			p.issue(w)
			return
		}
		if r.Form.Get("grant_type") != "refresh_token" || r.Form.Get("refresh_token") != p.current {
			p.invalid.Add(1)
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"refresh token reused or unknown"}`))
			return
		}
		p.issue(w)
	})
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		p.apiCalls.Add(1)
		at := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		p.mu.Lock()
		exp, ok := p.access[at]
		p.mu.Unlock()
		if !ok || !p.clock.Now().Before(exp) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

// offsetClock is a clock the test moves forward, shared by the provider and the hubs.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *offsetClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

func oauthService(p *rotatingProvider) hub.IntegrationConfig {
	return hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: p.URL + "/api",
		Auth:  json.RawMessage(fmt.Sprintf(`{"type":"oauth2_refresh_token","token_url":%q,"client_id":"app","client_secret":"app-secret","refresh_token":"rt-0"}`, p.URL+"/token")),
		Retry: json.RawMessage(hubtest.FastRetry), RateLimits: json.RawMessage(hubtest.Unlimited)}
}

func deliver(t *testing.T, h *hub.Hub, n int) {
	t.Helper()
	res, err := h.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "crm", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n))})
	require.NoError(t, err)
	require.Equal(t, store.StatusSucceeded, res.Status, "delivery %d", n)
}

// TestOAuthTokensSurviveRestarts: the provider rotates the refresh token on every use and
// refuses reuse (x/oauth2 refreshes on expiry, so the test clock moves past it between hubs). A hub refreshes, is closed, and a new hub (a new store handle on the same
// SQLite file or PostgreSQL schema) delivers after the access token expired: it refreshes
// with the persisted refresh token, never the configured one — no invalid_grant, no
// re-consent — cycle after cycle.
func TestOAuthTokensSurviveRestarts(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var open func() store.Store
			switch kind {
			case "sqlite":
				path := filepath.Join(t.TempDir(), "hub.db")
				open = func() store.Store { return openSQLite(t, path) }
			case "postgres":
				schema := newSchema(t)
				open = func() store.Store { return openPostgres(t, schema) }
			}
			clock := &offsetClock{}
			p := newRotatingProvider(t, clock)
			key := testSecretKey(t)
			st := open()
			h := hubtest.New(t, st, hub.WithSecretKey(key), hub.WithClock(clock.Now))
			_, err := h.RegisterIntegration(t.Context(), oauthService(p))
			require.NoError(t, err)
			const cycles = 4
			for i := range cycles {
				deliver(t, h, i)
				require.NoError(t, h.Close(t.Context()))
				if c, ok := st.(interface{ Close() error }); ok {
					require.NoError(t, c.Close())
				}
				clock.Advance(2 * time.Hour) // the access token expires while no hub runs
				st = open()
				h = hubtest.New(t, st, hub.WithSecretKey(key), hub.WithClock(clock.Now))
			}
			deliver(t, h, cycles)
			t.Logf("%s: %d restarts, %d refreshes (each with the refresh token the one before issued), %d invalid_grant",
				kind, cycles, p.refresh.Load(), p.invalid.Load())
			assert.Equal(t, int64(cycles+1), p.refresh.Load())
			assert.Zero(t, p.invalid.Load())
		})
	}
}

// TestOAuthOneRefreshAcrossHubs: three hubs on one store, 50 concurrent deliveries each,
// all at the moment the shared access token expires: the provider sees exactly one refresh
// and no invalid_grant. On PostgreSQL the hubs have their own pools (as separate processes
// would) and serialise on the token's row lock; SQLite serialises within the process, so
// the hubs share one store handle.
func TestOAuthOneRefreshAcrossHubs(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			const hubs, calls = 3, 50
			clock := &offsetClock{}
			p := newRotatingProvider(t, clock)
			key := testSecretKey(t)
			var stores []store.Store
			switch kind {
			case "sqlite":
				st := openSQLite(t, filepath.Join(t.TempDir(), "hub.db"))
				stores = []store.Store{st, st, st}
			case "postgres":
				schema := newSchema(t)
				for range hubs {
					stores = append(stores, openPostgres(t, schema))
				}
			}
			hs := make([]*hub.Hub, hubs)
			for i := range hubs {
				hs[i] = hubtest.New(t, stores[i], hub.WithSecretKey(key), hub.WithClock(clock.Now))
			}
			_, err := hs[0].RegisterIntegration(t.Context(), oauthService(p))
			require.NoError(t, err)
			deliver(t, hs[0], -1) // the first token
			require.Equal(t, int64(1), p.refresh.Load())

			clock.Advance(2 * time.Hour) // the token expires for everyone at once
			var wg sync.WaitGroup
			var failed atomic.Int64
			start := make(chan struct{})
			for i, h := range hs {
				for c := range calls {
					wg.Go(func() {
						<-start
						res, err := h.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "crm", Payload: json.RawMessage(fmt.Sprintf(`{"hub":%d,"call":%d}`, i, c))})
						if err != nil || res.Status != store.StatusSucceeded {
							failed.Add(1)
						}
					})
				}
			}
			close(start)
			wg.Wait()
			t.Logf("%s: %d hubs x %d concurrent calls at expiry: %d refresh requests, %d invalid_grant, %d failed calls",
				kind, hubs, calls, p.refresh.Load()-1, p.invalid.Load(), failed.Load())
			assert.Equal(t, int64(2), p.refresh.Load(), "one refresh at expiry")
			assert.Zero(t, p.invalid.Load())
			assert.Zero(t, failed.Load())
		})
	}
}

// TestOAuthAuthorizationCodePKCE: a service registered without a refresh token gets its
// first tokens by consent — AuthCodeURL (S256 challenge), the provider's code, Exchange
// with the verifier — and delivers with them; a wrong verifier is refused without leaking
// it; a new hub on the same store refreshes with the token the exchange stored.
func TestOAuthAuthorizationCodePKCE(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := &offsetClock{}
	p := newRotatingProvider(t, clock)
	key := testSecretKey(t)
	path := filepath.Join(t.TempDir(), "hub.db")
	st := openSQLite(t, path)
	h := hubtest.New(t, st, hub.WithSecretKey(key), hub.WithClock(clock.Now))
	cfg := oauthService(p)
	cfg.Auth = json.RawMessage(fmt.Sprintf(`{"type":"oauth2_refresh_token","auth_url":%q,"token_url":%q,"client_id":"app","client_secret":"app-secret","redirect_url":"https://app.example/callback","scopes":["crm.write"]}`,
		p.URL+"/authorize", p.URL+"/token"))
	_, err := h.RegisterIntegration(ctx, cfg)
	require.NoError(t, err)

	req, err := h.AuthCodeURL(ctx, "crm", "state-1")
	require.NoError(t, err)
	u, err := url.Parse(req.URL)
	require.NoError(t, err)
	q := u.Query()
	assert.Equal(t, "/authorize", u.Path)
	assert.Equal(t, "state-1", q.Get("state"))
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.Equal(t, "https://app.example/callback", q.Get("redirect_uri"))
	assert.NotContains(t, req.URL, req.Verifier, "only the challenge travels")
	p.consent("code-1", q.Get("code_challenge"))

	err = h.Exchange(ctx, "crm", "code-1", "not-the-verifier-at-all-0123456789-abcdefghijklmnop")
	require.ErrorIs(t, err, hub.ErrInvalidInput)
	assert.NotContains(t, err.Error(), "not-the-verifier")
	assert.NotContains(t, err.Error(), "app-secret")
	p.consent("code-2", q.Get("code_challenge"))
	require.NoError(t, h.Exchange(ctx, "crm", "code-2", req.Verifier))
	deliver(t, h, 1)

	require.NoError(t, h.Close(ctx))
	clock.Advance(2 * time.Hour)
	h2 := hubtest.New(t, openSQLite(t, path), hub.WithSecretKey(key), hub.WithClock(clock.Now))
	deliver(t, h2, 2)
	assert.Equal(t, int64(2), p.refresh.Load(), "the exchange, then one refresh with its refresh token")
	assert.Equal(t, int64(1), p.invalid.Load(), "only the wrong verifier")

	_, err = h2.AuthCodeURL(ctx, "crm", "")
	require.ErrorIs(t, err, hub.ErrInvalidInput)
	sink := hubtest.NewSink(t)
	_, err = h2.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "plain", Connector: "http", BaseURL: sink.URL})
	require.NoError(t, err)
	_, err = h2.AuthCodeURL(ctx, "plain", "s")
	require.True(t, errors.Is(err, hub.ErrInvalidInput), "a service without OAuth settings")
}
