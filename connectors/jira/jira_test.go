package jira_test

import (
	"crypto/hmac"
	"crypto/sha256"
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
	"github.com/ehg/hub/connectors/internal/fakeclock"
	"github.com/ehg/hub/connectors/internal/restclient"
	"github.com/ehg/hub/connectors/jira"
)

const (
	email         = "bot@acme.example"
	apiToken      = "ATATT3x-SECRET-API-TOKEN"
	clientSecret  = "jira-oauth-CLIENT-SECRET"
	webhookSecret = "jira-admin-WEBHOOK-SECRET"
)

// fake reproduces Jira Cloud REST v3: basic auth, issue creation with field
// validation ({"errorMessages", "errors"}), transitions by id, ADF comments, the
// enhanced JQL search with nextPageToken/isLast, /myself, and 429 with Retry-After
// and the X-RateLimit-* headers.
type fake struct {
	mu       sync.Mutex
	hits     atomic.Int32
	created  []map[string]any
	comments []map[string]any
	moved    []string
	total    int
	throttle bool
	drained  bool // answer with X-RateLimit-Remaining 0
	clk      *fakeclock.Clock
	bearer   string
}

func jErr(w http.ResponseWriter, status int, msgs []string, fields map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errorMessages": msgs, "errors": fields})
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(email+":"+apiToken))
	if f.bearer != "" {
		want = "Bearer " + f.bearer
	}
	if r.Header.Get("Authorization") != want {
		w.WriteHeader(401)
		_, _ = io.WriteString(w, "Client must be authenticated to access this resource.")
		return
	}
	reset := f.clk.Now().Add(30 * time.Second).Format(time.RFC3339)
	if f.throttle {
		reset = f.clk.Now().Add(7 * time.Second).Format(time.RFC3339)
		w.Header().Set("Retry-After", "7")
		w.Header().Set("X-RateLimit-Limit", "100")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", reset)
		w.Header().Set("RateLimit-Reason", "jira-burst-based")
		jErr(w, 429, []string{"Rate limit exceeded."}, nil)
		return
	}
	if f.drained {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", reset)
		w.Header().Set("X-RateLimit-NearLimit", "true")
	}
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	path := r.URL.Path
	switch {
	case r.Method == http.MethodPost && path == "/rest/api/3/issue":
		fields, _ := body["fields"].(map[string]any)
		errs := map[string]string{}
		if p, _ := fields["project"].(map[string]any); p["key"] != "PAY" {
			errs["project"] = "valid project is required"
		}
		if s, _ := fields["summary"].(string); s == "" {
			errs["summary"] = "You must specify a summary of the issue."
		} else if len([]rune(s)) > 255 {
			errs["summary"] = "Summary must be less than 255 characters."
		}
		if d, ok := fields["description"].(map[string]any); ok && d["type"] != "doc" {
			errs["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
		}
		if len(errs) > 0 {
			jErr(w, 400, []string{}, errs)
			return
		}
		f.created = append(f.created, fields)
		n := len(f.created)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_, _ = fmt.Fprintf(w, `{"id":"%d","key":"PAY-%d","self":"https://acme.atlassian.net/rest/api/3/issue/%d"}`, 10000+n, n, 10000+n)
	case strings.HasSuffix(path, "/transitions") && strings.HasPrefix(path, "/rest/api/3/issue/PAY-"):
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, `{"expand":"transitions","transitions":[{"id":"11","name":"To Do","to":{"name":"To Do"}},{"id":"21","name":"Start progress","to":{"name":"In Progress"}},{"id":"31","name":"Resolve","to":{"name":"Done"}}]}`)
			return
		}
		id, _ := body["transition"].(map[string]any)["id"].(string)
		if id != "11" && id != "21" && id != "31" {
			jErr(w, 400, []string{"Transition id '" + id + "' is not valid for this issue."}, map[string]string{})
			return
		}
		f.moved = append(f.moved, strings.TrimSuffix(strings.TrimPrefix(path, "/rest/api/3/issue/"), "/transitions")+"->"+id)
		w.WriteHeader(204)
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/comment") && strings.HasPrefix(path, "/rest/api/3/issue/PAY-"):
		f.comments = append(f.comments, body)
		w.WriteHeader(201)
		_, _ = fmt.Fprintf(w, `{"id":"%d","body":{}}`, 20000+len(f.comments))
	case strings.HasPrefix(path, "/rest/api/3/issue/"):
		jErr(w, 404, []string{"Issue does not exist or you do not have permission to see it."}, map[string]string{})
	case r.Method == http.MethodPost && path == "/rest/api/3/search/jql":
		if body["jql"] == "" || body["jql"] == nil {
			jErr(w, 400, []string{"The JQL query is empty."}, nil)
			return
		}
		start := 0
		if tok, _ := body["nextPageToken"].(string); tok != "" {
			raw, err := base64.StdEncoding.DecodeString(tok)
			if err != nil {
				jErr(w, 400, []string{"Invalid nextPageToken."}, nil)
				return
			}
			start, _ = strconv.Atoi(string(raw))
		}
		max := int(body["maxResults"].(float64))
		end := min(start+max, f.total)
		issues := []map[string]any{}
		for i := start; i < end; i++ {
			issues = append(issues, map[string]any{"id": strconv.Itoa(10000 + i), "key": fmt.Sprintf("PAY-%d", i+1), "fields": map[string]any{"summary": "s"}})
		}
		doc := map[string]any{"issues": issues, "isLast": end >= f.total}
		if end < f.total {
			doc["nextPageToken"] = base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(end)))
		}
		_ = json.NewEncoder(w).Encode(doc)
	case r.Method == http.MethodGet && path == "/rest/api/3/myself":
		_, _ = io.WriteString(w, `{"accountId":"5b10a2844c20165700ede21g","emailAddress":"`+email+`","active":true}`)
	default:
		jErr(w, 404, []string{"Not found"}, nil)
	}
}

func start(t *testing.T, f *fake, opts string) (*jira.Connector, *httptest.Server) {
	t.Helper()
	if f.clk == nil {
		f.clk = fakeclock.New()
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := jira.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Now: f.clk.Now,
		Auth:    json.RawMessage(`{"email":"` + email + `","api_token":"` + apiToken + `","webhook_secret":"` + webhookSecret + `","client_secret":"` + clientSecret + `"}`),
		Options: json.RawMessage(opts)})
	require.NoError(t, err)
	return c, srv
}

func TestConformance(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, func(t *testing.T, cfg connectors.Config) connectors.Connector {
		cfg.Auth = json.RawMessage(`{"email":"` + email + `","api_token":"` + apiToken + `"}`)
		cfg.Options = json.RawMessage(`{"project_key":"PAY","jql":"project = PAY"}`)
		c, err := jira.New(cfg)
		require.NoError(t, err)
		return c
	}, connectortest.Features{
		Secrets: []string{apiToken, base64.StdEncoding.EncodeToString([]byte(email + ":" + apiToken))},
		Request: func() *connectors.Request {
			return &connectors.Request{Body: json.RawMessage(`{"title":"conformance"}`)}
		},
		Success: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(201)
			_, _ = io.WriteString(w, `{"id":"10000","key":"PAY-1","issues":[],"isLast":true}`)
		},
	})
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]connectors.Config{
		"no base":       {Auth: json.RawMessage(`{"email":"a","api_token":"b"}`)},
		"no auth":       {BaseURL: "https://acme.atlassian.net"},
		"no email":      {BaseURL: "https://acme.atlassian.net", Auth: json.RawMessage(`{"api_token":"b"}`)},
		"oauth no id":   {BaseURL: "https://api.atlassian.com/ex/jira/c1", Auth: json.RawMessage(`{"refresh_token":"r"}`)},
		"bad op":        {BaseURL: "https://acme.atlassian.net", Auth: json.RawMessage(`{"email":"a","api_token":"b"}`), Options: json.RawMessage(`{"default_operation":"delete"}`)},
		"bad max age":   {BaseURL: "https://acme.atlassian.net", Auth: json.RawMessage(`{"email":"a","api_token":"b"}`), Options: json.RawMessage(`{"webhook_max_age":"-1m"}`)},
		"unknown field": {BaseURL: "https://acme.atlassian.net", Auth: json.RawMessage(`{"email":"a","password":"b"}`)},
	} {
		_, err := jira.New(cfg)
		require.ErrorIs(t, err, connectors.ErrInvalidConfig, name)
	}
}

func TestADF(t *testing.T) {
	t.Parallel()
	doc, ok := jira.ADF(json.RawMessage(`"Line one\nline two\n\nSecond paragraph"`))
	require.True(t, ok)
	assert.JSONEq(t, `{"type":"doc","version":1,"content":[
		{"type":"paragraph","content":[{"type":"text","text":"Line one"},{"type":"hardBreak"},{"type":"text","text":"line two"}]},
		{"type":"paragraph","content":[{"type":"text","text":"Second paragraph"}]}]}`, string(doc))
	own := `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"x","marks":[{"type":"strong"}]}]}]}`
	doc, ok = jira.ADF(json.RawMessage(own))
	require.True(t, ok)
	assert.JSONEq(t, own, string(doc))
	for _, raw := range []string{``, `null`, `""`, `  `, `{"a":1}`, `5`} {
		_, ok := jira.ADF(json.RawMessage(raw))
		assert.False(t, ok, raw)
	}
}

func TestWriteOperations(t *testing.T) {
	t.Parallel()
	f := &fake{}
	c, _ := start(t, f, `{"project_key":"PAY","issue_type":"Bug","priority_map":{"high":"High"}}`)
	ctx := t.Context()
	resp, err := c.Invoke(ctx, &connectors.Request{Body: json.RawMessage(
		`{"title":"Refund retries exhaust","description":"The gateway answers 503.\nLedger unbalanced.","labels":["area refunds","bug"],"priority":"high"}`)})
	require.NoError(t, err)
	assert.Equal(t, "PAY-1", resp.RemoteID)
	f.mu.Lock()
	created := f.created[0]
	f.mu.Unlock()
	assert.Equal(t, map[string]any{"key": "PAY"}, created["project"])
	assert.Equal(t, map[string]any{"name": "Bug"}, created["issuetype"])
	assert.Equal(t, map[string]any{"name": "High"}, created["priority"])
	assert.Equal(t, []any{"area-refunds", "bug"}, created["labels"])
	assert.Equal(t, "doc", created["description"].(map[string]any)["type"])

	_, err = c.Invoke(ctx, &connectors.Request{Body: json.RawMessage(`{"title":"` + strings.Repeat("x", 300) + `"}`)})
	require.NoError(t, err, "a long title is cut to Jira's 255 characters")
	_, err = c.Invoke(ctx, &connectors.Request{Body: json.RawMessage(`{"fields":{"project":{"key":"NOPE"},"summary":"x","issuetype":{"name":"Bug"}}}`)})
	require.ErrorIs(t, err, connectors.ErrPermanent)
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, ce.Message, "project: valid project is required")

	resp, err = c.Invoke(ctx, &connectors.Request{Operation: jira.OpComment, Params: map[string]string{"issue": "PAY-1"}, Body: json.RawMessage(`{"text":"Fixed in 4.2"}`)})
	require.NoError(t, err)
	assert.Equal(t, "20001", resp.RemoteID)
	for _, want := range []string{"31", "in progress", "Resolve"} {
		_, err = c.Invoke(ctx, &connectors.Request{Operation: jira.OpTransition, Params: map[string]string{"issue": "PAY-1", "transition": want}})
		require.NoError(t, err, want)
	}
	_, err = c.Invoke(ctx, &connectors.Request{Operation: jira.OpTransition, Body: json.RawMessage(`{"key":"PAY-1","status":"Done"}`)})
	require.NoError(t, err)
	f.mu.Lock()
	assert.Equal(t, []string{"PAY-1->31", "PAY-1->21", "PAY-1->31", "PAY-1->31"}, f.moved)
	assert.Equal(t, "doc", f.comments[0]["body"].(map[string]any)["type"])
	f.mu.Unlock()

	_, err = c.Invoke(ctx, &connectors.Request{Operation: jira.OpTransition, Params: map[string]string{"issue": "PAY-1", "transition": "Reopen"}})
	require.ErrorIs(t, err, connectors.ErrBadRequest, "no such transition")
	_, err = c.Invoke(ctx, &connectors.Request{Operation: jira.OpTransition, Params: map[string]string{"issue": "ZZZ-1", "transition": "31"}})
	require.ErrorIs(t, err, connectors.ErrPermanent, "404 issue")
	for name, req := range map[string]*connectors.Request{
		"no title":      {Body: json.RawMessage(`{"description":"x"}`)},
		"comment no":    {Operation: jira.OpComment, Params: map[string]string{"issue": "PAY-1"}},
		"no issue":      {Operation: jira.OpComment, Body: json.RawMessage(`{"text":"x"}`)},
		"no transition": {Operation: jira.OpTransition, Params: map[string]string{"issue": "PAY-1"}},
		"bad key":       {Operation: jira.OpComment, Params: map[string]string{"issue": "../x"}, Body: json.RawMessage(`{"text":"x"}`)},
		"unknown":       {Operation: "delete"},
	} {
		_, err := c.Invoke(ctx, req)
		require.ErrorIs(t, err, connectors.ErrBadRequest, name)
	}
}

func TestSearchToTheEnd(t *testing.T) {
	t.Parallel()
	f := &fake{total: 230}
	c, _ := start(t, f, `{"jql":"project = PAY ORDER BY updated"}`)
	var keys []string
	cursor := ""
	for i := 0; ; i++ {
		require.Less(t, i, 10)
		p, err := c.List(t.Context(), &connectors.ListRequest{Cursor: cursor, Since: time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)})
		require.NoError(t, err)
		for _, it := range p.Items {
			var issue struct{ Key string }
			require.NoError(t, json.Unmarshal(it, &issue))
			keys = append(keys, issue.Key)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	assert.Len(t, keys, 230)
	assert.Equal(t, "PAY-230", keys[229])
	resp, err := c.Invoke(t.Context(), &connectors.Request{Operation: jira.OpSearch, Params: map[string]string{"limit": "5"}})
	require.NoError(t, err)
	var doc struct{ Issues []any }
	require.NoError(t, json.Unmarshal(resp.Body, &doc))
	assert.Len(t, doc.Issues, 5)
	noJQL, _ := start(t, &fake{}, `{}`)
	_, err = noJQL.List(t.Context(), &connectors.ListRequest{})
	require.ErrorIs(t, err, connectors.ErrBadRequest)
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	t.Run("429 Retry-After", func(t *testing.T) {
		t.Parallel()
		f := &fake{throttle: true, clk: fakeclock.New()}
		c, _ := start(t, f, `{"project_key":"PAY"}`)
		_, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"title":"x"}`)})
		require.ErrorIs(t, err, connectors.ErrRateLimited)
		var ce *connectors.Error
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, 7*time.Second, ce.RetryAfter())
		assert.Equal(t, "jira-burst-based", ce.Code)
		f.mu.Lock()
		f.throttle = false
		f.mu.Unlock()
		f.clk.Advance(7*time.Second - time.Millisecond)
		require.ErrorIs(t, c.Check(t.Context()), restclient.ErrHeldBack)
		assert.EqualValues(t, 1, f.hits.Load(), "no request before Retry-After")
		f.clk.Advance(time.Millisecond)
		require.NoError(t, c.Check(t.Context()))
	})
	t.Run("remaining 0 until X-RateLimit-Reset", func(t *testing.T) {
		t.Parallel()
		f := &fake{drained: true, clk: fakeclock.New()}
		c, _ := start(t, f, `{}`)
		require.NoError(t, c.Check(t.Context()))
		f.mu.Lock()
		f.drained = false
		f.mu.Unlock()
		f.clk.Advance(29 * time.Second)
		err := c.Check(t.Context())
		require.ErrorIs(t, err, restclient.ErrHeldBack)
		var ce *connectors.Error
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, time.Second, ce.RetryAfter())
		assert.EqualValues(t, 1, f.hits.Load())
		f.clk.Advance(time.Second)
		require.NoError(t, c.Check(t.Context()))
	})
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status int
		class  error
	}{{401, connectors.ErrAuth}, {403, connectors.ErrAuth}, {400, connectors.ErrPermanent}, {404, connectors.ErrPermanent},
		{409, connectors.ErrPermanent}, {500, connectors.ErrTransient}, {503, connectors.ErrTransient}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			jErr(w, tt.status, []string{"failed with " + r.Header.Get("Authorization")}, map[string]string{"summary": "bad"})
		}))
		c, err := jira.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Auth: json.RawMessage(`{"email":"` + email + `","api_token":"` + apiToken + `"}`),
			Options: json.RawMessage(`{"project_key":"PAY"}`)})
		require.NoError(t, err)
		_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"title":"x"}`)})
		srv.Close()
		require.ErrorIs(t, err, tt.class, tt.status)
		assert.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString([]byte(email+":"+apiToken)))
	}
	f := &fake{}
	_, srv := start(t, f, `{}`)
	bad, err := jira.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Auth: json.RawMessage(`{"email":"` + email + `","api_token":"wrong"}`)})
	require.NoError(t, err)
	require.ErrorIs(t, bad.Check(t.Context()), connectors.ErrAuth, "a plain-text 401")
}

// TestOAuth3LO: with OAuth 2.0 (3LO) the refresh token (rotated by Atlassian) renews
// the access token at the token endpoint; API calls carry it as a bearer token.
func TestOAuth3LO(t *testing.T) {
	t.Parallel()
	f := &fake{bearer: "access-2", clk: fakeclock.New()}
	var tokenHits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		n := tokenHits.Add(1)
		require.NoError(t, r.ParseForm())
		assert.Equal(t, "refresh_token", r.PostForm.Get("grant_type"))
		assert.Equal(t, clientSecret, r.PostForm.Get("client_secret"))
		want := "refresh-1"
		if n > 1 {
			want = "refresh-2"
		}
		if r.PostForm.Get("refresh_token") != want {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(403)
			_, _ = io.WriteString(w, `{"error":"unauthorized_client","error_description":"refresh_token is invalid"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"access_token":"access-%d","refresh_token":"refresh-%d","expires_in":3600,"scope":"read:jira-work write:jira-work offline_access","token_type":"Bearer"}`, n+1, n+1)
	})
	mux.Handle("/ex/jira/cloud-1/", http.StripPrefix("/ex/jira/cloud-1", f))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := jira.New(connectors.Config{BaseURL: srv.URL + "/ex/jira/cloud-1", HTTPClient: srv.Client(), Now: f.clk.Now,
		Auth: json.RawMessage(`{"client_id":"cid","client_secret":"` + clientSecret + `","refresh_token":"refresh-1","token_url":"` + srv.URL + `/oauth/token"}`)})
	require.NoError(t, err)
	require.NoError(t, c.Check(t.Context()))
	assert.EqualValues(t, 1, tokenHits.Load())
	f.mu.Lock()
	f.bearer = "access-3" // the site revoked access-2
	f.mu.Unlock()
	require.NoError(t, c.Check(t.Context()), "refreshed with the rotated refresh token")
	assert.EqualValues(t, 2, tokenHits.Load())
}

func jwt(secret string, claims map[string]any, alg string) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	head := enc(map[string]string{"alg": alg, "typ": "JWT"})
	body := enc(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(head + "." + body))
	return head + "." + body + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New()
	c, _ := start(t, &fake{clk: clk}, `{"webhook_max_age":"10m"}`)
	body := []byte(fmt.Sprintf(`{"timestamp":%d,"webhookEvent":"jira:issue_created","issue_event_type_name":"issue_created","issue":{"id":"10001","key":"PAY-1"}}`, clk.Now().Add(-time.Minute).UnixMilli()))
	admin := http.Header{"X-Hub-Signature": {"sha256=" + connectors.SignHMACSHA256([]byte(webhookSecret), body)},
		"X-Atlassian-Webhook-Identifier": {"8d2b9a"}}
	ev, err := c.VerifyWebhook(admin, body)
	require.NoError(t, err)
	assert.Equal(t, "jira:issue_created", ev.Event)
	assert.Equal(t, "8d2b9a", ev.DeliveryID)

	tampered := []byte(strings.Replace(string(body), "PAY-1", "PAY-2", 1))
	_, err = c.VerifyWebhook(admin, tampered)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "tampered body")
	_, err = c.VerifyWebhook(http.Header{}, body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "unsigned")
	_, err = c.VerifyWebhook(http.Header{"X-Hub-Signature": {"sha1=" + connectors.SignHMACSHA256([]byte(webhookSecret), body)}}, body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "not sha256=")
	old := []byte(fmt.Sprintf(`{"timestamp":%d,"webhookEvent":"jira:issue_created"}`, clk.Now().Add(-11*time.Minute).UnixMilli()))
	_, err = c.VerifyWebhook(http.Header{"X-Hub-Signature": {"sha256=" + connectors.SignHMACSHA256([]byte(webhookSecret), old)}}, old)
	require.ErrorIs(t, err, connectors.ErrStaleWebhook, "older than webhook_max_age")

	// A webhook an OAuth 2.0 app registered: a JWT signed with the client secret.
	exp := clk.Now().Add(time.Minute).Unix()
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	_, err = c.VerifyWebhook(bearer(jwt(clientSecret, map[string]any{"iss": "jira", "exp": exp, "iat": clk.Now().Unix()}, "HS256")), body)
	require.NoError(t, err)
	_, err = c.VerifyWebhook(bearer(jwt("other-secret", map[string]any{"exp": exp}, "HS256")), body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "wrong key")
	_, err = c.VerifyWebhook(bearer(jwt(clientSecret, map[string]any{"exp": clk.Now().Add(-time.Second).Unix()}, "HS256")), body)
	require.ErrorIs(t, err, connectors.ErrStaleWebhook, "expired")
	_, err = c.VerifyWebhook(bearer(jwt(clientSecret, map[string]any{"iat": clk.Now().Unix()}, "HS256")), body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "no exp")
	none := strings.Split(jwt(clientSecret, map[string]any{"exp": exp}, "none"), ".")
	_, err = c.VerifyWebhook(bearer(none[0]+"."+none[1]+"."), body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "alg none")
	tok := strings.Split(jwt(clientSecret, map[string]any{"exp": exp}, "HS256"), ".")
	forged := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"exp":%d}`, exp+3600)))
	_, err = c.VerifyWebhook(bearer(tok[0]+"."+forged+"."+tok[2]), body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "tampered claims")
}
