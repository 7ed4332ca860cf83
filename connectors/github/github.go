package github

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ehg/hub/connectors"
)

// Kind is the registry kind of this connector.
const Kind = "github"

// Defaults.
const (
	// DefaultBaseURL is the public GitHub API root.
	DefaultBaseURL = "https://api.github.com"
	// DefaultAPIVersion is sent as X-GitHub-Api-Version.
	DefaultAPIVersion = "2022-11-28"
	// DefaultUserAgent is sent when Config.UserAgent is empty (GitHub requires one).
	DefaultUserAgent = "ehg-hub-github/1"
	// DefaultDispatchEventType is the repository_dispatch event_type when neither
	// the request nor the options give one.
	DefaultDispatchEventType = "hub-event"
	// SecondaryRateLimitWait is the delay for a secondary rate limit answered with
	// no Retry-After: GitHub advises waiting at least one minute.
	SecondaryRateLimitWait = time.Minute
)

// Operation names.
const (
	OpCreateIssue        = "create_issue"
	OpUpdateIssue        = "update_issue"
	OpComment            = "comment"
	OpRepositoryDispatch = "repository_dispatch"
	OpListIssues         = "list_issues"
)

// Auth is the credentials document.
type Auth struct {
	// Token is a personal access token or an app installation token. Required.
	Token string `json:"token"`
	// WebhookSecret verifies X-Hub-Signature-256 on inbound webhooks. Optional;
	// without it every delivery is rejected.
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

// Options is the settings document.
type Options struct {
	// Owner is the default repository owner.
	Owner string `json:"owner,omitempty"`
	// Repo is the default repository name.
	Repo string `json:"repo,omitempty"`
	// DefaultOperation is performed when a request names none; default
	// create_issue.
	DefaultOperation string `json:"default_operation,omitempty"`
	// DispatchEventType is repository_dispatch's default event_type.
	DispatchEventType string `json:"dispatch_event_type,omitempty"`
	// APIVersion is sent as X-GitHub-Api-Version; default DefaultAPIVersion.
	APIVersion string `json:"api_version,omitempty"`
}

// Connector talks to the GitHub REST API. It is safe for concurrent use.
type Connector struct {
	name      string
	base      connectors.BaseURL
	client    *http.Client
	limit     int64
	userAgent string
	now       func() time.Time
	auth      Auth
	opts      Options
}

// Factory is the [connectors.Factory] for kind "github".
func Factory(cfg connectors.Config) (connectors.Connector, error) { return New(cfg) }

// New builds a connector; cfg.BaseURL defaults to DefaultBaseURL. Errors wrap
// connectors.ErrInvalidConfig and name the field.
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
	if err := cfg.DecodeAuth(&c.auth); err != nil {
		return nil, err
	}
	if c.auth.Token == "" {
		return nil, fmt.Errorf("%w: auth.token is required", connectors.ErrInvalidConfig)
	}
	if err := cfg.DecodeOptions(&c.opts); err != nil {
		return nil, err
	}
	switch c.opts.DefaultOperation {
	case "":
		c.opts.DefaultOperation = OpCreateIssue
	case OpCreateIssue, OpUpdateIssue, OpComment, OpRepositoryDispatch:
	default:
		return nil, fmt.Errorf("%w: options.default_operation %q is not a github operation", connectors.ErrInvalidConfig, c.opts.DefaultOperation)
	}
	if c.opts.APIVersion == "" {
		c.opts.APIVersion = DefaultAPIVersion
	}
	if c.opts.DispatchEventType == "" {
		c.opts.DispatchEventType = DefaultDispatchEventType
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	return c, nil
}

// Info describes the connector.
func (c *Connector) Info() connectors.Info {
	return connectors.Info{
		Kind: Kind, Name: c.name, BaseURL: c.base.String(), DefaultOperation: c.opts.DefaultOperation,
		Operations: []string{OpComment, OpCreateIssue, OpListIssues, OpRepositoryDispatch, OpUpdateIssue},
	}
}

// Invoke performs one operation; see the package documentation for the list and
// the payload mapping.
func (c *Connector) Invoke(ctx context.Context, r *connectors.Request) (*connectors.Response, error) {
	if r == nil {
		return nil, connectors.BadRequest("github.invoke", "nil request")
	}
	name := r.Operation
	if name == "" {
		name = c.opts.DefaultOperation
	}
	op := "github." + name
	var payload issuePayload
	if len(bytes.TrimSpace(r.Body)) > 0 {
		if err := json.Unmarshal(r.Body, &payload); err != nil {
			return nil, connectors.BadRequest(op, "payload must be a JSON object with GitHub issue or work item fields")
		}
	}
	repoPath, err := c.repoPath(r.Params)
	if err != nil {
		return nil, connectors.BadRequest(op, err.Error())
	}
	var (
		method, path string
		body         any
		idField      = "number"
	)
	switch name {
	case OpCreateIssue, OpUpdateIssue:
		update := name == OpUpdateIssue
		issue, err := payload.issue(update)
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		method, path, body = http.MethodPost, repoPath+"/issues", issue
		if update {
			num, err := payload.issueNumber(r.Params)
			if err != nil {
				return nil, connectors.BadRequest(op, err.Error())
			}
			method, path = http.MethodPatch, path+"/"+num
		}
	case OpComment:
		num, err := payload.issueNumber(r.Params)
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		text := firstNonEmpty(payload.Body.text(), payload.Comment, payload.Text, payload.Description.text())
		if text == "" {
			return nil, connectors.BadRequest(op, "comment needs a body, comment, text or description string")
		}
		method, path, body, idField = http.MethodPost, repoPath+"/issues/"+num+"/comments", commentRequest{Body: text}, "id"
	case OpRepositoryDispatch:
		eventType := firstNonEmpty(r.Param("event_type"), payload.EventType, c.opts.DispatchEventType)
		clientPayload := json.RawMessage(r.Body)
		if len(payload.ClientPayload) > 0 {
			clientPayload = payload.ClientPayload
		}
		if len(bytes.TrimSpace(clientPayload)) == 0 {
			clientPayload = json.RawMessage(`{}`)
		}
		method, path, body, idField = http.MethodPost, repoPath+"/dispatches", dispatchRequest{EventType: eventType, ClientPayload: clientPayload}, ""
	default:
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown operation %q", name))
	}
	encoded, err := json.Marshal(body)
	if err != nil {
		return nil, connectors.BadRequest(op, "cannot encode request body")
	}
	res, err := c.do(ctx, op, method, c.base.Join(path, r.Query), encoded, r.Header, r.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	resp := &connectors.Response{StatusCode: res.StatusCode, Header: res.Header, Body: res.Body}
	if idField != "" {
		var doc map[string]any
		if json.Unmarshal(res.Body, &doc) == nil {
			if v, ok := doc[idField].(float64); ok {
				resp.RemoteID = strconv.FormatInt(int64(v), 10)
			}
		}
	}
	return resp, nil
}

// Check calls GET /rate_limit, which validates the token without spending the
// primary rate limit.
func (c *Connector) Check(ctx context.Context) error {
	_, err := c.do(ctx, "github.check", http.MethodGet, c.base.Join("/rate_limit", nil), nil, nil, "")
	return err
}

// List pages through a repository's issues, oldest update first. GitHub's issues
// endpoint also returns pull requests (items with a "pull_request" key); List drops
// them unless ListRequest.Params["include_pull_requests"] is "true", so a page may
// hold fewer items than the page size, or none, while NextCursor continues.
// ListRequest.Since maps to since, ListRequest.Limit to per_page (default 100), and
// the cursor is the Link header's next URL, which must stay on the configured host.
func (c *Connector) List(ctx context.Context, lr *connectors.ListRequest) (*connectors.Page, error) {
	const op = "github." + OpListIssues
	if lr == nil {
		return nil, connectors.BadRequest(op, "nil list request")
	}
	if lr.Operation != "" && lr.Operation != OpListIssues {
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown list operation %q", lr.Operation))
	}
	withPRs, err := boolParam(lr.Params, "include_pull_requests")
	if err != nil {
		return nil, connectors.BadRequest(op, err.Error())
	}
	var target string
	if lr.Cursor != "" {
		u, err := c.base.Resolve(lr.Cursor)
		if err != nil {
			return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, Err: err}
		}
		target = u
	} else {
		repoPath, err := c.repoPath(lr.Params)
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		per := lr.Limit
		if per <= 0 || per > 100 {
			per = 100
		}
		q := url.Values{"state": {"all"}, "sort": {"updated"}, "direction": {"asc"}, "per_page": {strconv.Itoa(per)}}
		if !lr.Since.IsZero() {
			q.Set("since", lr.Since.UTC().Format(time.RFC3339))
		}
		target = c.base.Join(repoPath+"/issues", q)
	}
	res, err := c.do(ctx, op, http.MethodGet, target, nil, nil, "")
	if err != nil {
		return nil, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(res.Body, &items); err != nil {
		return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode, Message: "response is not a JSON array"}
	}
	if !withPRs {
		items = slices.DeleteFunc(items, isPullRequest)
	}
	next := nextLink(res.Header)
	if err := connectors.CheckCursor(op, lr.Cursor, next); err != nil {
		return nil, err
	}
	return &connectors.Page{Items: items, NextCursor: next}, nil
}

// isPullRequest reports whether an item of the issues listing is a pull request: GitHub
// marks those with a "pull_request" object.
func isPullRequest(item json.RawMessage) bool {
	var probe struct {
		PullRequest json.RawMessage `json:"pull_request"`
	}
	return json.Unmarshal(item, &probe) == nil && !isNull(probe.PullRequest)
}

// boolParam reads params[name] as "true" or "false"; absent is false.
func boolParam(params map[string]string, name string) (bool, error) {
	switch params[name] {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, fmt.Errorf("params.%s must be true or false", name)
	}
}

func (c *Connector) repoPath(params map[string]string) (string, error) {
	owner, repo := params["owner"], params["repo"]
	if owner == "" {
		owner = c.opts.Owner
	}
	if repo == "" {
		repo = c.opts.Repo
	}
	if owner == "" || repo == "" {
		return "", fmt.Errorf("owner and repo are required (params or options)")
	}
	return "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(repo), nil
}

// rawText is a JSON value that is used only when it is a string.
type rawText json.RawMessage

// UnmarshalJSON keeps the raw value.
func (t *rawText) UnmarshalJSON(b []byte) error {
	*t = append((*t)[:0], b...)
	return nil
}

// text returns the value when it is a JSON string, else "".
func (t rawText) text() string {
	var s string
	if len(t) > 0 && t[0] == '"' && json.Unmarshal(t, &s) == nil {
		return s
	}
	return ""
}

// issuePayload is the subset of a payload (a GitHub issue or the hub's canonical
// work item) the operations read; other fields are ignored without being decoded.
type issuePayload struct {
	Title         string          `json:"title"`
	Body          rawText         `json:"body"`
	Description   rawText         `json:"description"`
	Labels        json.RawMessage `json:"labels"`
	Assignees     json.RawMessage `json:"assignees"`
	Milestone     json.RawMessage `json:"milestone"`
	State         string          `json:"state"`
	Status        string          `json:"status"`
	Number        json.Number     `json:"number"`
	Comment       string          `json:"comment"`
	Text          string          `json:"text"`
	EventType     string          `json:"event_type"`
	ClientPayload json.RawMessage `json:"client_payload"`
}

// issueRequest is the body of GitHub's create and update issue endpoints.
type issueRequest struct {
	Title     string          `json:"title,omitempty"`
	Body      json.RawMessage `json:"body,omitempty"`
	Labels    json.RawMessage `json:"labels,omitempty"`
	Assignees json.RawMessage `json:"assignees,omitempty"`
	Milestone int64           `json:"milestone,omitempty"`
	State     string          `json:"state,omitempty"`
}

type commentRequest struct {
	Body string `json:"body"`
}

type dispatchRequest struct {
	EventType     string          `json:"event_type"`
	ClientPayload json.RawMessage `json:"client_payload"`
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// issue maps the payload to GitHub's issue fields: title; body from body or else
// description; labels and assignees (arrays); milestone when it is a number; for
// updates, state from state or else closed/open from the work item status.
func (p *issuePayload) issue(update bool) (*issueRequest, error) {
	out := &issueRequest{Title: p.Title}
	if out.Title == "" && !update {
		return nil, fmt.Errorf("create_issue needs a non-empty title")
	}
	switch {
	case len(p.Body) > 0:
		out.Body = json.RawMessage(p.Body)
	case len(p.Description) > 0:
		out.Body = json.RawMessage(p.Description)
	}
	for name, raw := range map[string]json.RawMessage{"labels": p.Labels, "assignees": p.Assignees} {
		if isNull(raw) {
			continue
		}
		if bytes.TrimSpace(raw)[0] != '[' {
			return nil, fmt.Errorf("%s must be an array", name)
		}
	}
	if !isNull(p.Labels) {
		out.Labels = p.Labels
	}
	if !isNull(p.Assignees) {
		out.Assignees = p.Assignees
	}
	if n, err := strconv.ParseInt(string(bytes.TrimSpace(p.Milestone)), 10, 64); err == nil && n > 0 {
		out.Milestone = n
	}
	if update {
		switch {
		case p.State != "":
			out.State = p.State
		case p.Status == "done":
			out.State = "closed"
		case p.Status != "":
			out.State = "open"
		}
	}
	return out, nil
}

func (p *issuePayload) issueNumber(params map[string]string) (string, error) {
	n := params["number"]
	if n == "" {
		n = p.Number.String()
	}
	if v, err := strconv.ParseUint(n, 10, 64); err != nil || v == 0 {
		return "", fmt.Errorf("issue number is required as a positive integer (params.number or payload.number)")
	}
	return n, nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func (c *Connector) do(ctx context.Context, op, method, target string, body []byte, extra http.Header, idemKey string) (*connectors.HTTPResult, error) {
	req, err := connectors.NewJSONRequest(ctx, op, method, target, body, extra, idemKey, c.userAgent)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", c.opts.APIVersion)
	req.Header.Set("Authorization", "Bearer "+c.auth.Token)
	res, err := connectors.Do(ctx, c.client, op, req, c.limit)
	if err != nil {
		return nil, err
	}
	if !res.OK() {
		return nil, c.statusError(op, res)
	}
	return res, nil
}

// statusError classifies a GitHub error response, including primary and secondary
// rate limits reported with 403 or 429.
func (c *Connector) statusError(op string, res *connectors.HTTPResult) *connectors.Error {
	var doc struct {
		Message          string `json:"message"`
		DocumentationURL string `json:"documentation_url"`
	}
	_ = json.Unmarshal(res.Body, &doc)
	now := c.now()
	e := connectors.StatusError(op, res, "", doc.Message, now, c.auth.Token, c.auth.WebhookSecret)
	if res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusTooManyRequests {
		return e
	}
	rl, hasRL := ParseRateLimit(res.Header)
	switch {
	case e.RetryDelay > 0: // Retry-After: secondary limit
		e.Class, e.Code = connectors.ClassRateLimited, "secondary_rate_limit"
	case hasRL && rl.Remaining == 0:
		e.Class, e.Code = connectors.ClassRateLimited, "primary_rate_limit"
		if d := rl.Reset.Sub(now); d > 0 {
			e.RetryDelay = d
		}
	case strings.Contains(doc.DocumentationURL, "secondary-rate-limits"):
		e.Class, e.Code, e.RetryDelay = connectors.ClassRateLimited, "secondary_rate_limit", SecondaryRateLimitWait
	case res.StatusCode == http.StatusTooManyRequests:
		e.Class = connectors.ClassRateLimited
	}
	return e
}

// RateLimit is GitHub's primary rate-limit state from the x-ratelimit-* headers.
type RateLimit struct {
	// Limit is the maximum requests per window (x-ratelimit-limit).
	Limit int
	// Remaining is the requests left in the window (x-ratelimit-remaining).
	Remaining int
	// Used is the requests made in the window (x-ratelimit-used).
	Used int
	// Reset is when the window resets (x-ratelimit-reset, epoch seconds).
	Reset time.Time
	// Resource is the rate-limit bucket, e.g. "core" or "search".
	Resource string
}

// ParseRateLimit reads the x-ratelimit-* headers. ok is false when
// x-ratelimit-remaining is absent or malformed.
func ParseRateLimit(h http.Header) (rl RateLimit, ok bool) {
	rem, err := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	if err != nil {
		return RateLimit{}, false
	}
	rl.Remaining = rem
	rl.Limit, _ = strconv.Atoi(h.Get("X-RateLimit-Limit"))
	rl.Used, _ = strconv.Atoi(h.Get("X-RateLimit-Used"))
	if secs, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
		rl.Reset = time.Unix(secs, 0).UTC()
	}
	rl.Resource = h.Get("X-RateLimit-Resource")
	return rl, true
}

// VerifyWebhook checks a delivery's X-Hub-Signature-256 against the configured
// webhook secret in constant time and returns the event (X-GitHub-Event) and
// delivery id (X-GitHub-Delivery). Errors wrap connectors.ErrInvalidSignature.
func (c *Connector) VerifyWebhook(header http.Header, body []byte) (*connectors.WebhookEvent, error) {
	return VerifySignature([]byte(c.auth.WebhookSecret), header, body)
}

// VerifySignature is VerifyWebhook for callers holding only the secret.
func VerifySignature(secret []byte, header http.Header, body []byte) (*connectors.WebhookEvent, error) {
	sig := header.Get("X-Hub-Signature-256")
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return nil, fmt.Errorf("github: %w: X-Hub-Signature-256 missing or not sha256=", connectors.ErrInvalidSignature)
	}
	if !connectors.ValidHMACSHA256(secret, body, hexSig) {
		return nil, fmt.Errorf("github: %w: signature does not match body", connectors.ErrInvalidSignature)
	}
	event := header.Get("X-GitHub-Event")
	if event == "" {
		return nil, fmt.Errorf("github: %w: X-GitHub-Event missing", connectors.ErrInvalidSignature)
	}
	return &connectors.WebhookEvent{Event: event, DeliveryID: header.Get("X-GitHub-Delivery"), Body: body}, nil
}

// nextLink returns the rel="next" URL of a Link header, or "".
func nextLink(h http.Header) string {
	for _, line := range h.Values("Link") {
		for part := range strings.SplitSeq(line, ",") {
			target, params, ok := strings.Cut(part, ";")
			if !ok {
				continue
			}
			target = strings.TrimSpace(target)
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for attr := range strings.SplitSeq(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(attr), "=")
				if strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" {
					return target[1 : len(target)-1]
				}
			}
		}
	}
	return ""
}

// Interface guards.
var (
	_ connectors.Connector       = (*Connector)(nil)
	_ connectors.Lister          = (*Connector)(nil)
	_ connectors.WebhookVerifier = (*Connector)(nil)
	_ connectors.Factory         = Factory
)
