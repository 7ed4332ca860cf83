package apiendpoint

import (
	"net/http"
	"reflect"
	"strings"

	"github.com/ehg/hub/hubhttp/apiv1"
)

// Info is the document's info object.
type Info struct {
	Title, Version, Description string
}

// OpenAPI returns the OpenAPI 3.1 document describing endpoints.
func OpenAPI(info Info, endpoints []*Endpoint) map[string]any {
	s := NewSchemas()
	problem := s.Of(reflect.TypeFor[apiv1.Problem]())
	paths := map[string]any{}
	for _, e := range endpoints {
		item, _ := paths[e.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[e.Path] = item
		}
		item[strings.ToLower(e.Method)] = operation(s, e, problem)
	}
	return map[string]any{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
		"info":              map[string]any{"title": info.Title, "version": info.Version, "description": info.Description},
		"paths":             paths,
		"components": map[string]any{
			"schemas": s.Components(),
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "a token the host's Authenticate function maps to a principal"},
			},
		},
		"security": []any{map[string]any{"bearer": []any{}}},
	}
}

func operation(s *Schemas, e *Endpoint, problem map[string]any) map[string]any {
	op := map[string]any{"operationId": e.OperationID, "summary": e.Summary}
	if e.Description != "" {
		op["description"] = e.Description
	}
	if e.Tag != "" {
		op["tags"] = []string{e.Tag}
	}
	if e.Public {
		op["security"] = []any{}
	}
	var params []any
	bodyProps := false
	var bodyType reflect.Type
	for i := range e.req.NumField() {
		f := e.req.Field(i)
		if !f.IsExported() {
			continue
		}
		for _, in := range []string{"path", "query", "header"} {
			name := f.Tag.Get(in)
			if name == "" {
				continue
			}
			p := map[string]any{"name": name, "in": in, "schema": paramSchema(s, f)}
			if in == "path" {
				p["required"] = true
			}
			if d := f.Tag.Get("doc"); d != "" {
				p["description"] = d
			}
			if f.Type.Kind() == reflect.Slice {
				p["style"], p["explode"] = "form", false
			}
			params = append(params, p)
		}
		if hasTag(f, "body") {
			bodyType = f.Type
		} else if _, _, ok := jsonName(f); ok {
			bodyProps = true
		}
	}
	if bodyType == nil && bodyProps {
		bodyType = e.req
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if bodyType != nil {
		op["requestBody"] = map[string]any{
			"required": false,
			"content":  map[string]any{"application/json": map[string]any{"schema": s.Of(bodyType)}},
		}
	}
	responses := map[string]any{
		"default": map[string]any{"description": "an error, as RFC 9457 problem details",
			"content": map[string]any{apiv1.ProblemContentType: map[string]any{"schema": problem}}},
	}
	ok := map[string]any{"description": http.StatusText(e.Status)}
	switch {
	case e.resp == reflect.TypeFor[NoContent]():
	case e.ContentType != "":
		ok["content"] = map[string]any{e.ContentType: map[string]any{"schema": s.Of(e.resp)}}
	default:
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": s.Of(e.resp)}}
	}
	responses[itoa(e.Status)] = ok
	op["responses"] = responses
	return op
}

func paramSchema(s *Schemas, f reflect.StructField) map[string]any {
	return s.of(f.Type, reflect.StructField{Tag: reflect.StructTag(enumOnly(f.Tag))})
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}
