package apiv1

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Approval is a request for a change that needs a second person's approval.
type Approval struct {
	ID             string          `json:"id"`
	Action         string          `json:"action"`
	ServiceID      string          `json:"service_id,omitempty"`
	Target         string          `json:"target,omitempty"`
	RequestedBy    string          `json:"requested_by"`
	RequesterRoles []string        `json:"requester_roles,omitempty"`
	Reason         string          `json:"reason,omitempty"`
	Permissions    []string        `json:"permissions,omitempty"`
	Change         json.RawMessage `json:"change,omitempty" doc:"the proposed change, secrets redacted"`
	Summary        string          `json:"summary,omitempty" doc:"the change in words"`
	Status         string          `json:"status" enum:"pending,applying,applied,rejected,expired,failed"`
	DecidedBy      string          `json:"decided_by,omitempty"`
	DecisionReason string          `json:"decision_reason,omitempty"`
	DecidedAt      *time.Time      `json:"decided_at,omitempty"`
	ExpiresAt      time.Time       `json:"expires_at"`
	CreatedAt      time.Time       `json:"created_at"`
}

// ApprovalList answers GET /approvals.
type ApprovalList struct {
	Approvals  []Approval `json:"approvals"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// DecisionRequest is the body of POST /approvals/{id}/approve and /reject.
type DecisionRequest struct {
	Reason string `json:"reason,omitempty"`
}

// AuditVerifyRequest is the body of POST /audit/verify: the range of entries to verify
// (default all).
type AuditVerifyRequest struct {
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
}

// AuditReport answers POST /audit/verify.
type AuditReport struct {
	OK           bool           `json:"ok"`
	Entries      int64          `json:"entries"`
	FirstSeq     int64          `json:"first_seq"`
	LastSeq      int64          `json:"last_seq"`
	HeadHash     string         `json:"head_hash,omitempty"`
	Problems     []AuditProblem `json:"problems,omitempty"`
	ProblemCount int            `json:"problem_count"`
	DurationMS   float64        `json:"duration_ms"`
}

// AuditProblem is one finding of a verification.
type AuditProblem struct {
	Kind    string `json:"kind"`
	Seq     int64  `json:"seq,omitempty"`
	ToSeq   int64  `json:"to_seq,omitempty"`
	EntryID string `json:"entry_id,omitempty"`
	Message string `json:"message"`
}

// Export writes the audit log export (GET /audit/export, JSON lines with signed
// checkpoints) to w.
func (c *Client) Export(ctx context.Context, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("audit/export"), nil)
	if err != nil {
		return fmt.Errorf("apiv1: %w", err)
	}
	c.authorize(req)
	hc := *c.http()
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("apiv1: audit export: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return problemFrom(resp)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("apiv1: audit export: %w", err)
	}
	return nil
}
