package httpconn

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/ehg/hub/connectors"
)

// Auth types accepted in [Auth.Type].
const (
	AuthNone                    = "none"
	AuthBearer                  = "bearer"
	AuthBasic                   = "basic"
	AuthAPIKey                  = "api_key"
	AuthOAuth2ClientCredentials = "oauth2_client_credentials"
	AuthOAuth2RefreshToken      = "oauth2_refresh_token"
)

// Auth is the credentials document ([connectors.Config.Auth]). Type selects which
// fields apply; "" means "none".
//
//	{"type":"bearer","token":"..."}
//	{"type":"basic","username":"me@example.com","password":"api-token"}
//	{"type":"api_key","key":"...","header":"X-API-Key"}            (or "query_param":"api_key", or "body_field":"api_key")
//	{"type":"oauth2_client_credentials","token_url":"...","client_id":"...","client_secret":"...","scopes":["a"]}
//	{"type":"oauth2_refresh_token","token_url":"...","client_id":"...","client_secret":"...","refresh_token":"..."}
//
// OAuth2 flows use golang.org/x/oauth2; tokens are cached, refreshed by one caller at
// a time, and refreshed once more when the API answers 401.
type Auth struct {
	// Type is one of the Auth* constants.
	Type string `json:"type,omitempty"`
	// Token is the bearer token.
	Token string `json:"token,omitempty"`
	// Username and Password are the basic-auth credentials.
	Username string `json:"username,omitempty"`
	// Password is the basic-auth password (or API token, as Jira Cloud uses).
	Password string `json:"password,omitempty"`
	// Key is the API key.
	Key string `json:"key,omitempty"`
	// Header is the API key header; default "X-API-Key" unless QueryParam is set.
	Header string `json:"header,omitempty"`
	// Prefix is put before the key in the header, e.g. "Token ".
	Prefix string `json:"prefix,omitempty"`
	// QueryParam sends the API key as this query parameter instead of a header.
	QueryParam string `json:"query_param,omitempty"`
	// BodyField sends the API key as this top-level field of the JSON request body
	// (Amplitude's "api_key") instead of a header.
	BodyField string `json:"body_field,omitempty"`
	// TokenURL is the OAuth2 token endpoint.
	TokenURL string `json:"token_url,omitempty"`
	// ClientID is the OAuth2 client id.
	ClientID string `json:"client_id,omitempty"`
	// ClientSecret is the OAuth2 client secret.
	ClientSecret string `json:"client_secret,omitempty"`
	// RefreshToken is the OAuth2 refresh token (refresh-token flow). It may be left out
	// when AuthURL is set: the hub's authorization-code flow (Hub.AuthCodeURL and
	// Hub.Exchange) then obtains the first token.
	RefreshToken string `json:"refresh_token,omitempty"`
	// AuthURL is the OAuth2 authorization endpoint, for the authorization-code flow with
	// PKCE; RedirectURL is where the provider sends the user back with the code.
	AuthURL     string `json:"auth_url,omitempty"`
	RedirectURL string `json:"redirect_url,omitempty"`
	// Scopes are the OAuth2 scopes requested.
	Scopes []string `json:"scopes,omitempty"`
	// EndpointParams are extra token request parameters (e.g. "audience").
	EndpointParams map[string]string `json:"endpoint_params,omitempty"`
	// ClientAuthInParams sends client_id/client_secret in the token request body
	// instead of HTTP basic auth (x/oauth2 AuthStyleInParams).
	ClientAuthInParams bool `json:"client_auth_in_params,omitempty"`
	// WebhookSecret and WebhookSecrets verify inbound webhooks under Options.Webhook; any
	// of them may match, so a key can be rotated by adding the new one first.
	WebhookSecret  string   `json:"webhook_secret,omitempty"`
	WebhookSecrets []string `json:"webhook_secrets,omitempty"`
}

func (a *Auth) secrets() []string {
	return append([]string{a.Token, a.Password, a.Key, a.ClientSecret, a.RefreshToken, a.WebhookSecret}, a.WebhookSecrets...)
}

// webhookSecrets are the secrets inbound webhooks are verified with.
func (a *Auth) webhookSecrets() []string {
	if a.WebhookSecret == "" {
		return a.WebhookSecrets
	}
	return append([]string{a.WebhookSecret}, a.WebhookSecrets...)
}

func (a *Auth) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: auth: "+format, append([]any{connectors.ErrInvalidConfig}, args...)...)
	}
	switch a.Type {
	case "", AuthNone:
	case AuthBearer:
		if a.Token == "" {
			return bad("token is required for type bearer")
		}
	case AuthBasic:
		if a.Username == "" {
			return bad("username is required for type basic")
		}
	case AuthAPIKey:
		if a.Key == "" {
			return bad("key is required for type api_key")
		}
		if n := btoi(a.Header != "") + btoi(a.QueryParam != "") + btoi(a.BodyField != ""); n > 1 {
			return bad("set one of header, query_param and body_field")
		}
	case AuthOAuth2ClientCredentials, AuthOAuth2RefreshToken:
		if a.TokenURL == "" {
			return bad("token_url is required for type %s", a.Type)
		}
		if u, err := url.Parse(a.TokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("token_url must be an absolute http(s) URL")
		}
		if a.ClientID == "" {
			return bad("client_id is required for type %s", a.Type)
		}
		if a.Type == AuthOAuth2RefreshToken && a.RefreshToken == "" && a.AuthURL == "" {
			return bad("refresh_token (or auth_url, to obtain one by consent) is required for type oauth2_refresh_token")
		}
		if a.AuthURL != "" {
			if u, err := url.Parse(a.AuthURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return bad("auth_url must be an absolute http(s) URL")
			}
		}
	default:
		return bad("unknown type %q (want none, bearer, basic, api_key, oauth2_client_credentials or oauth2_refresh_token)", a.Type)
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Pagination types accepted in [Pagination.Type].
const (
	// PaginateLink follows the RFC 8288 Link header's rel="next" URL (GitHub, many
	// REST APIs). The cursor is that URL; it must stay on the base URL's host.
	PaginateLink = "link"
	// PaginateCursor sends the cursor in CursorParam and reads the next one from
	// CursorField of the response (HubSpot paging.next.after, Notion next_cursor,
	// Slack response_metadata.next_cursor).
	PaginateCursor = "cursor"
	// PaginatePage sends PageParam=1,2,3... and stops at an empty or short page.
	PaginatePage = "page"
)

// Pagination describes how a list operation pages.
type Pagination struct {
	// Type is one of PaginateLink, PaginateCursor, PaginatePage.
	Type string `json:"type"`
	// ItemsField is the dotted path of the array of items in the response; "" means
	// the response itself is the array.
	ItemsField string `json:"items_field,omitempty"`
	// CursorParam is the query parameter carrying the cursor (cursor type), e.g.
	// "after" or "start_cursor".
	CursorParam string `json:"cursor_param,omitempty"`
	// CursorField is the dotted path of the next cursor in the response (cursor
	// type); a missing, null or empty value ends the listing.
	CursorField string `json:"cursor_field,omitempty"`
	// PageParam is the page-number query parameter (page type); default "page".
	PageParam string `json:"page_param,omitempty"`
	// StartPage is the first page number (page type); default 1.
	StartPage int `json:"start_page,omitempty"`
	// SizeParam is the page-size query parameter, sent when ListRequest.Limit or
	// PageSize is set.
	SizeParam string `json:"size_param,omitempty"`
	// PageSize is the default page size.
	PageSize int `json:"page_size,omitempty"`
	// SinceParam receives ListRequest.Since as RFC 3339, when set.
	SinceParam string `json:"since_param,omitempty"`
}

// Operation is one configured call.
type Operation struct {
	// Method is the HTTP method; default POST.
	Method string `json:"method,omitempty"`
	// Path is appended to the base URL. "{name}" segments are filled from
	// Request.Params, then from the payload's dotted paths, path-escaped.
	Path string `json:"path,omitempty"`
	// Query holds query parameters; values may contain "{{path}}" placeholders.
	Query map[string]string `json:"query,omitempty"`
	// Body is a JSON template for the request body. Strings that are exactly
	// "{{path}}" become the payload value at that dotted path (any JSON type);
	// placeholders inside longer strings are replaced by text. nil sends the payload
	// unchanged; the JSON string "none" sends no body.
	Body json.RawMessage `json:"body,omitempty"`
	// RemoteIDField is the dotted path of the remote id in the response, e.g. "id" or
	// "data.id". "" uses the Location header, when present.
	RemoteIDField string `json:"remote_id_field,omitempty"`
	// Pagination makes the operation listable through List.
	Pagination *Pagination `json:"pagination,omitempty"`
	// Batch splits the body's array into requests within the remote's batch limits.
	Batch *Batch `json:"batch,omitempty"`

	bodyTmpl any
	noBody   bool
}

// DefaultOperationName is the operation used when Options.DefaultOperation is empty.
// Unless configured otherwise it POSTs the payload to the base URL itself, which is
// what incoming-webhook URLs expect.
const DefaultOperationName = "deliver"

// Options is the settings document ([connectors.Config.Options]).
type Options struct {
	// Operations maps operation names to calls. The default operation
	// (DefaultOperation) is added as POST to the base URL when missing.
	Operations map[string]*Operation `json:"operations,omitempty"`
	// DefaultOperation is the operation Invoke performs when the request names none;
	// default DefaultOperationName.
	DefaultOperation string `json:"default_operation,omitempty"`
	// ListOperation is the operation List uses when the request names none; default
	// the only operation with pagination, if exactly one has it.
	ListOperation string `json:"list_operation,omitempty"`
	// Headers are sent with every request (not Authorization).
	Headers map[string]string `json:"headers,omitempty"`
	// IdempotencyHeader carries Request.IdempotencyKey; default
	// connectors.IdempotencyKeyHeader; "-" disables forwarding.
	IdempotencyHeader string `json:"idempotency_header,omitempty"`
	// CheckPath is requested with GET by Check; default the base URL itself. Any
	// answer other than 401, 403, 408, 429 or 5xx counts as healthy: the remote is
	// reachable and accepts the credentials.
	CheckPath string `json:"check_path,omitempty"`
	// Webhook, when set, is how the service signs the webhooks it sends (HMAC, Stripe or
	// Standard Webhooks); the secrets are Auth.WebhookSecret and Auth.WebhookSecrets.
	Webhook *connectors.WebhookScheme `json:"webhook,omitempty"`
}

func (o *Options) normalise() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: options: "+format, append([]any{connectors.ErrInvalidConfig}, args...)...)
	}
	if o.Operations == nil {
		o.Operations = map[string]*Operation{}
	}
	if o.DefaultOperation == "" {
		o.DefaultOperation = DefaultOperationName
	}
	if _, ok := o.Operations[o.DefaultOperation]; !ok {
		if o.DefaultOperation != DefaultOperationName {
			return bad("default_operation %q is not among operations", o.DefaultOperation)
		}
		o.Operations[DefaultOperationName] = &Operation{}
	}
	for name, op := range o.Operations {
		if op == nil {
			return bad("operations.%s is null", name)
		}
		if op.Method == "" {
			op.Method = http.MethodPost
		}
		op.Method = strings.ToUpper(op.Method)
		if strings.Count(op.Path, "{") != strings.Count(op.Path, "}") {
			return bad("operations.%s.path has unbalanced braces", name)
		}
		if len(op.Body) > 0 {
			var tmpl any
			if err := json.Unmarshal(op.Body, &tmpl); err != nil {
				return bad("operations.%s.body is not valid JSON", name)
			}
			if s, ok := tmpl.(string); ok && s == "none" {
				op.noBody = true
			} else {
				op.bodyTmpl = tmpl
			}
		}
		if op.Batch != nil {
			if err := op.Batch.validate(name); err != nil {
				return bad("%v", err)
			}
		}
		if p := op.Pagination; p != nil {
			switch p.Type {
			case PaginateLink:
			case PaginateCursor:
				if p.CursorParam == "" || p.CursorField == "" {
					return bad("operations.%s.pagination: cursor type needs cursor_param and cursor_field", name)
				}
			case PaginatePage:
				if p.PageParam == "" {
					p.PageParam = "page"
				}
				if p.StartPage == 0 {
					p.StartPage = 1
				}
			default:
				return bad("operations.%s.pagination.type %q is not link, cursor or page", name, p.Type)
			}
		}
	}
	if o.ListOperation == "" {
		for name, op := range o.Operations {
			if op.Pagination != nil {
				if o.ListOperation != "" {
					o.ListOperation = "" // ambiguous: require the request to name one
					break
				}
				o.ListOperation = name
			}
		}
	} else if op, ok := o.Operations[o.ListOperation]; !ok || op.Pagination == nil {
		return bad("list_operation %q is not an operation with pagination", o.ListOperation)
	}
	if o.IdempotencyHeader == "" {
		o.IdempotencyHeader = connectors.IdempotencyKeyHeader
	}
	for k := range o.Headers {
		if http.CanonicalHeaderKey(k) == "Authorization" {
			return bad("headers must not set Authorization; use auth")
		}
	}
	return nil
}
