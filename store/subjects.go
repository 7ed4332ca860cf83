package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// SubjectStore is the optional capability behind the data-subject requests of privacy law
// (erasure and access): events indexed by the hashed key of their data subject, erasure in
// place, and the stored requests that let an erasure resume after a restart. Find it with a
// type assertion.
//
// The subject key is opaque to the store: the hub writes a keyed hash (Event.SubjectKey), so
// the index holds no personal data.
type SubjectStore interface {
	// ListSubjectEvents returns up to p.Limit events whose subject_key is p.SubjectKey and
	// whose id is greater than p.AfterID (UUID order), ordered by id, so a caller pages
	// through them with the last id it saw.
	ListSubjectEvents(ctx context.Context, p SubjectEventsParams) ([]*Event, error)
	// EraseEvents replaces the documents of each event of b.Events with the erased ones given
	// (payload_in, payload_out, canonical_mapping and error_details, nil storing SQL NULL) and
	// clears its subject_key, in one transaction. An event is changed only when its
	// updated_at still equals its UpdatedAt (as read by the caller) and it is not processing;
	// a pending or retrying one also becomes cancelled (updated_at set to now, as CancelEvent
	// does), other statuses keep their status and updated_at. The ids of events that exist
	// but were left alone are returned in skipped, in the order given; ids that match no
	// event are neither changed nor reported (nothing is left to erase). An id given twice
	// is erased once (its later entries are ignored).
	//
	// When b.RequestID is set, the same transaction adds the number of events changed to
	// that subject request's records and sets its lease_until to b.LeaseUntil, provided
	// b.Owner holds it; otherwise nothing changes and the error is ErrLeaseLost (ErrNotFound
	// for an unknown request). The count of an erasure is so exact, even across crashes.
	EraseEvents(ctx context.Context, b EraseBatch) (skipped []string, err error)

	// CreateSubjectRequest stores a new request after r.Validate; ID (when empty), UpdatedAt
	// and RequestedAt (when zero) are assigned. ErrConflict when the ID is taken.
	CreateSubjectRequest(ctx context.Context, r *SubjectRequest) (*SubjectRequest, error)
	// GetSubjectRequest returns the request with the id.
	GetSubjectRequest(ctx context.Context, id string) (*SubjectRequest, error)
	// UpdateSubjectRequest replaces the request's status, subject key, counts, error,
	// completed_at and lease (lease_until) and sets updated_at to now, when r.Owner holds its
	// lease (the stored owner equals r.Owner); otherwise it changes nothing and returns
	// ErrLeaseLost.
	UpdateSubjectRequest(ctx context.Context, r *SubjectRequest) (*SubjectRequest, error)
	// ClaimSubjectRequest takes the oldest running erasure request whose lease is unset or has
	// run out, making owner its holder until now+lease, and returns it; ErrNotFound when there
	// is none. Concurrent claimers never hold the same request at once.
	ClaimSubjectRequest(ctx context.Context, owner string, lease time.Duration) (*SubjectRequest, error)
	// ListSubjectRequests returns the requests matching f, oldest first (requested_at, id).
	ListSubjectRequests(ctx context.Context, f SubjectRequestFilter) ([]*SubjectRequest, error)
}

// SubjectEventsParams page through the events of one data subject.
type SubjectEventsParams struct {
	// SubjectKey is the hashed subject key. Required.
	SubjectKey string
	// AfterID, when set, starts after this event id.
	AfterID string
	// Limit is the most events returned: 0 means DefaultPageLimit, at most MaxPageLimit.
	Limit int
}

// Validate checks the key, the cursor and the limit.
func (p SubjectEventsParams) Validate() error {
	if p.SubjectKey == "" {
		return invalid("subject key is empty")
	}
	if err := checkSubjectKey(p.SubjectKey); err != nil {
		return err
	}
	if p.AfterID != "" {
		if err := checkUUID("event", p.AfterID); err != nil {
			return err
		}
	}
	if p.Limit < 0 {
		return invalid("limit %d is negative", p.Limit)
	}
	return nil
}

// EraseBatch is one batch of erasures, optionally accounted to a subject request.
type EraseBatch struct {
	// RequestID, when set, names the erasure request the batch counts towards; Owner must
	// hold it, and LeaseUntil renews its lease.
	RequestID  string
	Owner      string
	LeaseUntil time.Time
	Events     []EraseParams
}

// Validate checks the request fields and every event's parameters.
func (b *EraseBatch) Validate() error {
	if b.RequestID != "" {
		if err := checkUUID("subject request", b.RequestID); err != nil {
			return err
		}
		if b.Owner == "" || b.LeaseUntil.IsZero() {
			return invalid("an erasure batch of request %s needs its owner and lease", b.RequestID)
		}
	}
	for i := range b.Events {
		if err := b.Events[i].Validate(); err != nil {
			return err
		}
	}
	return nil
}

// EraseParams are the erased documents of one event.
type EraseParams struct {
	ID string
	// UpdatedAt is the event's updated_at as the caller read it: the erasure applies only
	// if the event has not changed since.
	UpdatedAt        time.Time
	PayloadIn        json.RawMessage
	PayloadOut       json.RawMessage
	CanonicalMapping json.RawMessage
	ErrorDetails     json.RawMessage
}

// Validate checks the id, the fence time and that the documents are well-formed JSON.
func (p *EraseParams) Validate() error {
	if err := checkUUID("event", p.ID); err != nil {
		return err
	}
	if p.UpdatedAt.IsZero() {
		return invalid("erase event %s: updated_at is zero", p.ID)
	}
	for _, c := range []struct {
		name string
		v    json.RawMessage
	}{
		{"payload_in", p.PayloadIn}, {"payload_out", p.PayloadOut},
		{"canonical_mapping", p.CanonicalMapping}, {"error_details", p.ErrorDetails},
	} {
		if err := checkJSON(c.v); err != nil {
			return invalid("erase event %s: %s: %v", p.ID, c.name, err)
		}
	}
	return nil
}

// SubjectRequestKind is what a data subject asked for.
type SubjectRequestKind string

// Subject request kinds.
const (
	// RequestErasure: remove or mask the subject's personal data (right to erasure).
	RequestErasure SubjectRequestKind = "erasure"
	// RequestAccess: hand out everything held about the subject (right of access).
	RequestAccess SubjectRequestKind = "access"
)

// Valid reports whether k is a defined kind.
func (k SubjectRequestKind) Valid() bool { return k == RequestErasure || k == RequestAccess }

// SubjectRequestStatus is how far a subject request has got.
type SubjectRequestStatus string

// Subject request statuses.
const (
	// RequestRunning: accepted, not finished (an erasure resumes after a restart).
	RequestRunning SubjectRequestStatus = "running"
	// RequestCompleted: done; CompletedAt is set.
	RequestCompleted SubjectRequestStatus = "completed"
	// RequestFailed: stopped on an error that retrying will not fix; Error says why.
	RequestFailed SubjectRequestStatus = "failed"
)

// Valid reports whether s is a defined status.
func (s SubjectRequestStatus) Valid() bool {
	return s == RequestRunning || s == RequestCompleted || s == RequestFailed
}

// SubjectRequest is one erasure or access request of a data subject (table
// subject_requests). It never holds the subject's identity, only its keyed hash, and only
// while the request runs: the hub clears SubjectKey when an erasure completes.
type SubjectRequest struct {
	ID         string               `json:"id"`
	Kind       SubjectRequestKind   `json:"kind"`
	SubjectKey string               `json:"subject_key,omitempty"`
	Status     SubjectRequestStatus `json:"status"`
	// Actor is who asked (the principal or the embedding service).
	Actor string `json:"actor"`
	// Records counts the events erased or exported so far.
	Records int64 `json:"records"`
	// Error explains a failed request.
	Error       string     `json:"error,omitempty"`
	RequestedAt time.Time  `json:"requested_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	// Owner and LeaseUntil say which hub works on a running request, and until when.
	Owner      string     `json:"owner,omitempty"`
	LeaseUntil *time.Time `json:"lease_until,omitempty"`
}

// Validate checks kind, status, actor, ids and counts.
func (r *SubjectRequest) Validate() error {
	switch {
	case r.ID != "" && uuid.Validate(r.ID) != nil:
		return invalid("subject request id %q is not a UUID", r.ID)
	case !r.Kind.Valid():
		return invalid("subject request kind %q is unknown", r.Kind)
	case !r.Status.Valid():
		return invalid("subject request status %q is unknown", r.Status)
	case r.Actor == "":
		return invalid("subject request actor is empty")
	case r.Records < 0:
		return invalid("subject request records %d is negative", r.Records)
	case (r.Owner == "") != (r.LeaseUntil == nil):
		return invalid("subject request owner and lease_until must be set together")
	}
	return checkSubjectKey(r.SubjectKey)
}

// Clone returns a deep copy of r.
func (r *SubjectRequest) Clone() *SubjectRequest {
	if r == nil {
		return nil
	}
	c := *r
	c.CompletedAt = cloneTime(r.CompletedAt)
	c.LeaseUntil = cloneTime(r.LeaseUntil)
	return &c
}

// SubjectRequestFilter selects subject requests; zero fields match everything. From/To
// bound requested_at to [From, To).
type SubjectRequestFilter struct {
	Kind     SubjectRequestKind
	Status   SubjectRequestStatus
	From, To time.Time
	Page     Page
}

// MaxSubjectKeyLen bounds Event.SubjectKey and SubjectRequest.SubjectKey.
const MaxSubjectKeyLen = 128

func checkSubjectKey(k string) error {
	if len(k) > MaxSubjectKeyLen {
		return invalid("subject key longer than %d bytes", MaxSubjectKeyLen)
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c >= 0x7f {
			return invalid("subject key holds a byte outside printable ASCII")
		}
	}
	return nil
}

func checkUUID(kind, id string) error {
	if uuid.Validate(id) != nil {
		return invalid("%s id %q is not a UUID", kind, id)
	}
	return nil
}

// Purger is the optional capability of a store that keeps copies of deleted or replaced
// rows in its own files after a change commits (a write-ahead log): Purge removes them, so
// erased data cannot be read back from the files. The hub purges at the end of every
// erasure and retries until it succeeds. Stores without such copies need not implement it.
type Purger interface {
	// Purge removes the copies. It returns ErrBusy when concurrent readers kept it from
	// finishing; calling it again later is safe.
	Purge(ctx context.Context) error
}
