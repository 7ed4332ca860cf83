package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ehg/hub/connectors"
)

// Kind is the registry kind of this connector.
const Kind = "slack"

// Defaults.
const (
	// DefaultBaseURL is the Slack Web API root.
	DefaultBaseURL = "https://slack.com/api"
	// DefaultUserAgent is sent when Config.UserAgent is empty.
	DefaultUserAgent = "ehg-hub-slack/1"
	// ReplayWindow is how far a signed request's timestamp may be from now.
	ReplayWindow = 5 * time.Minute
	// DefaultListLimit is conversations.list's page size when none is given.
	DefaultListLimit = 200
)

// Operation names.
const (
	OpPostMessage       = "chat.postMessage"
	OpUpdate            = "chat.update"
	OpConversationsList = "conversations.list"
	OpWebhook           = "webhook"
)

// Auth is the credentials document.
type Auth struct {
	// BotToken is the xoxb- token for Web API calls.
	BotToken string `json:"bot_token,omitempty"`
	// SigningSecret verifies inbound requests.
	SigningSecret string `json:"signing_secret,omitempty"`
	// WebhookURL is an incoming webhook URL for the webhook operation.
	WebhookURL string `json:"webhook_url,omitempty"`
}

// Options is the settings document.
type Options struct {
	// Channel is the default channel id (or name) for messages.
	Channel string `json:"channel,omitempty"`
	// DefaultOperation is performed when a request names none; default
	// chat.postMessage, or webhook when only a webhook URL is configured.
	DefaultOperation string `json:"default_operation,omitempty"`
}

// Connector talks to the Slack Web API and incoming webhooks. It is safe for
// concurrent use.
type Connector struct {
	name      string
	base      connectors.BaseURL
	webhook   connectors.BaseURL
	client    *http.Client
	limit     int64
	userAgent string
	now       func() time.Time
	auth      Auth
	opts      Options
	secrets   []string
}

// Factory is the [connectors.Factory] for kind "slack".
func Factory(cfg connectors.Config) (connectors.Connector, error) { return New(cfg) }

// New builds a connector. Errors wrap connectors.ErrInvalidConfig and name the field.
func New(cfg connectors.Config) (*Connector, error) {
	base, err := cfg.ParsedBaseURL(DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	limit, err := cfg.ResponseLimit()
	if err != nil {
		return nil, err
	}
	c := &Connector{name: cfg.Name, base: base, client: cfg.Client(), limit: limit, userAgent: cfg.UserAgent, now: cfg.Clock()}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if err := cfg.DecodeAuth(&c.auth); err != nil {
		return nil, err
	}
	if err := cfg.DecodeOptions(&c.opts); err != nil {
		return nil, err
	}
	if c.auth.BotToken == "" && c.auth.WebhookURL == "" {
		return nil, fmt.Errorf("%w: auth.bot_token or auth.webhook_url is required", connectors.ErrInvalidConfig)
	}
	if c.auth.WebhookURL != "" {
		if c.webhook, err = connectors.ParseBaseURL(c.auth.WebhookURL); err != nil {
			// Do not echo the URL: it is a credential.
			return nil, fmt.Errorf("%w: auth.webhook_url must be an absolute http(s) URL", connectors.ErrInvalidConfig)
		}
	}
	switch c.opts.DefaultOperation {
	case "":
		c.opts.DefaultOperation = OpPostMessage
		if c.auth.BotToken == "" {
			c.opts.DefaultOperation = OpWebhook
		}
	case OpPostMessage, OpUpdate, OpWebhook:
	default:
		return nil, fmt.Errorf("%w: options.default_operation %q is not a slack operation", connectors.ErrInvalidConfig, c.opts.DefaultOperation)
	}
	c.secrets = []string{c.auth.BotToken, c.auth.SigningSecret, c.auth.WebhookURL}
	if !c.webhook.IsZero() {
		if u, err := url.Parse(c.auth.WebhookURL); err == nil && len(u.Path) > 1 {
			c.secrets = append(c.secrets, u.Path)
		}
	}
	return c, nil
}

// Info describes the connector.
func (c *Connector) Info() connectors.Info {
	return connectors.Info{
		Kind: Kind, Name: c.name, BaseURL: c.base.String(), DefaultOperation: c.opts.DefaultOperation,
		Operations: []string{OpPostMessage, OpUpdate, OpConversationsList, OpWebhook},
	}
}

// Invoke performs one operation; see the package documentation.
func (c *Connector) Invoke(ctx context.Context, r *connectors.Request) (*connectors.Response, error) {
	if r == nil {
		return nil, connectors.BadRequest("slack.invoke", "nil request")
	}
	name := r.Operation
	if name == "" {
		name = c.opts.DefaultOperation
	}
	op := "slack." + name
	var payload messagePayload
	if len(bytes.TrimSpace(r.Body)) > 0 {
		if err := json.Unmarshal(r.Body, &payload); err != nil {
			return nil, connectors.BadRequest(op, "payload must be a JSON object with Slack message or work item fields")
		}
	}
	switch name {
	case OpPostMessage, OpUpdate:
		msg, err := c.message(r, &payload, name == OpUpdate)
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		res, ts, err := c.call(ctx, op, name, msg, r.Header, r.IdempotencyKey)
		if err != nil {
			return nil, err
		}
		return &connectors.Response{StatusCode: res.StatusCode, Header: res.Header, Body: res.Body, RemoteID: ts}, nil
	case OpWebhook:
		return c.postWebhook(ctx, op, r, &payload)
	default:
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown operation %q", name))
	}
}

// messagePayload is the subset of a payload the message operations read: Slack
// message fields, passed through untouched, and the work item fields a summary is
// built from. Other fields are skipped without being decoded.
type messagePayload struct {
	Channel        string          `json:"channel"`
	TS             string          `json:"ts"`
	Text           json.RawMessage `json:"text"`
	Blocks         json.RawMessage `json:"blocks"`
	Attachments    json.RawMessage `json:"attachments"`
	ThreadTS       json.RawMessage `json:"thread_ts"`
	Mrkdwn         json.RawMessage `json:"mrkdwn"`
	UnfurlLinks    json.RawMessage `json:"unfurl_links"`
	UnfurlMedia    json.RawMessage `json:"unfurl_media"`
	ReplyBroadcast json.RawMessage `json:"reply_broadcast"`
	Metadata       json.RawMessage `json:"metadata"`
	IconEmoji      json.RawMessage `json:"icon_emoji"`
	Username       json.RawMessage `json:"username"`
	Title          string          `json:"title"`
	Status         string          `json:"status"`
	Priority       string          `json:"priority"`
	URL            string          `json:"url"`
}

// message is the body of chat.postMessage and chat.update.
type message struct {
	Channel        string          `json:"channel"`
	TS             string          `json:"ts,omitempty"`
	Text           json.RawMessage `json:"text,omitempty"`
	Blocks         json.RawMessage `json:"blocks,omitempty"`
	Attachments    json.RawMessage `json:"attachments,omitempty"`
	ThreadTS       json.RawMessage `json:"thread_ts,omitempty"`
	Mrkdwn         json.RawMessage `json:"mrkdwn,omitempty"`
	UnfurlLinks    json.RawMessage `json:"unfurl_links,omitempty"`
	UnfurlMedia    json.RawMessage `json:"unfurl_media,omitempty"`
	ReplyBroadcast json.RawMessage `json:"reply_broadcast,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	IconEmoji      json.RawMessage `json:"icon_emoji,omitempty"`
	Username       json.RawMessage `json:"username,omitempty"`
}

// message builds a chat.postMessage / chat.update body.
func (c *Connector) message(r *connectors.Request, p *messagePayload, update bool) (*message, error) {
	msg := &message{
		Channel: p.Channel, TS: p.TS, Text: p.Text, Blocks: p.Blocks, Attachments: p.Attachments, ThreadTS: p.ThreadTS,
		Mrkdwn: p.Mrkdwn, UnfurlLinks: p.UnfurlLinks, UnfurlMedia: p.UnfurlMedia, ReplyBroadcast: p.ReplyBroadcast,
		Metadata: p.Metadata, IconEmoji: p.IconEmoji, Username: p.Username,
	}
	if ch := r.Param("channel"); ch != "" {
		msg.Channel = ch
	}
	if msg.Channel == "" {
		msg.Channel = c.opts.Channel
	}
	if msg.Channel == "" {
		return nil, fmt.Errorf("channel is required (params, payload or options)")
	}
	if ts := r.Param("ts"); ts != "" {
		msg.TS = ts
	}
	if update && msg.TS == "" {
		return nil, fmt.Errorf("chat.update needs the message ts (params or payload)")
	}
	if len(msg.Text) == 0 && len(msg.Blocks) == 0 {
		text := p.summary()
		if text == "" {
			return nil, fmt.Errorf("payload has no text, blocks or title to send")
		}
		msg.Text, _ = json.Marshal(text)
	}
	return msg, nil
}

// summary renders a canonical work item as message text: "*title* (status,
// priority) url".
func (p *messagePayload) summary() string {
	if p.Title == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString("*" + p.Title + "*")
	var tags []string
	for _, s := range []string{p.Status, p.Priority} {
		if s != "" {
			tags = append(tags, s)
		}
	}
	if len(tags) > 0 {
		b.WriteString(" (" + strings.Join(tags, ", ") + ")")
	}
	if p.URL != "" {
		b.WriteString(" " + p.URL)
	}
	return b.String()
}

// Check calls auth.test.
func (c *Connector) Check(ctx context.Context) error {
	if c.auth.BotToken == "" {
		return nil // webhook-only: Slack offers no probe for incoming webhooks
	}
	_, _, err := c.call(ctx, "slack.check", "auth.test", struct{}{}, nil, "")
	return err
}

// List pages through conversations.list. ListRequest.Limit maps to limit (default
// DefaultListLimit), Params["types"] to types, and the cursor is Slack's
// response_metadata.next_cursor.
func (c *Connector) List(ctx context.Context, lr *connectors.ListRequest) (*connectors.Page, error) {
	const op = "slack." + OpConversationsList
	if lr == nil {
		return nil, connectors.BadRequest(op, "nil list request")
	}
	if lr.Operation != "" && lr.Operation != OpConversationsList {
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown list operation %q", lr.Operation))
	}
	limit := lr.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	args := map[string]any{"limit": limit}
	if lr.Cursor != "" {
		args["cursor"] = lr.Cursor
	}
	if t := lr.Params["types"]; t != "" {
		args["types"] = t
	}
	if lr.Params["exclude_archived"] == "true" {
		args["exclude_archived"] = true
	}
	res, _, err := c.call(ctx, op, OpConversationsList, args, nil, "")
	if err != nil {
		return nil, err
	}
	var parsed struct {
		Channels []json.RawMessage `json:"channels"`
		Meta     struct {
			NextCursor string `json:"next_cursor"`
		} `json:"response_metadata"`
	}
	if err := json.Unmarshal(res.Body, &parsed); err != nil {
		return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, Message: "unexpected conversations.list shape"}
	}
	if parsed.Channels == nil {
		parsed.Channels = []json.RawMessage{}
	}
	if err := connectors.CheckCursor(op, lr.Cursor, parsed.Meta.NextCursor); err != nil {
		return nil, err
	}
	return &connectors.Page{Items: parsed.Channels, NextCursor: parsed.Meta.NextCursor}, nil
}

// call invokes a Web API method with a JSON body. It returns the result and the
// response's ts, if any.
func (c *Connector) call(ctx context.Context, op, method string, args any, extra http.Header, idemKey string) (*connectors.HTTPResult, string, error) {
	if c.auth.BotToken == "" {
		return nil, "", connectors.BadRequest(op, "auth.bot_token is required for Web API methods")
	}
	body, err := json.Marshal(args)
	if err != nil {
		return nil, "", connectors.BadRequest(op, "cannot encode arguments")
	}
	req, err := connectors.NewJSONRequest(ctx, op, http.MethodPost, c.base.Join("/"+method, nil), body, extra, idemKey, c.userAgent)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.auth.BotToken)
	res, err := connectors.Do(ctx, c.client, op, req, c.limit)
	if err != nil {
		return nil, "", err
	}
	var env struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
		TS    string `json:"ts"`
	}
	jsonErr := json.Unmarshal(res.Body, &env)
	if !res.OK() {
		return nil, "", connectors.StatusError(op, res, env.Error, "", c.now(), c.secrets...)
	}
	if jsonErr != nil {
		return nil, "", &connectors.Error{Class: connectors.ClassTransient, Op: op, StatusCode: res.StatusCode, Message: "response is not JSON", Header: connectors.SafeHeader(res.Header)}
	}
	if !env.OK {
		e := connectors.StatusError(op, res, env.Error, "", c.now(), c.secrets...)
		e.Class = ClassForCode(env.Error)
		return nil, "", e
	}
	return res, env.TS, nil
}

// postWebhook posts to the incoming webhook URL. Slack answers "ok" with 200 and
// plain-text error codes (invalid_payload, channel_not_found, ...) with 4xx/5xx.
func (c *Connector) postWebhook(ctx context.Context, op string, r *connectors.Request, payload *messagePayload) (*connectors.Response, error) {
	if c.webhook.IsZero() {
		return nil, connectors.BadRequest(op, "auth.webhook_url is not configured")
	}
	body := []byte(r.Body) // a Slack message already: sent as is
	if len(payload.Text) == 0 && len(payload.Blocks) == 0 {
		text := payload.summary()
		if text == "" {
			return nil, connectors.BadRequest(op, "payload has no text, blocks or title to send")
		}
		body, _ = json.Marshal(struct {
			Text string `json:"text"`
		}{text})
	}
	req, err := connectors.NewJSONRequest(ctx, op, http.MethodPost, c.webhook.String(), body, r.Header, r.IdempotencyKey, c.userAgent)
	if err != nil {
		return nil, err
	}
	res, err := connectors.Do(ctx, c.client, op, req, c.limit)
	if err != nil {
		return nil, err
	}
	if !res.OK() {
		code := strings.TrimSpace(string(res.Body))
		if len(code) > 64 || strings.ContainsAny(code, " {\n") {
			code = "" // not a bare Slack error code
		}
		return nil, connectors.StatusError(op, res, code, "", c.now(), c.secrets...)
	}
	return &connectors.Response{StatusCode: res.StatusCode, Header: res.Header, Body: res.Body}, nil
}

// ClassForCode classifies a Web API error code from an "ok": false response.
func ClassForCode(code string) connectors.Class {
	switch code {
	case "ratelimited", "rate_limited":
		return connectors.ClassRateLimited
	case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
		"missing_scope", "no_permission", "not_allowed_token_type", "ekm_access_denied",
		"team_access_not_granted", "org_login_required", "two_factor_setup_required":
		return connectors.ClassAuth
	case "internal_error", "fatal_error", "service_unavailable", "request_timeout":
		return connectors.ClassTransient
	default:
		return connectors.ClassPermanent
	}
}

// VerifyWebhook verifies Slack's request signature and replay window (see the
// package documentation) and names the event: the inner event type of an Events
// API callback, the payload type otherwise, or "command:/name" for slash commands.
// Errors wrap connectors.ErrInvalidSignature or connectors.ErrStaleWebhook.
func (c *Connector) VerifyWebhook(header http.Header, body []byte) (*connectors.WebhookEvent, error) {
	return VerifyRequest([]byte(c.auth.SigningSecret), header, body, c.now())
}

// VerifyRequest is VerifyWebhook for callers holding only the signing secret.
func VerifyRequest(secret []byte, header http.Header, body []byte, now time.Time) (*connectors.WebhookEvent, error) {
	tsRaw := header.Get("X-Slack-Request-Timestamp")
	ts, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("slack: %w: X-Slack-Request-Timestamp missing or not a number", connectors.ErrInvalidSignature)
	}
	sigHex, ok := strings.CutPrefix(header.Get("X-Slack-Signature"), "v0=")
	if !ok {
		return nil, fmt.Errorf("slack: %w: X-Slack-Signature missing or not v0=", connectors.ErrInvalidSignature)
	}
	base := make([]byte, 0, len(tsRaw)+len(body)+4)
	base = append(base, "v0:"...)
	base = append(base, tsRaw...)
	base = append(base, ':')
	base = append(base, body...)
	if !connectors.ValidHMACSHA256(secret, base, sigHex) {
		return nil, fmt.Errorf("slack: %w: signature does not match", connectors.ErrInvalidSignature)
	}
	signed := time.Unix(ts, 0).UTC()
	if d := now.Sub(signed); d > ReplayWindow || d < -ReplayWindow {
		return nil, fmt.Errorf("slack: %w: signed %s from now", connectors.ErrStaleWebhook, d.Round(time.Second))
	}
	return &connectors.WebhookEvent{Event: eventName(header, body), Timestamp: signed, Body: body}, nil
}

func eventName(header http.Header, body []byte) string {
	var doc struct {
		Type  string `json:"type"`
		Event struct {
			Type string `json:"type"`
		} `json:"event"`
	}
	if strings.HasPrefix(header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return ""
		}
		if cmd := form.Get("command"); cmd != "" {
			return "command:" + cmd
		}
		if json.Unmarshal([]byte(form.Get("payload")), &doc) == nil {
			return doc.Type
		}
		return ""
	}
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	if doc.Event.Type != "" {
		return doc.Event.Type
	}
	return doc.Type
}

// Interface guards.
var (
	_ connectors.Connector       = (*Connector)(nil)
	_ connectors.Lister          = (*Connector)(nil)
	_ connectors.WebhookVerifier = (*Connector)(nil)
	_ connectors.Factory         = Factory
)
