package github_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/connectortest"
	"github.com/ehg/hub/connectors/github"
)

const (
	token  = "ghp_CONFORMANCE_SECRET_TOKEN"
	secret = "whsec-github-SECRET"
)

var fixedNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func newConnector(t *testing.T, srv *httptest.Server, basePath string) *github.Connector {
	t.Helper()
	c, err := github.New(connectors.Config{
		BaseURL:    srv.URL + basePath,
		HTTPClient: srv.Client(),
		Auth:       json.RawMessage(`{"token":"` + token + `","webhook_secret":"` + secret + `"}`),
		Options:    json.RawMessage(`{"owner":"acme-corp","repo":"payments-api"}`),
		Now:        func() time.Time { return fixedNow },
	})
	require.NoError(t, err)
	return c
}

func TestConformance(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, func(t *testing.T, cfg connectors.Config) connectors.Connector {
		cfg.Auth = json.RawMessage(`{"token":"` + token + `","webhook_secret":"` + secret + `"}`)
		cfg.Options = json.RawMessage(`{"owner":"o","repo":"r"}`)
		c, err := github.New(cfg)
		require.NoError(t, err)
		return c
	}, connectortest.Features{
		Secrets: []string{token, secret},
		Request: func() *connectors.Request {
			return &connectors.Request{Body: json.RawMessage(`{"title":"conformance"}`)}
		},
	})
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]connectors.Config{
		"no token":  {Auth: json.RawMessage(`{}`)},
		"bad op":    {Auth: json.RawMessage(`{"token":"x"}`), Options: json.RawMessage(`{"default_operation":"delete_repo"}`)},
		"bad base":  {BaseURL: "ftp://x", Auth: json.RawMessage(`{"token":"x"}`)},
		"bad field": {Auth: json.RawMessage(`{"token":"x","pat":"y"}`)},
	} {
		_, err := github.New(cfg)
		require.ErrorIs(t, err, connectors.ErrInvalidConfig, name)
	}
	c, err := github.New(connectors.Config{Auth: json.RawMessage(`{"token":"x"}`)})
	require.NoError(t, err)
	assert.Equal(t, github.DefaultBaseURL, c.Info().BaseURL)
	assert.Equal(t, github.OpCreateIssue, c.Info().DefaultOperation)
}

// TestCreateIssueFromWorkItem delivers the canonical work item (the benchmark's
// expected output) to a GitHub Enterprise base URL, as the hub would.
func TestCreateIssueFromWorkItem(t *testing.T) {
	t.Parallel()
	workItem, err := os.ReadFile("testdata/work-item.json")
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "POST /api/v3/repos/acme-corp/payments-api/issues", r.Method+" "+r.URL.Path)
		assert.Equal(t, "Bearer "+token, r.Header.Get("Authorization"))
		assert.Equal(t, "application/vnd.github+json", r.Header.Get("Accept"))
		assert.Equal(t, github.DefaultAPIVersion, r.Header.Get("X-GitHub-Api-Version"))
		assert.Equal(t, "evt-1", r.Header.Get(connectors.IdempotencyKeyHeader))
		assert.NotEmpty(t, r.Header.Get("User-Agent"))
		var body map[string]any
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		assert.Equal(t, "Refund webhook retries exhaust after gateway 503 and leave ledger unbalanced", body["title"])
		assert.Contains(t, body["body"], "card gateway answers 503")
		assert.Equal(t, []any{"bug", "priority:high", "area:refunds"}, body["labels"])
		assert.Equal(t, []any{"jchen", "okafor-d"}, body["assignees"])
		assert.NotContains(t, body, "milestone", "a milestone title cannot be sent as a number")
		assert.NotContains(t, body, "priority")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":1,"number":1348,"state":"open"}`))
	}))
	t.Cleanup(srv.Close)
	c := newConnector(t, srv, "/api/v3")
	resp, err := c.Invoke(t.Context(), &connectors.Request{Body: workItem, IdempotencyKey: "evt-1"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Equal(t, "1348", resp.RemoteID)

	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"body":"no title"}`)})
	require.ErrorIs(t, err, connectors.ErrBadRequest)
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`[1]`)})
	require.ErrorIs(t, err, connectors.ErrBadRequest)
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"title":"t","labels":"bug"}`)})
	require.ErrorIs(t, err, connectors.ErrBadRequest)
}

func TestOtherOperations(t *testing.T) {
	t.Parallel()
	type call struct {
		method, path string
		body         map[string]any
	}
	var (
		mu    sync.Mutex
		calls []call
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		calls = append(calls, call{r.Method, r.URL.Path, body})
		mu.Unlock()
		switch {
		case r.URL.Path == "/repos/other/repo2/dispatches":
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":9001}`))
		default:
			_, _ = w.Write([]byte(`{"number":7}`))
		}
	}))
	t.Cleanup(srv.Close)
	c := newConnector(t, srv, "")

	resp, err := c.Invoke(t.Context(), &connectors.Request{Operation: github.OpUpdateIssue, Params: map[string]string{"number": "7"},
		Body: json.RawMessage(`{"title":"New","status":"done"}`)})
	require.NoError(t, err)
	assert.Equal(t, "7", resp.RemoteID)
	resp, err = c.Invoke(t.Context(), &connectors.Request{Operation: github.OpComment, Body: json.RawMessage(`{"number":7,"text":"hello"}`)})
	require.NoError(t, err)
	assert.Equal(t, "9001", resp.RemoteID)
	_, err = c.Invoke(t.Context(), &connectors.Request{Operation: github.OpRepositoryDispatch, Params: map[string]string{"owner": "other", "repo": "repo2"},
		Body: json.RawMessage(`{"id":"x","status":"todo"}`)})
	require.NoError(t, err)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, calls, 3)
	assert.Equal(t, call{"PATCH", "/repos/acme-corp/payments-api/issues/7", map[string]any{"title": "New", "state": "closed"}}, calls[0])
	assert.Equal(t, call{"POST", "/repos/acme-corp/payments-api/issues/7/comments", map[string]any{"body": "hello"}}, calls[1])
	assert.Equal(t, call{"POST", "/repos/other/repo2/dispatches", map[string]any{
		"event_type": "hub-event", "client_payload": map[string]any{"id": "x", "status": "todo"}}}, calls[2])

	for name, req := range map[string]*connectors.Request{
		"no number":  {Operation: github.OpUpdateIssue, Body: json.RawMessage(`{"title":"x"}`)},
		"bad number": {Operation: github.OpComment, Params: map[string]string{"number": "../x"}, Body: json.RawMessage(`{"body":"x"}`)},
		"no text":    {Operation: github.OpComment, Params: map[string]string{"number": "1"}},
		"unknown":    {Operation: "merge"},
	} {
		_, err := c.Invoke(t.Context(), req)
		require.ErrorIs(t, err, connectors.ErrBadRequest, name)
	}
	noRepo, err := github.New(connectors.Config{BaseURL: srv.URL, Auth: json.RawMessage(`{"token":"x"}`)})
	require.NoError(t, err)
	_, err = noRepo.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"title":"x"}`)})
	require.ErrorIs(t, err, connectors.ErrBadRequest)
}

func TestListIssuesLinkPagination(t *testing.T) {
	t.Parallel()
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/repos/acme-corp/payments-api/issues", r.URL.Path)
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if page == 0 {
			page = 1
			assert.Equal(t, "2026-11-01T00:00:00Z", r.URL.Query().Get("since"))
			assert.Equal(t, "all", r.URL.Query().Get("state"))
			assert.Equal(t, "2", r.URL.Query().Get("per_page"))
		}
		if page < 3 {
			w.Header().Set("Link", fmt.Sprintf(`<%s/repos/acme-corp/payments-api/issues?page=%d>; rel="next", <%s/repos/acme-corp/payments-api/issues?page=3>; rel="last"`, srvURL, page+1, srvURL))
		}
		_, _ = fmt.Fprintf(w, `[{"number":%d},{"number":%d}]`, page*2-1, page*2)
	}))
	srvURL = srv.URL
	t.Cleanup(srv.Close)
	c := newConnector(t, srv, "")
	var numbers []int
	cursor := ""
	for i := 0; ; i++ {
		require.Less(t, i, 5)
		p, err := c.List(t.Context(), &connectors.ListRequest{Cursor: cursor, Limit: 2, Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
		require.NoError(t, err)
		for _, it := range p.Items {
			var issue struct{ Number int }
			require.NoError(t, json.Unmarshal(it, &issue))
			numbers = append(numbers, issue.Number)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6}, numbers)

	_, err := c.List(t.Context(), &connectors.ListRequest{Cursor: "https://evil.example/repos"})
	require.ErrorIs(t, err, connectors.ErrForeignURL)
	_, err = c.List(t.Context(), &connectors.ListRequest{Operation: "list_prs"})
	require.ErrorIs(t, err, connectors.ErrBadRequest)
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	reset := strconv.FormatInt(fixedNow.Add(90*time.Second).Unix(), 10)
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		class  error
		code   string
		delay  time.Duration
	}{
		{"primary exhausted 403", 403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "5000", "X-RateLimit-Reset": reset},
			`{"message":"API rate limit exceeded"}`, connectors.ErrRateLimited, "primary_rate_limit", 90 * time.Second},
		{"primary exhausted 429", 429, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
			`{}`, connectors.ErrRateLimited, "primary_rate_limit", 90 * time.Second},
		{"secondary retry-after", 403, map[string]string{"Retry-After": "30", "X-RateLimit-Remaining": "4000"},
			`{"message":"You have exceeded a secondary rate limit"}`, connectors.ErrRateLimited, "secondary_rate_limit", 30 * time.Second},
		{"secondary doc url", 403, nil,
			`{"message":"x","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`,
			connectors.ErrRateLimited, "secondary_rate_limit", github.SecondaryRateLimitWait},
		{"forbidden", 403, map[string]string{"X-RateLimit-Remaining": "4999"}, `{"message":"Resource not accessible by integration"}`, connectors.ErrAuth, "", 0},
		{"bad credentials", 401, nil, `{"message":"Bad credentials"}`, connectors.ErrAuth, "", 0},
		{"validation", 422, nil, `{"message":"Validation Failed","errors":[{"resource":"Issue","code":"missing_field","field":"title"}]}`, connectors.ErrPermanent, "", 0},
		{"server", 502, nil, `{"message":"Server Error"}`, connectors.ErrTransient, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			t.Cleanup(srv.Close)
			_, err := newConnector(t, srv, "").Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"title":"x"}`)})
			require.ErrorIs(t, err, tt.class)
			var ce *connectors.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.code, ce.Code)
			assert.Equal(t, tt.delay, ce.RetryAfter())
		})
	}
	rl, ok := github.ParseRateLimit(http.Header{"X-Ratelimit-Remaining": {"12"}, "X-Ratelimit-Limit": {"60"}, "X-Ratelimit-Used": {"48"},
		"X-Ratelimit-Reset": {reset}, "X-Ratelimit-Resource": {"core"}})
	require.True(t, ok)
	assert.Equal(t, github.RateLimit{Limit: 60, Remaining: 12, Used: 48, Reset: fixedNow.Add(90 * time.Second), Resource: "core"}, rl)
	_, ok = github.ParseRateLimit(http.Header{})
	assert.False(t, ok)
}

func TestCheckUsesRateLimitEndpoint(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rate_limit" || r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(`{"resources":{"core":{"limit":5000,"remaining":4999}}}`))
	}))
	t.Cleanup(srv.Close)
	require.NoError(t, newConnector(t, srv, "").Check(t.Context()))
}

func sign(body []byte) string { return "sha256=" + connectors.SignHMACSHA256([]byte(secret), body) }

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("testdata/work-item.json")
	require.NoError(t, err)
	c := newConnector(t, httptest.NewUnstartedServer(nil), "")
	hdr := func(sig, event string) http.Header {
		h := http.Header{}
		if sig != "" {
			h.Set("X-Hub-Signature-256", sig)
		}
		if event != "" {
			h.Set("X-GitHub-Event", event)
		}
		h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
		return h
	}
	ev, err := c.VerifyWebhook(hdr(sign(body), "issues"), body)
	require.NoError(t, err)
	assert.Equal(t, "issues", ev.Event)
	assert.Equal(t, "72d3162e-cc78-11e3-81ab-4c9367dc0958", ev.DeliveryID)

	tampered := append([]byte{}, body...)
	tampered[10] ^= 1
	for name, tc := range map[string]struct {
		h    http.Header
		body []byte
	}{
		"tampered body":   {hdr(sign(body), "issues"), tampered},
		"missing sig":     {hdr("", "issues"), body},
		"sha1 signature":  {hdr("sha1="+connectors.SignHMACSHA256([]byte(secret), body)[:40], "issues"), body},
		"wrong secret":    {hdr("sha256="+connectors.SignHMACSHA256([]byte("other"), body), "issues"), body},
		"not hex":         {hdr("sha256=zz", "issues"), body},
		"missing event":   {hdr(sign(body), ""), body},
		"truncated sig":   {hdr(sign(body)[:20], "issues"), body},
		"uppercase label": {hdr("SHA256="+connectors.SignHMACSHA256([]byte(secret), body), "issues"), body},
	} {
		_, err := c.VerifyWebhook(tc.h, tc.body)
		require.ErrorIs(t, err, connectors.ErrInvalidSignature, name)
	}
	_, err = github.VerifySignature(nil, hdr(sign(body), "issues"), body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "no secret configured rejects everything")
}

func FuzzVerifyWebhook(f *testing.F) {
	f.Add([]byte(`{"action":"opened"}`), "sha256=00", "issues")
	f.Fuzz(func(t *testing.T, body []byte, sig, event string) {
		h := http.Header{"X-Hub-Signature-256": {sig}, "X-Github-Event": {event}}
		ev, err := github.VerifySignature([]byte(secret), h, body)
		if err == nil {
			require.True(t, strings.EqualFold(sign(body), sig))
			require.Equal(t, event, ev.Event)
		}
		// A correctly signed body always verifies.
		h.Set("X-Hub-Signature-256", sign(body))
		if event != "" {
			_, err = github.VerifySignature([]byte(secret), h, body)
			require.NoError(t, err)
		}
	})
}

// TestListIssuesExcludesPullRequests: GitHub's issues endpoint returns pull requests too
// (they carry a "pull_request" key); List drops them unless params ask for them.
func TestListIssuesExcludesPullRequests(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`[{"number":1,"title":"bug"},{"number":2,"title":"fix","pull_request":{"url":"https://api.github.com/repos/o/r/pulls/2"}},{"number":3,"title":"task"}]`))
	}))
	t.Cleanup(srv.Close)
	c := newConnector(t, srv, "")
	numbers := func(p *connectors.Page) []int {
		var out []int
		for _, it := range p.Items {
			var issue struct{ Number int }
			require.NoError(t, json.Unmarshal(it, &issue))
			out = append(out, issue.Number)
		}
		return out
	}
	p, err := c.List(t.Context(), &connectors.ListRequest{})
	require.NoError(t, err)
	assert.Equal(t, []int{1, 3}, numbers(p), "pull requests are not issues")
	p, err = c.List(t.Context(), &connectors.ListRequest{Params: map[string]string{"include_pull_requests": "true"}})
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3}, numbers(p))
	_, err = c.List(t.Context(), &connectors.ListRequest{Params: map[string]string{"include_pull_requests": "maybe"}})
	require.ErrorIs(t, err, connectors.ErrBadRequest)
}
