package httpconn_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/connectortest"
	"github.com/ehg/hub/connectors/httpconn"
)

func rawJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestConformance(t *testing.T) {
	t.Parallel()
	auths := map[string]httpconn.Auth{
		"bearer":  {Type: httpconn.AuthBearer, Token: "bearer-SECRET-123"},
		"basic":   {Type: httpconn.AuthBasic, Username: "me", Password: "basic-SECRET-456"},
		"apikeyq": {Type: httpconn.AuthAPIKey, Key: "query-SECRET-789", QueryParam: "api_key"},
	}
	for name, auth := range auths {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			connectortest.Run(t, func(t *testing.T, cfg connectors.Config) connectors.Connector {
				cfg.Auth = rawJSON(t, auth)
				cfg.Options = json.RawMessage(`{"operations":{"deliver":{"path":"/events"},"list":{"method":"GET","path":"/events","pagination":{"type":"page","items_field":"items"}}}}`)
				c, err := httpconn.New(cfg)
				require.NoError(t, err)
				return c
			}, connectortest.Features{Secrets: []string{auth.Token, auth.Password, auth.Key}})
		})
	}
}

func TestAuthHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		auth  httpconn.Auth
		check func(t *testing.T, r *http.Request)
	}{
		{httpconn.Auth{}, func(t *testing.T, r *http.Request) { assert.Empty(t, r.Header.Get("Authorization")) }},
		{httpconn.Auth{Type: "bearer", Token: "tk"}, func(t *testing.T, r *http.Request) {
			assert.Equal(t, "Bearer tk", r.Header.Get("Authorization"))
		}},
		{httpconn.Auth{Type: "basic", Username: "u", Password: "p"}, func(t *testing.T, r *http.Request) {
			u, p, ok := r.BasicAuth()
			assert.True(t, ok)
			assert.Equal(t, "u:p", u+":"+p)
		}},
		{httpconn.Auth{Type: "api_key", Key: "k"}, func(t *testing.T, r *http.Request) { assert.Equal(t, "k", r.Header.Get("X-API-Key")) }},
		{httpconn.Auth{Type: "api_key", Key: "k", Header: "Authorization", Prefix: "Token "}, func(t *testing.T, r *http.Request) {
			assert.Equal(t, "Token k", r.Header.Get("Authorization"))
		}},
		{httpconn.Auth{Type: "api_key", Key: "k", QueryParam: "key"}, func(t *testing.T, r *http.Request) {
			assert.Equal(t, "k", r.URL.Query().Get("key"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.auth.Type+tt.auth.Header+tt.auth.QueryParam, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tt.check(t, r)
				assert.Equal(t, "static", r.Header.Get("X-Static"))
				w.WriteHeader(http.StatusAccepted)
			}))
			t.Cleanup(srv.Close)
			c, err := httpconn.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Auth: rawJSON(t, tt.auth),
				Options: json.RawMessage(`{"headers":{"X-Static":"static"}}`)})
			require.NoError(t, err)
			resp, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{}`)})
			require.NoError(t, err)
			assert.Equal(t, http.StatusAccepted, resp.StatusCode)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]connectors.Config{
		"no base":            {},
		"bad auth type":      {BaseURL: "http://127.0.0.1", Auth: json.RawMessage(`{"type":"kerberos"}`)},
		"bearer no token":    {BaseURL: "http://127.0.0.1", Auth: json.RawMessage(`{"type":"bearer"}`)},
		"basic no user":      {BaseURL: "http://127.0.0.1", Auth: json.RawMessage(`{"type":"basic"}`)},
		"api key no key":     {BaseURL: "http://127.0.0.1", Auth: json.RawMessage(`{"type":"api_key"}`)},
		"api key both":       {BaseURL: "http://127.0.0.1", Auth: json.RawMessage(`{"type":"api_key","key":"k","header":"h","query_param":"q"}`)},
		"oauth no url":       {BaseURL: "http://127.0.0.1", Auth: json.RawMessage(`{"type":"oauth2_client_credentials","client_id":"c"}`)},
		"oauth rel url":      {BaseURL: "http://127.0.0.1", Auth: json.RawMessage(`{"type":"oauth2_client_credentials","client_id":"c","token_url":"/t"}`)},
		"oauth no client":    {BaseURL: "http://127.0.0.1", Auth: json.RawMessage(`{"type":"oauth2_client_credentials","token_url":"http://127.0.0.1/t"}`)},
		"refresh no token":   {BaseURL: "http://127.0.0.1", Auth: json.RawMessage(`{"type":"oauth2_refresh_token","client_id":"c","token_url":"http://127.0.0.1/t"}`)},
		"unknown option":     {BaseURL: "http://127.0.0.1", Options: json.RawMessage(`{"nope":1}`)},
		"missing default":    {BaseURL: "http://127.0.0.1", Options: json.RawMessage(`{"default_operation":"x"}`)},
		"null op":            {BaseURL: "http://127.0.0.1", Options: json.RawMessage(`{"operations":{"a":null}}`)},
		"brace path":         {BaseURL: "http://127.0.0.1", Options: json.RawMessage(`{"operations":{"a":{"path":"/x/{id"}}}`)},
		"bad pagination":     {BaseURL: "http://127.0.0.1", Options: json.RawMessage(`{"operations":{"a":{"pagination":{"type":"offset"}}}}`)},
		"cursor incomplete":  {BaseURL: "http://127.0.0.1", Options: json.RawMessage(`{"operations":{"a":{"pagination":{"type":"cursor"}}}}`)},
		"list not paginated": {BaseURL: "http://127.0.0.1", Options: json.RawMessage(`{"list_operation":"deliver"}`)},
		"auth header":        {BaseURL: "http://127.0.0.1", Options: json.RawMessage(`{"headers":{"authorization":"x"}}`)},
		"negative limit":     {BaseURL: "http://127.0.0.1", MaxResponseBytes: -5},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := httpconn.New(cfg)
			require.ErrorIs(t, err, connectors.ErrInvalidConfig)
		})
	}
}

func TestTemplatesAndOverrides(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, path, query, body string
	}
	var (
		mu   sync.Mutex
		last seen
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(b)}
		mu.Unlock()
		w.Header().Set("Location", "/things/9")
		_, _ = w.Write([]byte(`{"data":{"id":77}}`))
	}))
	t.Cleanup(srv.Close)
	c, err := httpconn.New(connectors.Config{BaseURL: srv.URL + "/api", HTTPClient: srv.Client(), Options: json.RawMessage(`{
		"operations": {
			"update": {"method":"patch","path":"/things/{id}/{owner.name}","query":{"v":"{{version}}"},
			           "body":{"fields":{"title":"Re: {{title}}","tags":"{{tags}}","missing":"{{nope}}"}},"remote_id_field":"data.id"},
			"delete": {"method":"DELETE","path":"/things/{id}","body":"none"}
		}}`)})
	require.NoError(t, err)

	resp, err := c.Invoke(t.Context(), &connectors.Request{Operation: "update", Params: map[string]string{"id": "a/b"},
		Body: json.RawMessage(`{"title":"hi","tags":["x","y"],"version":3,"owner":{"name":"Zoë"}}`)})
	require.NoError(t, err)
	assert.Equal(t, "77", resp.RemoteID)
	mu.Lock()
	assert.Equal(t, "PATCH", last.method)
	assert.Equal(t, "/api/things/a%2Fb/Zo%C3%AB", last.path)
	assert.Equal(t, "v=3", last.query)
	assert.JSONEq(t, `{"fields":{"title":"Re: hi","tags":["x","y"],"missing":null}}`, last.body)
	mu.Unlock()

	resp, err = c.Invoke(t.Context(), &connectors.Request{Operation: "delete", Body: json.RawMessage(`{"id":5}`)})
	require.NoError(t, err)
	assert.Equal(t, "/things/9", resp.RemoteID, "Location used without remote_id_field")
	mu.Lock()
	assert.Equal(t, seen{"DELETE", "/api/things/5", "", ""}, last)
	mu.Unlock()

	// Default operation: POST the payload unchanged to the base URL, with overrides.
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"a":1}`), Query: map[string][]string{"x": {"1"}}})
	require.NoError(t, err)
	mu.Lock()
	assert.Equal(t, seen{"POST", "/api", "x=1", `{"a":1}`}, last)
	mu.Unlock()
	_, err = c.Invoke(t.Context(), &connectors.Request{Method: "put", Path: "/raw/{k}", Params: map[string]string{"k": "v"}, Body: json.RawMessage(`{}`)})
	require.NoError(t, err)
	mu.Lock()
	assert.Equal(t, seen{"PUT", "/api/raw/v", "", `{}`}, last)
	mu.Unlock()

	for name, req := range map[string]*connectors.Request{
		"unknown op":    {Operation: "nope"},
		"missing param": {Operation: "delete", Body: json.RawMessage(`{}`)},
		"bad json":      {Body: json.RawMessage(`{`)},
	} {
		_, err := c.Invoke(t.Context(), req)
		require.ErrorIs(t, err, connectors.ErrBadRequest, name)
	}
	info := c.Info()
	assert.Equal(t, []string{"delete", "deliver", "update"}, info.Operations)
	assert.Equal(t, srv.URL, info.BaseURL, "only the origin is reported")
}

func TestOAuth2ClientCredentials(t *testing.T) {
	t.Parallel()
	var tokenHits, apiHits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		n := tokenHits.Add(1)
		require.NoError(t, r.ParseForm())
		assert.Equal(t, "client_credentials", r.PostForm.Get("grant_type"))
		assert.Equal(t, "crm.read", r.PostForm.Get("scope"))
		id, secret, ok := r.BasicAuth()
		if !ok || id != "cid" || secret != "cc-SECRET" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"bad secret cc-SECRET"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600}`, n)
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		apiHits.Add(1)
		// at-1 is revoked server-side: the connector must refresh once and retry.
		if r.Header.Get("Authorization") != "Bearer at-2" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	build := func(secret string) *httpconn.Connector {
		c, err := httpconn.New(connectors.Config{BaseURL: srv.URL + "/api", HTTPClient: srv.Client(), Auth: rawJSON(t, httpconn.Auth{
			Type: httpconn.AuthOAuth2ClientCredentials, TokenURL: srv.URL + "/oauth/token", ClientID: "cid", ClientSecret: secret, Scopes: []string{"crm.read"},
		})})
		require.NoError(t, err)
		return c
	}
	c := build("cc-SECRET")
	for range 3 {
		_, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{}`)})
		require.NoError(t, err)
	}
	assert.EqualValues(t, 2, tokenHits.Load(), "one fetch, one refresh after 401, then cached")
	assert.EqualValues(t, 4, apiHits.Load())

	bad := build("wrong-SECRET")
	_, err := bad.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, connectors.ErrAuth)
	assert.NotContains(t, err.Error(), "SECRET")
}

func TestOAuth2RefreshTokenRotation(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		received []string
	)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		mu.Lock()
		received = append(received, r.PostForm.Get("refresh_token"))
		n := len(received)
		mu.Unlock()
		assert.Equal(t, "refresh_token", r.PostForm.Get("grant_type"))
		assert.Equal(t, "cid", r.PostForm.Get("client_id"), "client auth in params")
		w.Header().Set("Content-Type", "application/json")
		// expires_in 1: expired at once given the 10 s safety margin, so every call refreshes.
		_, _ = fmt.Fprintf(w, `{"access_token":"at-%d","refresh_token":"rt-%d","expires_in":1}`, n, n+1)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := httpconn.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Auth: rawJSON(t, httpconn.Auth{
		Type: httpconn.AuthOAuth2RefreshToken, TokenURL: srv.URL + "/token", ClientID: "cid", ClientSecret: "cs", RefreshToken: "rt-1", ClientAuthInParams: true,
	})})
	require.NoError(t, err)
	for range 3 {
		_, err := c.Invoke(t.Context(), &connectors.Request{})
		require.NoError(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"rt-1", "rt-2", "rt-3"}, received, "rotated refresh tokens are used")
}

func TestPagination(t *testing.T) {
	t.Parallel()
	items := []string{"a", "b", "c", "d", "e"}
	mux := http.NewServeMux()
	page := func(from, size int) []string {
		if from >= len(items) {
			return []string{}
		}
		return items[from:min(from+size, len(items))]
	}
	var srvURL string
	mux.HandleFunc("/link", func(w http.ResponseWriter, r *http.Request) {
		from := 0
		_, _ = fmt.Sscan(r.URL.Query().Get("from"), &from)
		if from == 0 {
			assert.Equal(t, "2026-01-02T03:04:05Z", r.URL.Query().Get("since"))
		}
		if from+2 < len(items) {
			w.Header().Add("Link", fmt.Sprintf(`<%s/link?from=%d>; rel="next", <%s/link?from=4>; rel="last"`, srvURL, from+2, srvURL))
		}
		_ = json.NewEncoder(w).Encode(page(from, 2))
	})
	mux.HandleFunc("/stuck", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"items":[1],"next":"same"}`))
	})
	mux.HandleFunc("/evil", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `<https://attacker.example/steal>; rel="next"`)
		_, _ = w.Write([]byte(`[]`))
	})
	mux.HandleFunc("/cursor", func(w http.ResponseWriter, r *http.Request) {
		from := 0
		_, _ = fmt.Sscan(r.URL.Query().Get("after"), &from)
		assert.Equal(t, "2", r.URL.Query().Get("limit"))
		doc := map[string]any{"results": page(from, 2)}
		if from+2 < len(items) {
			doc["paging"] = map[string]any{"next": map[string]any{"after": fmt.Sprint(from + 2)}}
		}
		_ = json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("/pages", func(w http.ResponseWriter, r *http.Request) {
		p := 0
		_, _ = fmt.Sscan(r.URL.Query().Get("p"), &p)
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"rows": page((p-1)*2, 2)}})
	})
	srv := httptest.NewServer(mux)
	srvURL = srv.URL
	t.Cleanup(srv.Close)
	c, err := httpconn.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Options: json.RawMessage(`{"operations":{
		"link":   {"method":"GET","path":"/link","pagination":{"type":"link","since_param":"since"}},
		"evil":   {"method":"GET","path":"/evil","pagination":{"type":"link"}},
		"stuck":  {"method":"GET","path":"/stuck","pagination":{"type":"cursor","items_field":"items","cursor_param":"c","cursor_field":"next"}},
		"cursor": {"method":"GET","path":"/cursor","pagination":{"type":"cursor","items_field":"results","cursor_param":"after","cursor_field":"paging.next.after","size_param":"limit","page_size":2}},
		"pages":  {"method":"GET","path":"/pages","pagination":{"type":"page","page_param":"p","items_field":"data.rows","page_size":2}}
	}}`)})
	require.NoError(t, err)
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, op := range []string{"link", "cursor", "pages"} {
		t.Run(op, func(t *testing.T) {
			var got []string
			cursor := ""
			for calls := 0; ; calls++ {
				require.Less(t, calls, 10, "listing does not terminate")
				p, err := c.List(t.Context(), &connectors.ListRequest{Operation: op, Cursor: cursor, Since: since})
				require.NoError(t, err)
				for _, it := range p.Items {
					var s string
					require.NoError(t, json.Unmarshal(it, &s))
					got = append(got, s)
				}
				if p.NextCursor == "" {
					break
				}
				cursor = p.NextCursor
			}
			assert.Equal(t, items, got)
		})
	}
	p, err := c.List(t.Context(), &connectors.ListRequest{Operation: "evil"})
	require.NoError(t, err)
	_, err = c.List(t.Context(), &connectors.ListRequest{Operation: "evil", Cursor: p.NextCursor})
	require.ErrorIs(t, err, connectors.ErrForeignURL)
	_, err = c.List(t.Context(), &connectors.ListRequest{Operation: "stuck", Cursor: "same"})
	require.ErrorIs(t, err, connectors.ErrStuckCursor)
	_, err = c.List(t.Context(), &connectors.ListRequest{})
	require.ErrorIs(t, err, connectors.ErrBadRequest, "ambiguous list operation must be named")
	_, err = c.List(t.Context(), &connectors.ListRequest{Operation: "pages", Cursor: "x"})
	require.ErrorIs(t, err, connectors.ErrBadRequest)
}

func TestNextLink(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Add("Link", `<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=3>; rel="next"`)
	assert.Equal(t, "https://api.github.com/x?page=3", httpconn.NextLink(h))
	assert.Empty(t, httpconn.NextLink(http.Header{"Link": {`<u>; rel="last"`, `garbage`}}))
}

func TestErrorFields(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, code, msg string }{
		{`{"message":"Not Found"}`, "", "Not Found"},
		{`{"error":{"code":"E1","message":"bad"}}`, "E1", "bad"},
		{`{"errorMessages":["Issue does not exist"],"errors":{}}`, "", "Issue does not exist"},
		{`[{"errorCode":"INVALID_FIELD","message":"No such column"}]`, "INVALID_FIELD", "No such column"},
		{`{"error":"invalid_grant","error_description":"expired"}`, "invalid_grant", "expired"},
		{`not json`, "", ""},
	}
	for _, tt := range tests {
		code, msg := httpconn.ErrorFields([]byte(tt.body))
		assert.Equal(t, tt.code, code, tt.body)
		assert.Equal(t, tt.msg, msg, tt.body)
	}
}

func FuzzInvokeTemplates(f *testing.F) {
	f.Add(`{"a":{"b":[1,2]},"t":"x"}`, "/x/{a.b.0}", `{"v":"{{a.b}}","s":"pre {{t}} {{a}}"}`)
	f.Add(`[]`, "/{", `"none"`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	f.Cleanup(srv.Close)
	f.Fuzz(func(t *testing.T, payload, path, body string) {
		opts, err := json.Marshal(map[string]any{"operations": map[string]any{"op": map[string]any{"path": path, "body": json.RawMessage(body)}}})
		if err != nil {
			return // body is not JSON; configuration would be rejected earlier
		}
		c, err := httpconn.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Options: opts})
		if err != nil {
			require.ErrorIs(t, err, connectors.ErrInvalidConfig)
			return
		}
		_, err = c.Invoke(t.Context(), &connectors.Request{Operation: "op", Body: json.RawMessage(payload)})
		if err != nil {
			require.ErrorIs(t, err, connectors.ErrBadRequest)
		}
	})
}
