package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ehg/hub/internal/seal"
	"github.com/ehg/hub/store"
)

// WithPreviousSecretKeys adds keys that only open credentials: those sealed before a key
// rotation. Config.SecretKey stays the key that seals. Each key is SecretKeySize bytes.
//
// Rotating the credential key, with several hubs on one store:
//  1. give every hub the new key as SecretKey and the old one here, and restart them;
//  2. call RotateSecretKey once (on any hub): it re-seals every credential under the new key
//     while deliveries continue;
//  3. drop the old key from every hub's configuration.
func WithPreviousSecretKeys(keys ...[]byte) Option {
	return func(c *Config) error {
		for i, k := range keys {
			if len(k) != SecretKeySize {
				return configErr(fmt.Sprintf("Config.PreviousSecretKeys[%d]", i), fmt.Sprintf("must be %d bytes, got %d", SecretKeySize, len(k)), nil)
			}
			c.PreviousSecretKeys = append(c.PreviousSecretKeys, append([]byte(nil), k...))
		}
		return nil
	}
}

// newSealer returns the sealer of cfg's keys: SecretKey seals, PreviousSecretKeys open too.
func newSealer(cfg Config) (*seal.Sealer, error) {
	if cfg.SecretKey == nil {
		if len(cfg.PreviousSecretKeys) > 0 {
			return nil, configErr("Config.PreviousSecretKeys", "previous keys need a Config.SecretKey to seal with", nil)
		}
		return seal.New(nil)
	}
	s, err := seal.NewKeyring(cfg.SecretKey, cfg.PreviousSecretKeys...)
	if err != nil {
		return nil, configErr("Config.SecretKey", "unusable", err)
	}
	return s, nil
}

// SecretKeyID returns the id of the key that seals credentials (a hash of it, safe to show),
// as sealed documents name it; "" without a key.
func (h *Hub) SecretKeyID() string { return h.vault.keys.PrimaryKeyID() }

// Key rotation batch sizes.
const (
	// RotationBatchDefault is RotateOptions.BatchSize when zero.
	RotationBatchDefault = 100
	// RotationBatchMax is the largest batch.
	RotationBatchMax = 1000
)

// RotateOptions tune RotateSecretKey.
type RotateOptions struct {
	// BatchSize is how many services one step reads; each credential is then re-sealed in
	// a short write of its own. Default RotationBatchDefault, at most RotationBatchMax.
	BatchSize int
	// Pause is waited between batches, to spread the work (default none).
	Pause time.Duration
	// Reason is recorded in the audit log.
	Reason string
}

// KeyRotation reports what RotateSecretKey did.
type KeyRotation struct {
	// KeyID is the id of the key every credential is now sealed with: Config.SecretKey's,
	// or with a Sealer the key-encryption key (Sealer.KeyID) every data key is wrapped by.
	KeyID string `json:"key_id"`
	// Services were examined; Resealed re-sealed; Current already under KeyID (or without
	// credentials).
	Services int `json:"services"`
	Resealed int `json:"resealed"`
	Current  int `json:"current"`
	// DataKeys (with a Sealer) were examined; Rewrapped were wrapped again under KeyID
	// (the credentials they seal are left as they are).
	DataKeys  int `json:"data_keys,omitempty"`
	Rewrapped int `json:"rewrapped,omitempty"`
	// Failed maps the name of each service whose credentials could not be re-sealed (not
	// opened by any configured key, or changed twice under the rotation), and the owner
	// of each data key that could not be re-wrapped, to the reason.
	Failed map[string]string `json:"failed,omitempty"`
	// Duration is how long the rotation took.
	Duration time.Duration `json:"duration"`
}

// RotateSecretKey re-seals every service's credentials under Config.SecretKey: those sealed
// with a previous key (WithPreviousSecretKeys) or in the first sealed format. It works in
// batches of services, each credential replaced only if it is still what was read (a
// concurrent ConfigureService wins and is re-read), so deliveries and configuration carry on
// meanwhile: running hubs keep the credentials they opened, and every hub holding both keys
// opens either form. The rotation is audited ("secret_key.rotate" before, with the key id;
// "secret_key.rotated" after, with the counts). Running it again finds nothing to do.
//
// Errors: ErrForbidden (authorization on, no service.credentials permission);
// ErrInvalidConfig (no SecretKey); ErrNotSupported (the store has no
// store.CredentialStore); ErrAuditUnavailable; store errors (the report then holds what was
// done); the context's error; ErrClosed.
func (h *Hub) RotateSecretKey(ctx context.Context, opts RotateOptions) (*KeyRotation, error) {
	if err := h.guard(ctx, call{method: "RotateSecretKey", perms: perms(PermCredentials)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if h.cfg.SecretKey == nil && h.vault.kms == nil {
		return nil, configErr("Config.SecretKey", "a key rotation needs the key to seal with", nil)
	}
	cs, ok := h.st.(store.CredentialStore)
	if !ok {
		return nil, fmt.Errorf("%w: key rotation (store.CredentialStore)", ErrNotSupported)
	}
	switch {
	case opts.BatchSize < 0:
		return nil, fmt.Errorf("%w: batch size %d is negative", ErrInvalidInput, opts.BatchSize)
	case opts.BatchSize == 0:
		opts.BatchSize = RotationBatchDefault
	case opts.BatchSize > RotationBatchMax:
		opts.BatchSize = RotationBatchMax
	}
	start := time.Now()
	rep := &KeyRotation{KeyID: h.vault.keys.PrimaryKeyID(), Failed: map[string]string{}}
	if h.vault.kms != nil {
		rep.KeyID = h.vault.kms.KeyID()
	}
	intent, err := h.appendAudit(ctx, &store.AuditEntry{Actor: actorIn(ctx, ""), Action: "secret_key.rotate", EntityType: "secret_key",
		EntityID: rep.KeyID, After: mustJSON(map[string]any{"key_id": rep.KeyID, "reason": opts.Reason})})
	if err != nil {
		return nil, err
	}
	err = h.rotate(ctx, cs, opts, rep)
	if err == nil && h.vault.kms != nil {
		err = h.rewrap(ctx, opts, rep)
	}
	rep.Duration = time.Since(start)
	if err != nil {
		h.auditAborted(ctx, intent, err)
		return rep, err
	}
	if _, aerr := h.st.AppendAudit(context.WithoutCancel(ctx), &store.AuditEntry{Actor: intent.Actor, Action: "secret_key.rotated",
		EntityType: "secret_key", EntityID: rep.KeyID, After: mustJSON(rep)}); aerr != nil {
		h.log.Error("hub: appending audit entry failed", "action", "secret_key.rotated", "error", aerr)
	}
	h.log.Info("hub: credentials re-sealed", "key_id", rep.KeyID, "services", rep.Services, "resealed", rep.Resealed,
		"failed", len(rep.Failed), "duration", rep.Duration)
	return rep, nil
}

func (h *Hub) rotate(ctx context.Context, cs store.CredentialStore, opts RotateOptions, rep *KeyRotation) error {
	for off := 0; ; off += opts.BatchSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		svcs, err := h.st.ListServices(ctx, store.ServiceFilter{Page: store.Page{Limit: opts.BatchSize, Offset: off}})
		if err != nil {
			return mapStoreErr(err)
		}
		for _, svc := range svcs {
			rep.Services++
			if h.vault.current(svc.AuthenticationConfig) {
				rep.Current++
				continue
			}
			done, err := h.reseal(ctx, cs, svc)
			switch {
			case err != nil && (errors.Is(err, ctx.Err()) || errors.Is(err, ErrBusy)):
				return err
			case err != nil:
				rep.Failed[svc.Name] = err.Error()
			case done:
				rep.Resealed++
			default:
				rep.Current++
			}
		}
		if len(svcs) < opts.BatchSize {
			return nil
		}
		if opts.Pause > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(opts.Pause):
			}
		}
	}
}

// reseal re-seals one service's credentials under the primary key, re-reading it once when
// a concurrent change wins. It reports whether it replaced them (false: they were current
// by the time it looked again).
func (h *Hub) reseal(ctx context.Context, cs store.CredentialStore, svc *store.Service) (bool, error) {
	for attempt := 0; ; attempt++ {
		plain, err := h.vault.open(ctx, svc.Name, svc.AuthenticationConfig)
		if err != nil {
			return false, fmt.Errorf("credentials cannot be opened with any configured key: %w", err)
		}
		sealed, err := h.vault.seal(ctx, serviceKeyOwner(svc.Name), svc.Name, plain)
		if err != nil {
			return false, err
		}
		err = cs.ReplaceCredentials(ctx, svc.ID, svc.AuthenticationConfig, sealed)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt == 1 {
			return false, mapStoreErr(err)
		}
		if svc, err = h.st.GetService(ctx, svc.ID); err != nil {
			return false, mapStoreErr(err)
		}
		if h.vault.current(svc.AuthenticationConfig) {
			return false, nil
		}
	}
}
