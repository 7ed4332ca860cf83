package notion

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/internal/restclient"
)

// Kind is the registry kind of this connector.
const Kind = "notion"

// Defaults and documented limits (Notion API "Request limits").
const (
	// DefaultBaseURL is Notion's API root.
	DefaultBaseURL = "https://api.notion.com/v1"
	// DefaultVersion is sent as Notion-Version.
	DefaultVersion = "2022-06-28"
	// DefaultUserAgent is sent when Config.UserAgent is empty.
	DefaultUserAgent = "ehg-hub-notion/1"
	// MaxTextContent is the most characters of one rich text object's text.content.
	MaxTextContent = 2000
	// MaxRichText is the most rich text objects in one array.
	MaxRichText = 100
	// MaxChildren is the most blocks one request may append.
	MaxChildren = 100
	// MaxURL, MaxEmail and MaxPhone bound those property values.
	MaxURL, MaxEmail, MaxPhone = 2000, 200, 200
	// MaxMulti is the most options of a multi-select (and people, relation) value.
	MaxMulti = 100
	// MaxPayloadBytes is the largest request body Notion accepts.
	MaxPayloadBytes = 500 * 1000
	// MaxPageSize is the largest page a database query returns.
	MaxPageSize = 100
)

// Operation names.
const (
	OpCreateRow     = "create_row"
	OpCreatePage    = "create_page"
	OpUpdatePage    = "update_page"
	OpAppendBlocks  = "append_blocks"
	OpQueryDatabase = "query_database"
)

// Property types the mapping converts plain values to.
const (
	TypeTitle       = "title"
	TypeRichText    = "rich_text"
	TypeNumber      = "number"
	TypeSelect      = "select"
	TypeMultiSelect = "multi_select"
	TypeStatus      = "status"
	TypeDate        = "date"
	TypeCheckbox    = "checkbox"
	TypeURL         = "url"
	TypeEmail       = "email"
	TypePhone       = "phone_number"
	TypePeople      = "people"
	TypeRelation    = "relation"
)

// Auth is the credentials document.
type Auth struct {
	// Token is an internal integration secret or a public integration's access token.
	Token string `json:"token"`
	// WebhookVerificationToken verifies X-Notion-Signature on webhook events.
	WebhookVerificationToken string `json:"webhook_verification_token,omitempty"`
}

// Property maps one payload field to one database property.
type Property struct {
	// Type is the property's type (the Type* constants).
	Type string `json:"type"`
	// From is the payload's dotted path holding the value.
	From string `json:"from"`
}

// Options is the settings document.
type Options struct {
	// DatabaseID is the database of create_row and query_database.
	DatabaseID string `json:"database_id,omitempty"`
	// ParentPageID is the parent of create_page.
	ParentPageID string `json:"parent_page_id,omitempty"`
	// NotionVersion is sent as Notion-Version; default DefaultVersion.
	NotionVersion string `json:"notion_version,omitempty"`
	// DefaultOperation is performed when a request names none; default create_row.
	DefaultOperation string `json:"default_operation,omitempty"`
	// Properties maps database property names to payload fields and types.
	Properties map[string]Property `json:"properties,omitempty"`
	// ContentFrom is the payload field whose text becomes the page's paragraphs;
	// default "description".
	ContentFrom string `json:"content_from,omitempty"`
	// WebhookMaxAge, a Go duration, rejects webhook events whose signed "timestamp" is
	// older; Notion signs no timestamp of its own and retries deliveries, so the
	// default is no age check.
	WebhookMaxAge string `json:"webhook_max_age,omitempty"`
}

// Connector talks to the Notion API. It is safe for concurrent use.
type Connector struct {
	name    string
	base    connectors.BaseURL
	auth    Auth
	opts    Options
	maxAge  time.Duration
	now     func() time.Time
	rest    *restclient.Client
	secrets []string
}

// Factory is the [connectors.Factory] for kind "notion".
func Factory(cfg connectors.Config) (connectors.Connector, error) { return New(cfg) }

// New builds a connector; cfg.BaseURL defaults to DefaultBaseURL. Errors wrap
// connectors.ErrInvalidConfig and name the field.
func New(cfg connectors.Config) (*Connector, error) {
	base, err := cfg.ParsedBaseURL(DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	rest, err := restclient.New(cfg, DefaultUserAgent)
	if err != nil {
		return nil, err
	}
	c := &Connector{name: cfg.Name, base: base, now: rest.Now, rest: rest}
	if err := cfg.DecodeAuth(&c.auth); err != nil {
		return nil, err
	}
	if err := cfg.DecodeOptions(&c.opts); err != nil {
		return nil, err
	}
	if c.auth.Token == "" {
		return nil, fmt.Errorf("%w: auth.token is required", connectors.ErrInvalidConfig)
	}
	if c.opts.NotionVersion == "" {
		c.opts.NotionVersion = DefaultVersion
	}
	if c.opts.ContentFrom == "" {
		c.opts.ContentFrom = "description"
	}
	switch c.opts.DefaultOperation {
	case "":
		c.opts.DefaultOperation = OpCreateRow
	case OpCreateRow, OpCreatePage, OpUpdatePage, OpAppendBlocks:
	default:
		return nil, fmt.Errorf("%w: options.default_operation %q is not a notion operation", connectors.ErrInvalidConfig, c.opts.DefaultOperation)
	}
	for name, p := range c.opts.Properties {
		switch p.Type {
		case TypeTitle, TypeRichText, TypeNumber, TypeSelect, TypeMultiSelect, TypeStatus, TypeDate, TypeCheckbox,
			TypeURL, TypeEmail, TypePhone, TypePeople, TypeRelation:
		default:
			return nil, fmt.Errorf("%w: options.properties.%s.type %q is not a supported property type", connectors.ErrInvalidConfig, name, p.Type)
		}
		if p.From == "" {
			return nil, fmt.Errorf("%w: options.properties.%s.from is required", connectors.ErrInvalidConfig, name)
		}
	}
	if c.maxAge, err = restclient.ParseMaxAge("options.webhook_max_age", c.opts.WebhookMaxAge); err != nil {
		return nil, err
	}
	c.secrets = []string{c.auth.Token, c.auth.WebhookVerificationToken}
	rest.Secrets, rest.Classify = c.secrets, c.classify
	rest.Authorize = func(_ context.Context, req *http.Request) (string, error) {
		req.Header.Set("Authorization", "Bearer "+c.auth.Token)
		req.Header.Set("Notion-Version", c.opts.NotionVersion)
		return "", nil
	}
	return c, nil
}

// Info describes the connector.
func (c *Connector) Info() connectors.Info {
	return connectors.Info{Kind: Kind, Name: c.name, BaseURL: c.base.String(), DefaultOperation: c.opts.DefaultOperation,
		Operations: []string{OpAppendBlocks, OpCreatePage, OpCreateRow, OpQueryDatabase, OpUpdatePage}}
}

// textLen counts text the way Notion's limits do (UTF-16 code units, as JavaScript
// strings measure).
func textLen(s string) int { return len(utf16.Encode([]rune(s))) }

// RichText splits s into text rich-text objects of at most [MaxTextContent]
// characters, never inside a character, and fails when more than [MaxRichText] would
// be needed.
func RichText(s string) ([]any, error) {
	var out []any
	for s != "" {
		n, units := 0, 0
		for n < len(s) {
			r, size := utf8.DecodeRuneInString(s[n:])
			u := 1
			if r > 0xFFFF {
				u = 2
			}
			if units+u > MaxTextContent {
				break
			}
			units += u
			n += size
		}
		out = append(out, map[string]any{"type": "text", "text": map[string]any{"content": s[:n]}})
		s = s[n:]
	}
	if len(out) > MaxRichText {
		return nil, fmt.Errorf("text needs %d rich text objects of %d characters; Notion accepts %d", len(out), MaxTextContent, MaxRichText)
	}
	if out == nil {
		out = []any{}
	}
	return out, nil
}

// paragraphs turns text into paragraph blocks, one per blank-line-separated paragraph.
func paragraphs(text string) ([]any, error) {
	var blocks []any
	for p := range strings.SplitSeq(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		rt, err := RichText(p)
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, map[string]any{"object": "block", "type": "paragraph", "paragraph": map[string]any{"rich_text": rt}})
	}
	if len(blocks) > MaxChildren {
		return nil, fmt.Errorf("content has %d paragraphs; Notion accepts %d blocks per request", len(blocks), MaxChildren)
	}
	return blocks, nil
}

// lookup returns the value at a dotted path of doc.
func lookup(doc map[string]any, path string) (any, bool) {
	var cur any = doc
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, cur != nil
}

func asString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		if t {
			return "true"
		}
		return "false"
	default:
		return ""
	}
}

func asStrings(v any) []string {
	switch t := v.(type) {
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			if s := asString(x); s != "" {
				out = append(out, s)
			}
		}
		return out
	case string:
		var out []string
		for s := range strings.SplitSeq(t, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// PropertyValue converts a plain value to a Notion property value of type typ,
// enforcing Notion's limits: text split into 2000-character rich text objects (at
// most 100), URLs up to 2000 characters, emails and phone numbers up to 200, up to 100
// multi-select options, people or relations; select and multi-select names may not
// contain commas. Dates take RFC 3339 times or YYYY-MM-DD dates.
func PropertyValue(typ string, v any) (any, error) {
	s := asString(v)
	switch typ {
	case TypeTitle, TypeRichText:
		rt, err := RichText(s)
		if err != nil {
			return nil, err
		}
		return map[string]any{typ: rt}, nil
	case TypeNumber:
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("number property needs a number, not %T", v)
		}
		return map[string]any{"number": n}, nil
	case TypeSelect, TypeStatus:
		if s == "" || (typ == TypeSelect && strings.Contains(s, ",")) {
			return nil, fmt.Errorf("%s needs a name without commas", typ)
		}
		return map[string]any{typ: map[string]any{"name": s}}, nil
	case TypeMultiSelect:
		names := asStrings(v)
		if len(names) > MaxMulti {
			return nil, fmt.Errorf("multi_select has %d options; Notion accepts %d", len(names), MaxMulti)
		}
		opts := make([]any, len(names))
		for i, n := range names {
			opts[i] = map[string]any{"name": n}
		}
		return map[string]any{"multi_select": opts}, nil
	case TypeDate:
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			if _, err := time.Parse(time.DateOnly, s); err != nil {
				return nil, fmt.Errorf("date needs an RFC 3339 time or a YYYY-MM-DD date")
			}
		}
		return map[string]any{"date": map[string]any{"start": s}}, nil
	case TypeCheckbox:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("checkbox needs true or false")
		}
		return map[string]any{"checkbox": b}, nil
	case TypeURL, TypeEmail, TypePhone:
		limit := map[string]int{TypeURL: MaxURL, TypeEmail: MaxEmail, TypePhone: MaxPhone}[typ]
		if n := textLen(s); n > limit {
			return nil, fmt.Errorf("%s is %d characters; Notion accepts %d", typ, n, limit)
		}
		return map[string]any{typ: s}, nil
	case TypePeople, TypeRelation:
		ids := asStrings(v)
		if len(ids) > MaxMulti {
			return nil, fmt.Errorf("%s has %d entries; Notion accepts %d", typ, len(ids), MaxMulti)
		}
		refs := make([]any, len(ids))
		for i, id := range ids {
			if typ == TypePeople {
				refs[i] = map[string]any{"object": "user", "id": id}
			} else {
				refs[i] = map[string]any{"id": id}
			}
		}
		return map[string]any{typ: refs}, nil
	}
	return nil, fmt.Errorf("unsupported property type %q", typ)
}

// properties maps the payload through options.properties, then lays the payload's own
// "properties" (Notion's shape) over the result.
func (c *Connector) properties(doc map[string]any) (map[string]any, error) {
	out := map[string]any{}
	names := make([]string, 0, len(c.opts.Properties))
	for name := range c.opts.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := c.opts.Properties[name]
		v, ok := lookup(doc, p.From)
		if !ok {
			continue
		}
		val, err := PropertyValue(p.Type, v)
		if err != nil {
			return nil, fmt.Errorf("property %q: %w", name, err)
		}
		out[name] = val
	}
	if own, ok := doc["properties"].(map[string]any); ok {
		for k, v := range own {
			out[k] = v
		}
	}
	return out, nil
}

// Invoke performs one operation; see the package documentation.
func (c *Connector) Invoke(ctx context.Context, r *connectors.Request) (*connectors.Response, error) {
	if r == nil {
		return nil, connectors.BadRequest("notion.invoke", "nil request")
	}
	name := r.Operation
	if name == "" {
		name = c.opts.DefaultOperation
	}
	op := "notion." + name
	doc := map[string]any{}
	if len(bytes.TrimSpace(r.Body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(r.Body))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil || doc == nil {
			return nil, connectors.BadRequest(op, "payload must be a JSON object")
		}
	}
	content := func() ([]any, error) {
		if v, ok := doc["children"].([]any); ok {
			if len(v) > MaxChildren {
				return nil, fmt.Errorf("children has %d blocks; Notion accepts %d per request", len(v), MaxChildren)
			}
			return v, nil
		}
		text, _ := lookup(doc, c.opts.ContentFrom)
		return paragraphs(asString(text))
	}
	pageID := func() (string, error) {
		id := restclient.FirstNonEmpty(r.Param("page_id"), r.Param("block_id"), asString(doc["id"]))
		if id == "" || strings.ContainsAny(id, "/?#") {
			return "", fmt.Errorf("%s needs a page or block id (params.page_id or payload id)", name)
		}
		return id, nil
	}
	var (
		method, path string
		body         map[string]any
	)
	switch name {
	case OpCreateRow, OpCreatePage:
		props, err := c.properties(doc)
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		children, err := content()
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		var parent map[string]any
		if name == OpCreateRow {
			db := restclient.FirstNonEmpty(r.Param("database_id"), c.opts.DatabaseID)
			if db == "" {
				return nil, connectors.BadRequest(op, "create_row needs a database (params.database_id or options.database_id)")
			}
			parent = map[string]any{"database_id": db}
		} else {
			pg := restclient.FirstNonEmpty(r.Param("parent_page_id"), c.opts.ParentPageID)
			if pg == "" {
				return nil, connectors.BadRequest(op, "create_page needs a parent (params.parent_page_id or options.parent_page_id)")
			}
			parent = map[string]any{"page_id": pg}
			if _, ok := props["title"]; !ok {
				title, _ := lookup(doc, "title")
				rt, err := RichText(asString(title))
				if err != nil {
					return nil, connectors.BadRequest(op, "title: "+err.Error())
				}
				props = map[string]any{"title": map[string]any{"title": rt}}
			}
		}
		if len(props) == 0 {
			return nil, connectors.BadRequest(op, "payload maps to no properties (options.properties or payload properties)")
		}
		method, path, body = http.MethodPost, "/pages", map[string]any{"parent": parent, "properties": props}
		if len(children) > 0 {
			body["children"] = children
		}
	case OpUpdatePage:
		id, err := pageID()
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		props, err := c.properties(doc)
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		body = map[string]any{"properties": props}
		if v, ok := doc["archived"].(bool); ok {
			body["archived"] = v
		}
		method, path = http.MethodPatch, "/pages/"+url.PathEscape(id)
	case OpAppendBlocks:
		id, err := pageID()
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		children, err := content()
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		if len(children) == 0 {
			return nil, connectors.BadRequest(op, "append_blocks needs children or content text")
		}
		method, path, body = http.MethodPatch, "/blocks/"+url.PathEscape(id)+"/children", map[string]any{"children": children}
	default:
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown operation %q", name))
	}
	encoded, err := json.Marshal(body)
	if err != nil {
		return nil, connectors.BadRequest(op, "cannot encode request body")
	}
	if len(encoded) > MaxPayloadBytes {
		return nil, connectors.BadRequest(op, fmt.Sprintf("request is %d bytes; Notion accepts %d", len(encoded), MaxPayloadBytes))
	}
	res, err := c.rest.Do(ctx, &restclient.Call{Op: op, Method: method, URL: c.base.Join(path, r.Query), Body: encoded,
		Header: r.Header, IdempotencyKey: r.IdempotencyKey})
	if err != nil {
		return nil, err
	}
	resp := &connectors.Response{StatusCode: res.StatusCode, Header: res.Header, Body: res.Body}
	var out struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(res.Body, &out) == nil {
		resp.RemoteID = out.ID
	}
	return resp, nil
}

// List queries the database (params.database_id or options) page by page with
// Notion's start_cursor / next_cursor, oldest edit first; ListRequest.Since filters on
// last_edited_time on or after it, and Limit is page_size (at most 100).
func (c *Connector) List(ctx context.Context, lr *connectors.ListRequest) (*connectors.Page, error) {
	const op = "notion." + OpQueryDatabase
	if lr == nil {
		return nil, connectors.BadRequest(op, "nil list request")
	}
	if lr.Operation != "" && lr.Operation != OpQueryDatabase {
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown list operation %q", lr.Operation))
	}
	db := restclient.FirstNonEmpty(lr.Params["database_id"], c.opts.DatabaseID)
	if db == "" || strings.ContainsAny(db, "/?#") {
		return nil, connectors.BadRequest(op, "query_database needs a database (params.database_id or options.database_id)")
	}
	size := lr.Limit
	if size <= 0 || size > MaxPageSize {
		size = MaxPageSize
	}
	q := map[string]any{"page_size": size, "sorts": []any{map[string]any{"timestamp": "last_edited_time", "direction": "ascending"}}}
	if lr.Cursor != "" {
		q["start_cursor"] = lr.Cursor
	}
	if !lr.Since.IsZero() {
		q["filter"] = map[string]any{"timestamp": "last_edited_time", "last_edited_time": map[string]any{"on_or_after": lr.Since.UTC().Format(time.RFC3339)}}
	}
	body, err := json.Marshal(q)
	if err != nil {
		return nil, connectors.BadRequest(op, "cannot encode query")
	}
	res, err := c.rest.Do(ctx, &restclient.Call{Op: op, Method: http.MethodPost, URL: c.base.Join("/databases/"+url.PathEscape(db)+"/query", nil), Body: body})
	if err != nil {
		return nil, err
	}
	var doc struct {
		Results    []json.RawMessage `json:"results"`
		NextCursor *string           `json:"next_cursor"`
		HasMore    bool              `json:"has_more"`
	}
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode, Message: "query response is not JSON"}
	}
	next := ""
	if doc.HasMore && doc.NextCursor != nil {
		next = *doc.NextCursor
	}
	if err := connectors.CheckCursor(op, lr.Cursor, next); err != nil {
		return nil, err
	}
	if doc.Results == nil {
		doc.Results = []json.RawMessage{}
	}
	return &connectors.Page{Items: doc.Results, NextCursor: next}, nil
}

// Check calls GET /v1/users/me, the integration's bot user.
func (c *Connector) Check(ctx context.Context) error {
	_, err := c.rest.Do(ctx, &restclient.Call{Op: "notion.check", Method: http.MethodGet, URL: c.base.Join("/users/me", nil)})
	return err
}

// ClassForCode classifies Notion's error codes: rate_limited is rate-limited;
// unauthorized and restricted_resource are auth failures; conflict_error,
// internal_server_error, service_unavailable, database_connection_unavailable and
// gateway_timeout are transient; validation_error, invalid_json,
// invalid_request_url, invalid_request, missing_version and object_not_found are
// permanent. ok is false for other codes.
func ClassForCode(code string) (connectors.Class, bool) {
	switch code {
	case "rate_limited":
		return connectors.ClassRateLimited, true
	case "unauthorized", "restricted_resource":
		return connectors.ClassAuth, true
	case "conflict_error", "internal_server_error", "service_unavailable", "database_connection_unavailable", "gateway_timeout":
		return connectors.ClassTransient, true
	case "validation_error", "invalid_json", "invalid_request_url", "invalid_request", "missing_version", "object_not_found":
		return connectors.ClassPermanent, true
	}
	return 0, false
}

// classify maps Notion's {"object": "error", "status", "code", "message"}: the code
// decides the class when Notion documents it ([ClassForCode]), else the status; a
// rate-limited answer waits Retry-After and closes the gate until then.
func (c *Connector) classify(op string, res *connectors.HTTPResult) *connectors.Error {
	var doc struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(res.Body, &doc)
	now := c.now()
	e := connectors.StatusError(op, res, doc.Code, doc.Message, now, c.secrets...)
	if cl, ok := ClassForCode(doc.Code); ok {
		e.Class = cl
	}
	if e.Class == connectors.ClassRateLimited && e.RetryDelay > 0 {
		c.rest.Gate.Block(restclient.GlobalKey, now.Add(e.RetryDelay))
	}
	return e
}

// VerifyWebhook checks a webhook event's X-Notion-Signature ("sha256=" + hex
// HMAC-SHA256 of the raw body under the verification token), in constant time. With
// options.webhook_max_age, the event's signed "timestamp" must be that recent. The
// event is the body's type ("page.created", ...), the delivery id its id. Errors wrap
// connectors.ErrInvalidSignature or connectors.ErrStaleWebhook; without a
// verification token every event is rejected.
func (c *Connector) VerifyWebhook(header http.Header, body []byte) (*connectors.WebhookEvent, error) {
	hexSig, ok := strings.CutPrefix(header.Get("X-Notion-Signature"), "sha256=")
	if !ok || !connectors.ValidHMACSHA256([]byte(c.auth.WebhookVerificationToken), body, hexSig) {
		return nil, fmt.Errorf("notion: %w: X-Notion-Signature missing or does not match", connectors.ErrInvalidSignature)
	}
	var doc struct {
		ID        string    `json:"id"`
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
	}
	_ = json.Unmarshal(body, &doc)
	if c.maxAge > 0 {
		if d := c.now().Sub(doc.Timestamp); doc.Timestamp.IsZero() || d > c.maxAge || d < -c.maxAge {
			return nil, fmt.Errorf("notion: %w: event timestamp outside %s", connectors.ErrStaleWebhook, c.maxAge)
		}
	}
	return &connectors.WebhookEvent{Event: doc.Type, DeliveryID: doc.ID, Timestamp: doc.Timestamp, Body: body}, nil
}

// Interface guards.
var (
	_ connectors.Connector       = (*Connector)(nil)
	_ connectors.Lister          = (*Connector)(nil)
	_ connectors.WebhookVerifier = (*Connector)(nil)
	_ connectors.Factory         = Factory
)
