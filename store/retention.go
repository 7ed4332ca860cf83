package store

import (
	"context"
	"time"
)

// RetentionStore is the optional capability of deleting old records, used by the hub's
// retention cleaner. Find it with a type assertion:
//
//	if rs, ok := st.(store.RetentionStore); ok { ... }
//
// Every method deletes at most Limit rows in one short transaction and returns how many it
// deleted, so a caller works through a large backlog in bounded batches and never holds a
// long transaction or a table lock. Concurrent callers, in this process or in others sharing
// the database, may run at once: a row is deleted (and counted) by exactly one of them, and
// none waits long for another (PostgreSQL skips rows another deleter has locked).
type RetentionStore interface {
	// DeleteEvents deletes up to p.Limit events whose status is one of p.Statuses and whose
	// updated_at (for a terminal event, when it reached its status) is before p.Before,
	// least recently updated first. Only terminal statuses may be named (succeeded, failed,
	// dead, expired, cancelled): queued and in-flight events are never deleted. Errors:
	// ErrInvalidArgument for no or non-terminal statuses, a zero Before, a non-positive
	// Limit or a malformed service id.
	DeleteEvents(ctx context.Context, p DeleteEventsParams) (int, error)
	// DeleteHealthMetrics deletes up to p.Limit health metrics recorded before p.Before,
	// oldest first.
	DeleteHealthMetrics(ctx context.Context, p DeleteParams) (int, error)
	// DeleteAnalytics deletes up to p.Limit analytics rollups whose period_start is before
	// p.Before, oldest first.
	DeleteAnalytics(ctx context.Context, p DeleteParams) (int, error)
}

// DeleteParams select the records one retention batch deletes.
type DeleteParams struct {
	// ServiceID, when set, narrows the batch to one service.
	ServiceID string
	// ExcludeServiceIDs are skipped (services with a policy of their own).
	ExcludeServiceIDs []string
	// Before is the cut-off: records older than it are deleted. Required.
	Before time.Time
	// Limit is the most records deleted. Required, at most MaxPageLimit.
	Limit int
}

// DeleteEventsParams select the events one retention batch deletes.
type DeleteEventsParams struct {
	DeleteParams
	// Statuses are the terminal statuses deleted. Required.
	Statuses []EventStatus
}

// Validate checks the parameters every store checks the same way.
func (p DeleteParams) Validate() error {
	switch {
	case p.Before.IsZero():
		return invalid("retention cut-off is zero")
	case p.Limit <= 0 || p.Limit > MaxPageLimit:
		return invalid("retention batch limit %d is outside [1, %d]", p.Limit, MaxPageLimit)
	}
	if p.ServiceID != "" {
		if err := checkUUID("service", p.ServiceID); err != nil {
			return err
		}
	}
	for _, id := range p.ExcludeServiceIDs {
		if err := checkUUID("excluded service", id); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the parameters and that every status is terminal.
func (p DeleteEventsParams) Validate() error {
	if err := p.DeleteParams.Validate(); err != nil {
		return err
	}
	if len(p.Statuses) == 0 {
		return invalid("retention names no event status")
	}
	for _, s := range p.Statuses {
		if !s.Terminal() {
			return invalid("retention may delete only terminal events, not %q ones", s)
		}
	}
	return nil
}
