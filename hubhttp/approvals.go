package hubhttp

import (
	"context"
	"fmt"
	"strconv"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/hubhttp/internal/apiendpoint"
	"github.com/ehg/hub/store"
)

// approvalRoutes serve the approval requests of the hub's approval policy (hub.WithApprovals):
// a held-back change answers 202 with problem code approval-required and the request's ID.
func (x *Handler) approvalRoutes() []*apiendpoint.Endpoint {
	return []*apiendpoint.Endpoint{
		apiendpoint.New(apiendpoint.Meta{Method: "GET", Path: "/api/v1/approvals", OperationID: "listApprovals", Tag: "governance",
			Summary: "Approval requests, oldest first (the proposed change with secrets redacted)"}, x.listApprovals),
		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/approvals/{id}/approve", OperationID: "approve", Tag: "governance",
			Summary: "Approve a pending request and apply its change (exactly once; not by its requester)"}, x.approve),
		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/approvals/{id}/reject", OperationID: "reject", Tag: "governance",
			Summary: "Reject a pending request"}, x.reject),
	}
}

type approvalListParams struct {
	Status    string `query:"status" enum:"pending,applying,applied,failed,rejected,expired" doc:"all when absent"`
	Requester string `query:"requester" doc:"the requesting principal's ID"`
	Limit     int    `query:"limit" doc:"page size, default 100, at most 1000"`
	Cursor    string `query:"cursor" doc:"next_cursor of the previous page"`
	Offset    int    `query:"offset" doc:"requests to skip (ignored with cursor)"`
}

// Page sizes of GET /approvals.
const (
	approvalPageDefault = 100
	approvalPageMax     = 1000
)

func (x *Handler) listApprovals(ctx context.Context, p *approvalListParams) (*apiv1.ApprovalList, error) {
	limit, offset := p.Limit, p.Offset
	switch {
	case limit == 0:
		limit = approvalPageDefault
	case limit < 0 || limit > approvalPageMax:
		return nil, fmt.Errorf("%w: limit must be between 1 and %d, not %d", hub.ErrInvalidInput, approvalPageMax, limit)
	}
	if p.Cursor != "" {
		n, err := strconv.Atoi(p.Cursor)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: cursor %q is not a next_cursor of this listing", hub.ErrInvalidInput, p.Cursor)
		}
		offset = n
	}
	// one more than the page tells whether another page follows
	list, err := x.hub.ListApprovals(ctx, hub.ApprovalQuery{Status: store.ApprovalStatus(p.Status), Requester: p.Requester,
		Limit: limit + 1, Offset: offset})
	if err != nil {
		return nil, err
	}
	out := &apiv1.ApprovalList{Approvals: []apiv1.Approval{}}
	if len(list) > limit {
		list = list[:limit]
		out.NextCursor = strconv.Itoa(offset + limit)
	}
	for _, a := range list {
		out.Approvals = append(out.Approvals, approvalOf(a))
	}
	return out, nil
}

type decisionParams struct {
	ID   string                `path:"id" doc:"approval request ID"`
	Body apiv1.DecisionRequest `body:""`
}

func (x *Handler) approve(ctx context.Context, p *decisionParams) (*apiv1.Approval, error) {
	res, err := x.hub.Approve(ctx, p.ID, p.Body.Reason)
	if err != nil {
		return nil, err
	}
	a := approvalOf(res.Approval)
	return &a, nil
}

func (x *Handler) reject(ctx context.Context, p *decisionParams) (*apiv1.Approval, error) {
	r, err := x.hub.Reject(ctx, p.ID, p.Body.Reason)
	if err != nil {
		return nil, err
	}
	a := approvalOf(r)
	return &a, nil
}

func approvalOf(a *store.Approval) apiv1.Approval {
	summary := a.Method
	if a.Target != "" {
		summary = fmt.Sprintf("%s on %s", a.Method, a.Target)
	}
	return apiv1.Approval{ID: a.ID, Action: a.Action, Target: a.Target, RequestedBy: a.Requester, Reason: a.Reason,
		Change: a.Change, Summary: summary, Status: string(a.Status), DecidedBy: a.DecidedBy, DecisionReason: a.Decision,
		DecidedAt: a.DecidedAt, ExpiresAt: a.ExpiresAt, CreatedAt: a.CreatedAt}
}
