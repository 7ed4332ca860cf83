package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ehg/hub/internal/engine"
	"github.com/ehg/hub/store"
)

// escalationQuietPeriod bounds automatic escalations of dead events: at most one per
// service per period, so an outage does not flood the escalation target.
const escalationQuietPeriod = time.Minute

// RetryFailedIntegration requeues the failed or dead event integrationID: it becomes
// pending, due now, with its retry count reset, and is delivered again.
//
// Errors: ErrNotFound (no such event), ErrInvalidTransition (the event is not failed or
// dead), ErrInvalidInput (not a UUID), ErrClosed.
func (h *Hub) RetryFailedIntegration(ctx context.Context, integrationID string) (*RetryResult, error) {
	if err := h.guard(ctx, call{method: "RetryFailedIntegration", perms: perms(PermRetry)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if !isUUID(integrationID) {
		return nil, fmt.Errorf("%w: event id %q is not a UUID", ErrInvalidInput, integrationID)
	}
	prev, err := h.st.GetEvent(ctx, integrationID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, kindf(ErrNotFound, err, "hub: event %s not found", integrationID)
		}
		return nil, mapStoreErr(err)
	}
	intent, err := h.appendAudit(ctx, &store.AuditEntry{
		Actor: actorIn(ctx, ""), Action: "event.retry", EntityType: "event", EntityID: prev.ID,
		Before: mustJSON(map[string]any{"status": prev.Status, "retry_count": prev.RetryCount}),
		After:  mustJSON(map[string]any{"status": store.StatusPending, "retry_count": 0}),
	})
	if err != nil {
		return nil, err
	}
	ev, err := h.st.RequeueEvent(ctx, integrationID, true)
	if err != nil {
		h.auditAborted(ctx, intent, err)
		if errors.Is(err, store.ErrInvalidTransition) {
			return nil, kindf(ErrInvalidTransition, err, "hub: event %s has status %s: only failed or dead events can be retried", integrationID, prev.Status)
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, kindf(ErrNotFound, err, "hub: event %s not found", integrationID)
		}
		return nil, mapStoreErr(err)
	}
	h.eng.Wake()
	return &RetryResult{EventID: ev.ID, PreviousStatus: prev.Status, Status: ev.Status}, nil
}

// EscalateIntegrationIssue records an incident — an audit entry (its ID is the incident ID)
// and a critical health metric with incident_triggered — and, when a target service is
// configured (issue.Target, else the service's escalation service, else
// Config.EscalationService), queues a notification event to it through the hub itself
// (asynchronously, idempotent on the incident). The notification payload is
// {"incident_id","service","severity","summary","event_id","details","text","at"}; the
// target's mappings shape it for its connector.
//
// Errors: ErrInvalidInput (no summary, unknown severity), ErrUnknownService (the affected
// service or the target), ErrClosed. A notification the target refuses (contract,
// mapping) is reported in the error with the incident still recorded.
func (h *Hub) EscalateIntegrationIssue(ctx context.Context, issue IntegrationIssue) (*EscalationResult, error) {
	if err := h.guard(ctx, call{method: "EscalateIntegrationIssue", service: issue.Service, perms: perms(PermEscalate)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if issue.Summary == "" {
		return nil, fmt.Errorf("%w: issue summary is required", ErrInvalidInput)
	}
	if issue.Severity == "" {
		issue.Severity = SeverityMedium
	}
	if !slices.Contains([]Severity{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}, issue.Severity) {
		return nil, fmt.Errorf("%w: unknown severity %q", ErrInvalidInput, issue.Severity)
	}
	rt, err := h.runtimeFor(ctx, issue.Service)
	if err != nil {
		return nil, err
	}
	target := issue.Target
	if target == "" {
		target = rt.meta.EscalationService
	}
	if target == "" {
		target = h.cfg.EscalationService
	}
	now := h.cfg.Clock()
	record := map[string]any{
		"service": rt.svc.Name, "service_id": rt.svc.ID, "severity": issue.Severity, "summary": issue.Summary,
		"event_id": issue.EventID, "details": issue.Details, "target": target,
	}
	entry, err := h.st.AppendAudit(ctx, &store.AuditEntry{
		Actor: actorIn(ctx, issue.Actor), Action: "incident.escalate", EntityType: "incident", EntityID: rt.svc.ID, After: mustJSON(record),
	})
	if err != nil {
		return nil, mapStoreErr(err)
	}
	res := &EscalationResult{IncidentID: entry.ID, RecordedAt: entry.CreatedAt, Target: target}
	if err := h.recordIncident(ctx, rt, issue, entry.ID, target, now); err != nil {
		h.log.Warn("hub: recording incident metric failed", "service", rt.svc.Name, "error", err)
	}
	if target == "" {
		return res, nil
	}
	text := fmt.Sprintf("[%s] %s: %s", issue.Severity, rt.svc.Name, issue.Summary)
	if issue.EventID != "" {
		text += " (event " + issue.EventID + ")"
	}
	payload := mustJSON(map[string]any{
		"incident_id": entry.ID, "service": rt.svc.Name, "severity": issue.Severity, "summary": issue.Summary,
		"event_id": issue.EventID, "details": issue.Details, "text": text, "at": now.UTC().Format(time.RFC3339Nano),
	})
	pr, err := h.ProcessIntegrationEvent(trusted(ctx), EventData{
		Service: target, Payload: payload, IdempotencyKey: "incident:" + entry.ID, Priority: store.PriorityHigh, Mode: Async,
	})
	if err != nil {
		return res, within(err, "incident %s recorded but notifying %q failed", entry.ID, target)
	}
	res.NotificationEventID, res.Notified = pr.EventID, true
	return res, nil
}

// onDead escalates an event that exhausted its retries (at most once per service per
// escalationQuietPeriod), unless the service is itself the escalation target.
func (h *Hub) onDead(ev *store.Event, o engine.Outcome) {
	if h.closed.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt, err := h.runtimeFor(ctx, ev.ServiceID)
	if err != nil {
		return
	}
	target := rt.meta.EscalationService
	if target == "" {
		target = h.cfg.EscalationService
	}
	if target == rt.svc.Name || target == rt.svc.ID {
		return
	}
	h.escalatedMu.Lock()
	last := h.escalated[ev.ServiceID]
	now := time.Now()
	quiet := now.Sub(last) < escalationQuietPeriod
	if !quiet {
		h.escalated[ev.ServiceID] = now
	}
	h.escalatedMu.Unlock()
	if quiet {
		return
	}
	_, err = h.EscalateIntegrationIssue(trusted(ctx), IntegrationIssue{
		Service: ev.ServiceID, EventID: ev.ID, Severity: SeverityHigh,
		Summary: fmt.Sprintf("event exhausted %d retries: %s", ev.MaxRetries, o.ErrorText),
		Details: map[string]any{"retry_count": o.RetryCount, "response_code": o.ResponseCode},
	})
	if err != nil && !errors.Is(err, ErrClosed) {
		h.log.Warn("hub: escalating a dead event failed", "service", rt.svc.Name, "event", ev.ID, "error", err)
	}
}

// TriggerRecoveryAction runs plan's actions in order on one service and reports each. A
// failed step does not stop the later ones; OK is true when all succeeded. Breaker actions
// act on this hub's breaker (each hub keeps its own); the others are stored and reach every
// hub. Every action is audited.
//
// Errors: ErrUnknownService; ErrInvalidConfig (no actions, unknown action); ErrClosed.
func (h *Hub) TriggerRecoveryAction(ctx context.Context, plan RecoveryPlan) (*RecoveryResult, error) {
	if err := h.guard(ctx, h.recoveryCall(plan)); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if len(plan.Actions) == 0 {
		return nil, configErr("RecoveryPlan.Actions", "no actions", nil)
	}
	for i, a := range plan.Actions {
		switch a {
		case ActionRetryFailed, ActionResetBreaker, ActionOpenBreaker, ActionDisable, ActionEnable, ActionFailover:
		default:
			return nil, configErr(fmt.Sprintf("RecoveryPlan.Actions[%d]", i), fmt.Sprintf("unknown action %q", a), nil)
		}
	}
	rt, err := h.runtimeFor(ctx, plan.Service)
	if err != nil {
		return nil, err
	}
	res := &RecoveryResult{ServiceID: rt.svc.ID, OK: true}
	for _, a := range plan.Actions {
		st := RecoveryStep{Action: a, OK: true}
		// the step's entry first: a step whose entry cannot be written is not taken
		intent, err := h.appendAudit(ctx, &store.AuditEntry{
			Actor: actorIn(ctx, plan.Actor), Action: "recovery." + string(a), EntityType: "service", EntityID: rt.svc.ID,
			After: mustJSON(map[string]any{"action": a}),
		})
		if err != nil {
			st.OK, st.Error = false, err.Error()
			res.OK = false
			res.Steps = append(res.Steps, st)
			continue
		}
		if err := h.runAction(ctx, rt.svc.ID, a, plan, &st); err != nil {
			st.OK, st.Error = false, h.scrub(err.Error())
			res.OK = false
			h.auditAborted(ctx, intent, err)
		}
		res.Steps = append(res.Steps, st)
	}
	return res, nil
}

func (h *Hub) runAction(ctx context.Context, id string, a RecoveryAction, plan RecoveryPlan, st *RecoveryStep) error {
	rt, err := h.runtimeFor(ctx, id)
	if err != nil {
		return err
	}
	switch a {
	case ActionRetryFailed:
		n, err := h.st.RequeueEvents(ctx, store.RequeueFilter{ServiceID: id, Since: plan.Since})
		if err != nil {
			return mapStoreErr(err)
		}
		st.Count = n
		st.Detail = fmt.Sprintf("%d failed or dead events requeued", n)
		h.eng.Wake()
	case ActionResetBreaker:
		rt.policy.Reset()
		rt.override.Reset()
		st.Detail = "breaker closed"
		h.eng.Wake()
	case ActionOpenBreaker:
		rt.policy.ForceOpen()
		rt.override.ForceOpen()
		st.Detail = "breaker forced open; events wait until reset_breaker"
	case ActionDisable, ActionEnable:
		active := a == ActionEnable
		if _, err := h.ConfigureService(trusted(ctx), id, ServiceConfig{Active: &active, Actor: plan.Actor}); err != nil {
			return err
		}
		st.Detail = "service " + map[bool]string{true: "enabled", false: "disabled"}[active]
	case ActionFailover:
		backup := plan.BackupURL
		if backup == "" {
			if len(rt.svc.BackupURLs) == 0 {
				return configErr("RecoveryPlan.BackupURL", "the service has no backup URLs", nil)
			}
			backup = rt.svc.BackupURLs[0]
		}
		if !slices.Contains(rt.svc.BackupURLs, backup) {
			return configErr("RecoveryPlan.BackupURL", fmt.Sprintf("%q is not one of the service's backup URLs", backup), nil)
		}
		backups := []string{}
		for _, b := range rt.svc.BackupURLs {
			if b != backup {
				backups = append(backups, b)
			}
		}
		if rt.svc.BaseURL != "" {
			backups = append(backups, rt.svc.BaseURL)
		}
		if _, err := h.ConfigureService(trusted(ctx), id, ServiceConfig{BaseURL: &backup, BackupURLs: backups, Actor: plan.Actor}); err != nil {
			return err
		}
		st.Detail = "base URL is now " + backup
		h.eng.Wake()
	}
	return nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}

// recordIncident stores the health metric row of an escalation: the service's error rate as
// the health report judges it now (this hub's window, or the store's outcomes when it has
// too few), its error-rate thresholds, the status the issue's severity means (low: normal,
// medium: warning, high and critical: critical), incident_triggered, and in
// recovery_actions the incident, its severity, summary and target.
func (h *Hub) recordIncident(ctx context.Context, rt *runtime, issue IntegrationIssue, incidentID, target string, now time.Time) error {
	sh, err := h.serviceHealth(ctx, rt, now)
	if err != nil {
		return err
	}
	status := store.MetricCritical
	switch issue.Severity {
	case SeverityLow:
		status = store.MetricNormal
	case SeverityMedium:
		status = store.MetricWarning
	}
	warn, crit := sh.Thresholds.ErrorRateWarning, sh.Thresholds.ErrorRateCritical
	_, err = h.st.InsertHealthMetric(ctx, &store.HealthMetric{
		ServiceID: rt.svc.ID, MetricType: store.MetricErrorRate, Value: sh.ErrorRate,
		WarningThreshold: &warn, CriticalThreshold: &crit, Status: status, IncidentTriggered: true,
		RecoveryActions: mustJSON([]map[string]any{{"action": "escalated", "automatic": issue.Actor == "",
			"incident_id": incidentID, "severity": issue.Severity, "summary": issue.Summary, "escalated_to": target,
			"error_rate_samples": sh.Attempts}}),
		RecordedAt: now,
	})
	return mapStoreErr(err)
}
