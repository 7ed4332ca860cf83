package contract

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Default input limits, used when the corresponding [Limits] field is zero.
const (
	// DefaultMaxBytes is the default largest raw JSON document accepted: 8 MiB.
	DefaultMaxBytes = 8 << 20
	// DefaultMaxDepth is the default deepest nesting of objects and arrays accepted.
	DefaultMaxDepth = 128
)

// MaxExponent is the largest decimal exponent magnitude accepted in a number ("1e10000").
// Exact arithmetic on larger exponents would cost unbounded time and memory, so such
// numbers are rejected as ErrTooLarge.
const MaxExponent = 10000

func exponentTooLarge[T string | []byte](digits T) bool {
	n := 0
	for i := 0; i < len(digits); i++ {
		n = n*10 + int(digits[i]-'0')
		if n > MaxExponent {
			return true
		}
	}
	return false
}

// Limits bounds the input the package accepts, so a hostile or broken payload costs a
// clear error instead of memory, stack or a panic. The zero value means the defaults.
type Limits struct {
	// MaxBytes is the largest raw JSON document accepted, in bytes. Zero means
	// DefaultMaxBytes; negative means no limit.
	MaxBytes int
	// MaxDepth is the deepest nesting of objects and arrays accepted (a scalar document
	// has depth 0, {"a":[1]} has depth 2). Zero means DefaultMaxDepth; negative means no
	// limit (not recommended: Go values with cycles are then only caught by the stack).
	MaxDepth int
}

func (l Limits) maxBytes() int {
	switch {
	case l.MaxBytes == 0:
		return DefaultMaxBytes
	case l.MaxBytes < 0:
		return int(^uint(0) >> 1)
	}
	return l.MaxBytes
}

func (l Limits) maxDepth() int {
	switch {
	case l.MaxDepth == 0:
		return DefaultMaxDepth
	case l.MaxDepth < 0:
		return int(^uint(0) >> 1)
	}
	return l.MaxDepth
}

// Decode parses one JSON document strictly into the value model the validator uses:
// map[string]any, []any, string, json.Number (numbers keep their exact text), bool and nil.
// Unlike encoding/json it rejects duplicate object keys, invalid UTF-8, documents longer
// than lim.MaxBytes and nesting deeper than lim.MaxDepth, each with an *InputError that
// names the byte offset and the JSON Pointer. Escaped lone surrogates (\ud800) decode to
// U+FFFD as in encoding/json. It never panics and is safe for concurrent use.
func Decode(data []byte, lim Limits) (any, error) {
	if max := lim.maxBytes(); len(data) > max {
		return nil, &InputError{Kind: ErrTooLarge, Offset: max, Detail: "document is " + strconv.Itoa(len(data)) + " bytes, the limit is " + strconv.Itoa(max)}
	}
	d := decoder{data: data, maxDepth: lim.maxDepth()}
	d.skipSpace()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, d.syntax("unexpected data after the top-level value")
	}
	return v, nil
}

type decoder struct {
	data     []byte
	pos      int
	maxDepth int
	buf      []byte // scratch for strings with escapes
}

func (d *decoder) syntax(detail string) *InputError {
	return &InputError{Kind: ErrSyntax, Offset: d.pos, Detail: detail}
}

func (d *decoder) skipSpace() {
	i, data := d.pos, d.data
	for i < len(data) && data[i] <= ' ' && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r') {
		i++
	}
	d.pos = i
}

// plainASCII marks the bytes a string token can hold without special handling: printable
// ASCII other than the quote and the backslash. It is read-only.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (d *decoder) value(depth int) (any, error) {
	if d.pos >= len(d.data) {
		return nil, d.syntax("unexpected end of input, expected a value")
	}
	switch c := d.data[d.pos]; c {
	case '{':
		return d.object(depth + 1)
	case '[':
		return d.array(depth + 1)
	case '"':
		return d.str()
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return d.number()
		}
		return nil, d.syntax("invalid character " + strconv.QuoteRune(rune(c)) + " looking for a value")
	}
}

func (d *decoder) literal(lit string) error {
	if len(d.data)-d.pos < len(lit) || string(d.data[d.pos:d.pos+len(lit)]) != lit {
		return d.syntax("invalid literal, expected " + lit)
	}
	d.pos += len(lit)
	return nil
}

func (d *decoder) tooDeep() *InputError {
	return &InputError{Kind: ErrTooDeep, Offset: d.pos, Detail: "nesting exceeds the limit of " + strconv.Itoa(d.maxDepth)}
}

func (d *decoder) object(depth int) (any, error) {
	if depth > d.maxDepth {
		return nil, d.tooDeep()
	}
	d.pos++ // '{'
	m := make(map[string]any)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return m, nil
	}
	for {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.syntax("expected a string object key")
		}
		keyAt := d.pos
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.syntax("expected ':' after object key")
		}
		d.pos++
		d.skipSpace()
		v, err := d.value(depth)
		if err != nil {
			return nil, prefixPath(err, k)
		}
		n := len(m)
		m[k] = v // one hash operation: a duplicate key leaves the length unchanged
		if len(m) == n {
			return nil, &InputError{Kind: ErrDuplicateKey, Offset: keyAt, Path: "/" + escapePointer(k), Detail: "member " + strconv.Quote(k) + " appears more than once"}
		}
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.syntax("unexpected end of input in object")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
			d.skipSpace()
		case '}':
			d.pos++
			return m, nil
		default:
			return nil, d.syntax("expected ',' or '}' in object")
		}
	}
}

func (d *decoder) array(depth int) (any, error) {
	if depth > d.maxDepth {
		return nil, d.tooDeep()
	}
	d.pos++ // '['
	a := make([]any, 0, 4)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return a, nil
	}
	for {
		v, err := d.value(depth)
		if err != nil {
			return nil, prefixPath(err, strconv.Itoa(len(a)))
		}
		a = append(a, v)
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.syntax("unexpected end of input in array")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
			d.skipSpace()
		case ']':
			d.pos++
			return a, nil
		default:
			return nil, d.syntax("expected ',' or ']' in array")
		}
	}
}

// prefixPath adds one reference token in front of an InputError's path while the error
// unwinds, so the happy path never builds paths.
func prefixPath(err error, token string) error {
	if ie, ok := err.(*InputError); ok {
		ie.Path = "/" + escapePointer(token) + ie.Path
	}
	return err
}

func (d *decoder) number() (any, error) {
	start := d.pos
	data := d.data
	i := d.pos
	if data[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		digits()
	default:
		d.pos = i
		return nil, d.syntax("invalid number")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if digits() == 0 {
			d.pos = i
			return nil, d.syntax("invalid number: digits expected after '.'")
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		expAt := i
		if digits() == 0 {
			d.pos = i
			return nil, d.syntax("invalid number: digits expected in exponent")
		}
		if exponentTooLarge(data[expAt:i]) {
			d.pos = start
			return nil, &InputError{Kind: ErrTooLarge, Offset: start, Detail: "number exponent beyond ±" + strconv.Itoa(MaxExponent)}
		}
	}
	d.pos = i
	return json.Number(data[start:i]), nil
}

// str parses a string token; d.pos is at the opening quote.
func (d *decoder) str() (string, error) {
	d.pos++
	start := d.pos
	data := d.data
	// Fast path: ASCII without escapes needs one allocation.
	i := start
	for i < len(data) && plainASCII[data[i]] {
		i++
	}
	if i < len(data) && data[i] == '"' {
		d.pos = i + 1
		return string(data[start:i]), nil
	}
	buf := append(d.buf[:0], data[start:i]...)
	for {
		if i >= len(data) {
			d.pos = i
			return "", d.syntax("unexpected end of input in string")
		}
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.buf = buf
			return string(buf), nil
		case c < 0x20:
			d.pos = i
			return "", d.syntax("control character in string")
		case c == '\\':
			if i+1 >= len(data) {
				d.pos = i
				return "", d.syntax("unexpected end of input in string escape")
			}
			switch e := data[i+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(data, i+2)
				if !ok {
					d.pos = i
					return "", d.syntax("invalid \\u escape")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(data, i+2); ok && i+1 < len(data) && data[i] == '\\' && data[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							buf = utf8.AppendRune(buf, dec)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
				continue
			default:
				d.pos = i
				return "", d.syntax("invalid escape character " + strconv.QuoteRune(rune(e)))
			}
			i += 2
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				d.pos = i
				return "", &InputError{Kind: ErrInvalidUTF8, Offset: i, Detail: "byte 0x" + strconv.FormatUint(uint64(c), 16) + " does not start a valid UTF-8 sequence"}
			}
			buf = append(buf, data[i:i+size]...)
			i += size
		}
	}
}

func hex4(data []byte, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// escapePointer escapes one JSON Pointer reference token (RFC 6901).
func escapePointer(token string) string {
	if strings.IndexByte(token, '~') < 0 && strings.IndexByte(token, '/') < 0 {
		return token
	}
	return strings.ReplaceAll(strings.ReplaceAll(token, "~", "~0"), "/", "~1")
}

// unescapePointer reverses escapePointer.
func unescapePointer(token string) string {
	if strings.IndexByte(token, '~') < 0 {
		return token
	}
	return strings.ReplaceAll(strings.ReplaceAll(token, "~1", "/"), "~0", "~")
}
