package contract

import (
	"net/netip"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"golang.org/x/text/unicode/bidi"
	"golang.org/x/text/unicode/norm"
)

// compileRegexp compiles a schema regular expression (Go RE2 syntax, as jsonschema v5 uses).
func compileRegexp(pat string) (*regexp.Regexp, error) { return regexp.Compile(pat) }

// builtinFormats returns the checkers that replace jsonschema v5's where those are too
// lenient: URIs and IRIs per RFC 3986/3987 (v5 accepts spaces, quotes and brackets),
// host names with A-label (Punycode) and IDNA 2008 checks, internationalised host names
// and e-mail addresses (not implemented by v5), RFC 6570 URI templates, dotted-quad IPv4
// without signs or leading zeros, and "regex" in the ECMA 262 dialect the specification
// names (v5 checks Go's RE2 syntax).
func builtinFormats() map[string]FormatFunc {
	return map[string]FormatFunc{
		"uri":           func(s string) bool { return checkURI(s, true, false) },
		"uri-reference": func(s string) bool { return checkURI(s, false, false) },
		"iri":           func(s string) bool { return checkURI(s, true, true) },
		"iri-reference": func(s string) bool { return checkURI(s, false, true) },
		"hostname":      isHostname,
		"idn-hostname":  isIDNHostname,
		"email":         func(s string) bool { return isEmail(s, false) },
		"idn-email":     func(s string) bool { return isEmail(s, true) },
		"ipv4":          isIPv4,
		"uri-template":  isURITemplate,
		"regex":         isECMARegex,
	}
}

// emptyEnum makes "enum": [] reject every value, as the specification says; jsonschema v5
// treats an empty enum as absent.
type emptyEnum struct{}

func (emptyEnum) Compile(_ jsonschema.CompilerContext, m map[string]any) (jsonschema.ExtSchema, error) {
	if e, ok := m["enum"].([]any); ok && len(e) == 0 {
		return emptyEnum{}, nil
	}
	return nil, nil
}

func (emptyEnum) Validate(ctx jsonschema.ValidationContext, _ any) error {
	return ctx.Error("enum", "no value is allowed (the enum is empty)")
}

// ---- URI / IRI (RFC 3986, RFC 3987) -----------------------------------------------------

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func isSubDelim(c byte) bool {
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// validChars reports whether s consists of unreserved, sub-delims, pct-encoded and the
// extra ASCII characters in extra; iri also allows non-ASCII characters (ucschar).
func validChars(s, extra string, iri bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isUnreserved(c) || isSubDelim(c) || strings.IndexByte(extra, c) >= 0:
			i++
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 3
		case c >= utf8.RuneSelf && iri:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError || r < 0xA0 || (r >= 0xD800 && r <= 0xDFFF) || (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE {
				return false
			}
			i += size
		default:
			return false
		}
	}
	return true
}

func validScheme(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// checkURI validates a URI (requireScheme) or URI reference; iri admits non-ASCII.
func checkURI(s string, requireScheme, iri bool) bool {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		if !validChars(s[i+1:], ":@/?", iri) {
			return false
		}
		s = s[:i]
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		if !validChars(s[i+1:], ":@/?", iri) {
			return false
		}
		s = s[:i]
	}
	hasScheme := false
	if i := strings.IndexByte(s, ':'); i >= 0 && !strings.ContainsAny(s[:i], "/") {
		if !validScheme(s[:i]) {
			return false // a colon in the first segment of a relative path is not allowed either
		}
		hasScheme = true
		s = s[i+1:]
	}
	if requireScheme && !hasScheme {
		return false
	}
	if rest, ok := strings.CutPrefix(s, "//"); ok {
		auth, path := rest, ""
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			auth, path = rest[:i], rest[i:]
		}
		if !validAuthority(auth, iri) {
			return false
		}
		s = path
	}
	return validChars(s, ":@/", iri)
}

func validAuthority(a string, iri bool) bool {
	if i := strings.IndexByte(a, '@'); i >= 0 {
		if !validChars(a[:i], ":", iri) {
			return false
		}
		a = a[i+1:]
		if strings.IndexByte(a, '@') >= 0 {
			return false
		}
	}
	host, port := a, ""
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return false
		}
		host, port = a[1:end], a[end+1:]
		if port != "" && port[0] != ':' {
			return false
		}
		if !validIPLiteral(host) {
			return false
		}
	} else {
		if i := strings.LastIndexByte(a, ':'); i >= 0 {
			host, port = a[:i], a[i:]
		}
		if !validChars(host, "", iri) {
			return false
		}
	}
	for i := 1; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}

func validIPLiteral(h string) bool {
	if len(h) > 0 && (h[0] == 'v' || h[0] == 'V') { // IPvFuture
		dot := strings.IndexByte(h, '.')
		if dot < 2 || dot == len(h)-1 {
			return false
		}
		for i := 1; i < dot; i++ {
			if !isHex(h[i]) {
				return false
			}
		}
		return validChars(h[dot+1:], ":", false) && !strings.Contains(h[dot+1:], "%")
	}
	addr, err := netip.ParseAddr(h)
	return err == nil && addr.Is6() && addr.Zone() == ""
}

// ---- IPv4 -------------------------------------------------------------------------------

func isIPv4(s string) bool {
	parts := 0
	for len(s) > 0 || parts == 0 {
		part := s
		if i := strings.IndexByte(s, '.'); i >= 0 {
			part, s = s[:i], s[i+1:]
			if s == "" {
				return false
			}
		} else {
			s = ""
		}
		if len(part) == 0 || len(part) > 3 || (len(part) > 1 && part[0] == '0') {
			return false
		}
		n := 0
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return false
			}
			n = n*10 + int(part[i]-'0')
		}
		if n > 255 {
			return false
		}
		parts++
	}
	return parts == 4
}

// ---- host names (RFC 1123, RFC 5890-5893) ------------------------------------------------

func isHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if !asciiLabelOK(label) {
			return false
		}
	}
	return bidiOK(aLabelsToU(strings.Split(s, ".")))
}

// asciiLabelOK checks an LDH label, and an A-label ("xn--") by decoding it.
func asciiLabelOK(label string) bool {
	if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	if len(label) >= 4 && label[2] == '-' && label[3] == '-' {
		if !strings.EqualFold(label[:2], "xn") {
			return false
		}
		u, ok := punyDecode(strings.ToLower(label[4:]))
		if !ok || isASCII(u) {
			return false
		}
		if enc, ok := punyEncode(u); !ok || !strings.EqualFold(enc, label[4:]) {
			return false
		}
		return uLabelOK(u)
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func aLabelsToU(labels []string) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = l
		if len(l) > 4 && strings.EqualFold(l[:4], "xn--") {
			if u, ok := punyDecode(strings.ToLower(l[4:])); ok {
				out[i] = u
			}
		}
	}
	return out
}

func isIDNHostname(s string) bool {
	if s == "" {
		return false
	}
	labels := splitIDN(s)
	total := 0
	for _, label := range labels {
		if label == "" {
			return false
		}
		if isASCII(label) {
			if !asciiLabelOK(label) {
				return false
			}
			total += len(label) + 1
			continue
		}
		if !uLabelOK(label) {
			return false
		}
		enc, ok := punyEncode(label)
		if !ok || len(enc)+4 > 63 {
			return false
		}
		total += len(enc) + 5
	}
	if total-1 > 253 {
		return false
	}
	return bidiOK(aLabelsToU(labels))
}

// splitIDN splits a domain at the four label separators of RFC 3490.
func splitIDN(s string) []string {
	s = strings.NewReplacer("\u3002", ".", "\uff0e", ".", "\uff61", ".").Replace(s)
	return strings.Split(s, ".")
}

// uLabelOK applies the IDNA 2008 rules a U-label must satisfy: NFC, no leading combining
// mark, hyphen restrictions, code points PVALID (approximated from Unicode categories and
// the RFC 5892 exception list) and the CONTEXTJ/CONTEXTO rules.
func uLabelOK(label string) bool {
	if label == "" || !utf8.ValidString(label) || !norm.NFC.IsNormalString(label) {
		return false
	}
	runes := []rune(label)
	if len(runes) > 63 || runes[0] == '-' || runes[len(runes)-1] == '-' {
		return false
	}
	if len(runes) >= 4 && runes[2] == '-' && runes[3] == '-' {
		return false
	}
	if unicode.In(runes[0], unicode.Mn, unicode.Mc, unicode.Me) {
		return false
	}
	arabicIndic, extArabicIndic := false, false
	for i, r := range runes {
		switch {
		case r == 0x00DF || r == 0x03C2 || r == 0x06FD || r == 0x06FE || r == 0x0F0B || r == 0x3007:
			// PVALID exceptions
		case r == 0x0640 || r == 0x07FA || r == 0x302E || r == 0x302F || (r >= 0x3031 && r <= 0x3035) || r == 0x303B:
			return false // DISALLOWED exceptions
		case r == 0x00B7: // MIDDLE DOT: between two 'l'
			if i == 0 || i == len(runes)-1 || runes[i-1] != 'l' || runes[i+1] != 'l' {
				return false
			}
		case r == 0x0375: // GREEK KERAIA: followed by Greek
			if i == len(runes)-1 || !unicode.Is(unicode.Greek, runes[i+1]) {
				return false
			}
		case r == 0x05F3 || r == 0x05F4: // GERESH, GERSHAYIM: preceded by Hebrew
			if i == 0 || !unicode.Is(unicode.Hebrew, runes[i-1]) {
				return false
			}
		case r == 0x30FB: // KATAKANA MIDDLE DOT: some Hiragana, Katakana or Han in the label
			ok := false
			for _, o := range runes {
				if o != 0x30FB && unicode.In(o, unicode.Hiragana, unicode.Katakana, unicode.Han) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		case r >= 0x0660 && r <= 0x0669:
			arabicIndic = true
		case r >= 0x06F0 && r <= 0x06F9:
			extArabicIndic = true
		case r == 0x200D: // ZWJ: after a virama
			if i == 0 || !isVirama(runes[i-1]) {
				return false
			}
		case r == 0x200C: // ZWNJ: after a virama, or between joining letters
			if i == 0 || (!isVirama(runes[i-1]) && !zwnjJoining(runes, i)) {
				return false
			}
		case r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z':
		case r < utf8.RuneSelf:
			return false
		default:
			if !unicode.In(r, unicode.Ll, unicode.Lo, unicode.Lm, unicode.Mn, unicode.Mc, unicode.Nd) {
				return false
			}
			if s := string(r); norm.NFKC.String(s) != s || unicode.ToLower(r) != r {
				return false
			}
		}
	}
	return !(arabicIndic && extArabicIndic)
}

func isVirama(r rune) bool {
	switch r {
	case 0x094D, 0x09CD, 0x0A4D, 0x0ACD, 0x0B4D, 0x0BCD, 0x0C4D, 0x0CCD, 0x0D3B, 0x0D3C, 0x0D4D, 0x0DCA,
		0x0E3A, 0x0EBA, 0x0F84, 0x1039, 0x103A, 0x1714, 0x1734, 0x17D2, 0x1A60, 0x1B44, 0x1BAA, 0x1BAB,
		0x1BF2, 0x1BF3, 0x2D7F, 0xA806, 0xA8C4, 0xA953, 0xA9C0, 0xAAF6, 0xABED:
		return true
	}
	return false
}

// zwnjJoining approximates RFC 5892 Appendix A.1's joining-type rule: a joining (Arabic,
// Syriac, N'Ko, Mongolian) letter on both sides, skipping transparent marks.
func zwnjJoining(runes []rune, i int) bool {
	joining := func(r rune) bool {
		return unicode.In(r, unicode.Arabic, unicode.Syriac, unicode.Nko, unicode.Mongolian) && unicode.IsLetter(r)
	}
	j := i - 1
	for j >= 0 && unicode.Is(unicode.Mn, runes[j]) {
		j--
	}
	k := i + 1
	for k < len(runes) && unicode.Is(unicode.Mn, runes[k]) {
		k++
	}
	return j >= 0 && k < len(runes) && joining(runes[j]) && joining(runes[k])
}

// bidiOK applies the Bidi rule of RFC 5893 to a domain whose labels are U-labels.
func bidiOK(labels []string) bool {
	class := func(r rune) bidi.Class {
		p, _ := bidi.LookupRune(r)
		return p.Class()
	}
	rtlDomain := false
	for _, l := range labels {
		for _, r := range l {
			if c := class(r); c == bidi.R || c == bidi.AL || c == bidi.AN {
				rtlDomain = true
			}
		}
	}
	if !rtlDomain {
		return true
	}
	for _, l := range labels {
		runes := []rune(l)
		if len(runes) == 0 {
			continue
		}
		first := class(runes[0])
		last := len(runes) - 1
		for last > 0 && class(runes[last]) == bidi.NSM {
			last--
		}
		switch first {
		case bidi.R, bidi.AL:
			en, an := false, false
			for _, r := range runes {
				switch class(r) {
				case bidi.R, bidi.AL, bidi.ES, bidi.CS, bidi.ET, bidi.ON, bidi.BN, bidi.NSM:
				case bidi.EN:
					en = true
				case bidi.AN:
					an = true
				default:
					return false
				}
			}
			if en && an {
				return false
			}
			switch class(runes[last]) {
			case bidi.R, bidi.AL, bidi.EN, bidi.AN:
			default:
				return false
			}
		case bidi.L:
			for _, r := range runes {
				switch class(r) {
				case bidi.L, bidi.EN, bidi.ES, bidi.CS, bidi.ET, bidi.ON, bidi.BN, bidi.NSM:
				default:
					return false
				}
			}
			if c := class(runes[last]); c != bidi.L && c != bidi.EN {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// ---- Punycode (RFC 3492) -----------------------------------------------------------------

const (
	punyBase        = 36
	punyTMin        = 1
	punyTMax        = 26
	punySkew        = 38
	punyDamp        = 700
	punyInitialBias = 72
	punyInitialN    = 128
)

func punyAdapt(delta, numPoints int, first bool) int {
	if first {
		delta /= punyDamp
	} else {
		delta /= 2
	}
	delta += delta / numPoints
	k := 0
	for delta > ((punyBase-punyTMin)*punyTMax)/2 {
		delta /= punyBase - punyTMin
		k += punyBase
	}
	return k + (punyBase-punyTMin+1)*delta/(delta+punySkew)
}

func punyDigit(c byte) (int, bool) {
	switch {
	case c >= 'a' && c <= 'z':
		return int(c - 'a'), true
	case c >= '0' && c <= '9':
		return int(c-'0') + 26, true
	}
	return 0, false
}

func punyDecode(s string) (string, bool) {
	var out []rune
	b := strings.LastIndexByte(s, '-')
	if b > 0 {
		for i := 0; i < b; i++ {
			if s[i] >= utf8.RuneSelf {
				return "", false
			}
			out = append(out, rune(s[i]))
		}
		s = s[b+1:]
	} else if b == 0 {
		s = s[1:]
	}
	n, i, bias := punyInitialN, 0, punyInitialBias
	for pos := 0; pos < len(s); {
		oldi, w := i, 1
		for k := punyBase; ; k += punyBase {
			if pos >= len(s) {
				return "", false
			}
			d, ok := punyDigit(s[pos])
			pos++
			if !ok || d > (1<<30-i)/w {
				return "", false
			}
			i += d * w
			t := k - bias
			if t < punyTMin {
				t = punyTMin
			} else if t > punyTMax {
				t = punyTMax
			}
			if d < t {
				break
			}
			w *= punyBase - t
			if w > 1<<30 {
				return "", false
			}
		}
		bias = punyAdapt(i-oldi, len(out)+1, oldi == 0)
		n += i / (len(out) + 1)
		if n > unicode.MaxRune || (n >= 0xD800 && n <= 0xDFFF) {
			return "", false
		}
		i %= len(out) + 1
		out = append(out, 0)
		copy(out[i+1:], out[i:])
		out[i] = rune(n)
		i++
	}
	return string(out), true
}

func punyEncode(s string) (string, bool) {
	runes := []rune(s)
	var out []byte
	for _, r := range runes {
		if r < 0x80 {
			out = append(out, byte(r))
		}
	}
	h := len(out)
	b := h
	if b > 0 {
		out = append(out, '-')
	}
	n, delta, bias := punyInitialN, 0, punyInitialBias
	for h < len(runes) {
		m := int(unicode.MaxRune) + 1
		for _, r := range runes {
			if int(r) >= n && int(r) < m {
				m = int(r)
			}
		}
		if (m-n)*(h+1) > 1<<30-delta {
			return "", false
		}
		delta += (m - n) * (h + 1)
		n = m
		for _, r := range runes {
			if int(r) < n {
				delta++
			}
			if int(r) == n {
				q := delta
				for k := punyBase; ; k += punyBase {
					t := k - bias
					if t < punyTMin {
						t = punyTMin
					} else if t > punyTMax {
						t = punyTMax
					}
					if q < t {
						break
					}
					out = append(out, punyChar(t+(q-t)%(punyBase-t)))
					q = (q - t) / (punyBase - t)
				}
				out = append(out, punyChar(q))
				bias = punyAdapt(delta, h+1, h == b)
				delta = 0
				h++
			}
		}
		delta++
		n++
	}
	return string(out), true
}

func punyChar(d int) byte {
	if d < 26 {
		return byte('a' + d)
	}
	return byte('0' + d - 26)
}

// ---- e-mail (RFC 5321/5322 addr-spec, RFC 6531 for idn-email) ---------------------------

func isEmail(s string, idn bool) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 {
		return false
	}
	if strings.HasPrefix(local, "\"") {
		if len(local) < 2 || !strings.HasSuffix(local, "\"") {
			return false
		}
		q := local[1 : len(local)-1]
		for i := 0; i < len(q); i++ {
			c := q[i]
			switch {
			case c == '\\':
				i++
				if i >= len(q) {
					return false
				}
			case c == '"' || c < 0x20 || c == 0x7f:
				return false
			case c >= utf8.RuneSelf && !idn:
				return false
			}
		}
	} else {
		if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
			return false
		}
		for _, r := range local {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			case strings.ContainsRune("!#$%&'*+-/=?^_`{|}~.", r):
			case r >= 0x80 && idn: // RFC 6531 UTF8-non-ascii
			default:
				return false
			}
		}
	}
	if strings.HasPrefix(domain, "[") && strings.HasSuffix(domain, "]") {
		lit := domain[1 : len(domain)-1]
		if v6, ok := strings.CutPrefix(lit, "IPv6:"); ok {
			addr, err := netip.ParseAddr(v6)
			return err == nil && addr.Is6() && addr.Zone() == ""
		}
		return isIPv4(lit)
	}
	if idn {
		return isIDNHostname(norm.NFC.String(domain))
	}
	return isHostname(domain)
}

// ---- URI templates (RFC 6570) -------------------------------------------------------------

func isURITemplate(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 || !validExpression(s[i+1:i+end]) {
				return false
			}
			i += end + 1
		case c == '}':
			return false
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 3
		case c < 0x21 || strings.IndexByte("\"<>\\^`|", c) >= 0 || c == 0x7f:
			return false
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError {
				return false
			}
			i += size
		default:
			i++
		}
	}
	return true
}

func validExpression(e string) bool {
	if e == "" {
		return false
	}
	if strings.IndexByte("+#./;?&", e[0]) >= 0 {
		e = e[1:]
	} else if strings.IndexByte("=,!@|", e[0]) >= 0 {
		return false // reserved operators
	}
	for _, spec := range strings.Split(e, ",") {
		name := spec
		if i := strings.IndexByte(spec, ':'); i >= 0 {
			name = spec[:i]
			l := spec[i+1:]
			if l == "" || len(l) > 4 || l[0] == '0' {
				return false
			}
			for j := 0; j < len(l); j++ {
				if l[j] < '0' || l[j] > '9' {
					return false
				}
			}
		} else if strings.HasSuffix(spec, "*") {
			name = spec[:len(spec)-1]
		}
		if !validVarname(name) {
			return false
		}
	}
	return true
}

func validVarname(n string) bool {
	if n == "" || n[0] == '.' || n[len(n)-1] == '.' || strings.Contains(n, "..") {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.':
		case c == '%':
			if i+2 >= len(n) || !isHex(n[i+1]) || !isHex(n[i+2]) {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

// ---- regex (ECMA 262) ---------------------------------------------------------------------

// isECMARegex checks ECMA 262 syntax by rejecting what ECMA 262 does not have (Python named
// groups, inline flag groups, the \a escape) and rewriting what Go lacks (lookaround,
// back-references, \cX, \uXXXX, empty classes) before compiling with Go's regexp.
func isECMARegex(s string) bool {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return false
			}
			e := s[i+1]
			switch {
			case e == 'a':
				return false
			case e == 'c':
				if i+2 >= len(s) || !(s[i+2] >= 'a' && s[i+2] <= 'z' || s[i+2] >= 'A' && s[i+2] <= 'Z') {
					return false
				}
				b.WriteString(`\x01`)
				i += 2
			case e == 'k' && !inClass:
				end := strings.IndexByte(s[i:], '>')
				if i+2 >= len(s) || s[i+2] != '<' || end < 0 {
					return false
				}
				b.WriteString("(?:)")
				i += end
			case e >= '1' && e <= '9' && !inClass:
				b.WriteString("(?:)")
				i++
				for i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
					i++
				}
			case e == 'u':
				if i+5 < len(s) && isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5]) {
					b.WriteString(`\x{` + s[i+2:i+6] + `}`)
					i += 5
				} else if i+2 < len(s) && s[i+2] == '{' {
					end := strings.IndexByte(s[i:], '}')
					if end < 0 {
						return false
					}
					b.WriteString(`\x` + s[i+2:i+end+1])
					i += end
				} else {
					return false
				}
			case e == '/':
				b.WriteByte('/')
				i++
			default:
				b.WriteByte(c)
				b.WriteByte(e)
				i++
			}
		case inClass:
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			switch {
			case strings.HasPrefix(s[i:], "[]"):
				b.WriteString(`[^\x00-\x{10FFFF}]`)
				i++
			case strings.HasPrefix(s[i:], "[^]"):
				b.WriteString(`[\x00-\x{10FFFF}]`)
				i += 2
			default:
				inClass = true
				b.WriteByte(c)
				if i+1 < len(s) && s[i+1] == ']' {
					b.WriteByte(']')
					i++
				}
			}
		case c == '(' && strings.HasPrefix(s[i:], "(?"):
			rest := s[i+2:]
			switch {
			case strings.HasPrefix(rest, "<=") || strings.HasPrefix(rest, "<!"):
				b.WriteString("(?:")
				i += 3
			case strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, "!"):
				b.WriteString("(?:")
				i += 2
			case strings.HasPrefix(rest, ":"):
				b.WriteString("(?:")
				i += 2
			case strings.HasPrefix(rest, "<"):
				b.WriteString("(?P")
				i++
			default:
				// Python's (?P<...>) and inline flags are not ECMA 262, except the ES2025
				// modifier groups (?i:...), (?-i:...).
				j := 0
				for j < len(rest) && strings.IndexByte("imsu-", rest[j]) >= 0 {
					j++
				}
				if j == 0 || j >= len(rest) || rest[j] != ':' {
					return false
				}
				b.WriteString("(?")
				i++
			}
		default:
			b.WriteByte(c)
		}
	}
	_, err := regexp.Compile(b.String())
	return err == nil
}

var (
	_ jsonschema.ExtCompiler = emptyEnum{}
	_ jsonschema.ExtSchema   = emptyEnum{}
)
