package egress_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/internal/egress"
)

// countingServer is an HTTP server that counts the connections it accepts: any count above
// zero means the guard let a connection through.
type countingServer struct {
	conns atomic.Int64
	port  string
}

func serveCounting(t *testing.T, addr string, h http.Handler) *countingServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	c := &countingServer{}
	_, c.port, _ = net.SplitHostPort(ln.Addr().String())
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "reached") })
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.conns.Add(1)
		}
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return c
}

// vectors are URL hosts the default policy must refuse, each with the range it falls in.
// Loopback forms point at the counting listeners (port v4 or v6), so a connection that got
// through would be counted; the others point at addresses where a connection would hang or
// fail, so only a typed refusal proves the guard acted.
func vectors() []struct{ host, rng string } {
	return []struct{ host, rng string }{
		{"127.0.0.1", "loopback"},
		{"127.0.0.3", "loopback"},
		{"127.1", "loopback"},
		{"2130706433", "loopback"},
		{"0x7f000001", "loopback"},
		{"0177.0.0.1", "loopback"},
		{"017700000001", "loopback"},
		{"0x7f.0.0.1", "loopback"},
		{"127.0.0.1.", "loopback"},
		{"localhost", "loopback"},
		{"LOCALHOST", "loopback"},
		{"api.localhost", "loopback"},
		{"[::1]", "loopback"},
		{"[::ffff:127.0.0.1]", "loopback"},
		{"[::ffff:7f00:1]", "loopback"},
		{"[0:0:0:0:0:ffff:127.0.0.1]", "loopback"},
		{"[::127.0.0.1]", "deprecated-ipv4-compatible"},
		{"0.0.0.0", "this-network"},
		{"0", "this-network"},
		{"[::]", "unspecified"},
		{"169.254.169.254", "link-local"},
		{"2852039166", "link-local"},
		{"0xa9fea9fe", "link-local"},
		{"0251.0376.0251.0376", "link-local"},
		{"169.254.43518", "link-local"},
		{"0xa9.0xfe.0xa9.0xfe", "link-local"},
		{"[::ffff:169.254.169.254]", "link-local"},
		{"[::ffff:a9fe:a9fe]", "link-local"},
		{"[fe80::1]", "link-local"},
		{"[fe80::a9fe:a9fe]", "link-local"},
		{"[fd00:ec2::254]", "unique-local"},
		{"10.0.0.1", "private-use"},
		{"10.255.255.255", "private-use"},
		{"012.0.0.1", "private-use"},
		{"172.16.0.1", "private-use"},
		{"172.31.255.254", "private-use"},
		{"192.168.0.1", "private-use"},
		{"192.168.1.1", "private-use"},
		{"3232235777", "private-use"},
		{"100.64.0.1", "shared-address-space"},
		{"100.127.255.254", "shared-address-space"},
		{"[fc00::1]", "unique-local"},
		{"[fd12:3456:789a::1]", "unique-local"},
		{"[::ffff:10.0.0.1]", "private-use"},
		{"[::ffff:192.168.0.1]", "private-use"},
		{"[::ffff:100.64.0.1]", "shared-address-space"},
		{"[64:ff9b::7f00:1]", "loopback"},
		{"[64:ff9b::127.0.0.1]", "loopback"},
		{"[64:ff9b::a9fe:a9fe]", "link-local"},
		{"[64:ff9b::10.0.0.1]", "private-use"},
		{"[64:ff9b::192.168.1.1]", "private-use"},
		{"[64:ff9b:1::a9fe:a9fe]", "local-use-nat64"},
		{"[2002:7f00:1::]", "loopback"},
		{"[2002:a9fe:a9fe::1]", "link-local"},
		{"[2002:c0a8:101::1]", "private-use"},
		{"[2002:a00:1::]", "private-use"},
		{"[2001:0:7f00:1::]", "loopback"},                      // Teredo server 127.0.0.1
		{"[2001:0:4136:e378:8000:63bf:80ff:fffe]", "loopback"}, // Teredo client 127.0.0.1
		{"[2001:0:4136:e378::f5ff:fffe]", "private-use"},       // Teredo client 10.0.0.1
		{"[2001:0:a9fe:a9fe::]", "link-local"},                 // Teredo server 169.254.169.254
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"255.255.255.255", "reserved"},
		{"240.0.0.1", "reserved"},
		{"[ff02::1]", "multicast"},
		{"192.0.0.8", "ietf-protocol-assignments"},
		{"192.0.2.1", "documentation"},
		{"198.18.0.1", "benchmarking"},
		{"[2001:db8::1]", "documentation"},
		{"[100::1]", "discard-only"},
		{"[fec0::1]", "deprecated-site-local"},
		// names resolved by the test's name server
		{"rebind.test", "loopback"},
		{"metadata.test", "link-local"},
		{"intranet.test", "private-use"},
		{"six.test", "loopback"},
		{"mixed.test", "loopback"},
	}
}

var testNames = map[string][]netip.Addr{
	"rebind.test":   {netip.MustParseAddr("127.0.0.1")},
	"metadata.test": {netip.MustParseAddr("169.254.169.254")},
	"intranet.test": {netip.MustParseAddr("10.1.2.3")},
	"six.test":      {netip.MustParseAddr("::1")},
	"mixed.test":    {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")},
	"public.test":   {netip.MustParseAddr("93.184.215.14")},
}

func urlFor(host, port4, port6 string) string {
	port := port4
	if (strings.HasPrefix(host, "[") && !strings.Contains(host, "ffff:")) || host == "six.test" {
		port = port6
	}
	return "http://" + host + ":" + port + "/"
}

// TestDestinationPolicy requests every vector directly and through a redirect from an
// allowed server, and requires a typed refusal each time and not one connection to the
// counting listeners on 127.0.0.1 and [::1]. It runs twice: with the guard's own dialer
// (judged in net.Dialer.Control), and with a caller's dialer (Base.DialContext) that counts
// every address it is asked to dial, which shows that no vector — loopback or not — was
// dialled at all: the only dials are to the allowed redirector.
func TestDestinationPolicy(t *testing.T) {
	v4 := serveCounting(t, "127.0.0.1:0", nil)
	v6 := serveCounting(t, "[::1]:0", nil)
	dns := startDNS(t, testNames)
	// The redirector is the one allowed address (127.0.0.2/32): each hop it sends must be
	// judged again.
	var redirects atomic.Int64
	redir := serveCounting(t, "127.0.0.2:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirects.Add(1)
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	}))
	pol, err := egress.New(netip.MustParsePrefix("127.0.0.2/32"))
	require.NoError(t, err)
	redirAddr := "127.0.0.2:" + redir.port

	for _, mode := range []string{"guard's dialer", "caller's dialer"} {
		var (
			dialMu sync.Mutex
			dialed = map[string]int{} // address -> dial attempts, with the caller's dialer
		)
		opts := egress.TransportOptions{Policy: pol, Resolver: dns.resolver(), Proxy: noProxy}
		if mode == "caller's dialer" {
			var d net.Dialer
			opts.Base = &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dialMu.Lock()
				dialed[addr]++
				dialMu.Unlock()
				return d.DialContext(ctx, network, addr)
			}}
		}
		tr, err := egress.NewTransport(opts)
		require.NoError(t, err)
		client := &http.Client{Transport: tr, Timeout: 5 * time.Second} // follows redirects
		redirects.Store(0)

		refusals := 0
		ranges := map[string]int{}
		for _, v := range vectors() {
			target := urlFor(v.host, v4.port, v6.port)
			for _, via := range []string{"direct", "redirect"} {
				u := target
				if via == "redirect" {
					u = "http://" + redirAddr + "/?to=" + url.QueryEscape(target)
				}
				resp, err := client.Get(u)
				if resp != nil {
					_ = resp.Body.Close()
				}
				require.Errorf(t, err, "%s: %s %s: request went through", mode, via, v.host)
				var de *egress.DeniedError
				require.Truef(t, errors.As(err, &de), "%s: %s %s: not a *DeniedError: %v", mode, via, v.host, err)
				require.ErrorIsf(t, err, egress.ErrDenied, "%s: %s %s", mode, via, v.host)
				require.Equalf(t, v.rng, de.Range, "%s: %s %s: %v", mode, via, v.host, err)
				refusals++
				ranges[de.Range]++
			}
		}
		tr.CloseIdleConnections()
		require.Zero(t, v4.conns.Load()+v6.conns.Load(), "%s: connections reached the listeners", mode)
		require.EqualValues(t, len(vectors()), redirects.Load(), "%s: every redirect vector was sent by the allowed server", mode)
		other := 0
		if mode == "caller's dialer" {
			require.NotEmpty(t, dialed, "the caller's dialer dialled the redirector")
			for addr, n := range dialed {
				if addr != redirAddr {
					other += n
					t.Errorf("%s: dialled %s %d time(s)", mode, addr, n)
				}
			}
		}
		t.Logf("destination policy (%s): %d vectors, %d requests (%d direct, %d through a redirect), %d typed refusals (*DeniedError, ErrDenied) in %d ranges; connections to the listeners on 127.0.0.1 and [::1]: %d; dials to anything but the allowed redirector: %d",
			mode, len(vectors()), 2*len(vectors()), len(vectors()), len(vectors()), refusals, len(ranges), v4.conns.Load()+v6.conns.Load(), other)
	}
}

func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// TestAllowedNetworks: an allowlisted prefix reaches the listener, by literal and by name;
// the rest of loopback stays refused.
func TestAllowedNetworks(t *testing.T) {
	v4 := serveCounting(t, "127.0.0.1:0", nil)
	v6 := serveCounting(t, "[::1]:0", nil)
	dns := startDNS(t, testNames)
	pol, err := egress.New(netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128"))
	require.NoError(t, err)
	tr, err := egress.NewTransport(egress.TransportOptions{Policy: pol, Resolver: dns.resolver(), Proxy: noProxy})
	require.NoError(t, err)
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for _, host := range []string{"127.0.0.1", "rebind.test", "[::1]", "six.test", "[::ffff:127.0.0.1]", "localhost"} {
		resp, err := client.Get(urlFor(host, v4.port, v6.port))
		require.NoErrorf(t, err, host)
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, "reached", string(b), host)
	}
	_, err = client.Get("http://127.0.0.2:" + v4.port + "/")
	require.ErrorIs(t, err, egress.ErrDenied)
	require.Positive(t, v4.conns.Load()+v6.conns.Load())
}

// TestProxy: through a proxy, the proxy is dialled as configured and the destination is
// judged by its resolved addresses before anything is sent.
func TestProxy(t *testing.T) {
	var proxied atomic.Int64
	proxy := serveCounting(t, "127.0.0.3:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		_, _ = io.WriteString(w, "via proxy to "+r.URL.Host)
	}))
	dns := startDNS(t, testNames)
	pol, err := egress.New()
	require.NoError(t, err)
	proxyURL := &url.URL{Scheme: "http", Host: "127.0.0.3:" + proxy.port}
	tr, err := egress.NewTransport(egress.TransportOptions{Policy: pol, Resolver: dns.resolver(),
		Proxy: func(*http.Request) (*url.URL, error) { return proxyURL, nil }})
	require.NoError(t, err)
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	resp, err := client.Get("http://public.test/x")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, "via proxy to public.test", string(b))

	for _, host := range []string{"rebind.test", "169.254.169.254", "intranet.test", "0x7f000001", "localhost"} {
		_, err := client.Get("http://" + host + "/")
		require.ErrorIsf(t, err, egress.ErrDenied, host)
	}
	require.EqualValues(t, 1, proxied.Load(), "refused destinations never reach the proxy")
}

// TestCheck covers the policy's judgement of single addresses, including allowed forms.
func TestCheck(t *testing.T) {
	pol, err := egress.New()
	require.NoError(t, err)
	for _, a := range []string{"93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8",
		"64:ff9b::808:808", "2002:808:808::1", "2001:0:4136:e378:8000:63bf:f7f7:f7f7", "172.32.0.1", "100.128.0.1", "192.169.0.1"} {
		require.NoErrorf(t, pol.Check(netip.MustParseAddr(a)), a)
	}
	for _, a := range []string{"127.0.0.1", "::1", "fe80::1%eth0", "169.254.169.254", "::ffff:127.0.0.1", "64:ff9b::7f00:1"} {
		require.ErrorIsf(t, pol.Check(netip.MustParseAddr(a)), egress.ErrDenied, a)
	}
	open, err := egress.New(netip.MustParsePrefix("10.0.0.0/8"))
	require.NoError(t, err)
	for _, a := range []string{"10.1.2.3", "::ffff:10.1.2.3", "64:ff9b::a01:203"} {
		require.NoErrorf(t, open.Check(netip.MustParseAddr(a)), a)
	}
	require.ErrorIs(t, open.Check(netip.MustParseAddr("192.168.1.1")), egress.ErrDenied)
	_, err = egress.New(netip.Prefix{})
	require.Error(t, err)
}

func TestParseLiteral(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1": "127.0.0.1", "127.1": "127.0.0.1", "2130706433": "127.0.0.1", "0x7f000001": "127.0.0.1",
		"0177.0.0.1": "127.0.0.1", "017700000001": "127.0.0.1", "0x7f.0.0.1": "127.0.0.1", "169.254.43518": "169.254.169.254",
		"0": "0.0.0.0", "::1": "::1", "fe80::1%eth0": "fe80::1", "10.0.1": "10.0.0.1", "0x": "0.0.0.0",
	} {
		got, ok := egress.ParseLiteral(in)
		require.Truef(t, ok, in)
		require.Equal(t, want, got.String(), in)
	}
	for _, in := range []string{"example.com", "256.0.0.1", "1.2.3.4.5", "0x1.0x100.0.0", "4294967296", "09.0.0.1", "", "api.localhost", "1.2.3.x"} {
		_, ok := egress.ParseLiteral(in)
		require.Falsef(t, ok, in)
	}
}

func TestRedirects(t *testing.T) {
	var hits atomic.Int64
	var keys []string
	target := serveCounting(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		keys = append(keys, r.Header.Get("X-API-Key"))
		_, _ = io.WriteString(w, "target")
	}))
	other := "http://localhost:" + target.port + "/landing" // same listener, another origin
	origin := serveCounting(t, "127.0.0.2:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/final":
			_, _ = io.WriteString(w, "final "+r.Header.Get("X-API-Key"))
		default:
			http.Redirect(w, r, other, http.StatusTemporaryRedirect)
		}
	}))
	pol, err := egress.New(netip.MustParsePrefix("127.0.0.0/8"))
	require.NoError(t, err)
	tr, err := egress.NewTransport(egress.TransportOptions{Policy: pol, Proxy: noProxy})
	require.NoError(t, err)
	t.Cleanup(tr.CloseIdleConnections)
	get := func(policy egress.Redirects, path string) (int, string) {
		cr, err := policy.CheckRedirect()
		require.NoError(t, err)
		c := &http.Client{Transport: tr, CheckRedirect: cr, Timeout: 5 * time.Second}
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.2:"+origin.port+path, nil)
		req.Header.Set("X-API-Key", "k-secret")
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, _ := get(egress.RedirectsNone, "/same")
	require.Equal(t, http.StatusFound, code, "no redirect is followed by default")
	code, body := get(egress.RedirectsSameOrigin, "/same")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "final k-secret", body)
	code, _ = get(egress.RedirectsSameOrigin, "/elsewhere")
	require.Equal(t, http.StatusTemporaryRedirect, code, "a cross-origin redirect is the outcome")
	require.Zero(t, hits.Load(), "no request reached the other origin: %v", keys)
	_, err = egress.Redirects("always").CheckRedirect()
	require.ErrorIs(t, err, egress.ErrUnknownRedirects)
	require.Equal(t, fmt.Sprint(egress.MaxRedirects), "5")
}
