package gitlab

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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/httpconn"
	"github.com/ehg/hub/connectors/internal/restclient"
)

// Kind is the registry kind of this connector.
const Kind = "gitlab"

// Defaults.
const (
	// DefaultBaseURL is GitLab.com's REST API root; self-managed instances use
	// https://gitlab.example.com/api/v4.
	DefaultBaseURL = "https://gitlab.com/api/v4"
	// DefaultUserAgent is sent when Config.UserAgent is empty.
	DefaultUserAgent = "ehg-hub-gitlab/1"
	// MaxPerPage is the largest page GitLab returns.
	MaxPerPage = 100
	// ReplayWindow is how far a signed webhook's webhook-timestamp may be from now.
	ReplayWindow = 5 * time.Minute
)

// Operation names.
const (
	OpCreateIssue = "create_issue"
	OpUpdateIssue = "update_issue"
	OpComment     = "comment"
	OpMRComment   = "mr_comment"
	OpListIssues  = "list_issues"
)

// Auth is the credentials document: a Token (personal, project or group access token,
// sent as PRIVATE-TOKEN) or the OAuth 2.0 fields.
type Auth struct {
	// Token is an access token sent as the PRIVATE-TOKEN header.
	Token string `json:"token,omitempty"`
	// ClientID, ClientSecret and RefreshToken are an OAuth application's; the refresh
	// token comes from the authorization-code flow.
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// AccessToken and ExpiresAt seed the OAuth token cache; optional.
	AccessToken string    `json:"access_token,omitempty"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	// TokenURL overrides {instance}/oauth/token.
	TokenURL string `json:"token_url,omitempty"`
	// AuthURL, RedirectURL and Scopes are the authorization-code settings (hub
	// AuthCodeURL and Exchange, PKCE S256): without RefreshToken, the tokens come from
	// that flow, persisted by the hub. AuthURL defaults to {instance}/oauth/authorize.
	AuthURL     string   `json:"auth_url,omitempty"`
	RedirectURL string   `json:"redirect_url,omitempty"`
	Scopes      []string `json:"scopes,omitempty"`

	// WebhookToken is the webhook's secret token, sent back in X-Gitlab-Token.
	WebhookToken string `json:"webhook_token,omitempty"`
	// SigningToken is the webhook's signing token: deliveries carry webhook-id,
	// webhook-timestamp and webhook-signature (Standard Webhooks).
	SigningToken string `json:"signing_token,omitempty"`
}

// Options is the settings document.
type Options struct {
	// Project is the default project: its numeric id or its path ("group/project").
	Project string `json:"project,omitempty"`
	// DefaultOperation is performed when a request names none; default create_issue.
	DefaultOperation string `json:"default_operation,omitempty"`
}

// Connector talks to the GitLab REST API v4. It is safe for concurrent use.
type Connector struct {
	authCode connectors.AuthCodeSettings // zero without OAuth
	name     string
	base     connectors.BaseURL
	auth     Auth
	opts     Options
	now      func() time.Time
	rest     *restclient.Client
	secrets  []string
}

// Factory is the [connectors.Factory] for kind "gitlab".
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
	switch c.opts.DefaultOperation {
	case "":
		c.opts.DefaultOperation = OpCreateIssue
	case OpCreateIssue, OpUpdateIssue, OpComment, OpMRComment:
	default:
		return nil, fmt.Errorf("%w: options.default_operation %q is not a gitlab operation", connectors.ErrInvalidConfig, c.opts.DefaultOperation)
	}
	c.secrets = []string{c.auth.Token, c.auth.ClientSecret, c.auth.RefreshToken, c.auth.AccessToken, c.auth.WebhookToken, c.auth.SigningToken}
	rest.Secrets, rest.Observe, rest.Classify = c.secrets, c.observe, c.classify
	switch {
	case c.auth.Token != "":
		rest.UseHeader("Private-Token", c.auth.Token)
	case c.auth.RefreshToken != "" || c.auth.ClientID != "":
		// The OAuth endpoints live at the instance root, not under /api/v4.
		u, _ := url.Parse(base.String())
		root := u.Scheme + "://" + u.Host + strings.TrimSuffix(strings.TrimSuffix(u.Path, "/api/v4"), "/")
		if err := rest.UseRefreshFlow(restclient.RefreshFlow{TokenURL: c.auth.TokenURL, ClientID: c.auth.ClientID,
			ClientSecret: c.auth.ClientSecret, RefreshToken: c.auth.RefreshToken, AccessToken: c.auth.AccessToken,
			Expiry: c.auth.ExpiresAt, InParams: true}, root+"/oauth/token", false); err != nil {
			return nil, err
		}
		fields := restclient.AuthCodeFields{AuthURL: c.auth.AuthURL, RedirectURL: c.auth.RedirectURL, Scopes: c.auth.Scopes}
		var err error
		if c.authCode, err = fields.Settings(root+"/oauth/authorize", rest.TokenURL, c.auth.ClientID, c.auth.ClientSecret, true, nil); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: auth.token, or auth.client_id (OAuth 2.0: with auth.refresh_token, or authorized with PKCE), is required", connectors.ErrInvalidConfig)
	}
	return c, nil
}

// Info describes the connector.
func (c *Connector) Info() connectors.Info {
	return connectors.Info{Kind: Kind, Name: c.name, BaseURL: c.base.String(), DefaultOperation: c.opts.DefaultOperation,
		Operations: []string{OpComment, OpCreateIssue, OpListIssues, OpMRComment, OpUpdateIssue}}
}

// projectPath is /projects/{id}, the id or URL-encoded path from params or options.
func (c *Connector) projectPath(params map[string]string) (string, error) {
	p := restclient.FirstNonEmpty(params["project"], c.opts.Project)
	if p == "" {
		return "", fmt.Errorf("project is required (params.project or options.project)")
	}
	return "/projects/" + url.PathEscape(p), nil
}

// payload is the subset of a payload the operations read; GitLab issue fields pass
// through.
type payload struct {
	Title        string          `json:"title"`
	Description  *string         `json:"description"`
	Labels       json.RawMessage `json:"labels"`
	AssigneeIDs  []int64         `json:"assignee_ids"`
	MilestoneID  *int64          `json:"milestone_id"`
	Confidential *bool           `json:"confidential"`
	DueDate      string          `json:"due_date"`
	IssueType    string          `json:"issue_type"`
	StateEvent   string          `json:"state_event"`
	Status       string          `json:"status"`
	IID          json.Number     `json:"iid"`
	Body         string          `json:"body"`
	Comment      string          `json:"comment"`
	Text         string          `json:"text"`
}

// issueRequest is the body of GitLab's create and edit issue endpoints.
type issueRequest struct {
	Title        string  `json:"title,omitempty"`
	Description  *string `json:"description,omitempty"`
	Labels       *string `json:"labels,omitempty"`
	AssigneeIDs  []int64 `json:"assignee_ids,omitempty"`
	MilestoneID  *int64  `json:"milestone_id,omitempty"`
	Confidential *bool   `json:"confidential,omitempty"`
	DueDate      string  `json:"due_date,omitempty"`
	IssueType    string  `json:"issue_type,omitempty"`
	StateEvent   string  `json:"state_event,omitempty"`
}

// labels accepts GitLab's comma-separated string or an array and returns the string.
func labels(raw json.RawMessage) (*string, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(t, &s) == nil {
		return &s, nil
	}
	var arr []string
	if err := json.Unmarshal(t, &arr); err != nil {
		return nil, fmt.Errorf("labels must be a string or an array of strings")
	}
	for i, l := range arr {
		if strings.Contains(l, ",") {
			return nil, fmt.Errorf("label %d contains a comma, which GitLab uses as the separator", i)
		}
	}
	joined := strings.Join(arr, ",")
	return &joined, nil
}

// Invoke performs one operation; see the package documentation.
func (c *Connector) Invoke(ctx context.Context, r *connectors.Request) (*connectors.Response, error) {
	if r == nil {
		return nil, connectors.BadRequest("gitlab.invoke", "nil request")
	}
	name := r.Operation
	if name == "" {
		name = c.opts.DefaultOperation
	}
	op := "gitlab." + name
	var p payload
	if len(bytes.TrimSpace(r.Body)) > 0 {
		if err := json.Unmarshal(r.Body, &p); err != nil {
			return nil, connectors.BadRequest(op, "payload must be a JSON object with GitLab issue or work item fields")
		}
	}
	proj, err := c.projectPath(r.Params)
	if err != nil {
		return nil, connectors.BadRequest(op, err.Error())
	}
	iid := func(kind string) (string, error) {
		n := restclient.FirstNonEmpty(r.Param("iid"), p.IID.String())
		if v, err := strconv.ParseUint(n, 10, 64); err != nil || v == 0 {
			return "", fmt.Errorf("%s needs the %s iid as a positive integer (params.iid or payload iid)", name, kind)
		}
		return n, nil
	}
	var (
		method, path string
		body         any
		idField      = "iid"
	)
	switch name {
	case OpCreateIssue, OpUpdateIssue:
		lb, err := labels(p.Labels)
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		req := &issueRequest{Title: p.Title, Description: p.Description, Labels: lb, AssigneeIDs: p.AssigneeIDs, MilestoneID: p.MilestoneID,
			Confidential: p.Confidential, DueDate: p.DueDate, IssueType: p.IssueType}
		method, path, body = http.MethodPost, proj+"/issues", req
		if name == OpUpdateIssue {
			n, err := iid("issue")
			if err != nil {
				return nil, connectors.BadRequest(op, err.Error())
			}
			switch {
			case p.StateEvent != "":
				req.StateEvent = p.StateEvent
			case p.Status == "done":
				req.StateEvent = "close"
			case p.Status != "":
				req.StateEvent = "reopen"
			}
			method, path = http.MethodPut, proj+"/issues/"+n
		} else if strings.TrimSpace(p.Title) == "" {
			return nil, connectors.BadRequest(op, "create_issue needs a non-empty title")
		}
	case OpComment, OpMRComment:
		kind, coll := "issue", "/issues/"
		if name == OpMRComment {
			kind, coll = "merge request", "/merge_requests/"
		}
		n, err := iid(kind)
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		text := restclient.FirstNonEmpty(p.Body, p.Comment, p.Text)
		if text == "" && p.Description != nil {
			text = *p.Description
		}
		if text == "" {
			return nil, connectors.BadRequest(op, "a note needs a body, comment, text or description")
		}
		method, path, body, idField = http.MethodPost, proj+coll+n+"/notes", map[string]string{"body": text}, "id"
	default:
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown operation %q", name))
	}
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
	var doc map[string]any
	if json.Unmarshal(res.Body, &doc) == nil {
		if v, ok := doc[idField].(float64); ok {
			resp.RemoteID = strconv.FormatInt(int64(v), 10)
		}
	}
	return resp, nil
}

// List pages through the project's issues, least recently updated first, with keyset
// pagination (pagination=keyset, order_by=updated_at, sort=asc), following the Link
// header's rel="next" (which must stay on the configured host); an instance without
// keyset pagination for issues answers with offset pagination, whose Link header or
// X-Next-Page is followed the same way. ListRequest.Since maps to updated_after and
// Limit to per_page (at most 100).
func (c *Connector) List(ctx context.Context, lr *connectors.ListRequest) (*connectors.Page, error) {
	const op = "gitlab." + OpListIssues
	if lr == nil {
		return nil, connectors.BadRequest(op, "nil list request")
	}
	if lr.Operation != "" && lr.Operation != OpListIssues {
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown list operation %q", lr.Operation))
	}
	var target string
	if lr.Cursor != "" {
		u, err := c.base.Resolve(lr.Cursor)
		if err != nil {
			return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, Err: err}
		}
		target = u
	} else {
		proj, err := c.projectPath(lr.Params)
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		per := lr.Limit
		if per <= 0 || per > MaxPerPage {
			per = MaxPerPage
		}
		q := url.Values{"pagination": {"keyset"}, "order_by": {"updated_at"}, "sort": {"asc"}, "per_page": {strconv.Itoa(per)}, "scope": {"all"}}
		if !lr.Since.IsZero() {
			q.Set("updated_after", lr.Since.UTC().Format(time.RFC3339))
		}
		target = c.base.Join(proj+"/issues", q)
	}
	res, err := c.rest.Do(ctx, &restclient.Call{Op: op, Method: http.MethodGet, URL: target})
	if err != nil {
		return nil, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(res.Body, &items); err != nil {
		return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode, Message: "response is not a JSON array"}
	}
	next := httpconn.NextLink(res.Header)
	if next == "" {
		if page := res.Header.Get("X-Next-Page"); page != "" {
			if u, err := url.Parse(target); err == nil {
				q := u.Query()
				q.Set("page", page)
				u.RawQuery = q.Encode()
				next = u.String()
			}
		}
	}
	if err := connectors.CheckCursor(op, lr.Cursor, next); err != nil {
		return nil, err
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	return &connectors.Page{Items: items, NextCursor: next}, nil
}

// Check reads the configured project (GET /projects/{id}), or the token's user (GET
// /user) when no project is configured.
func (c *Connector) Check(ctx context.Context) error {
	path := "/user"
	if p, err := c.projectPath(nil); err == nil {
		path = p
	}
	_, err := c.rest.Do(ctx, &restclient.Call{Op: "gitlab.check", Method: http.MethodGet, URL: c.base.Join(path, nil)})
	return err
}

// RateLimit is GitLab's rate-limit state from the RateLimit-* headers.
type RateLimit struct {
	// Name is RateLimit-Name, the throttle that applies.
	Name string
	// Limit, Observed and Remaining are the requests allowed, made and left in the
	// window.
	Limit, Observed, Remaining int
	// Reset is when the window resets (RateLimit-Reset, Unix seconds, or
	// RateLimit-ResetTime, an HTTP date).
	Reset time.Time
}

// ParseRateLimit reads the RateLimit-* headers. ok is false when RateLimit-Remaining
// is absent or malformed.
func ParseRateLimit(h http.Header) (rl RateLimit, ok bool) {
	rem, err := strconv.Atoi(strings.TrimSpace(h.Get("Ratelimit-Remaining")))
	if err != nil {
		return RateLimit{}, false
	}
	rl.Remaining, rl.Name = rem, h.Get("Ratelimit-Name")
	rl.Limit, _ = strconv.Atoi(h.Get("Ratelimit-Limit"))
	rl.Observed, _ = strconv.Atoi(h.Get("Ratelimit-Observed"))
	if secs, err := strconv.ParseInt(strings.TrimSpace(h.Get("Ratelimit-Reset")), 10, 64); err == nil && secs > 0 {
		rl.Reset = time.Unix(secs, 0).UTC()
	} else if t, err := http.ParseTime(h.Get("Ratelimit-Resettime")); err == nil {
		rl.Reset = t
	}
	return rl, true
}

// observe closes the gate until RateLimit-Reset when RateLimit-Remaining reaches 0.
func (c *Connector) observe(_ string, res *connectors.HTTPResult) {
	if rl, ok := ParseRateLimit(res.Header); ok && rl.Remaining == 0 && !rl.Reset.IsZero() {
		c.rest.Gate.Block(restclient.GlobalKey, rl.Reset)
	}
}

// classify maps GitLab's error bodies — {"message": "..."} or {"message": {field:
// [...]}}, {"error": "...", "error_description": "..."} for OAuth, and the plain text
// "Retry later" of a 429 — to a class by status; a 429 is rate-limited for
// Retry-After, or until RateLimit-Reset, and closes the gate until then. The code is
// the OAuth error or RateLimit-Name.
func (c *Connector) classify(op string, res *connectors.HTTPResult) *connectors.Error {
	var doc struct {
		Message json.RawMessage `json:"message"`
		Error   string          `json:"error"`
		Desc    string          `json:"error_description"`
	}
	msg, code := "", ""
	if json.Unmarshal(res.Body, &doc) == nil {
		code = doc.Error
		var s string
		switch {
		case json.Unmarshal(doc.Message, &s) == nil:
			msg = s
		case len(doc.Message) > 0:
			var fields map[string][]string
			if json.Unmarshal(doc.Message, &fields) == nil {
				var parts []string
				for f, errs := range fields {
					parts = append(parts, f+" "+strings.Join(errs, ", "))
				}
				slices.Sort(parts)
				msg = strings.Join(parts, "; ")
			}
		}
		msg = restclient.FirstNonEmpty(msg, doc.Desc)
	} else if len(res.Body) <= 256 {
		msg = strings.TrimSpace(string(res.Body))
	}
	now := c.now()
	e := connectors.StatusError(op, res, code, msg, now, c.secrets...)
	if e.Class != connectors.ClassRateLimited {
		return e
	}
	rl, ok := ParseRateLimit(res.Header)
	if ok {
		e.Code = connectors.Redact(rl.Name, c.secrets...)
		if e.RetryDelay == 0 && rl.Reset.After(now) {
			e.RetryDelay = rl.Reset.Sub(now)
		}
	}
	if e.RetryDelay > 0 {
		c.rest.Gate.Block(restclient.GlobalKey, now.Add(e.RetryDelay))
	}
	return e
}

// VerifyWebhook checks a GitLab webhook delivery against what is configured: the
// secret token (X-Gitlab-Token, compared in constant time) and, with a signing token,
// the Standard Webhooks signature ([VerifySigned]). Both must pass when both are
// configured; with neither, every delivery is rejected. The event is X-Gitlab-Event,
// the delivery id X-Gitlab-Event-UUID (else webhook-id or Idempotency-Key).
func (c *Connector) VerifyWebhook(header http.Header, body []byte) (*connectors.WebhookEvent, error) {
	if c.auth.WebhookToken == "" && c.auth.SigningToken == "" {
		return nil, fmt.Errorf("gitlab: %w: no webhook token or signing token configured", connectors.ErrInvalidSignature)
	}
	ev := &connectors.WebhookEvent{Event: header.Get("X-Gitlab-Event"), Body: body,
		DeliveryID: restclient.FirstNonEmpty(header.Get("X-Gitlab-Event-Uuid"), header.Get("Webhook-Id"), header.Get("Idempotency-Key"))}
	if c.auth.WebhookToken != "" && !hmac.Equal([]byte(header.Get("X-Gitlab-Token")), []byte(c.auth.WebhookToken)) {
		return nil, fmt.Errorf("gitlab: %w: X-Gitlab-Token missing or wrong", connectors.ErrInvalidSignature)
	}
	if c.auth.SigningToken != "" {
		ts, err := VerifySigned(signingKey(c.auth.SigningToken), header, body, c.now())
		if err != nil {
			return nil, err
		}
		ev.Timestamp = ts
	}
	if ev.Event == "" {
		return nil, fmt.Errorf("gitlab: %w: X-Gitlab-Event missing", connectors.ErrInvalidSignature)
	}
	return ev, nil
}

// signingKey is the HMAC key of a signing token: the base64 after "whsec_" when the
// token has that Standard Webhooks form, else the token's bytes.
func signingKey(token string) []byte {
	if rest, ok := strings.CutPrefix(token, "whsec_"); ok {
		if k, err := base64.StdEncoding.DecodeString(rest); err == nil {
			return k
		}
	}
	return []byte(token)
}

// Sign returns a webhook-signature value for a delivery: "v1," + base64
// HMAC-SHA256 of "{id}.{timestamp}.{body}" under key. Fakes and tests use it.
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// VerifySigned checks a Standard Webhooks signature as GitLab's signing tokens send it:
// webhook-signature holds space-separated "v1,<base64>" entries, one of which must be
// [Sign] of webhook-id, webhook-timestamp (Unix seconds) and the raw body under key,
// compared in constant time; a timestamp more than [ReplayWindow] from now is stale.
// It returns the signed time.
func VerifySigned(key []byte, header http.Header, body []byte, now time.Time) (time.Time, error) {
	id, tsRaw, sigs := header.Get("Webhook-Id"), header.Get("Webhook-Timestamp"), header.Get("Webhook-Signature")
	ts, err := strconv.ParseInt(tsRaw, 10, 64)
	if id == "" || err != nil || sigs == "" || len(key) == 0 {
		return time.Time{}, fmt.Errorf("gitlab: %w: webhook-id, webhook-timestamp or webhook-signature missing", connectors.ErrInvalidSignature)
	}
	want := []byte(Sign(key, id, ts, body))
	matched := false
	for s := range strings.FieldsSeq(sigs) {
		if hmac.Equal([]byte(s), want) {
			matched = true
		}
	}
	if !matched {
		return time.Time{}, fmt.Errorf("gitlab: %w: webhook-signature does not match", connectors.ErrInvalidSignature)
	}
	signed := time.Unix(ts, 0).UTC()
	if d := now.Sub(signed); d > ReplayWindow || d < -ReplayWindow {
		return time.Time{}, fmt.Errorf("gitlab: %w: webhook-timestamp is %s from now", connectors.ErrStaleWebhook, d.Round(time.Second))
	}
	return signed, nil
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
