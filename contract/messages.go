package contract

import (
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// formatHints tells people what a format expects.
var formatHints = map[string]string{
	"date-time":             "an RFC 3339 date-time such as 2026-11-24T09:41:27Z",
	"date":                  "an RFC 3339 full-date such as 2026-11-24",
	"time":                  "an RFC 3339 time with offset such as 09:41:27Z",
	"duration":              "an ISO 8601 duration such as P3DT4H",
	"email":                 "an e-mail address such as name@example.com",
	"idn-email":             "an e-mail address such as name@example.com",
	"hostname":              "a DNS host name such as api.example.com",
	"idn-hostname":          "an internationalised host name",
	"ipv4":                  "a dotted-quad IPv4 address such as 192.0.2.1",
	"ipv6":                  "an IPv6 address such as 2001:db8::1",
	"uri":                   "an absolute URI such as https://example.com/path",
	"uri-reference":         "a URI or relative reference",
	"iri":                   "an absolute IRI",
	"iri-reference":         "an IRI or relative reference",
	"uri-template":          "an RFC 6570 URI template",
	"uuid":                  "a UUID such as 123e4567-e89b-12d3-a456-426614174000",
	"json-pointer":          "a JSON Pointer such as /a/b",
	"relative-json-pointer": "a relative JSON Pointer such as 1/a",
	"regex":                 "a regular expression",
}

// message builds the person-readable text for one failing keyword, from the subschema
// holding the keyword and the offending value; it falls back to jsonschema's own text.
func (c *Compiled) message(ve *jsonschema.ValidationError, kw string, val any, ptr string) string {
	sch := c.parentSchema(ve.AbsoluteKeywordLocation)
	if kw == "dependentRequired" || kw == "dependencies" {
		// the location ends in /KEYWORD/TRIGGER/INDEX
		if i := strings.LastIndex(ve.AbsoluteKeywordLocation, "/"+kw+"/"); i >= 0 {
			sch = c.index[ve.AbsoluteKeywordLocation[:i]]
		}
	}
	switch kw {
	case "unevaluatedProperties":
		if _, prop := lastToken(ptr); prop != "" {
			return fmt.Sprintf("property %q is not allowed (not declared by any applicable subschema)", prop)
		}
	case "unevaluatedItems":
		return "item is not allowed (not covered by prefixItems, items or contains)"
	case "anyOf":
		if sch != nil {
			return fmt.Sprintf("must match at least one of the %d alternatives (anyOf); it matches none", len(sch.AnyOf))
		}
	case "oneOf":
		if sch != nil {
			if strings.HasPrefix(ve.Message, "valid against") {
				return fmt.Sprintf("must match exactly one of the %d alternatives (oneOf), but is %s", len(sch.OneOf), ve.Message)
			}
			return fmt.Sprintf("must match exactly one of the %d alternatives (oneOf); it matches none", len(sch.OneOf))
		}
	case "not":
		return "must not match the schema under \"not\""
	case "minContains", "contains":
		if sch != nil {
			return fmt.Sprintf("must contain at least %d item(s) matching the \"contains\" schema (%s)", max(sch.MinContains, 1), ve.Message)
		}
	}
	if sch == nil {
		return ve.Message
	}
	switch kw {
	case "type":
		want := slices.Clone(sch.Types)
		return fmt.Sprintf("must be %s, got %s %s", strings.Join(want, " or "), jsonTypeOf(val), brief(val))
	case "enum":
		if len(sch.Enum) == 0 {
			return "no value is allowed (the enum is empty)"
		}
		vals := make([]string, len(sch.Enum))
		for i, e := range sch.Enum {
			vals[i] = brief(e)
		}
		return fmt.Sprintf("must be one of %s; got %s", strings.Join(vals, ", "), brief(val))
	case "const":
		if len(sch.Constant) > 0 {
			return fmt.Sprintf("must equal %s; got %s", brief(sch.Constant[0]), brief(val))
		}
	case "pattern":
		if sch.Pattern != nil {
			return fmt.Sprintf("%s does not match the pattern %s", brief(val), sch.Pattern.String())
		}
	case "format":
		hint := formatHints[sch.Format]
		if hint == "" {
			hint = "a valid " + sch.Format
		}
		return fmt.Sprintf("%s is not a valid %q: expected %s", brief(val), sch.Format, hint)
	case "minLength":
		if s, ok := val.(string); ok {
			return fmt.Sprintf("must be at least %d character(s) long; got %d", sch.MinLength, utf8.RuneCountInString(s))
		}
	case "maxLength":
		if s, ok := val.(string); ok {
			return fmt.Sprintf("must be at most %d character(s) long; got %d", sch.MaxLength, utf8.RuneCountInString(s))
		}
	case "minItems":
		if a, ok := val.([]any); ok {
			return fmt.Sprintf("must have at least %d item(s); got %d", sch.MinItems, len(a))
		}
	case "maxItems":
		if a, ok := val.([]any); ok {
			return fmt.Sprintf("must have at most %d item(s); got %d", sch.MaxItems, len(a))
		}
	case "uniqueItems":
		return "items must be unique: " + ve.Message
	case "minProperties":
		if m, ok := val.(map[string]any); ok {
			return fmt.Sprintf("must have at least %d propert(ies); got %d", sch.MinProperties, len(m))
		}
	case "maxProperties":
		if m, ok := val.(map[string]any); ok {
			return fmt.Sprintf("must have at most %d propert(ies); got %d", sch.MaxProperties, len(m))
		}
	case "minimum":
		return boundMessage("must be ≥ %s; got %s", sch.Minimum, val)
	case "maximum":
		return boundMessage("must be ≤ %s; got %s", sch.Maximum, val)
	case "exclusiveMinimum":
		return boundMessage("must be > %s; got %s", sch.ExclusiveMinimum, val)
	case "exclusiveMaximum":
		return boundMessage("must be < %s; got %s", sch.ExclusiveMaximum, val)
	case "multipleOf":
		return boundMessage("must be a multiple of %s; got %s", sch.MultipleOf, val)
	case "dependentRequired", "dependencies":
		segs := strings.Split(ve.KeywordLocation, "/")
		if n := len(segs); n >= 3 {
			trigger := unescapePointer(segs[n-2])
			if u, err := url.PathUnescape(trigger); err == nil {
				trigger = u
			}
			deps := sch.DependentRequired[trigger]
			if d, ok := sch.Dependencies[trigger].([]string); ok {
				deps = d
			}
			if i, err := strconv.Atoi(segs[n-1]); err == nil && i >= 0 && i < len(deps) {
				return fmt.Sprintf("property %q is required when %q is present", deps[i], trigger)
			}
		}
	}
	return ve.Message
}

// falseMessage words a violation of a false schema (one that allows nothing).
func falseMessage(kw, ptr string) string {
	if _, prop := lastToken(ptr); prop != "" && !isIndex(prop) {
		switch kw {
		case "false", "unevaluatedProperties", "additionalProperties":
			return fmt.Sprintf("property %q is not allowed here", prop)
		}
	}
	if kw == "unevaluatedItems" || kw == "items" || kw == "additionalItems" {
		return "item is not allowed here (no more items are allowed)"
	}
	return "no value is allowed here (the schema is false)"
}

func boundMessage(format string, bound *big.Rat, val any) string {
	if bound == nil {
		return fmt.Sprintf(format, "?", brief(val))
	}
	b := bound.RatString()
	return fmt.Sprintf(format, b, brief(val))
}

// lastToken splits a pointer into its parent and last (unescaped) token.
func lastToken(ptr string) (parent, token string) {
	i := strings.LastIndexByte(ptr, '/')
	if i < 0 {
		return "", ""
	}
	return ptr[:i], unescapePointer(ptr[i+1:])
}

// declaredList names the declared properties of an object schema, for messages.
func declaredList(s *jsonschema.Schema) string {
	if len(s.Properties) == 0 {
		return ""
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) > 12 {
		names = append(names[:12], "...")
	}
	return " (declared: " + strings.Join(names, ", ") + ")"
}

// isDeclared reports whether the object schema s covers property p via properties or
// patternProperties.
func isDeclared(s *jsonschema.Schema, p string) bool {
	if _, ok := s.Properties[p]; ok {
		return true
	}
	for re := range s.PatternProperties {
		if re.MatchString(p) {
			return true
		}
	}
	return false
}

// jsonTypeOf names the JSON type of a document value ("integer" for whole numbers).
func jsonTypeOf(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case float64:
		if t == float64(int64(t)) {
			return "integer"
		}
		return "number"
	case float32:
		return "number"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "integer"
	default:
		if n, ok := v.(interface{ String() string }); ok {
			if r, ok := new(big.Rat).SetString(n.String()); ok && r.IsInt() {
				return "integer"
			}
			return "number"
		}
	}
	return fmt.Sprintf("%T", v)
}
