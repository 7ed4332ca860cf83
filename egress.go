package hub

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"

	"github.com/ehg/hub/internal/egress"
)

// ErrDestinationDenied is matched (errors.Is) by a call the hub refused to make because its
// destination is not allowed: a base URL naming a loopback, link-local, private or other
// internal address at registration (inside a *ConfigError), or a connection whose resolved
// address is one (a delivery, probe or token request). The detail is a *DestinationError.
var ErrDestinationDenied = egress.ErrDenied

// DestinationError is a refused destination: the host as requested, the address refused,
// the IPv4 address an IPv6 form carried when that decided, and the name of the range (for
// example "loopback", "link-local", "private-use"). It matches [ErrDestinationDenied].
// Retrying does not help: the destination stays refused until it is allowed with
// [WithAllowedNetworks].
type DestinationError = egress.DeniedError

// RedirectPolicy says which HTTP redirects a service's calls follow.
type RedirectPolicy string

// The redirect policies.
const (
	// RedirectsNone follows no redirect: a 3xx response is the outcome of the call (a
	// permanent failure for a delivery). The default.
	RedirectsNone RedirectPolicy = "none"
	// RedirectsSameOrigin follows up to 5 redirects to the origin (scheme, host and port) of
	// the request; a redirect elsewhere is the outcome, so credentials never reach another
	// origin.
	RedirectsSameOrigin RedirectPolicy = "same_origin"
)

// WithAllowedNetworks opens the destination guard to the given prefixes (added to any set
// before). By default the hub connects only to globally routable addresses: loopback,
// link-local (including the 169.254.169.254 metadata service), private, shared
// (100.64.0.0/10), unique-local, unspecified, multicast and reserved addresses are refused
// when dialled, after name resolution, on every connection and redirect hop, including the
// IPv6 forms carrying such an IPv4 address (IPv4-mapped, NAT64, 6to4, Teredo). An address in
// an allowed prefix passes: use it for on-premise systems, and for local test servers
// (netip.MustParsePrefix("127.0.0.0/8") and "::1/128"; see hubtest.AllowLoopback).
//
// With a proxy from HTTP_PROXY or HTTPS_PROXY (or Config.HTTPClient's), the proxy itself is
// dialled as configured, and each destination's name is resolved by the hub and every
// address checked before the request is handed to the proxy; the proxy resolves the name
// again, so an egress proxy should enforce its own policy too.
func WithAllowedNetworks(prefixes ...netip.Prefix) Option {
	return func(c *Config) error {
		for i, p := range prefixes {
			if !p.IsValid() {
				return configErr(fmt.Sprintf("Config.AllowedNetworks[%d]", len(c.AllowedNetworks)+i), "not a valid prefix", nil)
			}
		}
		c.AllowedNetworks = append(append([]netip.Prefix(nil), c.AllowedNetworks...), prefixes...)
		return nil
	}
}

// egressClient is the hub's outbound HTTP stack: the guarded transport (owned, closed on
// Close) and the settings each service's client copies.
type egressClient struct {
	policy *egress.Policy
	rt     http.RoundTripper
	owned  *http.Transport // the transport the hub built, nil when the caller's is used as given
	base   *http.Client
}

// newEgress builds the outbound HTTP stack from the configuration: a guarded clone of the
// configured client's *http.Transport (or of http.DefaultTransport), used by every service.
func newEgress(cfg Config) (*egressClient, error) {
	pol, err := egress.New(cfg.AllowedNetworks...)
	if err != nil {
		return nil, configErr("Config.AllowedNetworks", "invalid prefix", err)
	}
	e := &egressClient{policy: pol, base: cfg.HTTPClient}
	var baseT *http.Transport
	switch t := cfg.HTTPClient.Transport.(type) {
	case nil:
	case *http.Transport:
		baseT = t
	default:
		// A RoundTripper the guard cannot see into is used as given.
		e.rt = t
		return e, nil
	}
	o := egress.TransportOptions{Policy: pol, Base: baseT} // no Base: proxies from the environment
	if baseT != nil {
		o.Proxy = baseT.Proxy
		if o.Proxy == nil {
			o.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
		}
	}
	if e.owned, err = egress.NewTransport(o); err != nil {
		return nil, configErr("Config.HTTPClient", "transport cannot be guarded", err)
	}
	e.rt = e.owned
	return e, nil
}

// client returns the HTTP client of one service: the hub's transport wrapped by wrap (when
// not nil), the configured timeout, the service's redirect policy and no cookie jar (cookies
// would carry one service's session to another).
func (e *egressClient) client(redirects RedirectPolicy, wrap func(http.RoundTripper) http.RoundTripper) (*http.Client, error) {
	cr, err := egress.Redirects(redirects).CheckRedirect()
	if err != nil {
		return nil, err
	}
	rt := e.rt
	if wrap != nil {
		rt = wrap(rt)
	}
	return &http.Client{Transport: rt, CheckRedirect: cr, Timeout: e.base.Timeout}, nil
}

// close closes the idle connections of the hub's own transport.
func (e *egressClient) close() {
	if e.owned != nil {
		e.owned.CloseIdleConnections()
	}
}

// checkDestination refuses a URL whose host is a literal address (in any spelling) or a
// local host name the policy refuses. field names the configuration field.
func (h *Hub) checkDestination(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return nil // checkURL reports it
	}
	if err := h.egress.policy.CheckHost(u.Hostname()); err != nil {
		return configErr(field, "the destination is not allowed (see WithAllowedNetworks)", err)
	}
	return nil
}

// checkRedirects validates a redirect policy name.
func checkRedirects(field string, r RedirectPolicy) error {
	if _, err := egress.Redirects(r).CheckRedirect(); err != nil {
		return configErr(field, fmt.Sprintf("unknown redirect policy %q (want %q or %q)", r, RedirectsNone, RedirectsSameOrigin), err)
	}
	return nil
}

// withDestination returns err with the *DestinationError of cause (if any) added to its
// chain for errors.Is and errors.As, its text unchanged.
func withDestination(err, cause error) error {
	var de *DestinationError
	if !errors.As(cause, &de) {
		return err
	}
	return &joinedError{err: err, also: de}
}

// joinedError reads as err and unwraps to both err and also.
type joinedError struct{ err, also error }

func (e *joinedError) Error() string   { return e.err.Error() }
func (e *joinedError) Unwrap() []error { return []error{e.err, e.also} }
