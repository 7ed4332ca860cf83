package seal

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, KeySize)
	s, err := New(key)
	require.NoError(t, err)
	plain := json.RawMessage(`{"token":"xoxb-very-secret","nested":{"k":"another-secret"}}`)
	sealed, err := s.Seal("slack", plain)
	require.NoError(t, err)
	assert.True(t, IsSealed(sealed))
	assert.NotContains(t, string(sealed), "very-secret")

	got, err := s.Open("slack", sealed)
	require.NoError(t, err)
	assert.JSONEq(t, string(plain), string(got))

	_, err = s.Open("github", sealed)
	require.ErrorIs(t, err, ErrCorrupt, "sealed blob is bound to its service")

	other, err := New(bytes.Repeat([]byte{8}, KeySize))
	require.NoError(t, err)
	_, err = other.Open("slack", sealed)
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestSealWithoutKey(t *testing.T) {
	t.Parallel()
	s, err := New(nil)
	require.NoError(t, err)
	out, err := s.Seal("x", json.RawMessage(`{}`))
	require.NoError(t, err)
	assert.Nil(t, out)
	_, err = s.Seal("x", json.RawMessage(`{"token":"abcd"}`))
	require.ErrorIs(t, err, ErrNoKey)
	_, err = New([]byte("short"))
	require.Error(t, err)
}

func TestRedactAndSecrets(t *testing.T) {
	t.Parallel()
	doc := json.RawMessage(`{"token":"xoxb-123456","basic":{"user":"bob","password":"hunter22"},"scopes":["a-scope"]}`)
	r := Redact(doc)
	assert.NotContains(t, string(r), "xoxb")
	assert.NotContains(t, string(r), "hunter22")
	assert.Contains(t, string(r), `"token":"[REDACTED]"`)
	assert.JSONEq(t, `{"redacted":true}`, string(Redact(json.RawMessage(`"plain"`))))
	assert.Nil(t, Redact(nil))

	secs := Secrets(doc)
	assert.ElementsMatch(t, []string{"xoxb-123456", "hunter22", "a-scope"}, secs)
	assert.Equal(t, "auth failed for [REDACTED]", Scrub("auth failed for xoxb-123456", secs))
}

func TestDataKeyEnvelope(t *testing.T) {
	t.Parallel()
	dk, err := NewDataKey()
	require.NoError(t, err)
	other, err := NewDataKey()
	require.NoError(t, err)
	plain := json.RawMessage(`{"token":"s3cret-token"}`)
	doc, err := SealWithDataKey(dk, "0b4c9a3e-7f00-4b7e-9d2e-1c1d2e3f4a5b", "svc", plain)
	require.NoError(t, err)
	assert.NotContains(t, string(doc), "s3cret")
	assert.True(t, IsSealed(doc))
	ref, ok := DataKeyRef(doc)
	require.True(t, ok)
	assert.Equal(t, "0b4c9a3e-7f00-4b7e-9d2e-1c1d2e3f4a5b", ref)
	got, err := OpenWithDataKey(dk, "svc", doc)
	require.NoError(t, err)
	assert.JSONEq(t, string(plain), string(got))

	tests := []struct {
		name    string
		key     []byte
		binding string
		doc     json.RawMessage
	}{
		{"another data key", other, "svc", doc},
		{"another binding", dk, "other", doc},
		{"a short key", dk[:16], "svc", doc},
		{"not a data-key document", dk, "svc", json.RawMessage(`{"sealed":"v2.abc.def"}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenWithDataKey(tc.key, tc.binding, tc.doc)
			require.ErrorIs(t, err, ErrCorrupt)
		})
	}
	ring := mustSealer(t, newKey(t))
	_, err = ring.Open("svc", doc)
	require.ErrorIs(t, err, ErrUnknownKey, "a keyring does not open a data-key document")
	assert.False(t, ring.Current(doc))
	_, ok = DataKeyRef(json.RawMessage(`{"sealed":"v2.abc.def"}`))
	assert.False(t, ok)
	empty, err := SealWithDataKey(dk, "id", "svc", nil)
	require.NoError(t, err)
	assert.Nil(t, empty)
	_, err = SealWithDataKey(dk, "a.b", "svc", plain)
	require.Error(t, err)
}
