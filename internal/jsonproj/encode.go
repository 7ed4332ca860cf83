package jsonproj

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrUnsupported reports a value AppendJSON cannot encode.
var ErrUnsupported = fmt.Errorf("jsonproj: unsupported value")

// AppendJSON appends the JSON encoding of v to dst, byte for byte what encoding/json.Marshal
// writes (object keys sorted, HTML characters and U+2028/U+2029 escaped, invalid UTF-8
// replaced) for the generic values a decoded document and a mapping produce: nil, bool,
// string, float64, float32, int, int64, int32, uint64, json.Number, []any, []string,
// map[string]any and json.RawMessage. Other types are encoded by encoding/json.
func AppendJSON(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case string:
		return appendString(dst, v), nil
	case float64:
		return appendFloat(dst, v, 64)
	case float32:
		return appendFloat(dst, float64(v), 32)
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), nil
	case json.Number:
		if v == "" {
			return append(dst, '0'), nil
		}
		if !json.Valid([]byte(v)) {
			return dst, fmt.Errorf("%w: invalid number literal %q", ErrUnsupported, string(v))
		}
		return append(dst, v...), nil
	case []any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = AppendJSON(dst, e); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []string:
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, e)
		}
		return append(dst, ']'), nil
	case map[string]any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		// members are collected with their values (no lookup per key) and sorted by key
		var buf [32]member
		ms := buf[:0]
		for k, e := range v {
			ms = append(ms, member{k, e})
		}
		if len(ms) <= len(buf) {
			for i := 1; i < len(ms); i++ { // insertion sort: few members
				for j := i; j > 0 && ms[j].k < ms[j-1].k; j-- {
					ms[j], ms[j-1] = ms[j-1], ms[j]
				}
			}
		} else {
			slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.k, b.k) })
		}
		dst = append(dst, '{')
		for i := range ms {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, ms[i].k)
			dst = append(dst, ':')
			var err error
			if dst, err = AppendJSON(dst, ms[i].v); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return append(dst, b...), nil
}

// member is an object member being encoded.
type member struct {
	k string
	v any
}

// appendFloat writes f as encoding/json does.
func appendFloat(dst []byte, f float64, bits int) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, fmt.Errorf("%w: %v", ErrUnsupported, f)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, byte for byte what encoding/json.Marshal writes
// (AppendJSON of a string, without converting it to an interface).
func AppendString(dst []byte, s string) []byte { return appendString(dst, s) }

// appendString writes s quoted and escaped as encoding/json does with HTML escaping on.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if i = htmlSafeRun(s, i); i >= len(s) {
			break
		}
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
