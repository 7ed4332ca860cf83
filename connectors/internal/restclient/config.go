package restclient

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ehg/hub/connectors"
)

// New returns a Client for cfg: its HTTP client, response bound, clock, User-Agent
// (defaultUserAgent when cfg names none) and an open gate. The caller sets Authorize,
// Observe and Classify. It returns cfg.ResponseLimit's error.
func New(cfg connectors.Config, defaultUserAgent string) (*Client, error) {
	limit, err := cfg.ResponseLimit()
	if err != nil {
		return nil, err
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = defaultUserAgent
	}
	now := cfg.Clock()
	return &Client{HTTP: cfg.Client(), Limit: limit, UserAgent: ua, Now: now, Gate: NewGate(now), Keeper: cfg.Tokens}, nil
}

// UseHeader makes the client authenticate every request with the fixed header
// name: value (an API token).
func (cl *Client) UseHeader(name, value string) {
	cl.Authorize = func(_ context.Context, req *http.Request) (string, error) {
		req.Header.Set(name, value)
		return "", nil
	}
}

// UseRefreshFlow makes the client authenticate with OAuth 2.0 access tokens renewed by
// f's refresh token, refreshed once more when the API answers 401. f.TokenURL defaults
// to defaultTokenURL. It returns an error wrapping connectors.ErrInvalidConfig naming
// the auth field when f lacks the client id, the client secret (when needSecret) or a
// usable token URL.
func (cl *Client) UseRefreshFlow(f RefreshFlow, defaultTokenURL string, needSecret bool) error {
	if f.ClientID == "" || (needSecret && f.ClientSecret == "") {
		need := "auth.client_id"
		if needSecret {
			need = "auth.client_id and auth.client_secret"
		}
		return fmt.Errorf("%w: %s are required with OAuth (auth.refresh_token or the authorization-code flow)", connectors.ErrInvalidConfig, need)
	}
	if f.TokenURL == "" {
		f.TokenURL = defaultTokenURL
	} else if _, err := connectors.ParseBaseURL(f.TokenURL); err != nil {
		return fmt.Errorf("%w: auth.token_url must be an absolute http(s) URL", connectors.ErrInvalidConfig)
	}
	cl.Tokens = NewRefreshCache(f, cl.HTTP, cl.Now).Persist(cl.Keeper)
	cl.Authorize = BearerFrom(cl.Tokens)
	cl.TokenURL = f.TokenURL
	return nil
}

// ParseMaxAge parses an options duration such as "5m" naming field in its error; ""
// is 0 (no limit).
func ParseMaxAge(field, value string) (time.Duration, error) {
	if value == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(value)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%w: %s must be a positive duration like 5m", connectors.ErrInvalidConfig, field)
	}
	return d, nil
}

// FirstNonEmpty returns the first non-empty value, or "".
func FirstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
