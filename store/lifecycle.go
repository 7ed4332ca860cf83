package store

import "fmt"

// transitions lists, for each status, the statuses an event may move to.
// It is the single source of truth for every store.
var transitions = map[EventStatus][]EventStatus{
	StatusPending:    {StatusProcessing, StatusExpired, StatusCancelled},
	StatusRetrying:   {StatusProcessing, StatusExpired, StatusCancelled},
	StatusProcessing: {StatusSucceeded, StatusRetrying, StatusFailed, StatusDead, StatusExpired, StatusPending},
	StatusFailed:     {StatusPending},
	StatusDead:       {StatusPending},
	StatusSucceeded:  nil,
	StatusExpired:    nil,
	StatusCancelled:  nil,
}

// CanTransition reports whether an event may move from one status to another:
//
//	pending, retrying -> processing (claimed), expired, cancelled
//	processing        -> succeeded, retrying, failed, dead, expired,
//	                     pending (lease released; retrying if it had failed before)
//	failed, dead      -> pending (requeued by hand)
//	succeeded, expired, cancelled: terminal
//
// Processing -> retrying also covers a released lease of an event that had failed before.
func CanTransition(from, to EventStatus) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// CheckTransition returns nil when from -> to is legal and a *TransitionError otherwise.
func CheckTransition(from, to EventStatus) error {
	if CanTransition(from, to) {
		return nil
	}
	return &TransitionError{From: from, To: to}
}

// TransitionError reports an illegal status change. It matches [ErrInvalidTransition] with
// errors.Is.
type TransitionError struct {
	EventID string
	From    EventStatus
	To      EventStatus
}

// Error describes the refused change.
func (e *TransitionError) Error() string {
	if e.EventID != "" {
		return fmt.Sprintf("store: event %s cannot move from %s to %s", e.EventID, e.From, e.To)
	}
	return fmt.Sprintf("store: an event cannot move from %s to %s", e.From, e.To)
}

// Is reports whether target is [ErrInvalidTransition].
func (e *TransitionError) Is(target error) bool { return target == ErrInvalidTransition }
