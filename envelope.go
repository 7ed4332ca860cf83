package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ehg/hub/internal/seal"
	"github.com/ehg/hub/store"
)

// Sealer is a key service — a cloud KMS, an HSM, a secrets engine's transit key — that
// wraps and unwraps data keys under a key-encryption key it holds and the hub never sees.
// With [WithSealer] the hub uses envelope encryption: each service gets a data key of its
// own (random, 32 bytes), stored only wrapped by the Sealer (store.DataKeyStore), and the
// service's credentials and OAuth tokens are sealed with that data key. Destroying the data
// key ([Hub.DestroyDataKey]) makes them unrecoverable wherever copies of them went.
//
// Implementations must be safe for concurrent use. The hub calls UnwrapKey each time it
// opens credentials (when it loads a service, not per delivery) and keeps no unwrapped key.
type Sealer interface {
	// KeyID names the key-encryption key that wraps new data keys. When it changes (the
	// key service rotated its key), [Hub.RotateSecretKey] re-wraps every data key under the
	// new one; credentials are not re-encrypted.
	KeyID() string
	// WrapKey encrypts dataKey under the key-encryption key keyID.
	WrapKey(ctx context.Context, keyID string, dataKey []byte) ([]byte, error)
	// UnwrapKey decrypts wrapped, which WrapKey produced under keyID.
	UnwrapKey(ctx context.Context, keyID string, wrapped []byte) ([]byte, error)
}

// WithSealer makes the hub seal credentials by envelope encryption through s, a key
// service, instead of with Config.SecretKey alone. The store must keep data keys
// (store.DataKeyStore: the memory, SQLite and PostgreSQL stores do). Credentials sealed
// earlier with Config.SecretKey (or WithPreviousSecretKeys) still open while those keys are
// configured; RotateSecretKey moves them under data keys.
func WithSealer(s Sealer) Option {
	return func(c *Config) error {
		if s == nil {
			return configErr("Config.Sealer", "is nil", nil)
		}
		c.Sealer = s
		return nil
	}
}

// Errors of envelope encryption.
var (
	// ErrDataKeyDestroyed: the data key that sealed these credentials (or OAuth token) was
	// destroyed (DestroyDataKey), so they cannot be opened by anyone, ever.
	ErrDataKeyDestroyed = errors.New("hub: the data key was destroyed; what it sealed cannot be opened")
	// ErrKeyService: the Sealer (key service) failed to wrap or unwrap a data key; it
	// wraps the Sealer's error.
	ErrKeyService = errors.New("hub: the key service failed")
)

// Data-key owners: "service:<name>" for a service, "hub:approvals" for sealed approval
// requests, so no service name can collide with a scope of the hub's own.
const approvalsKeyOwner = "hub:approvals"

// serviceKeyOwner is the data-key owner of the service named name.
func serviceKeyOwner(name string) string { return "service:" + name }

// vault seals and opens every secret the hub stores: with the key-encryption key of a
// Sealer and a data key per owner when one is configured, else with the keyring of
// Config.SecretKey. Documents sealed by the keyring open either way while its keys are
// configured.
type vault struct {
	keys *seal.Sealer
	kms  Sealer
	dks  store.DataKeyStore // set with kms
}

func newVault(cfg Config, st store.Store) (*vault, error) {
	keys, err := newSealer(cfg)
	if err != nil {
		return nil, err
	}
	v := &vault{keys: keys, kms: cfg.Sealer}
	if v.kms != nil {
		dks, ok := st.(store.DataKeyStore)
		if !ok {
			return nil, configErr("Config.Sealer", "the store keeps no data keys", fmt.Errorf("%w: envelope encryption (store.DataKeyStore)", ErrNotSupported))
		}
		v.dks = dks
	}
	return v, nil
}

// canSeal reports whether the vault has something to seal with.
func (v *vault) canSeal() bool { return v.kms != nil || v.keys.PrimaryKeyID() != "" }

// seal seals plain bound to binding, with owner's data key under a Sealer.
func (v *vault) seal(ctx context.Context, owner, binding string, plain json.RawMessage) (json.RawMessage, error) {
	if seal.Empty(plain) {
		return nil, nil
	}
	if v.kms == nil {
		return v.keys.Seal(binding, plain)
	}
	dk, key, err := v.dataKey(ctx, owner)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return seal.SealWithDataKey(key, dk.ID, binding, plain)
}

// open opens a document sealed by seal (either way) for binding.
func (v *vault) open(ctx context.Context, binding string, doc json.RawMessage) (json.RawMessage, error) {
	id, ok := seal.DataKeyRef(doc)
	if !ok {
		return v.keys.Open(binding, doc)
	}
	if v.kms == nil {
		return nil, fmt.Errorf("%w: sealed with a data key, and the hub has no Sealer (WithSealer)", seal.ErrUnknownKey)
	}
	dk, err := v.dks.GetDataKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: its data key %s is not in the store", seal.ErrCorrupt, id)
	}
	if err != nil {
		return nil, mapStoreErr(err)
	}
	key, err := v.unwrap(ctx, dk)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return seal.OpenWithDataKey(key, binding, doc)
}

// current reports whether doc is sealed the way the vault seals now (or empty): whether a
// rotation can leave the document itself as it is.
func (v *vault) current(doc json.RawMessage) bool {
	if seal.Empty(doc) {
		return true
	}
	if v.kms != nil {
		_, ok := seal.DataKeyRef(doc)
		return ok
	}
	return v.keys.Current(doc)
}

// dataKey returns owner's live data key and the key unwrapped, creating, wrapping and
// storing one when owner has none (of two hubs creating at once, the store keeps one and
// both use it).
func (v *vault) dataKey(ctx context.Context, owner string) (*store.DataKey, []byte, error) {
	dk, err := v.dks.LiveDataKey(ctx, owner)
	if err == nil {
		key, err := v.unwrap(ctx, dk)
		return dk, key, err
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, nil, mapStoreErr(err)
	}
	key, err := seal.NewDataKey()
	if err != nil {
		return nil, nil, err
	}
	kek := v.kms.KeyID()
	wrapped, err := v.kms.WrapKey(ctx, kek, key)
	if err != nil {
		clear(key)
		return nil, nil, fmt.Errorf("%w: wrapping a data key under %q: %w", ErrKeyService, kek, err)
	}
	id := uuid.NewString()
	dk, err = v.dks.CreateDataKey(ctx, &store.DataKey{ID: id, Owner: owner, KeyID: kek, Wrapped: wrapped})
	if err != nil {
		clear(key)
		return nil, nil, mapStoreErr(err)
	}
	if dk.ID == id {
		return dk, key, nil
	}
	clear(key) // another hub's key won
	key, err = v.unwrap(ctx, dk)
	return dk, key, err
}

// unwrap returns the data key of dk in the clear; the caller clears it after use.
func (v *vault) unwrap(ctx context.Context, dk *store.DataKey) ([]byte, error) {
	if dk.DestroyedAt != nil {
		return nil, fmt.Errorf("%w (data key %s of %s, destroyed at %s)", ErrDataKeyDestroyed, dk.ID, dk.Owner, dk.DestroyedAt.Format(time.RFC3339))
	}
	key, err := v.kms.UnwrapKey(ctx, dk.KeyID, dk.Wrapped)
	if err != nil {
		return nil, fmt.Errorf("%w: unwrapping data key %s under %q: %w", ErrKeyService, dk.ID, dk.KeyID, err)
	}
	if len(key) != seal.KeySize {
		clear(key)
		return nil, fmt.Errorf("%w: data key %s unwrapped to %d bytes, want %d", ErrKeyService, dk.ID, len(key), seal.KeySize)
	}
	return key, nil
}

// DataKeyDestruction reports what DestroyDataKey destroyed.
type DataKeyDestruction struct {
	// Service is the service whose data key was destroyed.
	Service string `json:"service"`
	// DataKeyID is the id of the destroyed data key.
	DataKeyID string `json:"data_key_id"`
	// DestroyedAt is when it was destroyed.
	DestroyedAt time.Time `json:"destroyed_at"`
}

// DestroyDataKey destroys the data key of a service (by id or name; the name of a removed
// service works too) — crypto-shredding: the wrapped key is erased from the store, so the
// service's sealed credentials and OAuth tokens can never be opened again, on any hub and
// in any backup taken after this call. Opening them then fails with ErrDataKeyDestroyed.
// This hub forgets the credentials it opened at once; another hub sharing the store forgets
// them at its next service refresh (every MaintenanceInterval, at least a second apart). Giving the service new credentials afterwards (ConfigureService)
// seals them with a new data key. The destruction is audited ("data_key.destroy", with
// reason) before it happens: when the entry cannot be written, nothing is destroyed. It is a
// data deletion (ChangeDataDeletion): with approvals requiring that kind, the call only
// proposes the destruction and returns an *ApprovalRequiredError; a second approver's
// Approve carries it out.
//
// Errors: ErrForbidden (authorization on, no service.credentials permission);
// *ApprovalRequiredError (ErrApprovalRequired);
// ErrInvalidConfig (no Sealer: keys of the built-in sealing are not per service);
// ErrNotFound (the service has no data key); ErrAuditUnavailable; store errors; ErrClosed.
func (h *Hub) DestroyDataKey(ctx context.Context, service, reason string) (*DataKeyDestruction, error) {
	if err := h.guard(ctx, deletionCall("DestroyDataKey", service, PermCredentials, proposedChange{Service: service, Reason: reason})); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if h.vault.kms == nil {
		return nil, configErr("Config.Sealer", "data keys exist only with a Sealer (WithSealer)", nil)
	}
	name, id := service, ""
	if svc, err := h.loadService(ctx, service); err == nil {
		name, id = svc.Name, svc.ID
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	dk, err := h.vault.dks.LiveDataKey(ctx, serviceKeyOwner(name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: service %q has no data key", ErrNotFound, service)
	}
	if err != nil {
		return nil, mapStoreErr(err)
	}
	intent, err := h.appendAudit(ctx, &store.AuditEntry{Actor: actorIn(ctx, ""), Action: "data_key.destroy", EntityType: "service",
		EntityID: id, After: mustJSON(map[string]any{"service": name, "data_key_id": dk.ID, "key_id": dk.KeyID, "reason": reason})})
	if err != nil {
		return nil, err
	}
	dead, err := h.vault.dks.DestroyDataKey(context.WithoutCancel(ctx), serviceKeyOwner(name))
	if err != nil {
		h.auditAborted(ctx, intent, err)
		return nil, mapStoreErr(err)
	}
	if id != "" {
		h.drop(ctx, id)
		if ts, ok := h.st.(store.TokenStore); ok {
			// the persisted OAuth token, sealed with the destroyed key, can never be opened
			if err := ts.DeleteOAuthToken(context.WithoutCancel(ctx), id); err != nil && !errors.Is(err, store.ErrNotFound) {
				h.log.Error("hub: deleting the OAuth token of a service whose data key was destroyed failed", "service", name, "error", err)
			}
		}
	}
	h.log.Warn("hub: data key destroyed; the service's credentials are unrecoverable", "service", name, "data_key_id", dead.ID)
	return &DataKeyDestruction{Service: name, DataKeyID: dead.ID, DestroyedAt: *dead.DestroyedAt}, nil
}

// openCredentials opens a service's credentials for a view of the service (ServiceInfo,
// a configuration snapshot): credentials whose data key was destroyed read as none there,
// while loading the service to deliver still fails with ErrDataKeyDestroyed.
func (h *Hub) openCredentials(ctx context.Context, svc *store.Service) (json.RawMessage, error) {
	plain, err := h.vault.open(ctx, svc.Name, svc.AuthenticationConfig)
	if errors.Is(err, ErrDataKeyDestroyed) {
		return nil, nil
	}
	return plain, err
}

// rewrap re-wraps every live data key not wrapped under the Sealer's current key: the
// data key itself, and so everything it sealed, stays as it is. The keys are listed by id
// after the last one seen, so keys destroyed meanwhile make none passed over; passes repeat
// until one finds nothing left under an older key (beyond those that failed), which makes
// sure of it.
func (h *Hub) rewrap(ctx context.Context, opts RotateOptions, rep *KeyRotation) error {
	kek := h.vault.kms.KeyID()
	seen := map[string]bool{}
	for {
		done, err := h.rewrapPass(ctx, opts, rep, kek, seen)
		if err != nil || done == 0 {
			return err
		}
	}
}

// rewrapPass is one pass of rewrap; it returns how many keys it re-wrapped or saw fail
// for the first time.
func (h *Hub) rewrapPass(ctx context.Context, opts RotateOptions, rep *KeyRotation, kek string, seen map[string]bool) (int, error) {
	done, after := 0, ""
	for {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		keys, err := h.vault.dks.ListDataKeys(ctx, after, store.Page{Limit: opts.BatchSize})
		if err != nil {
			return done, mapStoreErr(err)
		}
		for _, dk := range keys {
			after = dk.ID
			if !seen[dk.ID] {
				seen[dk.ID] = true
				rep.DataKeys++
			}
			if _, failed := rep.Failed[dk.Owner]; dk.KeyID == kek || failed {
				continue
			}
			done++
			if err := h.rewrapOne(ctx, dk, kek); err != nil {
				if errors.Is(err, ctx.Err()) || errors.Is(err, ErrBusy) {
					return done, err
				}
				rep.Failed[dk.Owner] = err.Error()
				continue
			}
			rep.Rewrapped++
		}
		if len(keys) < opts.BatchSize {
			return done, nil
		}
	}
}

func (h *Hub) rewrapOne(ctx context.Context, dk *store.DataKey, kek string) error {
	key, err := h.vault.unwrap(ctx, dk)
	if err != nil {
		return err
	}
	defer clear(key)
	wrapped, err := h.vault.kms.WrapKey(ctx, kek, key)
	if err != nil {
		return fmt.Errorf("%w: wrapping data key %s under %q: %w", ErrKeyService, dk.ID, kek, err)
	}
	err = h.vault.dks.RewrapDataKey(ctx, dk.ID, dk.KeyID, kek, wrapped)
	if errors.Is(err, store.ErrConflict) {
		return nil // destroyed or re-wrapped meanwhile (by another rotation)
	}
	return mapStoreErr(err)
}

// liveDataKeys returns the ids of every live data key; nil without a Sealer. A key created
// while they are listed may be missing: ask destroyed before taking a missing key for
// destroyed.
func (v *vault) liveDataKeys(ctx context.Context) (map[string]bool, error) {
	if v.kms == nil {
		return nil, nil
	}
	live, after := map[string]bool{}, ""
	for {
		keys, err := v.dks.ListDataKeys(ctx, after, store.Page{Limit: store.MaxPageLimit})
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			live[k.ID] = true
			after = k.ID
		}
		if len(keys) < store.MaxPageLimit {
			return live, nil
		}
	}
}

// destroyed reports whether the data key id is destroyed (or gone). A lookup error counts as
// not destroyed: the caller keeps what it has.
func (v *vault) destroyed(ctx context.Context, id string) bool {
	dk, err := v.dks.GetDataKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return true
	}
	return err == nil && dk.DestroyedAt != nil
}
