package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Envelope encryption: a document sealed with a data key is
// {"sealed":"v3.<data key id>.<base64url(nonce|ciphertext)>"}, AES-256-GCM under the data
// key with the binding (a service name, or another scope) as additional data. The data key
// itself is kept elsewhere, wrapped by a key-encryption key; the document only names it.

// NewDataKey returns a fresh random data key of KeySize bytes.
func NewDataKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("seal: data key: %w", err)
	}
	return k, nil
}

func dataAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: a data key must be %d bytes, got %d", ErrCorrupt, KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return cipher.NewGCM(block)
}

// SealWithDataKey encrypts plain under the data key key, whose id dataKeyID the document
// names, bound to binding. Empty documents are returned as nil.
func SealWithDataKey(key []byte, dataKeyID, binding string, plain json.RawMessage) (json.RawMessage, error) {
	if Empty(plain) {
		return nil, nil
	}
	if dataKeyID == "" || strings.Contains(dataKeyID, ".") {
		return nil, fmt.Errorf("seal: data key id %q is unusable", dataKeyID)
	}
	aead, err := dataAEAD(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	out := aead.Seal(nonce, nonce, plain, []byte(binding))
	return json.Marshal(map[string]string{"sealed": prefixV3 + dataKeyID + "." + base64.RawURLEncoding.EncodeToString(out)})
}

// DataKeyRef returns the id of the data key a document sealed with SealWithDataKey names,
// and false for any other document.
func DataKeyRef(doc json.RawMessage) (string, bool) {
	env, ok := envelope(doc)
	if !ok {
		return "", false
	}
	rest, v3 := strings.CutPrefix(env, prefixV3)
	if !v3 {
		return "", false
	}
	id, _, ok := strings.Cut(rest, ".")
	return id, ok && id != ""
}

// OpenWithDataKey decrypts a document sealed by SealWithDataKey with the same data key and
// binding. Empty documents are returned as nil; any mismatch is ErrCorrupt.
func OpenWithDataKey(key []byte, binding string, doc json.RawMessage) (json.RawMessage, error) {
	if Empty(doc) {
		return nil, nil
	}
	env, ok := envelope(doc)
	if !ok {
		return nil, ErrCorrupt
	}
	rest, v3 := strings.CutPrefix(env, prefixV3)
	if !v3 {
		return nil, ErrCorrupt
	}
	_, data, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, ErrCorrupt
	}
	aead, err := dataAEAD(key)
	if err != nil {
		return nil, err
	}
	return open(aead, binding, data)
}
