package hub_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ehg/hub"
)

// localKMS stands in for a cloud KMS in the example: one AES-256 key-encryption key that
// never leaves it. A real Sealer calls the KMS's Encrypt and Decrypt (or wrap/unwrap) API.
type localKMS struct{ kek cipher.AEAD }

func newLocalKMS() *localKMS {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	return &localKMS{kek: aead}
}

func (k *localKMS) KeyID() string { return "kms/key-1" }

func (k *localKMS) WrapKey(ctx context.Context, keyID string, dataKey []byte) ([]byte, error) {
	nonce := make([]byte, k.kek.NonceSize())
	_, _ = rand.Read(nonce)
	return k.kek.Seal(nonce, nonce, dataKey, []byte(keyID)), nil
}

func (k *localKMS) UnwrapKey(ctx context.Context, keyID string, wrapped []byte) ([]byte, error) {
	if len(wrapped) < k.kek.NonceSize() {
		return nil, errors.New("malformed wrapped key")
	}
	n := k.kek.NonceSize()
	return k.kek.Open(nil, wrapped[:n], wrapped[n:], []byte(keyID))
}

// ExampleWithSealer seals each service's credentials with a data key of its own, wrapped by
// a key service, then destroys one service's data key: its credentials are gone for good.
func ExampleWithSealer() {
	ctx := context.Background()
	kms := newLocalKMS()

	// README: begin
	h, err := hub.New(nil, hub.WithSealer(kms)) // kms implements hub.Sealer: KeyID, WrapKey, UnwrapKey
	// each service's credentials are sealed with its own data key, stored wrapped by the KMS
	_, err = h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "crm", Connector: "http",
		BaseURL: "https://crm.example.com", Auth: json.RawMessage(`{"type":"bearer","token":"s3cret"}`)})
	// crypto-shredding: destroy the data key, and the credentials can never be opened again
	_, err = h.DestroyDataKey(ctx, "crm", "contract ended")
	_, err = h.TestIntegration(ctx, "crm", hub.TestData{}) // errors.Is(err, hub.ErrDataKeyDestroyed)
	// README: end

	defer h.Close(ctx)
	fmt.Println("destroyed:", errors.Is(err, hub.ErrDataKeyDestroyed))
	// Output:
	// destroyed: true
}
