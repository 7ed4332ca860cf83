// Package jsonproj decodes only the parts of a JSON document that a consumer reads. A
// Projection is a tree of the object paths wanted; Decode walks the document once, checks
// the syntax of everything (so malformed or non-UTF-8 input is an error even where it is not
// kept) and builds Go values (map[string]any, []any, string, float64 or json.Number, bool,
// nil) only for the projected paths, skipping the rest without allocating.
package jsonproj

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"slices"
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

	// lookup of fields while decoding (see finish): the names and their projections when
	// they are few, and a filter of their lengths and first bytes
	names  []string
	kids   []*Projection
	filter uint64
}

// maxLinear is the most fields looked up by comparing names one by one; more use the map.
const maxLinear = 16

// finish prepares p and what it reaches for decoding: Decode reads names, kids and filter.
func (p *Projection) finish() *Projection {
	if p == nil {
		return p
	}
	p.names, p.kids, p.filter = nil, nil, 0
	for name, c := range p.fields {
		c.finish()
		p.filter |= keyBit(name)
		if len(p.fields) <= maxLinear {
			p.names = append(p.names, name)
			p.kids = append(p.kids, c)
		}
	}
	p.elements.finish()
	return p
}

// keyBit is the bit of the filter for a member name (empty names have their own bit).
func keyBit[S string | []byte](k S) uint64 {
	if len(k) == 0 {
		return 1
	}
	return 1 << ((uint(len(k))*7 + uint(k[0])) & 63)
}

// child returns the projection of the member named k, nil when the member is not wanted.
func (p *Projection) child(k []byte) *Projection {
	if p.filter&keyBit(k) == 0 {
		return nil
	}
	if p.names == nil {
		return p.fields[string(k)]
	}
	for i, n := range p.names {
		if len(n) == len(k) && n == string(k) {
			return p.kids[i]
		}
	}
	return nil
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
	return root.finish(), nil
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
	// room for all of data up front: the compaction then copies without growing
	out := slices.Grow(dst, len(data))
	d := decoder{data: data, opt: o, compact: true, out: out[:cap(out)], n: len(dst)}
	m, err := d.decode(p)
	if err != nil {
		return nil, dst, err
	}
	n := d.n + copy(d.out[d.n:], data[d.mark:])
	return m, d.out[:n], nil
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
	// compaction (DecodeCompact): data[:mark] without white space is in out[:n]; out has
	// room for all of data
	compact bool
	out     []byte
	n       int
	mark    int
}

func (d *decoder) fail(msg string) error { return &SyntaxError{Offset: d.i, Msg: msg} }

// ws skips white space at d.i. Its test is small enough to be inlined; the skipping and
// compaction are in wsRun.
func (d *decoder) ws() {
	if d.i < len(d.data) && d.data[d.i] <= ' ' {
		d.wsRun()
	}
}

// wsMask has the bits of the white space bytes (all below 64).
const wsMask uint64 = 1<<' ' | 1<<'\t' | 1<<'\n' | 1<<'\r'

// wsRun is kept out of line so that ws stays small enough to inline.
//
//go:noinline
func (d *decoder) wsRun() {
	b := d.data
	i := d.i
	for i < len(b) {
		c := b[i]
		if c == ' ' && i+8 <= len(b) {
			// runs of spaces (indentation) eight bytes at a time
			if y := binary.LittleEndian.Uint64(b[i:i+8]) ^ lsb*' '; y != 0 {
				i += bits.TrailingZeros64(y) / 8
			} else {
				i += 8
			}
			continue
		}
		if c > ' ' || wsMask&(1<<c) == 0 {
			break
		}
		i++
	}
	if i == d.i {
		return
	}
	if d.compact {
		if seg := d.i - d.mark; seg <= 16 && d.mark+16 <= len(b) {
			// a short segment is copied as 16 bytes, inline: the bytes past it are
			// overwritten later (out[n:] has room, since n-len(dst) <= mark)
			copy(d.out[d.n:d.n+16], b[d.mark:d.mark+16])
			d.n += seg
		} else {
			d.n += copy(d.out[d.n:], b[d.mark:d.i])
		}
		d.mark = i
	}
	d.i = i
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
		if whole {
			m = make(map[string]any, 8)
		} else {
			m = make(map[string]any, len(p.fields)) // at most these are kept
		}
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
			plain, err := d.span()
			if err != nil {
				return nil, err
			}
			if plain {
				// the lookup converts without allocating; the key is built only when kept
				if child = p.child(d.data[start : d.i-1]); child != nil {
					key = string(d.data[start : d.i-1])
				}
			} else {
				k, err := d.escaped(true)
				if err != nil {
					return nil, err
				}
				key, child = k, p.fields[k] // rare: no need for the fast lookup
			}
		default:
			if plain, err := d.span(); err != nil {
				return nil, err
			} else if !plain {
				if _, err := d.escaped(false); err != nil {
					return nil, err
				}
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
	start := d.i + 1
	plain, err := d.span()
	if err != nil {
		return "", err
	}
	if !plain {
		return d.escaped(keep)
	}
	if !keep {
		return "", nil
	}
	return string(d.data[start : d.i-1]), nil
}

// span checks the string at d.i (which is '"') up to its first escape. Without one it moves
// d.i past the closing quote and reports true; at an escape it reports false and leaves d.i
// at the opening quote, for escaped.
func (d *decoder) span() (bool, error) {
	b := d.data
	i := d.i + 1
	start := i
	ascii := true
	for {
		if i = plainRun(b, i); i >= len(b) {
			d.i = i
			return false, d.fail("unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			if !ascii && !utf8.Valid(b[start:i]) {
				d.i = start
				return false, d.fail("invalid UTF-8 in a string")
			}
			d.i = i + 1
			return true, nil
		case c == '\\':
			return false, nil
		case c < 0x20:
			d.i = i
			return false, d.fail("control character in a string")
		}
		ascii = false // c >= 0x80
		i++
	}
}

// escaped decodes a string holding escapes, slowly and exactly as encoding/json does, but
// refusing invalid UTF-8 instead of replacing it.
func (d *decoder) escaped(keep bool) (string, error) {
	b := d.data
	i := d.i + 1
	var sb strings.Builder
	if keep {
		// the raw length up to the closing quote bounds the decoded length
		sb.Grow(StringEnd(b, i) - i)
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

// StringEnd returns the index of the quote closing the JSON string whose contents start at
// i in b (len(b) when unterminated), without checking the contents.
func StringEnd(b []byte, i int) int {
	for {
		k := bytes.IndexByte(b[i:], '"')
		if k < 0 {
			return len(b)
		}
		q := i + k
		n := 0 // backslashes right before the quote
		for j := q - 1; j >= i && b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		i = q + 1
	}
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
