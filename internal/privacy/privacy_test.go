package privacy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const contactSchema = `{
	"$schema": "https://json-schema.org/draft/2020-12/schema",
	"type": "object",
	"properties": {
		"id": {"type": "string"},
		"email": {"type": "string", "format": "email", "x-pii": "email", "x-subject": true},
		"name": {"type": "string", "x-pii": "name"},
		"plan": {"type": "string", "x-pii": false},
		"phones": {"type": "array", "items": {"type": "string", "x-pii": "phone"}},
		"address": {"$ref": "#/$defs/address"},
		"notes": {"type": "array", "items": {"type": "object", "properties": {
			"text": {"type": "string"}, "author": {"type": "string", "x-pii": true}}}},
		"extra": {"type": "object", "additionalProperties": {"type": "string", "x-pii": true}}
	},
	"$defs": {
		"address": {"type": "object", "x-pii": "address", "properties": {"city": {"type": "string"}, "zip": {"type": "integer"}}}
	}
}`

const contactDoc = `{
	"id": "c-1", "email": "Ann.Lee@Example.com", "name": "Ann Lee", "plan": "pro",
	"phones": ["+44 20 7946 0001", "+44 20 7946 0002"],
	"address": {"city": "Leeds", "zip": 12345},
	"notes": [{"text": "called Ann Lee back", "author": "Bob Stone"}],
	"extra": {"nickname": "Annie", "age": 41},
	"flag": true
}`

func fields(t *testing.T, schema string) *Fields {
	t.Helper()
	f, err := FromSchema([]byte(schema))
	require.NoError(t, err)
	return f
}

func TestFromSchema(t *testing.T) {
	t.Parallel()
	f := fields(t, contactSchema)
	var got []string
	for _, fl := range f.List() {
		got = append(got, fl.String()+"="+fl.Category)
	}
	assert.Equal(t, []string{
		"address=address", "email=email", "extra.*=", "name=name", "notes.*.author=", "phones.*=phone",
	}, got)
	assert.True(t, f.HasSubject())
	assert.False(t, fields(t, `{"type":"object","properties":{"a":{"type":"string"}}}`).HasSubject())
	assert.True(t, fields(t, `{"type":"string"}`).Empty())
	var nilFields *Fields
	assert.True(t, nilFields.Empty())
	assert.Nil(t, nilFields.Values(map[string]any{"a": "b"}))

	// Combinators, tuple items, pattern properties, recursion.
	f = fields(t, `{"allOf":[{"properties":{"a":{"x-pii":true}}}],
		"properties":{"t":{"prefixItems":[{"x-pii":"name"}]},"p":{"patternProperties":{"^x":{"x-pii":true}}},
		"tree":{"$ref":"#/$defs/node"}},
		"$defs":{"node":{"properties":{"label":{"x-pii":true},"kids":{"items":{"$ref":"#/$defs/node"}}}}}}`)
	got = nil
	for _, fl := range f.List() {
		got = append(got, fl.String())
	}
	assert.Contains(t, got, "a")
	assert.Contains(t, got, "t.*")
	assert.Contains(t, got, "p.*")
	assert.Contains(t, got, "tree.label")
	assert.Contains(t, got, "tree.kids.*.label")

	for name, bad := range map[string]string{
		"not json":         `{`,
		"pii number":       `{"properties":{"a":{"x-pii":1}}}`,
		"pii empty":        `{"properties":{"a":{"x-pii":""}}}`,
		"subject string":   `{"properties":{"a":{"x-subject":"yes"}}}`,
		"subject in array": `{"properties":{"a":{"items":{"x-subject":true}}}}`,
		"two subjects":     `{"properties":{"a":{"x-subject":true},"b":{"x-subject":true}}}`,
	} {
		_, err := FromSchema([]byte(bad))
		assert.ErrorIs(t, err, ErrSchema, name)
	}
}

func TestValuesSubjectMask(t *testing.T) {
	t.Parallel()
	f := fields(t, contactSchema)
	doc, err := Decode([]byte(contactDoc))
	require.NoError(t, err)
	subject, ok := f.Subject(doc)
	require.True(t, ok)
	assert.Equal(t, "Ann.Lee@Example.com", subject)
	vals := f.Values(doc)
	assert.ElementsMatch(t, []string{"Ann.Lee@Example.com", "Ann Lee", "+44 20 7946 0001", "+44 20 7946 0002",
		"Leeds", "12345", "Bob Stone", "Annie", "41"}, vals)
	for i := 1; i < len(vals); i++ {
		assert.GreaterOrEqual(t, len(vals[i-1]), len(vals[i]), "longest first")
	}

	n := f.Mask(doc, Erased)
	assert.Equal(t, 9, n)
	out, err := Encode(doc)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"id": "c-1", "email": "[erased]", "name": "[erased]", "plan": "pro",
		"phones": ["[erased]", "[erased]"], "address": {"city": "[erased]", "zip": "[erased]"},
		"notes": [{"text": "called Ann Lee back", "author": "[erased]"}],
		"extra": {"nickname": "[erased]", "age": "[erased]"}, "flag": true}`, string(out),
		"path masking leaves the free text: ScrubDoc handles it")
	assert.Zero(t, f.Mask(doc, Erased), "masking again changes nothing")
	_, ok = f.Subject(doc)
	assert.True(t, ok, "the subject field still holds a value, the token")

	scrubbed, c := ScrubDoc(doc, vals, Erased)
	assert.Equal(t, 1, c)
	out, err = Encode(scrubbed)
	require.NoError(t, err)
	assert.NotContains(t, string(out), "Ann Lee")
	assert.Contains(t, string(out), `"called [erased] back"`)
}

func TestScrub(t *testing.T) {
	t.Parallel()
	vals := MergeValues([]string{"ann@example.com", "Al"}, []string{"ann@example.com.au", "12345"})
	assert.Equal(t, []string{"ann@example.com.au", "ann@example.com", "12345", "Al"}, vals)
	s := ScrubText("HTTP 422: ann@example.com.au and ann@example.com rejected (Al, 12345)", vals, Masked)
	assert.Equal(t, "HTTP 422: [masked] and [masked] rejected (Al, [masked])", s, "short values are left")
	assert.Equal(t, s, ScrubText(s, append(vals, "mask"), Masked), "idempotent even for a value inside the token")

	doc, err := Decode([]byte(`{"to":"ann@example.com","ann@example.com":{"n":12345,"m":123456},"list":["x ann@example.com y"]}`))
	require.NoError(t, err)
	out, n := ScrubDoc(doc, vals, Masked)
	assert.Equal(t, 4, n)
	b, err := Encode(out)
	require.NoError(t, err)
	assert.JSONEq(t, `{"to":"[masked]","[masked]":{"n":"[masked]","m":123456},"list":["x [masked] y"]}`, string(b))
	scalar, n := ScrubDoc("ann@example.com", vals, Masked)
	assert.Equal(t, 1, n)
	assert.Equal(t, "[masked]", scalar)
}

func TestSubjectKey(t *testing.T) {
	t.Parallel()
	k1, err := DeriveSubjectKey([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	k2, err := DeriveSubjectKey([]byte(strings.Repeat("j", 32)))
	require.NoError(t, err)
	require.Len(t, k1, 32)
	a := SubjectKey(k1, " Ann.Lee@Example.COM ")
	assert.Equal(t, a, SubjectKey(k1, "ann.lee@example.com"), "normalised")
	assert.Equal(t, a, SubjectKey(k1, "ann.lee@example.com"), "stable")
	assert.NotEqual(t, a, SubjectKey(k2, "ann.lee@example.com"), "keyed")
	assert.NotEqual(t, a, SubjectKey(k1, "bob@example.com"))
	assert.Len(t, a, 64)
	assert.NotContains(t, a, "ann")
	// NFC: a precomposed and a decomposed é are one subject.
	assert.Equal(t, SubjectKey(k1, "Jos\u00e9"), SubjectKey(k1, "Jose\u0301"))

	doc, err := Decode([]byte(`{"id": 1234567890123456789}`))
	require.NoError(t, err)
	f := fields(t, `{"properties":{"id":{"x-subject":true}}}`)
	s, ok := f.Subject(doc)
	require.True(t, ok)
	assert.Equal(t, "1234567890123456789", s, "numbers keep every digit")
	for _, d := range []string{`{"id": null}`, `{"id": "  "}`, `{"other": 1}`, `[1]`, `{"id": {"a": 1}}`} {
		v, err := Decode([]byte(d))
		require.NoError(t, err)
		_, ok := f.Subject(v)
		assert.False(t, ok, d)
	}
	var raw json.RawMessage
	_, err = Decode(raw)
	assert.Error(t, err)
}
