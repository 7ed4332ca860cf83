package gitlab_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/connectortest"
	"github.com/ehg/hub/connectors/gitlab"
	"github.com/ehg/hub/connectors/internal/fakeclock"
	"github.com/ehg/hub/connectors/internal/restclient"
)

const (
	token        = "glpat-SECRET-ACCESS-TOKEN"
	webhookToken = "gitlab-WEBHOOK-SECRET-TOKEN"
	prefix       = "/gitlab/api/v4" // a self-managed instance under a relative URL root
)

// fake reproduces the GitLab REST API v4 of a self-managed instance: PRIVATE-TOKEN or
// OAuth bearer auth, URL-encoded project paths, issues (400 "title is missing"),
// issue and merge request notes, keyset pagination of issues with a Link header, the
// RateLimit-* headers and 429 "Retry later" with Retry-After.
type fake struct {
	mu       sync.Mutex
	hits     atomic.Int32
	issues   []map[string]any
	notes    []string
	total    int
	throttle bool
	drained  bool
	clk      *fakeclock.Clock
	bearer   string
	srvURL   string
	// pagination records the pagination parameter of each issues listing request.
	pagination []string
}

func glJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bearer != "" {
		if r.Header.Get("Authorization") != "Bearer "+f.bearer {
			glJSON(w, 401, map[string]any{"error": "invalid_token", "error_description": "Token is expired. You can either do re-authorization or token refresh."})
			return
		}
	} else if r.Header.Get("Private-Token") != token {
		glJSON(w, 401, map[string]any{"message": "401 Unauthorized"})
		return
	}
	w.Header().Set("RateLimit-Name", "throttle_authenticated_api")
	w.Header().Set("RateLimit-Limit", "60")
	w.Header().Set("RateLimit-Observed", "3")
	w.Header().Set("RateLimit-Remaining", "57")
	reset := f.clk.Now().Add(45 * time.Second)
	w.Header().Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	w.Header().Set("RateLimit-ResetTime", reset.Format(http.TimeFormat))
	if f.throttle {
		w.Header().Set("RateLimit-Remaining", "0")
		w.Header().Set("RateLimit-Reset", strconv.FormatInt(f.clk.Now().Add(60*time.Second).Unix(), 10))
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(429)
		_, _ = io.WriteString(w, "Retry later\n")
		return
	}
	if f.drained {
		w.Header().Set("RateLimit-Remaining", "0")
	}
	path := strings.TrimPrefix(r.URL.EscapedPath(), prefix)
	const proj = "/projects/acme%2Fpayments"
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	switch {
	case path == "/user" || path == proj && r.Method == http.MethodGet:
		glJSON(w, 200, map[string]any{"id": 7, "path_with_namespace": "acme/payments"})
	case r.Method == http.MethodPost && path == proj+"/issues":
		if t, _ := body["title"].(string); t == "" {
			glJSON(w, 400, map[string]any{"error": "title is missing"})
			return
		}
		body["iid"] = len(f.issues) + 1
		f.issues = append(f.issues, body)
		glJSON(w, 201, map[string]any{"id": 84000 + len(f.issues), "iid": len(f.issues), "project_id": 7, "title": body["title"]})
	case r.Method == http.MethodPut && strings.HasPrefix(path, proj+"/issues/"):
		glJSON(w, 200, map[string]any{"id": 84001, "iid": 1, "state": map[bool]string{true: "closed", false: "opened"}[body["state_event"] == "close"]})
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/notes"):
		if b, _ := body["body"].(string); b == "" {
			glJSON(w, 400, map[string]any{"message": map[string]any{"note": []string{"can't be blank"}}})
			return
		}
		f.notes = append(f.notes, strings.TrimPrefix(path, proj))
		glJSON(w, 201, map[string]any{"id": 300 + len(f.notes), "body": body["body"]})
	case r.Method == http.MethodGet && path == proj+"/issues":
		q := r.URL.Query()
		f.pagination = append(f.pagination, q.Get("pagination"))
		per, _ := strconv.Atoi(q.Get("per_page"))
		start := 0
		if cur := q.Get("cursor"); cur != "" {
			raw, _ := base64.URLEncoding.DecodeString(cur)
			start, _ = strconv.Atoi(string(raw))
		}
		end := min(start+per, f.total)
		items := []map[string]any{}
		for i := start; i < end; i++ {
			items = append(items, map[string]any{"id": 90000 + i, "iid": i + 1})
		}
		if end < f.total {
			q.Set("cursor", base64.URLEncoding.EncodeToString([]byte(strconv.Itoa(end))))
			w.Header().Set("Link", fmt.Sprintf(`<%s%s%s/issues?%s>; rel="next"`, f.srvURL, prefix, proj, q.Encode()))
		}
		glJSON(w, 200, items)
	default:
		glJSON(w, 404, map[string]any{"message": "404 Project Not Found"})
	}
}

func start(t *testing.T, f *fake, auth string) (*gitlab.Connector, *httptest.Server) {
	t.Helper()
	if f.clk == nil {
		f.clk = fakeclock.New()
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.srvURL = srv.URL
	if auth == "" {
		auth = `{"token":"` + token + `","webhook_token":"` + webhookToken + `"}`
	}
	c, err := gitlab.New(connectors.Config{BaseURL: srv.URL + prefix, HTTPClient: srv.Client(), Now: f.clk.Now,
		Auth: json.RawMessage(auth), Options: json.RawMessage(`{"project":"acme/payments"}`)})
	require.NoError(t, err)
	return c, srv
}

func TestConformance(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, func(t *testing.T, cfg connectors.Config) connectors.Connector {
		cfg.Auth = json.RawMessage(`{"token":"` + token + `","webhook_token":"` + webhookToken + `"}`)
		cfg.Options = json.RawMessage(`{"project":"7"}`)
		c, err := gitlab.New(cfg)
		require.NoError(t, err)
		return c
	}, connectortest.Features{
		Secrets: []string{token, webhookToken},
		Request: func() *connectors.Request {
			return &connectors.Request{Body: json.RawMessage(`{"title":"conformance"}`)}
		},
	})
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]connectors.Config{
		"no auth":       {},
		"oauth no id":   {Auth: json.RawMessage(`{"refresh_token":"r"}`)},
		"bad op":        {Auth: json.RawMessage(`{"token":"t"}`), Options: json.RawMessage(`{"default_operation":"merge"}`)},
		"bad base":      {BaseURL: "gitlab.example.com", Auth: json.RawMessage(`{"token":"t"}`)},
		"unknown field": {Auth: json.RawMessage(`{"private_token":"t"}`)},
	} {
		_, err := gitlab.New(cfg)
		require.ErrorIs(t, err, connectors.ErrInvalidConfig, name)
	}
	c, err := gitlab.New(connectors.Config{Auth: json.RawMessage(`{"token":"t"}`)})
	require.NoError(t, err)
	assert.Equal(t, gitlab.DefaultBaseURL, c.Info().BaseURL)
}

func TestWriteOperations(t *testing.T) {
	t.Parallel()
	f := &fake{}
	c, _ := start(t, f, "")
	ctx := t.Context()
	resp, err := c.Invoke(ctx, &connectors.Request{Body: json.RawMessage(
		`{"title":"Refund retries exhaust","description":"gateway 503","labels":["bug","priority::high"],"assignee_ids":[12],"confidential":true}`)})
	require.NoError(t, err)
	assert.Equal(t, "1", resp.RemoteID, "the issue iid")
	f.mu.Lock()
	assert.Equal(t, "bug,priority::high", f.issues[0]["labels"])
	assert.Equal(t, []any{float64(12)}, f.issues[0]["assignee_ids"])
	f.mu.Unlock()
	_, err = c.Invoke(ctx, &connectors.Request{Operation: gitlab.OpUpdateIssue, Params: map[string]string{"iid": "1"}, Body: json.RawMessage(`{"status":"done"}`)})
	require.NoError(t, err)
	resp, err = c.Invoke(ctx, &connectors.Request{Operation: gitlab.OpComment, Body: json.RawMessage(`{"iid":1,"body":"Fixed in !42"}`)})
	require.NoError(t, err)
	assert.Equal(t, "301", resp.RemoteID)
	_, err = c.Invoke(ctx, &connectors.Request{Operation: gitlab.OpMRComment, Params: map[string]string{"iid": "42"}, Body: json.RawMessage(`{"text":"LGTM"}`)})
	require.NoError(t, err)
	f.mu.Lock()
	assert.Equal(t, []string{"/issues/1/notes", "/merge_requests/42/notes"}, f.notes)
	f.mu.Unlock()
	_, err = c.Invoke(ctx, &connectors.Request{Params: map[string]string{"project": "other/repo"}, Body: json.RawMessage(`{"title":"x"}`)})
	require.ErrorIs(t, err, connectors.ErrPermanent, "404 Project Not Found")
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "404 Project Not Found", ce.Message)
	for name, req := range map[string]*connectors.Request{
		"no title":     {Body: json.RawMessage(`{"description":"x"}`)},
		"comma label":  {Body: json.RawMessage(`{"title":"x","labels":["a,b"]}`)},
		"update no id": {Operation: gitlab.OpUpdateIssue, Body: json.RawMessage(`{"title":"x"}`)},
		"note no body": {Operation: gitlab.OpComment, Params: map[string]string{"iid": "1"}},
		"bad iid":      {Operation: gitlab.OpMRComment, Params: map[string]string{"iid": "../1"}, Body: json.RawMessage(`{"body":"x"}`)},
		"unknown":      {Operation: "merge"},
	} {
		_, err := c.Invoke(ctx, req)
		require.ErrorIs(t, err, connectors.ErrBadRequest, name)
	}
}

func TestListKeysetToTheEnd(t *testing.T) {
	t.Parallel()
	f := &fake{total: 250}
	c, _ := start(t, f, "")
	var iids []int
	cursor := ""
	for i := 0; ; i++ {
		require.Less(t, i, 10)
		p, err := c.List(t.Context(), &connectors.ListRequest{Cursor: cursor, Since: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
		require.NoError(t, err)
		for _, it := range p.Items {
			var issue struct{ IID int }
			require.NoError(t, json.Unmarshal(it, &issue))
			iids = append(iids, issue.IID)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	assert.Len(t, iids, 250)
	assert.Equal(t, 250, iids[249])
	f.mu.Lock()
	assert.Equal(t, []string{"keyset", "keyset", "keyset"}, f.pagination)
	f.mu.Unlock()
	_, err := c.List(t.Context(), &connectors.ListRequest{Cursor: "https://evil.example/api/v4/projects/1/issues"})
	require.ErrorIs(t, err, connectors.ErrForeignURL)
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	t.Run("429 Retry-After", func(t *testing.T) {
		t.Parallel()
		f := &fake{throttle: true}
		c, _ := start(t, f, "")
		_, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"title":"x"}`)})
		require.ErrorIs(t, err, connectors.ErrRateLimited)
		var ce *connectors.Error
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, time.Minute, ce.RetryAfter())
		assert.Equal(t, "throttle_authenticated_api", ce.Code)
		assert.Equal(t, "Retry later", ce.Message)
		f.mu.Lock()
		f.throttle = false
		f.mu.Unlock()
		f.clk.Advance(time.Minute - time.Second)
		require.ErrorIs(t, c.Check(t.Context()), restclient.ErrHeldBack)
		assert.EqualValues(t, 1, f.hits.Load(), "no request before the reset")
		f.clk.Advance(time.Second)
		require.NoError(t, c.Check(t.Context()))
	})
	t.Run("RateLimit-Remaining 0", func(t *testing.T) {
		t.Parallel()
		f := &fake{drained: true}
		c, _ := start(t, f, "")
		require.NoError(t, c.Check(t.Context()))
		f.mu.Lock()
		f.drained = false
		f.mu.Unlock()
		f.clk.Advance(44 * time.Second)
		require.ErrorIs(t, c.Check(t.Context()), restclient.ErrHeldBack)
		assert.EqualValues(t, 1, f.hits.Load())
		f.clk.Advance(time.Second)
		require.NoError(t, c.Check(t.Context()))
	})
	rl, ok := gitlab.ParseRateLimit(http.Header{"Ratelimit-Remaining": {"3"}, "Ratelimit-Limit": {"60"}, "Ratelimit-Observed": {"57"},
		"Ratelimit-Resettime": {"Tue, 25 Nov 2025 12:01:00 GMT"}, "Ratelimit-Name": {"throttle_authenticated_web"}})
	require.True(t, ok)
	assert.Equal(t, gitlab.RateLimit{Name: "throttle_authenticated_web", Limit: 60, Observed: 57, Remaining: 3,
		Reset: time.Date(2025, 11, 25, 12, 1, 0, 0, time.UTC)}, rl)
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status int
		body   string
		class  error
		code   string
	}{
		{401, `{"message":"401 Unauthorized"}`, connectors.ErrAuth, ""},
		{403, `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api"}`, connectors.ErrAuth, "insufficient_scope"},
		{400, `{"message":{"title":["can't be blank","is too long"]}}`, connectors.ErrPermanent, ""},
		{409, `{"message":"Branch already exists"}`, connectors.ErrPermanent, ""},
		{422, `{"message":"Validation failed"}`, connectors.ErrPermanent, ""},
		{500, `{"message":"500 Internal Server Error"}`, connectors.ErrTransient, ""},
		{502, `<html>502 Bad Gateway</html>`, connectors.ErrTransient, ""},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tt.status)
			_, _ = io.WriteString(w, tt.body)
		}))
		c, err := gitlab.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Auth: json.RawMessage(`{"token":"` + token + `"}`),
			Options: json.RawMessage(`{"project":"7"}`)})
		require.NoError(t, err)
		_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"title":"x"}`)})
		srv.Close()
		require.ErrorIs(t, err, tt.class, tt.status)
		var ce *connectors.Error
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, tt.code, ce.Code)
		if tt.status == 400 {
			assert.Equal(t, "title can't be blank, is too long", ce.Message)
		}
	}
}

// TestOAuth: an OAuth application's token is refreshed at {instance}/oauth/token, the
// instance root rather than /api/v4.
func TestOAuth(t *testing.T) {
	t.Parallel()
	f := &fake{bearer: "access-2", clk: fakeclock.New()}
	var tokenHits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /gitlab/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		n := tokenHits.Add(1)
		require.NoError(t, r.ParseForm())
		assert.Equal(t, "refresh_token", r.PostForm.Get("grant_type"))
		assert.Equal(t, "app-id", r.PostForm.Get("client_id"))
		glJSON(w, 200, map[string]any{"access_token": fmt.Sprintf("access-%d", n+1), "token_type": "Bearer", "expires_in": 7200,
			"refresh_token": fmt.Sprintf("refresh-%d", n+1), "created_at": 1764072000})
	})
	mux.Handle(prefix+"/", f)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := gitlab.New(connectors.Config{BaseURL: srv.URL + prefix, HTTPClient: srv.Client(), Now: f.clk.Now,
		Auth: json.RawMessage(`{"client_id":"app-id","client_secret":"s","refresh_token":"refresh-1","access_token":"access-1"}`)})
	require.NoError(t, err)
	require.NoError(t, c.Check(t.Context()), "401 with the stale token, refresh, retry")
	assert.EqualValues(t, 1, tokenHits.Load())
	assert.EqualValues(t, 2, f.hits.Load())
}

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	// Standard Webhooks' published test vector.
	const (
		vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		vecTS     = 1614265330
		vecBody   = `{"test": 2432232314}`
		vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(vecSecret, "whsec_"))
	require.NoError(t, err)
	assert.Equal(t, vecSig, gitlab.Sign(key, vecID, vecTS, []byte(vecBody)))
	vecHeader := http.Header{"Webhook-Id": {vecID}, "Webhook-Timestamp": {strconv.Itoa(vecTS)}, "Webhook-Signature": {"v1,bm90IHRoaXMgb25l " + vecSig}}
	_, err = gitlab.VerifySigned(key, vecHeader, []byte(vecBody), time.Unix(vecTS, 0))
	require.NoError(t, err, "one matching entry among several")

	clk := fakeclock.New()
	c, err := gitlab.New(connectors.Config{Now: clk.Now, Auth: json.RawMessage(`{"token":"t","webhook_token":"` + webhookToken + `","signing_token":"` + vecSecret + `"}`)})
	require.NoError(t, err)
	body := []byte(`{"object_kind":"issue","event_type":"issue","project":{"id":7},"object_attributes":{"iid":1,"action":"open"}}`)
	hdr := func(tok string, ts time.Time, b []byte) http.Header {
		return http.Header{"X-Gitlab-Token": {tok}, "X-Gitlab-Event": {"Issue Hook"}, "X-Gitlab-Event-Uuid": {"13792a34-cac6-4fda-95a8-c58e00a3954e"},
			"Webhook-Id": {"13792a34"}, "Webhook-Timestamp": {strconv.FormatInt(ts.Unix(), 10)}, "Webhook-Signature": {gitlab.Sign(key, "13792a34", ts.Unix(), b)}}
	}
	ev, err := c.VerifyWebhook(hdr(webhookToken, clk.Now(), body), body)
	require.NoError(t, err)
	assert.Equal(t, "Issue Hook", ev.Event)
	assert.Equal(t, "13792a34-cac6-4fda-95a8-c58e00a3954e", ev.DeliveryID)
	assert.Equal(t, clk.Now(), ev.Timestamp)

	tampered := []byte(strings.Replace(string(body), `"open"`, `"close"`, 1))
	_, err = c.VerifyWebhook(hdr(webhookToken, clk.Now(), body), tampered)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "tampered body")
	_, err = c.VerifyWebhook(hdr("wrong-token", clk.Now(), body), body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "wrong X-Gitlab-Token")
	_, err = c.VerifyWebhook(hdr(webhookToken, clk.Now().Add(-gitlab.ReplayWindow-time.Second), body), body)
	require.ErrorIs(t, err, connectors.ErrStaleWebhook, "stale")
	h := hdr(webhookToken, clk.Now(), body)
	h.Del("Webhook-Signature")
	_, err = c.VerifyWebhook(h, body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "signature required when a signing token is configured")

	tokenOnly, err := gitlab.New(connectors.Config{Auth: json.RawMessage(`{"token":"t","webhook_token":"` + webhookToken + `"}`)})
	require.NoError(t, err)
	_, err = tokenOnly.VerifyWebhook(http.Header{"X-Gitlab-Token": {webhookToken}, "X-Gitlab-Event": {"Push Hook"}}, body)
	require.NoError(t, err)
	_, err = tokenOnly.VerifyWebhook(http.Header{"X-Gitlab-Token": {webhookToken + "x"}, "X-Gitlab-Event": {"Push Hook"}}, body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature)
	none, err := gitlab.New(connectors.Config{Auth: json.RawMessage(`{"token":"t"}`)})
	require.NoError(t, err)
	_, err = none.VerifyWebhook(http.Header{"X-Gitlab-Token": {""}, "X-Gitlab-Event": {"Push Hook"}}, body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "nothing configured rejects everything")
}
