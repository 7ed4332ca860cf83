package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ehg/hub/store"
)

// GovernanceQuery selects the range and period of GovernanceReport.
type GovernanceQuery struct {
	// Period is store.PeriodDay (default) or store.PeriodHour.
	Period store.Period
	// Range bounds the report; defaults as TimeRange (To = now, From = To - 30 periods).
	// Both ends are aligned down to period boundaries (an unaligned end includes its
	// partial period).
	Range TimeRange
}

// GovernanceCounts are the governance figures of one period or a whole report.
type GovernanceCounts struct {
	// Interventions counts the chairman's overrides: ApprovalBypasses (a change applied
	// without its approval) plus PriorityOverrides (events pushed to the front of the
	// queue), each audited with its reason.
	Interventions     int64 `json:"interventions"`
	ApprovalBypasses  int64 `json:"approval_bypasses"`
	PriorityOverrides int64 `json:"priority_overrides"`
	// Denials counts refused calls.
	Denials int64 `json:"denials"`
	// ApprovalsRequested counts changes stored for approval; Approved (applied or failed),
	// Rejected and Expired count the decisions of the period.
	ApprovalsRequested int64 `json:"approvals_requested"`
	Approved           int64 `json:"approved"`
	Rejected           int64 `json:"rejected"`
	Expired            int64 `json:"expired"`
	// InterventionRate is ApprovalBypasses / (ApprovalBypasses + ApprovalsRequested): the
	// share of held-back changes the chairman pushed through (0 when there were none).
	InterventionRate float64 `json:"intervention_rate"`
}

func (c *GovernanceCounts) add(o GovernanceCounts) {
	c.Interventions += o.Interventions
	c.ApprovalBypasses += o.ApprovalBypasses
	c.PriorityOverrides += o.PriorityOverrides
	c.Denials += o.Denials
	c.ApprovalsRequested += o.ApprovalsRequested
	c.Approved += o.Approved
	c.Rejected += o.Rejected
	c.Expired += o.Expired
}

func (c *GovernanceCounts) rate() {
	if n := c.ApprovalBypasses + c.ApprovalsRequested; n > 0 {
		c.InterventionRate = float64(c.ApprovalBypasses) / float64(n)
	}
}

// GovernancePeriod is one period of a GovernanceReport.
type GovernancePeriod struct {
	Start time.Time `json:"start"`
	GovernanceCounts
}

// GovernanceReport counts interventions, refusals and approvals per period, from the
// audit log.
type GovernanceReport struct {
	Period store.Period `json:"period"`
	Range  TimeRange    `json:"range"`
	// Periods lists every period of the range, oldest first, empty ones included.
	Periods []GovernancePeriod `json:"periods"`
	Totals  GovernanceCounts   `json:"totals"`
}

// GovernanceReport counts, per period, the chairman's interventions (overrides of the
// approval policy and of the queue order), refused calls and approval requests with their
// decisions, reading the audit log.
//
// Errors: ErrInvalidInput (unknown period, empty range); ErrForbidden; store errors;
// ErrClosed.
func (h *Hub) GovernanceReport(ctx context.Context, q GovernanceQuery) (*GovernanceReport, error) {
	if err := h.guard(ctx, call{method: "GovernanceReport", perms: perms(PermReadAudit)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if q.Period == "" {
		q.Period = store.PeriodDay
	}
	if !q.Period.Valid() {
		return nil, fmt.Errorf("%w: unknown period %q", ErrInvalidInput, q.Period)
	}
	r, err := q.Range.resolve(h.cfg.Clock(), 30*q.Period.Duration())
	if err != nil {
		return nil, err
	}
	from, to := q.Period.Truncate(r.From), q.Period.Truncate(r.To)
	if to.Before(r.To) {
		to = to.Add(q.Period.Duration())
	}
	rep := &GovernanceReport{Period: q.Period, Range: TimeRange{From: from, To: to}}
	index := map[time.Time]int{}
	for t := from; t.Before(to); t = t.Add(q.Period.Duration()) {
		index[t] = len(rep.Periods)
		rep.Periods = append(rep.Periods, GovernancePeriod{Start: t})
	}
	if err := h.eachGovernanceEntry(ctx, from, to, func(e *store.AuditEntry) {
		if i, ok := index[q.Period.Truncate(e.CreatedAt)]; ok {
			countEntry(&rep.Periods[i].GovernanceCounts, e)
		}
	}); err != nil {
		return nil, err
	}
	for i := range rep.Periods {
		rep.Periods[i].rate()
		rep.Totals.add(rep.Periods[i].GovernanceCounts)
	}
	rep.Totals.rate()
	return rep, nil
}

// eachGovernanceEntry calls fn with every audit entry of [from, to) that the governance
// figures count: interventions, refusals and approval steps.
func (h *Hub) eachGovernanceEntry(ctx context.Context, from, to time.Time, fn func(*store.AuditEntry)) error {
	for _, typ := range []string{"intervention", "access", "approval"} {
		for off := 0; ; off += store.MaxPageLimit {
			entries, err := h.st.ListAudit(ctx, store.AuditFilter{EntityType: typ, From: from, To: to,
				Page: store.Page{Limit: store.MaxPageLimit, Offset: off}})
			if err != nil {
				return mapStoreErr(err)
			}
			for _, e := range entries {
				fn(e)
			}
			if len(entries) < store.MaxPageLimit {
				break
			}
		}
	}
	return nil
}

// countEntry adds one audit entry to c.
func countEntry(c *GovernanceCounts, e *store.AuditEntry) {
	switch e.Action {
	case "governance.intervention":
		var rec struct {
			Kind string `json:"kind"`
		}
		_ = json.Unmarshal(e.After, &rec)
		c.Interventions++
		if rec.Kind == interventionPriority {
			c.PriorityOverrides++
		} else {
			c.ApprovalBypasses++
		}
	case "access.denied":
		c.Denials++
	case "approval.request":
		c.ApprovalsRequested++
	case "approval.approve":
		c.Approved++
	case "approval.reject":
		c.Rejected++
	case "approval.expire":
		c.Expired++
	// A step's entry is written before the step; when the step then does not happen (a
	// racing hub decided first) its ".aborted" entry takes it back.
	case "approval.request.aborted":
		c.ApprovalsRequested--
	case "approval.approve.aborted":
		c.Approved--
	case "approval.reject.aborted":
		c.Rejected--
	case "approval.expire.aborted":
		c.Expired--
	}
}
