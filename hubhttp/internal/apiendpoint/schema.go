package apiendpoint

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"
)

// Schemas builds JSON Schemas (OpenAPI 3.1 dialect, JSON Schema 2020-12) from Go types by
// reflection, registering each named struct once under components/schemas and referring to
// it with $ref.
//
// The mapping is strict, so that a response validated against the document proves the
// shape: a struct is an object with additionalProperties false; a field without omitempty is
// required; nothing is nullable (wire types never encode null). Field tags refine it:
// `doc:"..."` is the description, `enum:"a,b"` lists a string's values, `format:"uri"` sets
// a string format. json.RawMessage and interface values accept any JSON value.
type Schemas struct {
	components map[string]any
	inProgress map[reflect.Type]bool
}

// NewSchemas returns an empty schema registry.
func NewSchemas() *Schemas {
	return &Schemas{components: map[string]any{}, inProgress: map[reflect.Type]bool{}}
}

// Components returns the component schemas registered so far.
func (s *Schemas) Components() map[string]any { return s.components }

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// Of returns the schema of t (a $ref for named structs).
func (s *Schemas) Of(t reflect.Type) map[string]any {
	return s.of(t, reflect.StructField{})
}

func (s *Schemas) of(t reflect.Type, f reflect.StructField) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := s.base(t, f)
	if d := f.Tag.Get("doc"); d != "" {
		if _, isRef := out["$ref"]; isRef {
			// a $ref may carry siblings in 3.1; keep the description beside it
			out = map[string]any{"$ref": out["$ref"], "description": d}
		} else {
			out["description"] = d
		}
	}
	return out
}

func (s *Schemas) base(t reflect.Type, f reflect.StructField) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.String:
		m := map[string]any{"type": "string"}
		if e := f.Tag.Get("enum"); e != "" {
			m["enum"] = strings.Split(e, ",")
		}
		if fm := f.Tag.Get("format"); fm != "" {
			m["format"] = fm
		}
		return m
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": s.of(t.Elem(), reflect.StructField{Tag: reflect.StructTag(enumOnly(f.Tag))})}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": s.of(t.Elem(), reflect.StructField{})}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		if t.Name() == "" {
			return s.object(t)
		}
		name := t.Name()
		if _, ok := s.components[name]; !ok && !s.inProgress[t] {
			s.inProgress[t] = true
			s.components[name] = s.object(t)
			delete(s.inProgress, t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	panic("apiendpoint: no schema for " + t.String())
}

// enumOnly keeps the enum tag of a slice field for its items.
func enumOnly(tag reflect.StructTag) string {
	if e := tag.Get("enum"); e != "" {
		return `enum:"` + e + `"`
	}
	return ""
}

func (s *Schemas) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, omit, ok := jsonName(f)
		if !ok {
			continue
		}
		props[name] = s.of(f.Type, f)
		if !omit {
			required = append(required, name)
		}
	}
	m := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		m["required"] = required
	}
	return m
}

// jsonName returns the JSON name of a body field and whether it is omitempty; ok is false
// for fields that are not in the JSON body (json:"-", or path and query parameters).
func jsonName(f reflect.StructField) (name string, omit, ok bool) {
	if f.Tag.Get("path") != "" || f.Tag.Get("query") != "" || f.Tag.Get("header") != "" || hasTag(f, "body") {
		return "", false, false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false, false
	}
	parts := strings.Split(tag, ",")
	name = parts[0]
	if name == "" {
		name = f.Name
	}
	for _, p := range parts[1:] {
		if p == "omitempty" || p == "omitzero" {
			omit = true
		}
	}
	return name, omit, true
}
