package discord

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/internal/restclient"
)

// Kind is the registry kind of this connector.
const Kind = "discord"

// Defaults and documented limits (Discord docs "Message Resource" and "Embed Limits").
const (
	// DefaultBaseURL is Discord's versioned API root.
	DefaultBaseURL = "https://discord.com/api/v10"
	// DefaultUserAgent is sent when Config.UserAgent is empty; Discord asks for
	// "DiscordBot (url, version)".
	DefaultUserAgent = "DiscordBot (https://github.com/ehg/hub, 1)"
	// ReplayWindow is how far an interaction's X-Signature-Timestamp may be from now.
	ReplayWindow = 5 * time.Minute
	// MaxContent is the most characters of a message's content.
	MaxContent = 2000
	// MaxEmbeds is the most embeds per message.
	MaxEmbeds = 10
	// MaxEmbedTotal is the most characters across all embeds of a message.
	MaxEmbedTotal = 6000
)

// Operation names.
const (
	OpExecuteWebhook = "execute_webhook"
	OpEditMessage    = "edit_message"
)

// Auth is the credentials document: the webhook (its URL, or its id and token) and,
// for interactions, the application's public key.
type Auth struct {
	// WebhookURL is the webhook's URL, https://discord.com/api/webhooks/{id}/{token}.
	WebhookURL string `json:"webhook_url,omitempty"`
	// WebhookID and WebhookToken name the webhook when WebhookURL is not given.
	WebhookID    string `json:"webhook_id,omitempty"`
	WebhookToken string `json:"webhook_token,omitempty"`
	// PublicKey is the application's Ed25519 public key (hex), which verifies
	// interactions.
	PublicKey string `json:"public_key,omitempty"`
	// BotToken is a bot's token (sent as "Authorization: Bot <token>"), which reads a
	// channel's messages for List. A webhook cannot read its channel.
	BotToken string `json:"bot_token,omitempty"`
}

// Options is the settings document.
type Options struct {
	// DefaultOperation is performed when a request names none; default
	// execute_webhook.
	DefaultOperation string `json:"default_operation,omitempty"`
	// Username and AvatarURL override the webhook's name and avatar when the payload
	// sets none.
	Username  string `json:"username,omitempty"`
	AvatarURL string `json:"avatar_url,omitempty"`
	// ThreadID posts into a thread of the webhook's channel.
	ThreadID string `json:"thread_id,omitempty"`
	// NoWait sends without ?wait=true: Discord answers 204 and no message id is known.
	NoWait bool `json:"no_wait,omitempty"`
	// ChannelID is the channel List reads (params.channel_id overrides it).
	ChannelID string `json:"channel_id,omitempty"`
}

// Connector posts through a Discord webhook and verifies interactions. It is safe
// for concurrent use.
type Connector struct {
	name      string
	base      connectors.BaseURL
	auth      Auth
	opts      Options
	publicKey ed25519.PublicKey
	now       func() time.Time
	rest      *restclient.Client
	secrets   []string

	mu      sync.Mutex
	buckets map[string]string        // route → X-RateLimit-Bucket
	lanes   map[string]chan struct{} // route → one request in flight at a time
}

// Factory is the [connectors.Factory] for kind "discord".
func Factory(cfg connectors.Config) (connectors.Connector, error) { return New(cfg) }

// New builds a connector. cfg.BaseURL defaults to the API root of auth.webhook_url,
// else DefaultBaseURL. Errors wrap connectors.ErrInvalidConfig and name the field.
func New(cfg connectors.Config) (*Connector, error) {
	c := &Connector{name: cfg.Name, now: cfg.Clock(), buckets: map[string]string{}, lanes: map[string]chan struct{}{}}
	if err := cfg.DecodeAuth(&c.auth); err != nil {
		return nil, err
	}
	if err := cfg.DecodeOptions(&c.opts); err != nil {
		return nil, err
	}
	def := DefaultBaseURL
	if c.auth.WebhookURL != "" {
		u, err := url.Parse(c.auth.WebhookURL)
		root, rest, found := strings.Cut(u.EscapedPath(), "/webhooks/")
		id, token, ok := strings.Cut(rest, "/")
		if err != nil || !found || !ok || id == "" || token == "" || strings.Contains(token, "/") {
			// Never echo the URL: its path holds the webhook token.
			return nil, fmt.Errorf("%w: auth.webhook_url must look like https://discord.com/api/webhooks/{id}/{token}", connectors.ErrInvalidConfig)
		}
		c.auth.WebhookID, c.auth.WebhookToken = id, token
		def = u.Scheme + "://" + u.Host + root
	}
	base, err := cfg.ParsedBaseURL(def)
	if err != nil {
		return nil, err
	}
	c.base = base
	if (c.auth.WebhookID == "" || c.auth.WebhookToken == "") && c.auth.BotToken == "" {
		return nil, fmt.Errorf("%w: auth.webhook_url, or auth.webhook_id and auth.webhook_token, are required (or auth.bot_token, to list a channel)", connectors.ErrInvalidConfig)
	}
	if c.auth.WebhookID != "" {
		if _, err := strconv.ParseUint(c.auth.WebhookID, 10, 64); err != nil {
			return nil, fmt.Errorf("%w: auth.webhook_id must be a snowflake (digits)", connectors.ErrInvalidConfig)
		}
	}
	if c.opts.ChannelID != "" {
		if _, err := strconv.ParseUint(c.opts.ChannelID, 10, 64); err != nil {
			return nil, fmt.Errorf("%w: options.channel_id must be a snowflake (digits)", connectors.ErrInvalidConfig)
		}
	}
	if c.auth.PublicKey != "" {
		k, err := hex.DecodeString(c.auth.PublicKey)
		if err != nil || len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: auth.public_key must be a hex Ed25519 public key", connectors.ErrInvalidConfig)
		}
		c.publicKey = k
	}
	switch c.opts.DefaultOperation {
	case "":
		c.opts.DefaultOperation = OpExecuteWebhook
	case OpExecuteWebhook, OpEditMessage:
	default:
		return nil, fmt.Errorf("%w: options.default_operation %q is not a discord operation", connectors.ErrInvalidConfig, c.opts.DefaultOperation)
	}
	if c.rest, err = restclient.New(cfg, DefaultUserAgent); err != nil {
		return nil, err
	}
	c.secrets = []string{c.auth.WebhookToken, c.auth.WebhookURL, c.auth.BotToken}
	c.rest.Observe, c.rest.Classify = c.observe, c.classify
	c.rest.Secrets = c.secrets
	if c.auth.BotToken != "" {
		// Only the bot's own routes carry the bot token; a webhook's token is its path.
		c.rest.Authorize = func(_ context.Context, req *http.Request) (string, error) {
			if !strings.Contains(req.URL.EscapedPath(), "/webhooks/") {
				req.Header.Set("Authorization", "Bot "+c.auth.BotToken)
			}
			return "", nil
		}
	}
	return c, nil
}

// Info describes the connector. BaseURL is the API root, which holds no secret.
func (c *Connector) Info() connectors.Info {
	return connectors.Info{Kind: Kind, Name: c.name, BaseURL: c.base.String(), DefaultOperation: c.opts.DefaultOperation,
		Operations: []string{OpEditMessage, OpExecuteWebhook}}
}

func (c *Connector) webhookPath() string {
	return "/webhooks/" + url.PathEscape(c.auth.WebhookID) + "/" + url.PathEscape(c.auth.WebhookToken)
}

// message is the subset of a payload the operations read: Discord's execute-webhook
// fields, passed through, and the work item fields a message is built from.
type message struct {
	Content         json.RawMessage `json:"content,omitempty"`
	Username        string          `json:"username,omitempty"`
	AvatarURL       string          `json:"avatar_url,omitempty"`
	TTS             bool            `json:"tts,omitempty"`
	Embeds          []embed         `json:"embeds,omitempty"`
	AllowedMentions json.RawMessage `json:"allowed_mentions,omitempty"`
	Components      json.RawMessage `json:"components,omitempty"`
	Flags           json.RawMessage `json:"flags,omitempty"`
	ThreadName      string          `json:"thread_name,omitempty"`
	AppliedTags     json.RawMessage `json:"applied_tags,omitempty"`
	Poll            json.RawMessage `json:"poll,omitempty"`
}

// embed is a Discord embed; only the fields with limits are typed.
type embed struct {
	Title       string          `json:"title,omitempty"`
	Description string          `json:"description,omitempty"`
	URL         string          `json:"url,omitempty"`
	Timestamp   string          `json:"timestamp,omitempty"`
	Color       *int            `json:"color,omitempty"`
	Footer      *embedText      `json:"footer,omitempty"`
	Image       json.RawMessage `json:"image,omitempty"`
	Thumbnail   json.RawMessage `json:"thumbnail,omitempty"`
	Author      *embedAuthor    `json:"author,omitempty"`
	Fields      []embedField    `json:"fields,omitempty"`
}

type embedText struct {
	Text    string `json:"text"`
	IconURL string `json:"icon_url,omitempty"`
}

type embedAuthor struct {
	Name    string `json:"name"`
	URL     string `json:"url,omitempty"`
	IconURL string `json:"icon_url,omitempty"`
}

type embedField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline,omitempty"`
}

// workItem is the canonical work item a message is built from when the payload has
// no content and no embeds.
type workItem struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Status      string `json:"status"`
	Priority    string `json:"priority"`
	URL         string `json:"url"`
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// validate enforces Discord's documented message and embed limits, so a message that
// Discord would reject with 400 is refused before it is sent.
func (m *message) validate() error {
	var content string
	if len(m.Content) > 0 {
		if err := json.Unmarshal(m.Content, &content); err != nil {
			return fmt.Errorf("content must be a string")
		}
	}
	if n := runes(content); n > MaxContent {
		return fmt.Errorf("content has %d characters; Discord allows %d", n, MaxContent)
	}
	if content == "" && len(m.Embeds) == 0 && len(m.Components) == 0 && len(m.Poll) == 0 {
		return fmt.Errorf("message needs content, embeds, components or a poll (or a work item title)")
	}
	if len(m.Embeds) > MaxEmbeds {
		return fmt.Errorf("message has %d embeds; Discord allows %d", len(m.Embeds), MaxEmbeds)
	}
	total := 0
	for i, e := range m.Embeds {
		checks := []struct {
			what  string
			n, at int
		}{{"title", runes(e.Title), 256}, {"description", runes(e.Description), 4096}, {"fields", len(e.Fields), 25}}
		if e.Footer != nil {
			checks = append(checks, struct {
				what  string
				n, at int
			}{"footer.text", runes(e.Footer.Text), 2048})
			total += runes(e.Footer.Text)
		}
		if e.Author != nil {
			checks = append(checks, struct {
				what  string
				n, at int
			}{"author.name", runes(e.Author.Name), 256})
			total += runes(e.Author.Name)
		}
		for j, f := range e.Fields {
			checks = append(checks, struct {
				what  string
				n, at int
			}{fmt.Sprintf("fields[%d].name", j), runes(f.Name), 256}, struct {
				what  string
				n, at int
			}{fmt.Sprintf("fields[%d].value", j), runes(f.Value), 1024})
			total += runes(f.Name) + runes(f.Value)
		}
		for _, ch := range checks {
			if ch.n > ch.at {
				return fmt.Errorf("embeds[%d].%s is %d long; Discord allows %d", i, ch.what, ch.n, ch.at)
			}
		}
		total += runes(e.Title) + runes(e.Description)
	}
	if total > MaxEmbedTotal {
		return fmt.Errorf("embeds hold %d characters in all; Discord allows %d", total, MaxEmbedTotal)
	}
	return nil
}

// build reads the payload: Discord message fields as they are, or, without content
// and embeds, an embed made from a work item (title, description, status, priority,
// url).
func (c *Connector) build(body json.RawMessage) (*message, error) {
	var m message
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("payload must be a JSON object with Discord message or work item fields")
		}
	}
	if len(m.Content) == 0 && len(m.Embeds) == 0 {
		var w workItem
		_ = json.Unmarshal(body, &w)
		if w.Title != "" {
			e := embed{Title: truncate(w.Title, 256), Description: truncate(w.Description, 4096), URL: w.URL}
			for _, f := range []embedField{{"Status", w.Status, true}, {"Priority", w.Priority, true}} {
				if f.Value != "" {
					e.Fields = append(e.Fields, f)
				}
			}
			m.Embeds = []embed{e}
		}
	}
	if m.Username == "" {
		m.Username = c.opts.Username
	}
	if m.AvatarURL == "" {
		m.AvatarURL = c.opts.AvatarURL
	}
	return &m, m.validate()
}

// truncate cuts s to n characters, ending with "…" when cut.
func truncate(s string, n int) string {
	if runes(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Invoke performs one operation; see the package documentation.
func (c *Connector) Invoke(ctx context.Context, r *connectors.Request) (*connectors.Response, error) {
	if r == nil {
		return nil, connectors.BadRequest("discord.invoke", "nil request")
	}
	name := r.Operation
	if name == "" {
		name = c.opts.DefaultOperation
	}
	op := "discord." + name
	if c.auth.WebhookID == "" {
		return nil, connectors.BadRequest(op, "this connector has no webhook (auth.webhook_url or auth.webhook_id and auth.webhook_token)")
	}
	m, err := c.build(r.Body)
	if err != nil {
		return nil, connectors.BadRequest(op, err.Error())
	}
	q := url.Values{}
	if tid := restclient.FirstNonEmpty(r.Param("thread_id"), c.opts.ThreadID); tid != "" {
		q.Set("thread_id", tid)
	}
	var method, path, route string
	switch name {
	case OpExecuteWebhook:
		method, path, route = http.MethodPost, c.webhookPath(), "POST /webhooks/{id}/{token}"
		if !c.opts.NoWait {
			q.Set("wait", "true")
		}
	case OpEditMessage:
		id := r.Param("message_id")
		if _, err := strconv.ParseUint(id, 10, 64); err != nil {
			return nil, connectors.BadRequest(op, "edit_message needs params.message_id (a snowflake)")
		}
		m.Username, m.AvatarURL, m.ThreadName = "", "", "" // not editable
		method, path, route = http.MethodPatch, c.webhookPath()+"/messages/"+id, "PATCH /webhooks/{id}/{token}/messages/{message_id}"
	default:
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown operation %q", name))
	}
	encoded, err := json.Marshal(m)
	if err != nil {
		return nil, connectors.BadRequest(op, "cannot encode message")
	}
	res, err := c.send(ctx, route, &restclient.Call{Op: op, Method: method, URL: c.base.Join(path, q), Body: encoded,
		Header: r.Header, IdempotencyKey: r.IdempotencyKey})
	if err != nil {
		return nil, err
	}
	resp := &connectors.Response{StatusCode: res.StatusCode, Header: res.Header, Body: res.Body}
	var doc struct {
		ID string `json:"id"`
	}
	if len(res.Body) > 0 && json.Unmarshal(res.Body, &doc) == nil {
		resp.RemoteID = doc.ID
	}
	return resp, nil
}

// Check fetches the webhook (GET /webhooks/{id}/{token}), which needs only the token;
// a connector with a bot token only fetches the bot's user (GET /users/@me).
func (c *Connector) Check(ctx context.Context) error {
	if c.auth.WebhookID == "" {
		_, err := c.send(ctx, "GET /users/@me", &restclient.Call{Op: "discord.check", Method: http.MethodGet, URL: c.base.Join("/users/@me", nil)})
		return err
	}
	_, err := c.send(ctx, "GET /webhooks/{id}/{token}", &restclient.Call{Op: "discord.check", Method: http.MethodGet, URL: c.base.Join(c.webhookPath(), nil)})
	return err
}

// CanList implements connectors.ConfiguredLister: only a bot token reads a channel.
func (c *Connector) CanList() bool { return c.auth.BotToken != "" }

// MaxListLimit is the most messages Discord returns per page of a channel.
const MaxListLimit = 100

// List reads a channel's messages with the bot token (Discord docs "Get Channel
// Messages": GET /channels/{channel.id}/messages?limit=&before=), newest first. The
// channel is params.channel_id or options.channel_id; the cursor is the id of the last
// message of the previous page (before=); a page shorter than the limit is the last.
// Since ends the listing at the first message older than it. Rate limits are those of
// the route, per channel (its major parameter), as for the webhook.
func (c *Connector) List(ctx context.Context, r *connectors.ListRequest) (*connectors.Page, error) {
	const op = "discord.list_messages"
	if r == nil {
		return nil, connectors.BadRequest(op, "nil request")
	}
	if r.Operation != "" && r.Operation != "list_messages" {
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown list operation %q", r.Operation))
	}
	if c.auth.BotToken == "" {
		return nil, connectors.BadRequest(op, "listing a channel needs auth.bot_token (a webhook cannot read its channel)")
	}
	channel := r.Params["channel_id"]
	if channel == "" {
		channel = c.opts.ChannelID
	}
	if _, err := strconv.ParseUint(channel, 10, 64); err != nil {
		return nil, connectors.BadRequest(op, "list_messages needs params.channel_id or options.channel_id (a snowflake)")
	}
	if r.Cursor != "" {
		if _, err := strconv.ParseUint(r.Cursor, 10, 64); err != nil {
			return nil, connectors.BadRequest(op, "the cursor is not a message id")
		}
	}
	limit := r.Limit
	if limit <= 0 || limit > MaxListLimit {
		limit = MaxListLimit
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if r.Cursor != "" {
		q.Set("before", r.Cursor)
	}
	path := "/channels/" + channel + "/messages"
	res, err := c.send(ctx, "GET "+path, &restclient.Call{Op: op, Method: http.MethodGet, URL: c.base.Join(path, q)})
	if err != nil {
		return nil, err
	}
	var msgs []json.RawMessage
	if err := json.Unmarshal(res.Body, &msgs); err != nil {
		return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode, Err: fmt.Errorf("discord: the messages are not a JSON array: %w", err)}
	}
	page := &connectors.Page{Items: make([]json.RawMessage, 0, len(msgs))}
	last := ""
	for _, m := range msgs {
		var doc struct {
			ID        string    `json:"id"`
			Timestamp time.Time `json:"timestamp"`
		}
		if err := json.Unmarshal(m, &doc); err != nil || doc.ID == "" {
			return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode, Err: errors.New("discord: a message without an id")}
		}
		if !r.Since.IsZero() && doc.Timestamp.Before(r.Since) {
			return page, nil // newest first: everything after this is older still
		}
		page.Items = append(page.Items, m)
		last = doc.ID
	}
	if len(msgs) == limit {
		page.NextCursor = last
	}
	if err := connectors.CheckCursor(op, r.Cursor, page.NextCursor); err != nil {
		return nil, err
	}
	return page, nil
}

// send performs call on route, one request of the route at a time (as Discord's own
// libraries queue per route), so each request sees the bucket state the previous
// response reported: a burst of concurrent deliveries cannot overrun a bucket before
// its first response arrives. Waiting for the route honours ctx.
func (c *Connector) send(ctx context.Context, route string, call *restclient.Call) (*connectors.HTTPResult, error) {
	c.mu.Lock()
	lane, ok := c.lanes[route]
	if !ok {
		lane = make(chan struct{}, 1)
		c.lanes[route] = lane
	}
	c.mu.Unlock()
	select {
	case lane <- struct{}{}:
	case <-ctx.Done():
		return nil, connectors.TransportError(ctx, call.Op, ctx.Err())
	}
	defer func() { <-lane }()
	call.GateKey = c.gateKey(route)
	return c.rest.Do(ctx, call)
}

// gateKey is the gate entry for a route: its rate-limit bucket once Discord named it
// (routes sharing a bucket share its window), else the route itself.
func (c *Connector) gateKey(route string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.buckets[route]; ok {
		return "bucket:" + b
	}
	return "route:" + route
}

// RateLimit is a response's per-route rate-limit state (Discord docs "Rate Limits").
type RateLimit struct {
	// Bucket is X-RateLimit-Bucket, the bucket shared by the routes it limits.
	Bucket string
	// Limit and Remaining are X-RateLimit-Limit and X-RateLimit-Remaining.
	Limit, Remaining int
	// ResetAfter is X-RateLimit-Reset-After: how long until the bucket refills.
	ResetAfter time.Duration
	// Global is X-RateLimit-Global: the 429 concerns every request of the sender.
	Global bool
	// Scope is X-RateLimit-Scope: "user", "global" or "shared".
	Scope string
}

// ParseRateLimit reads the X-RateLimit-* headers. ok is false when
// X-RateLimit-Remaining is absent or malformed.
func ParseRateLimit(h http.Header) (rl RateLimit, ok bool) {
	rl.Global = strings.EqualFold(h.Get("X-Ratelimit-Global"), "true")
	rl.Scope = h.Get("X-Ratelimit-Scope")
	rl.Bucket = h.Get("X-Ratelimit-Bucket")
	rl.ResetAfter = seconds(h.Get("X-Ratelimit-Reset-After"))
	rl.Limit, _ = strconv.Atoi(h.Get("X-Ratelimit-Limit"))
	rem, err := strconv.Atoi(h.Get("X-Ratelimit-Remaining"))
	if err != nil {
		return rl, false
	}
	rl.Remaining = rem
	return rl, true
}

// seconds parses a decimal number of seconds ("1.5"); 0 when malformed or negative.
func seconds(s string) time.Duration {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || !(f > 0) || f > 24*3600 {
		return 0
	}
	return time.Duration(math.Ceil(f*1000)) * time.Millisecond
}

// observe learns the route's bucket and closes it when its remaining count is 0,
// for X-RateLimit-Reset-After.
func (c *Connector) observe(key string, res *connectors.HTTPResult) {
	rl, ok := ParseRateLimit(res.Header)
	if rl.Bucket != "" {
		if route, isRoute := strings.CutPrefix(key, "route:"); isRoute {
			c.mu.Lock()
			c.buckets[route] = rl.Bucket
			c.mu.Unlock()
		}
		key = "bucket:" + rl.Bucket
	}
	if ok && rl.Remaining == 0 && rl.ResetAfter > 0 {
		c.rest.Gate.Block(key, c.now().Add(rl.ResetAfter))
	}
}

// classify maps Discord's error body ({"code", "message", "errors"}; for 429
// {"message", "retry_after", "global"}) to a class: 429 is rate-limited for
// retry_after (or Retry-After), closing the bucket — or every route when global;
// 401 and 403 (e.g. 50013 Missing Permissions) are auth failures; 404 (10015 Unknown
// Webhook) and 400 (50035 Invalid Form Body) permanent; 5xx transient.
func (c *Connector) classify(op string, res *connectors.HTTPResult) *connectors.Error {
	var doc struct {
		Code       json.Number `json:"code"`
		Message    string      `json:"message"`
		RetryAfter float64     `json:"retry_after"`
		Global     bool        `json:"global"`
	}
	_ = json.Unmarshal(res.Body, &doc)
	code := doc.Code.String()
	if code == "0" {
		code = ""
	}
	now := c.now()
	e := connectors.StatusError(op, res, code, doc.Message, now, c.secrets...)
	if res.StatusCode != http.StatusTooManyRequests {
		return e
	}
	if d := seconds(strconv.FormatFloat(doc.RetryAfter, 'f', -1, 64)); d > 0 {
		e.RetryDelay = d
	}
	rl, _ := ParseRateLimit(res.Header)
	// The global limit holds back every route; a bucket's 429 holds back its bucket;
	// a 429 naming no bucket holds back everything, to be safe.
	key := restclient.GlobalKey
	e.Code = "global"
	if !doc.Global && !rl.Global {
		e.Code = restclient.FirstNonEmpty(rl.Scope, "user")
		if rl.Bucket != "" {
			key = "bucket:" + rl.Bucket
		}
	}
	if e.RetryDelay > 0 {
		c.rest.Gate.Block(key, now.Add(e.RetryDelay))
	}
	return e
}

// VerifyWebhook verifies an interaction request with the application's public key.
// See [VerifyInteraction].
func (c *Connector) VerifyWebhook(header http.Header, body []byte) (*connectors.WebhookEvent, error) {
	return VerifyInteraction(c.publicKey, header, body, c.now())
}

// VerifyInteraction checks an interaction request (Discord docs "Receiving and
// Responding to Interactions", security and authorization): X-Signature-Ed25519 is
// the hex Ed25519 signature of X-Signature-Timestamp followed by the raw body under
// the application's public key. Timestamps (Unix seconds) more than [ReplayWindow]
// from now are stale. The event is the interaction type ("1" is PING) and the
// delivery id the interaction id. Errors wrap connectors.ErrInvalidSignature or
// connectors.ErrStaleWebhook; a nil key rejects everything.
func VerifyInteraction(key ed25519.PublicKey, header http.Header, body []byte, now time.Time) (*connectors.WebhookEvent, error) {
	sig, err := hex.DecodeString(header.Get("X-Signature-Ed25519"))
	ts := header.Get("X-Signature-Timestamp")
	if err != nil || len(sig) != ed25519.SignatureSize || ts == "" {
		return nil, fmt.Errorf("discord: %w: X-Signature-Ed25519 or X-Signature-Timestamp missing or malformed", connectors.ErrInvalidSignature)
	}
	if len(key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("discord: %w: no public key configured", connectors.ErrInvalidSignature)
	}
	msg := make([]byte, 0, len(ts)+len(body))
	msg = append(append(msg, ts...), body...)
	if !ed25519.Verify(key, msg, sig) {
		return nil, fmt.Errorf("discord: %w: signature does not match", connectors.ErrInvalidSignature)
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("discord: %w: X-Signature-Timestamp is not Unix seconds", connectors.ErrInvalidSignature)
	}
	signed := time.Unix(secs, 0).UTC()
	if d := now.Sub(signed); d > ReplayWindow || d < -ReplayWindow {
		return nil, fmt.Errorf("discord: %w: timestamp is %s from now", connectors.ErrStaleWebhook, d.Round(time.Second))
	}
	ev := &connectors.WebhookEvent{Timestamp: signed, Body: body}
	var doc struct {
		ID   string      `json:"id"`
		Type json.Number `json:"type"`
	}
	if json.Unmarshal(body, &doc) == nil {
		ev.Event, ev.DeliveryID = doc.Type.String(), doc.ID
	}
	return ev, nil
}

// Interface guards.
var (
	_ connectors.Lister           = (*Connector)(nil)
	_ connectors.ConfiguredLister = (*Connector)(nil)
	_ connectors.Connector        = (*Connector)(nil)
	_ connectors.WebhookVerifier  = (*Connector)(nil)
	_ connectors.Factory          = Factory
)
