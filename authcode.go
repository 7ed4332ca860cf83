package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/oauth2"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/store"
)

// oauthClientConfig is the part of a service's credentials document the
// authorization-code flow reads (the http connector's OAuth fields).
type oauthClientConfig struct {
	AuthURL            string   `json:"auth_url"`
	TokenURL           string   `json:"token_url"`
	ClientID           string   `json:"client_id"`
	ClientSecret       string   `json:"client_secret"`
	RedirectURL        string   `json:"redirect_url"`
	Scopes             []string `json:"scopes"`
	ClientAuthInParams bool     `json:"client_auth_in_params"`
}

// AuthorizationRequest is the start of an authorization-code flow: send the user to URL;
// keep Verifier (secret, server side, e.g. in the session) for Exchange.
type AuthorizationRequest struct {
	URL      string
	State    string
	Verifier string
}

// oauthConfig returns the service's OAuth client configuration: its connector's
// authorization-code settings (connectors.AuthCodeClient: the native OAuth connectors),
// else the http connector's OAuth fields of its credentials; and the vendor's extra
// authorization parameters.
func (h *Hub) oauthConfig(ctx context.Context, service string) (*runtime, *oauth2.Config, map[string]string, error) {
	rt, err := h.runtimeFor(ctx, service)
	if err != nil {
		return nil, nil, nil, err
	}
	plain, err := h.vault.open(ctx, rt.svc.Name, rt.svc.AuthenticationConfig)
	if err != nil {
		return nil, nil, nil, configErr("Config.SecretKey", fmt.Sprintf("cannot open the credentials of service %q", rt.svc.Name), err)
	}
	if ac, ok := rt.authCodeClient(); ok {
		set, ok := ac.AuthCode()
		if !ok {
			return nil, nil, nil, fmt.Errorf("%w: service %s is not configured for OAuth (client_id)", ErrInvalidInput, rt.svc.Name)
		}
		style := oauth2.AuthStyleInHeader
		if set.ClientAuthInParams {
			style = oauth2.AuthStyleInParams
		}
		return rt, &oauth2.Config{ClientID: set.ClientID, ClientSecret: set.ClientSecret, RedirectURL: set.RedirectURL, Scopes: set.Scopes,
			Endpoint: oauth2.Endpoint{AuthURL: set.AuthURL, TokenURL: set.TokenURL, AuthStyle: style}}, set.AuthParams, nil
	}
	var c oauthClientConfig
	if len(plain) == 0 || json.Unmarshal(plain, &c) != nil || c.AuthURL == "" || c.TokenURL == "" || c.ClientID == "" {
		return nil, nil, nil, fmt.Errorf("%w: service %s has no OAuth authorization-code settings (auth_url, token_url, client_id)", ErrInvalidInput, rt.svc.Name)
	}
	style := oauth2.AuthStyleInHeader
	if c.ClientAuthInParams {
		style = oauth2.AuthStyleInParams
	}
	return rt, &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL, Scopes: c.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: c.AuthURL, TokenURL: c.TokenURL, AuthStyle: style}}, nil, nil
}

// authCodeClient returns the service's connector when it reports authorization-code
// settings (connectors.AuthCodeClient).
func (rt *runtime) authCodeClient() (connectors.AuthCodeClient, bool) {
	if ac, ok := rt.conns[rt.svc.BaseURL].(connectors.AuthCodeClient); ok {
		return ac, true
	}
	for _, c := range rt.conns {
		if ac, ok := c.(connectors.AuthCodeClient); ok {
			return ac, true
		}
	}
	return nil, false
}

// AuthCodeURL starts the OAuth authorization-code flow with PKCE (RFC 7636, S256) for a
// service of a native OAuth connector (HubSpot, Jira Cloud 3LO, GitLab, Salesforce's
// refresh_token flow: their client_id,
// client_secret and optional auth_url, redirect_url, scopes; the vendor's authorization
// endpoint by default) or of the http connector whose credentials name auth_url,
// token_url and client_id (and redirect_url, scopes): it returns the URL to send the
// user to, with state and a fresh verifier's
// challenge. Pass the verifier to Exchange with the code the provider returns.
//
// Errors: ErrForbidden (authorization on, no service.credentials permission);
// ErrUnknownService; ErrInvalidInput (no state, or the service has no such settings);
// ErrClosed.
func (h *Hub) AuthCodeURL(ctx context.Context, service, state string) (*AuthorizationRequest, error) {
	if err := h.guard(ctx, call{method: "AuthCodeURL", service: service, perms: perms(PermCredentials)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if state == "" {
		return nil, fmt.Errorf("%w: an authorization request needs a state", ErrInvalidInput)
	}
	_, oc, params, err := h.oauthConfig(ctx, service)
	if err != nil {
		return nil, err
	}
	verifier := oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oauth2.AccessTypeOffline, oauth2.S256ChallengeOption(verifier)}
	for k, v := range params {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	return &AuthorizationRequest{URL: oc.AuthCodeURL(state, opts...), State: state, Verifier: verifier}, nil
}

// Exchange finishes the authorization-code flow: it trades code (with the verifier of
// AuthCodeURL) for the service's first tokens at its token endpoint, through the hub's
// guarded HTTP client, and saves them sealed in the store, where every hub's connectors
// for the service find them (the service's runtime here is rebuilt to use them at once).
// The consent is audited ("service.oauth_consent", no token in the entry).
//
// Errors: ErrForbidden; ErrUnknownService; ErrInvalidInput (no code or verifier, no
// authorization-code settings); ErrNotSupported (the store keeps no tokens, or the hub has
// no secret key); ErrAuditUnavailable; ErrInvalidInput naming the token endpoint's refusal
// (its OAuth error code and description); ErrClosed.
func (h *Hub) Exchange(ctx context.Context, service, code, verifier string) error {
	if err := h.guard(ctx, call{method: "Exchange", service: service, perms: perms(PermCredentials)}); err != nil {
		return err
	}
	if h.closed.Load() {
		return ErrClosed
	}
	if code == "" || verifier == "" {
		return fmt.Errorf("%w: an exchange needs the code and the verifier", ErrInvalidInput)
	}
	rt, oc, _, err := h.oauthConfig(ctx, service)
	if err != nil {
		return err
	}
	k, ok := h.tokenKeeperFor(rt.svc).(*tokenKeeper)
	if !ok {
		return fmt.Errorf("%w: persisted OAuth tokens (store.TokenStore and Config.SecretKey)", ErrNotSupported)
	}
	intent, err := h.appendAudit(ctx, &store.AuditEntry{Actor: actorIn(ctx, ""), Action: "service.oauth_consent", EntityType: "service",
		EntityID: rt.svc.ID, After: mustJSON(map[string]any{"service": rt.svc.Name, "token_url": oc.Endpoint.TokenURL})})
	if err != nil {
		return err
	}
	client, err := h.egress.client("", nil)
	if err != nil {
		h.auditAborted(ctx, intent, err)
		return err
	}
	tok, err := oc.Exchange(context.WithValue(ctx, oauth2.HTTPClient, client), code, oauth2.VerifierOption(verifier))
	if err != nil {
		// the error names the OAuth error code and description only: token endpoints may
		// echo the request (code, verifier, client secret) in their body
		reason := "the token endpoint could not be reached"
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			reason = connectors.Redact(fmt.Sprintf("the token endpoint refused the code: %s %s", re.ErrorCode, re.ErrorDescription),
				code, verifier, oc.ClientSecret)
		}
		h.auditAborted(ctx, intent, errors.New(reason))
		return fmt.Errorf("%w: service %s: %s", ErrInvalidInput, rt.svc.Name, reason)
	}
	plain, err := encodeToken(tok)
	if err != nil {
		return err
	}
	sealed, err := h.vault.seal(ctx, serviceKeyOwner(k.name), k.aad(), plain)
	if err != nil {
		return err
	}
	if _, err := k.ts.UpdateOAuthToken(ctx, rt.svc.ID, func(*store.OAuthToken) (json.RawMessage, error) { return sealed, nil }); err != nil {
		h.auditAborted(ctx, intent, err)
		return mapStoreErr(err)
	}
	svc, err := h.st.GetService(ctx, rt.svc.ID)
	if err != nil {
		return mapStoreErr(err)
	}
	if _, err := h.install(ctx, svc); err != nil {
		return err
	}
	return nil
}
