package store

import (
	"errors"
	"fmt"
)

// Sentinel errors every store returns, wrapped with detail; test them with errors.Is.
var (
	// ErrNotFound: no record matches the given key.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a uniqueness rule would be broken (service name, contract name+version,
	// rule name+version, one active rule per name).
	ErrConflict = errors.New("store: conflict")
	// ErrInvalidTransition: the event's current status does not allow the change
	// (see CanTransition). *TransitionError carries the detail.
	ErrInvalidTransition = errors.New("store: invalid status transition")
	// ErrLeaseLost: the caller does not hold the event's lease (it expired and was released,
	// or another owner holds it). The event was not changed.
	ErrLeaseLost = errors.New("store: lease lost")
	// ErrInvalidArgument: a record or parameter is invalid (unknown enumeration value, bad
	// UUID, missing required field, non-positive limit where one is required).
	ErrInvalidArgument = errors.New("store: invalid argument")
	// ErrBusy: the database could not serialise the operation (serialization failure,
	// deadlock, lock timeout). Nothing was changed; the caller may retry.
	ErrBusy = errors.New("store: busy")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("store: closed")
)

// invalid returns an ErrInvalidArgument wrapped with a formatted detail.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidArgument}, args...)...)
}
