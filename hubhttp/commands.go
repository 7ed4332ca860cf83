package hubhttp

import (
	"context"
	"slices"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/hubhttp/internal/apiendpoint"
	"github.com/ehg/hub/store"
)

func (x *Handler) commandRoutes() []*apiendpoint.Endpoint {
	return []*apiendpoint.Endpoint{
		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/commands/plan", OperationID: "planCommand", Tag: "commands",
			Summary: "Understand an operator's sentence and return the plan it would run (nothing runs)"}, x.planCommand),
		apiendpoint.New(apiendpoint.Meta{Method: "POST", Path: "/api/v1/commands/run", OperationID: "runCommand", Tag: "commands",
			Summary: "Run a plan exactly as returned by planCommand, with the caller's permissions"}, x.runCommand),
		apiendpoint.New(apiendpoint.Meta{Method: "GET", Path: "/api/v1/commands/grammar", OperationID: "commandGrammar", Tag: "commands",
			Summary: "The grammar of text commands"}, x.commandGrammar),
	}
}

type planParams struct {
	Body apiv1.CommandRequest `body:""`
}

func (x *Handler) planCommand(ctx context.Context, p *planParams) (*apiv1.CommandPlan, error) {
	plan, err := x.hub.Command(ctx, p.Body.Text)
	if err != nil {
		return nil, err
	}
	return planOf(plan), nil
}

type runParams struct {
	Body apiv1.RunRequest `body:""`
}

func (x *Handler) runCommand(ctx context.Context, p *runParams) (*apiv1.CommandResult, error) {
	res, err := x.hub.RunCommand(ctx, hubPlan(p.Body.Plan))
	if err != nil {
		return nil, err
	}
	return commandResultOf(res), nil
}

func (x *Handler) commandGrammar(ctx context.Context, _ *noParams) (*apiv1.Grammar, error) {
	// the grammar is the hub's, but only callers who may run commands need it
	if err := x.hub.Authorize(ctx, hub.PermCommand); err != nil {
		return nil, err
	}
	return &apiv1.Grammar{Rules: rulesOf(hub.CommandGrammar())}, nil
}

func rulesOf(rs []hub.CommandRule) []apiv1.CommandRule {
	out := []apiv1.CommandRule{}
	for _, r := range rs {
		out = append(out, apiv1.CommandRule{Intent: r.Intent, Pattern: r.Pattern, Synonyms: orEmpty(r.Synonyms), Examples: orEmpty(r.Examples)})
	}
	return out
}

func planOf(p *hub.CommandPlan) *apiv1.CommandPlan {
	out := &apiv1.CommandPlan{Text: p.Text, Understood: p.Understood, Reason: p.Reason, Suggestions: p.Suggestions,
		Intent: p.Intent, Summary: p.Summary, ReadOnly: p.ReadOnly, Service: p.Service, ServiceID: p.ServiceID,
		ServiceUpdatedAt: timePtr(p.ServiceUpdatedAt), Venture: p.Venture, VentureID: p.VentureID, Since: timePtr(p.Since),
		ApprovalID: p.ApprovalID, Severity: p.Severity, Issue: p.Issue, EventIDs: p.EventIDs, Truncated: p.Truncated,
		Steps: p.Steps, MadeAt: p.MadeAt}
	for _, s := range p.Statuses {
		out.Statuses = append(out.Statuses, string(s))
	}
	return out
}

func hubPlan(p apiv1.CommandPlan) *hub.CommandPlan {
	out := &hub.CommandPlan{Text: p.Text, Understood: p.Understood, Reason: p.Reason, Suggestions: p.Suggestions,
		Intent: p.Intent, Summary: p.Summary, ReadOnly: p.ReadOnly, Service: p.Service, ServiceID: p.ServiceID,
		Venture: p.Venture, VentureID: p.VentureID, ApprovalID: p.ApprovalID, Severity: p.Severity, Issue: p.Issue,
		EventIDs: p.EventIDs, Truncated: p.Truncated, Steps: p.Steps, MadeAt: p.MadeAt}
	if p.ServiceUpdatedAt != nil {
		out.ServiceUpdatedAt = *p.ServiceUpdatedAt
	}
	if p.Since != nil {
		out.Since = *p.Since
	}
	for _, s := range p.Statuses {
		out.Statuses = append(out.Statuses, store.EventStatus(s))
	}
	return out
}

func commandResultOf(r *hub.CommandResult) *apiv1.CommandResult {
	out := &apiv1.CommandResult{Intent: r.Intent, OK: r.OK, Message: r.Message, Retried: r.Retried}
	for _, a := range r.Approvals {
		out.Approvals = append(out.Approvals, approvalOf(a))
	}
	if r.Health != nil {
		out.Health = healthReportOf(r.Health)
	}
	for _, e := range r.Events {
		out.Events = append(out.Events, eventOf(e))
	}
	ids := make([]string, 0, len(r.Skipped))
	for id := range r.Skipped {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		out.Skipped = append(out.Skipped, apiv1.RedriveSkip{EventID: id, Reason: r.Skipped[id]})
	}
	if r.Recovery != nil {
		out.Recovery = recoveryOf(r.Recovery)
	}
	if r.Test != nil {
		out.Test = testResultOf(r.Test)
	}
	if e := r.Escalation; e != nil {
		out.Escalation = &apiv1.EscalationResult{IncidentID: e.IncidentID, RecordedAt: e.RecordedAt, Target: e.Target,
			NotificationEventID: e.NotificationEventID, Notified: e.Notified}
	}
	if r.Metrics != nil {
		out.Metrics = performanceOf(r.Metrics)
	}
	if r.Analytics != nil {
		out.Analytics = analyticsOf(r.Analytics)
	}
	if r.Help != nil {
		out.Help = rulesOf(r.Help)
	}
	return out
}
