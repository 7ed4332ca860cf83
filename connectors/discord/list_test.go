package discord_test

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
	"github.com/ehg/hub/connectors/discord"
	"github.com/ehg/hub/connectors/internal/fakeclock"
)

const (
	botToken  = "SECRET-bot-token-abc"
	channelID = "222222222222222222"
)

// channelFake reproduces Discord's "Get Channel Messages" (GET
// /channels/{channel.id}/messages?limit=&before=): newest first, at most limit (1-100,
// default 50) messages older than before; "Authorization: Bot <token>" (401 0 otherwise,
// 403 50001 Missing Access for another channel). Its route's bucket allows limit requests
// per window of resetAfter, reported in X-RateLimit-*, and answers 429 with JSON
// retry_after inside an exhausted window. Each request is stamped with the shared fake
// clock's time, so the test can check when requests arrived.
type channelFake struct {
	mu       sync.Mutex
	clk      *fakeclock.Clock
	ids      []uint64 // ascending
	limit    int
	window   time.Duration
	resetAt  time.Time
	used     int
	stamps   []time.Time
	early    int // requests that arrived while the bucket was exhausted, before its reset
	webhookA []string
}

func newChannelFake(clk *fakeclock.Clock, n int) *channelFake {
	f := &channelFake{clk: clk, limit: 3, window: 2 * time.Second}
	for i := range n {
		f.ids = append(f.ids, 1100000000000000000+uint64(i)*7)
	}
	return f
}

func (f *channelFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clk.Now()
	f.stamps = append(f.stamps, now)
	if r.URL.Path != "/api/v10/channels/"+channelID+"/messages" {
		dErr(w, 403, 50001, "Missing Access")
		return
	}
	if r.Header.Get("Authorization") != "Bot "+botToken {
		dErr(w, 401, 0, "401: Unauthorized")
		return
	}
	if !now.Before(f.resetAt) {
		f.used, f.resetAt = 0, now.Add(f.window)
	}
	w.Header().Set("X-RateLimit-Bucket", "channel-messages")
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(f.limit))
	after := fmt.Sprintf("%.3f", f.resetAt.Sub(now).Seconds())
	w.Header().Set("X-RateLimit-Reset-After", after)
	if f.used >= f.limit {
		f.early++
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("Retry-After", strconv.Itoa(int(f.resetAt.Sub(now).Seconds()+1)))
		w.Header().Set("X-RateLimit-Scope", "user")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(429)
		_, _ = fmt.Fprintf(w, `{"message":"You are being rate limited.","retry_after":%s,"global":false}`, after)
		return
	}
	f.used++
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(f.limit-f.used))
	limit := 50
	if l := r.URL.Query().Get("limit"); l != "" {
		limit, _ = strconv.Atoi(l)
	}
	before := uint64(1<<63 - 1)
	if b := r.URL.Query().Get("before"); b != "" {
		before, _ = strconv.ParseUint(b, 10, 64)
	}
	var page []map[string]any
	for i := len(f.ids) - 1; i >= 0 && len(page) < limit; i-- {
		if f.ids[i] < before {
			page = append(page, map[string]any{"id": strconv.FormatUint(f.ids[i], 10), "channel_id": channelID, "content": "m" + strconv.Itoa(i),
				"timestamp": fakeclock.Start.Add(-time.Duration(len(f.ids)-i) * time.Minute).Format(time.RFC3339)})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

// TestListChannelToTheEnd reads 250 messages with the bot token, 100 a page, through a
// bucket of 3 requests per 2 s: every message once, newest first, and — by the fake's
// own clock stamps — no request arrived in an exhausted window before its reset.
func TestListChannelToTheEnd(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New()
	f := newChannelFake(clk, 250)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := discord.New(connectors.Config{BaseURL: srv.URL + "/api/v10", HTTPClient: srv.Client(), Now: clk.Now,
		Auth: json.RawMessage(`{"bot_token":"` + botToken + `"}`), Options: json.RawMessage(`{"channel_id":"` + channelID + `"}`)})
	require.NoError(t, err)

	var ids []string
	heldBack, pages := 0, 0
	for round := range 3 { // three listings from the start: the bucket runs out on the way
		got := map[string]bool{}
		cursor := ""
		for {
			p, err := c.List(t.Context(), &connectors.ListRequest{Cursor: cursor})
			if errors.Is(err, connectors.ErrRateLimited) {
				var ce *connectors.Error
				require.ErrorAs(t, err, &ce)
				require.Positive(t, ce.RetryAfter())
				heldBack++
				clk.Advance(ce.RetryAfter())
				continue
			}
			require.NoError(t, err)
			pages++
			for _, it := range p.Items {
				var m struct{ ID string }
				require.NoError(t, json.Unmarshal(it, &m))
				require.False(t, got[m.ID], "message %s listed twice", m.ID)
				got[m.ID] = true
				if round == 0 {
					ids = append(ids, m.ID)
				}
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		require.Len(t, got, 250, "round %d", round)
	}
	assert.Equal(t, strconv.FormatUint(f.ids[249], 10), ids[0], "newest first")
	assert.Equal(t, strconv.FormatUint(f.ids[0], 10), ids[249])
	f.mu.Lock()
	early, stamps := f.early, len(f.stamps)
	f.mu.Unlock()
	assert.Zero(t, early, "no request arrived before its bucket's reset")
	assert.Positive(t, heldBack, "the bucket ran out and the connector held back")
	assert.Equal(t, pages, stamps, "a held-back call sends nothing")
	t.Logf("%d pages in 3 listings, %d calls held back until the reset, %d requests at the fake, %d early", pages, heldBack, stamps, early)

	// Since ends the listing at the first older message (newest first, one a minute).
	clk.Advance(f.window)
	p, err := c.List(t.Context(), &connectors.ListRequest{Since: fakeclock.Start.Add(-10*time.Minute - time.Second), Limit: 100})
	require.NoError(t, err)
	assert.Len(t, p.Items, 10)
	assert.Empty(t, p.NextCursor)
}

func TestListErrors(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New()
	f := newChannelFake(clk, 3)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	webhookOnly, err := discord.New(connectors.Config{BaseURL: srv.URL + "/api/v10", HTTPClient: srv.Client(),
		Auth: json.RawMessage(`{"webhook_id":"` + webhookID + `","webhook_token":"` + webhookToken + `"}`)})
	require.NoError(t, err)
	_, err = webhookOnly.List(t.Context(), &connectors.ListRequest{Params: map[string]string{"channel_id": channelID}})
	require.ErrorIs(t, err, connectors.ErrBadRequest, "a webhook cannot read its channel")
	_, lists := connectors.Lists(webhookOnly)
	assert.False(t, lists, "a webhook-only connector does not list as configured (no sync schedule)")

	bot := func(token string) *discord.Connector {
		c, err := discord.New(connectors.Config{BaseURL: srv.URL + "/api/v10", HTTPClient: srv.Client(), Now: clk.Now,
			Auth: json.RawMessage(`{"bot_token":"` + token + `"}`)})
		require.NoError(t, err)
		return c
	}
	_, lists = connectors.Lists(bot(botToken))
	assert.True(t, lists)
	_, err = bot(botToken).List(t.Context(), &connectors.ListRequest{})
	require.ErrorIs(t, err, connectors.ErrBadRequest, "no channel")
	_, err = bot(botToken).List(t.Context(), &connectors.ListRequest{Params: map[string]string{"channel_id": channelID}, Cursor: "x"})
	require.ErrorIs(t, err, connectors.ErrBadRequest, "a cursor that is no message id")
	_, err = bot(botToken).Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"content":"x"}`)})
	require.ErrorIs(t, err, connectors.ErrBadRequest, "a bot-only connector has no webhook to post to")
	_, err = bot("wrong").List(t.Context(), &connectors.ListRequest{Params: map[string]string{"channel_id": channelID}})
	require.ErrorIs(t, err, connectors.ErrAuth)
	assert.NotContains(t, err.Error(), "wrong")
	_, err = bot(botToken).List(t.Context(), &connectors.ListRequest{Params: map[string]string{"channel_id": "333"}})
	require.ErrorIs(t, err, connectors.ErrAuth, "403 Missing Access")
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "50001", ce.Code)
	_, err = discord.New(connectors.Config{Auth: json.RawMessage(`{"bot_token":"t"}`), Options: json.RawMessage(`{"channel_id":"general"}`)})
	require.ErrorIs(t, err, connectors.ErrInvalidConfig)
}
