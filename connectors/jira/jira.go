package jira

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
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/internal/restclient"
)

// Kind is the registry kind of this connector.
const Kind = "jira"

// Defaults and documented limits.
const (
	// DefaultAuthURL is Atlassian's OAuth 2.0 (3LO) authorization endpoint.
	DefaultAuthURL = "https://auth.atlassian.com/authorize"
	// DefaultTokenURL is Atlassian's OAuth 2.0 (3LO) token endpoint.
	DefaultTokenURL = "https://auth.atlassian.com/oauth/token"
	// DefaultUserAgent is sent when Config.UserAgent is empty.
	DefaultUserAgent = "ehg-hub-jira/1"
	// DefaultIssueType is the issue type of created issues when neither the payload
	// nor the options name one.
	DefaultIssueType = "Task"
	// MaxSummary is the longest summary Jira accepts.
	MaxSummary = 255
	// MaxSearchResults is the largest page the JQL search returns with fields.
	MaxSearchResults = 100
)

// Operation names.
const (
	OpCreateIssue = "create_issue"
	OpTransition  = "transition"
	OpComment     = "comment"
	OpSearch      = "search"
)

// Auth is the credentials document: Email and APIToken (basic auth), or the OAuth 2.0
// (3LO) fields.
type Auth struct {
	// Email and APIToken authenticate with HTTP basic auth (an Atlassian API token).
	Email    string `json:"email,omitempty"`
	APIToken string `json:"api_token,omitempty"`
	// ClientID, ClientSecret and RefreshToken are an OAuth 2.0 (3LO) app's; the
	// refresh token comes from the authorization-code flow and rotates on every use.
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// AccessToken and ExpiresAt seed the OAuth token cache; optional.
	AccessToken string    `json:"access_token,omitempty"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	// TokenURL overrides DefaultTokenURL.
	TokenURL string `json:"token_url,omitempty"`
	// AuthURL, RedirectURL and Scopes are the authorization-code settings (hub
	// AuthCodeURL and Exchange, PKCE S256): without RefreshToken, the tokens come from
	// that flow, persisted by the hub. AuthURL defaults to DefaultAuthURL (with audience=api.atlassian.com and prompt=consent).
	AuthURL     string   `json:"auth_url,omitempty"`
	RedirectURL string   `json:"redirect_url,omitempty"`
	Scopes      []string `json:"scopes,omitempty"`

	// WebhookSecret verifies admin webhooks (X-Hub-Signature). Requests of webhooks an
	// OAuth app registered carry a JWT signed with ClientSecret.
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

// Options is the settings document.
type Options struct {
	// ProjectKey is the default project of created issues, e.g. "PAY".
	ProjectKey string `json:"project_key,omitempty"`
	// IssueType is the default issue type name; default "Task".
	IssueType string `json:"issue_type,omitempty"`
	// PriorityMap maps payload priorities to Jira priority names ({"high": "High"});
	// unmapped priorities are not sent.
	PriorityMap map[string]string `json:"priority_map,omitempty"`
	// JQL is the default query of List (and search).
	JQL string `json:"jql,omitempty"`
	// Fields are the fields List returns; default Jira's navigable fields.
	Fields []string `json:"fields,omitempty"`
	// DefaultOperation is performed when a request names none; default create_issue.
	DefaultOperation string `json:"default_operation,omitempty"`
	// WebhookMaxAge, a Go duration ("10m"), rejects admin-webhook deliveries whose
	// signed body "timestamp" is older; Jira signs no timestamp of its own and retries
	// failed deliveries, so the default is no age check.
	WebhookMaxAge string `json:"webhook_max_age,omitempty"`
}

// Connector talks to the Jira Cloud REST API v3. It is safe for concurrent use.
type Connector struct {
	authCode connectors.AuthCodeSettings // zero without OAuth
	name     string
	base     connectors.BaseURL
	auth     Auth
	opts     Options
	maxAge   time.Duration
	now      func() time.Time
	rest     *restclient.Client
	secrets  []string
}

// Factory is the [connectors.Factory] for kind "jira".
func Factory(cfg connectors.Config) (connectors.Connector, error) { return New(cfg) }

// New builds a connector. cfg.BaseURL is required: the site
// (https://your-domain.atlassian.net) with basic auth, or
// https://api.atlassian.com/ex/jira/{cloudid} with OAuth. Errors wrap
// connectors.ErrInvalidConfig and name the field.
func New(cfg connectors.Config) (*Connector, error) {
	base, err := connectors.ParseBaseURL(cfg.BaseURL)
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
	if c.opts.IssueType == "" {
		c.opts.IssueType = DefaultIssueType
	}
	switch c.opts.DefaultOperation {
	case "":
		c.opts.DefaultOperation = OpCreateIssue
	case OpCreateIssue, OpTransition, OpComment, OpSearch:
	default:
		return nil, fmt.Errorf("%w: options.default_operation %q is not a jira operation", connectors.ErrInvalidConfig, c.opts.DefaultOperation)
	}
	if c.maxAge, err = restclient.ParseMaxAge("options.webhook_max_age", c.opts.WebhookMaxAge); err != nil {
		return nil, err
	}
	c.secrets = []string{c.auth.APIToken, c.auth.ClientSecret, c.auth.RefreshToken, c.auth.AccessToken, c.auth.WebhookSecret}
	rest.Secrets, rest.Observe, rest.Classify = c.secrets, c.observe, c.classify
	switch {
	case c.auth.APIToken != "":
		if c.auth.Email == "" {
			return nil, fmt.Errorf("%w: auth.email is required with auth.api_token", connectors.ErrInvalidConfig)
		}
		encoded := base64.StdEncoding.EncodeToString([]byte(c.auth.Email + ":" + c.auth.APIToken))
		c.secrets = append(c.secrets, encoded) // remotes that echo the header must not leak it
		rest.Secrets = c.secrets
		rest.UseHeader("Authorization", "Basic "+encoded)
	case c.auth.RefreshToken != "" || c.auth.ClientID != "":
		if err := rest.UseRefreshFlow(restclient.RefreshFlow{TokenURL: c.auth.TokenURL, ClientID: c.auth.ClientID,
			ClientSecret: c.auth.ClientSecret, RefreshToken: c.auth.RefreshToken, AccessToken: c.auth.AccessToken,
			Expiry: c.auth.ExpiresAt, InParams: true}, DefaultTokenURL, true); err != nil {
			return nil, err
		}
		fields := restclient.AuthCodeFields{AuthURL: c.auth.AuthURL, RedirectURL: c.auth.RedirectURL, Scopes: c.auth.Scopes}
		var err error
		if c.authCode, err = fields.Settings(DefaultAuthURL, rest.TokenURL, c.auth.ClientID, c.auth.ClientSecret, true,
			map[string]string{"audience": "api.atlassian.com", "prompt": "consent"}); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: auth.email with auth.api_token, or auth.client_id and client_secret (OAuth 2.0 3LO: with auth.refresh_token, or authorized with PKCE), is required", connectors.ErrInvalidConfig)
	}
	return c, nil
}

// Info describes the connector.
func (c *Connector) Info() connectors.Info {
	return connectors.Info{Kind: Kind, Name: c.name, BaseURL: c.base.String(), DefaultOperation: c.opts.DefaultOperation,
		Operations: []string{OpComment, OpCreateIssue, OpSearch, OpTransition}}
}

// payload is the subset of a payload the operations read.
type payload struct {
	Fields      map[string]json.RawMessage `json:"fields"`
	Project     string                     `json:"project"`
	IssueType   string                     `json:"issue_type"`
	Title       string                     `json:"title"`
	Summary     string                     `json:"summary"`
	Description json.RawMessage            `json:"description"`
	Labels      []string                   `json:"labels"`
	Priority    string                     `json:"priority"`
	Key         string                     `json:"key"`
	Issue       string                     `json:"issue"`
	Transition  string                     `json:"transition"`
	Status      string                     `json:"status"`
	Body        json.RawMessage            `json:"body"`
	Comment     json.RawMessage            `json:"comment"`
	Text        json.RawMessage            `json:"text"`
	JQL         string                     `json:"jql"`
}

// ADF converts plain text to an Atlassian Document Format document: paragraphs at
// blank lines, hard breaks at single newlines. A JSON value that already is an ADF
// document ({"type": "doc", ...}) is returned as it is; ok is false for anything
// else that is not a string, or for empty text.
func ADF(raw json.RawMessage) (doc json.RawMessage, ok bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, false
	}
	var probe struct {
		Type string `json:"type"`
	}
	if t[0] == '{' {
		if json.Unmarshal(t, &probe) == nil && probe.Type == "doc" {
			return t, true
		}
		return nil, false
	}
	var text string
	if json.Unmarshal(t, &text) != nil || strings.TrimSpace(text) == "" {
		return nil, false
	}
	type node map[string]any
	var paras []node
	for p := range strings.SplitSeq(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		var content []node
		for i, line := range strings.Split(p, "\n") {
			if i > 0 {
				content = append(content, node{"type": "hardBreak"})
			}
			if line != "" {
				content = append(content, node{"type": "text", "text": line})
			}
		}
		paras = append(paras, node{"type": "paragraph", "content": content})
	}
	b, err := json.Marshal(node{"type": "doc", "version": 1, "content": paras})
	return b, err == nil
}

var labelSpace = regexp.MustCompile(`\s+`)

// issueFields builds create-issue fields: the payload's "fields" as given (Jira's own
// shape), completed from the work item: project, issuetype, summary (title, cut to 255
// characters), description as ADF, labels (whitespace, which Jira forbids in labels,
// becomes "-") and priority through options.priority_map.
func (c *Connector) issueFields(p *payload, params map[string]string) (map[string]any, error) {
	f := map[string]any{}
	for k, v := range p.Fields {
		f[k] = v
	}
	if _, ok := f["project"]; !ok {
		key := restclient.FirstNonEmpty(params["project"], p.Project, c.opts.ProjectKey)
		if key == "" {
			return nil, fmt.Errorf("project is required (params, payload project or options.project_key)")
		}
		f["project"] = map[string]string{"key": key}
	}
	if _, ok := f["issuetype"]; !ok {
		f["issuetype"] = map[string]string{"name": restclient.FirstNonEmpty(params["issue_type"], p.IssueType, c.opts.IssueType)}
	}
	if _, ok := f["summary"]; !ok {
		s := strings.TrimSpace(restclient.FirstNonEmpty(p.Summary, p.Title))
		if s == "" {
			return nil, fmt.Errorf("create_issue needs a summary or title")
		}
		if r := []rune(s); len(r) > MaxSummary {
			s = string(r[:MaxSummary-1]) + "…"
		}
		f["summary"] = s
	}
	if _, ok := f["description"]; !ok {
		if doc, ok := ADF(p.Description); ok {
			f["description"] = doc
		}
	}
	if _, ok := f["labels"]; !ok && len(p.Labels) > 0 {
		labels := make([]string, 0, len(p.Labels))
		for _, l := range p.Labels {
			if l = labelSpace.ReplaceAllString(strings.TrimSpace(l), "-"); l != "" {
				labels = append(labels, l)
			}
		}
		f["labels"] = labels
	}
	if _, ok := f["priority"]; !ok && p.Priority != "" {
		if name, ok := c.opts.PriorityMap[p.Priority]; ok {
			f["priority"] = map[string]string{"name": name}
		}
	}
	return f, nil
}

// Invoke performs one operation; see the package documentation.
func (c *Connector) Invoke(ctx context.Context, r *connectors.Request) (*connectors.Response, error) {
	if r == nil {
		return nil, connectors.BadRequest("jira.invoke", "nil request")
	}
	name := r.Operation
	if name == "" {
		name = c.opts.DefaultOperation
	}
	op := "jira." + name
	var p payload
	if len(bytes.TrimSpace(r.Body)) > 0 {
		if err := json.Unmarshal(r.Body, &p); err != nil {
			return nil, connectors.BadRequest(op, "payload must be a JSON object with Jira or work item fields")
		}
	}
	issueKey := func() (string, error) {
		k := restclient.FirstNonEmpty(r.Param("issue"), p.Issue, p.Key)
		if k == "" || strings.ContainsAny(k, "/?#") {
			return "", fmt.Errorf("%s needs the issue key or id (params.issue or payload key)", name)
		}
		return k, nil
	}
	switch name {
	case OpCreateIssue:
		fields, err := c.issueFields(&p, r.Params)
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		return c.write(ctx, op, http.MethodPost, "/rest/api/3/issue", map[string]any{"fields": fields}, r, "key")
	case OpComment:
		key, err := issueKey()
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		var body json.RawMessage
		for _, cand := range []json.RawMessage{p.Body, p.Comment, p.Text, p.Description} {
			if doc, ok := ADF(cand); ok {
				body = doc
				break
			}
		}
		if body == nil {
			return nil, connectors.BadRequest(op, "comment needs a body, comment, text or description (text or ADF)")
		}
		return c.write(ctx, op, http.MethodPost, "/rest/api/3/issue/"+url.PathEscape(key)+"/comment", map[string]any{"body": body}, r, "id")
	case OpTransition:
		key, err := issueKey()
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		want := restclient.FirstNonEmpty(r.Param("transition"), p.Transition, p.Status)
		if want == "" {
			return nil, connectors.BadRequest(op, "transition needs params.transition (id or name) or payload transition or status")
		}
		id, err := c.transitionID(ctx, op, key, want)
		if err != nil {
			return nil, err
		}
		resp, err := c.write(ctx, op, http.MethodPost, "/rest/api/3/issue/"+url.PathEscape(key)+"/transitions",
			map[string]any{"transition": map[string]string{"id": id}}, r, "")
		if err == nil {
			resp.RemoteID = key
		}
		return resp, err
	case OpSearch:
		page, err := c.List(ctx, &connectors.ListRequest{Params: mergeParams(r.Params, "jql", p.JQL), Limit: atoi(r.Param("limit"))})
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(map[string]any{"issues": page.Items, "nextPageToken": page.NextCursor})
		if err != nil {
			return nil, connectors.BadRequest(op, "cannot encode results")
		}
		return &connectors.Response{StatusCode: http.StatusOK, Body: b}, nil
	default:
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown operation %q", name))
	}
}

func (c *Connector) write(ctx context.Context, op, method, path string, body any, r *connectors.Request, idField string) (*connectors.Response, error) {
	encoded, err := json.Marshal(body)
	if err != nil {
		return nil, connectors.BadRequest(op, "cannot encode request body")
	}
	res, err := c.rest.Do(ctx, &restclient.Call{Op: op, Method: method, URL: c.base.Join(path, r.Query), Body: encoded,
		Header: r.Header, IdempotencyKey: r.IdempotencyKey})
	if err != nil {
		return nil, err
	}
	resp := &connectors.Response{StatusCode: res.StatusCode, Header: res.Header, Body: res.Body}
	if idField != "" {
		var doc map[string]any
		if json.Unmarshal(res.Body, &doc) == nil {
			if s, ok := doc[idField].(string); ok {
				resp.RemoteID = s
			}
		}
	}
	return resp, nil
}

// transitionID resolves want — a transition id, a transition name or the name of the
// status it leads to, case-insensitive — among the issue's available transitions.
func (c *Connector) transitionID(ctx context.Context, op, key, want string) (string, error) {
	res, err := c.rest.Do(ctx, &restclient.Call{Op: op, Method: http.MethodGet,
		URL: c.base.Join("/rest/api/3/issue/"+url.PathEscape(key)+"/transitions", nil)})
	if err != nil {
		return "", err
	}
	var doc struct {
		Transitions []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			To   struct {
				Name string `json:"name"`
			} `json:"to"`
		} `json:"transitions"`
	}
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		return "", &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode, Message: "transitions response is not JSON"}
	}
	for _, t := range doc.Transitions {
		if t.ID == want {
			return t.ID, nil
		}
	}
	for _, t := range doc.Transitions {
		if strings.EqualFold(t.Name, want) || strings.EqualFold(t.To.Name, want) {
			return t.ID, nil
		}
	}
	return "", connectors.BadRequest(op, fmt.Sprintf("issue %s has no available transition %q", key, want))
}

// List runs a JQL search (params.jql or options.jql) with Jira's enhanced search, POST
// /rest/api/3/search/jql, following nextPageToken until isLast. ListRequest.Since adds
// "updated >= ..." to the query; Limit is maxResults (at most 100).
func (c *Connector) List(ctx context.Context, lr *connectors.ListRequest) (*connectors.Page, error) {
	const op = "jira." + OpSearch
	if lr == nil {
		return nil, connectors.BadRequest(op, "nil list request")
	}
	if lr.Operation != "" && lr.Operation != OpSearch {
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown list operation %q", lr.Operation))
	}
	jql := restclient.FirstNonEmpty(lr.Params["jql"], c.opts.JQL)
	if jql == "" {
		return nil, connectors.BadRequest(op, "JQL is required (params.jql or options.jql)")
	}
	if !lr.Since.IsZero() {
		jql = fmt.Sprintf(`updated >= "%s" AND (%s)`, lr.Since.UTC().Format("2006-01-02 15:04"), jql)
	}
	size := lr.Limit
	if size <= 0 || size > MaxSearchResults {
		size = MaxSearchResults
	}
	req := map[string]any{"jql": jql, "maxResults": size}
	if len(c.opts.Fields) > 0 {
		req["fields"] = c.opts.Fields
	} else {
		req["fields"] = []string{"*navigable"}
	}
	if lr.Cursor != "" {
		req["nextPageToken"] = lr.Cursor
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, connectors.BadRequest(op, "cannot encode search")
	}
	res, err := c.rest.Do(ctx, &restclient.Call{Op: op, Method: http.MethodPost, URL: c.base.Join("/rest/api/3/search/jql", nil), Body: body})
	if err != nil {
		return nil, err
	}
	var doc struct {
		Issues        []json.RawMessage `json:"issues"`
		NextPageToken string            `json:"nextPageToken"`
		IsLast        *bool             `json:"isLast"`
	}
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode, Message: "search response is not JSON"}
	}
	next := doc.NextPageToken
	if doc.IsLast != nil && *doc.IsLast {
		next = ""
	}
	if err := connectors.CheckCursor(op, lr.Cursor, next); err != nil {
		return nil, err
	}
	if doc.Issues == nil {
		doc.Issues = []json.RawMessage{}
	}
	return &connectors.Page{Items: doc.Issues, NextCursor: next}, nil
}

// Check calls GET /rest/api/3/myself, which any valid credentials may read.
func (c *Connector) Check(ctx context.Context) error {
	_, err := c.rest.Do(ctx, &restclient.Call{Op: "jira.check", Method: http.MethodGet, URL: c.base.Join("/rest/api/3/myself", nil)})
	return err
}

// observe closes the gate when a response reports X-RateLimit-Remaining 0, until
// X-RateLimit-Reset (an ISO 8601 time).
func (c *Connector) observe(_ string, res *connectors.HTTPResult) {
	if strings.TrimSpace(res.Header.Get("X-Ratelimit-Remaining")) != "0" {
		return
	}
	if reset, err := time.Parse(time.RFC3339, strings.TrimSpace(res.Header.Get("X-Ratelimit-Reset"))); err == nil {
		c.rest.Gate.Block(restclient.GlobalKey, reset)
	}
}

// classify maps Jira's {"errorMessages": [...], "errors": {field: message}} to a
// class by status; a 429 is rate-limited for Retry-After, or until X-RateLimit-Reset
// when that is later and the window is spent (or Retry-After is missing), closes the
// gate until then, and carries RateLimit-Reason as its code.
func (c *Connector) classify(op string, res *connectors.HTTPResult) *connectors.Error {
	var doc struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
		Message       string            `json:"message"`
	}
	_ = json.Unmarshal(res.Body, &doc)
	msg := doc.Message
	if len(doc.ErrorMessages) > 0 {
		msg = strings.Join(doc.ErrorMessages, "; ")
	}
	var fieldErrs []string
	for f, m := range doc.Errors {
		fieldErrs = append(fieldErrs, f+": "+m)
	}
	if len(fieldErrs) > 0 {
		slices.Sort(fieldErrs)
		msg = strings.TrimPrefix(msg+"; "+strings.Join(fieldErrs, "; "), "; ")
	}
	now := c.now()
	e := connectors.StatusError(op, res, "", msg, now, c.secrets...)
	if e.Class != connectors.ClassRateLimited {
		return e
	}
	e.Code = connectors.Redact(res.Header.Get("Ratelimit-Reason"), c.secrets...)
	// Not before Retry-After, nor before X-RateLimit-Reset when the window is spent.
	if reset, err := time.Parse(time.RFC3339, strings.TrimSpace(res.Header.Get("X-Ratelimit-Reset"))); err == nil &&
		(e.RetryDelay == 0 || strings.TrimSpace(res.Header.Get("X-Ratelimit-Remaining")) == "0") {
		e.RetryDelay = max(e.RetryDelay, reset.Sub(now))
	}
	if e.RetryDelay > 0 {
		c.rest.Gate.Block(restclient.GlobalKey, now.Add(e.RetryDelay))
	}
	return e
}

// VerifyWebhook checks a Jira webhook request: an admin webhook's X-Hub-Signature
// ("sha256=" + hex HMAC-SHA256 of the raw body under the webhook secret), or, for a
// webhook an OAuth 2.0 app registered, the JWT in "Authorization: Bearer" (HS256
// under the app's client secret, within its exp). The event is the body's
// webhookEvent; the delivery id X-Atlassian-Webhook-Identifier. Errors wrap
// connectors.ErrInvalidSignature or connectors.ErrStaleWebhook.
func (c *Connector) VerifyWebhook(header http.Header, body []byte) (*connectors.WebhookEvent, error) {
	var doc struct {
		WebhookEvent string `json:"webhookEvent"`
		Timestamp    int64  `json:"timestamp"`
	}
	_ = json.Unmarshal(body, &doc)
	now := c.now()
	switch {
	case header.Get("X-Hub-Signature") != "":
		hexSig, ok := strings.CutPrefix(header.Get("X-Hub-Signature"), "sha256=")
		if !ok || !connectors.ValidHMACSHA256([]byte(c.auth.WebhookSecret), body, hexSig) {
			return nil, fmt.Errorf("jira: %w: X-Hub-Signature does not match the body", connectors.ErrInvalidSignature)
		}
		if c.maxAge > 0 {
			sent := time.UnixMilli(doc.Timestamp)
			if d := now.Sub(sent); doc.Timestamp == 0 || d > c.maxAge || d < -c.maxAge {
				return nil, fmt.Errorf("jira: %w: delivery timestamp outside %s", connectors.ErrStaleWebhook, c.maxAge)
			}
		}
	case strings.HasPrefix(header.Get("Authorization"), "Bearer "):
		if err := VerifyJWT([]byte(c.auth.ClientSecret), strings.TrimPrefix(header.Get("Authorization"), "Bearer "), now); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("jira: %w: neither X-Hub-Signature nor a bearer JWT", connectors.ErrInvalidSignature)
	}
	ev := &connectors.WebhookEvent{Event: doc.WebhookEvent, DeliveryID: header.Get("X-Atlassian-Webhook-Identifier"), Body: body}
	if doc.Timestamp > 0 {
		ev.Timestamp = time.UnixMilli(doc.Timestamp).UTC()
	}
	return ev, nil
}

// VerifyJWT checks an HS256 JSON Web Token under secret: the algorithm must be HS256
// (never "none"), the signature must match in constant time, and exp must be present
// and after now (else connectors.ErrStaleWebhook); an nbf after now is rejected too.
// An empty secret rejects everything.
func VerifyJWT(secret []byte, token string, now time.Time) error {
	if len(secret) == 0 {
		return fmt.Errorf("jira: %w: no client secret configured", connectors.ErrInvalidSignature)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return fmt.Errorf("jira: %w: not a JWT", connectors.ErrInvalidSignature)
	}
	var head struct {
		Alg string `json:"alg"`
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &head) != nil || head.Alg != "HS256" {
		return fmt.Errorf("jira: %w: JWT header is not HS256", connectors.ErrInvalidSignature)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return fmt.Errorf("jira: %w: JWT signature does not match", connectors.ErrInvalidSignature)
	}
	var claims struct {
		Exp *json.Number `json:"exp"`
		Nbf *json.Number `json:"nbf"`
	}
	cb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(cb, &claims) != nil || claims.Exp == nil {
		return fmt.Errorf("jira: %w: JWT has no exp claim", connectors.ErrInvalidSignature)
	}
	exp, err := claims.Exp.Int64()
	if err != nil {
		return fmt.Errorf("jira: %w: JWT exp is not a number", connectors.ErrInvalidSignature)
	}
	if !now.Before(time.Unix(exp, 0)) {
		return fmt.Errorf("jira: %w: JWT expired", connectors.ErrStaleWebhook)
	}
	if claims.Nbf != nil {
		if nbf, err := claims.Nbf.Int64(); err == nil && now.Before(time.Unix(nbf, 0)) {
			return fmt.Errorf("jira: %w: JWT not valid yet", connectors.ErrStaleWebhook)
		}
	}
	return nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func mergeParams(params map[string]string, key, value string) map[string]string {
	out := map[string]string{}
	for k, v := range params {
		out[k] = v
	}
	if out[key] == "" && value != "" {
		out[key] = value
	}
	return out
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
