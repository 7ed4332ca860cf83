// Package seal encrypts service credentials before they reach the store and redacts them
// from everything the hub writes elsewhere (audit entries, logs, errors).
//
// A sealed document is the JSON object {"sealed":"v1.<base64url(nonce|ciphertext)>"}:
// AES-256-GCM with a random 96-bit nonce, the service name as additional data so a sealed
// blob cannot be moved to another service.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the key length: AES-256.
const KeySize = 32

const prefix = "v1."

// Errors.
var (
	// ErrNoKey: credentials were given but the sealer has no key.
	ErrNoKey = errors.New("seal: no secret key configured")
	// ErrCorrupt: the sealed document cannot be opened with this key.
	ErrCorrupt = errors.New("seal: cannot open sealed credentials (wrong key or corrupt data)")
)

// Sealer seals and opens credentials. The zero value has no key: it seals nothing and
// refuses non-empty credentials. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// New returns a Sealer for key (nil for none). A key of the wrong length is an error.
func New(key []byte) (*Sealer, error) {
	if key == nil {
		return &Sealer{}, nil
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Empty reports whether a credentials document holds nothing worth sealing (absent, null
// or {}).
func Empty(doc json.RawMessage) bool {
	s := strings.TrimSpace(string(doc))
	return s == "" || s == "null" || s == "{}"
}

// IsSealed reports whether doc is a sealed document.
func IsSealed(doc json.RawMessage) bool {
	var env struct {
		Sealed string `json:"sealed"`
	}
	if json.Unmarshal(doc, &env) != nil {
		return false
	}
	return strings.HasPrefix(env.Sealed, prefix)
}

// Seal encrypts the credentials document plain, bound to the service name. Empty documents
// are returned as nil. Without a key it returns ErrNoKey.
func (s *Sealer) Seal(service string, plain json.RawMessage) (json.RawMessage, error) {
	if Empty(plain) {
		return nil, nil
	}
	if s == nil || s.aead == nil {
		return nil, ErrNoKey
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	out := s.aead.Seal(nonce, nonce, plain, []byte(service))
	return json.Marshal(map[string]string{"sealed": prefix + base64.RawURLEncoding.EncodeToString(out)})
}

// Open decrypts a document produced by Seal for the same service. Empty documents are
// returned as nil.
func (s *Sealer) Open(service string, sealed json.RawMessage) (json.RawMessage, error) {
	if Empty(sealed) {
		return nil, nil
	}
	var env struct {
		Sealed string `json:"sealed"`
	}
	if err := json.Unmarshal(sealed, &env); err != nil || !strings.HasPrefix(env.Sealed, prefix) {
		return nil, ErrCorrupt
	}
	if s == nil || s.aead == nil {
		return nil, ErrNoKey
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(env.Sealed, prefix))
	if err != nil || len(raw) < s.aead.NonceSize() {
		return nil, ErrCorrupt
	}
	plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], []byte(service))
	if err != nil {
		return nil, ErrCorrupt
	}
	return plain, nil
}

// Redacted is the value that replaces every secret in redacted documents.
const Redacted = "[REDACTED]"

// Redact returns a copy of a credentials document safe to show: the same keys, every leaf
// value replaced by Redacted (structure kept, so an audit reader sees which fields changed
// shape but never a value). Documents that are not JSON objects become {"redacted":true}.
// Empty documents are returned as nil.
func Redact(doc json.RawMessage) json.RawMessage {
	if Empty(doc) {
		return nil
	}
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return json.RawMessage(`{"redacted":true}`)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return json.RawMessage(`{"redacted":true}`)
	}
	out, err := json.Marshal(redactValue(m))
	if err != nil {
		return json.RawMessage(`{"redacted":true}`)
	}
	return out
}

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = redactValue(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = redactValue(e)
		}
		return out
	default:
		return Redacted
	}
}

// Secrets returns every string leaf of a credentials document, longest first, for scrubbing
// error texts with strings.ReplaceAll. Strings shorter than 4 bytes are skipped (they would
// mangle ordinary text and are no real secret).
func Secrets(doc json.RawMessage) []string {
	if Empty(doc) {
		return nil
	}
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for _, e := range t {
				walk(e)
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		case string:
			if len(t) >= 4 {
				out = append(out, t)
			}
		}
	}
	walk(v)
	// longest first so a secret containing another is replaced whole
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j]) > len(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// Scrub replaces each secret in s with Redacted.
func Scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	return s
}
