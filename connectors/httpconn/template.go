package httpconn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// decodePayload decodes a JSON payload keeping numbers exact. Empty input is nil.
func decodePayload(body []byte) (any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("payload is not valid JSON: %w", err)
	}
	return v, nil
}

// lookup walks a dotted path ("a.b.0.c") through decoded JSON. Array elements are
// addressed by index. It reports whether the path exists.
func lookup(v any, path string) (any, bool) {
	if path == "" || path == "." {
		return v, true
	}
	for part := range strings.SplitSeq(path, ".") {
		switch node := v.(type) {
		case map[string]any:
			next, ok := node[part]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(node) {
				return nil, false
			}
			v = node[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// scalarString renders a scalar JSON value as text; objects and arrays are rendered
// as compact JSON, null as "".
func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// placeholderRe-free scanning: placeholders are "{{path}}" with no nesting.
func forEachPlaceholder(s string, fn func(path string) string) (string, bool) {
	if !strings.Contains(s, "{{") {
		return s, false
	}
	var b strings.Builder
	found := false
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			b.WriteString(s)
			break
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			b.WriteString(s)
			break
		}
		found = true
		b.WriteString(s[:i])
		b.WriteString(fn(strings.TrimSpace(s[i+2 : i+2+j])))
		s = s[i+2+j+2:]
	}
	return b.String(), found
}

// renderBody instantiates a JSON body template against the payload. A string that
// is exactly "{{path}}" becomes the value at path (any JSON type; null when absent);
// placeholders inside longer strings are replaced by the value's text.
func renderBody(tmpl any, payload any) any {
	switch t := tmpl.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, v := range t {
			out[k] = renderBody(v, payload)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, v := range t {
			out[i] = renderBody(v, payload)
		}
		return out
	case string:
		trimmed := strings.TrimSpace(t)
		if strings.HasPrefix(trimmed, "{{") && strings.HasSuffix(trimmed, "}}") && strings.Count(trimmed, "{{") == 1 {
			v, _ := lookup(payload, strings.TrimSpace(trimmed[2:len(trimmed)-2]))
			return v
		}
		s, _ := forEachPlaceholder(t, func(path string) string {
			v, _ := lookup(payload, path)
			return scalarString(v)
		})
		return s
	default:
		return t
	}
}

// renderPath fills "{name}" segments of a path template from params, then from the
// payload's dotted paths. Values are path-escaped. It returns an error naming the
// first placeholder with no value.
func renderPath(tmpl string, params map[string]string, payload any) (string, error) {
	var b strings.Builder
	s := tmpl
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("path template %q has an unclosed '{'", tmpl)
		}
		name := s[i+1 : i+j]
		val, ok := params[name]
		if !ok {
			if v, found := lookup(payload, name); found && v != nil {
				val, ok = scalarString(v), true
			}
		}
		if !ok || val == "" {
			return "", fmt.Errorf("path parameter %q has no value in params or payload", name)
		}
		b.WriteString(s[:i])
		b.WriteString(url.PathEscape(val))
		s = s[i+j+1:]
	}
}

// renderQuery fills "{{path}}" placeholders in query values from params and payload.
func renderQuery(q map[string]string, params map[string]string, payload any) url.Values {
	out := make(url.Values, len(q))
	for k, v := range q {
		s, _ := forEachPlaceholder(v, func(path string) string {
			if p, ok := params[path]; ok {
				return p
			}
			val, _ := lookup(payload, path)
			return scalarString(val)
		})
		out.Set(k, s)
	}
	return out
}
