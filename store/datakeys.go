package store

import (
	"bytes"
	"context"
	"time"
)

// DataKey is one owner's data key for envelope encryption (table integration_data_keys):
// the random key that seals the owner's credentials, stored only wrapped (encrypted) by a
// key-encryption key that the hub's key service holds, never in the clear. The owner is a
// service (the hub names it "service:<name>") or a scope of the hub's own. Destroying it
// erases the wrapped key and keeps the row as a tombstone, so whatever the key sealed can
// no longer be opened and says so.
type DataKey struct {
	// ID identifies the data key (a UUID); sealed documents name it.
	ID string `json:"id"`
	// Owner is what the key seals for.
	Owner string `json:"owner"`
	// KeyID names the key-encryption key that wrapped it (the key service's id).
	KeyID string `json:"key_id"`
	// Wrapped is the data key encrypted under KeyID; empty once destroyed.
	Wrapped []byte `json:"wrapped,omitempty"`
	// CreatedAt is when it was made; UpdatedAt when it was last re-wrapped or destroyed.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// DestroyedAt is set once the key was destroyed.
	DestroyedAt *time.Time `json:"destroyed_at,omitempty"`
}

// Clone returns a deep copy of k.
func (k *DataKey) Clone() *DataKey {
	if k == nil {
		return nil
	}
	c := *k
	c.Wrapped = bytes.Clone(k.Wrapped)
	if k.DestroyedAt != nil {
		t := *k.DestroyedAt
		c.DestroyedAt = &t
	}
	return &c
}

// Validate checks a data key before it is created, the same way in every store.
func (k *DataKey) Validate() error {
	switch {
	case k == nil:
		return invalid("data key is nil")
	case k.Owner == "":
		return invalid("data key has no owner")
	case k.KeyID == "":
		return invalid("data key of %s names no key-encryption key", k.Owner)
	case len(k.Wrapped) == 0:
		return invalid("data key of %s has no wrapped key", k.Owner)
	}
	return nil
}

// DataKeyStore is the optional capability of keeping wrapped data keys, one live key per
// owner, for envelope encryption with a key service (a KMS). Find it with a type assertion.
type DataKeyStore interface {
	// CreateDataKey stores k (ID assigned when empty) as the live data key of k.Owner and
	// returns it, unless the owner has a live key already: then it returns that one and
	// stores nothing, so two hubs sealing at once agree on one key. Errors:
	// ErrInvalidArgument (see DataKey.Validate, a malformed id).
	CreateDataKey(ctx context.Context, k *DataKey) (*DataKey, error)
	// GetDataKey returns the data key id, destroyed or not. Errors: ErrNotFound;
	// ErrInvalidArgument for a malformed id.
	GetDataKey(ctx context.Context, id string) (*DataKey, error)
	// LiveDataKey returns owner's live (not destroyed) data key, or ErrNotFound.
	LiveDataKey(ctx context.Context, owner string) (*DataKey, error)
	// ListDataKeys returns the live data keys ordered by id, those whose id is after after
	// ("" for all): a caller paging with the last id it saw (keyset paging) passes over no
	// key when keys are destroyed meanwhile, as offsets would. Errors: ErrInvalidArgument
	// (after not a UUID, a bad page).
	ListDataKeys(ctx context.Context, after string, page Page) ([]*DataKey, error)
	// RewrapDataKey replaces the wrapped key of id and the id of the key-encryption key
	// that wrapped it, only when it is live and still wrapped under oldKeyID. Errors:
	// ErrNotFound; ErrConflict when it was destroyed or re-wrapped meanwhile;
	// ErrInvalidArgument.
	RewrapDataKey(ctx context.Context, id, oldKeyID, newKeyID string, wrapped []byte) error
	// DestroyDataKey erases the wrapped key of owner's live data key and marks it
	// destroyed, returning the tombstone. Errors: ErrNotFound when owner has no live key.
	DestroyDataKey(ctx context.Context, owner string) (*DataKey, error)
}
