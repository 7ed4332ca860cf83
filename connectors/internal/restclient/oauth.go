package restclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/internal/oauthtoken"
)

// ErrNotAuthorized is the cause when an OAuth connector configured for the
// authorization-code flow has no token yet: nobody has authorized the app
// (hub.AuthCodeURL, then hub.Exchange).
var ErrNotAuthorized = errors.New("restclient: no OAuth token yet: authorize the app first (authorization code with PKCE)")

// AuthCodeFields are the authorization-code settings an OAuth connector's credentials
// document carries besides client_id, client_secret and token_url.
type AuthCodeFields struct {
	// AuthURL overrides the vendor's authorization endpoint.
	AuthURL string `json:"auth_url,omitempty"`
	// RedirectURL is the app's registered redirect URI.
	RedirectURL string `json:"redirect_url,omitempty"`
	// Scopes are the scopes requested at authorization.
	Scopes []string `json:"scopes,omitempty"`
}

// Settings returns the connectors.AuthCodeSettings of an OAuth app with these fields,
// defaultAuthURL used when AuthURL is empty. It returns an error wrapping
// connectors.ErrInvalidConfig when AuthURL is not an absolute http(s) URL.
func (a AuthCodeFields) Settings(defaultAuthURL, tokenURL, clientID, clientSecret string, inParams bool, params map[string]string) (connectors.AuthCodeSettings, error) {
	authURL := a.AuthURL
	if authURL == "" {
		authURL = defaultAuthURL
	} else if _, err := connectors.ParseBaseURL(authURL); err != nil {
		return connectors.AuthCodeSettings{}, fmt.Errorf("%w: auth.auth_url must be an absolute http(s) URL", connectors.ErrInvalidConfig)
	}
	return connectors.AuthCodeSettings{AuthURL: authURL, TokenURL: tokenURL, ClientID: clientID, ClientSecret: clientSecret,
		RedirectURL: a.RedirectURL, Scopes: a.Scopes, ClientAuthInParams: inParams, AuthParams: params}, nil
}

// RefreshFlow describes an OAuth 2.0 refresh-token grant: a token obtained once by
// the authorization-code flow (with PKCE where the vendor supports it), renewed with
// its refresh token.
type RefreshFlow struct {
	// TokenURL is the vendor's token endpoint.
	TokenURL string
	// ClientID and ClientSecret identify the app.
	ClientID, ClientSecret string
	// RefreshToken renews the access token; vendors that rotate it hand back a new one,
	// which the cache keeps.
	RefreshToken string
	// AccessToken and Expiry seed the cache with a token obtained earlier; both optional.
	AccessToken string
	Expiry      time.Time
	// InParams sends the client credentials in the token request body instead of HTTP
	// basic auth.
	InParams bool
}

// NewRefreshCache returns a token cache for f whose token requests go through client.
func NewRefreshCache(f RefreshFlow, client *http.Client, now func() time.Time) *oauthtoken.Cache {
	style := oauth2.AuthStyleInHeader
	if f.InParams {
		style = oauth2.AuthStyleInParams
	}
	oc := &oauth2.Config{ClientID: f.ClientID, ClientSecret: f.ClientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: f.TokenURL, AuthStyle: style}}
	seed := &oauth2.Token{AccessToken: f.AccessToken, RefreshToken: f.RefreshToken, TokenType: "Bearer", Expiry: f.Expiry}
	return oauthtoken.New(func(ctx context.Context, prev *oauth2.Token) (*oauth2.Token, error) {
		rt := f.RefreshToken
		if prev != nil && prev.RefreshToken != "" {
			rt = prev.RefreshToken // rotated by the server
		}
		if rt == "" {
			return nil, &connectors.Error{Class: connectors.ClassAuth, Op: "oauth.token", Err: ErrNotAuthorized}
		}
		return oc.TokenSource(oauthtoken.WithClient(ctx, client), &oauth2.Token{RefreshToken: rt}).Token()
	}, seed, now)
}

// BearerFrom returns an Authorize function that sets "Authorization: Bearer" from tokens.
func BearerFrom(tokens *oauthtoken.Cache) func(ctx context.Context, req *http.Request) (string, error) {
	return func(ctx context.Context, req *http.Request) (string, error) {
		tok, err := tokens.Token(ctx)
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return tok.AccessToken, nil
	}
}
