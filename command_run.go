package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ehg/hub/contract"
	"github.com/ehg/hub/internal/command"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/transform"
)

// RunCommand runs plan exactly as it was made by Command: the same events, the same
// service, the same action, through the hub's own methods with ctx (so with the caller's
// permissions when authorization is on). A retry requeues the plan's events that are still
// failed or dead and reports the others as skipped.
//
// Errors: ErrInvalidInput for a plan that was not understood or names an unknown intent;
// ErrStalePlan for a plan older than CommandPlanTTL, or whose service changed since it was
// made; errors.ErrUnsupported for intents this hub cannot serve; the errors of the hub
// methods the plan calls.
func (h *Hub) RunCommand(ctx context.Context, plan *CommandPlan) (*CommandResult, error) {
	if err := h.guard(ctx, call{method: "RunCommand", perms: perms(PermCommand)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if plan == nil || !plan.Understood {
		return nil, fmt.Errorf("%w: the plan was not understood; there is nothing to run", ErrInvalidInput)
	}
	now := h.cfg.Clock()
	if plan.MadeAt.IsZero() || now.Sub(plan.MadeAt) > CommandPlanTTL || plan.MadeAt.After(now.Add(time.Minute)) {
		return nil, fmt.Errorf("%w: the plan was made at %s; plans may be run for %s", ErrStalePlan, plan.MadeAt.Format(time.RFC3339), CommandPlanTTL)
	}
	res := &CommandResult{Intent: plan.Intent, OK: true}
	intent := command.Intent(plan.Intent)
	changesService := slices.Contains([]command.Intent{command.Remove, command.Pause, command.Resume, command.ResetBreaker, command.OpenBreaker, command.Failover}, intent)
	if changesService {
		si, err := h.GetService(ctx, plan.ServiceID)
		if err != nil {
			return nil, err
		}
		if !si.Service.UpdatedAt.Equal(plan.ServiceUpdatedAt) {
			return nil, fmt.Errorf("%w: %s changed at %s, after the plan was made; plan again", ErrStalePlan, si.Service.Name, si.Service.UpdatedAt.Format(time.RFC3339))
		}
	}
	switch intent {
	case command.Help:
		res.Help = CommandGrammar()
		var b strings.Builder
		for _, r := range res.Help {
			fmt.Fprintf(&b, "%s — e.g. %q\n", r.Pattern, r.Examples[0])
		}
		res.Message = strings.TrimSpace(b.String())
	case command.Status, command.Diagnose:
		rep, err := h.GetIntegrationHealth(ctx, plan.ServiceID)
		if err != nil {
			return nil, err
		}
		res.Health = rep
		if intent == command.Diagnose && len(rep.Services) == 1 {
			res.Message = diagnose(rep.Services[0])
		} else {
			res.Message = statusLine(rep)
		}
	case command.ListEvents:
		evs, err := h.commandList(ctx, plan)
		if err != nil {
			return nil, err
		}
		res.Events = evs
		res.Message = fmt.Sprintf("%d %s.", len(evs), plural(len(evs), "event", "events"))
		if len(evs) == CommandListLimit {
			res.Message = fmt.Sprintf("The newest %d events (more match).", len(evs))
		}
	case command.Retry, command.Redrive:
		res.Skipped = map[string]string{}
		for _, id := range plan.EventIDs {
			r, err := h.RetryFailedIntegration(ctx, id)
			switch {
			case err == nil:
				res.Retried = append(res.Retried, r.EventID)
			case errors.Is(err, ErrInvalidTransition), errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalidInput):
				res.Skipped[id] = err.Error()
			default:
				return nil, err
			}
		}
		res.Message = fmt.Sprintf("Requeued %d %s", len(res.Retried), plural(len(res.Retried), "event", "events"))
		if len(res.Skipped) > 0 {
			res.Message += fmt.Sprintf("; %d no longer failed or dead, left alone", len(res.Skipped))
		}
		res.Message += "."
	case command.Pause, command.Resume, command.ResetBreaker, command.OpenBreaker, command.Failover:
		action := map[command.Intent]RecoveryAction{command.Pause: ActionDisable, command.Resume: ActionEnable,
			command.ResetBreaker: ActionResetBreaker, command.OpenBreaker: ActionOpenBreaker, command.Failover: ActionFailover}[intent]
		rr, err := h.TriggerRecoveryAction(ctx, RecoveryPlan{Service: plan.ServiceID, Actions: []RecoveryAction{action}, Actor: "command"})
		if err != nil {
			return nil, err
		}
		res.Recovery, res.OK = rr, rr.OK
		st := rr.Steps[0]
		if st.OK {
			res.Message = fmt.Sprintf("%s: %s.", plan.Service, st.Detail)
		} else {
			res.Message = fmt.Sprintf("%s: %s failed: %s", plan.Service, st.Action, st.Error)
		}
	case command.Remove:
		rr, err := h.RemoveService(ctx, plan.ServiceID, RemoveOptions{Drain: plan.Drain, Actor: "command", Reason: plan.Text})
		if err != nil {
			return nil, err
		}
		res.Removal = rr
		res.Message = fmt.Sprintf("%s removed: %d queued %s cancelled, %d still to finish.", rr.Name, rr.Cancelled, plural(rr.Cancelled, "event", "events"), rr.Remaining)
	case command.Test:
		tr, err := h.TestIntegration(ctx, plan.ServiceID, TestData{})
		if err != nil {
			return nil, err
		}
		res.Test, res.OK = tr, tr.OK
		res.Message = fmt.Sprintf("%s: connection test passed.", plan.Service)
		if !tr.OK {
			for _, s := range tr.Steps {
				if !s.OK {
					res.Message = fmt.Sprintf("%s: %s failed: %s", plan.Service, s.Name, s.Error)
				}
			}
		}
	case command.Escalate:
		er, err := h.EscalateIntegrationIssue(ctx, IntegrationIssue{Service: plan.ServiceID, Severity: Severity(plan.Severity), Summary: plan.Issue, Actor: "command"})
		if err != nil {
			return nil, err
		}
		res.Escalation = er
		res.Message = fmt.Sprintf("Incident %s recorded", er.IncidentID)
		if er.Target != "" {
			res.Message += "; " + er.Target + " notified"
		}
		res.Message += "."
	case command.Metrics:
		pm, err := h.GetPerformanceMetrics(ctx, TimeRange{From: plan.Since})
		if err != nil {
			return nil, err
		}
		res.Metrics = pm
		o := pm.Overall
		for _, s := range pm.Services {
			if s.ServiceID == plan.ServiceID {
				o = s
			}
		}
		res.Message = fmt.Sprintf("%d events, %.1f%% succeeded, p95 %.0f ms, %.2f events/s.", o.Events, 100*o.SuccessRate, o.P95MS, o.Throughput)
	case command.Cost:
		q := AnalyticsQuery{Service: plan.ServiceID, Period: store.PeriodHour}
		if !plan.Since.IsZero() {
			q.Range.From = plan.Since
		}
		an, err := h.GetIntegrationAnalytics(ctx, q)
		if err != nil {
			return nil, err
		}
		res.Analytics = an
		res.Message = fmt.Sprintf("%d events, cost %.2f, error rate %.1f%%.", an.Totals.Events, an.Totals.Cost, 100*an.Totals.ErrorRate)
	case command.Approvals:
		list, err := h.ListApprovals(ctx, ApprovalQuery{Status: store.ApprovalPending})
		if err != nil {
			return nil, err
		}
		res.Approvals = list
		res.Message = fmt.Sprintf("%d %s waiting for a decision.", len(list), plural(len(list), "change", "changes"))
		for _, a := range list {
			res.Message += fmt.Sprintf("\n%s: %s %s by %s", a.ID, a.Method, a.Target, a.Requester)
		}
	case command.Suggest, command.Preview:
		if err := h.runMapping(ctx, plan, intent, res); err != nil {
			return nil, err
		}
	case command.ListRoutes:
		routes, err := h.Routes(ctx, plan.ServiceID)
		if err != nil {
			return nil, err
		}
		res.Message = fmt.Sprintf("%d %s.", len(routes), plural(len(routes), "route", "routes"))
		for _, r := range routes {
			dests := make([]string, len(r.Destinations))
			for i, d := range r.Destinations {
				dests[i] = d.Service
			}
			state := ""
			if r.Disabled {
				state = " (inactive)"
			}
			res.Message += fmt.Sprintf("\n%s v%d%s: %s -> %s", r.Name, r.Version, state, r.Source, strings.Join(dests, ", "))
		}
	case command.Approve:
		ar, err := h.Approve(ctx, plan.ApprovalID, plan.Text)
		if ar != nil && ar.Approval != nil {
			res.Approvals = []*store.Approval{ar.Approval}
		}
		if err != nil {
			return nil, err
		}
		res.Message = fmt.Sprintf("Approval %s approved: %s.", ar.Approval.ID, ar.Approval.Status)
	case command.Reject:
		a, err := h.Reject(ctx, plan.ApprovalID, plan.Text)
		if err != nil {
			return nil, err
		}
		res.Approvals = []*store.Approval{a}
		res.Message = fmt.Sprintf("Approval %s rejected.", a.ID)
	case command.VerifyAudit:
		rep, err := h.VerifyAudit(ctx, time.Time{}, time.Time{})
		if rep == nil {
			return nil, err
		}
		res.Audit, res.OK = rep, rep.OK
		res.Message = fmt.Sprintf("The audit chain is intact: %d entries, %d signed checkpoints, verified in %s.", rep.Entries, rep.Checkpoints, rep.Duration.Round(time.Millisecond))
		if err != nil {
			res.Message = fmt.Sprintf("The audit log was tampered with: %d problems in %d entries; first: %v", rep.ProblemCount, rep.Entries, err)
		}
	default:
		return nil, fmt.Errorf("%w: unknown intent %q", ErrInvalidInput, plan.Intent)
	}
	return res, nil
}

// commandList returns the newest events the plan selects, at most CommandListLimit.
func (h *Hub) commandList(ctx context.Context, plan *CommandPlan) ([]*store.Event, error) {
	f := store.EventFilter{ServiceID: plan.ServiceID, Statuses: plan.Statuses, CreatedFrom: plan.Since}
	counts, err := h.st.CountEventsByStatus(ctx, f)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	var total int64
	for _, n := range counts {
		total += n
	}
	off := max(0, int(total)-CommandListLimit*4)
	f.Page = store.Page{Limit: CommandListLimit * 4, Offset: off}
	evs, err := h.st.ListEvents(ctx, f)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	var out []*store.Event
	for i := len(evs) - 1; i >= 0 && len(out) < CommandListLimit; i-- {
		if plan.VentureID == "" || strings.EqualFold(evs[i].VentureID, plan.VentureID) {
			out = append(out, evs[i])
		}
	}
	return out, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func statusLine(rep *HealthReport) string {
	if len(rep.Services) == 0 {
		return "No services are registered."
	}
	var bad []string
	for _, s := range rep.Services {
		if s.Status == store.HealthUnhealthy || s.Status == store.HealthDegraded {
			bad = append(bad, fmt.Sprintf("%s is %s (%s)", s.Name, s.Status, s.Reason))
		}
	}
	if len(bad) == 0 {
		return fmt.Sprintf("All %d services are fine (overall %s).", len(rep.Services), rep.Status)
	}
	return fmt.Sprintf("Overall %s: %s.", rep.Status, strings.Join(bad, "; "))
}

// diagnose explains a service's health in a few sentences.
func diagnose(s ServiceHealth) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is %s", s.Name, s.Status)
	if s.Reason != "" {
		fmt.Fprintf(&b, ": %s", s.Reason)
	}
	b.WriteString(".")
	if !s.Active {
		b.WriteString(" It is paused; resume it to deliver.")
	}
	if s.Breaker != "closed" && s.Breaker != "" {
		fmt.Fprintf(&b, " The circuit breaker is %s.", s.Breaker)
	}
	if s.Attempts > 0 {
		fmt.Fprintf(&b, " Error rate %.1f%% over %d attempts; p95 %.0f ms.", 100*s.ErrorRate, s.Attempts, s.LatencyP95MS)
	}
	if n := s.QueueDepth[store.StatusDead]; n > 0 {
		fmt.Fprintf(&b, " %d dead %s waiting for a redrive.", n, plural(int(n), "letter", "letters"))
	}
	if s.LastError != "" {
		fmt.Fprintf(&b, " Last error: %s.", strings.TrimSuffix(s.LastError, "."))
	}
	if q := s.RateLimit; q != nil && q.Limit > 0 {
		fmt.Fprintf(&b, " Rate limit: %d of %d left.", q.Remaining, q.Limit)
	}
	for _, w := range s.Warnings {
		fmt.Fprintf(&b, " Warning: %s", strings.TrimSuffix(w.Message, "."))
		if w.Recommendation != "" {
			fmt.Fprintf(&b, " (%s)", strings.TrimSuffix(w.Recommendation, "."))
		}
		b.WriteString(".")
	}
	return b.String()
}

// runMapping runs a mapping suggestion or preview plan on its event's payload; a preview
// whose output fails the contract is not OK and lists each violation at its path.
func (h *Hub) runMapping(ctx context.Context, plan *CommandPlan, intent command.Intent, res *CommandResult) error {
	if err := h.Authorize(ctx, PermTransform); err != nil {
		return err
	}
	if len(plan.EventIDs) != 1 {
		return fmt.Errorf("%w: a mapping plan names the one event whose payload is the sample", ErrInvalidInput)
	}
	ev, err := h.GetEvent(ctx, plan.EventIDs[0])
	if err != nil {
		return err
	}
	si, err := h.GetService(ctx, plan.ServiceID)
	if err != nil {
		return err
	}
	var sample map[string]any
	if err := json.Unmarshal(ev.PayloadIn, &sample); err != nil || sample == nil {
		return fmt.Errorf("%w: the payload of event %s is not a JSON object", ErrInvalidInput, ev.ID)
	}
	if intent == command.Suggest {
		if si.Contract == nil {
			return fmt.Errorf("%w: %s has no canonical contract", ErrInvalidInput, si.Service.Name)
		}
		sugs, err := transform.Suggest(ctx, sample, si.Contract.Schema)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidInput, err)
		}
		res.Message = fmt.Sprintf("Suggested mapping for %s (%s@%s):", si.Service.Name, si.Contract.Name, si.Contract.Version)
		for _, sg := range sugs {
			expr := sg.Expr
			if expr == "" {
				expr = "(nothing fits)"
			}
			res.Message += fmt.Sprintf("\n%s = %s (confidence %.2f)", sg.Target, expr, sg.Confidence)
		}
		return nil
	}
	if si.Mapping == nil {
		return fmt.Errorf("%w: %s has no mapping", ErrInvalidInput, si.Service.Name)
	}
	rules, err := transform.Parse(si.Mapping)
	if err != nil {
		return configErr("transform.Rules", "", err)
	}
	out, err := h.TransformData(ctx, sample, rules)
	if err != nil {
		if errors.Is(err, ErrTransform) {
			res.OK, res.Message = false, fmt.Sprintf("The mapping of %s fails on event %s: %v", si.Service.Name, ev.ID, err)
			return nil
		}
		return err
	}
	doc, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("%w: the mapping's output is not JSON: %w", ErrTransform, err)
	}
	res.Message = fmt.Sprintf("Output: %s", doc)
	if si.Contract == nil {
		return nil
	}
	vr, err := h.ValidateDataContract(ctx, []byte(doc), contract.Contract{Name: si.Contract.Name, Version: si.Contract.Version, Schema: si.Contract.Schema})
	if err != nil {
		return err
	}
	if vr.Valid {
		res.Message += fmt.Sprintf("\nValid against %s@%s.", si.Contract.Name, si.Contract.Version)
		return nil
	}
	res.OK = false
	res.Message += fmt.Sprintf("\n%d %s of %s@%s:", len(vr.Violations), plural(len(vr.Violations), "violation", "violations"), si.Contract.Name, si.Contract.Version)
	for _, v := range vr.Violations {
		path := v.InstancePath
		if path == "" {
			path = "/"
		}
		res.Message += fmt.Sprintf("\n%s: %s", path, v.Message)
	}
	return nil
}
