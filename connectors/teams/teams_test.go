package teams_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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
	"github.com/ehg/hub/connectors/teams"
)

const (
	sig          = "SECRET-workflow-sig"
	workflowPath = "/workflows/8f2c/triggers/manual/paths/invoke"
	legacyPath   = "/webhookb2/0b1c@72f9/IncomingWebhook/SECRETPATH/4e5f"
)

// fake reproduces both webhook kinds: a Workflows trigger (signature in the query,
// 202 Accepted, Logic Apps error bodies, 429 with Retry-After) and a legacy incoming
// webhook (200 with body "1", and 200 with the downstream failure in the body when
// Teams throttles).
type fake struct {
	mu       sync.Mutex
	bodies   []map[string]any
	hits     atomic.Int32
	throttle bool
	tooLarge bool
}

func laError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	legacy := r.URL.Path == legacyPath
	if !legacy && (r.URL.Path != workflowPath || r.URL.Query().Get("sig") != sig) {
		laError(w, 401, "DirectApiAuthorizationRequired", "The request must be authenticated only by Shared Access scheme.")
		return
	}
	if r.Method != http.MethodPost {
		laError(w, 400, "TriggerRequestMethodNotValid", "The HTTP method for this request is not valid: expected 'Post' and actual '"+r.Method+"'.")
		return
	}
	if f.throttle {
		if legacy {
			_, _ = io.WriteString(w, "Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0,server=msgapi-production-eus-azsc2-4-170,cv=deadbeef.0")
			return
		}
		w.Header().Set("Retry-After", "5")
		laError(w, 429, "WorkflowRequestsThrottled", "The workflow has been throttled.")
		return
	}
	if f.tooLarge {
		laError(w, 413, "RequestEntityTooLarge", "The message is too large.")
		return
	}
	var msg map[string]any
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil || msg["type"] != "message" {
		laError(w, 400, "InvalidRequestContent", "The request content is not a message.")
		return
	}
	f.bodies = append(f.bodies, msg)
	if legacy {
		_, _ = io.WriteString(w, "1")
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func start(t *testing.T, f *fake, clk *fakeclock.Clock, path string) (*teams.Connector, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	u := srv.URL + path
	if path == workflowPath {
		u += "?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=" + sig
	}
	c, err := teams.New(connectors.Config{HTTPClient: srv.Client(), Now: clk.Now, Auth: json.RawMessage(`{"webhook_url":"` + u + `"}`)})
	require.NoError(t, err)
	return c, srv
}

func TestConformance(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, func(t *testing.T, cfg connectors.Config) connectors.Connector {
		cfg.Auth = json.RawMessage(`{"webhook_url":"` + cfg.BaseURL + legacyPath + `","graph_token":"` + graphToken + `"}`)
		cfg.Options = json.RawMessage(`{"graph_base_url":"` + cfg.BaseURL + `/v1.0","team_id":"t","channel_id":"c"}`)
		c, err := teams.New(cfg)
		require.NoError(t, err)
		return c
	}, connectortest.Features{
		Secrets: []string{legacyPath, "SECRETPATH", graphToken},
		Request: func() *connectors.Request {
			return &connectors.Request{Body: json.RawMessage(`{"title":"conformance"}`)}
		},
	})
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]connectors.Config{
		"nothing":      {},
		"not a url":    {Auth: json.RawMessage(`{"webhook_url":"teams"}`)},
		"ftp":          {Auth: json.RawMessage(`{"webhook_url":"ftp://x/y"}`)},
		"bad token":    {Auth: json.RawMessage(`{"webhook_url":"https://x/y","security_token":"%%%"}`)},
		"bad max age":  {Auth: json.RawMessage(`{"webhook_url":"https://x/y"}`), Options: json.RawMessage(`{"webhook_max_age":"soon"}`)},
		"unknown auth": {Auth: json.RawMessage(`{"url":"https://x/y"}`)},
	} {
		_, err := teams.New(cfg)
		require.ErrorIs(t, err, connectors.ErrInvalidConfig, name)
	}
	c, err := teams.New(connectors.Config{Auth: json.RawMessage(`{"webhook_url":"https://acme.webhook.office.com` + legacyPath + `"}`)})
	require.NoError(t, err)
	assert.Equal(t, "https://acme.webhook.office.com", c.Info().BaseURL, "origin only: the path is a credential")
}

func TestPostAdaptiveCard(t *testing.T) {
	t.Parallel()
	f := &fake{}
	c, _ := start(t, f, fakeclock.New(), workflowPath)
	resp, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(
		`{"title":"Refund retries exhausted","description":"gateway 503","status":"todo","priority":"high","url":"https://x.example/1"}`)})
	require.NoError(t, err)
	assert.Equal(t, http.StatusAccepted, resp.StatusCode)
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"type":"AdaptiveCard","version":"1.5","body":[{"type":"TextBlock","text":"own card"}]}`)})
	require.NoError(t, err)
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard","body":[]}}]}`)})
	require.NoError(t, err)
	f.mu.Lock()
	bodies := f.bodies
	f.mu.Unlock()
	require.Len(t, bodies, 3)
	att := bodies[0]["attachments"].([]any)[0].(map[string]any)
	assert.Equal(t, teams.AdaptiveCardContentType, att["contentType"])
	assert.Nil(t, att["contentUrl"])
	card := att["content"].(map[string]any)
	assert.Equal(t, "AdaptiveCard", card["type"])
	assert.Equal(t, teams.AdaptiveCardVersion, card["version"])
	assert.Equal(t, "Refund retries exhausted", card["body"].([]any)[0].(map[string]any)["text"])
	assert.Equal(t, []any{map[string]any{"title": "Status", "value": "todo"}, map[string]any{"title": "Priority", "value": "high"}},
		card["body"].([]any)[2].(map[string]any)["facts"])
	assert.Equal(t, "https://x.example/1", card["actions"].([]any)[0].(map[string]any)["url"])
	assert.Equal(t, "own card", bodies[1]["attachments"].([]any)[0].(map[string]any)["content"].(map[string]any)["body"].([]any)[0].(map[string]any)["text"])

	for name, body := range map[string]string{
		"empty":      `{}`,
		"not object": `[1]`,
		"too large":  `{"title":"` + strings.Repeat("x", teams.MaxMessageBytes) + `"}`,
	} {
		_, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(body)})
		require.ErrorIs(t, err, connectors.ErrBadRequest, name)
	}
	_, err = c.Invoke(t.Context(), &connectors.Request{Operation: "delete", Body: json.RawMessage(`{"title":"x"}`)})
	require.ErrorIs(t, err, connectors.ErrBadRequest)
	require.NoError(t, c.Check(t.Context()), "GET is refused with 400 by a live trigger")
}

func TestLegacyWebhook(t *testing.T) {
	t.Parallel()
	f := &fake{}
	clk := fakeclock.New()
	c, _ := start(t, f, clk, legacyPath)
	resp, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"text":"deploy finished"}`)})
	require.NoError(t, err)
	assert.Equal(t, "1", string(resp.Body))

	// Throttled: HTTP 200 with the failure in the body; the next post waits a second.
	f.throttle = true
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"text":"x"}`)})
	require.ErrorIs(t, err, connectors.ErrRateLimited)
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 429, ce.StatusCode)
	assert.Equal(t, teams.DefaultThrottleWait, ce.RetryAfter())
	f.throttle = false
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"text":"x"}`)})
	require.ErrorIs(t, err, restclient.ErrHeldBack)
	assert.EqualValues(t, 2, f.hits.Load(), "no request before the window reset")
	clk.Advance(teams.DefaultThrottleWait)
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"text":"x"}`)})
	require.NoError(t, err)
}

func TestWorkflowThrottleAndErrors(t *testing.T) {
	t.Parallel()
	f := &fake{throttle: true}
	clk := fakeclock.New()
	c, srv := start(t, f, clk, workflowPath)
	_, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"text":"x"}`)})
	require.ErrorIs(t, err, connectors.ErrRateLimited)
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 5*time.Second, ce.RetryAfter())
	assert.Equal(t, "WorkflowRequestsThrottled", ce.Code)
	f.mu.Lock()
	f.throttle = false
	f.mu.Unlock()
	clk.Advance(5*time.Second - time.Millisecond)
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"text":"x"}`)})
	require.ErrorIs(t, err, restclient.ErrHeldBack)
	assert.EqualValues(t, 1, f.hits.Load(), "no request before Retry-After")
	clk.Advance(time.Millisecond)
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"text":"x"}`)})
	require.NoError(t, err)

	f.mu.Lock()
	f.tooLarge = true
	f.mu.Unlock()
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"text":"x"}`)})
	require.ErrorIs(t, err, connectors.ErrPermanent)

	bad, err := teams.New(connectors.Config{HTTPClient: srv.Client(), Auth: json.RawMessage(`{"webhook_url":"` + srv.URL + workflowPath + `?sig=wrong-` + sig + `"}`)})
	require.NoError(t, err)
	_, err = bad.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"text":"x"}`)})
	require.ErrorIs(t, err, connectors.ErrAuth)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "DirectApiAuthorizationRequired", ce.Code)
	assert.NotContains(t, err.Error(), sig)
	require.ErrorIs(t, bad.Check(t.Context()), connectors.ErrAuth)

	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { laError(w, 404, "WorkflowNotFound", "gone") }))
	t.Cleanup(gone.Close)
	g, err := teams.New(connectors.Config{HTTPClient: gone.Client(), Auth: json.RawMessage(`{"webhook_url":"` + gone.URL + workflowPath + `"}`)})
	require.NoError(t, err)
	require.ErrorIs(t, g.Check(t.Context()), connectors.ErrPermanent, "a removed webhook is not healthy")
}

func TestVerifyOutgoing(t *testing.T) {
	t.Parallel()
	key := []byte("outgoing-webhook-key-32-bytes!!!")
	token := base64.StdEncoding.EncodeToString(key)
	clk := fakeclock.New()
	c, err := teams.New(connectors.Config{Now: clk.Now, Auth: json.RawMessage(`{"webhook_url":"https://x.example/y","security_token":"` + token + `"}`),
		Options: json.RawMessage(`{"webhook_max_age":"5m"}`)})
	require.NoError(t, err)
	body := []byte(`{"type":"message","id":"1485983408511","timestamp":"2025-11-25T11:59:30.000Z","text":"<at>Hub</at> status"}`)
	h := http.Header{"Authorization": {teams.SignOutgoing(key, body)}}
	ev, err := c.VerifyWebhook(h, body)
	require.NoError(t, err)
	assert.Equal(t, "message", ev.Event)
	assert.Equal(t, "1485983408511", ev.DeliveryID)

	tampered := []byte(strings.Replace(string(body), "status", "deploy", 1))
	_, err = c.VerifyWebhook(h, tampered)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature)
	_, err = c.VerifyWebhook(http.Header{}, body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature)
	_, err = c.VerifyWebhook(http.Header{"Authorization": {teams.SignOutgoing([]byte("other"), body)}}, body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature)
	clk.Advance(5 * time.Minute)
	_, err = c.VerifyWebhook(h, body)
	require.ErrorIs(t, err, connectors.ErrStaleWebhook)
	_, err = teams.VerifyOutgoing(nil, h, body, 0, clk.Now())
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "no token rejects everything")
	_, err = teams.VerifyOutgoing(key, h, body, 0, clk.Now())
	require.NoError(t, err, "without max age, age is not checked")
}
