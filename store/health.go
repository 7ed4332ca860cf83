package store

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// ServiceHealthRecorder is an optional capability of a [Store]: it records a service's
// health judgement in place — health_status and last_health_check — without rewriting the
// service's configuration, so a monitor's updates never undo a concurrent reconfiguration.
// Callers discover it with a type assertion; the memory, SQLite and PostgreSQL stores
// implement it.
type ServiceHealthRecorder interface {
	// RecordServiceHealth sets last_health_check to p.At and, when p.Status is set,
	// health_status to p.Status, and returns the service. An observation older than the
	// stored last_health_check (it arrived late) changes nothing; the stored service is
	// returned. UpdatedAt is not changed: configuration did not. Errors: ErrNotFound,
	// ErrInvalidArgument (malformed ID, unknown status, zero time).
	RecordServiceHealth(ctx context.Context, p ServiceHealthParams) (*Service, error)
}

// ServiceHealthParams are the arguments of RecordServiceHealth.
type ServiceHealthParams struct {
	// ServiceID is the service's UUID.
	ServiceID string
	// Status is the new judgement, or "" to record only the time of a check (a probe).
	Status HealthStatus
	// At is when the check or judgement happened.
	At time.Time
}

// Validate checks the ID, the status when set, and that At is set.
func (p ServiceHealthParams) Validate() error {
	switch {
	case uuid.Validate(p.ServiceID) != nil:
		return invalid("service id %q is not a UUID", p.ServiceID)
	case p.Status != "" && !p.Status.Valid():
		return invalid("unknown health status %q", p.Status)
	case p.At.IsZero():
		return invalid("health check time is zero")
	}
	return nil
}
