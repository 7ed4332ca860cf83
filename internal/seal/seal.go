// Package seal encrypts service credentials before they reach the store and redacts them
// from everything the hub writes elsewhere (audit entries, logs, errors).
//
// A sealed document is the JSON object {"sealed":"v2.<key id>.<base64url(nonce|ciphertext)>"}:
// AES-256-GCM with a random 96-bit nonce and the service name as additional data, so a
// sealed blob cannot be moved to another service. The key id ([KeyID]) names the key that
// sealed it, so a sealer holding several keys opens each document with the right one and a
// rotation knows which documents are not yet under the primary key. Documents of the first
// format, {"sealed":"v1.<base64url(nonce|ciphertext)>"} (no key id), are still opened: with
// each key in turn, since GCM refuses a wrong key.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the key length: AES-256.
const KeySize = 32

const (
	prefixV1 = "v1."
	prefixV2 = "v2."
	prefixV3 = "v3."
)

// Errors.
var (
	// ErrNoKey: credentials were given but the sealer has no key.
	ErrNoKey = errors.New("seal: no secret key configured")
	// ErrCorrupt: the sealed document cannot be opened with this key.
	ErrCorrupt = errors.New("seal: cannot open sealed credentials (wrong key or corrupt data)")
	// ErrUnknownKey: the document was sealed with a key the sealer does not hold. It
	// matches ErrCorrupt too.
	ErrUnknownKey = fmt.Errorf("%w: sealed with a key that is not configured", ErrCorrupt)
)

// KeyID returns the id of a key: the first 8 bytes of SHA-256("github.com/ehg/hub seal key
// id" || key), in hex. It reveals nothing of the key and is the same in every process.
func KeyID(key []byte) string {
	h := sha256.New()
	h.Write([]byte("github.com/ehg/hub seal key id"))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Sealer seals and opens credentials. The zero value has no key: it seals nothing and
// refuses non-empty credentials. It is safe for concurrent use.
type Sealer struct {
	primary string // key id that seals
	keys    map[string]cipher.AEAD
	order   []string // primary first, then the others as given (for v1 documents)
}

// New returns a Sealer for key (nil for none). A key of the wrong length is an error.
func New(key []byte) (*Sealer, error) {
	if key == nil {
		return &Sealer{}, nil
	}
	return NewKeyring(key)
}

// NewKeyring returns a Sealer that seals with primary and opens with primary or any of
// previous: the keyring of a rotation. Every key must be KeySize bytes.
func NewKeyring(primary []byte, previous ...[]byte) (*Sealer, error) {
	s := &Sealer{keys: map[string]cipher.AEAD{}}
	for i, key := range append([][]byte{primary}, previous...) {
		if len(key) != KeySize {
			return nil, fmt.Errorf("seal: key %d must be %d bytes, got %d", i, KeySize, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		id := KeyID(key)
		if _, dup := s.keys[id]; dup {
			continue
		}
		s.keys[id] = aead
		s.order = append(s.order, id)
	}
	s.primary = s.order[0]
	return s, nil
}

// PrimaryKeyID returns the id of the key that seals ("" without a key).
func (s *Sealer) PrimaryKeyID() string {
	if s == nil {
		return ""
	}
	return s.primary
}

// Empty reports whether a credentials document holds nothing worth sealing (absent, null
// or {}).
func Empty(doc json.RawMessage) bool {
	s := strings.TrimSpace(string(doc))
	return s == "" || s == "null" || s == "{}"
}

func envelope(doc json.RawMessage) (string, bool) {
	var env struct {
		Sealed string `json:"sealed"`
	}
	if json.Unmarshal(doc, &env) != nil {
		return "", false
	}
	return env.Sealed, strings.HasPrefix(env.Sealed, prefixV1) || strings.HasPrefix(env.Sealed, prefixV2) ||
		strings.HasPrefix(env.Sealed, prefixV3)
}

// IsSealed reports whether doc is a sealed document.
func IsSealed(doc json.RawMessage) bool {
	_, ok := envelope(doc)
	return ok
}

// SealedKeyID returns the id of the key a sealed document names: "" for a document of the
// first format (no key id), and false when doc is not sealed.
func SealedKeyID(doc json.RawMessage) (string, bool) {
	env, ok := envelope(doc)
	if !ok {
		return "", false
	}
	if rest, v2 := strings.CutPrefix(env, prefixV2); v2 {
		id, _, _ := strings.Cut(rest, ".")
		return id, true
	}
	return "", true
}

// Current reports whether doc is empty or sealed with the primary key in the current
// format: whether a rotation can leave it as it is.
func (s *Sealer) Current(doc json.RawMessage) bool {
	if Empty(doc) {
		return true
	}
	id, ok := SealedKeyID(doc)
	return ok && id != "" && id == s.PrimaryKeyID()
}

// Seal encrypts the credentials document plain with the primary key, bound to the service
// name. Empty documents are returned as nil. Without a key it returns ErrNoKey.
func (s *Sealer) Seal(service string, plain json.RawMessage) (json.RawMessage, error) {
	if Empty(plain) {
		return nil, nil
	}
	if s == nil || s.primary == "" {
		return nil, ErrNoKey
	}
	aead := s.keys[s.primary]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	out := aead.Seal(nonce, nonce, plain, []byte(service))
	return json.Marshal(map[string]string{"sealed": prefixV2 + s.primary + "." + base64.RawURLEncoding.EncodeToString(out)})
}

// Open decrypts a document produced by Seal (this format or the first) for the same
// service with whichever configured key sealed it. Empty documents are returned as nil.
// A document of a key the sealer does not hold is ErrUnknownKey.
func (s *Sealer) Open(service string, sealed json.RawMessage) (json.RawMessage, error) {
	if Empty(sealed) {
		return nil, nil
	}
	env, ok := envelope(sealed)
	if !ok {
		return nil, ErrCorrupt
	}
	if s == nil || s.primary == "" {
		return nil, ErrNoKey
	}
	if strings.HasPrefix(env, prefixV3) {
		return nil, ErrUnknownKey // sealed with a data key: see OpenWithDataKey
	}
	if rest, v2 := strings.CutPrefix(env, prefixV2); v2 {
		id, data, ok := strings.Cut(rest, ".")
		if !ok {
			return nil, ErrCorrupt
		}
		aead, known := s.keys[id]
		if !known {
			return nil, ErrUnknownKey
		}
		return open(aead, service, data)
	}
	data := strings.TrimPrefix(env, prefixV1)
	for _, id := range s.order {
		if plain, err := open(s.keys[id], service, data); err == nil {
			return plain, nil
		}
	}
	return nil, ErrCorrupt
}

func open(aead cipher.AEAD, service, data string) (json.RawMessage, error) {
	raw, err := base64.RawURLEncoding.DecodeString(data)
	if err != nil || len(raw) < aead.NonceSize() {
		return nil, ErrCorrupt
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(service))
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
