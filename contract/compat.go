package contract

import (
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strings"
)

// ChangeKind classifies one difference between two versions of a schema.
type ChangeKind string

// Change kinds reported by [Compare]. Whether a change is breaking depends on the kind and
// the direction; Change.Breaking says.
const (
	// ChangeRequiredAdded: a property became required (breaking).
	ChangeRequiredAdded ChangeKind = "required-added"
	// ChangeRequiredRemoved: a property is no longer required.
	ChangeRequiredRemoved ChangeKind = "required-removed"
	// ChangePropertyAdded: a property was declared.
	ChangePropertyAdded ChangeKind = "property-added"
	// ChangePropertyRemoved: a property declaration was removed; breaking when the object
	// does not accept undeclared properties.
	ChangePropertyRemoved ChangeKind = "property-removed"
	// ChangeTypeNarrowed: the allowed types lost a member (breaking).
	ChangeTypeNarrowed ChangeKind = "type-narrowed"
	// ChangeTypeWidened: the allowed types gained a member.
	ChangeTypeWidened ChangeKind = "type-widened"
	// ChangeEnumValueRemoved: an enum value is no longer allowed (breaking).
	ChangeEnumValueRemoved ChangeKind = "enum-value-removed"
	// ChangeEnumValueAdded: an enum value was added.
	ChangeEnumValueAdded ChangeKind = "enum-value-added"
	// ChangeBoundTightened: a minimum/maximum/length/items/properties bound became
	// stricter or appeared (breaking).
	ChangeBoundTightened ChangeKind = "bound-tightened"
	// ChangeBoundRelaxed: such a bound became looser or disappeared.
	ChangeBoundRelaxed ChangeKind = "bound-relaxed"
	// ChangeClosed: undeclared properties were allowed and no longer are (breaking).
	ChangeClosed ChangeKind = "additional-properties-closed"
	// ChangeOpened: undeclared properties were refused and now are allowed.
	ChangeOpened ChangeKind = "additional-properties-opened"
	// ChangeConstraintAdded: a pattern, format, enum, const, uniqueItems or other
	// constraint appeared (breaking).
	ChangeConstraintAdded ChangeKind = "constraint-added"
	// ChangeConstraintRemoved: such a constraint disappeared.
	ChangeConstraintRemoved ChangeKind = "constraint-removed"
	// ChangeConstraintChanged: a constraint changed in a way that cannot be proven
	// compatible (a different pattern, format, $ref or composition) — treated as breaking.
	ChangeConstraintChanged ChangeKind = "constraint-changed"
)

// Change is one difference between two schema versions.
type Change struct {
	// Path is the JSON Pointer of the keyword in the new schema, e.g.
	// "/properties/status/enum".
	Path string `json:"path"`
	// Kind classifies the change.
	Kind ChangeKind `json:"kind"`
	// Breaking is true when some document valid under the old version may be invalid
	// under the new one.
	Breaking bool `json:"breaking"`
	// Message describes the change for people.
	Message string `json:"message"`
	// Old and New hold the keyword values compared, where that helps (nil when absent).
	Old any `json:"old,omitempty"`
	New any `json:"new,omitempty"`
}

// String formats the change as "PATH: MESSAGE".
func (c Change) String() string { return c.Path + ": " + c.Message }

// Compatibility is the result of comparing two versions of a schema.
type Compatibility struct {
	// Backward is true when every document valid under the old version is valid under
	// the new one, as far as the comparison can tell: readers on the new version accept
	// what writers on the old one send. Changes it cannot prove safe count as breaking.
	Backward bool `json:"backward"`
	// Changes lists every difference found, ordered by path.
	Changes []Change `json:"changes,omitempty"`
}

// Breaking returns only the breaking changes.
func (c *Compatibility) Breaking() []Change {
	var out []Change
	for _, ch := range c.Changes {
		if ch.Breaking {
			out = append(out, ch)
		}
	}
	return out
}

// Compare reports the changes from the schema oldSchema to newSchema and whether newSchema
// is backward compatible. Both are JSON Schema documents; annotations (title, description,
// examples, default, $comment...) are ignored. Errors: an *InputError when a document is
// not strict JSON within the default limits.
func Compare(oldSchema, newSchema []byte) (*Compatibility, error) {
	o, err := Decode(oldSchema, Limits{})
	if err != nil {
		return nil, err
	}
	n, err := Decode(newSchema, Limits{})
	if err != nil {
		return nil, err
	}
	return compareDocs(o, n), nil
}

// CompareTo reports the changes from c to newer (see [Compare]).
func (c *Compiled) CompareTo(newer *Compiled) *Compatibility {
	return compareDocs(c.doc, newer.doc)
}

func compareDocs(o, n any) *Compatibility {
	var cmp comparer
	cmp.schema("", o, n)
	slices.SortStableFunc(cmp.changes, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	res := &Compatibility{Backward: true, Changes: cmp.changes}
	for _, c := range cmp.changes {
		if c.Breaking {
			res.Backward = false
		}
	}
	return res
}

type comparer struct{ changes []Change }

func (c *comparer) add(path string, kind ChangeKind, breaking bool, oldV, newV any, format string, args ...any) {
	c.changes = append(c.changes, Change{Path: path, Kind: kind, Breaking: breaking, Old: oldV, New: newV, Message: fmt.Sprintf(format, args...)})
}

// asMap turns a schema (object or boolean) into a map; true and absent become {}.
func asMap(s any) (m map[string]any, isFalse bool) {
	switch t := s.(type) {
	case map[string]any:
		return t, false
	case bool:
		return map[string]any{}, !t
	}
	return map[string]any{}, false
}

var numericBounds = []struct {
	key   string
	lower bool // a lower bound tightens when it grows
}{
	{"minimum", true}, {"exclusiveMinimum", true}, {"minLength", true}, {"minItems", true},
	{"minProperties", true}, {"minContains", true},
	{"maximum", false}, {"exclusiveMaximum", false}, {"maxLength", false}, {"maxItems", false},
	{"maxProperties", false}, {"maxContains", false},
}

// opaqueKeywords cannot be compared structurally here; any difference counts as breaking.
var opaqueKeywords = []string{"oneOf", "not", "if", "then", "else", "contains", "dependentRequired",
	"dependencies", "dependentSchemas", "propertyNames", "unevaluatedProperties", "unevaluatedItems",
	"$dynamicRef", "$recursiveRef", "contentSchema", "additionalItems"}

func (c *comparer) schema(path string, oldS, newS any) {
	o, oFalse := asMap(oldS)
	n, nFalse := asMap(newS)
	switch {
	case oFalse && nFalse:
		return
	case oFalse:
		c.add(path, ChangeConstraintRemoved, false, false, newS, "schema was false (nothing allowed) and now allows values")
		return
	case nFalse:
		c.add(path, ChangeConstraintAdded, true, oldS, false, "schema now allows nothing (false)")
		return
	}

	if !reflect.DeepEqual(o["$ref"], n["$ref"]) {
		c.add(path+"/$ref", ChangeConstraintChanged, true, o["$ref"], n["$ref"], "$ref changed from %s to %s; cannot prove compatible", brief(o["$ref"]), brief(n["$ref"]))
	}
	c.types(path, o["type"], n["type"])
	c.enum(path, o, n)
	for _, kw := range []string{"const", "pattern", "format", "multipleOf"} {
		c.constraint(path, kw, o, n)
	}
	if ou, nu := o["uniqueItems"] == true, n["uniqueItems"] == true; ou != nu {
		if nu {
			c.add(path+"/uniqueItems", ChangeConstraintAdded, true, false, true, "items must now be unique")
		} else {
			c.add(path+"/uniqueItems", ChangeConstraintRemoved, false, true, false, "items no longer need to be unique")
		}
	}
	for _, b := range numericBounds {
		c.bound(path, b.key, b.lower, o[b.key], n[b.key])
	}
	c.required(path, o, n)
	c.properties(path, o, n)
	c.additional(path, o, n)

	// items: a schema (2020-12, or draft-07 list form compared element-wise)
	switch oi := o["items"].(type) {
	case []any:
		ni, ok := n["items"].([]any)
		if !ok || len(ni) != len(oi) {
			c.opaque(path, "items", o, n)
		} else {
			for i := range oi {
				c.schema(fmt.Sprintf("%s/items/%d", path, i), oi[i], ni[i])
			}
		}
	default:
		if _, list := n["items"].([]any); list {
			c.opaque(path, "items", o, n)
		} else if o["items"] != nil || n["items"] != nil {
			c.schema(path+"/items", orTrue(o["items"]), orTrue(n["items"]))
		}
	}
	c.list(path, "prefixItems", o, n)
	c.list(path, "allOf", o, n)
	c.list(path, "anyOf", o, n)
	for _, kw := range opaqueKeywords {
		c.opaque(path, kw, o, n)
	}
	for _, kw := range []string{"patternProperties", "$defs", "definitions"} {
		om, _ := o[kw].(map[string]any)
		nm, _ := n[kw].(map[string]any)
		for name, ov := range om {
			if nv, ok := nm[name]; ok {
				c.schema(path+"/"+kw+"/"+escapePointer(name), ov, nv)
			} else if kw == "patternProperties" {
				c.add(path+"/"+kw+"/"+escapePointer(name), ChangeConstraintRemoved, false, ov, nil, "pattern property %q removed", name)
			}
		}
		if kw == "patternProperties" {
			for name, nv := range nm {
				if _, ok := om[name]; !ok {
					c.add(path+"/"+kw+"/"+escapePointer(name), ChangeConstraintAdded, true, nil, nv, "pattern property %q added; matching properties are now constrained", name)
				}
			}
		}
	}
}

func orTrue(v any) any {
	if v == nil {
		return true
	}
	return v
}

func (c *comparer) opaque(path, kw string, o, n map[string]any) {
	ov, oOK := o[kw]
	nv, nOK := n[kw]
	switch {
	case !oOK && !nOK:
	case reflect.DeepEqual(ov, nv):
	case !nOK && (kw != "not" && kw != "if"):
		c.add(path+"/"+kw, ChangeConstraintRemoved, false, ov, nil, "%s removed", kw)
	default:
		c.add(path+"/"+kw, ChangeConstraintChanged, true, ov, nv, "%s changed; cannot prove compatible", kw)
	}
}

// list compares keyword arrays of schemas element-wise; allOf, anyOf and prefixItems are
// sound to compare that way when their lengths match.
func (c *comparer) list(path, kw string, o, n map[string]any) {
	ol, oOK := o[kw].([]any)
	nl, nOK := n[kw].([]any)
	if !oOK && !nOK {
		return
	}
	if oOK && nOK && len(ol) == len(nl) {
		for i := range ol {
			c.schema(fmt.Sprintf("%s/%s/%d", path, kw, i), ol[i], nl[i])
		}
		return
	}
	if kw == "prefixItems" && oOK && nOK && len(nl) < len(ol) && n["items"] == nil {
		for i := range nl {
			c.schema(fmt.Sprintf("%s/%s/%d", path, kw, i), ol[i], nl[i])
		}
		c.add(path+"/"+kw, ChangeConstraintRemoved, false, len(ol), len(nl), "prefixItems shortened from %d to %d", len(ol), len(nl))
		return
	}
	c.add(path+"/"+kw, ChangeConstraintChanged, true, o[kw], n[kw], "%s changed shape; cannot prove compatible", kw)
}

var allTypes = []string{"array", "boolean", "integer", "null", "number", "object", "string"}

func typeSet(v any) map[string]bool {
	set := map[string]bool{}
	switch t := v.(type) {
	case nil:
		for _, s := range allTypes {
			set[s] = true
		}
	case string:
		set[t] = true
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok {
				set[s] = true
			}
		}
	}
	if set["number"] {
		set["integer"] = true
	}
	return set
}

func (c *comparer) types(path string, ov, nv any) {
	if reflect.DeepEqual(ov, nv) {
		return
	}
	os, ns := typeSet(ov), typeSet(nv)
	var lost, gained []string
	for _, t := range allTypes {
		switch {
		case os[t] && !ns[t]:
			lost = append(lost, t)
		case !os[t] && ns[t]:
			gained = append(gained, t)
		}
	}
	if len(lost) > 0 {
		c.add(path+"/type", ChangeTypeNarrowed, true, ov, nv, "type narrowed: %s no longer allowed", strings.Join(lost, ", "))
	}
	if len(gained) > 0 {
		c.add(path+"/type", ChangeTypeWidened, false, ov, nv, "type widened: %s now allowed", strings.Join(gained, ", "))
	}
}

func (c *comparer) enum(path string, o, n map[string]any) {
	oe, oOK := o["enum"].([]any)
	ne, nOK := n["enum"].([]any)
	switch {
	case !oOK && !nOK:
		return
	case !oOK:
		c.add(path+"/enum", ChangeConstraintAdded, true, nil, ne, "enum added: only %d value(s) now allowed", len(ne))
		return
	case !nOK:
		c.add(path+"/enum", ChangeConstraintRemoved, false, oe, nil, "enum removed")
		return
	}
	has := func(list []any, v any) bool {
		for _, e := range list {
			if jsonEqual(e, v) {
				return true
			}
		}
		return false
	}
	for _, v := range oe {
		if !has(ne, v) {
			c.add(path+"/enum", ChangeEnumValueRemoved, true, v, nil, "enum value %s removed", brief(v))
		}
	}
	for _, v := range ne {
		if !has(oe, v) {
			c.add(path+"/enum", ChangeEnumValueAdded, false, nil, v, "enum value %s added", brief(v))
		}
	}
}

func (c *comparer) constraint(path, kw string, o, n map[string]any) {
	ov, oOK := o[kw]
	nv, nOK := n[kw]
	switch {
	case !oOK && !nOK:
	case !oOK:
		c.add(path+"/"+kw, ChangeConstraintAdded, true, nil, nv, "%s %s added", kw, brief(nv))
	case !nOK:
		c.add(path+"/"+kw, ChangeConstraintRemoved, false, ov, nil, "%s %s removed", kw, brief(ov))
	case jsonEqual(ov, nv):
	case kw == "multipleOf" && dividesEvenly(ov, nv):
		c.add(path+"/"+kw, ChangeBoundRelaxed, false, ov, nv, "multipleOf relaxed from %s to %s", brief(ov), brief(nv))
	default:
		c.add(path+"/"+kw, ChangeConstraintChanged, true, ov, nv, "%s changed from %s to %s", kw, brief(ov), brief(nv))
	}
}

// dividesEvenly reports whether every multiple of o is a multiple of n.
func dividesEvenly(o, n any) bool {
	ro, ok1 := toRat(o)
	rn, ok2 := toRat(n)
	if !ok1 || !ok2 || rn.Sign() == 0 {
		return false
	}
	return new(big.Rat).Quo(ro, rn).IsInt()
}

func toRat(v any) (*big.Rat, bool) {
	switch v.(type) {
	case nil, bool, string, []any, map[string]any:
		return nil, false
	}
	return new(big.Rat).SetString(fmt.Sprint(v))
}

func (c *comparer) bound(path, kw string, lower bool, ov, nv any) {
	ro, oOK := toRat(ov)
	rn, nOK := toRat(nv)
	switch {
	case !oOK && !nOK:
		return
	case !oOK:
		c.add(path+"/"+kw, ChangeBoundTightened, true, nil, nv, "%s %s added", kw, brief(nv))
		return
	case !nOK:
		c.add(path+"/"+kw, ChangeBoundRelaxed, false, ov, nil, "%s %s removed", kw, brief(ov))
		return
	}
	cmp := rn.Cmp(ro)
	if cmp == 0 {
		return
	}
	if (cmp > 0) == lower {
		c.add(path+"/"+kw, ChangeBoundTightened, true, ov, nv, "%s tightened from %s to %s", kw, brief(ov), brief(nv))
	} else {
		c.add(path+"/"+kw, ChangeBoundRelaxed, false, ov, nv, "%s relaxed from %s to %s", kw, brief(ov), brief(nv))
	}
}

func stringSet(v any) map[string]bool {
	set := map[string]bool{}
	if l, ok := v.([]any); ok {
		for _, e := range l {
			if s, ok := e.(string); ok {
				set[s] = true
			}
		}
	}
	return set
}

func (c *comparer) required(path string, o, n map[string]any) {
	or, nr := stringSet(o["required"]), stringSet(n["required"])
	for _, p := range sortedKeys(nr) {
		if !or[p] {
			c.add(path+"/required", ChangeRequiredAdded, true, nil, p, "property %q is now required", p)
		}
	}
	for _, p := range sortedKeys(or) {
		if !nr[p] {
			c.add(path+"/required", ChangeRequiredRemoved, false, p, nil, "property %q is no longer required", p)
		}
	}
}

// closed reports whether an object schema refuses undeclared properties.
func closed(m map[string]any) bool {
	return m["additionalProperties"] == false || m["unevaluatedProperties"] == false
}

func (c *comparer) properties(path string, o, n map[string]any) {
	op, _ := o["properties"].(map[string]any)
	np, _ := n["properties"].(map[string]any)
	for _, name := range sortedKeys(op) {
		p := path + "/properties/" + escapePointer(name)
		nv, ok := np[name]
		if ok {
			c.schema(p, op[name], nv)
			continue
		}
		if closed(n) && !matchesPattern(n, name) {
			c.add(p, ChangePropertyRemoved, true, op[name], nil, "property %q removed while undeclared properties are not allowed", name)
		} else {
			c.add(p, ChangePropertyRemoved, false, op[name], nil, "property %q removed (still accepted as an undeclared property)", name)
		}
	}
	for _, name := range sortedKeys(np) {
		if _, ok := op[name]; !ok {
			c.add(path+"/properties/"+escapePointer(name), ChangePropertyAdded, false, nil, np[name], "property %q added", name)
		}
	}
}

func matchesPattern(m map[string]any, name string) bool {
	pp, _ := m["patternProperties"].(map[string]any)
	for pat := range pp {
		if re, err := compileRegexp(pat); err == nil && re.MatchString(name) {
			return true
		}
	}
	return false
}

func (c *comparer) additional(path string, o, n map[string]any) {
	oa, oOK := o["additionalProperties"]
	na, nOK := n["additionalProperties"]
	oClosed, nClosed := oa == false, na == false
	switch {
	case !oClosed && nClosed:
		c.add(path+"/additionalProperties", ChangeClosed, true, oa, na, "undeclared properties are no longer allowed")
	case oClosed && !nClosed:
		c.add(path+"/additionalProperties", ChangeOpened, false, oa, na, "undeclared properties are now allowed")
	case oOK || nOK:
		if !oClosed && !nClosed {
			c.schema(path+"/additionalProperties", orTrue(oa), orTrue(na))
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// jsonEqual compares two document values, numbers by exact value.
func jsonEqual(a, b any) bool {
	ra, okA := toRat(a)
	rb, okB := toRat(b)
	if okA && okB {
		return ra.Cmp(rb) == 0
	}
	if okA != okB {
		return false
	}
	switch at := a.(type) {
	case []any:
		bt, ok := b.([]any)
		if !ok || len(at) != len(bt) {
			return false
		}
		for i := range at {
			if !jsonEqual(at[i], bt[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bt, ok := b.(map[string]any)
		if !ok || len(at) != len(bt) {
			return false
		}
		for k, v := range at {
			w, ok := bt[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	}
	return a == b
}
