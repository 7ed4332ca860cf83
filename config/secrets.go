package config

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Resolver resolves the secret references of one scheme: for "vault:kv/github#token" the
// resolver registered as "vault" receives "kv/github#token". It must be safe for
// concurrent use and must not put the secret in its errors.
type Resolver interface {
	Resolve(ctx context.Context, ref string) (string, error)
}

// ResolverFunc adapts a function to [Resolver].
type ResolverFunc func(ctx context.Context, ref string) (string, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context, ref string) (string, error) { return f(ctx, ref) }

// plainAuthKeys are the members of a service's auth document that are settings, not
// secrets; see [PlainAuthKeys].
var plainAuthKeys = []string{
	"body_field", "client_auth_in_params", "client_id", "endpoint_params", "header", "prefix",
	"query_param", "scopes", "token_url", "type", "username",
}

// PlainAuthKeys returns the members of a service's auth document that are settings, not
// secrets, and may hold literal values ("type", "header", "token_url", ...). Every other
// string in auth, at any depth, must be a secret reference.
func PlainAuthKeys() []string { return slices.Clone(plainAuthKeys) }

// builtinSchemes are always known.
var builtinSchemes = []string{"env", "file"}

// splitRef splits "scheme:rest" when scheme is lowercase letters, digits and '-'.
func splitRef(s string) (scheme, rest string, ok bool) {
	scheme, rest, ok = strings.Cut(s, ":")
	if !ok || scheme == "" || rest == "" {
		return "", "", false
	}
	for i, c := range scheme {
		if !(c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '-')) {
			return "", "", false
		}
	}
	return scheme, rest, true
}

func (s *source) knownScheme(scheme string) bool {
	_, ok := s.resolvers[scheme]
	return ok || slices.Contains(builtinSchemes, scheme)
}

func validEnvName(name string) bool {
	for i, c := range name {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return name != ""
}

// checkAuth reports every string in auth (outside the plain keys) that is not a reference
// to a known scheme. It never quotes the value.
func (d *decoder) checkAuth(auth json.RawMessage, path string) {
	if len(auth) == 0 {
		return
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(auth, &top); err != nil || top == nil {
		d.errAt(path, "auth must be a mapping")
		return
	}
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if slices.Contains(plainAuthKeys, k) {
			continue
		}
		var v any
		if err := json.Unmarshal(top[k], &v); err != nil {
			continue
		}
		d.checkSecretValue(v, path+"."+k)
	}
}

func (d *decoder) checkSecretValue(v any, path string) {
	switch t := v.(type) {
	case string:
		scheme, rest, ok := splitRef(t)
		switch {
		case !ok:
			d.errAt(path, "a literal value where a secret reference is required (\"env:NAME\", \"file:PATH\" or a registered scheme); secrets never go in the document")
		case !d.src.knownScheme(scheme):
			d.errAt(path, "secret reference scheme %q is unknown (known: %s)", scheme, strings.Join(d.src.schemes(), ", "))
		case scheme == "env" && !validEnvName(rest):
			d.errAt(path, "%q is not an environment variable name", rest)
		}
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			d.checkSecretValue(t[k], path+"."+k)
		}
	case []any:
		for i, e := range t {
			d.checkSecretValue(e, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

func (s *source) schemes() []string {
	out := slices.Clone(builtinSchemes)
	for k := range s.resolvers {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// ResolveAuth returns the credentials document of the named service with every secret
// reference replaced by its value, for handing to the hub (which seals it). The result is
// nil when the service has no auth member.
//
// Errors: an *Error (ErrInvalid and ErrSecret) naming the reference's file, line and path
// when a reference cannot be resolved (unset variable, unreadable file, failing resolver);
// the error never holds a secret value.
func (d *Document) ResolveAuth(ctx context.Context, service string) (json.RawMessage, error) {
	svc := d.Service(service)
	if svc == nil || len(svc.Auth) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(svc.Auth))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, d.ErrorAt(ServicePath(service, "auth"), err, "auth is not a JSON object")
	}
	src := d.src
	if src == nil {
		src = newSource("", nil)
	}
	for k, v := range top {
		if slices.Contains(plainAuthKeys, k) {
			continue
		}
		r, err := d.resolveValue(ctx, src, v, ServicePath(service, "auth."+k))
		if err != nil {
			return nil, err
		}
		top[k] = r
	}
	out, err := json.Marshal(top)
	if err != nil {
		return nil, fmt.Errorf("config: encoding resolved auth: %w", err)
	}
	return out, nil
}

func (d *Document) resolveValue(ctx context.Context, src *source, v any, path string) (any, error) {
	switch t := v.(type) {
	case string:
		scheme, rest, ok := splitRef(t)
		if !ok {
			return nil, d.ErrorAt(path, ErrSecret, "a literal value where a secret reference is required")
		}
		val, err := src.resolve(ctx, scheme, rest)
		if err != nil {
			return nil, d.ErrorAt(path, err, "secret reference %s:%s", scheme, refLabel(scheme, rest))
		}
		return val, nil
	case map[string]any:
		for k, e := range t {
			r, err := d.resolveValue(ctx, src, e, path+"."+k)
			if err != nil {
				return nil, err
			}
			t[k] = r
		}
		return t, nil
	case []any:
		for i, e := range t {
			r, err := d.resolveValue(ctx, src, e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			t[i] = r
		}
		return t, nil
	}
	return v, nil
}

// refLabel is what an error may say of a reference: the variable or file name, never
// the rest of an embedder's reference (it may carry a token).
func refLabel(scheme, rest string) string {
	if scheme == "env" || scheme == "file" {
		return rest
	}
	return "…"
}

func (s *source) resolve(ctx context.Context, scheme, rest string) (string, error) {
	if r, ok := s.resolvers[scheme]; ok {
		v, err := r.Resolve(ctx, rest)
		if err != nil {
			return "", fmt.Errorf("%w: resolver %q failed", ErrSecret, scheme)
		}
		return v, nil
	}
	switch scheme {
	case "env":
		v, ok := s.lookupEnv(rest)
		if !ok {
			return "", fmt.Errorf("%w: environment variable %s is not set", ErrSecret, rest)
		}
		return v, nil
	case "file":
		p := rest
		if !filepath.IsAbs(p) && s.dir != "" {
			p = filepath.Join(s.dir, p)
		}
		b, err := s.readFile(p)
		if err != nil {
			return "", fmt.Errorf("%w: file %s cannot be read", ErrSecret, rest)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", fmt.Errorf("%w: unknown scheme %q", ErrSecret, scheme)
}
