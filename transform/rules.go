package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Rules is a named, versioned mapping: the data_transformation_rules row's
// transformation_logic in Go form. Fields are evaluated in order over the decoded input
// and each sets one target path of the output.
//
// The JSON form (see Parse) is either the full document
//
//	{"name": "gh-issue", "version": 2, "fields": {...}, "tables": {...}, "inverse": {"fields": {...}}}
//
// or a bare mapping object of target path to field (as in the shared
// github-issue-to-work-item.expr.json), which Parse accepts with an empty name and
// version 0.
type Rules struct {
	// Name identifies the rules in a Registry and in Applied records.
	Name string `json:"name,omitempty"`
	// Version is a positive version number (Registry requires >= 1; Compile accepts 0 for
	// an unversioned mapping).
	Version int `json:"version,omitempty"`
	// Description is free text for people.
	Description string `json:"description,omitempty"`
	// Fields are the target fields in evaluation order. Target paths must be unique and
	// no target may be a prefix of another ("a" and "a.b").
	Fields []Field `json:"-"`
	// Tables are named lookup tables for the lookup(table, key[, default]) helper, e.g.
	// {"status": {"open": "todo", "closed": "done"}}. Keys are matched as strings.
	Tables map[string]map[string]any `json:"tables,omitempty"`
	// Inverse, when set, maps the output back to the input (the rule is bidirectional).
	// Its Name and Version are ignored: the inverse runs under the parent's. Its own
	// Tables are used when set, else the parent's.
	Inverse *Rules `json:"inverse,omitempty"`
}

// Field sets one target path of the output.
//
// In JSON a field is either an expression string or an object
// {"expr": "...", "when": "...", "default": <JSON value>}.
type Field struct {
	// Target is the output path, dot separated ("customer.address.city"); intermediate
	// objects are created. Segments must be non-empty.
	Target string `json:"-"`
	// Expr is an expr-lang expression over the decoded input: top-level keys are
	// variables (issue.title), $env is the whole input, and the helpers listed in the
	// package documentation are available. It may be empty when Default is set (a
	// constant field).
	Expr string `json:"expr,omitempty"`
	// When is an optional condition: the field is evaluated only when it yields true. A
	// false (or nil) condition sets Default when there is one and otherwise leaves the
	// target unset. A non-boolean result is an error.
	When string `json:"when,omitempty"`
	// Default is used when When is false or Expr yields nil. nil means no default: a nil
	// result is written as null and a false When leaves the target unset. Values decoded
	// from JSON keep numbers as json.Number.
	Default any `json:"default,omitempty"`
}

// IsBidirectional reports whether the rules declare an inverse (the is_bidirectional
// column).
func (r *Rules) IsBidirectional() bool { return r.Inverse != nil }

// ruleKeys are the members of the full JSON form.
var ruleKeys = map[string]bool{
	"name": true, "version": true, "description": true, "fields": true,
	"tables": true, "inverse": true, "is_bidirectional": true,
}

// Parse reads rules from their JSON form: the full document with a "fields" object, or a
// bare object of target path to field. A document is read as the full form when it has a
// "fields" member holding an object and every other member is one of name, version,
// description, tables, inverse and is_bidirectional; a bare mapping whose only target is
// named "fields" must therefore use the full form. Field order is kept. Numbers in
// defaults and tables are json.Number. Errors wrap ErrInvalidRules.
func Parse(data []byte) (Rules, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return Rules{}, invalid("mapping is not a JSON object: %v", err)
	}
	if isFullForm(top) {
		return parseFull(top)
	}
	fields, err := parseFields(data)
	if err != nil {
		return Rules{}, err
	}
	return Rules{Fields: fields}, nil
}

func isFullForm(top map[string]json.RawMessage) bool {
	f, ok := top["fields"]
	if !ok || !bytes.HasPrefix(bytes.TrimSpace(f), []byte("{")) {
		return false
	}
	for k := range top {
		if !ruleKeys[k] {
			return false
		}
	}
	return true
}

func parseFull(top map[string]json.RawMessage) (Rules, error) {
	var r Rules
	if raw, ok := top["name"]; ok {
		if err := json.Unmarshal(raw, &r.Name); err != nil {
			return r, invalid("name: %v", err)
		}
	}
	if raw, ok := top["version"]; ok {
		if err := json.Unmarshal(raw, &r.Version); err != nil {
			return r, invalid("version: %v", err)
		}
	}
	if raw, ok := top["description"]; ok {
		if err := json.Unmarshal(raw, &r.Description); err != nil {
			return r, invalid("description: %v", err)
		}
	}
	if raw, ok := top["tables"]; ok {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&r.Tables); err != nil {
			return r, invalid("tables: %v", err)
		}
	}
	var err error
	if r.Fields, err = parseFields(top["fields"]); err != nil {
		return r, err
	}
	if raw, ok := top["inverse"]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		var itop map[string]json.RawMessage
		if err := json.Unmarshal(raw, &itop); err != nil {
			return r, invalid("inverse: %v", err)
		}
		var inv Rules
		if isFullForm(itop) {
			inv, err = parseFull(itop)
		} else {
			inv.Fields, err = parseFields(raw)
		}
		if err != nil {
			return r, fmt.Errorf("inverse: %w", err)
		}
		r.Inverse = &inv
	}
	if raw, ok := top["is_bidirectional"]; ok {
		var bidi bool
		if err := json.Unmarshal(raw, &bidi); err != nil {
			return r, invalid("is_bidirectional: %v", err)
		}
		if bidi != (r.Inverse != nil) {
			return r, invalid("is_bidirectional is %v but the inverse is %s", bidi, map[bool]string{true: "present", false: "missing"}[r.Inverse != nil])
		}
	}
	return r, nil
}

// parseFields reads an object of target -> field, keeping member order.
func parseFields(data []byte) ([]Field, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	tok, err := d.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, invalid("fields must be a JSON object of target path to expression")
	}
	var fields []Field
	seen := map[string]bool{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, invalid("fields: %v", err)
		}
		target, _ := tok.(string)
		if seen[target] {
			return nil, invalid("field %q is defined twice", target)
		}
		seen[target] = true
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return nil, invalid("field %q: %v", target, err)
		}
		f, err := parseField(target, raw)
		if err != nil {
			return nil, err
		}
		fields = append(fields, f)
	}
	if _, err := d.Token(); err != nil {
		return nil, invalid("fields: %v", err)
	}
	return fields, nil
}

func parseField(target string, raw json.RawMessage) (Field, error) {
	f := Field{Target: target}
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) > 0 && raw[0] == '"':
		if err := json.Unmarshal(raw, &f.Expr); err != nil {
			return f, invalid("field %q: %v", target, err)
		}
		return f, nil
	case len(raw) > 0 && raw[0] == '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return f, invalid("field %q: %v", target, err)
		}
		for k, v := range m {
			var err error
			switch k {
			case "expr":
				err = json.Unmarshal(v, &f.Expr)
			case "when":
				err = json.Unmarshal(v, &f.When)
			case "default":
				d := json.NewDecoder(bytes.NewReader(v))
				d.UseNumber()
				err = d.Decode(&f.Default)
			default:
				return f, invalid("field %q: unknown member %q (want expr, when, default)", target, k)
			}
			if err != nil {
				return f, invalid("field %q: %s: %v", target, k, err)
			}
		}
		return f, nil
	default:
		return f, invalid("field %q: want an expression string or an object with expr/when/default", target)
	}
}

// MarshalJSON writes the full JSON form, fields in order; a field with only an expression
// is written as a string.
func (r Rules) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	put := func(k string, v any) error {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(v)
		if err != nil {
			return err
		}
		b.Write(vb)
		return nil
	}
	if r.Name != "" {
		_ = put("name", r.Name)
	}
	if r.Version != 0 {
		_ = put("version", r.Version)
	}
	if r.Description != "" {
		_ = put("description", r.Description)
	}
	if len(r.Tables) > 0 {
		if err := put("tables", r.Tables); err != nil {
			return nil, fmt.Errorf("%w: tables: %w", ErrInvalidRules, err)
		}
	}
	if err := put("fields", fieldList(r.Fields)); err != nil {
		return nil, err
	}
	if r.Inverse != nil {
		if err := put("inverse", r.Inverse); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads either JSON form, as Parse does.
func (r *Rules) UnmarshalJSON(data []byte) error {
	p, err := Parse(data)
	if err != nil {
		return err
	}
	*r = p
	return nil
}

type fieldList []Field

func (fl fieldList) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fl {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(f.Target)
		b.Write(kb)
		b.WriteByte(':')
		var v any = f.Expr
		if f.When != "" || f.Default != nil {
			v = struct {
				Expr    string `json:"expr,omitempty"`
				When    string `json:"when,omitempty"`
				Default any    `json:"default,omitempty"`
			}{f.Expr, f.When, f.Default}
		}
		vb, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%w: field %q: %w", ErrInvalidRules, f.Target, err)
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// splitTarget validates a target path and returns its segments.
func splitTarget(t string) ([]string, error) {
	if t == "" {
		return nil, invalid("empty target path")
	}
	segs := strings.Split(t, ".")
	for _, s := range segs {
		if s == "" {
			return nil, invalid("target %q has an empty segment", t)
		}
	}
	return segs, nil
}

var (
	_ json.Marshaler   = Rules{}
	_ json.Unmarshaler = (*Rules)(nil)
)
