package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/internal/oauthtoken"
	"github.com/ehg/hub/connectors/internal/restclient"
)

// Kind is the registry kind of this connector.
const Kind = "salesforce"

// Defaults.
const (
	// DefaultAPIVersion is the REST API version used when options.api_version is
	// empty.
	DefaultAPIVersion = "62.0"
	// DefaultUserAgent is sent when Config.UserAgent is empty.
	DefaultUserAgent = "ehg-hub-salesforce/1"
	// TokenPath is the OAuth token endpoint path under the org's URL.
	TokenPath = "/services/oauth2/token"
	// AuthorizePath is the OAuth 2.0 authorization endpoint under the login base URL.
	AuthorizePath = "/services/oauth2/authorize"
)

// OAuth flows accepted in [Auth.Flow].
const (
	FlowClientCredentials = "client_credentials"
	FlowRefreshToken      = "refresh_token"
	FlowStatic            = "static"
)

// Operation names.
const (
	OpCreate    = "create"
	OpGet       = "get"
	OpUpdate    = "update"
	OpUpsert    = "upsert"
	OpDelete    = "delete"
	OpQuery     = "query"
	OpComposite = "composite"
)

// Auth is the credentials document.
type Auth struct {
	// Flow is client_credentials, refresh_token or static. Required.
	Flow string `json:"flow"`
	// TokenURL overrides {base_url}/services/oauth2/token.
	TokenURL string `json:"token_url,omitempty"`
	// ClientID is the connected app's consumer key.
	ClientID string `json:"client_id,omitempty"`
	// ClientSecret is the connected app's consumer secret.
	ClientSecret string `json:"client_secret,omitempty"`
	// RefreshToken is the refresh token (refresh_token flow).
	RefreshToken string `json:"refresh_token,omitempty"`
	// AccessToken is the token for the static flow, or a previously obtained token
	// that seeds the cache for the other flows.
	AccessToken string `json:"access_token,omitempty"`
	// ExpiresAt is AccessToken's expiry, when known.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// AuthURL, RedirectURL and Scopes are the authorization-code settings of the
	// refresh_token flow (hub AuthCodeURL and Exchange, PKCE S256): without
	// RefreshToken, the tokens come from that flow, persisted by the hub. AuthURL
	// defaults to {base_url}/services/oauth2/authorize.
	AuthURL     string   `json:"auth_url,omitempty"`
	RedirectURL string   `json:"redirect_url,omitempty"`
	Scopes      []string `json:"scopes,omitempty"`
}

// Options is the settings document.
type Options struct {
	// APIVersion is the REST API version, e.g. "62.0"; default DefaultAPIVersion.
	APIVersion string `json:"api_version,omitempty"`
	// SObject is the default sObject type, e.g. "Case".
	SObject string `json:"sobject,omitempty"`
	// DefaultOperation is performed when a request names none; default create.
	DefaultOperation string `json:"default_operation,omitempty"`
	// ExternalIDField is upsert's default external id field.
	ExternalIDField string `json:"external_id_field,omitempty"`
	// AllOrNone is composite's default allOrNone (a request's payload may set it).
	AllOrNone bool `json:"all_or_none,omitempty"`
	// FieldMap maps sObject fields to payload dotted paths for create, update and
	// upsert; empty sends the payload as the fields.
	FieldMap map[string]string `json:"field_map,omitempty"`
	// Query is List's default SOQL query.
	Query string `json:"query,omitempty"`
}

// LimitInfo is the org's API usage from the Sforce-Limit-Info header.
type LimitInfo struct {
	// Used is the API calls used in the rolling 24 hours.
	Used int
	// Max is the org's limit.
	Max int
}

// Remaining returns Max-Used, never negative.
func (l LimitInfo) Remaining() int { return max(l.Max-l.Used, 0) }

var limitRe = regexp.MustCompile(`(?:^|[;,\s])api-usage=(\d+)/(\d+)`)

// ParseLimitInfo reads api-usage from a Sforce-Limit-Info header. ok is false when
// the header is absent or malformed.
func ParseLimitInfo(h http.Header) (LimitInfo, bool) {
	m := limitRe.FindStringSubmatch(h.Get("Sforce-Limit-Info"))
	if m == nil {
		return LimitInfo{}, false
	}
	used, err1 := strconv.Atoi(m[1])
	limit, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil {
		return LimitInfo{}, false
	}
	return LimitInfo{Used: used, Max: limit}, true
}

var versionRe = regexp.MustCompile(`^\d{2,3}\.\d$`)

// Connector talks to the Salesforce REST API. It is safe for concurrent use.
type Connector struct {
	authCode  connectors.AuthCodeSettings // zero unless the refresh_token flow
	name      string
	base      connectors.BaseURL
	client    *http.Client
	limit     int64
	userAgent string
	now       func() time.Time
	auth      Auth
	opts      Options
	tokens    *oauthtoken.Cache // nil for the static flow
	secrets   []string
	dataPath  string // /services/data/vXX.X
	lastLimit atomic.Pointer[LimitInfo]
}

// Factory is the [connectors.Factory] for kind "salesforce".
func Factory(cfg connectors.Config) (connectors.Connector, error) { return New(cfg) }

// New builds a connector. cfg.BaseURL is required. Errors wrap
// connectors.ErrInvalidConfig and name the field. No token is fetched until the
// first call.
func New(cfg connectors.Config) (*Connector, error) {
	base, err := connectors.ParseBaseURL(cfg.BaseURL)
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
	if c.opts.APIVersion == "" {
		c.opts.APIVersion = DefaultAPIVersion
	}
	c.opts.APIVersion = strings.TrimPrefix(c.opts.APIVersion, "v")
	if !versionRe.MatchString(c.opts.APIVersion) {
		return nil, fmt.Errorf("%w: options.api_version %q is not like 62.0", connectors.ErrInvalidConfig, c.opts.APIVersion)
	}
	c.dataPath = "/services/data/v" + c.opts.APIVersion
	switch c.opts.DefaultOperation {
	case "":
		c.opts.DefaultOperation = OpCreate
	case OpCreate, OpGet, OpUpdate, OpUpsert, OpDelete, OpQuery, OpComposite:
	default:
		return nil, fmt.Errorf("%w: options.default_operation %q is not a salesforce operation", connectors.ErrInvalidConfig, c.opts.DefaultOperation)
	}
	c.secrets = []string{c.auth.ClientSecret, c.auth.RefreshToken, c.auth.AccessToken}
	tokenURL := c.auth.TokenURL
	if tokenURL == "" {
		tokenURL = base.Join(TokenPath, nil)
	} else if _, err := connectors.ParseBaseURL(tokenURL); err != nil {
		return nil, fmt.Errorf("%w: auth.token_url must be an absolute http(s) URL", connectors.ErrInvalidConfig)
	}
	var seed *oauth2.Token
	if c.auth.AccessToken != "" {
		seed = &oauth2.Token{AccessToken: c.auth.AccessToken, TokenType: "Bearer", Expiry: c.auth.ExpiresAt}
	}
	switch c.auth.Flow {
	case FlowStatic:
		if c.auth.AccessToken == "" {
			return nil, fmt.Errorf("%w: auth.access_token is required for flow static", connectors.ErrInvalidConfig)
		}
	case FlowClientCredentials:
		if c.auth.ClientID == "" || c.auth.ClientSecret == "" {
			return nil, fmt.Errorf("%w: auth.client_id and auth.client_secret are required for flow client_credentials", connectors.ErrInvalidConfig)
		}
		cc := &clientcredentials.Config{ClientID: c.auth.ClientID, ClientSecret: c.auth.ClientSecret, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}
		c.tokens = oauthtoken.New(func(ctx context.Context, _ *oauth2.Token) (*oauth2.Token, error) {
			return cc.Token(oauthtoken.WithClient(ctx, c.client))
		}, seed, c.now)
	case FlowRefreshToken:
		if c.auth.ClientID == "" {
			return nil, fmt.Errorf("%w: auth.client_id is required for flow refresh_token (with auth.refresh_token, or authorized with PKCE)", connectors.ErrInvalidConfig)
		}
		fields := restclient.AuthCodeFields{AuthURL: c.auth.AuthURL, RedirectURL: c.auth.RedirectURL, Scopes: c.auth.Scopes}
		var err error
		if c.authCode, err = fields.Settings(base.Join(AuthorizePath, nil), tokenURL, c.auth.ClientID, c.auth.ClientSecret, true, nil); err != nil {
			return nil, err
		}
		oc := &oauth2.Config{ClientID: c.auth.ClientID, ClientSecret: c.auth.ClientSecret,
			Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}}
		if seed == nil {
			seed = &oauth2.Token{}
		}
		seed.RefreshToken = c.auth.RefreshToken
		c.tokens = oauthtoken.New(func(ctx context.Context, prev *oauth2.Token) (*oauth2.Token, error) {
			rt := c.auth.RefreshToken
			if prev != nil && prev.RefreshToken != "" {
				rt = prev.RefreshToken
			}
			if rt == "" {
				return nil, &connectors.Error{Class: connectors.ClassAuth, Op: "oauth.token", Err: restclient.ErrNotAuthorized}
			}
			return oc.TokenSource(oauthtoken.WithClient(ctx, c.client), &oauth2.Token{RefreshToken: rt}).Token()
		}, seed, c.now).Persist(cfg.Tokens)
	default:
		return nil, fmt.Errorf("%w: auth.flow must be client_credentials, refresh_token or static, got %q", connectors.ErrInvalidConfig, c.auth.Flow)
	}
	return c, nil
}

// Info describes the connector.
func (c *Connector) Info() connectors.Info {
	return connectors.Info{
		Kind: Kind, Name: c.name, BaseURL: c.base.String(), DefaultOperation: c.opts.DefaultOperation,
		Operations: []string{OpComposite, OpCreate, OpDelete, OpGet, OpQuery, OpUpdate, OpUpsert},
	}
}

// LimitInfo returns the API usage from the latest response that carried
// Sforce-Limit-Info, and false before any did.
func (c *Connector) LimitInfo() (LimitInfo, bool) {
	if l := c.lastLimit.Load(); l != nil {
		return *l, true
	}
	return LimitInfo{}, false
}

// Invoke performs one operation; see the package documentation.
func (c *Connector) Invoke(ctx context.Context, r *connectors.Request) (*connectors.Response, error) {
	if r == nil {
		return nil, connectors.BadRequest("salesforce.invoke", "nil request")
	}
	name := r.Operation
	if name == "" {
		name = c.opts.DefaultOperation
	}
	op := "salesforce." + name
	var payload map[string]any
	if len(bytes.TrimSpace(r.Body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(r.Body))
		dec.UseNumber()
		if err := dec.Decode(&payload); err != nil {
			return nil, connectors.BadRequest(op, "payload must be a JSON object")
		}
	}
	switch name {
	case OpCreate, OpGet, OpUpdate, OpUpsert, OpDelete:
		return c.record(ctx, op, name, r, payload)
	case OpQuery:
		return c.queryAll(ctx, op, r, payload)
	case OpComposite:
		return c.composite(ctx, op, r, payload)
	default:
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown operation %q", name))
	}
}

func (c *Connector) record(ctx context.Context, op, name string, r *connectors.Request, payload map[string]any) (*connectors.Response, error) {
	sobject := r.Param("sobject")
	if sobject == "" {
		sobject = c.opts.SObject
	}
	if sobject == "" {
		return nil, connectors.BadRequest(op, "sobject is required (params or options)")
	}
	path := c.dataPath + "/sobjects/" + url.PathEscape(sobject)
	fields := c.fields(payload)
	var method string
	switch name {
	case OpCreate:
		method, path = http.MethodPost, path+"/"
	case OpGet, OpUpdate, OpDelete:
		id := r.Param("id")
		if id == "" {
			id = stringField(payload, "Id", "id")
		}
		if id == "" {
			return nil, connectors.BadRequest(op, "record id is required (params.id or payload Id)")
		}
		path += "/" + url.PathEscape(id)
		method = map[string]string{OpGet: http.MethodGet, OpUpdate: http.MethodPatch, OpDelete: http.MethodDelete}[name]
		if name == OpUpdate {
			delete(fields, "Id")
			delete(fields, "id")
		} else {
			fields = nil
		}
	case OpUpsert:
		field := r.Param("external_id_field")
		if field == "" {
			field = c.opts.ExternalIDField
		}
		if field == "" {
			return nil, connectors.BadRequest(op, "external_id_field is required (params or options)")
		}
		value := r.Param("external_id")
		if value == "" {
			value = stringField(fields, field)
		}
		if value == "" {
			return nil, connectors.BadRequest(op, fmt.Sprintf("external id value is required (params.external_id or field %s)", field))
		}
		delete(fields, field) // the value is in the URL; Salesforce rejects it in the body
		method, path = http.MethodPatch, path+"/"+url.PathEscape(field)+"/"+url.PathEscape(value)
	}
	var body []byte
	if fields != nil {
		var err error
		if body, err = json.Marshal(fields); err != nil {
			return nil, connectors.BadRequest(op, "cannot encode fields")
		}
	}
	res, err := c.do(ctx, op, method, joinTarget(path, r.Query), body, r.Header, r.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	resp := &connectors.Response{StatusCode: res.StatusCode, Header: res.Header, Body: res.Body}
	var doc struct {
		ID  string `json:"id"`
		UID string `json:"Id"`
	}
	if len(res.Body) > 0 && json.Unmarshal(res.Body, &doc) == nil {
		resp.RemoteID = doc.ID
		if resp.RemoteID == "" {
			resp.RemoteID = doc.UID
		}
	}
	if resp.RemoteID == "" && name != OpCreate && name != OpUpsert {
		resp.RemoteID = r.Param("id")
		if resp.RemoteID == "" {
			resp.RemoteID = stringField(payload, "Id", "id")
		}
	}
	return resp, nil
}

// fields applies options.field_map to the payload.
func (c *Connector) fields(payload map[string]any) map[string]any {
	if len(c.opts.FieldMap) == 0 {
		out := make(map[string]any, len(payload))
		for k, v := range payload {
			out[k] = v
		}
		return out
	}
	out := make(map[string]any, len(c.opts.FieldMap))
	for field, path := range c.opts.FieldMap {
		if v, ok := lookup(payload, path); ok {
			out[field] = v
		}
	}
	return out
}

func lookup(m map[string]any, path string) (any, bool) {
	var cur any = m
	for part := range strings.SplitSeq(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func stringField(m map[string]any, keys ...string) string {
	for _, k := range keys {
		switch v := m[k].(type) {
		case string:
			if v != "" {
				return v
			}
		case json.Number:
			return v.String()
		}
	}
	return ""
}

type queryPage struct {
	TotalSize      int               `json:"totalSize"`
	Done           bool              `json:"done"`
	NextRecordsURL string            `json:"nextRecordsUrl"`
	Records        []json.RawMessage `json:"records"`
}

// soql picks the query from params.q, payload.q / payload.query, or options.query.
func (c *Connector) soql(params map[string]string, payload map[string]any) string {
	if q := params["q"]; q != "" {
		return q
	}
	if q := stringField(payload, "q", "query"); q != "" {
		return q
	}
	return c.opts.Query
}

// queryAll runs a SOQL query and follows nextRecordsUrl until done, returning
// {"totalSize", "done": true, "records": [...]}; the combined body obeys the
// response bound.
func (c *Connector) queryAll(ctx context.Context, op string, r *connectors.Request, payload map[string]any) (*connectors.Response, error) {
	q := c.soql(r.Params, payload)
	if q == "" {
		return nil, connectors.BadRequest(op, "SOQL is required (params.q, payload.q or options.query)")
	}
	all := queryPage{Done: true, Records: []json.RawMessage{}}
	var size int64
	var last *connectors.HTTPResult
	cursor := ""
	seen := map[string]struct{}{}
	for {
		page, res, err := c.queryPage(ctx, op, q, cursor)
		if err != nil {
			return nil, err
		}
		last = res
		all.TotalSize = page.TotalSize
		all.Records = append(all.Records, page.Records...)
		size += int64(len(res.Body))
		if size > c.limit {
			return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode,
				Err: fmt.Errorf("%w: query results over %d bytes; use List to page", connectors.ErrResponseTooLarge, c.limit)}
		}
		if page.Done || page.NextRecordsURL == "" {
			break
		}
		if _, dup := seen[page.NextRecordsURL]; dup {
			return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode,
				Message: "query pagination loops: nextRecordsUrl repeats"}
		}
		seen[page.NextRecordsURL] = struct{}{}
		cursor = page.NextRecordsURL
	}
	body, err := json.Marshal(all)
	if err != nil {
		return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, Message: "cannot encode query results"}
	}
	return &connectors.Response{StatusCode: last.StatusCode, Header: last.Header, Body: body}, nil
}

func (c *Connector) queryPage(ctx context.Context, op, soql, cursor string) (*queryPage, *connectors.HTTPResult, error) {
	target := joinTarget(c.dataPath+"/query", url.Values{"q": {soql}})
	if cursor != "" {
		target = func(base connectors.BaseURL) (string, error) { return base.Resolve(cursor) }
	}
	res, err := c.do(ctx, op, http.MethodGet, target, nil, nil, "")
	if err != nil {
		return nil, nil, err
	}
	var page queryPage
	if err := json.Unmarshal(res.Body, &page); err != nil {
		return nil, nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode, Message: "query response is not JSON"}
	}
	if page.Records == nil {
		page.Records = []json.RawMessage{}
	}
	return &page, res, nil
}

// List returns one batch of a SOQL query (params.q or options.query); the cursor is
// Salesforce's nextRecordsUrl, which must stay on the configured host.
// ListRequest.Since is not applied: put the condition in the SOQL (e.g.
// "WHERE SystemModstamp > 2026-01-01T00:00:00Z").
func (c *Connector) List(ctx context.Context, lr *connectors.ListRequest) (*connectors.Page, error) {
	const op = "salesforce.list"
	if lr == nil {
		return nil, connectors.BadRequest(op, "nil list request")
	}
	if lr.Operation != "" && lr.Operation != OpQuery {
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown list operation %q", lr.Operation))
	}
	q := c.soql(lr.Params, nil)
	if q == "" && lr.Cursor == "" {
		return nil, connectors.BadRequest(op, "SOQL is required (params.q or options.query)")
	}
	page, _, err := c.queryPage(ctx, op, q, lr.Cursor)
	if err != nil {
		return nil, err
	}
	next := ""
	if !page.Done {
		next = page.NextRecordsURL
	}
	if err := connectors.CheckCursor(op, lr.Cursor, next); err != nil {
		return nil, err
	}
	return &connectors.Page{Items: page.Records, NextCursor: next}, nil
}

// composite posts a Composite request. The payload is either a full composite body
// ({"allOrNone": ..., "compositeRequest": [...]}) or {"compositeRequest": [...]};
// allOrNone defaults to options.all_or_none.
func (c *Connector) composite(ctx context.Context, op string, r *connectors.Request, payload map[string]any) (*connectors.Response, error) {
	subs, ok := payload["compositeRequest"].([]any)
	if !ok || len(subs) == 0 {
		return nil, connectors.BadRequest(op, "payload.compositeRequest must be a non-empty array")
	}
	body := map[string]any{"compositeRequest": subs, "allOrNone": c.opts.AllOrNone}
	if v, ok := payload["allOrNone"].(bool); ok {
		body["allOrNone"] = v
	}
	if v, ok := payload["collateSubrequests"].(bool); ok {
		body["collateSubrequests"] = v
	}
	encoded, err := json.Marshal(body)
	if err != nil {
		return nil, connectors.BadRequest(op, "cannot encode composite request")
	}
	res, err := c.do(ctx, op, http.MethodPost, joinTarget(c.dataPath+"/composite", nil), encoded, r.Header, r.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	var doc struct {
		CompositeResponse []struct {
			Body           json.RawMessage `json:"body"`
			HTTPStatusCode int             `json:"httpStatusCode"`
			ReferenceID    string          `json:"referenceId"`
		} `json:"compositeResponse"`
	}
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode, Message: "composite response is not JSON"}
	}
	resp := &connectors.Response{StatusCode: res.StatusCode, Header: res.Header, Body: res.Body}
	var failed *connectors.Error
	for _, sub := range doc.CompositeResponse {
		if sub.HTTPStatusCode < 400 {
			if resp.RemoteID == "" {
				var created struct {
					ID string `json:"id"`
				}
				if json.Unmarshal(sub.Body, &created) == nil {
					resp.RemoteID = created.ID
				}
			}
			continue
		}
		code, msg := errorFields(sub.Body)
		if code == "PROCESSING_HALTED" && failed != nil {
			continue // rolled back because of another subrequest
		}
		e := c.classify(op, &connectors.HTTPResult{StatusCode: sub.HTTPStatusCode, Header: res.Header, Body: sub.Body}, code, msg, "")
		e.Message = strings.TrimSpace(sub.ReferenceID + ": " + e.Message)
		if failed == nil || failed.Code == "PROCESSING_HALTED" {
			failed = e
		}
	}
	if failed != nil {
		return nil, failed
	}
	return resp, nil
}

// Check calls the Limits resource.
func (c *Connector) Check(ctx context.Context) error {
	_, err := c.do(ctx, "salesforce.check", http.MethodGet, joinTarget(c.dataPath+"/limits", nil), nil, nil, "")
	return err
}

// targetFunc builds a request URL on the base the API is reached at: the configured
// base URL, or the instance_url of the token response.
type targetFunc func(base connectors.BaseURL) (string, error)

// joinTarget is the targetFunc for a path (and query) under the base.
func joinTarget(path string, query url.Values) targetFunc {
	return func(base connectors.BaseURL) (string, error) { return base.Join(path, query), nil }
}

// instanceBase returns the base URL API calls go to with tok: the token response's
// instance_url when it has one (a login.salesforce.com or My Domain login answers with
// the org's instance), else the configured base URL. An instance_url that is not an
// absolute http(s) URL is an auth failure: the token endpoint's answer is unusable.
func (c *Connector) instanceBase(op string, tok *oauth2.Token) (connectors.BaseURL, error) {
	if tok == nil {
		return c.base, nil
	}
	inst, _ := tok.Extra("instance_url").(string)
	if inst == "" {
		return c.base, nil
	}
	base, err := connectors.ParseBaseURL(inst)
	if err != nil {
		return connectors.BaseURL{}, &connectors.Error{Class: connectors.ClassAuth, Op: op,
			Message: "token response instance_url is not an absolute http(s) URL"}
	}
	return base, nil
}

// do sends an authorised request; on 401 INVALID_SESSION_ID it invalidates the token
// and retries once when the flow can obtain another.
func (c *Connector) do(ctx context.Context, op, method string, target targetFunc, body []byte, extra http.Header, idemKey string) (*connectors.HTTPResult, error) {
	for attempt := 0; ; attempt++ {
		token, base := c.auth.AccessToken, c.base
		if c.tokens != nil {
			tok, err := c.tokens.Token(ctx)
			if err != nil {
				return nil, oauthtoken.ClassifyError(ctx, op, err, c.secrets...)
			}
			token = tok.AccessToken
			if base, err = c.instanceBase(op, tok); err != nil {
				return nil, err
			}
		}
		u, err := target(base)
		if err != nil {
			return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, Err: err}
		}
		req, err := connectors.NewJSONRequest(ctx, op, method, u, body, extra, idemKey, c.userAgent)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := connectors.Do(ctx, c.client, op, req, c.limit)
		if err != nil {
			return nil, err
		}
		if li, ok := ParseLimitInfo(res.Header); ok {
			c.lastLimit.Store(&li)
		}
		if res.OK() {
			return res, nil
		}
		code, msg := errorFields(res.Body)
		if res.StatusCode == http.StatusUnauthorized && code == "INVALID_SESSION_ID" && c.tokens != nil && attempt == 0 {
			c.tokens.Invalidate(token)
			continue
		}
		return nil, c.classify(op, res, code, msg, token)
	}
}

// classify maps a Salesforce error to a class: known codes first, then the status.
func (c *Connector) classify(op string, res *connectors.HTTPResult, code, msg, token string) *connectors.Error {
	e := connectors.StatusError(op, res, code, msg, c.now(), append([]string{token}, c.secrets...)...)
	if cl, ok := ClassForCode(code); ok {
		e.Class = cl
	}
	return e
}

// ClassForCode classifies the Salesforce error codes with a fixed meaning. ok is
// false for codes whose class follows the HTTP status.
func ClassForCode(code string) (connectors.Class, bool) {
	switch code {
	case "REQUEST_LIMIT_EXCEEDED", "TOO_MANY_REQUESTS":
		return connectors.ClassRateLimited, true
	case "UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG":
		return connectors.ClassTransient, true
	case "INVALID_SESSION_ID", "INVALID_AUTH_HEADER":
		return connectors.ClassAuth, true
	default:
		return 0, false
	}
}

// errorFields reads the first error of a Salesforce error array, or an error object.
func errorFields(body []byte) (code, message string) {
	type sfErr struct {
		ErrorCode string `json:"errorCode"`
		Error     string `json:"error"`
		Message   string `json:"message"`
	}
	var arr []sfErr
	if json.Unmarshal(body, &arr) == nil && len(arr) > 0 {
		return arr[0].ErrorCode, arr[0].Message
	}
	var one sfErr
	if json.Unmarshal(body, &one) == nil {
		if one.ErrorCode != "" {
			return one.ErrorCode, one.Message
		}
		return one.Error, one.Message
	}
	return "", ""
}

// AuthCode implements connectors.AuthCodeClient: the connected app's authorization-code
// settings, for the refresh_token flow.
func (c *Connector) AuthCode() (connectors.AuthCodeSettings, bool) {
	return c.authCode, c.authCode.AuthURL != ""
}

// Interface guards.
var (
	_ connectors.AuthCodeClient = (*Connector)(nil)
	_ connectors.Connector      = (*Connector)(nil)
	_ connectors.Lister         = (*Connector)(nil)
	_ connectors.Factory        = Factory
)
