// Package redact removes credentials from everything the hub writes outside the sealed
// credentials column: error texts, stored error details, results, logs, spans and audit
// entries.
//
// Redaction works by derivation, not by string: a credential is registered once and the
// Redactor derives every form it can take on the wire or in a message — the raw value, its
// percent-encodings (query and path), its JSON and Go-quoted escapes, its base64 encodings,
// the Basic credential of each pair of values in one credentials object (user:password,
// client_id:client_secret), and the secret segments and query values of a URL. Values the
// hub sees only at run time (OAuth access and refresh tokens, Authorization headers) are
// registered by the outbound transport before the request carrying them is sent (see
// Observe).
package redact

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Redacted replaces every credential form found.
const Redacted = "[REDACTED]"

// MinSecretLen is the length under which a value is not redacted on its own: shorter strings
// would mangle ordinary text and are no real secret. Derived compound forms (a Basic
// credential) are registered whatever the length of their parts.
const MinSecretLen = 4

// minSegmentLen is the length from which a URL path segment or query value counts as a
// secret of its own (a Slack or Teams webhook token), so "/services" or "/v1" stay readable.
const minSegmentLen = 16

// Redactor holds the registered credential forms and removes them from text. The zero
// value is not usable; build one with New. It is safe for concurrent use: registering is
// serialised, redacting reads an immutable snapshot.
type Redactor struct {
	mu    sync.Mutex
	forms map[string]struct{}
	rep   atomic.Pointer[strings.Replacer]
}

// New returns an empty Redactor.
func New() *Redactor {
	return &Redactor{forms: map[string]struct{}{}}
}

// Forms returns the forms a single credential value can take: raw, query- and
// path-escaped, JSON- and Go-escaped, base64 (standard and URL alphabets, padded or not),
// and, when the value is an absolute URL, its secret path segments and query values (each
// with the same forms). Values shorter than MinSecretLen give none.
func Forms(secret string) []string {
	if len(secret) < MinSecretLen {
		return nil
	}
	out := valueForms(secret)
	if u, err := url.Parse(secret); err == nil && u.Scheme != "" && u.Host != "" {
		secretPath := false
		for _, seg := range strings.Split(u.EscapedPath(), "/") {
			if len(seg) >= minSegmentLen {
				secretPath = true
				if un, err := url.PathUnescape(seg); err == nil && un != seg {
					out = append(out, valueForms(un)...)
				}
				out = append(out, valueForms(seg)...)
			}
		}
		if secretPath {
			// the whole path of a URL with a secret segment, as logged without its host
			out = append(out, valueForms(u.EscapedPath())...)
		}
		for _, vs := range u.Query() {
			for _, v := range vs {
				if len(v) >= MinSecretLen*2 {
					out = append(out, valueForms(v)...)
				}
			}
		}
		if u.User != nil {
			if p, ok := u.User.Password(); ok {
				out = append(out, Forms(p)...)
			}
		}
	}
	return dedup(out)
}

// valueForms are the encodings of one value.
func valueForms(s string) []string {
	b := []byte(s)
	out := []string{
		s,
		url.QueryEscape(s),
		url.PathEscape(s),
		jsonInner(s, true),
		jsonInner(s, false),
		goInner(s),
		base64.StdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
	}
	// lower-case percent escapes, as some encoders write them
	if q := url.QueryEscape(s); strings.Contains(q, "%") {
		out = append(out, lowerEscapes(q))
	}
	return out
}

// Basic returns the forms of the Basic credential of user and password (base64 of
// "user:password", and of the form-escaped pair that OAuth client authentication sends),
// with and without padding.
func Basic(user, password string) []string {
	if user == "" && password == "" {
		return nil
	}
	pairs := []string{user + ":" + password, url.QueryEscape(user) + ":" + url.QueryEscape(password)}
	var out []string
	for _, p := range pairs {
		out = append(out, base64.StdEncoding.EncodeToString([]byte(p)), base64.RawStdEncoding.EncodeToString([]byte(p)))
	}
	return dedup(out)
}

// structural are credentials-document keys whose values say how a credential is used,
// not what it is (they would otherwise redact words like "basic" from every message).
var structural = map[string]bool{
	"type": true, "header": true, "prefix": true, "query_param": true, "body_field": true,
	"token_url": true, "auth_url": true, "scopes": true, "auth_style": true, "kind": true,
}

// DocumentForms returns the forms of every credential in a credentials document (a JSON
// object as connectors.Config.Auth holds it): the Forms of each string value (except the
// structural keys type, header, prefix, query_param, body_field, token_url, auth_url,
// scopes, auth_style and kind), and the Basic forms of every ordered pair of string values
// of one object, whatever their keys are called. A document that is not JSON gives the
// Forms of its whole text.
func DocumentForms(doc []byte) []string {
	s := strings.TrimSpace(string(doc))
	if s == "" || s == "null" || s == "{}" {
		return nil
	}
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return Forms(s)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			var leaves []string
			for k, e := range t {
				if str, ok := e.(string); ok {
					if structural[strings.ToLower(k)] {
						continue
					}
					leaves = append(leaves, str)
					out = append(out, Forms(str)...)
					continue
				}
				walk(e)
			}
			if len(leaves) <= 32 {
				for _, a := range leaves {
					for _, b := range leaves {
						if a != b {
							out = append(out, Basic(a, b)...)
						}
					}
				}
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		case string:
			out = append(out, Forms(t)...)
		}
	}
	walk(v)
	return dedup(out)
}

// Add registers forms exactly as given (use Forms, Basic or DocumentForms to derive them).
// Empty strings are ignored. It returns the number of forms that were new.
func (r *Redactor) Add(forms ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	added := 0
	for _, f := range forms {
		if f == "" || f == Redacted {
			continue
		}
		if _, ok := r.forms[f]; !ok {
			r.forms[f] = struct{}{}
			added++
		}
	}
	if added > 0 {
		r.rebuild()
	}
	return added
}

// AddSecret registers every form of one credential value (see Forms).
func (r *Redactor) AddSecret(secrets ...string) {
	var all []string
	for _, s := range secrets {
		all = append(all, Forms(s)...)
	}
	r.Add(all...)
}

// AddDocument registers every form of every credential of a credentials document (see
// DocumentForms).
func (r *Redactor) AddDocument(doc []byte) { r.Add(DocumentForms(doc)...) }

// Known reports whether s is a registered form.
func (r *Redactor) Known(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.forms[s]
	return ok
}

// Len returns the number of registered forms.
func (r *Redactor) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.forms)
}

// rebuild makes the replacer of the current forms, longest first so that a form containing
// another is replaced whole (strings.Replacer compares in argument order).
func (r *Redactor) rebuild() {
	list := make([]string, 0, len(r.forms))
	for f := range r.forms {
		list = append(list, f)
	}
	slices.SortFunc(list, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	args := make([]string, 0, 2*len(list))
	for _, f := range list {
		args = append(args, f, Redacted)
	}
	r.rep.Store(strings.NewReplacer(args...))
}

// String returns s with every registered form replaced by Redacted.
func (r *Redactor) String(s string) string {
	if r == nil || s == "" {
		return s
	}
	rep := r.rep.Load()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}

// Bytes returns b with every registered form replaced by Redacted (b itself when nothing
// was found).
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil || len(b) == 0 || r.rep.Load() == nil {
		return b
	}
	s := string(b)
	if out := r.String(s); out != s {
		return []byte(out)
	}
	return b
}

// Error returns err with a text free of registered forms: err itself when its text holds
// none, else an error that reads redacted and unwraps to err (so errors.Is and errors.As
// keep working; a caller that digs a vendor message out of the chain must redact it too).
// Formatting it with %+v or %v prints the redacted text.
func (r *Redactor) Error(err error) error {
	if err == nil || r == nil {
		return err
	}
	msg := err.Error()
	red := r.String(msg)
	if red == msg {
		return err
	}
	return &Err{msg: red, err: err}
}

// Err is an error whose text was redacted; it unwraps to the original.
type Err struct {
	msg string
	err error
}

// Error returns the redacted text.
func (e *Err) Error() string { return e.msg }

// Unwrap returns the original error.
func (e *Err) Unwrap() error { return e.err }

// Format prints the redacted text for every verb, so %+v cannot reach the original.
func (e *Err) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = fmt.Fprint(f, strconv.Quote(e.msg))
		return
	}
	_, _ = fmt.Fprint(f, e.msg)
}

// MarshalJSON encodes the redacted text as a JSON string.
func (e *Err) MarshalJSON() ([]byte, error) { return json.Marshal(e.msg) }

func jsonInner(s string, escapeHTML bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if enc.Encode(s) != nil {
		return s
	}
	out := strings.TrimSuffix(b.String(), "\n")
	return strings.TrimSuffix(strings.TrimPrefix(out, `"`), `"`)
}

func goInner(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func lowerEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = toLower(b[i+1])
			b[i+2] = toLower(b[i+2])
		}
	}
	return string(b)
}

func toLower(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

func dedup(in []string) []string {
	seen := make(map[string]struct{}, len(in))
	out := in[:0]
	for _, s := range in {
		if s == "" {
			continue
		}
		if _, ok := seen[s]; ok {
			continue
		}
		seen[s] = struct{}{}
		out = append(out, s)
	}
	return out
}
