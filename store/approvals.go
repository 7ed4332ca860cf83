package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// ApprovalStore is the optional capability behind change approvals (table
// integration_approvals): a change a policy holds back is stored as a pending request until
// a second person approves or rejects it, or it expires. Find it with a type assertion.
//
// The store moves a request between statuses only conditionally (TransitionApproval names
// the status it expects), so among hubs sharing the store exactly one takes a pending
// request to applying and applies the change.
type ApprovalStore interface {
	// CreateApproval stores a new request after a.Validate; ID (when empty), CreatedAt and
	// UpdatedAt (now) are assigned. ErrConflict when the ID is taken.
	CreateApproval(ctx context.Context, a *Approval) (*Approval, error)
	// GetApproval returns the request with the id.
	GetApproval(ctx context.Context, id string) (*Approval, error)
	// ListApprovals returns the requests matching f, oldest first (created_at, id).
	ListApprovals(ctx context.Context, f ApprovalFilter) ([]*Approval, error)
	// TransitionApproval moves request t.ID from status t.From to t.To (an allowed step, see
	// ApprovalStatus.CanBecome) in one conditional update, setting updated_at to now and,
	// when given, decided_by with decided_at = now, decision and result. A final status
	// (ApprovalStatus.Final) clears sealed: the complete change, credentials included, is
	// kept only while it may still be applied. When the stored status is not t.From nothing
	// changes and the error is ErrInvalidTransition; ErrNotFound when there is no such
	// request.
	TransitionApproval(ctx context.Context, t ApprovalTransition) (*Approval, error)
}

// ApprovalStatus is how far an approval request has got.
type ApprovalStatus string

// Approval statuses.
const (
	// ApprovalPending: waiting for a decision until ExpiresAt.
	ApprovalPending ApprovalStatus = "pending"
	// ApprovalApplying: approved; one hub is applying the change.
	ApprovalApplying ApprovalStatus = "applying"
	// ApprovalApplied: approved and applied.
	ApprovalApplied ApprovalStatus = "applied"
	// ApprovalFailed: approved, but applying the change failed; Result says why.
	ApprovalFailed ApprovalStatus = "failed"
	// ApprovalRejected: refused by DecidedBy.
	ApprovalRejected ApprovalStatus = "rejected"
	// ApprovalExpired: nobody decided before ExpiresAt.
	ApprovalExpired ApprovalStatus = "expired"
)

// Valid reports whether s is a defined status.
func (s ApprovalStatus) Valid() bool {
	switch s {
	case ApprovalPending, ApprovalApplying, ApprovalApplied, ApprovalFailed, ApprovalRejected, ApprovalExpired:
		return true
	}
	return false
}

// Final reports whether s is a final status: applied, failed, rejected or expired.
func (s ApprovalStatus) Final() bool {
	return s == ApprovalApplied || s == ApprovalFailed || s == ApprovalRejected || s == ApprovalExpired
}

// CanBecome reports whether a request may go from s to next: pending to applying,
// rejected or expired; applying to applied or failed. Nothing else.
func (s ApprovalStatus) CanBecome(next ApprovalStatus) bool {
	switch s {
	case ApprovalPending:
		return next == ApprovalApplying || next == ApprovalRejected || next == ApprovalExpired
	case ApprovalApplying:
		return next == ApprovalApplied || next == ApprovalFailed
	}
	return false
}

// Approval is one change waiting for, or given, a second person's decision.
type Approval struct {
	ID string `json:"id"`
	// Requester is the principal who asked for the change.
	Requester string `json:"requester"`
	// Action is what the change does ("service.register", "service.credentials" ...).
	Action string `json:"action"`
	// Method is the hub method the change is a call of ("RegisterIntegration" ...).
	Method string `json:"method"`
	// Target names the service (or subject request) concerned; "" when none.
	Target string `json:"target,omitempty"`
	// Change is the proposed change for people to read, secrets redacted.
	Change json.RawMessage `json:"change,omitempty"`
	// Sealed is the complete change, sealed by the hub (opaque to the store); the hub
	// applies it once approved.
	Sealed json.RawMessage `json:"sealed,omitempty"`
	// Reason is the requester's justification.
	Reason string         `json:"reason,omitempty"`
	Status ApprovalStatus `json:"status"`
	// DecidedBy, DecidedAt and Decision (the approver's note) record the decision.
	DecidedBy string     `json:"decided_by,omitempty"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
	Decision  string     `json:"decision,omitempty"`
	// Result says how applying went (the error of a failed change).
	Result    string    `json:"result,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate checks the id, the required fields, the status and the JSON documents.
func (a *Approval) Validate() error {
	switch {
	case a.ID != "" && uuid.Validate(a.ID) != nil:
		return invalid("approval id %q is not a UUID", a.ID)
	case a.Requester == "":
		return invalid("approval requester is empty")
	case a.Action == "":
		return invalid("approval action is empty")
	case a.Method == "":
		return invalid("approval method is empty")
	case !a.Status.Valid():
		return invalid("approval status %q is unknown", a.Status)
	case a.ExpiresAt.IsZero():
		return invalid("approval expires_at is zero")
	}
	if err := checkJSON(a.Change); err != nil {
		return invalid("approval change: %v", err)
	}
	if err := checkJSON(a.Sealed); err != nil {
		return invalid("approval sealed change: %v", err)
	}
	return nil
}

// Clone returns a deep copy.
func (a *Approval) Clone() *Approval {
	if a == nil {
		return nil
	}
	c := *a
	c.Change = cloneRaw(a.Change)
	c.Sealed = cloneRaw(a.Sealed)
	c.DecidedAt = cloneTime(a.DecidedAt)
	return &c
}

// ApprovalTransition is one conditional status change of an approval request.
type ApprovalTransition struct {
	ID       string
	From, To ApprovalStatus
	// DecidedBy, when set, records the decider (and decided_at = now) with Decision, the
	// decider's note.
	DecidedBy string
	Decision  string
	// Result, when set, records how applying went.
	Result string
}

// Validate checks the id and that From may become To.
func (t ApprovalTransition) Validate() error {
	if err := checkUUID("approval", t.ID); err != nil {
		return err
	}
	if !t.From.Valid() || !t.To.Valid() {
		return invalid("approval transition %q -> %q names an unknown status", t.From, t.To)
	}
	if !t.From.CanBecome(t.To) {
		return invalid("an approval cannot go from %s to %s", t.From, t.To)
	}
	return nil
}

// ApprovalFilter selects approval requests; zero fields match everything.
type ApprovalFilter struct {
	Status    ApprovalStatus
	Requester string
	// ExpiresBefore, when set, keeps requests whose expires_at is at or before it.
	ExpiresBefore time.Time
	Page          Page
}

// Validate checks the status and the page.
func (f ApprovalFilter) Validate() error {
	if f.Status != "" && !f.Status.Valid() {
		return invalid("unknown approval status %q", f.Status)
	}
	if f.Page.Limit < 0 || f.Page.Offset < 0 {
		return invalid("approval page %+v is negative", f.Page)
	}
	return nil
}
