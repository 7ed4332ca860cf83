package hub

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"

	"github.com/ehg/hub/store/memory"
)

// aesSealer is a key service held in the process: one AES-256-GCM key-encryption key.
type aesSealer struct{ kek cipher.AEAD }

func newAESSealer(tb testing.TB) *aesSealer {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		tb.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		tb.Fatal(err)
	}
	return &aesSealer{kek: aead}
}

func (s *aesSealer) KeyID() string { return "local" }

func (s *aesSealer) WrapKey(_ context.Context, keyID string, dk []byte) ([]byte, error) {
	nonce := make([]byte, s.kek.NonceSize())
	_, _ = rand.Read(nonce)
	return s.kek.Seal(nonce, nonce, dk, []byte(keyID)), nil
}

func (s *aesSealer) UnwrapKey(_ context.Context, keyID string, w []byte) ([]byte, error) {
	n := s.kek.NonceSize()
	if len(w) < n {
		return nil, errors.New("malformed")
	}
	return s.kek.Open(nil, w[:n], w[n:], []byte(keyID))
}

// BenchmarkCredentialsOpen compares opening a service's credentials sealed with the secret
// key (keyring) and with a data key (envelope: the data key read from the memory store and
// unwrapped by an in-process key service, which stands in for a KMS call).
func BenchmarkCredentialsOpen(b *testing.B) {
	ctx := context.Background()
	plain := json.RawMessage(`{"type":"bearer","token":"bench-secret-token"}`)
	secret := make([]byte, SecretKeySize)
	_, _ = rand.Read(secret)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"secret_key", Config{SecretKey: secret}},
		{"envelope", Config{Sealer: newAESSealer(b)}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			v, err := newVault(tc.cfg, memory.New(memory.Options{}))
			if err != nil {
				b.Fatal(err)
			}
			doc, err := v.seal(ctx, serviceKeyOwner("crm"), "crm", plain)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.open(ctx, "crm", doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
