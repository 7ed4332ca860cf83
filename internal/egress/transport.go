package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"time"
)

// TransportOptions configure NewTransport. The zero value is usable with a Policy.
type TransportOptions struct {
	// Policy judges every dialled address. Required.
	Policy *Policy
	// Proxy selects a proxy per request. Default: http.ProxyFromEnvironment (HTTP_PROXY,
	// HTTPS_PROXY, NO_PROXY). Through a proxy the destination is judged by resolving its
	// name here (see NewTransport).
	Proxy func(*http.Request) (*url.URL, error)
	// Resolver resolves names: of proxied destinations, and of direct ones when a base
	// dialer is given. Default: net.DefaultResolver.
	Resolver *net.Resolver
	// Base, when set, is an *http.Transport whose settings (TLS, timeouts, pools) are
	// cloned; its DialContext, when set, keeps dialling, but only to addresses the policy
	// passed (resolved here first). Default: the settings of http.DefaultTransport.
	Base *http.Transport
}

// NewTransport returns an HTTP transport whose every connection goes through the policy:
//
//   - direct connections are judged on the address actually dialled (net.Dialer.Control),
//     after resolution, for every attempt (each address of a name, every redirect hop, every
//     new pooled connection);
//   - through a proxy (from the environment by default), the proxy itself is dialled as
//     configured (it is the operator's choice), and the destination's name is resolved here
//     and every address it resolves to must pass before the request is handed to the proxy.
//     The proxy resolves the name again, so an egress proxy should apply its own policy as
//     well; the hub cannot see which address the proxy connects to.
//
// A refusal fails the round trip with an error that matches ErrDenied.
func NewTransport(o TransportOptions) (*http.Transport, error) {
	if o.Policy == nil {
		return nil, errors.New("egress: NewTransport needs a policy")
	}
	var t *http.Transport
	if o.Base != nil {
		t = o.Base.Clone()
	} else {
		t = http.DefaultTransport.(*http.Transport).Clone()
	}
	res := o.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	g := &guard{policy: o.Policy, resolver: res}
	proxy := o.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	g.proxy = proxy
	if o.Base != nil && o.Base.DialContext != nil {
		g.baseDial = o.Base.DialContext
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: o.Policy.Control, Resolver: res}
	g.dialer = d
	t.DialContext = g.dial
	// Dialers the guard cannot see through are dropped.
	t.Dial, t.DialTLS, t.DialTLSContext = nil, nil, nil //nolint:staticcheck // clearing the deprecated hooks too
	t.Proxy = g.proxyFor
	return t, nil
}

type guard struct {
	policy   *Policy
	resolver *net.Resolver
	dialer   *net.Dialer
	baseDial func(ctx context.Context, network, addr string) (net.Conn, error)
	proxy    func(*http.Request) (*url.URL, error)
	proxies  sync.Map // "host:port" of every proxy handed to the transport
}

// proxyFor asks the configured proxy function and, when a proxy is used, checks the
// destination before the request is sent to it.
func (g *guard) proxyFor(req *http.Request) (*url.URL, error) {
	pu, err := g.proxy(req)
	if err != nil || pu == nil {
		return pu, err
	}
	if err := g.checkName(req.Context(), req.URL.Hostname()); err != nil {
		return nil, err
	}
	g.proxies.Store(hostPort(pu), true)
	return pu, nil
}

// checkName resolves host (unless it is a literal) and checks every address.
func (g *guard) checkName(ctx context.Context, host string) error {
	if err := g.policy.CheckHost(host); err != nil {
		return err
	}
	if _, ok := ParseLiteral(host); ok {
		return nil
	}
	addrs, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if err := g.policy.Check(a); err != nil {
			var de *DeniedError
			if errors.As(err, &de) {
				de.Host = host
			}
			return err
		}
	}
	return nil
}

func (g *guard) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if _, ok := g.proxies.Load(addr); ok {
		// the configured proxy: dialled as the operator set it up
		if g.baseDial != nil {
			return g.baseDial(ctx, network, addr)
		}
		return (&net.Dialer{Timeout: g.dialer.Timeout, KeepAlive: g.dialer.KeepAlive, Resolver: g.resolver}).DialContext(ctx, network, addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	// Literals in the spellings only some resolvers accept (2130706433, 0x7f.1) and the
	// local host's reserved names are refused before any resolver sees them.
	if err := g.policy.CheckHost(host); err != nil {
		return nil, err
	}
	if g.baseDial == nil {
		return g.dialer.DialContext(ctx, network, addr)
	}
	// A caller's dialer cannot be given a Control hook: resolve here, check every
	// address, and hand it the first one that passes as a literal, so it cannot resolve
	// the name again to something else.
	var addrs []netip.Addr
	if a, ok := ParseLiteral(host); ok {
		addrs = []netip.Addr{a}
	} else if addrs, err = g.resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, err
	}
	var firstErr error
	for _, a := range addrs {
		if err := g.policy.Check(a); err != nil {
			if firstErr == nil {
				firstErr = withHost(err, host)
			}
			continue
		}
		c, err := g.baseDial(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		firstErr = err
	}
	if firstErr == nil {
		firstErr = &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	return nil, firstErr
}

func withHost(err error, host string) error {
	var de *DeniedError
	if errors.As(err, &de) {
		de.Host = host
	}
	return err
}

// hostPort returns u's host:port with the scheme's default port filled in, as the
// transport dials it.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}
