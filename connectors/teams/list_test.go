package teams_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/internal/fakeclock"
	"github.com/ehg/hub/connectors/internal/restclient"
	"github.com/ehg/hub/connectors/teams"
)

const (
	graphToken = "SECRET-graph-access-token"
	teamID     = "fbe2bf47-16c8-47cf-b4a5-4b9b187c508b"
	channelID  = "19:4a95f7d8db4c4e7fae857bcebe0623e6@thread.tacv2"
)

// graphFake reproduces Microsoft Graph's "List channel messages" (GET
// /v1.0/teams/{team-id}/channels/{channel-id}/messages?$top=, at most 50, pages linked
// by @odata.nextLink with a $skiptoken), bearer auth (401 InvalidAuthenticationToken),
// 404 NotFound for another channel, and throttling: perWindow requests per window,
// beyond which it answers 429 TooManyRequests with Retry-After until the window ends.
// Every request is stamped with the shared fake clock's time.
type graphFake struct {
	mu        sync.Mutex
	clk       *fakeclock.Clock
	n         int
	perWindow int
	window    time.Duration
	resetAt   time.Time
	used      int
	throttled time.Time // the Retry-After of the last 429 ends here
	stamps    []time.Time
	early     int // requests that arrived before a 429's Retry-After had passed
	srv       string
}

func graphError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]any{"request-id": "b5b4bd5e-0d6d-4e5a-9f9a-3a7d6e0d7f44"}}})
}

func (f *graphFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clk.Now()
	f.stamps = append(f.stamps, now)
	if now.Before(f.throttled) {
		f.early++
	}
	if r.Header.Get("Authorization") != "Bearer "+graphToken {
		graphError(w, 401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
		return
	}
	if r.URL.Path != "/v1.0/teams/"+teamID+"/channels/"+channelID+"/messages" {
		graphError(w, 404, "NotFound", "Resource not found")
		return
	}
	if !now.Before(f.resetAt) {
		f.used, f.resetAt = 0, now.Add(f.window)
	}
	if f.used >= f.perWindow {
		wait := int(f.resetAt.Sub(now).Seconds() + 0.999)
		f.throttled = now.Add(time.Duration(wait) * time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		graphError(w, 429, "TooManyRequests", "Too many requests")
		return
	}
	f.used++
	top, _ := strconv.Atoi(r.URL.Query().Get("$top"))
	if top <= 0 || top > 50 {
		top = 20
	}
	skip, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	doc := map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#teams('" + teamID + "')/channels('" + channelID + "')/messages"}
	var value []map[string]any
	for i := skip; i < min(skip+top, f.n); i++ {
		at := fakeclock.Start.Add(-time.Duration(f.n-i) * time.Hour).Format(time.RFC3339)
		value = append(value, map[string]any{"id": strconv.Itoa(1616990000000 + i), "messageType": "message",
			"createdDateTime": at, "lastModifiedDateTime": at, "body": map[string]any{"contentType": "html", "content": fmt.Sprintf("<p>m%d</p>", i)}})
	}
	doc["value"] = value
	if skip+top < f.n {
		doc["@odata.nextLink"] = f.srv + "/v1.0/teams/" + teamID + "/channels/" + channelID + "/messages?$top=" + strconv.Itoa(top) + "&$skiptoken=" + strconv.Itoa(skip+top)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

func startGraph(t *testing.T, f *graphFake, token string) *teams.Connector {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.srv = srv.URL
	c, err := teams.New(connectors.Config{HTTPClient: srv.Client(), Now: f.clk.Now,
		Auth:    json.RawMessage(`{"webhook_url":"` + srv.URL + legacyPath + `","graph_token":"` + token + `"}`),
		Options: json.RawMessage(`{"graph_base_url":"` + srv.URL + `/v1.0","team_id":"` + teamID + `","channel_id":"` + channelID + `"}`)})
	require.NoError(t, err)
	return c
}

// TestListChannelToTheEnd reads 230 messages, 50 a page, from a Graph that allows two
// requests per 10 s window and answers 429 with Retry-After beyond: every message once,
// a held-back call sends nothing, and — by the fake's clock stamps — no request arrived
// before a 429's Retry-After had passed.
func TestListChannelToTheEnd(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New()
	f := &graphFake{clk: clk, n: 230, perWindow: 2, window: 10 * time.Second}
	c := startGraph(t, f, graphToken)
	got := map[string]bool{}
	cursor := ""
	pages, throttled, heldBack := 0, 0, 0
	for {
		p, err := c.List(t.Context(), &connectors.ListRequest{Cursor: cursor})
		if errors.Is(err, connectors.ErrRateLimited) {
			var ce *connectors.Error
			require.ErrorAs(t, err, &ce)
			require.Positive(t, ce.RetryAfter())
			if errors.Is(err, restclient.ErrHeldBack) {
				heldBack++
				clk.Advance(ce.RetryAfter())
				continue
			}
			throttled++
			assert.Equal(t, "TooManyRequests", ce.Code)
			continue // at once: the connector must hold this one back itself
		}
		require.NoError(t, err)
		pages++
		for _, it := range p.Items {
			var m struct{ ID string }
			require.NoError(t, json.Unmarshal(it, &m))
			require.False(t, got[m.ID], "message %s listed twice", m.ID)
			got[m.ID] = true
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	assert.Len(t, got, 230)
	assert.Equal(t, 5, pages)
	f.mu.Lock()
	early, stamps := f.early, len(f.stamps)
	f.mu.Unlock()
	assert.Positive(t, throttled, "Graph throttled the listing")
	assert.Equal(t, throttled, heldBack, "after each 429 the next call was held back, not sent")
	assert.Equal(t, pages+throttled, stamps, "requests at the fake: the pages and the throttled ones only")
	assert.Zero(t, early, "no request before Retry-After had passed")
	t.Logf("%d messages in %d pages; %d 429s, %d calls held back, %d requests at the fake, %d early", len(got), pages, throttled, heldBack, stamps, early)

	// Since keeps the recent messages (one an hour, the newest an hour old).
	clk.Advance(time.Minute)
	var recent int
	cursor = ""
	for {
		p, err := c.List(t.Context(), &connectors.ListRequest{Cursor: cursor, Since: fakeclock.Start.Add(-5*time.Hour - time.Minute)})
		if errors.Is(err, connectors.ErrRateLimited) {
			var ce *connectors.Error
			require.ErrorAs(t, err, &ce)
			clk.Advance(ce.RetryAfter())
			continue
		}
		require.NoError(t, err)
		recent += len(p.Items)
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	assert.Equal(t, 5, recent)
}

func TestListErrors(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New()
	f := &graphFake{clk: clk, n: 3, perWindow: 100, window: time.Second}
	c := startGraph(t, f, graphToken)
	for name, req := range map[string]*connectors.ListRequest{
		"foreign cursor": {Cursor: "https://evil.example.com/v1.0/teams/x/channels/y/messages"},
		"other path":     {Cursor: "/beta/teams/x"},
		"unknown op":     {Operation: "list_teams"},
	} {
		_, err := c.List(t.Context(), req)
		require.ErrorIs(t, err, connectors.ErrBadRequest, name)
	}
	_, err := c.List(t.Context(), &connectors.ListRequest{Params: map[string]string{"channel_id": "19:other@thread.tacv2"}})
	require.ErrorIs(t, err, connectors.ErrPermanent, "404 NotFound")
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "NotFound", ce.Code)

	_, err = startGraph(t, &graphFake{clk: clk, n: 3, perWindow: 100, window: time.Second}, "wrong-token").List(t.Context(), &connectors.ListRequest{})
	require.ErrorIs(t, err, connectors.ErrAuth)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "InvalidAuthenticationToken", ce.Code)

	webhookOnly, _ := start(t, &fake{}, clk, legacyPath)
	_, err = webhookOnly.List(t.Context(), &connectors.ListRequest{Params: map[string]string{"team_id": "t", "channel_id": "c"}})
	require.ErrorIs(t, err, connectors.ErrBadRequest, "a webhook cannot read its channel")
	_, lists := connectors.Lists(webhookOnly)
	assert.False(t, lists, "a webhook-only connector does not list as configured (no sync schedule)")
	_, lists = connectors.Lists(c)
	assert.True(t, lists)
	noChannel, err := teams.New(connectors.Config{Auth: json.RawMessage(`{"webhook_url":"https://acme.webhook.office.com` + legacyPath + `","graph_token":"x"}`)})
	require.NoError(t, err)
	_, err = noChannel.List(t.Context(), &connectors.ListRequest{})
	require.ErrorIs(t, err, connectors.ErrBadRequest)
	_, err = teams.New(connectors.Config{Auth: json.RawMessage(`{"webhook_url":"https://x/y","graph_token":"x"}`), Options: json.RawMessage(`{"graph_base_url":"graph"}`)})
	require.ErrorIs(t, err, connectors.ErrInvalidConfig)

	// Graph's 503 with Retry-After holds Graph back; the webhook posts go on.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			_, _ = w.Write([]byte("1"))
			return
		}
		w.Header().Set("Retry-After", "7")
		graphError(w, 503, "serviceNotAvailable", "Service unavailable")
	}))
	t.Cleanup(srv.Close)
	busy, err := teams.New(connectors.Config{HTTPClient: srv.Client(), Now: clk.Now,
		Auth:    json.RawMessage(`{"webhook_url":"` + srv.URL + legacyPath + `","graph_token":"` + graphToken + `"}`),
		Options: json.RawMessage(`{"graph_base_url":"` + srv.URL + `/v1.0","team_id":"t","channel_id":"c"}`)})
	require.NoError(t, err)
	_, err = busy.List(t.Context(), &connectors.ListRequest{})
	require.ErrorIs(t, err, connectors.ErrTransient)
	_, err = busy.List(t.Context(), &connectors.ListRequest{})
	require.ErrorIs(t, err, restclient.ErrHeldBack)
	_, err = busy.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"title":"x"}`)})
	require.NoError(t, err, "Graph's throttling does not hold back webhook posts")
}
