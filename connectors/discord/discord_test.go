package discord_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
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
	"github.com/ehg/hub/connectors/discord"
	"github.com/ehg/hub/connectors/internal/fakeclock"
	"github.com/ehg/hub/connectors/internal/restclient"
)

const (
	webhookID    = "123456789012345678"
	webhookToken = "SECRET-webhook-token-xyz"
)

// fake reproduces a Discord webhook: token check (50027), unknown webhook (10015),
// Invalid Form Body (50035) for content over 2000 characters, ?wait=true returning
// the message, per-route buckets with X-RateLimit-* headers, and 429s with a JSON
// retry_after, per bucket or global.
type fake struct {
	mu         sync.Mutex
	posts      []map[string]any
	queries    []string
	hits       atomic.Int32
	limit      int // bucket size; the POST bucket refills only when reset() is called
	used       int
	resetAfter string
	throttle   string // "route" or "global": answer 429
}

func (f *fake) reset() { f.mu.Lock(); f.used = 0; f.throttle = ""; f.mu.Unlock() }

func dErr(w http.ResponseWriter, status int, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"message": msg, "code": code})
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v10/webhooks/")
	id, tail, _ := strings.Cut(rest, "/")
	token, sub, _ := strings.Cut(tail, "/")
	if !ok || id != webhookID {
		dErr(w, 404, 10015, "Unknown Webhook")
		return
	}
	if token != webhookToken {
		dErr(w, 401, 50027, "Invalid Webhook Token")
		return
	}
	if r.Method == http.MethodGet {
		w.Header().Set("X-RateLimit-Bucket", "get-bucket")
		w.Header().Set("X-RateLimit-Limit", "5")
		w.Header().Set("X-RateLimit-Remaining", "4")
		w.Header().Set("X-RateLimit-Reset-After", "1")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": webhookID, "type": 1, "name": "hub", "token": webhookToken})
		return
	}
	switch f.throttle {
	case "route":
		w.Header().Set("Retry-After", "2")
		w.Header().Set("X-RateLimit-Bucket", "post-bucket")
		w.Header().Set("X-RateLimit-Scope", "shared")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(429)
		_, _ = w.Write([]byte(`{"message":"You are being rate limited.","retry_after":1.5,"global":false}`))
		return
	case "global":
		w.Header().Set("Retry-After", "4")
		w.Header().Set("X-RateLimit-Global", "true")
		w.Header().Set("X-RateLimit-Scope", "global")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(429)
		_, _ = w.Write([]byte(`{"message":"You are being rate limited.","retry_after":3.25,"global":true}`))
		return
	}
	var msg map[string]any
	_ = json.NewDecoder(r.Body).Decode(&msg)
	if c, _ := msg["content"].(string); len([]rune(c)) > 2000 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`{"code":50035,"errors":{"content":{"_errors":[{"code":"BASE_TYPE_MAX_LENGTH","message":"Must be 2000 or fewer in length."}]}},"message":"Invalid Form Body"}`))
		return
	}
	f.used++
	w.Header().Set("X-RateLimit-Bucket", "post-bucket")
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(f.limit))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(f.limit-f.used, 0)))
	w.Header().Set("X-RateLimit-Reset-After", f.resetAfter)
	w.Header().Set("X-RateLimit-Reset", "1764072002.000")
	f.posts = append(f.posts, msg)
	f.queries = append(f.queries, r.Method+" "+sub+"?"+r.URL.RawQuery)
	if r.URL.Query().Get("wait") != "true" && r.Method == http.MethodPost {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	msg["id"] = strconv.Itoa(1100000000000000000 + len(f.posts))
	msg["channel_id"] = "555"
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(msg)
}

func start(t *testing.T, f *fake, clk *fakeclock.Clock, opts string) *discord.Connector {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := discord.New(connectors.Config{HTTPClient: srv.Client(), Now: clk.Now,
		Auth:    json.RawMessage(`{"webhook_url":"` + srv.URL + `/api/v10/webhooks/` + webhookID + `/` + webhookToken + `"}`),
		Options: json.RawMessage(opts)})
	require.NoError(t, err)
	return c
}

func TestConformance(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, func(t *testing.T, cfg connectors.Config) connectors.Connector {
		cfg.Auth = json.RawMessage(`{"webhook_id":"` + webhookID + `","webhook_token":"` + webhookToken + `","bot_token":"` + botToken + `"}`)
		cfg.Options = json.RawMessage(`{"channel_id":"` + channelID + `"}`)
		c, err := discord.New(cfg)
		require.NoError(t, err)
		return c
	}, connectortest.Features{
		Secrets: []string{webhookToken, botToken},
		Request: func() *connectors.Request {
			return &connectors.Request{Body: json.RawMessage(`{"content":"conformance"}`)}
		},
		Success: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"1100000000000000001","channel_id":"555","content":"conformance"}`))
		},
	})
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for name, auth := range map[string]string{
		"nothing":       `{}`,
		"no token":      `{"webhook_id":"1"}`,
		"bad id":        `{"webhook_id":"abc","webhook_token":"t"}`,
		"bad url":       `{"webhook_url":"https://discord.com/api/channels/1"}`,
		"extra path":    `{"webhook_url":"https://discord.com/api/webhooks/1/t/x"}`,
		"bad key":       `{"webhook_id":"1","webhook_token":"t","public_key":"zz"}`,
		"short key":     `{"webhook_id":"1","webhook_token":"t","public_key":"abcd"}`,
		"unknown field": `{"webhook_id":"1","webhook_token":"t","bot":"x"}`,
	} {
		_, err := discord.New(connectors.Config{Auth: json.RawMessage(auth)})
		require.ErrorIs(t, err, connectors.ErrInvalidConfig, name)
		assert.NotContains(t, err.Error(), "/t/x", name)
	}
	c, err := discord.New(connectors.Config{Auth: json.RawMessage(`{"webhook_url":"https://discord.com/api/webhooks/1/` + webhookToken + `"}`)})
	require.NoError(t, err)
	assert.Equal(t, "https://discord.com/api", c.Info().BaseURL, "base URL from the webhook URL, without the token")
	c, err = discord.New(connectors.Config{Auth: json.RawMessage(`{"webhook_id":"1","webhook_token":"t"}`)})
	require.NoError(t, err)
	assert.Equal(t, discord.DefaultBaseURL, c.Info().BaseURL)
}

func TestExecuteWebhook(t *testing.T) {
	t.Parallel()
	f := &fake{limit: 5, resetAfter: "2"}
	c := start(t, f, fakeclock.New(), `{"username":"Integration Hub","thread_id":"777"}`)
	resp, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(
		`{"title":"Refund webhook retries exhaust","description":"gateway 503","status":"todo","priority":"high","url":"https://x.example/1"}`)})
	require.NoError(t, err)
	assert.Equal(t, "1100000000000000001", resp.RemoteID)
	resp, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"content":"deploy finished","allowed_mentions":{"parse":[]}}`)})
	require.NoError(t, err)
	_, err = c.Invoke(t.Context(), &connectors.Request{Operation: discord.OpEditMessage, Params: map[string]string{"message_id": resp.RemoteID},
		Body: json.RawMessage(`{"content":"deploy finished (edited)"}`)})
	require.NoError(t, err)
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Len(t, f.posts, 3)
	assert.Equal(t, "Integration Hub", f.posts[0]["username"])
	assert.Equal(t, []any{map[string]any{"title": "Refund webhook retries exhaust", "description": "gateway 503", "url": "https://x.example/1",
		"fields": []any{map[string]any{"name": "Status", "value": "todo", "inline": true}, map[string]any{"name": "Priority", "value": "high", "inline": true}}}},
		f.posts[0]["embeds"])
	assert.Equal(t, map[string]any{"parse": []any{}}, f.posts[1]["allowed_mentions"])
	assert.Equal(t, "POST ?thread_id=777&wait=true", f.queries[0])
	assert.Equal(t, "PATCH messages/1100000000000000002?thread_id=777", f.queries[2])
	assert.NotContains(t, f.posts[2], "username", "edits cannot change the author")
}

func TestMessageLimits(t *testing.T) {
	t.Parallel()
	f := &fake{limit: 100, resetAfter: "1"}
	c := start(t, f, fakeclock.New(), `{}`)
	many := strings.Repeat(`{"title":"t"},`, 11)
	for name, body := range map[string]string{
		"content 2001":   `{"content":"` + strings.Repeat("é", 2001) + `"}`,
		"11 embeds":      `{"embeds":[` + strings.TrimSuffix(many, ",") + `]}`,
		"title 257":      `{"embeds":[{"title":"` + strings.Repeat("x", 257) + `"}]}`,
		"field 1025":     `{"embeds":[{"fields":[{"name":"n","value":"` + strings.Repeat("x", 1025) + `"}]}]}`,
		"total 6001":     `{"embeds":[{"description":"` + strings.Repeat("x", 4000) + `"},{"description":"` + strings.Repeat("x", 2001) + `"}]}`,
		"empty":          `{}`,
		"content number": `{"content":5}`,
		"not object":     `[1]`,
	} {
		_, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(body)})
		require.ErrorIs(t, err, connectors.ErrBadRequest, name)
	}
	_, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"content":"` + strings.Repeat("é", 2000) + `"}`)})
	require.NoError(t, err, "2000 characters (4000 bytes) is within the limit")
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"title":"` + strings.Repeat("x", 300) + `"}`)})
	require.NoError(t, err, "a long work item title is cut to the embed limit")
	_, err = c.Invoke(t.Context(), &connectors.Request{Operation: discord.OpEditMessage, Body: json.RawMessage(`{"content":"x"}`)})
	require.ErrorIs(t, err, connectors.ErrBadRequest, "edit needs a message id")
	assert.EqualValues(t, 2, f.hits.Load(), "nothing over the limits was sent")
}

// TestBucketExhausted: when a bucket's X-RateLimit-Remaining reaches 0, nothing more
// is sent on it before X-RateLimit-Reset-After has passed; other buckets go on.
func TestBucketExhausted(t *testing.T) {
	t.Parallel()
	f := &fake{limit: 2, resetAfter: "1.5"}
	clk := fakeclock.New()
	c := start(t, f, clk, `{}`)
	for range 2 {
		_, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"content":"x"}`)})
		require.NoError(t, err)
	}
	clk.Advance(1499 * time.Millisecond)
	_, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"content":"x"}`)})
	require.ErrorIs(t, err, restclient.ErrHeldBack)
	require.ErrorIs(t, err, connectors.ErrRateLimited)
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, time.Millisecond, ce.RetryAfter())
	assert.EqualValues(t, 2, f.hits.Load(), "no request before the reset")
	require.NoError(t, c.Check(t.Context()), "another route's bucket is open")
	f.reset()
	clk.Advance(time.Millisecond)
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"content":"x"}`)})
	require.NoError(t, err)
}

// Test429: a 429's JSON retry_after (precise to the millisecond) holds its bucket back;
// the global limit holds every route back.
func Test429(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		scope string
		wait  time.Duration
		code  string
	}{{"route", 1500 * time.Millisecond, "shared"}, {"global", 3250 * time.Millisecond, "global"}} {
		t.Run(tt.scope, func(t *testing.T) {
			t.Parallel()
			f := &fake{limit: 5, resetAfter: "1", throttle: tt.scope}
			clk := fakeclock.New()
			c := start(t, f, clk, `{}`)
			_, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"content":"x"}`)})
			require.ErrorIs(t, err, connectors.ErrRateLimited)
			var ce *connectors.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.wait, ce.RetryAfter(), "retry_after from the body, not the rounded Retry-After header")
			assert.Equal(t, tt.code, ce.Code)
			f.reset()
			clk.Advance(tt.wait - time.Millisecond)
			_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"content":"x"}`)})
			require.ErrorIs(t, err, restclient.ErrHeldBack)
			if tt.scope == "global" {
				require.ErrorIs(t, c.Check(t.Context()), restclient.ErrHeldBack, "the global limit holds every route")
			}
			assert.EqualValues(t, 1, f.hits.Load(), "no request before the reset")
			clk.Advance(time.Millisecond)
			_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"content":"x"}`)})
			require.NoError(t, err)
		})
	}
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status, code int
		class        error
	}{
		{401, 50027, connectors.ErrAuth}, {403, 50013, connectors.ErrAuth}, {404, 10015, connectors.ErrPermanent},
		{400, 50035, connectors.ErrPermanent}, {500, 0, connectors.ErrTransient}, {502, 0, connectors.ErrTransient},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			dErr(w, tt.status, tt.code, "failed at "+r.URL.Path)
		}))
		c, err := discord.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(),
			Auth: json.RawMessage(`{"webhook_id":"` + webhookID + `","webhook_token":"` + webhookToken + `"}`)})
		require.NoError(t, err)
		_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"content":"x"}`)})
		srv.Close()
		require.ErrorIs(t, err, tt.class, tt.status)
		var ce *connectors.Error
		require.ErrorAs(t, err, &ce)
		if tt.code != 0 {
			assert.Equal(t, strconv.Itoa(tt.code), ce.Code)
		}
		assert.NotContains(t, err.Error(), webhookToken)
	}
	f := &fake{limit: 5, resetAfter: "1"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := discord.New(connectors.Config{BaseURL: srv.URL + "/api/v10", HTTPClient: srv.Client(),
		Auth: json.RawMessage(`{"webhook_id":"` + webhookID + `","webhook_token":"wrong"}`)})
	require.NoError(t, err)
	require.ErrorIs(t, c.Check(t.Context()), connectors.ErrAuth, "Check fetches the webhook with its token")
}

func TestVerifyInteraction(t *testing.T) {
	t.Parallel()
	priv := ed25519.NewKeyFromSeed([]byte("0123456789abcdef0123456789abcdef"))
	pub := priv.Public().(ed25519.PublicKey)
	clk := fakeclock.New()
	c, err := discord.New(connectors.Config{Now: clk.Now,
		Auth: json.RawMessage(`{"webhook_id":"1","webhook_token":"t","public_key":"` + hex.EncodeToString(pub) + `"}`)})
	require.NoError(t, err)
	body := []byte(`{"id":"1200000000000000001","application_id":"99","type":1,"version":1}`)
	sign := func(ts string, b []byte) http.Header {
		h := http.Header{}
		h.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(priv, append([]byte(ts), b...))))
		h.Set("X-Signature-Timestamp", ts)
		return h
	}
	ts := strconv.FormatInt(clk.Now().Unix(), 10)
	ev, err := c.VerifyWebhook(sign(ts, body), body)
	require.NoError(t, err)
	assert.Equal(t, "1", ev.Event, "PING")
	assert.Equal(t, "1200000000000000001", ev.DeliveryID)
	assert.Equal(t, clk.Now(), ev.Timestamp)

	tampered := []byte(strings.Replace(string(body), `"type":1`, `"type":2`, 1))
	_, err = c.VerifyWebhook(sign(ts, body), tampered)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "tampered body")
	h := sign(ts, body)
	h.Set("X-Signature-Timestamp", strconv.FormatInt(clk.Now().Unix()+1, 10))
	_, err = c.VerifyWebhook(h, body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "tampered timestamp")
	for name, hdr := range map[string]http.Header{
		"missing":   {},
		"not hex":   {"X-Signature-Ed25519": {"zz"}, "X-Signature-Timestamp": {ts}},
		"truncated": {"X-Signature-Ed25519": {sign(ts, body).Get("X-Signature-Ed25519")[:100]}, "X-Signature-Timestamp": {ts}},
	} {
		_, err := c.VerifyWebhook(hdr, body)
		require.ErrorIs(t, err, connectors.ErrInvalidSignature, name)
	}
	stale := strconv.FormatInt(clk.Now().Add(-discord.ReplayWindow-time.Second).Unix(), 10)
	_, err = c.VerifyWebhook(sign(stale, body), body)
	require.ErrorIs(t, err, connectors.ErrStaleWebhook)
	other := ed25519.NewKeyFromSeed([]byte("fedcba9876543210fedcba9876543210"))
	_, err = discord.VerifyInteraction(other.Public().(ed25519.PublicKey), sign(ts, body), body, clk.Now())
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "another application's key")
	_, err = discord.VerifyInteraction(nil, sign(ts, body), body, clk.Now())
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "no key rejects everything")
}

func FuzzVerifyInteraction(f *testing.F) {
	priv := ed25519.NewKeyFromSeed([]byte("0123456789abcdef0123456789abcdef"))
	pub := priv.Public().(ed25519.PublicKey)
	now := time.Unix(1764072000, 0)
	f.Add([]byte(`{"type":1}`), "00", "1764072000")
	f.Fuzz(func(t *testing.T, body []byte, sig, ts string) {
		h := http.Header{"X-Signature-Ed25519": {sig}, "X-Signature-Timestamp": {ts}}
		if _, err := discord.VerifyInteraction(pub, h, body, now); err == nil {
			require.True(t, ed25519.Verify(pub, append([]byte(ts), body...), mustHex(t, sig)))
		}
		h.Set("X-Signature-Timestamp", "1764072000")
		h.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(priv, append([]byte("1764072000"), body...))))
		_, err := discord.VerifyInteraction(pub, h, body, now)
		require.NoError(t, err)
	})
}

func mustHex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}
