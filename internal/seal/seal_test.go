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
