package slack_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/connectortest"
	"github.com/ehg/hub/connectors/slack"
)

const (
	botToken      = "xoxb-CONFORMANCE-SECRET"
	signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func authJSON(webhookURL string) json.RawMessage {
	b, _ := json.Marshal(slack.Auth{BotToken: botToken, SigningSecret: signingSecret, WebhookURL: webhookURL})
	return b
}

func newConnector(t *testing.T, srv *httptest.Server) *slack.Connector {
	t.Helper()
	c, err := slack.New(connectors.Config{
		BaseURL: srv.URL + "/api", HTTPClient: srv.Client(), Auth: authJSON(srv.URL + "/services/T0/B0/HOOKSECRET"),
		Options: json.RawMessage(`{"channel":"C0DEFAULT"}`), Now: func() time.Time { return now },
	})
	require.NoError(t, err)
	return c
}

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, op := range []string{slack.OpPostMessage, slack.OpWebhook} {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			connectortest.Run(t, func(t *testing.T, cfg connectors.Config) connectors.Connector {
				cfg.Auth = authJSON(cfg.BaseURL + "/services/T0/B0/HOOKSECRET")
				cfg.Options = json.RawMessage(`{"channel":"C1","default_operation":"` + op + `"}`)
				c, err := slack.New(cfg)
				require.NoError(t, err)
				return c
			}, connectortest.Features{Secrets: []string{botToken, signingSecret, "HOOKSECRET"}})
		})
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]connectors.Config{
		"no credentials": {},
		"bad webhook":    {Auth: json.RawMessage(`{"webhook_url":"hooks.slack.com/services/SECRETX"}`)},
		"bad op":         {Auth: json.RawMessage(`{"bot_token":"x"}`), Options: json.RawMessage(`{"default_operation":"files.upload"}`)},
	} {
		_, err := slack.New(cfg)
		require.ErrorIs(t, err, connectors.ErrInvalidConfig, name)
		assert.NotContains(t, err.Error(), "SECRETX")
	}
	c, err := slack.New(connectors.Config{Auth: json.RawMessage(`{"webhook_url":"https://hooks.slack.com/services/T/B/X"}`)})
	require.NoError(t, err)
	assert.Equal(t, slack.OpWebhook, c.Info().DefaultOperation, "webhook-only configuration defaults to webhook")
	assert.Equal(t, slack.DefaultBaseURL, c.Info().BaseURL)
	require.NoError(t, c.Check(t.Context()), "webhook-only has nothing to probe")
	_, err = c.Invoke(t.Context(), &connectors.Request{Operation: slack.OpPostMessage, Body: json.RawMessage(`{"text":"x"}`)})
	require.ErrorIs(t, err, connectors.ErrBadRequest)
}

func TestPostMessageFromWorkItem(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/api/chat.postMessage", r.URL.Path)
		assert.Equal(t, "Bearer "+botToken, r.Header.Get("Authorization"))
		assert.Contains(t, r.Header.Get("Content-Type"), "application/json")
		var msg map[string]any
		require.NoError(t, json.NewDecoder(r.Body).Decode(&msg))
		assert.Equal(t, map[string]any{"channel": "C0DEFAULT", "text": "*Disk full* (in_progress, high) https://x/1"}, msg)
		_, _ = w.Write([]byte(`{"ok":true,"channel":"C0DEFAULT","ts":"1503435956.000247","message":{"text":"..."}}`))
	}))
	t.Cleanup(srv.Close)
	resp, err := newConnector(t, srv).Invoke(t.Context(), &connectors.Request{
		Body: json.RawMessage(`{"id":"github:a/b#1","title":"Disk full","status":"in_progress","priority":"high","url":"https://x/1","labels":[]}`)})
	require.NoError(t, err)
	assert.Equal(t, "1503435956.000247", resp.RemoteID)
}

func TestMessageShapes(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		last map[string]any
		path string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		path = r.URL.Path
		last = nil
		_ = json.NewDecoder(r.Body).Decode(&last)
		_, _ = w.Write([]byte(`{"ok":true,"ts":"1.2"}`))
	}))
	t.Cleanup(srv.Close)
	c := newConnector(t, srv)
	_, err := c.Invoke(t.Context(), &connectors.Request{Params: map[string]string{"channel": "C9"},
		Body: json.RawMessage(`{"channel":"CX","blocks":[{"type":"section"}],"thread_ts":"1.1","ignored":1}`)})
	require.NoError(t, err)
	mu.Lock()
	assert.Equal(t, map[string]any{"channel": "C9", "blocks": []any{map[string]any{"type": "section"}}, "thread_ts": "1.1"}, last)
	mu.Unlock()
	_, err = c.Invoke(t.Context(), &connectors.Request{Operation: slack.OpUpdate, Params: map[string]string{"ts": "1.2"}, Body: json.RawMessage(`{"text":"edited"}`)})
	require.NoError(t, err)
	mu.Lock()
	assert.Equal(t, "/api/chat.update", path)
	assert.Equal(t, map[string]any{"channel": "C0DEFAULT", "ts": "1.2", "text": "edited"}, last)
	mu.Unlock()
	for name, req := range map[string]*connectors.Request{
		"update without ts": {Operation: slack.OpUpdate, Body: json.RawMessage(`{"text":"x"}`)},
		"nothing to say":    {Body: json.RawMessage(`{"id":"x"}`)},
		"not an object":     {Body: json.RawMessage(`"text"`)},
		"unknown op":        {Operation: "files.upload"},
	} {
		_, err := c.Invoke(t.Context(), req)
		require.ErrorIs(t, err, connectors.ErrBadRequest, name)
	}
}

func TestErrorCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code   string
		status int
		header string
		want   error
		delay  time.Duration
	}{
		{"ratelimited", 200, "", connectors.ErrRateLimited, 0},
		{"ratelimited", 429, "30", connectors.ErrRateLimited, 30 * time.Second},
		{"invalid_auth", 200, "", connectors.ErrAuth, 0},
		{"not_authed", 200, "", connectors.ErrAuth, 0},
		{"token_revoked", 200, "", connectors.ErrAuth, 0},
		{"account_inactive", 200, "", connectors.ErrAuth, 0},
		{"missing_scope", 200, "", connectors.ErrAuth, 0},
		{"channel_not_found", 200, "", connectors.ErrPermanent, 0},
		{"invalid_blocks", 200, "", connectors.ErrPermanent, 0},
		{"msg_too_long", 200, "", connectors.ErrPermanent, 0},
		{"internal_error", 200, "", connectors.ErrTransient, 0},
		{"fatal_error", 200, "", connectors.ErrTransient, 0},
		{"service_unavailable", 503, "", connectors.ErrTransient, 0},
	}
	for _, tt := range tests {
		t.Run(tt.code+strconv.Itoa(tt.status), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.WriteHeader(tt.status)
				_, _ = fmt.Fprintf(w, `{"ok":false,"error":%q}`, tt.code)
			}))
			t.Cleanup(srv.Close)
			_, err := newConnector(t, srv).Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"text":"x"}`)})
			require.ErrorIs(t, err, tt.want)
			var ce *connectors.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.code, ce.Code)
			assert.Equal(t, tt.delay, ce.RetryAfter())
		})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`<html>`)) }))
	t.Cleanup(srv.Close)
	_, err := newConnector(t, srv).Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"text":"x"}`)})
	require.ErrorIs(t, err, connectors.ErrTransient, "a non-JSON 200 (a proxy page) is transient")
}

func TestCheckAuthTest(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/api/auth.test", r.URL.Path)
		if r.Header.Get("Authorization") == "Bearer "+botToken {
			_, _ = w.Write([]byte(`{"ok":true,"url":"https://acme.slack.com/","team":"Acme","user_id":"U1"}`))
			return
		}
		_, _ = w.Write([]byte(`{"ok":false,"error":"invalid_auth"}`))
	}))
	t.Cleanup(srv.Close)
	require.NoError(t, newConnector(t, srv).Check(t.Context()))
	bad, err := slack.New(connectors.Config{BaseURL: srv.URL + "/api", HTTPClient: srv.Client(), Auth: json.RawMessage(`{"bot_token":"xoxb-revoked"}`)})
	require.NoError(t, err)
	require.ErrorIs(t, bad.Check(t.Context()), connectors.ErrAuth)
}

func TestConversationsListCursor(t *testing.T) {
	t.Parallel()
	pages := map[string]string{
		"":             `{"ok":true,"channels":[{"id":"C1"},{"id":"C2"}],"response_metadata":{"next_cursor":"dGVhbTpDMg=="}}`,
		"dGVhbTpDMg==": `{"ok":true,"channels":[{"id":"C3"}],"response_metadata":{"next_cursor":"dGVhbTpDMw=="}}`,
		"dGVhbTpDMw==": `{"ok":true,"channels":[],"response_metadata":{"next_cursor":""}}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/api/conversations.list", r.URL.Path)
		var args map[string]any
		require.NoError(t, json.NewDecoder(r.Body).Decode(&args))
		assert.EqualValues(t, 2, args["limit"])
		assert.Equal(t, "public_channel,private_channel", args["types"])
		cursor, _ := args["cursor"].(string)
		_, _ = w.Write([]byte(pages[cursor]))
	}))
	t.Cleanup(srv.Close)
	c := newConnector(t, srv)
	var ids []string
	cursor := ""
	for i := 0; ; i++ {
		require.Less(t, i, 5)
		p, err := c.List(t.Context(), &connectors.ListRequest{Cursor: cursor, Limit: 2, Params: map[string]string{"types": "public_channel,private_channel"}})
		require.NoError(t, err)
		for _, it := range p.Items {
			var ch struct{ ID string }
			require.NoError(t, json.Unmarshal(it, &ch))
			ids = append(ids, ch.ID)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	assert.Equal(t, []string{"C1", "C2", "C3"}, ids)
	_, err := c.List(t.Context(), &connectors.ListRequest{Operation: "users.list"})
	require.ErrorIs(t, err, connectors.ErrBadRequest)
}

func TestIncomingWebhook(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/services/T0/B0/HOOKSECRET", r.URL.Path)
		assert.Empty(t, r.Header.Get("Authorization"), "the bot token is not sent to webhooks")
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(body), "archived"):
			w.WriteHeader(http.StatusGone)
			_, _ = w.Write([]byte("channel_is_archived"))
		case strings.Contains(string(body), "rollup"):
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("rollup_error"))
		default:
			assert.JSONEq(t, `{"text":"*Deploy* (done)"}`, string(body))
			_, _ = w.Write([]byte("ok"))
		}
	}))
	t.Cleanup(srv.Close)
	c := newConnector(t, srv)
	resp, err := c.Invoke(t.Context(), &connectors.Request{Operation: slack.OpWebhook, Body: json.RawMessage(`{"title":"Deploy","status":"done"}`)})
	require.NoError(t, err)
	assert.Equal(t, "ok", string(resp.Body))

	_, err = c.Invoke(t.Context(), &connectors.Request{Operation: slack.OpWebhook, Body: json.RawMessage(`{"text":"archived"}`)})
	require.ErrorIs(t, err, connectors.ErrPermanent)
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "channel_is_archived", ce.Code)
	assert.NotContains(t, err.Error(), "HOOKSECRET")
	_, err = c.Invoke(t.Context(), &connectors.Request{Operation: slack.OpWebhook, Body: json.RawMessage(`{"text":"rollup"}`)})
	require.ErrorIs(t, err, connectors.ErrTransient)
}

func signed(body string, ts time.Time, secret string) http.Header {
	tsRaw := strconv.FormatInt(ts.Unix(), 10)
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", tsRaw)
	h.Set("X-Slack-Signature", "v0="+connectors.SignHMACSHA256([]byte(secret), []byte("v0:"+tsRaw+":"+body)))
	return h
}

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	c, err := slack.New(connectors.Config{Auth: authJSON(""), Now: func() time.Time { return now }})
	require.NoError(t, err)
	var ev *connectors.WebhookEvent
	eventBody := `{"token":"x","type":"event_callback","event":{"type":"app_mention","text":"hi"}}`
	ev, err = c.VerifyWebhook(signed(eventBody, now.Add(-time.Minute), signingSecret), []byte(eventBody))
	require.NoError(t, err)
	assert.Equal(t, "app_mention", ev.Event)
	assert.Equal(t, now.Add(-time.Minute), ev.Timestamp)

	form := "token=x&team_id=T1&command=%2Fdeploy&text=prod"
	h := signed(form, now, signingSecret)
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	ev, err = c.VerifyWebhook(h, []byte(form))
	require.NoError(t, err)
	assert.Equal(t, "command:/deploy", ev.Event)

	challenge := `{"type":"url_verification","challenge":"abc"}`
	ev, err = c.VerifyWebhook(signed(challenge, now, signingSecret), []byte(challenge))
	require.NoError(t, err)
	assert.Equal(t, "url_verification", ev.Event)

	for name, tc := range map[string]struct {
		h    http.Header
		body string
		want error
	}{
		"tampered":      {signed(eventBody, now, signingSecret), strings.Replace(eventBody, "hi", "ho", 1), connectors.ErrInvalidSignature},
		"wrong secret":  {signed(eventBody, now, "other"), eventBody, connectors.ErrInvalidSignature},
		"stale":         {signed(eventBody, now.Add(-6*time.Minute), signingSecret), eventBody, connectors.ErrStaleWebhook},
		"future":        {signed(eventBody, now.Add(6*time.Minute), signingSecret), eventBody, connectors.ErrStaleWebhook},
		"no timestamp":  {http.Header{"X-Slack-Signature": {"v0=00"}}, eventBody, connectors.ErrInvalidSignature},
		"no signature":  {http.Header{"X-Slack-Request-Timestamp": {"1"}}, eventBody, connectors.ErrInvalidSignature},
		"bad signature": {http.Header{"X-Slack-Request-Timestamp": {strconv.FormatInt(now.Unix(), 10)}, "X-Slack-Signature": {"v1=abc"}}, eventBody, connectors.ErrInvalidSignature},
	} {
		_, err := c.VerifyWebhook(tc.h, []byte(tc.body))
		require.ErrorIs(t, err, tc.want, name)
	}
	// The replay check follows the signature check: a stale forgery is reported as a forgery.
	_, err = slack.VerifyRequest([]byte(signingSecret), signed(eventBody, now.Add(-time.Hour), "other"), []byte(eventBody), now)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature)
}

func FuzzVerifyRequest(f *testing.F) {
	f.Add([]byte(`{"type":"event_callback"}`), "1764072000", "v0=00", "application/json")
	f.Fuzz(func(t *testing.T, body []byte, ts, sig, ctype string) {
		h := http.Header{"X-Slack-Request-Timestamp": {ts}, "X-Slack-Signature": {sig}, "Content-Type": {ctype}}
		_, err := slack.VerifyRequest([]byte(signingSecret), h, body, now)
		if err != nil {
			require.True(t, errors.Is(err, connectors.ErrInvalidSignature) || errors.Is(err, connectors.ErrStaleWebhook))
		}
	})
}
