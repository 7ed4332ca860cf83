package teams

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/internal/restclient"
)

// Kind is the registry kind of this connector.
const Kind = "teams"

// Defaults and documented limits.
const (
	// DefaultUserAgent is sent when Config.UserAgent is empty.
	DefaultUserAgent = "ehg-hub-teams/1"
	// MaxMessageBytes is the largest message Teams accepts (28 KB).
	MaxMessageBytes = 28 * 1024
	// AdaptiveCardVersion is the card schema version of cards built from work items.
	AdaptiveCardVersion = "1.4"
	// DefaultThrottleWait is the wait after a 429 that names none: connectors are
	// throttled in fixed one-second windows.
	DefaultThrottleWait = time.Second
	// AdaptiveCardContentType is the attachment content type of an Adaptive Card.
	AdaptiveCardContentType = "application/vnd.microsoft.card.adaptive"
	// DefaultGraphBaseURL is the Microsoft Graph v1.0 root.
	DefaultGraphBaseURL = "https://graph.microsoft.com/v1.0"
	// MaxListTop is the most channel messages Graph returns per page ($top).
	MaxListTop = 50
)

// OpPost is the only operation: post a message to the webhook.
const OpPost = "post"

// Auth is the credentials document.
type Auth struct {
	// WebhookURL is the Workflows ("When a Teams webhook request is received") or
	// incoming-webhook URL. Its path and query are credentials. Default: base_url.
	WebhookURL string `json:"webhook_url,omitempty"`
	// SecurityToken is an outgoing webhook's HMAC security token (base64), which
	// verifies requests Teams sends.
	SecurityToken string `json:"security_token,omitempty"`
	// GraphToken is a Microsoft Graph access token with ChannelMessage.Read.All (or
	// ChannelMessage.Read.Group), which List uses to read a channel's messages. A
	// webhook cannot read its channel.
	GraphToken string `json:"graph_token,omitempty"`
}

// Options is the settings document.
type Options struct {
	// WebhookMaxAge, a Go duration ("5m"), rejects outgoing-webhook requests whose
	// activity timestamp is older; Teams signs no timestamp of its own. Default: no
	// age check.
	WebhookMaxAge string `json:"webhook_max_age,omitempty"`
	// GraphBaseURL is the Microsoft Graph root List calls; default DefaultGraphBaseURL.
	GraphBaseURL string `json:"graph_base_url,omitempty"`
	// TeamID and ChannelID name the channel List reads (params team_id and channel_id
	// override them).
	TeamID    string `json:"team_id,omitempty"`
	ChannelID string `json:"channel_id,omitempty"`
}

// Connector posts Adaptive Cards to a Teams webhook. It is safe for concurrent use.
type Connector struct {
	name    string
	target  connectors.BaseURL
	query   url.Values // a Workflows URL's query (api-version, sp, sv, sig)
	origin  string
	key     []byte
	maxAge  time.Duration
	now     func() time.Time
	rest    *restclient.Client
	secrets []string

	graph     connectors.BaseURL // zero without auth.graph_token
	graphRest *restclient.Client // its own gate: Graph throttling never holds back posts
	opts      Options
}

// Factory is the [connectors.Factory] for kind "teams".
func Factory(cfg connectors.Config) (connectors.Connector, error) { return New(cfg) }

// New builds a connector. Errors wrap connectors.ErrInvalidConfig and name the field,
// never the webhook URL.
func New(cfg connectors.Config) (*Connector, error) {
	var auth Auth
	var opts Options
	if err := cfg.DecodeAuth(&auth); err != nil {
		return nil, err
	}
	if err := cfg.DecodeOptions(&opts); err != nil {
		return nil, err
	}
	raw := auth.WebhookURL
	if raw == "" {
		raw = cfg.BaseURL
	}
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%w: auth.webhook_url (or base_url) must be the absolute http(s) URL of the webhook", connectors.ErrInvalidConfig)
	}
	// The query of a Workflows URL holds its signature (sig=...); keep it apart from
	// the path so BaseURL accepts the rest.
	query := u.Query()
	u.RawQuery, u.Fragment = "", ""
	target, err := connectors.ParseBaseURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("%w: auth.webhook_url is not a usable URL", connectors.ErrInvalidConfig)
	}
	rest, err := restclient.New(cfg, DefaultUserAgent)
	if err != nil {
		return nil, err
	}
	c := &Connector{name: cfg.Name, target: target, origin: u.Scheme + "://" + u.Host, now: rest.Now, rest: rest}
	if auth.SecurityToken != "" {
		if c.key, err = base64.StdEncoding.DecodeString(auth.SecurityToken); err != nil || len(c.key) == 0 {
			return nil, fmt.Errorf("%w: auth.security_token must be the base64 token Teams issued", connectors.ErrInvalidConfig)
		}
	}
	if c.maxAge, err = restclient.ParseMaxAge("options.webhook_max_age", opts.WebhookMaxAge); err != nil {
		return nil, err
	}
	c.secrets = []string{raw, auth.SecurityToken}
	if len(u.Path) > 1 {
		c.secrets = append(c.secrets, u.Path)
	}
	for _, vs := range query {
		c.secrets = append(c.secrets, vs...)
	}
	rest.Classify = c.classify
	c.query = query
	c.opts = opts
	if auth.GraphToken != "" {
		if c.graph, err = connectors.ParseBaseURL(restclient.FirstNonEmpty(opts.GraphBaseURL, DefaultGraphBaseURL)); err != nil {
			return nil, fmt.Errorf("%w: options.graph_base_url must be an absolute http(s) URL", connectors.ErrInvalidConfig)
		}
		if c.graphRest, err = restclient.New(cfg, DefaultUserAgent); err != nil {
			return nil, err
		}
		c.secrets = append(c.secrets, auth.GraphToken)
		c.graphRest.Secrets = c.secrets
		c.graphRest.Authorize = func(_ context.Context, req *http.Request) (string, error) {
			req.Header.Set("Authorization", "Bearer "+auth.GraphToken)
			return "", nil
		}
		c.graphRest.Classify = c.classifyGraph
	}
	return c, nil
}

// List reads a channel's messages through Microsoft Graph (docs "List channel
// messages": GET /teams/{team-id}/channels/{channel-id}/messages?$top=50), with
// auth.graph_token. The team and channel are params team_id and channel_id, else the
// options. The cursor is the page's @odata.nextLink, followed only on the Graph host
// (the token never goes elsewhere); a page without one is the last. Graph cannot
// filter channel messages, so Since keeps the messages whose lastModifiedDateTime (or
// createdDateTime) is at or after it and reads every page. Throttling (docs
// "Microsoft Graph throttling guidance"): a 429, or a 503 with Retry-After, holds
// every further Graph request back until Retry-After has passed; the error body
// {"error": {"code", "message"}} gives the code (InvalidAuthenticationToken, 401, and
// Forbidden, 403, are auth failures; NotFound and other 4xx permanent; 5xx transient).
func (c *Connector) List(ctx context.Context, r *connectors.ListRequest) (*connectors.Page, error) {
	const op = "teams.list_messages"
	if r == nil {
		return nil, connectors.BadRequest(op, "nil request")
	}
	if r.Operation != "" && r.Operation != "list_messages" {
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown list operation %q", r.Operation))
	}
	if c.graphRest == nil {
		return nil, connectors.BadRequest(op, "listing a channel needs auth.graph_token (a webhook cannot read its channel)")
	}
	var target string
	if r.Cursor != "" {
		next, err := c.graph.Resolve(r.Cursor)
		if err != nil || !strings.HasPrefix(next, c.graph.String()+"/") {
			return nil, connectors.BadRequest(op, "the cursor is not a Microsoft Graph nextLink")
		}
		target = next
	} else {
		team := restclient.FirstNonEmpty(r.Params["team_id"], c.opts.TeamID)
		channel := restclient.FirstNonEmpty(r.Params["channel_id"], c.opts.ChannelID)
		if team == "" || channel == "" {
			return nil, connectors.BadRequest(op, "list_messages needs team_id and channel_id (params or options)")
		}
		top := r.Limit
		if top <= 0 || top > MaxListTop {
			top = MaxListTop
		}
		target = c.graph.Join("/teams/"+url.PathEscape(team)+"/channels/"+url.PathEscape(channel)+"/messages",
			url.Values{"$top": {strconv.Itoa(top)}})
	}
	res, err := c.graphRest.Do(ctx, &restclient.Call{Op: op, Method: http.MethodGet, URL: target})
	if err != nil {
		return nil, err
	}
	var doc struct {
		Value    []json.RawMessage `json:"value"`
		NextLink string            `json:"@odata.nextLink"`
	}
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode, Err: fmt.Errorf("teams: the messages page is not Graph JSON: %w", err)}
	}
	page := &connectors.Page{Items: make([]json.RawMessage, 0, len(doc.Value)), NextCursor: doc.NextLink}
	for _, m := range doc.Value {
		if !r.Since.IsZero() {
			var t struct {
				Modified *time.Time `json:"lastModifiedDateTime"`
				Created  *time.Time `json:"createdDateTime"`
			}
			_ = json.Unmarshal(m, &t)
			at := t.Modified
			if at == nil {
				at = t.Created
			}
			if at != nil && at.Before(r.Since) {
				continue
			}
		}
		page.Items = append(page.Items, m)
	}
	if err := connectors.CheckCursor(op, r.Cursor, page.NextCursor); err != nil {
		return nil, err
	}
	return page, nil
}

// CanList implements connectors.ConfiguredLister: only a Graph token reads a channel.
func (c *Connector) CanList() bool { return c.graphRest != nil }

// classifyGraph maps a failed Graph call to a class; a 429 (or a 503 with
// Retry-After) closes the Graph gate until Retry-After, else for DefaultThrottleWait.
func (c *Connector) classifyGraph(op string, res *connectors.HTTPResult) *connectors.Error {
	var doc struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(res.Body, &doc)
	now := c.now()
	e := connectors.StatusError(op, res, doc.Error.Code, doc.Error.Message, now, c.secrets...)
	if e.Class == connectors.ClassRateLimited || (res.StatusCode == http.StatusServiceUnavailable && e.RetryDelay > 0) {
		if e.RetryDelay == 0 {
			e.RetryDelay = DefaultThrottleWait
		}
		c.graphRest.Gate.Block(restclient.GlobalKey, now.Add(e.RetryDelay))
	}
	return e
}

// Info describes the connector. BaseURL is the webhook's origin only: its path is a
// credential.
func (c *Connector) Info() connectors.Info {
	return connectors.Info{Kind: Kind, Name: c.name, BaseURL: c.origin, DefaultOperation: OpPost, Operations: []string{OpPost}}
}

// workItem is the canonical work item a card is built from.
type workItem struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Text        string `json:"text"`
	Status      string `json:"status"`
	Priority    string `json:"priority"`
	URL         string `json:"url"`
}

// message builds the webhook body from the payload: a Teams message
// ({"type": "message", "attachments": [...]}) as it is; an Adaptive Card
// ({"type": "AdaptiveCard", ...}) wrapped in a message; otherwise a card made from a
// work item (title, description or text, status and priority facts, an "Open" action
// for url).
func message(body json.RawMessage) ([]byte, error) {
	var probe struct {
		Type        string          `json:"type"`
		Attachments json.RawMessage `json:"attachments"`
	}
	if len(bytes.TrimSpace(body)) == 0 || json.Unmarshal(body, &probe) != nil {
		return nil, fmt.Errorf("payload must be a JSON object: a Teams message, an Adaptive Card or a work item")
	}
	var card any
	switch {
	case probe.Type == "message" || len(probe.Attachments) > 0:
		return body, nil
	case probe.Type == "AdaptiveCard":
		card = json.RawMessage(body)
	default:
		var w workItem
		_ = json.Unmarshal(body, &w)
		if w.Title == "" && w.Text == "" {
			return nil, fmt.Errorf("payload has no message, card, title or text to post")
		}
		items := []any{}
		if w.Title != "" {
			items = append(items, map[string]any{"type": "TextBlock", "text": w.Title, "size": "Large", "weight": "Bolder", "wrap": true})
		}
		for _, t := range []string{w.Description, w.Text} {
			if t != "" {
				items = append(items, map[string]any{"type": "TextBlock", "text": t, "wrap": true})
			}
		}
		var facts []any
		for _, f := range [][2]string{{"Status", w.Status}, {"Priority", w.Priority}} {
			if f[1] != "" {
				facts = append(facts, map[string]any{"title": f[0], "value": f[1]})
			}
		}
		if len(facts) > 0 {
			items = append(items, map[string]any{"type": "FactSet", "facts": facts})
		}
		doc := map[string]any{"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
			"version": AdaptiveCardVersion, "body": items}
		if w.URL != "" {
			doc["actions"] = []any{map[string]any{"type": "Action.OpenUrl", "title": "Open", "url": w.URL}}
		}
		card = doc
	}
	return json.Marshal(map[string]any{"type": "message", "attachments": []any{
		map[string]any{"contentType": AdaptiveCardContentType, "contentUrl": nil, "content": card}}})
}

// Invoke posts the payload to the webhook; see the package documentation.
func (c *Connector) Invoke(ctx context.Context, r *connectors.Request) (*connectors.Response, error) {
	if r == nil {
		return nil, connectors.BadRequest("teams.invoke", "nil request")
	}
	op := "teams." + OpPost
	if r.Operation != "" && r.Operation != OpPost {
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown operation %q", r.Operation))
	}
	body, err := message(r.Body)
	if err != nil {
		return nil, connectors.BadRequest(op, err.Error())
	}
	if len(body) > MaxMessageBytes {
		return nil, connectors.BadRequest(op, fmt.Sprintf("message is %d bytes; Teams accepts at most %d", len(body), MaxMessageBytes))
	}
	res, err := c.rest.Do(ctx, &restclient.Call{Op: op, Method: http.MethodPost, URL: c.target.Join("", c.query), Body: body,
		Header: r.Header, IdempotencyKey: r.IdempotencyKey})
	if err != nil {
		return nil, err
	}
	// Legacy incoming webhooks answer 200 even when delivery to Teams failed, with the
	// failure in the body ("... returned HTTP error 429 ...").
	if status, ok := embeddedStatus(res.Body); ok {
		return nil, c.classify(op, &connectors.HTTPResult{StatusCode: status, Header: res.Header, Body: res.Body})
	}
	return &connectors.Response{StatusCode: res.StatusCode, Header: res.Header, Body: res.Body}, nil
}

var embeddedRe = regexp.MustCompile(`returned HTTP error (\d{3})`)

// embeddedStatus finds the status of a failure reported in a 200 response body.
func embeddedStatus(body []byte) (int, bool) {
	if len(body) == 0 || len(body) > 4096 {
		return 0, false
	}
	m := embeddedRe.FindSubmatch(body)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(string(m[1]))
	return n, err == nil && n >= 400
}

// Check probes the webhook URL with GET, which neither kind of webhook serves: an
// answer of 2xx, 400 or 405 shows the URL reachable and its endpoint present; 404 and
// 410 mean the webhook was removed (permanent), 401 and 403 that its signature is no
// longer accepted (auth); 429 and 5xx classify as usual. Nothing is posted.
func (c *Connector) Check(ctx context.Context) error {
	const op = "teams.check"
	_, err := c.rest.Do(ctx, &restclient.Call{Op: op, Method: http.MethodGet, URL: c.target.Join("", c.query)})
	var ce *connectors.Error
	if errors.As(err, &ce) && (ce.StatusCode == http.StatusBadRequest || ce.StatusCode == http.StatusMethodNotAllowed) {
		return nil
	}
	return err
}

// classify maps a failed post to a class: 429 is rate-limited for Retry-After (else
// one second, the fixed window connectors are throttled in) and closes the gate until
// then; 413 (message over 28 KB) and other 4xx are permanent, 401 and 403 auth, 5xx
// transient. The code is the Workflows error code ({"error": {"code", "message"}})
// when the body has one.
func (c *Connector) classify(op string, res *connectors.HTTPResult) *connectors.Error {
	var doc struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := ""
	if json.Unmarshal(res.Body, &doc) == nil {
		msg = doc.Error.Message
	} else if len(res.Body) <= 512 {
		msg = strings.TrimSpace(string(res.Body))
	}
	now := c.now()
	e := connectors.StatusError(op, res, doc.Error.Code, msg, now, c.secrets...)
	if e.Class == connectors.ClassRateLimited {
		if e.RetryDelay == 0 {
			e.RetryDelay = DefaultThrottleWait
		}
		c.rest.Gate.Block(restclient.GlobalKey, now.Add(e.RetryDelay))
	}
	return e
}

// VerifyWebhook verifies a request of an outgoing webhook with its security token.
// See [VerifyOutgoing].
func (c *Connector) VerifyWebhook(header http.Header, body []byte) (*connectors.WebhookEvent, error) {
	return VerifyOutgoing(c.key, header, body, c.maxAge, c.now())
}

// SignOutgoing returns the Authorization value Teams sends with an outgoing-webhook
// request: "HMAC " + base64(HMAC-SHA256(key, body)), key being the decoded security
// token. Fakes and tests use it.
func SignOutgoing(key, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return "HMAC " + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// VerifyOutgoing checks an outgoing-webhook request (Teams docs "Create Outgoing
// Webhooks", "Verify the outgoing webhook HMAC token"): the Authorization header must
// equal [SignOutgoing] of the raw body under key, compared in constant time. With
// maxAge > 0, an activity whose "timestamp" is older than maxAge (or more than maxAge
// ahead) is stale. The event is the activity type and the delivery id its id. Errors
// wrap connectors.ErrInvalidSignature or connectors.ErrStaleWebhook; an empty key
// rejects everything.
func VerifyOutgoing(key []byte, header http.Header, body []byte, maxAge time.Duration, now time.Time) (*connectors.WebhookEvent, error) {
	if len(key) == 0 {
		return nil, fmt.Errorf("teams: %w: no security token configured", connectors.ErrInvalidSignature)
	}
	if !hmac.Equal([]byte(header.Get("Authorization")), []byte(SignOutgoing(key, body))) {
		return nil, fmt.Errorf("teams: %w: Authorization HMAC missing or does not match the body", connectors.ErrInvalidSignature)
	}
	var doc struct {
		Type      string    `json:"type"`
		ID        string    `json:"id"`
		Timestamp time.Time `json:"timestamp"`
	}
	_ = json.Unmarshal(body, &doc)
	if maxAge > 0 {
		if doc.Timestamp.IsZero() {
			return nil, fmt.Errorf("teams: %w: activity has no timestamp to check its age", connectors.ErrStaleWebhook)
		}
		if d := now.Sub(doc.Timestamp); d > maxAge || d < -maxAge {
			return nil, fmt.Errorf("teams: %w: activity timestamp is %s from now", connectors.ErrStaleWebhook, d.Round(time.Second))
		}
	}
	return &connectors.WebhookEvent{Event: doc.Type, DeliveryID: doc.ID, Timestamp: doc.Timestamp, Body: body}, nil
}

// Interface guards.
var (
	_ connectors.Connector        = (*Connector)(nil)
	_ connectors.Lister           = (*Connector)(nil)
	_ connectors.ConfiguredLister = (*Connector)(nil)
	_ connectors.WebhookVerifier  = (*Connector)(nil)
	_ connectors.Factory          = Factory
)
