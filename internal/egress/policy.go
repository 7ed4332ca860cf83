// Package egress is the hub's outbound destination policy: which IP addresses a delivery,
// health probe or token request may connect to. The check runs at dial time on the address
// actually dialled, after name resolution, so a name that resolves (or re-resolves) to an
// internal address is refused as surely as a literal one, on every connection and every
// redirect hop.
//
// By default only globally routable unicast addresses pass: loopback, link-local (IPv4 and
// IPv6, which covers the 169.254.169.254 metadata service), private (RFC 1918), shared
// (100.64.0.0/10), unique-local (fc00::/7), unspecified, multicast, broadcast, documentation,
// benchmarking and reserved ranges are refused (the IANA IPv4 and IPv6 special-purpose
// address registries). IPv6 forms that carry an IPv4 address (IPv4-mapped ::ffff:0:0/96,
// NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo 2001::/32) are judged by the IPv4 address they
// carry as well. A Policy built with allowed prefixes lets chosen ranges through (on-premise
// systems, local test servers).
package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
)

// ErrDenied is matched (errors.Is) by every refusal of the policy.
var ErrDenied = errors.New("egress: destination not allowed")

// DeniedError is a refused destination. It matches [ErrDenied].
type DeniedError struct {
	// Host is the name or literal as requested; "" when only the dialled address is known.
	Host string
	// Addr is the address refused (the dialled one, or the literal in Host).
	Addr netip.Addr
	// Embedded is the IPv4 address carried by an IPv6 form (mapped, NAT64, 6to4, Teredo)
	// when that is what the policy refused; invalid otherwise.
	Embedded netip.Addr
	// Range names the refused range, e.g. "loopback", "private-use", "link-local".
	Range string
}

// Error describes the refusal.
func (e *DeniedError) Error() string {
	var b strings.Builder
	b.WriteString("egress: destination not allowed: ")
	if e.Host != "" && e.Host != e.Addr.String() {
		b.WriteString(strconv.Quote(e.Host))
		b.WriteString(" is ")
	}
	if e.Addr.IsValid() {
		b.WriteString(e.Addr.String())
	}
	if e.Embedded.IsValid() {
		b.WriteString(" (carrying ")
		b.WriteString(e.Embedded.String())
		b.WriteString(")")
	}
	b.WriteString(", in the ")
	b.WriteString(e.Range)
	b.WriteString(" range; allow it explicitly to reach it")
	return b.String()
}

// Is reports whether target is ErrDenied.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// Permanent reports true: the same destination is refused again until the policy changes,
// so retrying is pointless.
func (e *DeniedError) Permanent() bool { return true }

// Policy decides which addresses may be dialled. The zero value is not usable; build one
// with New. A Policy is immutable and safe for concurrent use.
type Policy struct {
	allow []netip.Prefix
}

// New returns the default policy with the given prefixes allowed on top of it: an address
// inside one of them passes whatever range it is in (an IPv6 form carrying an IPv4 address
// passes when either address is inside one). Invalid prefixes are an error.
func New(allow ...netip.Prefix) (*Policy, error) {
	p := &Policy{}
	for i, a := range allow {
		if !a.IsValid() {
			return nil, fmt.Errorf("egress: allowed prefix %d is not valid", i)
		}
		p.allow = append(p.allow, a.Masked())
	}
	return p, nil
}

// Allowed returns the allowed prefixes.
func (p *Policy) Allowed() []netip.Prefix { return append([]netip.Prefix(nil), p.allow...) }

func (p *Policy) allowed(a netip.Addr) bool {
	for _, pre := range p.allow {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// Check returns nil when addr may be dialled, else a *DeniedError.
func (p *Policy) Check(addr netip.Addr) error {
	addr = addr.WithZone("")
	if !addr.IsValid() {
		return &DeniedError{Addr: addr, Range: "invalid"}
	}
	if p.allowed(addr) {
		return nil
	}
	if addr.Is4In6() {
		// IPv4-mapped: the socket connects to the IPv4 address itself.
		v4 := addr.Unmap()
		if p.allowed(v4) {
			return nil
		}
		if r := deniedV4(v4); r != "" {
			return &DeniedError{Addr: addr, Embedded: v4, Range: r}
		}
		return nil
	}
	if addr.Is4() {
		if r := deniedV4(addr); r != "" {
			return &DeniedError{Addr: addr, Range: r}
		}
		return nil
	}
	if r := deniedV6(addr); r != "" {
		return &DeniedError{Addr: addr, Range: r}
	}
	for _, v4 := range embeddedV4(addr) {
		if p.allowed(v4) {
			continue
		}
		if r := deniedV4(v4); r != "" {
			return &DeniedError{Addr: addr, Embedded: v4, Range: r}
		}
	}
	return nil
}

// Control checks the address a net.Dialer is about to connect to; use it as
// net.Dialer.Control. address is "ip:port" after resolution. Refusals are *DeniedError.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &DeniedError{Host: address, Range: "unparsable address"}
	}
	return p.Check(ap.Addr())
}

// CheckHost judges a URL host (without port) as written in configuration: an IP literal in
// any spelling a resolver accepts (dotted, decimal, octal or hexadecimal IPv4 such as
// 2852039166, 0251.0376.0251.0376 or 0xa9fea9fe; bracketed or zoned IPv6) is checked as
// that address, and names reserved for the local host ("localhost", "*.localhost") are
// refused as loopback. Other names return nil: they are checked when dialled.
func (p *Policy) CheckHost(host string) error {
	h := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ".")
	if h == "" {
		return &DeniedError{Host: host, Range: "empty host"}
	}
	if a, ok := ParseLiteral(h); ok {
		if err := p.Check(a); err != nil {
			var de *DeniedError
			if errors.As(err, &de) {
				de.Host = host
			}
			return err
		}
		return nil
	}
	lower := strings.ToLower(h)
	if lower == "localhost" || strings.HasSuffix(lower, ".localhost") {
		lo := netip.MustParseAddr("127.0.0.1")
		if p.allowed(lo) {
			return nil
		}
		return &DeniedError{Host: host, Addr: lo, Range: "loopback"}
	}
	return nil
}

// ParseLiteral parses host as an IP address the way resolvers do: standard IPv4 and IPv6
// (with an optional zone), and the inet_aton forms of IPv4 (one to four parts, each
// decimal, octal with a leading 0, or hexadecimal with 0x: "127.1", "2130706433",
// "0x7f.0.0.1", "017700000001"). It reports false for anything else.
func ParseLiteral(host string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.WithZone(""), true
	}
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, s := range parts {
		v, ok := parseAtonPart(s)
		if !ok {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	// The last part fills the remaining bytes.
	var ip uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		ip |= v << (8 * (3 - i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	ip |= last
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), true
}

func parseAtonPart(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := 10
	switch {
	case len(s) > 1 && (s[:2] == "0x" || s[:2] == "0X"):
		base, s = 16, s[2:]
		if s == "" {
			return 0, true // "0x" is 0 to inet_aton
		}
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	v, err := strconv.ParseUint(s, base, 32)
	if err != nil {
		return 0, false
	}
	return v, true
}

// rangeOf is one deny range.
type rangeOf struct {
	prefix netip.Prefix
	name   string
}

func mustRanges(kv ...string) []rangeOf {
	out := make([]rangeOf, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		out = append(out, rangeOf{netip.MustParsePrefix(kv[i]), kv[i+1]})
	}
	return out
}

// deny4 is the IANA IPv4 Special-Purpose Address Registry entries that are not globally
// reachable, plus multicast and the reserved class E (which holds the limited broadcast).
var deny4 = mustRanges(
	"0.0.0.0/8", "this-network",
	"10.0.0.0/8", "private-use",
	"100.64.0.0/10", "shared-address-space",
	"127.0.0.0/8", "loopback",
	"169.254.0.0/16", "link-local",
	"172.16.0.0/12", "private-use",
	"192.0.0.0/24", "ietf-protocol-assignments",
	"192.0.2.0/24", "documentation",
	"192.88.99.0/24", "deprecated-6to4-relay",
	"192.168.0.0/16", "private-use",
	"198.18.0.0/15", "benchmarking",
	"198.51.100.0/24", "documentation",
	"203.0.113.0/24", "documentation",
	"224.0.0.0/4", "multicast",
	"240.0.0.0/4", "reserved",
)

// deny6 is checked on IPv6 addresses inside the global unicast space 2000::/3 (everything
// outside it is refused): the special-purpose blocks there that are not globally reachable.
// Teredo (2001::/32) and 6to4 (2002::/16) are judged by the IPv4 addresses they carry.
var deny6 = mustRanges(
	"2001:2::/48", "benchmarking",
	"2001:10::/28", "orchid",
	"2001:20::/28", "orchidv2",
	"2001:db8::/32", "documentation",
	"3fff::/20", "documentation",
	"5f00::/16", "segment-routing-sids",
)

var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	teredo         = netip.MustParsePrefix("2001::/32")
	// below2000 names the ranges outside 2000::/3 for a clearer refusal.
	below2000 = mustRanges(
		"::/128", "unspecified",
		"::1/128", "loopback",
		"::/96", "deprecated-ipv4-compatible",
		"64:ff9b:1::/48", "local-use-nat64",
		"100::/64", "discard-only",
		"fc00::/7", "unique-local",
		"fe80::/10", "link-local",
		"fec0::/10", "deprecated-site-local",
		"ff00::/8", "multicast",
	)
)

func deniedV4(a netip.Addr) string {
	for _, r := range deny4 {
		if r.prefix.Contains(a) {
			return r.name
		}
	}
	return ""
}

// deniedV6 judges a (non-mapped) IPv6 address by its own range; NAT64 is left to its
// embedded address.
func deniedV6(a netip.Addr) string {
	if nat64.Contains(a) {
		return ""
	}
	if !globalUnicast6.Contains(a) {
		for _, r := range below2000 {
			if r.prefix.Contains(a) {
				return r.name
			}
		}
		return "reserved"
	}
	for _, r := range deny6 {
		if r.prefix.Contains(a) {
			return r.name
		}
	}
	return ""
}

// embeddedV4 returns the IPv4 addresses an IPv6 address carries: the last 32 bits of NAT64,
// bits 16-48 of 6to4, and Teredo's server (bits 32-64) and client (the last 32 bits,
// inverted).
func embeddedV4(a netip.Addr) []netip.Addr {
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return []netip.Addr{netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})}
	case sixToFour.Contains(a):
		return []netip.Addr{netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})}
	case teredo.Contains(a):
		return []netip.Addr{
			netip.AddrFrom4([4]byte{b[4], b[5], b[6], b[7]}),
			netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}),
		}
	}
	return nil
}
