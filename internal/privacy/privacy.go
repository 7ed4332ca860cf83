// Package privacy finds the personal data a contract marks and removes it: from documents
// (by path, where the schema is known), from any text or document (by value), and from
// the hub's subject index (a keyed hash of the data subject's identifier).
//
// A JSON Schema marks a property personal with "x-pii": true, or with a category string
// such as "email", "phone" or "name" ("x-pii": false or absence means not personal). A
// personal object or array makes everything inside it personal. One property, outside any
// array, may carry "x-subject": true: its value identifies the data subject of the
// document (it is personal whether or not it also says "x-pii").
//
// Masking replaces a value with a fixed token and keeps nothing of it, so it cannot be
// undone. Everything here is pure: no I/O, safe for concurrent use.
package privacy

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Tokens that replace personal values.
const (
	// Erased replaces the values an erasure removed.
	Erased = "[erased]"
	// Masked replaces the values kept out of logs, spans, error details and delivered
	// payloads stored masked.
	Masked = "[masked]"
)

// MinScrubLen is the shortest value ScrubText and ScrubDoc replace inside text: shorter
// ones ("Al", "7") would mangle unrelated words and numbers. Values at personal paths are
// masked whatever their length.
const MinScrubLen = 3

// ErrSchema reports a schema whose personal-data annotations cannot be used.
var ErrSchema = errors.New("privacy: unusable personal-data annotation")

// Any is the path segment that stands for every element of an array or every member of an
// object.
const Any = "*"

// Field is one personal location of a document.
type Field struct {
	// Path is the property names from the root; Any matches every array element or object
	// member.
	Path []string
	// Category is the x-pii category ("email", "phone", ...), or "" for x-pii: true.
	Category string
	// Subject marks the field identifying the data subject.
	Subject bool
}

// String returns the path in dotted form ("contact.emails.*").
func (f Field) String() string { return strings.Join(f.Path, ".") }

// Fields are the personal fields of one schema. The zero value (and nil) has none.
type Fields struct {
	fields  []Field
	subject []string // path of the x-subject field, nil when none
}

// Empty reports whether f marks nothing personal.
func (f *Fields) Empty() bool { return f == nil || len(f.fields) == 0 }

// List returns the personal fields, in schema order.
func (f *Fields) List() []Field {
	if f == nil {
		return nil
	}
	return slices.Clone(f.fields)
}

// HasSubject reports whether a field identifies the data subject.
func (f *Fields) HasSubject() bool { return f != nil && f.subject != nil }

// SubjectPath returns the path of the field identifying the data subject, or nil.
func (f *Fields) SubjectPath() []string {
	if f == nil {
		return nil
	}
	return slices.Clone(f.subject)
}

// maxRefDepth bounds the $ref chains FromSchema follows along one path, so a recursive
// schema ends.
const maxRefDepth = 16

// FromSchema reads the personal-data annotations of a JSON Schema document. It follows
// properties, patternProperties and additionalProperties (as Any), items, prefixItems,
// additionalItems and contains (as Any), allOf, anyOf, oneOf, if/then/else and local $refs
// ("#/$defs/…", "#/definitions/…"). Errors (wrapping ErrSchema): malformed JSON, an x-pii
// that is neither a boolean nor a non-empty string, an x-subject that is not a boolean,
// inside an array, or given twice.
func FromSchema(schema []byte) (*Fields, error) {
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: schema is not JSON: %w", ErrSchema, err)
	}
	w := &walker{root: doc, seen: map[string]bool{}}
	w.walk(doc, nil, false, 0)
	if w.err != nil {
		return nil, w.err
	}
	return &Fields{fields: w.fields, subject: w.subject}, nil
}

type walker struct {
	root    any
	fields  []Field
	subject []string
	seen    map[string]bool // path + category keys, to list each field once
	err     error
}

func (w *walker) fail(path []string, format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf("%w: at %q: %s", ErrSchema, strings.Join(path, "."), fmt.Sprintf(format, args...))
	}
}

// walk visits schema node at path; inherited is true inside a personal object or array.
func (w *walker) walk(node any, path []string, inherited bool, refs int) {
	m, ok := node.(map[string]any)
	if !ok || w.err != nil {
		return
	}
	personal, category := inherited, ""
	if v, ok := m["x-pii"]; ok {
		switch t := v.(type) {
		case bool:
			personal = personal || t
		case string:
			if t == "" {
				w.fail(path, `"x-pii" is an empty string`)
				return
			}
			personal, category = true, t
		default:
			w.fail(path, `"x-pii" must be a boolean or a category string`)
			return
		}
	}
	subject := false
	if v, ok := m["x-subject"]; ok {
		b, isBool := v.(bool)
		switch {
		case !isBool:
			w.fail(path, `"x-subject" must be a boolean`)
			return
		case b && slices.Contains(path, Any):
			w.fail(path, `"x-subject" inside an array or map: a document has one subject`)
			return
		case b && w.subject != nil && !slices.Equal(w.subject, path):
			w.fail(path, `"x-subject" is also set at %q: a document has one subject`, strings.Join(w.subject, "."))
			return
		case b:
			w.subject, subject, personal = slices.Clone(path), true, true
		}
	}
	if personal && !inherited && len(path) > 0 { // inside a personal value, the ancestor covers it
		w.add(Field{Path: slices.Clone(path), Category: category, Subject: subject})
	}
	child := func(n any, seg string) { w.walk(n, append(slices.Clone(path), seg), personal, refs) }
	if props, ok := m["properties"].(map[string]any); ok {
		names := make([]string, 0, len(props))
		for name := range props {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			child(props[name], name)
		}
	}
	if pp, ok := m["patternProperties"].(map[string]any); ok {
		for _, n := range pp {
			child(n, Any)
		}
	}
	for _, kw := range []string{"additionalProperties", "additionalItems", "contains", "unevaluatedProperties", "unevaluatedItems"} {
		child(m[kw], Any)
	}
	switch items := m["items"].(type) {
	case map[string]any:
		child(items, Any)
	case []any: // draft 4 to 2019-09 tuple form
		for _, n := range items {
			child(n, Any)
		}
	}
	if pi, ok := m["prefixItems"].([]any); ok {
		for _, n := range pi {
			child(n, Any)
		}
	}
	for _, kw := range []string{"allOf", "anyOf", "oneOf"} {
		if list, ok := m[kw].([]any); ok {
			for _, n := range list {
				w.walk(n, path, personal, refs)
			}
		}
	}
	for _, kw := range []string{"if", "then", "else"} {
		w.walk(m[kw], path, personal, refs)
	}
	if ref, ok := m["$ref"].(string); ok {
		if refs >= maxRefDepth {
			return // a recursive schema: the fields it repeats are listed already
		}
		if target, ok := w.resolve(ref); ok {
			w.walk(target, path, personal, refs+1)
		}
	}
}

func (w *walker) add(f Field) {
	k := f.String() + "\x00" + f.Category
	if w.seen[k] {
		return
	}
	w.seen[k] = true
	w.fields = append(w.fields, f)
}

// resolve finds a local JSON Pointer reference ("#/$defs/x") in the root document.
func (w *walker) resolve(ref string) (any, bool) {
	ptr, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, false // remote references are not followed
	}
	node := w.root
	if ptr == "" {
		return node, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := node.(map[string]any)
		if !ok {
			return nil, false
		}
		if node, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return node, true
}

// Covers reports whether the JSON Pointer ptr ("/contact/emails/0") locates a value at or
// under a personal path, so a message about it may quote personal data.
func (f *Fields) Covers(ptr string) bool {
	if f.Empty() || ptr == "" {
		return false
	}
	toks := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	for _, fl := range f.fields {
		if len(fl.Path) > len(toks) {
			continue
		}
		match := true
		for i, seg := range fl.Path {
			if seg != Any && seg != toks[i] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// Decode decodes a JSON document for the functions below, keeping numbers exact.
func Decode(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("privacy: decode: %w", err)
	}
	return v, nil
}

// Encode encodes a document decoded by Decode.
func Encode(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("privacy: encode: %w", err)
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// Subject returns the data subject's identifier in doc (decoded by Decode), as text: a
// string, or the literal of a number. ok is false when the schema has no subject field or
// doc has no usable value there.
func (f *Fields) Subject(doc any) (string, bool) {
	if !f.HasSubject() {
		return "", false
	}
	v := doc
	for _, seg := range f.subject {
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		if v, ok = m[seg]; !ok {
			return "", false
		}
	}
	switch t := v.(type) {
	case string:
		if strings.TrimSpace(t) == "" {
			return "", false
		}
		return t, true
	case json.Number:
		return t.String(), true
	case float64:
		return json.Number(fmt.Sprint(t)).String(), true
	}
	return "", false
}

// Values returns the personal values of doc (decoded by Decode): every string and number
// at or under a personal path, as text, each once, longest first (the order ScrubText
// needs). Booleans and null are not values anyone can be found by.
func (f *Fields) Values(doc any) []string {
	if f.Empty() {
		return nil
	}
	set := map[string]bool{}
	for _, fl := range f.fields {
		at(doc, fl.Path, func(v any) { leaves(v, set) })
	}
	return sortValues(set)
}

// MergeValues returns the union of value lists, longest first.
func MergeValues(lists ...[]string) []string {
	set := map[string]bool{}
	for _, l := range lists {
		for _, v := range l {
			set[v] = true
		}
	}
	return sortValues(set)
}

func sortValues(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return out
}

// leaves adds every string and number under v to set.
func leaves(v any, set map[string]bool) {
	switch t := v.(type) {
	case map[string]any:
		for _, e := range t {
			leaves(e, set)
		}
	case []any:
		for _, e := range t {
			leaves(e, set)
		}
	case string:
		if t != "" {
			set[t] = true
		}
	case json.Number:
		set[t.String()] = true
	case float64:
		set[fmt.Sprint(t)] = true
	}
}

// at calls fn with every value of doc at path (Any fans out).
func at(doc any, path []string, fn func(any)) {
	if len(path) == 0 {
		fn(doc)
		return
	}
	seg, rest := path[0], path[1:]
	switch t := doc.(type) {
	case map[string]any:
		if seg == Any {
			for _, e := range t {
				at(e, rest, fn)
			}
		} else if e, ok := t[seg]; ok {
			at(e, rest, fn)
		}
	case []any:
		if seg == Any {
			for _, e := range t {
				at(e, rest, fn)
			}
		}
	}
}

// Mask replaces, in place, every value at a personal path of doc (decoded by Decode) with
// token: a scalar becomes the token, an object or array keeps its shape with every scalar
// inside replaced. It returns how many values it replaced (0 when doc holds none).
func (f *Fields) Mask(doc any, token string) int {
	if f.Empty() {
		return 0
	}
	n := 0
	for _, fl := range f.fields {
		n += maskAt(doc, fl.Path, token)
	}
	return n
}

// maskAt masks the values at path under the container doc.
func maskAt(doc any, path []string, token string) int {
	if len(path) == 0 {
		return 0
	}
	seg, rest := path[0], path[1:]
	n := 0
	set := func(get func() any, put func(any)) {
		if len(rest) == 0 {
			v, c := maskAll(get(), token)
			put(v)
			n += c
			return
		}
		n += maskAt(get(), rest, token)
	}
	switch t := doc.(type) {
	case map[string]any:
		for k, e := range t {
			if seg == Any || k == seg {
				set(func() any { return e }, func(v any) { t[k] = v })
			}
		}
	case []any:
		if seg == Any {
			for i := range t {
				set(func() any { return t[i] }, func(v any) { t[i] = v })
			}
		}
	}
	return n
}

// maskAll returns v with every scalar replaced by token (null stays null), and the count.
func maskAll(v any, token string) (any, int) {
	switch t := v.(type) {
	case map[string]any:
		n := 0
		for k, e := range t {
			var c int
			t[k], c = maskAll(e, token)
			n += c
		}
		return t, n
	case []any:
		n := 0
		for i, e := range t {
			var c int
			t[i], c = maskAll(e, token)
			n += c
		}
		return t, n
	case nil:
		return nil, 0
	case string:
		if t == token {
			return t, 0 // already masked: idempotent
		}
	}
	return token, 1
}

// ScrubText replaces every occurrence in s of each value (at least MinScrubLen runes long,
// and not part of token itself, so scrubbing twice changes nothing) with token. values must be longest first (as Values returns them), so a value containing
// another is replaced whole.
func ScrubText(s string, values []string, token string) string {
	for _, v := range values {
		if utf8.RuneCountInString(v) >= MinScrubLen && !strings.Contains(token, v) && strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, token)
		}
	}
	return s
}

// ScrubDoc replaces, in place, the values inside every string and object key of doc
// (decoded by Decode) as ScrubText does, and numbers equal to a value with token. It
// returns the document (a new value when doc itself is a scalar) and how many strings,
// keys and numbers it changed.
func ScrubDoc(doc any, values []string, token string) (any, int) {
	if len(values) == 0 {
		return doc, 0
	}
	num := make(map[string]bool, len(values))
	for _, v := range values {
		num[v] = true
	}
	var scrub func(any) (any, int)
	scrub = func(v any) (any, int) {
		switch t := v.(type) {
		case map[string]any:
			n := 0
			renamed := map[string]string{}
			for k, e := range t {
				var c int
				t[k], c = scrub(e)
				n += c
				if nk := ScrubText(k, values, token); nk != k {
					renamed[k] = nk
				}
			}
			for k, nk := range renamed {
				t[nk] = t[k]
				delete(t, k)
				n++
			}
			return t, n
		case []any:
			n := 0
			for i, e := range t {
				var c int
				t[i], c = scrub(e)
				n += c
			}
			return t, n
		case string:
			if s := ScrubText(t, values, token); s != t {
				return s, 1
			}
		case json.Number:
			if num[t.String()] {
				return token, 1
			}
		}
		return v, 0
	}
	return scrub(doc)
}

// subjectInfo labels the subject-index key derived from the hub's secret.
const subjectInfo = "github.com/ehg/hub subject index v1"

// DeriveSubjectKey derives the key of the subject index from the hub's secret key (HKDF
// with SHA-256), so the index key is not the sealing key itself.
func DeriveSubjectKey(secret []byte) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, secret, nil, subjectInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("privacy: derive subject key: %w", err)
	}
	return k, nil
}

// NormalizeSubject is the form of a subject identifier that is hashed: surrounding white
// space removed, Unicode NFC, lower case, so "Ann@Example.com " and "ann@example.com"
// are one subject.
func NormalizeSubject(s string) string {
	return strings.ToLower(norm.NFC.String(strings.TrimSpace(s)))
}

// SubjectKey is the subject index's key of a subject identifier: HMAC-SHA256 under key of
// the normalised identifier, in hex. Without key nobody can compute it, so the index cannot
// be reversed by hashing guessed identifiers.
func SubjectKey(key []byte, subject string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(NormalizeSubject(subject)))
	return hex.EncodeToString(m.Sum(nil))
}
