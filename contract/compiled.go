package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// Compiled is a registered (or compiled) contract: the definition plus its compiled schema.
// It is immutable and safe for concurrent use; validating compiles nothing.
type Compiled struct {
	c      Contract
	semver semver
	id     string // absolute "$id" of the schema, if any
	doc    any    // the schema, decoded
	schema *jsonschema.Schema
	fast   *fastNode // verdict-only validator; nil when the schema needs jsonschema v5 alone
	limits Limits

	indexOnce sync.Once
	index     map[string]*jsonschema.Schema // schema location -> subschema; built on first error
}

func newCompiled(c Contract, doc any, sch *jsonschema.Schema, lim Limits) *Compiled {
	return &Compiled{c: c, doc: doc, schema: sch, limits: lim}
}

// Contract returns the definition this was compiled from. The Schema bytes are a copy.
func (c *Compiled) Contract() Contract {
	out := c.c
	out.Schema = slices.Clone(c.c.Schema)
	return out
}

// Name returns the contract name.
func (c *Compiled) Name() string { return c.c.Name }

// Version returns the contract version, normalised to MAJOR.MINOR.PATCH[-pre].
func (c *Compiled) Version() string { return c.c.Version }

// Result is the outcome of validating one value.
type Result struct {
	// Contract and Version identify the contract used.
	Contract string `json:"contract"`
	Version  string `json:"version"`
	// Valid is true when there are no violations.
	Valid bool `json:"valid"`
	// Violations lists every violation, ordered by instance path then schema location.
	Violations []Violation `json:"violations,omitempty"`
}

// Violation is one way in which a value breaks its contract.
type Violation struct {
	// InstancePath is the JSON Pointer (RFC 6901) of the offending value in the instance;
	// "" is the whole document. For "required" it is the object missing the property.
	InstancePath string `json:"instancePath"`
	// SchemaPath is the evaluation path of the failing keyword from the schema root,
	// through any "$ref"s, e.g. "/properties/status/enum".
	SchemaPath string `json:"schemaPath"`
	// SchemaLocation is the absolute location of the failing keyword: the schema's URI and
	// a JSON Pointer into that document, e.g. "contract:work-item/1.0.0#/properties/status/enum".
	SchemaLocation string `json:"schemaLocation"`
	// Keyword is the failing keyword ("type", "required", "enum", "format", ...), or
	// "false" for a schema that allows nothing.
	Keyword string `json:"keyword"`
	// Message says, for a person, what is wrong and what would be accepted.
	Message string `json:"message"`
	// Details explains, for anyOf/oneOf, why each alternative failed.
	Details []Violation `json:"details,omitempty"`
}

// String formats the violation as "PATH: MESSAGE", with "(root)" for the empty pointer.
func (v Violation) String() string {
	p := v.InstancePath
	if p == "" {
		p = "(root)"
	}
	return p + ": " + v.Message
}

// Validate checks v against the contract and returns the result.
//
// v may be a decoded document (map[string]any, []any, string, float64 or json.Number, bool,
// nil — the form [Decode] and encoding/json with UseNumber produce; validated in place, no
// copy), raw JSON ([]byte or json.RawMessage, decoded strictly as by ValidateJSON), or any
// other Go value, which is first converted through encoding/json (slower; structs, typed
// slices and maps, time.Time...).
//
// When v conforms: a Result with Valid true and a nil error. When it does not: a Result
// listing every violation and a *ValidationError (errors.Is(err, ErrInvalid)) holding the
// same violations. When v is not a usable document (limits, invalid UTF-8, duplicate keys,
// NaN...): a nil Result and an *InputError (ErrBadInput). Safe for concurrent use.
func (c *Compiled) Validate(v any) (*Result, error) {
	doc, err := prepare(v, c.limits)
	if err != nil {
		return nil, err
	}
	return c.validate(doc)
}

// ValidateJSON decodes data strictly (see [Decode]) and validates the document. Results and
// errors are as for Validate.
func (c *Compiled) ValidateJSON(data []byte) (*Result, error) {
	doc, err := Decode(data, c.limits)
	if err != nil {
		return nil, err
	}
	return c.validate(doc)
}

// validate runs the compiled schema over a prepared document.
func (c *Compiled) validate(doc any) (*Result, error) {
	if c.fast != nil && c.fast.valid(doc) {
		return &Result{Contract: c.c.Name, Version: c.c.Version, Valid: true}, nil
	}
	err := c.schema.Validate(doc)
	if err == nil {
		return &Result{Contract: c.c.Name, Version: c.c.Version, Valid: true}, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		var loop jsonschema.InfiniteLoopError
		if errors.As(err, &loop) {
			return nil, &SchemaError{Contract: c.c.Name, Version: c.c.Version, Err: err}
		}
		return nil, &InputError{Kind: ErrUnsupportedValue, Offset: -1, Detail: err.Error()}
	}
	vs := c.violations(ve, doc)
	return &Result{Contract: c.c.Name, Version: c.c.Version, Violations: vs},
		&ValidationError{Contract: c.c.Name, Version: c.c.Version, Violations: vs}
}

// violations flattens jsonschema's error tree into a sorted list of violations.
func (c *Compiled) violations(ve *jsonschema.ValidationError, doc any) []Violation {
	c.indexOnce.Do(c.buildIndex)
	var out []Violation
	c.collect(ve, doc, &out)
	if len(out) == 0 { // cannot happen with v5's tree, but never return an empty list
		out = append(out, Violation{InstancePath: pointerFromV5(ve.InstanceLocation), SchemaLocation: ve.AbsoluteKeywordLocation, Message: ve.Message})
	}
	sortViolations(out)
	return out
}

func sortViolations(vs []Violation) {
	slices.SortStableFunc(vs, func(a, b Violation) int {
		if c := strings.Compare(a.InstancePath, b.InstancePath); c != 0 {
			return c
		}
		if c := strings.Compare(a.SchemaLocation, b.SchemaLocation); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
}

func (c *Compiled) collect(ve *jsonschema.ValidationError, doc any, out *[]Violation) {
	kw := keywordOf(ve.KeywordLocation)
	sch := c.index[ve.AbsoluteKeywordLocation]
	falseSchema := sch != nil && sch.Always != nil && !*sch.Always
	if !falseSchema && len(ve.Causes) > 0 {
		switch kw {
		case "anyOf", "oneOf":
			v := c.leaf(ve, kw, doc)
			for _, cause := range ve.Causes {
				c.collect(cause, doc, &v.Details)
			}
			sortViolations(v.Details)
			*out = append(*out, v)
			return
		case "minContains", "contains", "not":
			*out = append(*out, c.leaf(ve, kw, doc))
			return
		}
		for _, cause := range ve.Causes {
			c.collect(cause, doc, out)
		}
		return
	}
	if falseSchema {
		switch kw {
		case "", "properties", "patternProperties", "prefixItems", "allOf", "anyOf", "oneOf", "$defs", "definitions", "dependentSchemas", "$ref", "$dynamicRef":
			kw = "false"
		}
	}
	switch kw {
	case "required":
		if parent := c.parentSchema(ve.AbsoluteKeywordLocation); parent != nil {
			if obj, ok := lookup(doc, pointerFromV5(ve.InstanceLocation)).(map[string]any); ok {
				base := c.leaf(ve, kw, doc)
				for _, p := range parent.Required {
					if _, ok := obj[p]; !ok {
						v := base
						v.Message = fmt.Sprintf("missing required property %q", p)
						*out = append(*out, v)
					}
				}
				return
			}
		}
	case "additionalProperties":
		if parent := c.parentSchema(ve.AbsoluteKeywordLocation); parent != nil {
			if obj, ok := lookup(doc, pointerFromV5(ve.InstanceLocation)).(map[string]any); ok {
				base := c.leaf(ve, kw, doc)
				allowed := declaredList(parent)
				for p := range obj {
					if isDeclared(parent, p) {
						continue
					}
					v := base
					v.InstancePath = joinPointer(base.InstancePath, p)
					v.Message = fmt.Sprintf("property %q is not allowed%s", p, allowed)
					*out = append(*out, v)
				}
				return
			}
		}
	}
	v := c.leaf(ve, kw, doc)
	if falseSchema {
		v.Message = falseMessage(kw, v.InstancePath)
	}
	*out = append(*out, v)
}

// leaf builds the violation for one error node.
func (c *Compiled) leaf(ve *jsonschema.ValidationError, kw string, doc any) Violation {
	ptr := pointerFromV5(ve.InstanceLocation)
	v := Violation{
		InstancePath:   ptr,
		SchemaPath:     ve.KeywordLocation,
		SchemaLocation: ve.AbsoluteKeywordLocation,
		Keyword:        kw,
	}
	if hasKeyword(ve.KeywordLocation, "propertyNames") {
		// The instance under propertyNames is the member name, not its value.
		_, name := lastToken(ptr)
		v.Message = "property name " + brief(name) + ": " + c.message(ve, kw, name, ptr)
		return v
	}
	v.Message = c.message(ve, kw, lookup(doc, ptr), ptr)
	return v
}

// hasKeyword reports whether keyword kw appears in keyword position in a v5 keyword location.
func hasKeyword(loc, kw string) bool {
	for i := len(loc); i > 0; {
		prefix := loc[:i]
		if keywordOf(prefix) == kw && strings.HasSuffix(prefix, "/"+kw) {
			return true
		}
		i = strings.LastIndexByte(prefix, '/')
	}
	return false
}

// parentSchema returns the subschema holding the keyword at an absolute keyword location.
func (c *Compiled) parentSchema(absKeyword string) *jsonschema.Schema {
	if i := strings.LastIndexByte(absKeyword, '/'); i >= 0 {
		return c.index[absKeyword[:i]]
	}
	return nil
}

func (c *Compiled) buildIndex() {
	c.index = map[string]*jsonschema.Schema{}
	var walk func(s *jsonschema.Schema)
	walk = func(s *jsonschema.Schema) {
		if s == nil {
			return
		}
		if _, seen := c.index[s.Location]; seen {
			return
		}
		c.index[s.Location] = s
		for _, x := range []*jsonschema.Schema{s.Ref, s.RecursiveRef, s.DynamicRef, s.Not, s.If, s.Then, s.Else,
			s.PropertyNames, s.UnevaluatedProperties, s.Items2020, s.Contains, s.UnevaluatedItems, s.ContentSchema} {
			walk(x)
		}
		for _, l := range [][]*jsonschema.Schema{s.AllOf, s.AnyOf, s.OneOf, s.PrefixItems} {
			for _, x := range l {
				walk(x)
			}
		}
		for _, x := range s.Properties {
			walk(x)
		}
		for _, x := range s.PatternProperties {
			walk(x)
		}
		for _, x := range s.DependentSchemas {
			walk(x)
		}
		for _, x := range s.Dependencies {
			if x, ok := x.(*jsonschema.Schema); ok {
				walk(x)
			}
		}
		for _, x := range []any{s.AdditionalProperties, s.AdditionalItems, s.Items} {
			switch x := x.(type) {
			case *jsonschema.Schema:
				walk(x)
			case []*jsonschema.Schema:
				for _, y := range x {
					walk(y)
				}
			}
		}
	}
	walk(c.schema)
}

// keywordOf returns the keyword a v5 keyword location ends in, skipping property names and
// array indexes ("/properties/a/type" -> "type", "/dependentRequired/a/0" -> "dependentRequired").
func keywordOf(loc string) string {
	if loc == "" {
		return ""
	}
	segs := strings.Split(strings.TrimPrefix(loc, "/"), "/")
	kw := ""
	for i := 0; i < len(segs); i++ {
		s := segs[i]
		kw = s
		switch s {
		case "properties", "patternProperties", "$defs", "definitions", "dependentSchemas":
			i++
		case "dependencies", "dependentRequired":
			i++
			if i+1 < len(segs) && isIndex(segs[i+1]) {
				i++
			}
		case "allOf", "anyOf", "oneOf", "prefixItems", "items":
			if i+1 < len(segs) && isIndex(segs[i+1]) {
				i++
			}
		}
	}
	return kw
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// pointerFromV5 converts jsonschema v5's instance location (tokens escaped per RFC 6901 and
// then URL-path-escaped) into a plain JSON Pointer.
func pointerFromV5(loc string) string {
	if strings.IndexByte(loc, '%') < 0 {
		return loc
	}
	segs := strings.Split(loc, "/")
	for i, s := range segs {
		if u, err := url.PathUnescape(s); err == nil {
			segs[i] = u
		}
	}
	return strings.Join(segs, "/")
}

func joinPointer(base, token string) string { return base + "/" + escapePointer(token) }

// lookup returns the value at a JSON Pointer in doc, or nil.
func lookup(doc any, ptr string) any {
	if ptr == "" {
		return doc
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = unescapePointer(tok)
		switch t := doc.(type) {
		case map[string]any:
			doc = t[tok]
		case []any:
			i := 0
			for j := 0; j < len(tok); j++ {
				if tok[j] < '0' || tok[j] > '9' {
					return nil
				}
				i = i*10 + int(tok[j]-'0')
				if i >= len(t) {
					return nil
				}
			}
			if tok == "" || i >= len(t) {
				return nil
			}
			doc = t[i]
		default:
			return nil
		}
	}
	return doc
}

// brief renders a value for a message, shortened.
func brief(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if r := []rune(s); len(r) > 60 {
		s = string(r[:57]) + "..."
	}
	return s
}
