package httpconn

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/internal/oauthtoken"
)

// Kind is the registry kind of this connector.
const Kind = "http"

// DefaultUserAgent is sent when Config.UserAgent is empty.
const DefaultUserAgent = "ehg-hub-httpconn/1"

// Connector is a generic JSON REST connector configured by data. It is safe for
// concurrent use.
type Connector struct {
	name      string
	base      connectors.BaseURL
	client    *http.Client
	limit     int64
	userAgent string
	now       func() time.Time
	auth      Auth
	opts      Options
	tokens    *oauthtoken.Cache // OAuth2 types only
	secrets   []string
	webhook   connectors.WebhookVerifier // nil without Options.Webhook
}

// Factory is the [connectors.Factory] for kind "http": cfg.Auth decodes into [Auth]
// and cfg.Options into [Options].
func Factory(cfg connectors.Config) (connectors.Connector, error) { return New(cfg) }

// New builds a connector. cfg.BaseURL is required. Errors wrap
// connectors.ErrInvalidConfig and name the bad field.
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
	if err := c.auth.validate(); err != nil {
		return nil, err
	}
	if err := cfg.DecodeOptions(&c.opts); err != nil {
		return nil, err
	}
	if err := c.opts.normalise(); err != nil {
		return nil, err
	}
	c.secrets = c.auth.secrets()
	if c.opts.Webhook != nil {
		if c.webhook, err = c.opts.Webhook.Verifier(c.auth.webhookSecrets(), c.now); err != nil {
			return nil, err
		}
	}
	if c.auth.Type == AuthBasic {
		// The encoded header value is as much a secret as the password: remotes echo it.
		c.secrets = append(c.secrets, base64.StdEncoding.EncodeToString([]byte(c.auth.Username+":"+c.auth.Password)))
	}
	// A webhook URL's path is its credential (Discord, Teams, Slack incoming webhooks).
	if u, err := url.Parse(base.String()); err == nil && len(u.Path) > 1 {
		c.secrets = append(c.secrets, u.Path)
	}
	switch c.auth.Type {
	case AuthOAuth2ClientCredentials:
		cc := &clientcredentials.Config{
			ClientID: c.auth.ClientID, ClientSecret: c.auth.ClientSecret, TokenURL: c.auth.TokenURL,
			Scopes: c.auth.Scopes, EndpointParams: endpointParams(c.auth.EndpointParams), AuthStyle: c.authStyle(),
		}
		c.tokens = oauthtoken.New(func(ctx context.Context, _ *oauth2.Token) (*oauth2.Token, error) {
			return cc.Token(oauthtoken.WithClient(ctx, c.client))
		}, nil, c.now)
	case AuthOAuth2RefreshToken:
		oc := &oauth2.Config{
			ClientID: c.auth.ClientID, ClientSecret: c.auth.ClientSecret, Scopes: c.auth.Scopes,
			Endpoint: oauth2.Endpoint{TokenURL: c.auth.TokenURL, AuthStyle: c.authStyle()},
		}
		c.tokens = oauthtoken.New(func(ctx context.Context, prev *oauth2.Token) (*oauth2.Token, error) {
			rt := c.auth.RefreshToken
			if prev != nil && prev.RefreshToken != "" {
				rt = prev.RefreshToken // rotated by the server
			}
			return oc.TokenSource(oauthtoken.WithClient(ctx, c.client), &oauth2.Token{RefreshToken: rt}).Token()
		}, &oauth2.Token{RefreshToken: c.auth.RefreshToken}, c.now).Persist(cfg.Tokens)
	}
	return c, nil
}

func (c *Connector) authStyle() oauth2.AuthStyle {
	if c.auth.ClientAuthInParams {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

func endpointParams(m map[string]string) url.Values {
	if len(m) == 0 {
		return nil
	}
	v := url.Values{}
	for k, s := range m {
		v.Set(k, s)
	}
	return v
}

// Info reports kind "http", the operations and the base URL's origin only (the
// path of a webhook URL is a credential).
func (c *Connector) Info() connectors.Info {
	ops := make([]string, 0, len(c.opts.Operations))
	for name := range c.opts.Operations {
		ops = append(ops, name)
	}
	slices.Sort(ops)
	origin := c.base.String()
	if u, err := url.Parse(origin); err == nil {
		origin = u.Scheme + "://" + u.Host
	}
	return connectors.Info{Kind: Kind, Name: c.name, BaseURL: origin, Operations: ops, DefaultOperation: c.opts.DefaultOperation}
}

// Invoke performs the named operation (Options.DefaultOperation when empty).
// Request.Method and Request.Path, when set, override the operation's; Query and
// Header are added. 2xx is success; other statuses return a classified
// *connectors.Error. With OAuth2 auth, a 401 invalidates the token and the call is
// retried once with a fresh one.
func (c *Connector) Invoke(ctx context.Context, r *connectors.Request) (*connectors.Response, error) {
	if r == nil {
		return nil, connectors.BadRequest("http.invoke", "nil request")
	}
	name := r.Operation
	if name == "" {
		name = c.opts.DefaultOperation
	}
	op := "http." + name
	spec, ok := c.opts.Operations[name]
	if !ok {
		return nil, connectors.BadRequest(op, fmt.Sprintf("unknown operation %q", name))
	}
	method, path := spec.Method, spec.Path
	if r.Path != "" {
		path = r.Path
	}
	// Decode the payload only when a template reads it; plain delivery forwards the
	// bytes untouched (validated as JSON when the request is built).
	var payload any
	if spec.bodyTmpl != nil || strings.Contains(path, "{") || len(spec.Query) > 0 {
		var err error
		if payload, err = decodePayload(r.Body); err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
	}
	if r.Method != "" {
		method = strings.ToUpper(r.Method)
	}
	path, err := renderPath(path, r.Params, payload)
	if err != nil {
		return nil, connectors.BadRequest(op, err.Error())
	}
	query := renderQuery(spec.Query, r.Params, payload)
	for k, vs := range r.Query {
		query[k] = append(query[k], vs...)
	}
	body := []byte(r.Body)
	switch {
	case spec.noBody:
		body = nil
	case spec.bodyTmpl != nil:
		body, err = json.Marshal(renderBody(spec.bodyTmpl, payload))
		if err != nil {
			return nil, connectors.BadRequest(op, "cannot render body template")
		}
	}
	bodies, err := c.requestBodies(spec, body)
	if err != nil {
		return nil, connectors.BadRequest(op, err.Error())
	}
	var res *connectors.HTTPResult
	for i, b := range bodies {
		res, err = c.do(ctx, op, method, c.base.Join(path, query), b, r.Header, chunkKey(r.IdempotencyKey, i, len(bodies)))
		if err == nil && !res.OK() {
			err = c.statusError(op, res)
		}
		if err != nil {
			var ce *connectors.Error
			if i > 0 && errors.As(err, &ce) {
				ce.Message = fmt.Sprintf("batch request %d of %d failed after %d were accepted: %s", i+1, len(bodies), i, ce.Message)
			}
			return nil, err
		}
	}
	resp := &connectors.Response{StatusCode: res.StatusCode, Header: res.Header, Body: res.Body}
	if spec.RemoteIDField != "" {
		if v, err := decodePayload(res.Body); err == nil {
			if id, ok := lookup(v, spec.RemoteIDField); ok {
				resp.RemoteID = scalarString(id)
			}
		}
	} else {
		resp.RemoteID = res.Header.Get("Location")
	}
	return resp, nil
}

// requestBodies returns the bodies one delivery sends: body split by the operation's
// Batch, with the API key put in the body when auth says so; body alone otherwise.
func (c *Connector) requestBodies(spec *Operation, body []byte) ([][]byte, error) {
	keyField := ""
	if c.auth.Type == AuthAPIKey {
		keyField = c.auth.BodyField
	}
	if spec.Batch == nil && keyField == "" {
		return [][]byte{body}, nil
	}
	doc, err := decodePayload(body)
	if err != nil {
		return nil, err
	}
	if keyField != "" {
		obj, ok := doc.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("auth.body_field needs a JSON object body")
		}
		obj[keyField] = c.auth.Key
	}
	if spec.Batch == nil {
		enc, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("cannot encode body")
		}
		return [][]byte{enc}, nil
	}
	return spec.Batch.split(doc)
}

// Check sends GET to Options.CheckPath (the base URL by default). See
// [Options.CheckPath] for what counts as healthy.
func (c *Connector) Check(ctx context.Context) error {
	const op = "http.check"
	res, err := c.do(ctx, op, http.MethodGet, c.base.Join(c.opts.CheckPath, nil), nil, nil, "")
	if err != nil {
		return err
	}
	if res.OK() {
		return nil
	}
	switch connectors.ClassForStatus(res.StatusCode) {
	case connectors.ClassPermanent:
		return nil // reachable, credentials accepted; the path merely has no GET
	default:
		return c.statusError(op, res)
	}
}

// List fetches one page of a paginated operation. See [Pagination] for how the
// cursor is interpreted by each type.
func (c *Connector) List(ctx context.Context, lr *connectors.ListRequest) (*connectors.Page, error) {
	if lr == nil {
		return nil, connectors.BadRequest("http.list", "nil list request")
	}
	name := lr.Operation
	if name == "" {
		name = c.opts.ListOperation
	}
	op := "http." + name
	spec, ok := c.opts.Operations[name]
	if !ok || spec.Pagination == nil {
		return nil, connectors.BadRequest(op, fmt.Sprintf("operation %q is not a paginated operation", name))
	}
	p := spec.Pagination
	var target string
	if p.Type == PaginateLink && lr.Cursor != "" {
		u, err := c.base.Resolve(lr.Cursor)
		if err != nil {
			return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, Err: err}
		}
		target = u
	} else {
		path, err := renderPath(spec.Path, lr.Params, nil)
		if err != nil {
			return nil, connectors.BadRequest(op, err.Error())
		}
		q := renderQuery(spec.Query, lr.Params, nil)
		size := lr.Limit
		if size == 0 {
			size = p.PageSize
		}
		if p.SizeParam != "" && size > 0 {
			q.Set(p.SizeParam, strconv.Itoa(size))
		}
		if p.SinceParam != "" && !lr.Since.IsZero() {
			q.Set(p.SinceParam, lr.Since.UTC().Format(time.RFC3339))
		}
		switch p.Type {
		case PaginateCursor:
			if lr.Cursor != "" {
				q.Set(p.CursorParam, lr.Cursor)
			}
		case PaginatePage:
			page := p.StartPage
			if lr.Cursor != "" {
				n, err := strconv.Atoi(lr.Cursor)
				if err != nil {
					return nil, connectors.BadRequest(op, "page cursor is not a number")
				}
				page = n
			}
			q.Set(p.PageParam, strconv.Itoa(page))
		}
		target = c.base.Join(path, q)
	}
	method := spec.Method
	if method == http.MethodPost && len(spec.Body) == 0 {
		method = http.MethodGet // a list operation without a body template is a GET
	}
	res, err := c.do(ctx, op, method, target, nil, nil, "")
	if err != nil {
		return nil, err
	}
	if !res.OK() {
		return nil, c.statusError(op, res)
	}
	doc, err := decodePayload(res.Body)
	if err != nil {
		return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode, Message: "response is not JSON"}
	}
	itemsV, _ := lookup(doc, p.ItemsField)
	arr, ok := itemsV.([]any)
	if !ok && itemsV != nil {
		return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, StatusCode: res.StatusCode, Message: fmt.Sprintf("items_field %q is not an array", p.ItemsField)}
	}
	page := &connectors.Page{Items: make([]json.RawMessage, 0, len(arr))}
	for _, it := range arr {
		b, err := json.Marshal(it)
		if err != nil {
			return nil, &connectors.Error{Class: connectors.ClassPermanent, Op: op, Message: "cannot encode item"}
		}
		page.Items = append(page.Items, b)
	}
	switch p.Type {
	case PaginateLink:
		page.NextCursor = NextLink(res.Header)
	case PaginateCursor:
		if v, ok := lookup(doc, p.CursorField); ok {
			page.NextCursor = scalarString(v)
		}
	case PaginatePage:
		size := lr.Limit
		if size == 0 {
			size = p.PageSize
		}
		if len(arr) > 0 && (size == 0 || len(arr) >= size) {
			cur := p.StartPage
			if lr.Cursor != "" {
				cur, _ = strconv.Atoi(lr.Cursor)
			}
			page.NextCursor = strconv.Itoa(cur + 1)
		}
	}
	if err := connectors.CheckCursor(op, lr.Cursor, page.NextCursor); err != nil {
		return nil, err
	}
	return page, nil
}

// NextLink returns the rel="next" target of an RFC 8288 Link header, or "".
func NextLink(h http.Header) string {
	for _, line := range h.Values("Link") {
		for part := range strings.SplitSeq(line, ",") {
			segs := strings.Split(part, ";")
			target := strings.TrimSpace(segs[0])
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, attr := range segs[1:] {
				k, v, _ := strings.Cut(strings.TrimSpace(attr), "=")
				if strings.EqualFold(strings.TrimSpace(k), "rel") && slices.Contains(strings.Fields(strings.Trim(v, `"`)), "next") {
					return target[1 : len(target)-1]
				}
			}
		}
	}
	return ""
}

// do sends one request with authentication, retrying once after a 401 when the
// credentials are OAuth2 tokens that can be refreshed.
func (c *Connector) do(ctx context.Context, op, method, target string, body []byte, extra http.Header, idemKey string) (*connectors.HTTPResult, error) {
	for attempt := 0; ; attempt++ {
		req, err := connectors.NewJSONRequest(ctx, op, method, target, body, extra, "", c.userAgent)
		if err != nil {
			return nil, err
		}
		for k, v := range c.opts.Headers {
			req.Header.Set(k, v)
		}
		if idemKey != "" && c.opts.IdempotencyHeader != "-" {
			req.Header.Set(c.opts.IdempotencyHeader, idemKey)
		}
		token, err := c.authorize(ctx, op, req)
		if err != nil {
			return nil, err
		}
		res, err := connectors.Do(ctx, c.client, op, req, c.limit)
		if err != nil {
			return nil, err
		}
		if res.StatusCode == http.StatusUnauthorized && c.tokens != nil && attempt == 0 {
			c.tokens.Invalidate(token)
			continue
		}
		return res, nil
	}
}

// authorize sets the request's credentials and returns the OAuth2 access token used,
// if any.
func (c *Connector) authorize(ctx context.Context, op string, req *http.Request) (string, error) {
	switch c.auth.Type {
	case AuthBearer:
		req.Header.Set("Authorization", "Bearer "+c.auth.Token)
	case AuthBasic:
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.auth.Username+":"+c.auth.Password)))
	case AuthAPIKey:
		if c.auth.QueryParam != "" {
			q := req.URL.Query()
			q.Set(c.auth.QueryParam, c.auth.Key)
			req.URL.RawQuery = q.Encode()
		} else {
			h := c.auth.Header
			if h == "" {
				h = "X-API-Key"
			}
			req.Header.Set(h, c.auth.Prefix+c.auth.Key)
		}
	case AuthOAuth2ClientCredentials, AuthOAuth2RefreshToken:
		tok, err := c.tokens.Token(ctx)
		if err != nil {
			return "", oauthtoken.ClassifyError(ctx, op, err, c.secrets...)
		}
		tok.SetAuthHeader(req)
		return tok.AccessToken, nil
	}
	return "", nil
}

// statusError classifies a non-2xx result, extracting a vendor code and message from
// common JSON error shapes ({"message"}, {"error":{"message"}}, {"errorMessages":[]},
// {"code"}) and redacting every configured secret.
func (c *Connector) statusError(op string, res *connectors.HTTPResult) *connectors.Error {
	code, msg := ErrorFields(res.Body)
	return connectors.StatusError(op, res, code, msg, c.now(), c.secrets...)
}

// ErrorFields extracts a vendor error code and message from common JSON error
// bodies. It returns empty strings when the body is not JSON or has neither.
func ErrorFields(body []byte) (code, message string) {
	doc, err := decodePayload(body)
	if err != nil || doc == nil {
		return "", ""
	}
	if arr, ok := doc.([]any); ok && len(arr) > 0 {
		doc = arr[0]
	}
	str := func(path string) string {
		v, ok := lookup(doc, path)
		if !ok {
			return ""
		}
		if _, isObj := v.(map[string]any); isObj {
			return ""
		}
		return scalarString(v)
	}
	for _, p := range []string{"code", "errorCode", "error_code", "error.code", "error"} {
		if code = str(p); code != "" {
			break
		}
	}
	for _, p := range []string{"message", "error.message", "error_description", "errorMessages.0", "detail", "title"} {
		if message = str(p); message != "" {
			break
		}
	}
	return code, message
}

// VerifyWebhook verifies an inbound webhook under Options.Webhook with the webhook
// secrets of Auth (see [connectors.WebhookScheme]). Without Options.Webhook every
// delivery is refused. Errors wrap connectors.ErrInvalidSignature or
// connectors.ErrStaleWebhook.
func (c *Connector) VerifyWebhook(header http.Header, body []byte) (*connectors.WebhookEvent, error) {
	if c.webhook == nil {
		return nil, fmt.Errorf("httpconn: %w: options.webhook is not configured", connectors.ErrInvalidSignature)
	}
	return c.webhook.VerifyWebhook(header, body)
}

// Interface guards.
var (
	_ connectors.Connector       = (*Connector)(nil)
	_ connectors.Lister          = (*Connector)(nil)
	_ connectors.WebhookVerifier = (*Connector)(nil)
	_ connectors.Factory         = Factory
)
