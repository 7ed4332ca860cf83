package hub_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// TestOAuthPKCENativeConnectors: every native OAuth connector (HubSpot, Jira Cloud 3LO,
// GitLab, Salesforce's refresh_token flow) is registered with only its app's client settings; until someone authorizes
// the app its deliveries fail as auth failures and reach nobody; AuthCodeURL sends the
// user to the vendor's authorization endpoint with an S256 challenge (and the vendor's
// own parameters: Atlassian's audience and prompt); Exchange trades the code with the
// verifier, persists the tokens, and the connector delivers with them. Without auth_url
// the vendor's documented authorization endpoint is used.
func TestOAuthPKCENativeConnectors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind, apiPath, options, payload, defaultAuthURL string
		authParams                                      map[string]string
		auth                                            map[string]any // vendor members besides the app's
	}{
		{"hubspot", "", `{"object_type":"contacts"}`, `{"email":"jo@example.com"}`, "https://app.hubspot.com/oauth/authorize", nil, nil},
		{"jira", "", `{"project_key":"PAY"}`, `{"title":"Refund retries exhaust"}`, "https://auth.atlassian.com/authorize",
			map[string]string{"audience": "api.atlassian.com", "prompt": "consent"}, nil},
		{"gitlab", "/api/v4", `{"project":"acme/payments"}`, `{"title":"Refund retries exhaust"}`, "{api}/oauth/authorize", nil, nil},
		{"salesforce", "", `{"sobject":"Case"}`, `{"Subject":"Refund retries exhaust"}`, "{api}/services/oauth2/authorize", nil,
			map[string]any{"flow": "refresh_token"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			clock := &offsetClock{}
			p := newRotatingProvider(t, clock)
			var calls, authorized atomic.Int64
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				at := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
				p.mu.Lock()
				_, ok := p.access[at]
				p.mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				if !ok {
					w.WriteHeader(http.StatusUnauthorized)
					_, _ = w.Write([]byte(`{"message":"401 Unauthorized"}`))
					return
				}
				authorized.Add(1)
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte(`{"id":"51","key":"PAY-1","iid":7,"properties":{}}`))
			}))
			t.Cleanup(api.Close)
			h := hubtest.New(t, openSQLite(t, filepath.Join(t.TempDir(), "hub.db")), hub.WithSecretKey(testSecretKey(t)), hub.WithClock(clock.Now))
			app := func(name, authURL string) {
				auth := map[string]any{"client_id": "app", "client_secret": "app-secret", "token_url": p.URL + "/token",
					"redirect_url": "https://app.example/callback", "scopes": []string{"write"}}
				if authURL != "" {
					auth["auth_url"] = authURL
				}
				for k, v := range tc.auth {
					auth[k] = v
				}
				a, err := json.Marshal(auth)
				require.NoError(t, err)
				register(t, h, name, api.URL+tc.apiPath, func(c *hub.IntegrationConfig) {
					c.Connector, c.Auth, c.ConnectorOptions = tc.kind, a, json.RawMessage(tc.options)
				})
			}
			app("crm", p.URL+"/authorize")

			before, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Payload: json.RawMessage(tc.payload)})
			require.ErrorIs(t, err, hub.ErrDeliveryFailed)
			require.NotNil(t, before)
			assert.Equal(t, store.StatusFailed, before.Status, "not authorized yet: %s", before.Error)
			ev, err := h.Store().GetEvent(ctx, before.EventID)
			require.NoError(t, err)
			var details map[string]any
			require.NoError(t, json.Unmarshal(ev.ErrorDetails, &details))
			assert.Equal(t, "auth", details["class"])
			assert.Zero(t, calls.Load(), "nothing was sent without a token")

			req, err := h.AuthCodeURL(ctx, "crm", "state-1")
			require.NoError(t, err)
			u, err := url.Parse(req.URL)
			require.NoError(t, err)
			q := u.Query()
			assert.Equal(t, p.URL+"/authorize", u.Scheme+"://"+u.Host+u.Path)
			assert.Equal(t, "S256", q.Get("code_challenge_method"))
			assert.NotEmpty(t, q.Get("code_challenge"))
			assert.Equal(t, "app", q.Get("client_id"))
			assert.Equal(t, "https://app.example/callback", q.Get("redirect_uri"))
			assert.Equal(t, "write", q.Get("scope"))
			assert.NotContains(t, req.URL, req.Verifier, "only the challenge travels")
			for k, v := range tc.authParams {
				assert.Equal(t, v, q.Get(k), k)
			}
			p.consent("code-1", q.Get("code_challenge"))
			require.ErrorIs(t, h.Exchange(ctx, "crm", "code-1", "wrong-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"), hub.ErrInvalidInput)
			p.consent("code-2", q.Get("code_challenge"))
			require.NoError(t, h.Exchange(ctx, "crm", "code-2", req.Verifier))

			after, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Payload: json.RawMessage(tc.payload)})
			require.NoError(t, err)
			assert.Equal(t, store.StatusSucceeded, after.Status, after.Error)
			assert.EqualValues(t, 1, authorized.Load(), "delivered with the exchanged token")

			app("crm-default", "")
			def, err := h.AuthCodeURL(ctx, "crm-default", "state-2")
			require.NoError(t, err)
			want := strings.Replace(tc.defaultAuthURL, "{api}", api.URL, 1)
			assert.True(t, strings.HasPrefix(def.URL, want+"?"), "%s starts with %s", def.URL, want)
			t.Logf("%s: before consent %s (%s); authorization URL %s; after exchange %s", tc.kind, before.Status, details["class"],
				fmt.Sprintf("%s?code_challenge_method=%s", u.Path, q.Get("code_challenge_method")), after.Status)
		})
	}
}
