package contract

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// The fast path answers one question — is this document valid? — for schemas that use
// only keywords whose verdict does not depend on annotations (no unevaluated*, $dynamicRef,
// $recursiveRef or content*). It is built once per contract from jsonschema v5's compiled
// schema, allocates nothing for strings, booleans and integers, and never explains: any
// "invalid" or uncertain verdict falls back to jsonschema v5, which produces the violations.
// A "valid" verdict must therefore be exact; TestFastPathAgreesWithV5 checks it against the
// official test suite.

type fastNode struct {
	always *bool
	types  uint8 // bit set of jsonType*; 0 = any
	konst  []any // 0 or 1 element
	enum   []any
	empty  bool // "enum": [] (rejects everything)
	format func(any) bool

	minProps, maxProps int
	required           []string
	props              map[string]*fastNode
	patterns           []fastPattern
	additional         *fastNode // nil: anything
	additionalFalse    bool
	propertyNames      *fastNode
	depRequired        map[string][]string
	depSchemas         map[string]*fastNode

	minItems, maxItems int
	unique             bool
	items              *fastNode   // every item (after prefix)
	prefix             []*fastNode // positional
	additionalItemsNo  bool        // draft<2020 tuple with additionalItems false
	contains           *fastNode
	minContains        int
	maxContains        int

	minLen, maxLen int
	pattern        *regexp.Regexp

	minimum, maximum, exMinimum, exMaximum *fastBound
	multipleOf                             *big.Rat

	ref             *fastNode
	allOf, anyOf    []*fastNode
	oneOf           []*fastNode
	not             *fastNode
	ifS, thenS, elS *fastNode
}

type fastPattern struct {
	re   *regexp.Regexp
	node *fastNode
}

// fastBound is a numeric bound with an int64 shortcut when the bound is a whole number.
type fastBound struct {
	rat   *big.Rat
	i     int64
	isInt bool
}

const (
	tNull uint8 = 1 << iota
	tBool
	tInt
	tNum
	tStr
	tArr
	tObj
)

var typeBits = map[string]uint8{"null": tNull, "boolean": tBool, "integer": tInt, "number": tNum | tInt, "string": tStr, "array": tArr, "object": tObj}

type fastBuilder struct {
	formats map[string]func(any) bool
	nodes   map[*jsonschema.Schema]*fastNode
	ok      bool
}

// buildFast returns the fast validator for s, or nil when s uses a keyword it does not cover.
func buildFast(s *jsonschema.Schema, formats map[string]func(any) bool) *fastNode {
	b := &fastBuilder{formats: formats, nodes: map[*jsonschema.Schema]*fastNode{}, ok: true}
	n := b.node(s)
	if !b.ok {
		return nil
	}
	return n
}

func (b *fastBuilder) node(s *jsonschema.Schema) *fastNode {
	if s == nil || !b.ok {
		return nil
	}
	if n, ok := b.nodes[s]; ok {
		return n
	}
	n := &fastNode{}
	b.nodes[s] = n
	if s.Always != nil {
		n.always = s.Always
		return n
	}
	if s.RecursiveRef != nil || s.DynamicRef != nil || s.UnevaluatedProperties != nil || s.UnevaluatedItems != nil ||
		s.ContentEncoding != "" || s.ContentMediaType != "" || s.ContentSchema != nil || s.RegexProperties {
		b.ok = false
		return nil
	}
	for name := range s.Extensions {
		if name != "empty-enum" {
			b.ok = false
			return nil
		}
		n.empty = true
	}
	for _, t := range s.Types {
		n.types |= typeBits[t]
	}
	n.konst = s.Constant
	n.enum = s.Enum
	if s.Format != "" && b.formats != nil {
		n.format = b.formats[s.Format]
	}
	n.minProps, n.maxProps = s.MinProperties, s.MaxProperties
	n.required = s.Required
	if len(s.Properties) > 0 {
		n.props = make(map[string]*fastNode, len(s.Properties))
		for k, p := range s.Properties {
			n.props[k] = b.node(p)
		}
	}
	for re, p := range s.PatternProperties {
		n.patterns = append(n.patterns, fastPattern{re, b.node(p)})
	}
	switch a := s.AdditionalProperties.(type) {
	case bool:
		n.additionalFalse = !a
	case *jsonschema.Schema:
		n.additional = b.node(a)
	}
	n.propertyNames = b.node(s.PropertyNames)
	for k, d := range s.Dependencies {
		switch d := d.(type) {
		case []string:
			if n.depRequired == nil {
				n.depRequired = map[string][]string{}
			}
			n.depRequired[k] = append(n.depRequired[k], d...)
		case *jsonschema.Schema:
			if n.depSchemas == nil {
				n.depSchemas = map[string]*fastNode{}
			}
			n.depSchemas[k] = b.node(d)
		}
	}
	for k, d := range s.DependentRequired {
		if n.depRequired == nil {
			n.depRequired = map[string][]string{}
		}
		n.depRequired[k] = append(n.depRequired[k], d...)
	}
	for k, d := range s.DependentSchemas {
		if n.depSchemas == nil {
			n.depSchemas = map[string]*fastNode{}
		}
		if _, dup := n.depSchemas[k]; dup {
			b.ok = false
			return nil
		}
		n.depSchemas[k] = b.node(d)
	}

	n.minItems, n.maxItems, n.unique = s.MinItems, s.MaxItems, s.UniqueItems
	switch it := s.Items.(type) {
	case *jsonschema.Schema:
		n.items = b.node(it)
	case []*jsonschema.Schema:
		for _, p := range it {
			n.prefix = append(n.prefix, b.node(p))
		}
		switch a := s.AdditionalItems.(type) {
		case bool:
			n.additionalItemsNo = !a
		case *jsonschema.Schema:
			n.items = b.node(a)
		}
	}
	if len(s.PrefixItems) > 0 || s.Items2020 != nil {
		if n.items != nil || len(n.prefix) > 0 {
			b.ok = false
			return nil
		}
		for _, p := range s.PrefixItems {
			n.prefix = append(n.prefix, b.node(p))
		}
		n.items = b.node(s.Items2020)
	}
	if s.Contains != nil {
		n.contains = b.node(s.Contains)
	}
	n.minContains, n.maxContains = s.MinContains, s.MaxContains

	n.minLen, n.maxLen, n.pattern = s.MinLength, s.MaxLength, s.Pattern
	n.minimum, n.maximum = bound(s.Minimum), bound(s.Maximum)
	n.exMinimum, n.exMaximum = bound(s.ExclusiveMinimum), bound(s.ExclusiveMaximum)
	n.multipleOf = s.MultipleOf

	n.ref = b.node(s.Ref)
	for _, x := range s.AllOf {
		n.allOf = append(n.allOf, b.node(x))
	}
	for _, x := range s.AnyOf {
		n.anyOf = append(n.anyOf, b.node(x))
	}
	for _, x := range s.OneOf {
		n.oneOf = append(n.oneOf, b.node(x))
	}
	n.not = b.node(s.Not)
	if s.If != nil {
		n.ifS, n.thenS, n.elS = b.node(s.If), b.node(s.Then), b.node(s.Else)
	}
	return n
}

func bound(r *big.Rat) *fastBound {
	if r == nil {
		return nil
	}
	fb := &fastBound{rat: r}
	if r.IsInt() && r.Num().IsInt64() {
		fb.i, fb.isInt = r.Num().Int64(), true
	}
	return fb
}

// fastState carries the "uncertain" flag: once set, the verdict is handed to jsonschema v5.
type fastState struct {
	unsure bool
}

const fastMaxDepth = 512

// valid reports whether doc is valid; false means "invalid or not sure".
func (n *fastNode) valid(doc any) bool {
	var st fastState
	ok := n.check(doc, &st, 0)
	return ok && !st.unsure
}

func (n *fastNode) check(v any, st *fastState, depth int) bool {
	if n == nil {
		return true
	}
	if n.always != nil {
		return *n.always
	}
	if n.empty {
		return false
	}
	depth++
	if depth > fastMaxDepth {
		st.unsure = true
		return false
	}

	var t uint8
	switch x := v.(type) {
	case nil:
		t = tNull
	case bool:
		t = tBool
	case string:
		t = tStr
	case map[string]any:
		t = tObj
	case []any:
		t = tArr
	case json.Number:
		t = tNum
		if numberIsInt(x) {
			t |= tInt
		}
	case float64:
		t = tNum
		if x == math.Trunc(x) && !math.IsInf(x, 0) {
			t |= tInt
		}
	case float32:
		t = tNum
		if f := float64(x); f == math.Trunc(f) {
			t |= tInt
		}
	case int, int8, int32, int64, uint, uint8, uint32, uint64:
		t = tNum | tInt
	default:
		st.unsure = true
		return false
	}
	if n.types != 0 && n.types&t == 0 {
		return false
	}
	if len(n.konst) > 0 && !jsonEquals(v, n.konst[0], st) {
		return false
	}
	if len(n.enum) > 0 {
		found := false
		for _, e := range n.enum {
			if jsonEquals(v, e, st) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if n.format != nil && !n.format(v) {
		return false
	}

	switch x := v.(type) {
	case map[string]any:
		if !n.checkObject(x, st, depth) {
			return false
		}
	case []any:
		if !n.checkArray(x, st, depth) {
			return false
		}
	case string:
		if !n.lengthOK(x) {
			return false
		}
		if n.pattern != nil && !n.pattern.MatchString(x) {
			return false
		}
	default:
		if t&tNum != 0 && !n.checkNumber(v, st) {
			return false
		}
	}

	if n.ref != nil && !n.ref.check(v, st, depth) {
		return false
	}
	for _, s := range n.allOf {
		if !s.check(v, st, depth) {
			return false
		}
	}
	if len(n.anyOf) > 0 {
		any := false
		for _, s := range n.anyOf {
			if s.check(v, st, depth) {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	if len(n.oneOf) > 0 {
		count := 0
		for _, s := range n.oneOf {
			if s.check(v, st, depth) {
				count++
			}
		}
		if count != 1 {
			return false
		}
	}
	if n.not != nil && n.not.check(v, st, depth) {
		return false
	}
	if n.ifS != nil {
		if n.ifS.check(v, st, depth) {
			if n.thenS != nil && !n.thenS.check(v, st, depth) {
				return false
			}
		} else if n.elS != nil && !n.elS.check(v, st, depth) {
			return false
		}
	}
	return true
}

// lengthOK checks minLength/maxLength in characters, counting runes only when the byte
// length cannot decide (a string has at most as many runes as bytes).
func (n *fastNode) lengthOK(s string) bool {
	if n.maxLen >= 0 && len(s) > n.maxLen && utf8.RuneCountInString(s) > n.maxLen {
		return false
	}
	if n.minLen > 0 && len(s) < n.minLen {
		return false
	}
	if n.minLen > 1 && utf8.RuneCountInString(s) < n.minLen {
		return false
	}
	return true
}

func (n *fastNode) checkObject(m map[string]any, st *fastState, depth int) bool {
	if (n.minProps >= 0 && len(m) < n.minProps) || (n.maxProps >= 0 && len(m) > n.maxProps) {
		return false
	}
	for _, r := range n.required {
		if _, ok := m[r]; !ok {
			return false
		}
	}
	for k, v := range m {
		declared := false
		if p, ok := n.props[k]; ok {
			declared = true
			if !p.check(v, st, depth) {
				return false
			}
		}
		for _, pp := range n.patterns {
			if pp.re.MatchString(k) {
				declared = true
				if !pp.node.check(v, st, depth) {
					return false
				}
			}
		}
		if !declared {
			if n.additionalFalse {
				return false
			}
			if n.additional != nil && !n.additional.check(v, st, depth) {
				return false
			}
		}
		if n.propertyNames != nil && !n.propertyNames.check(k, st, depth) {
			return false
		}
	}
	for k, req := range n.depRequired {
		if _, ok := m[k]; ok {
			for _, r := range req {
				if _, ok := m[r]; !ok {
					return false
				}
			}
		}
	}
	for k, s := range n.depSchemas {
		if _, ok := m[k]; ok && !s.check(m, st, depth) {
			return false
		}
	}
	return true
}

func (n *fastNode) checkArray(a []any, st *fastState, depth int) bool {
	if (n.minItems >= 0 && len(a) < n.minItems) || (n.maxItems >= 0 && len(a) > n.maxItems) {
		return false
	}
	if n.unique {
		if len(a) > 64 {
			st.unsure = true
			return false
		}
		for i := 1; i < len(a); i++ {
			for j := 0; j < i; j++ {
				if jsonEquals(a[i], a[j], st) {
					return false
				}
			}
		}
	}
	if n.additionalItemsNo && len(a) > len(n.prefix) {
		return false
	}
	for i, v := range a {
		if i < len(n.prefix) {
			if !n.prefix[i].check(v, st, depth) {
				return false
			}
		} else if n.items != nil && !n.items.check(v, st, depth) {
			return false
		}
	}
	if n.contains != nil {
		matched := 0
		for _, v := range a {
			if n.contains.check(v, st, depth) {
				matched++
			}
		}
		if (n.minContains != -1 && matched < n.minContains) || (n.maxContains != -1 && matched > n.maxContains) {
			return false
		}
	}
	return true
}

func (n *fastNode) checkNumber(v any, st *fastState) bool {
	if n.minimum == nil && n.maximum == nil && n.exMinimum == nil && n.exMaximum == nil && n.multipleOf == nil {
		return true
	}
	i, isInt := smallInt(v)
	var r *big.Rat
	cmp := func(b *fastBound) int {
		if isInt && b.isInt {
			switch {
			case i < b.i:
				return -1
			case i > b.i:
				return 1
			}
			return 0
		}
		if r == nil {
			r = ratOf(v)
			if r == nil {
				st.unsure = true
				return 0
			}
		}
		return r.Cmp(b.rat)
	}
	if n.minimum != nil && cmp(n.minimum) < 0 {
		return false
	}
	if n.exMinimum != nil && cmp(n.exMinimum) <= 0 {
		return false
	}
	if n.maximum != nil && cmp(n.maximum) > 0 {
		return false
	}
	if n.exMaximum != nil && cmp(n.exMaximum) >= 0 {
		return false
	}
	if n.multipleOf != nil {
		if r == nil {
			r = ratOf(v)
		}
		if r == nil {
			st.unsure = true
			return false
		}
		if !new(big.Rat).Quo(r, n.multipleOf).IsInt() {
			return false
		}
	}
	return true
}

// smallInt returns v as an int64 when it is an integer literal or Go integer that fits.
func smallInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if len(s) == 0 || len(s) > 18 {
			return 0, false
		}
		neg := s[0] == '-'
		if neg {
			s = s[1:]
		}
		if s == "" {
			return 0, false
		}
		var n int64
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int64(c-'0')
		}
		if neg {
			n = -n
		}
		return n, true
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint32:
		return int64(x), true
	}
	return 0, false
}

// ratOf converts a number exactly as jsonschema v5 does (its decimal text).
func ratOf(v any) *big.Rat {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	default:
		s = fmt.Sprint(v)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil
	}
	return r
}

// numberIsInt reports whether a JSON number literal denotes an integer ("1", "1.0", "1e3").
func numberIsInt(n json.Number) bool {
	s := string(n)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '.' || c == 'e' || c == 'E' {
			r, ok := new(big.Rat).SetString(s)
			return ok && r.IsInt()
		}
	}
	return true
}

// jsonEquals compares two JSON values as jsonschema v5 does: numbers by exact value.
func jsonEquals(a, b any, st *fastState) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEquals(x[i], y[i], st) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEquals(xv, yv, st) {
				return false
			}
		}
		return true
	}
	switch b.(type) {
	case nil, bool, string, []any, map[string]any:
		return false
	}
	if i, ok := smallInt(a); ok {
		if j, ok := smallInt(b); ok {
			return i == j
		}
	}
	ra, rb := ratOf(a), ratOf(b)
	if ra == nil || rb == nil {
		st.unsure = true
		return false
	}
	return ra.Cmp(rb) == 0
}
