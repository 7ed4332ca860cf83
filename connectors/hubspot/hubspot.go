package hubspot

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/internal/restclient"
)

// Kind is the registry kind of this connector.
const Kind = "hubspot"

// Defaults and documented limits.
const (
	// DefaultBaseURL is HubSpot's API root.
	DefaultBaseURL = "https://api.hubapi.com"
	// DefaultAuthURL is HubSpot's OAuth authorization page.
	DefaultAuthURL = "https://app.hubspot.com/oauth/authorize"
	// DefaultTokenPath is the OAuth token endpoint under the base URL.
	DefaultTokenPath = "/oauth/v1/token"
	// DefaultUserAgent is sent when Config.UserAgent is empty.
	DefaultUserAgent = "ehg-hub-hubspot/1"
	// DefaultObjectType is the CRM object type when neither the request nor the
	// options name one.
	DefaultObjectType = "contacts"
	// MaxBatchInputs is the most inputs one batch request may carry.
	MaxBatchInputs = 100
	// MaxPageSize is the largest page the CRM objects listing returns.
	MaxPageSize = 100
	// ReplayWindow is how old a v3-signed webhook request may be.
	ReplayWindow = 5 * time.Minute
	// DefaultBurstInterval is the burst window assumed when a response names none
	// (X-HubSpot-RateLimit-Interval-Milliseconds is 10 s for private and OAuth apps).
	DefaultBurstInterval = 10 * time.Second
)

// Operation names.
const (
	OpCreate      = "create"
	OpUpdate      = "update"
	OpBatchCreate = "batch_create"
	OpBatchUpdate = "batch_update"
	OpBatchUpsert = "batch_upsert"
	OpList        = "list"
)

// Auth is the credentials document. Either Token (a private app's access token) or
// the OAuth fields (ClientID, ClientSecret, RefreshToken) are required.
type Auth struct {
	// Token is a private app access token ("pat-na1-..."), sent as Bearer.
	Token string `json:"token,omitempty"`
	// ClientID and ClientSecret identify a public (OAuth) app.
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	// RefreshToken renews OAuth access tokens (obtained once with the
	// authorization-code flow).
	RefreshToken string `json:"refresh_token,omitempty"`
	// AccessToken and ExpiresAt seed the OAuth token cache; optional.
	AccessToken string    `json:"access_token,omitempty"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	// TokenURL overrides {base_url}/oauth/v1/token.
	TokenURL string `json:"token_url,omitempty"`
	// AuthURL, RedirectURL and Scopes are the authorization-code settings (hub
	// AuthCodeURL and Exchange, PKCE S256): without RefreshToken, the tokens come from
	// that flow, persisted by the hub. AuthURL defaults to DefaultAuthURL.
	AuthURL     string   `json:"auth_url,omitempty"`
	RedirectURL string   `json:"redirect_url,omitempty"`
	Scopes      []string `json:"scopes,omitempty"`

	// WebhookSecret is the app's client secret used to sign webhook requests
	// (X-HubSpot-Signature-v3); default ClientSecret. Without either, every webhook
	// is rejected.
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

// Options is the settings document.
type Options struct {
	// ObjectType is the default CRM object type: contacts, companies, deals, or any
	// other object type name or id; default contacts.
	ObjectType string `json:"object_type,omitempty"`
	// DefaultOperation is performed when a request names none; default create.
	DefaultOperation string `json:"default_operation,omitempty"`
	// IDProperty is batch_upsert's default unique property (e.g. "email") and, when
	// set, the idProperty of update.
	IDProperty string `json:"id_property,omitempty"`
	// Properties are the properties List asks for; empty lets HubSpot choose its
	// defaults.
	Properties []string `json:"properties,omitempty"`
	// WebhookURL is the public URL HubSpot posts webhooks to, exactly as configured in
	// the app: the v3 signature covers it.
	WebhookURL string `json:"webhook_url,omitempty"`
	// TimeZone is the account's time zone (IANA name); the daily limit resets at its
	// midnight. Default UTC.
	TimeZone string `json:"time_zone,omitempty"`
}

// Connector talks to the HubSpot CRM v3 API. It is safe for concurrent use.
type Connector struct {
	authCode connectors.AuthCodeSettings // zero without OAuth
	name     string
	base     connectors.BaseURL
	auth     Auth
	opts     Options
	loc      *time.Location
	now      func() time.Time
	rest     *restclient.Client
	secrets  []string
}

// Factory is the [connectors.Factory] for kind "hubspot".
func Factory(cfg connectors.Config) (connectors.Connector, error) { return New(cfg) }

// New builds a connector; cfg.BaseURL defaults to DefaultBaseURL. Errors wrap
// connectors.ErrInvalidConfig and name the field. No token is fetched until the
// first call.
func New(cfg connectors.Config) (*Connector, error) {
	base, err := cfg.ParsedBaseURL(DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	rest, err := restclient.New(cfg, DefaultUserAgent)
	if err != nil {
		return nil, err
	}
	c := &Connector{name: cfg.Name, base: base, now: rest.Now, loc: time.UTC, rest: rest}
	if err := cfg.DecodeAuth(&c.auth); err != nil {
		return nil, err
	}
	if err := cfg.DecodeOptions(&c.opts); err != nil {
		return nil, err
	}
	if c.opts.ObjectType == "" {
		c.opts.ObjectType = DefaultObjectType
	}
	switch c.opts.DefaultOperation {
	case "":
		c.opts.DefaultOperation = OpCreate
	case OpCreate, OpUpdate, OpBatchCreate, OpBatchUpdate, OpBatchUpsert:
	default:
		return nil, fmt.Errorf("%w: options.default_operation %q is not a hubspot operation", connectors.ErrInvalidConfig, c.opts.DefaultOperation)
	}
	if c.opts.TimeZone != "" {
		if c.loc, err = time.LoadLocation(c.opts.TimeZone); err != nil {
			return nil, fmt.Errorf("%w: options.time_zone %q is not an IANA time zone", connectors.ErrInvalidConfig, c.opts.TimeZone)
		}
	}
	if c.opts.WebhookURL != "" {
		if _, err := url.Parse(c.opts.WebhookURL); err != nil {
			return nil, fmt.Errorf("%w: options.webhook_url is not a URL", connectors.ErrInvalidConfig)
		}
	}
	if c.auth.WebhookSecret == "" {
		c.auth.WebhookSecret = c.auth.ClientSecret
	}
	c.secrets = []string{c.auth.Token, c.auth.ClientSecret, c.auth.RefreshToken, c.auth.AccessToken, c.auth.WebhookSecret}
	rest.Secrets, rest.Observe, rest.Classify = c.secrets, c.observe, c.classify
	switch {
	case c.auth.Token != "":
		rest.UseHeader("Authorization", "Bearer "+c.auth.Token)
	case c.auth.RefreshToken != "" || c.auth.ClientID != "":
		// HubSpot's token endpoint takes the client credentials as form parameters.
		if err := rest.UseRefreshFlow(restclient.RefreshFlow{TokenURL: c.auth.TokenURL, ClientID: c.auth.ClientID,
			ClientSecret: c.auth.ClientSecret, RefreshToken: c.auth.RefreshToken, AccessToken: c.auth.AccessToken,
			Expiry: c.auth.ExpiresAt, InParams: true}, base.Join(DefaultTokenPath, nil), true); err != nil {
			return nil, err
		}
		fields := restclient.AuthCodeFields{AuthURL: c.auth.AuthURL, RedirectURL: c.auth.RedirectURL, Scopes: c.auth.Scopes}
		if c.authCode, err = fields.Settings(DefaultAuthURL, rest.TokenURL, c.auth.ClientID, c.auth.ClientSecret, true, nil); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: auth.token (private app), or auth.client_id and client_secret (OAuth: with auth.refresh_token, or authorized with PKCE) is required", connectors.ErrInvalidConfig)
	}
	return c, nil
}

// Info describes the connector.
func (c *Connector) Info() connectors.Info {
	return connectors.Info{
		Kind: Kind, Name: c.name, BaseURL: c.base.String(), DefaultOperation: c.opts.DefaultOperation,
		Operations: []string{OpBatchCreate, OpBatchUpdate, OpBatchUpsert, OpCreate, OpList, OpUpdate},
	}
}

func (c *Connector) objectPath(params map[string]string) (string, error) {
	t := params["object_type"]
	if t == "" {
		t = c.opts.ObjectType
	}
	if strings.ContainsAny(t, "/?#") {
		return "", fmt.Errorf("object_type %q is not an object type name", t)
	}
	return "/crm/v3/objects/" + url.PathEscape(t), nil
}

// record is one CRM record as a request input.
type record struct {
	ID           string          `json:"id,omitempty"`
	IDProperty   string          `json:"idProperty,omitempty"`
	Properties   map[string]any  `json:"properties"`
	Associations json.RawMessage `json:"associations,omitempty"`
}

// toRecord reads one input: {"properties": {...}, "id": ..., "associations": [...]}
// as HubSpot shapes it, or a flat object whose scalar fields are the properties.
func toRecord(raw json.RawMessage) (*record, error) {
	var doc map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || doc == nil {
		return nil, fmt.Errorf("an input must be a JSON object")
	}
	r := &record{Properties: map[string]any{}}
	if v, ok := doc["id"]; ok {
		r.ID = scalar(v)
	}
	if v, ok := doc["idProperty"]; ok {
		r.IDProperty = scalar(v)
	}
	if v, ok := doc["associations"]; ok {
		r.Associations = v
	}
	if props, ok := doc["properties"]; ok {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(props))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			return nil, fmt.Errorf("properties must be an object")
		}
		r.Properties = m
		return r, nil
	}
	for k, v := range doc {
		switch k {
		case "id", "idProperty", "associations":
			continue
		}
		var val any
		d := json.NewDecoder(bytes.NewReader(v))
		d.UseNumber()
		if d.Decode(&val) != nil {
			continue
		}
		switch val.(type) {
		case map[string]any, []any:
			continue // CRM properties are scalars; nested documents are not properties
		}
		r.Properties[k] = val
	}
	return r, nil
}

// scalar returns a JSON string's value or a number's text, else "".
func scalar(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String()
	}
	return ""
}

// inputs reads a batch payload: {"inputs": [...]}, {"records": [...]} or an array.
func inputs(body json.RawMessage) ([]json.RawMessage, error) {
	t := bytes.TrimSpace(body)
	var arr []json.RawMessage
	if len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &arr); err != nil {
			return nil, fmt.Errorf("payload is not a JSON array")
		}
	} else {
		var doc struct {
			Inputs  []json.RawMessage `json:"inputs"`
			Records []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(t, &doc); err != nil {
			return nil, fmt.Errorf("batch payload must be {\"inputs\": [...]}, {\"records\": [...]} or an array")
		}
		arr = doc.Inputs
		if arr == nil {
			arr = doc.Records
		}
	}
	if len(arr) == 0 {
		return nil, fmt.Errorf("batch payload has no inputs")
	}
	if len(arr) > MaxBatchInputs {
		return nil, fmt.Errorf("batch payload has %d inputs; HubSpot accepts at most %d per request", len(arr), MaxBatchInputs)
	}
	return arr, nil
}

// Invoke performs one operation; see the package documentation.
func (c *Connector) Invoke(ctx context.Context, r *connectors.Request) (*connectors.Response, error) {
	if r == nil {
		return nil, connectors.BadRequest("hubspot.invoke", "nil request")
	}
	name := r.Operation
	if name == "" {
		name = c.opts.DefaultOperation
	}
	op := "hubspot." + name
	objPath, err := c.objectPath(r.Params)
	if err != nil {
		return nil, connectors.BadRequest(op, err.Error())
	}
	var (
		method, path string
		query        url.Values
		body         any
		batch        bool
	)
	switch name {
	case OpCreate, OpUpdate:
		rec, err := toRecord(r.Body)
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		method, path = http.MethodPost, objPath
		if name == OpUpdate {
			id := r.Param("id")
			if id == "" {
				id = rec.ID
			}
			if id == "" {
				return nil, connectors.BadRequest(op, "update needs the record id (params.id or payload id)")
			}
			method, path = http.MethodPatch, objPath+"/"+url.PathEscape(id)
			if p := restclient.FirstNonEmpty(r.Param("id_property"), rec.IDProperty, c.opts.IDProperty); p != "" {
				query = url.Values{"idProperty": {p}}
			}
			rec.Associations = nil
		}
		rec.ID, rec.IDProperty = "", ""
		body = rec
	case OpBatchCreate, OpBatchUpdate, OpBatchUpsert:
		raw, err := inputs(r.Body)
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		recs := make([]*record, len(raw))
		idProp := restclient.FirstNonEmpty(r.Param("id_property"), c.opts.IDProperty)
		for i, in := range raw {
			rec, err := toRecord(in)
			if err != nil {
				return nil, connectors.BadRequest(op, fmt.Sprintf("input %d: %v", i, err))
			}
			switch name {
			case OpBatchCreate:
				rec.ID, rec.IDProperty = "", ""
			case OpBatchUpdate:
				if rec.ID == "" {
					return nil, connectors.BadRequest(op, fmt.Sprintf("input %d has no id", i))
				}
				rec.Associations = nil
				if rec.IDProperty == "" {
					rec.IDProperty = idProp
				}
			case OpBatchUpsert:
				if rec.IDProperty == "" {
					rec.IDProperty = idProp
				}
				if rec.IDProperty == "" {
					return nil, connectors.BadRequest(op, "batch_upsert needs id_property (params, input idProperty or options)")
				}
				if rec.ID == "" {
					v, ok := rec.Properties[rec.IDProperty]
					if !ok {
						return nil, connectors.BadRequest(op, fmt.Sprintf("input %d has no id and no %s property", i, rec.IDProperty))
					}
					rec.ID = fmt.Sprint(v)
				}
				rec.Associations = nil
			}
			recs[i] = rec
		}
		method, path, body, batch = http.MethodPost, objPath+"/batch/"+strings.TrimPrefix(name, "batch_"), map[string]any{"inputs": recs}, true
	default:
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown operation %q", name))
	}
	encoded, err := json.Marshal(body)
	if err != nil {
		return nil, connectors.BadRequest(op, "cannot encode request body")
	}
	res, err := c.rest.Do(ctx, &restclient.Call{Op: op, Method: method, URL: c.base.Join(path, mergeQuery(query, r.Query)),
		Body: encoded, Header: r.Header, IdempotencyKey: r.IdempotencyKey})
	if err != nil {
		return nil, err
	}
	resp := &connectors.Response{StatusCode: res.StatusCode, Header: res.Header, Body: res.Body}
	if !batch {
		var doc struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(res.Body, &doc) == nil {
			resp.RemoteID = doc.ID
		}
		return resp, nil
	}
	return resp, c.batchResult(op, res, resp)
}

// batchResult reads a batch response: 200/201 with "results", or 207 Multi-Status
// with "errors" for the inputs that failed. Partial failure is an error of class
// ClassPermanent (retrying the whole batch would repeat the inputs that succeeded);
// RemoteID lists the ids of the records written, comma-separated.
func (c *Connector) batchResult(op string, res *connectors.HTTPResult, resp *connectors.Response) error {
	var doc struct {
		Results []struct {
			ID string `json:"id"`
		} `json:"results"`
		NumErrors int `json:"numErrors"`
		Errors    []struct {
			Category string `json:"category"`
			Message  string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		return &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode, Message: "batch response is not JSON"}
	}
	ids := make([]string, 0, len(doc.Results))
	for _, r := range doc.Results {
		ids = append(ids, r.ID)
	}
	resp.RemoteID = strings.Join(ids, ",")
	if len(doc.Errors) == 0 && res.StatusCode != http.StatusMultiStatus {
		return nil
	}
	n := max(doc.NumErrors, len(doc.Errors))
	e := &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode, Header: connectors.SafeHeader(res.Header),
		Message: fmt.Sprintf("%d of the batch's inputs failed, %d succeeded", n, len(doc.Results))}
	if len(doc.Errors) > 0 {
		e.Code = connectors.Redact(doc.Errors[0].Category, c.secrets...)
		e.Message += ": " + connectors.Redact(doc.Errors[0].Message, c.secrets...)
	}
	return e
}

// List pages through the object type's records (params.object_type or options) with
// HubSpot's "after" cursor. Without Since it reads GET /crm/v3/objects/{type}; with
// Since it searches (POST /crm/v3/objects/{type}/search) for records modified at or
// after it, oldest first. ListRequest.Limit is the page size (at most 100).
func (c *Connector) List(ctx context.Context, lr *connectors.ListRequest) (*connectors.Page, error) {
	const op = "hubspot." + OpList
	if lr == nil {
		return nil, connectors.BadRequest(op, "nil list request")
	}
	if lr.Operation != "" && lr.Operation != OpList {
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown list operation %q", lr.Operation))
	}
	objPath, err := c.objectPath(lr.Params)
	if err != nil {
		return nil, connectors.BadRequest(op, err.Error())
	}
	size := lr.Limit
	if size <= 0 || size > MaxPageSize {
		size = MaxPageSize
	}
	call := &restclient.Call{Op: op, Method: http.MethodGet}
	if lr.Since.IsZero() {
		q := url.Values{"limit": {strconv.Itoa(size)}}
		if len(c.opts.Properties) > 0 {
			q.Set("properties", strings.Join(c.opts.Properties, ","))
		}
		if lr.Cursor != "" {
			q.Set("after", lr.Cursor)
		}
		call.URL = c.base.Join(objPath, q)
	} else {
		prop := "hs_lastmodifieddate"
		if strings.TrimPrefix(objPath, "/crm/v3/objects/") == "contacts" {
			prop = "lastmodifieddate"
		}
		search := map[string]any{
			"filterGroups": []any{map[string]any{"filters": []any{map[string]any{
				"propertyName": prop, "operator": "GTE", "value": strconv.FormatInt(lr.Since.UnixMilli(), 10)}}}},
			"sorts": []any{map[string]any{"propertyName": prop, "direction": "ASCENDING"}},
			"limit": size,
		}
		if len(c.opts.Properties) > 0 {
			search["properties"] = c.opts.Properties
		}
		if lr.Cursor != "" {
			search["after"] = lr.Cursor
		}
		call.Method, call.URL = http.MethodPost, c.base.Join(objPath+"/search", nil)
		if call.Body, err = json.Marshal(search); err != nil {
			return nil, connectors.BadRequest(op, "cannot encode search")
		}
	}
	res, err := c.rest.Do(ctx, call)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Results []json.RawMessage `json:"results"`
		Paging  struct {
			Next struct {
				After string `json:"after"`
			} `json:"next"`
		} `json:"paging"`
	}
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode, Message: "list response is not JSON"}
	}
	if err := connectors.CheckCursor(op, lr.Cursor, doc.Paging.Next.After); err != nil {
		return nil, err
	}
	if doc.Results == nil {
		doc.Results = []json.RawMessage{}
	}
	return &connectors.Page{Items: doc.Results, NextCursor: doc.Paging.Next.After}, nil
}

// Check reads one record of the configured object type: cheap, and it proves both the
// token and its scope for that object.
func (c *Connector) Check(ctx context.Context) error {
	objPath, err := c.objectPath(nil)
	if err != nil {
		return connectors.BadRequest("hubspot.check", err.Error())
	}
	_, err = c.rest.Do(ctx, &restclient.Call{Op: "hubspot.check", Method: http.MethodGet, URL: c.base.Join(objPath, url.Values{"limit": {"1"}})})
	return err
}

// RateLimit is HubSpot's rate-limit state from the X-HubSpot-RateLimit-* headers.
// Counts are -1 when the response did not carry them (OAuth apps get no daily
// headers).
type RateLimit struct {
	// Max and Remaining are the burst window's limit and what is left
	// (X-HubSpot-RateLimit-Max, X-HubSpot-RateLimit-Remaining).
	Max, Remaining int
	// Interval is the burst window (X-HubSpot-RateLimit-Interval-Milliseconds).
	Interval time.Duration
	// Secondly and SecondlyRemaining are the per-second limit and what is left.
	Secondly, SecondlyRemaining int
	// Daily and DailyRemaining are the per-day limit and what is left.
	Daily, DailyRemaining int
}

// ParseRateLimit reads the X-HubSpot-RateLimit-* headers. ok is false when none is
// present.
func ParseRateLimit(h http.Header) (rl RateLimit, ok bool) {
	get := func(name string) int {
		n, err := strconv.Atoi(strings.TrimSpace(h.Get(name)))
		if err != nil || n < 0 {
			return -1
		}
		ok = true
		return n
	}
	rl.Max = get("X-Hubspot-Ratelimit-Max")
	rl.Remaining = get("X-Hubspot-Ratelimit-Remaining")
	if ms := get("X-Hubspot-Ratelimit-Interval-Milliseconds"); ms > 0 {
		rl.Interval = time.Duration(ms) * time.Millisecond
	}
	rl.Secondly = get("X-Hubspot-Ratelimit-Secondly")
	rl.SecondlyRemaining = get("X-Hubspot-Ratelimit-Secondly-Remaining")
	rl.Daily = get("X-Hubspot-Ratelimit-Daily")
	rl.DailyRemaining = get("X-Hubspot-Ratelimit-Daily-Remaining")
	return rl, ok
}

// nextMidnight is when the daily limit resets: the next midnight in the account's
// time zone.
func (c *Connector) nextMidnight(now time.Time) time.Time {
	l := now.In(c.loc)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, c.loc)
}

// observe closes the gate when a response says a window is used up: the burst
// window (Remaining 0) for its interval, the secondly limit for a second, the daily
// limit until the account's midnight.
func (c *Connector) observe(_ string, res *connectors.HTTPResult) {
	rl, ok := ParseRateLimit(res.Header)
	if !ok {
		return
	}
	now := c.now()
	if rl.Remaining == 0 {
		iv := rl.Interval
		if iv <= 0 {
			iv = DefaultBurstInterval
		}
		c.rest.Gate.Block(restclient.GlobalKey, now.Add(iv))
	}
	if rl.SecondlyRemaining == 0 {
		c.rest.Gate.Block(restclient.GlobalKey, now.Add(time.Second))
	}
	if rl.DailyRemaining == 0 {
		c.rest.Gate.Block(restclient.GlobalKey, c.nextMidnight(now))
	}
}

// classify maps HubSpot's error body ({"status":"error","message","category",
// "correlationId"}, and for 429 "errorType":"RATE_LIMIT" with "policyName") to a
// class: 429 is rate-limited until Retry-After, the burst interval, or, for the
// DAILY policy, the account's midnight; other statuses follow
// connectors.ClassForStatus.
func (c *Connector) classify(op string, res *connectors.HTTPResult) *connectors.Error {
	var doc struct {
		Message    string `json:"message"`
		Category   string `json:"category"`
		ErrorType  string `json:"errorType"`
		PolicyName string `json:"policyName"`
	}
	_ = json.Unmarshal(res.Body, &doc)
	code := restclient.FirstNonEmpty(doc.Category, doc.ErrorType)
	now := c.now()
	e := connectors.StatusError(op, res, code, doc.Message, now, c.secrets...)
	if res.StatusCode != http.StatusTooManyRequests {
		return e
	}
	if doc.PolicyName != "" {
		e.Code = connectors.Redact(doc.PolicyName, c.secrets...)
	}
	switch {
	case doc.PolicyName == "DAILY":
		e.RetryDelay = max(e.RetryDelay, c.nextMidnight(now).Sub(now))
	case e.RetryDelay == 0:
		e.RetryDelay = DefaultBurstInterval
		if rl, ok := ParseRateLimit(res.Header); ok && rl.Interval > 0 {
			e.RetryDelay = rl.Interval
		}
		if doc.PolicyName == "SECONDLY" {
			e.RetryDelay = time.Second
		}
	}
	c.rest.Gate.Block(restclient.GlobalKey, now.Add(e.RetryDelay))
	return e
}

func mergeQuery(a, b url.Values) url.Values {
	if len(b) == 0 {
		return a
	}
	out := url.Values{}
	for k, vs := range a {
		out[k] = append(out[k], vs...)
	}
	for k, vs := range b {
		out[k] = append(out[k], vs...)
	}
	return out
}

// VerifyWebhook checks a webhook's v3 signature against options.webhook_url (the URL
// HubSpot posts to) and the app's client secret. See [VerifySignatureV3].
func (c *Connector) VerifyWebhook(header http.Header, body []byte) (*connectors.WebhookEvent, error) {
	if c.opts.WebhookURL == "" {
		return nil, fmt.Errorf("hubspot: %w: options.webhook_url is not configured, so no v3 signature can be checked", connectors.ErrInvalidSignature)
	}
	return VerifySignatureV3([]byte(c.auth.WebhookSecret), http.MethodPost, c.opts.WebhookURL, header, body, c.now())
}

// uriDecoder decodes the characters HubSpot's v3 signing decodes in the request URI
// before signing (HubSpot docs "Validating requests", v3).
var uriDecoder = strings.NewReplacer(
	"%3A", ":", "%3a", ":", "%2F", "/", "%2f", "/", "%3F", "?", "%3f", "?", "%40", "@",
	"%21", "!", "%24", "$", "%27", "'", "%28", "(", "%29", ")", "%2A", "*", "%2a", "*",
	"%2C", ",", "%2c", ",", "%3B", ";", "%3b", ";",
)

// SignV3 returns the X-HubSpot-Signature-v3 value for a request: the base64
// HMAC-SHA256, under secret, of method + uri (with HubSpot's listed characters
// decoded) + body + timestamp (milliseconds since the epoch, as sent in
// X-HubSpot-Request-Timestamp). Fakes and tests use it.
func SignV3(secret []byte, method, uri string, body []byte, timestamp string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(method))
	mac.Write([]byte(uriDecoder.Replace(uri)))
	mac.Write(body)
	mac.Write([]byte(timestamp))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// VerifySignatureV3 checks X-HubSpot-Signature-v3 of a request HubSpot made with
// method to uri (the full URL, as HubSpot called it), in constant time, and rejects
// an X-HubSpot-Request-Timestamp more than [ReplayWindow] from now. It returns the
// first event's subscriptionType and eventId. Errors wrap
// connectors.ErrInvalidSignature or connectors.ErrStaleWebhook; an empty secret
// rejects everything.
func VerifySignatureV3(secret []byte, method, uri string, header http.Header, body []byte, now time.Time) (*connectors.WebhookEvent, error) {
	sig := header.Get("X-Hubspot-Signature-V3")
	ts := header.Get("X-Hubspot-Request-Timestamp")
	if sig == "" || ts == "" {
		return nil, fmt.Errorf("hubspot: %w: X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp missing", connectors.ErrInvalidSignature)
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("hubspot: %w: X-HubSpot-Request-Timestamp is not milliseconds", connectors.ErrInvalidSignature)
	}
	if len(secret) == 0 {
		return nil, fmt.Errorf("hubspot: %w: no client secret configured", connectors.ErrInvalidSignature)
	}
	if !hmac.Equal([]byte(sig), []byte(SignV3(secret, method, uri, body, ts))) {
		return nil, fmt.Errorf("hubspot: %w: signature does not match the request", connectors.ErrInvalidSignature)
	}
	signed := time.UnixMilli(ms)
	if d := now.Sub(signed); d > ReplayWindow || d < -ReplayWindow {
		return nil, fmt.Errorf("hubspot: %w: request timestamp is %s from now", connectors.ErrStaleWebhook, d.Round(time.Second))
	}
	ev := &connectors.WebhookEvent{Timestamp: signed.UTC(), Body: body}
	var events []struct {
		EventID          json.Number `json:"eventId"`
		SubscriptionType string      `json:"subscriptionType"`
	}
	if json.Unmarshal(body, &events) == nil && len(events) > 0 {
		ev.Event, ev.DeliveryID = events[0].SubscriptionType, events[0].EventID.String()
	}
	return ev, nil
}

// Interface guards.
var (
	_ connectors.AuthCodeClient  = (*Connector)(nil)
	_ connectors.Connector       = (*Connector)(nil)
	_ connectors.Lister          = (*Connector)(nil)
	_ connectors.WebhookVerifier = (*Connector)(nil)
	_ connectors.Factory         = Factory
)

// AuthCode implements connectors.AuthCodeClient: the OAuth app's authorization-code
// settings, when the connector is configured with OAuth.
func (c *Connector) AuthCode() (connectors.AuthCodeSettings, bool) {
	return c.authCode, c.authCode.AuthURL != ""
}
