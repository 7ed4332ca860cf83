// Package jsonproj decodes only the parts of a JSON document that a consumer reads. A
// Projection is a tree of the object paths wanted; Decode walks the document once, checks
// the syntax of everything (so malformed or non-UTF-8 input is an error even where it is not
// kept) and builds Go values (map[string]any, []any, string, float64 or json.Number, bool,
// nil) only for the projected paths, skipping the rest without allocating.
package jsonproj

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrSyntax reports malformed JSON; *SyntaxError carries the offset.
var ErrSyntax = errors.New("jsonproj: malformed JSON")

// ErrTooDeep reports a document nested deeper than the limit.
var ErrTooDeep = errors.New("jsonproj: nesting too deep")

// SyntaxError is malformed input at byte Offset. It matches ErrSyntax with errors.Is.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("jsonproj: malformed JSON at offset %d: %s", e.Offset, e.Msg)
}

// Is reports whether target is ErrSyntax.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// Projection is the set of paths to decode. The zero value is not usable: build one with
// New. A Projection is immutable and safe for concurrent use.
type Projection struct {
	all      bool                   // decode this whole value
	fields   map[string]*Projection // object members to descend into
	elements *Projection            // for arrays: what to take of every element
	objWhole bool                   // if the value is an object, keep it whole
}

// New builds a projection from dotted paths. A segment "[]" (or a trailing "[]" on a name)
// descends into every element of an array: "issue.labels[].name" keeps the name of each
// label; a path through an array without "[]" applies to every element as well. A path
// that is a prefix of another keeps the whole value. The empty path keeps the
// whole document.
func New(paths ...string) (*Projection, error) {
	root := &Projection{}
	for _, p := range paths {
		if p == "" {
			return &Projection{all: true}, nil
		}
		node := root
		for _, seg := range strings.Split(p, ".") {
			name, arr := strings.CutSuffix(seg, "[]")
			if name == "" && !arr {
				return nil, fmt.Errorf("jsonproj: path %q has an empty segment", p)
			}
			if name != "" {
				if node.fields == nil {
					node.fields = map[string]*Projection{}
				}
				next := node.fields[name]
				if next == nil {
					next = &Projection{}
					node.fields[name] = next
				}
				node = next
			}
			if arr {
				if node.elements == nil {
					node.elements = &Projection{}
				}
				node = node.elements
			}
		}
		node.all = true
	}
	return root, nil
}

// All returns a projection that keeps the whole document.
func All() *Projection { return &Projection{all: true} }

// Options tune decoding.
type Options struct {
	// UseNumber keeps numbers as json.Number (exact) instead of float64.
	UseNumber bool
	// MaxDepth bounds nesting (objects and arrays) of the whole document; 0 means 10000.
	MaxDepth int
}

// Decode decodes the projected parts of data, which must hold one JSON object, into a map.
// Members that are not projected are absent. Every byte of data is checked: malformed JSON
// is a *SyntaxError, invalid UTF-8 in a string too, nesting beyond MaxDepth ErrTooDeep.
func (p *Projection) Decode(data []byte, o Options) (map[string]any, error) {
	d := decoder{data: data, opt: o}
	return d.decode(p)
}

// DecodeCompact is Decode that also appends data without its insignificant white space
// (what encoding/json.Compact writes) to dst, in the same pass, and returns the extended
// buffer. On error dst is returned as given.
func (p *Projection) DecodeCompact(data []byte, o Options, dst []byte) (map[string]any, []byte, error) {
	d := decoder{data: data, opt: o, compact: true, out: dst}
	m, err := d.decode(p)
	if err != nil {
		return nil, dst, err
	}
	return m, append(d.out, data[d.mark:]...), nil
}

func (d *decoder) decode(p *Projection) (map[string]any, error) {
	if d.opt.MaxDepth <= 0 {
		d.opt.MaxDepth = 10000
	}
	d.ws()
	if d.i >= len(d.data) || d.data[d.i] != '{' {
		return nil, d.fail("the document is not a JSON object")
	}
	v, err := d.value(p, 0)
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.i != len(d.data) {
		return nil, d.fail("data after the top-level value")
	}
	return v.(map[string]any), nil
}

type decoder struct {
	data []byte
	i    int
	opt  Options
	// compaction (DecodeCompact): data[:mark] without white space is in out
	compact bool
	out     []byte
	mark    int
}

func (d *decoder) fail(msg string) error { return &SyntaxError{Offset: d.i, Msg: msg} }

func (d *decoder) ws() {
	start := d.i
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
			continue
		}
		break
	}
	if d.compact && d.i != start {
		d.out = append(d.out, d.data[d.mark:start]...)
		d.mark = d.i
	}
}

// value decodes (p keeps something) or skips (p nil) the value at d.i.
func (d *decoder) value(p *Projection, depth int) (any, error) {
	d.ws()
	if d.i >= len(d.data) {
		return nil, d.fail("unexpected end of input")
	}
	keep := p != nil
	whole := keep && p.all
	switch c := d.data[d.i]; c {
	case '{':
		if depth >= d.opt.MaxDepth {
			return nil, fmt.Errorf("%w: more than %d levels at offset %d", ErrTooDeep, d.opt.MaxDepth, d.i)
		}
		return d.object(p, whole || keep && p.objWhole, depth+1)
	case '[':
		if depth >= d.opt.MaxDepth {
			return nil, fmt.Errorf("%w: more than %d levels at offset %d", ErrTooDeep, d.opt.MaxDepth, d.i)
		}
		return d.array(p, whole, depth+1)
	case '"':
		s, err := d.str(keep)
		if err != nil || !keep {
			return nil, err
		}
		return s, nil
	case 't':
		return d.lit("true", true, keep)
	case 'f':
		return d.lit("false", false, keep)
	case 'n':
		return d.lit("null", nil, keep)
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return d.number(keep)
		}
		return nil, d.fail(fmt.Sprintf("invalid character %q looking for a value", c))
	}
}

func (d *decoder) object(p *Projection, whole bool, depth int) (any, error) {
	d.i++ // {
	var m map[string]any
	if p != nil {
		m = make(map[string]any, 8)
	}
	d.ws()
	if d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		d.ws()
		if d.i >= len(d.data) || d.data[d.i] != '"' {
			return nil, d.fail("expected a string member name")
		}
		var child *Projection
		var key string
		switch {
		case whole:
			k, err := d.str(true)
			if err != nil {
				return nil, err
			}
			key, child = k, p
		case p != nil && p.fields != nil:
			start := d.i + 1
			if _, err := d.str(false); err != nil {
				return nil, err
			}
			if end := d.i - 1; !hasEscape(d.data[start:end]) {
				// the lookup converts without allocating; the key is built only when kept
				if child = p.fields[string(d.data[start:end])]; child != nil {
					key = string(d.data[start:end])
				}
			} else {
				save := d.i
				d.i = start - 1
				k, err := d.str(true)
				if err != nil {
					return nil, err
				}
				d.i = save
				key, child = k, p.fields[k]
			}
		default:
			if _, err := d.str(false); err != nil {
				return nil, err
			}
		}
		d.ws()
		if d.i >= len(d.data) || d.data[d.i] != ':' {
			return nil, d.fail("expected ':' after a member name")
		}
		d.i++
		v, err := d.value(child, depth)
		if err != nil {
			return nil, err
		}
		if child != nil {
			m[key] = v
		}
		d.ws()
		if d.i >= len(d.data) {
			return nil, d.fail("unexpected end of input in an object")
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return m, nil
		default:
			return nil, d.fail("expected ',' or '}' in an object")
		}
	}
}

func (d *decoder) array(p *Projection, whole bool, depth int) (any, error) {
	d.i++ // [
	var elem *Projection
	var a []any
	if p != nil {
		a = make([]any, 0, 4)
		elem = p.elements
		if whole || elem == nil {
			elem = p // a whole array, or a member path applied to every element
		}
	}
	d.ws()
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		v, err := d.value(elem, depth)
		if err != nil {
			return nil, err
		}
		if p != nil {
			a = append(a, v)
		}
		d.ws()
		if d.i >= len(d.data) {
			return nil, d.fail("unexpected end of input in an array")
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return a, nil
		default:
			return nil, d.fail("expected ',' or ']' in an array")
		}
	}
}

func (d *decoder) lit(word string, v any, keep bool) (any, error) {
	if len(d.data)-d.i < len(word) || string(d.data[d.i:d.i+len(word)]) != word {
		return nil, d.fail("invalid literal")
	}
	d.i += len(word)
	if !keep {
		return nil, nil
	}
	return v, nil
}

func (d *decoder) number(keep bool) (any, error) {
	start := d.i
	b := d.data
	i := d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		d.i = i
		return nil, d.fail("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.i = i
			return nil, d.fail("invalid number: no digit after '.'")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.i = i
			return nil, d.fail("invalid number: no digit in the exponent")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	d.i = i
	if !keep {
		return nil, nil
	}
	if d.opt.UseNumber {
		return json.Number(b[start:i]), nil
	}
	f, err := strconv.ParseFloat(string(b[start:i]), 64)
	if err != nil {
		d.i = start
		return nil, d.fail("number out of range")
	}
	return f, nil
}

// str reads the string at d.i (which is '"'), checking escapes, control characters and
// UTF-8; it builds the Go string only when keep.
func (d *decoder) str(keep bool) (string, error) {
	b := d.data
	i := d.i + 1
	start := i
	ascii := true
	for i < len(b) {
		i = plainRun(b, i)
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			if !ascii && !utf8.Valid(b[start:i]) {
				d.i = start
				return "", d.fail("invalid UTF-8 in a string")
			}
			d.i = i + 1
			if !keep {
				return "", nil
			}
			return string(b[start:i]), nil
		case c == '\\':
			d.i = start - 1
			return d.escaped(keep)
		case c < 0x20:
			d.i = i
			return "", d.fail("control character in a string")
		case c >= 0x80:
			ascii = false
		}
		i++
	}
	d.i = i
	return "", d.fail("unterminated string")
}

// escaped decodes a string holding escapes, slowly and exactly as encoding/json does, but
// refusing invalid UTF-8 instead of replacing it.
func (d *decoder) escaped(keep bool) (string, error) {
	b := d.data
	i := d.i + 1
	var sb strings.Builder
	if keep {
		sb.Grow(64)
	}
	for i < len(b) {
		if j := plainRun(b, i); j > i {
			if keep {
				sb.Write(b[i:j])
			}
			if i = j; i >= len(b) {
				break
			}
		}
		c := b[i]
		switch {
		case c == '"':
			d.i = i + 1
			return sb.String(), nil
		case c < 0x20:
			d.i = i
			return "", d.fail("control character in a string")
		case c == '\\':
			if i+1 >= len(b) {
				d.i = i
				return "", d.fail("unterminated escape")
			}
			i++
			switch b[i] {
			case '"', '\\', '/':
				if keep {
					sb.WriteByte(b[i])
				}
			case 'b':
				if keep {
					sb.WriteByte('\b')
				}
			case 'f':
				if keep {
					sb.WriteByte('\f')
				}
			case 'n':
				if keep {
					sb.WriteByte('\n')
				}
			case 'r':
				if keep {
					sb.WriteByte('\r')
				}
			case 't':
				if keep {
					sb.WriteByte('\t')
				}
			case 'u':
				r, n, ok := hex4(b[i+1:])
				if !ok {
					d.i = i
					return "", d.fail("invalid \\u escape")
				}
				i += n
				if utf16.IsSurrogate(r) {
					r2, n2, ok2 := rune(0), 0, false
					if i+2 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
						r2, n2, ok2 = hex4(b[i+3:])
					}
					if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
						r = dec
						i += 2 + n2
					} else {
						r = utf8.RuneError
					}
				}
				if keep {
					sb.WriteRune(r)
				}
			default:
				d.i = i
				return "", d.fail("invalid escape character")
			}
			i++
		default:
			if c < utf8.RuneSelf {
				if keep {
					sb.WriteByte(c)
				}
				i++
				continue
			}
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				d.i = i
				return "", d.fail("invalid UTF-8 in a string")
			}
			if keep {
				sb.Write(b[i : i+size])
			}
			i += size
		}
	}
	d.i = i
	return "", d.fail("unterminated string")
}

func hasEscape(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

func hex4(b []byte) (rune, int, bool) {
	if len(b) < 4 {
		return 0, 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, 0, false
		}
		r = r*16 + rune(c)
	}
	return r, 4, true
}
