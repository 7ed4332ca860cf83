package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// SyncSchedule is the pulling schedule of one service whose connector lists records (table
// sync_schedules), with the progress of its current run and the lease of the hub running
// it. It lives in the store, so a restart, or the loss of the hub that held it, neither
// skips nor repeats a run: another hub takes the lease when it runs out and resumes at the
// saved cursor.
type SyncSchedule struct {
	// ServiceID is the pulled service. It is the key: a service has at most one schedule.
	ServiceID string `json:"service_id"`
	// Interval is the time from the end of one run to the start of the next. Positive.
	Interval time.Duration `json:"interval"`
	// Operation, Params and PageSize are the connector's list request (see
	// connectors.ListRequest); empty means the connector's defaults.
	Operation string          `json:"operation,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	PageSize  int             `json:"page_size,omitempty"`
	// IDField and VersionField name the fields of a record that identify it and its
	// version (dotted paths, e.g. "id" and "updated_at"); empty means the hub's defaults.
	IDField      string `json:"id_field,omitempty"`
	VersionField string `json:"version_field,omitempty"`
	// Enabled schedules are claimed when due; disabled ones keep their progress.
	Enabled bool `json:"enabled"`

	// Cursor continues the current run ("" between runs: the next run starts a listing).
	Cursor string `json:"cursor,omitempty"`
	// HighWater is the Since of the next run's listing: the start of the last completed
	// run. Nil before the first run completes.
	HighWater *time.Time `json:"high_water,omitempty"`
	// RunStartedAt is when the current run started; nil between runs.
	RunStartedAt *time.Time `json:"run_started_at,omitempty"`
	// NextRunAt is when the schedule is next due.
	NextRunAt time.Time `json:"next_run_at"`
	// LastRunAt is when the last run completed; nil before the first.
	LastRunAt *time.Time `json:"last_run_at,omitempty"`
	// LastError is the error that ended the last attempt, or "".
	LastError string `json:"last_error,omitempty"`
	// Records counts the records turned into events over every run.
	Records int64 `json:"records"`
	// Owner and LeaseUntil are the lease of the hub running the schedule, or empty.
	Owner      string     `json:"owner,omitempty"`
	LeaseUntil *time.Time `json:"lease_until,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate checks what a store enforces when a schedule is put: the service UUID, a
// positive interval of at least a millisecond (stores keep it in milliseconds), a non-negative page size and well-formed params.
func (s *SyncSchedule) Validate() error {
	switch {
	case s == nil:
		return invalid("nil sync schedule")
	case uuid.Validate(s.ServiceID) != nil:
		return invalid("sync schedule service_id %q is not a UUID", s.ServiceID)
	case s.Interval < time.Millisecond:
		return invalid("sync schedule interval %s is shorter than 1ms", s.Interval)
	case s.PageSize < 0:
		return invalid("sync schedule page size %d is negative", s.PageSize)
	}
	if err := checkJSON(s.Params); err != nil {
		return invalid("sync schedule params: %v", err)
	}
	return nil
}

// Clone returns a deep copy of s.
func (s *SyncSchedule) Clone() *SyncSchedule {
	if s == nil {
		return nil
	}
	c := *s
	c.Params = cloneRaw(s.Params)
	c.HighWater = cloneTime(s.HighWater)
	c.RunStartedAt = cloneTime(s.RunStartedAt)
	c.LastRunAt = cloneTime(s.LastRunAt)
	c.LeaseUntil = cloneTime(s.LeaseUntil)
	return &c
}

// SyncStore is the optional capability of keeping sync schedules, used by the hub's
// scheduled pulls. Find it with a type assertion:
//
//	if ss, ok := st.(store.SyncStore); ok { ... }
//
// A schedule is run by one hub at a time: ClaimSyncSchedule leases it, every
// SaveSyncProgress is fenced by that lease (and extends it), and a lease that runs out
// lets another hub claim the schedule and resume at its saved cursor.
type SyncStore interface {
	// PutSyncSchedule creates or changes the schedule of s.ServiceID after s.Validate: the
	// settings (Interval, Operation, Params, PageSize, IDField, VersionField, Enabled) and
	// NextRunAt (zero: now for a new schedule, unchanged for an existing one). The progress
	// and the lease of an existing schedule are kept. It returns the stored schedule.
	PutSyncSchedule(ctx context.Context, s *SyncSchedule) (*SyncSchedule, error)
	// GetSyncSchedule returns the schedule of the service.
	GetSyncSchedule(ctx context.Context, serviceID string) (*SyncSchedule, error)
	// ListSyncSchedules returns the schedules ordered by service id.
	ListSyncSchedules(ctx context.Context, p Page) ([]*SyncSchedule, error)
	// DeleteSyncSchedule removes the schedule of the service (ErrNotFound when none).
	DeleteSyncSchedule(ctx context.Context, serviceID string) error
	// ClaimSyncSchedule leases one due schedule to p.Owner until now+p.Lease and returns it:
	// enabled, next_run_at <= now, and no lease or an expired one (a run whose hub died is
	// due again as soon as its lease runs out);
	// earliest next_run_at first. When the claim starts a run (no cursor and no run in
	// progress) RunStartedAt is set to now. ErrNotFound when none is due. Concurrent
	// claimers, in this process or others, never hold the same schedule at once.
	ClaimSyncSchedule(ctx context.Context, p ClaimSyncParams) (*SyncSchedule, error)
	// SaveSyncProgress records a page of the run p.Owner holds: the new cursor and the
	// number of records it turned into events, and extends the lease to now+p.Lease. With
	// p.Done the run is over: the cursor is cleared, HighWater becomes RunStartedAt,
	// LastRunAt now, NextRunAt now+Interval, and the lease is released. With p.Error set
	// (and not Done) the attempt failed: LastError is set, the cursor kept, the lease
	// released and NextRunAt set to p.RetryAt. Returns ErrLeaseLost when p.Owner does not
	// hold the lease (it ran out and another hub may have the schedule) or there is no
	// schedule. A lease that ran out still fences nobody out until another hub claims it.
	SaveSyncProgress(ctx context.Context, p SyncProgress) (*SyncSchedule, error)
}

// ClaimSyncParams are the arguments of ClaimSyncSchedule.
type ClaimSyncParams struct {
	// Owner names the claiming hub. Required.
	Owner string
	// Lease is how long the claim holds without progress. Positive.
	Lease time.Duration
}

// Validate checks the parameters.
func (p ClaimSyncParams) Validate() error {
	switch {
	case p.Owner == "":
		return invalid("sync claim owner is empty")
	case p.Lease < Precision:
		return invalid("sync claim lease %s is shorter than %s", p.Lease, Precision)
	}
	return nil
}

// SyncProgress is one step of a run, recorded by SaveSyncProgress.
type SyncProgress struct {
	ServiceID string
	Owner     string
	// Cursor continues the listing after this page.
	Cursor string
	// Records counts the records of this page turned into events (added to Records).
	Records int64
	// Lease extends the lease when the run goes on. Positive unless Done or Error.
	Lease time.Duration
	// Done ends the run.
	Done bool
	// Error, when set, ends the attempt as failed; the next is due at RetryAt.
	Error   string
	RetryAt time.Time
}

// Validate checks the parameters.
func (p SyncProgress) Validate() error {
	switch {
	case uuid.Validate(p.ServiceID) != nil:
		return invalid("sync progress service_id %q is not a UUID", p.ServiceID)
	case p.Owner == "":
		return invalid("sync progress owner is empty")
	case p.Records < 0:
		return invalid("sync progress records %d is negative", p.Records)
	case p.Error != "" && p.RetryAt.IsZero():
		return invalid("sync progress with an error needs RetryAt")
	case !p.Done && p.Error == "" && p.Lease < Precision:
		return invalid("sync progress lease %s is shorter than %s", p.Lease, Precision)
	}
	return nil
}
