package store

import (
	"context"
	"encoding/json"
)

// CredentialStore is the optional capability of replacing a service's sealed credentials
// (authentication_config) alone and only if they are still what the caller read: the hub's
// key rotation re-seals credentials with it, so a rotation never overwrites a change made
// meanwhile by a ConfigureService on this hub or another. Find it with a type assertion.
type CredentialStore interface {
	// ReplaceCredentials sets the authentication_config of service id to next when it is
	// still old (the document as read, compared as JSON), leaving every other column,
	// UpdatedAt included, as it is. Errors: ErrNotFound for an unknown service;
	// ErrConflict when the credentials are no longer old; ErrInvalidArgument for a
	// malformed id or document.
	ReplaceCredentials(ctx context.Context, id string, old, next json.RawMessage) error
}
