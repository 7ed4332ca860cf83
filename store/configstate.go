package store

import (
	"context"
	"encoding/json"
	"time"
)

// ConfigStateStore is the optional capability that makes configuration as code safe with
// several writers: one configuration state per store (per environment), whose revision
// grows by one with every applied change set. A plan records the revision it was made
// against; applying it swaps the state only if the revision is still that one, so of two
// plans made from the same state exactly one is applied and the other is refused as stale.
// Find it with a type assertion:
//
//	if cs, ok := st.(store.ConfigStateStore); ok { ... }
type ConfigStateStore interface {
	// GetConfigState returns the current state; Revision 0 and no document when no
	// configuration was ever applied (not ErrNotFound).
	GetConfigState(ctx context.Context) (*ConfigState, error)
	// SwapConfigState replaces the state when its revision is p.Revision (0: none yet),
	// atomically with respect to every other caller sharing the store, and returns the new
	// state, whose Revision is p.Revision+1. Errors: ErrConflict when the revision moved
	// on (the state is unchanged); ErrInvalidArgument for a negative revision or a
	// document that is not JSON.
	SwapConfigState(ctx context.Context, p SwapConfigStateParams) (*ConfigState, error)
}

// ConfigState is a store's configuration state.
type ConfigState struct {
	// Revision counts applied change sets; 0 before the first.
	Revision int64 `json:"revision"`
	// Document is the last applied configuration document as JSON, kept byte for byte.
	// It holds secret references, never secret values.
	Document json.RawMessage `json:"document,omitempty"`
	// Fingerprint identifies the configuration the document describes (a hash the hub
	// computes); empty before the first apply.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Actor applied the change set.
	Actor string `json:"actor,omitempty"`
	// UpdatedAt is when it was applied (zero before the first).
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// SwapConfigStateParams are the arguments of SwapConfigState.
type SwapConfigStateParams struct {
	// Revision is the revision the caller read (0: none yet).
	Revision int64
	// Document, Fingerprint and Actor are the new state's.
	Document    json.RawMessage
	Fingerprint string
	Actor       string
}

// Validate checks the parameters every store checks the same way.
func (p SwapConfigStateParams) Validate() error {
	switch {
	case p.Revision < 0:
		return invalid("configuration revision %d is negative", p.Revision)
	case len(p.Document) > 0 && !json.Valid(p.Document):
		return invalid("configuration document is not JSON")
	case len(p.Fingerprint) > 256:
		return invalid("configuration fingerprint is longer than 256 bytes")
	case len(p.Actor) > 256:
		return invalid("configuration actor is longer than 256 bytes")
	}
	return nil
}
