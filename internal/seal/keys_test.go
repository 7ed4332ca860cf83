package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

// sealV1 seals plain in the first format (no key id), as documents stored before key ids.
func sealV1(t *testing.T, key []byte, service string, plain []byte) json.RawMessage {
	t.Helper()
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	out, err := json.Marshal(map[string]string{"sealed": "v1." + base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, []byte(service)))})
	require.NoError(t, err)
	return out
}

func TestKeyring(t *testing.T) {
	t.Parallel()
	a, b, c := newKey(t), newKey(t), newKey(t)
	plain := json.RawMessage(`{"token":"s3cret-token"}`)
	onlyA, err := New(a)
	require.NoError(t, err)
	onlyB, err := New(b)
	require.NoError(t, err)
	ring, err := NewKeyring(b, a)
	require.NoError(t, err)
	assert.Equal(t, KeyID(b), ring.PrimaryKeyID())
	assert.Len(t, KeyID(a), 16)
	assert.NotEqual(t, KeyID(a), KeyID(b))

	underA, err := onlyA.Seal("svc", plain)
	require.NoError(t, err)
	id, ok := SealedKeyID(underA)
	require.True(t, ok)
	assert.Equal(t, KeyID(a), id, "a sealed document names its key")
	assert.NotContains(t, string(underA), "s3cret")

	tests := []struct {
		name    string
		sealer  *Sealer
		doc     json.RawMessage
		wantErr error
		current bool
	}{
		{"the keyring opens the previous key's document", ring, underA, nil, false},
		{"the previous key alone opens its own", onlyA, underA, nil, true},
		{"another key alone does not", onlyB, underA, ErrUnknownKey, false},
		{"the first format opens with the keyring", ring, sealV1(t, a, "svc", plain), nil, false},
		{"the first format under an unknown key", onlyB, sealV1(t, a, "svc", plain), ErrCorrupt, false},
		{"a key id that is not configured", mustSealer(t, c), underA, ErrUnknownKey, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sealer.Open("svc", tc.doc)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.ErrorIs(t, err, ErrCorrupt)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, string(plain), string(got))
			assert.Equal(t, tc.current, tc.sealer.Current(tc.doc))
		})
	}

	resealed, err := ring.Seal("svc", plain)
	require.NoError(t, err)
	assert.True(t, ring.Current(resealed))
	_, err = onlyA.Open("svc", resealed)
	require.ErrorIs(t, err, ErrUnknownKey, "after rotation the old key alone opens nothing")
	_, err = ring.Open("other", resealed)
	require.ErrorIs(t, err, ErrCorrupt, "bound to the service")
	assert.True(t, ring.Current(nil))
	_, err = NewKeyring(a, []byte("short"))
	require.Error(t, err)
}

// mustSealer is New for a test table: the sealer of key, failing t on error.
func mustSealer(t *testing.T, key []byte) *Sealer {
	t.Helper()
	s, err := New(key)
	require.NoError(t, err)
	return s
}
