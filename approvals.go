package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ehg/hub/internal/seal"
	"github.com/ehg/hub/store"
)

// ChangeKind names a kind of change an approval policy can hold back.
type ChangeKind string

// The change kinds.
const (
	// ChangeRegister: registering a service (RegisterIntegration).
	ChangeRegister ChangeKind = "service.register"
	// ChangeConfigure: any change of a service's configuration (ConfigureService).
	ChangeConfigure ChangeKind = "service.configure"
	// ChangeCredentials: changing a service's credentials (ConfigureService Auth).
	ChangeCredentials ChangeKind = "service.credentials"
	// ChangeEndpoints: changing a service's base or backup URLs or its connector
	// (ConfigureService).
	ChangeEndpoints ChangeKind = "service.endpoints"
	// ChangeEnable: enabling a disabled service (ConfigureService Active, the enable
	// recovery action).
	ChangeEnable ChangeKind = "service.enable"
	// ChangeBulkRetry: requeueing every failed event of a service (the retry_failed
	// recovery action, a redrive).
	ChangeBulkRetry ChangeKind = "events.bulk_retry"
	// ChangeDataDeletion: deleting data (EraseSubject, RemoveService, RunRetention).
	ChangeDataDeletion ChangeKind = "data.delete"
	// ChangeDataAccess: handing out everything held about a data subject (ExportSubject).
	// With approvals requiring it, the export is made when a second person approves, and
	// Approve returns it (ApprovalResult.Result, a *SubjectExport) to the approver.
	ChangeDataAccess ChangeKind = "data.access"
	// ChangeGovernance: changing the approval policy or the roles (Apply of a document
	// with approvals or roles).
	ChangeGovernance ChangeKind = "governance.policy"
)

// ApprovalTTLDefault is how long an approval request waits for a decision by default.
const ApprovalTTLDefault = 72 * time.Hour

// ApprovalPolicy names the changes that wait for a second person's approval. The zero
// value holds nothing back.
type ApprovalPolicy struct {
	// Require lists the kinds of change that need approval.
	Require []ChangeKind
	// TTL is how long a request waits for a decision; an undecided request then expires
	// and is escalated. Default ApprovalTTLDefault.
	TTL time.Duration
}

// held returns the kinds of the proposal the policy holds back.
func (p ApprovalPolicy) held(prop *proposal) []ChangeKind {
	var out []ChangeKind
	for _, k := range prop.kinds {
		if slices.Contains(p.Require, k) && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// WithApprovals sets the approval policy. It needs authorization (WithAuthorization), a
// secret key (the proposed change is stored sealed) and a store implementing
// store.ApprovalStore. A call making a change the policy names stores it as a pending
// request and returns an *ApprovalRequiredError; Approve applies it.
func WithApprovals(p ApprovalPolicy) Option {
	return func(c *Config) error {
		for i, k := range p.Require {
			if !slices.Contains(changeKinds(), k) {
				return configErr(fmt.Sprintf("Config.Approvals.Require[%d]", i), fmt.Sprintf("unknown change kind %q", k), nil)
			}
		}
		if p.TTL < 0 {
			return configErr("Config.Approvals.TTL", "must not be negative", nil)
		}
		p.Require = slices.Clone(p.Require)
		c.Approvals = p
		return nil
	}
}

func changeKinds() []ChangeKind {
	return []ChangeKind{ChangeRegister, ChangeConfigure, ChangeCredentials, ChangeEndpoints, ChangeEnable,
		ChangeBulkRetry, ChangeDataDeletion, ChangeDataAccess, ChangeGovernance}
}

// initGovernance checks the governance settings against each other and the store.
func (h *Hub) initGovernance() error {
	if len(h.cfg.Approvals.Require) == 0 {
		return nil
	}
	if h.cfg.Authorizer == nil {
		return configErr("Config.Approvals", "approvals need authorization (WithAuthorization): requester and approver are principals", nil)
	}
	if h.cfg.SecretKey == nil && h.cfg.Sealer == nil {
		return configErr("Config.Approvals", "approvals need a secret key (WithSecretKey) or a key service (WithSealer): proposed changes are stored sealed", nil)
	}
	for i, k := range h.cfg.Approvals.Require {
		if !slices.Contains(changeKinds(), k) {
			return configErr(fmt.Sprintf("Config.Approvals.Require[%d]", i), fmt.Sprintf("unknown change kind %q", k), nil)
		}
	}
	if h.cfg.Approvals.TTL < 0 {
		return configErr("Config.Approvals.TTL", "must not be negative", nil)
	}
	if h.cfg.Approvals.TTL == 0 {
		h.cfg.Approvals.TTL = ApprovalTTLDefault
	}
	if _, ok := h.st.(store.ApprovalStore); !ok {
		return configErr("Config.Approvals", "the store does not implement store.ApprovalStore", nil)
	}
	return nil
}

// ErrApprovalRequired: the change needs a second person's approval; it was stored as a
// pending request and did not happen yet. The error is an *ApprovalRequiredError carrying
// the request's ID.
var ErrApprovalRequired = errors.New("hub: approval required")

// ApprovalRequiredError reports a change stored for approval. It matches
// [ErrApprovalRequired].
type ApprovalRequiredError struct {
	// ID identifies the request (Approve, Reject, ListApprovals).
	ID string
	// Method is the call held back; Changes the kinds of change the policy names.
	Method  string
	Changes []ChangeKind
	// ExpiresAt is when the request expires undecided.
	ExpiresAt time.Time
}

// Error names the request and what it holds back.
func (e *ApprovalRequiredError) Error() string {
	kinds := make([]string, len(e.Changes))
	for i, k := range e.Changes {
		kinds[i] = string(k)
	}
	return fmt.Sprintf("hub: approval required: %s (%s) waits as request %s until %s", e.Method, strings.Join(kinds, ", "),
		e.ID, e.ExpiresAt.UTC().Format(time.RFC3339))
}

// Is reports whether target is ErrApprovalRequired.
func (e *ApprovalRequiredError) Is(target error) bool { return target == ErrApprovalRequired }

// proposal is a change as the approval policy sees it: what kinds of change it makes, and
// the complete call to apply once approved.
type proposal struct {
	kinds  []ChangeKind
	change proposedChange
}

// proposedChange is the complete call of a change held for approval, as stored (sealed).
type proposedChange struct {
	Method    string             `json:"method"`
	Service   string             `json:"service,omitempty"`
	Register  *IntegrationConfig `json:"register,omitempty"`
	Configure *ServiceConfig     `json:"configure,omitempty"`
	Recovery  *RecoveryPlan      `json:"recovery,omitempty"`
	Remove    *RemoveOptions     `json:"remove,omitempty"`
	Subject   string             `json:"subject,omitempty"`
	// Reason is the reason given for a data key's destruction.
	Reason string `json:"reason,omitempty"`
	// Governance is the approval policy and roles a configuration change set sets.
	Governance *governanceDoc `json:"governance,omitempty"`
}

// redacted is the change as approvers see it: credentials redacted, the data subject
// hidden.
func (c proposedChange) redacted() proposedChange {
	if c.Register != nil {
		r := *c.Register
		r.Auth = seal.Redact(r.Auth)
		c.Register = &r
	}
	if c.Configure != nil {
		r := *c.Configure
		r.Auth = seal.Redact(r.Auth)
		c.Configure = &r
	}
	if c.Subject != "" {
		c.Subject = seal.Redacted
	}
	return c
}

// approvalAAD binds a sealed change to its request.
func approvalAAD(id string) string { return "approval:" + id }

// requestApproval stores the proposal as a pending request and returns the
// *ApprovalRequiredError the call reports.
func (h *Hub) requestApproval(ctx context.Context, p Principal, c call, prop *proposal, kinds []ChangeKind, ttl time.Duration) error {
	as, err := h.approvals()
	if err != nil {
		return err
	}
	if ttl <= 0 {
		ttl = ApprovalTTLDefault
	}
	full, err := json.Marshal(prop.change)
	if err != nil {
		return fmt.Errorf("hub: encoding the proposed change: %w", err)
	}
	id := uuid.NewString()
	sealed, err := h.vault.seal(ctx, approvalsKeyOwner, approvalAAD(id), full)
	if err != nil {
		return configErr("Config.SecretKey", "sealing the proposed change failed", err)
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	req := &store.Approval{
		ID: id, Requester: p.ID, Action: strings.Join(names, ","), Method: c.method, Target: c.service,
		Change: mustJSON(prop.change.redacted()), Sealed: sealed, Reason: reasonFrom(ctx),
		Status: store.ApprovalPending, ExpiresAt: h.cfg.Clock().Add(ttl),
	}
	intent, err := h.auditApproval(ctx, p.ID, "approval.request", req, nil) // before the request exists: fail closed
	if err != nil {
		return err
	}
	a, err := as.CreateApproval(ctx, req)
	if err != nil {
		h.auditAborted(ctx, intent, err)
		return mapStoreErr(err)
	}
	h.publishApproval(a, "approval.request", p.ID)
	return &ApprovalRequiredError{ID: a.ID, Method: c.method, Changes: kinds, ExpiresAt: a.ExpiresAt}
}

// auditApproval appends the entry of a step of an approval request (entity type
// "approval") before the step is taken, with status the request's status after it: when
// the entry cannot be written the error is ErrAuditUnavailable and the step must not
// happen (the audit log fails closed).
func (h *Hub) auditApproval(ctx context.Context, who, action string, a *store.Approval, extra map[string]any) (*store.AuditEntry, error) {
	return h.appendAudit(ctx, &store.AuditEntry{
		Actor: who, Action: action, EntityType: "approval", EntityID: a.ID, After: approvalRecord(a, extra),
	})
}

// approvalRecord is the audit document of an approval request's step.
func approvalRecord(a *store.Approval, extra map[string]any) json.RawMessage {
	rec := map[string]any{"method": a.Method, "changes": a.Action, "requester": a.Requester, "status": a.Status}
	if a.Target != "" {
		rec["service"] = a.Target
	}
	if a.Reason != "" {
		rec["reason"] = a.Reason
	}
	for k, v := range extra {
		rec[k] = v
	}
	return mustJSON(rec)
}

// auditApprovalOutcome appends the entry recording how an approved change ended (applied or
// failed), after the fact; the change itself was audited by its own intent entries.
func (h *Hub) auditApprovalOutcome(ctx context.Context, who, action string, a *store.Approval, extra map[string]any) {
	if _, err := h.st.AppendAudit(context.WithoutCancel(ctx), &store.AuditEntry{
		Actor: who, Action: action, EntityType: "approval", EntityID: a.ID, After: approvalRecord(a, extra),
	}); err != nil {
		h.log.Error("hub: appending audit entry failed", "action", action, "approval", a.ID, "error", err)
	}
	h.publishApproval(a, action, who)
}

// publishApproval tells WatchActivity subscribers about an approval request's step.
func (h *Hub) publishApproval(a *store.Approval, action, who string) {
	h.activity.publish(Activity{Kind: ActivityApproval, At: h.cfg.Clock(), ServiceName: a.Target,
		ApprovalID: a.ID, Action: action, Actor: who})
}

// approvals returns the store's ApprovalStore, or ErrNotSupported.
func (h *Hub) approvals() (store.ApprovalStore, error) {
	as, ok := h.st.(store.ApprovalStore)
	if !ok {
		return nil, fmt.Errorf("%w: approvals need store.ApprovalStore", ErrNotSupported)
	}
	return as, nil
}

// ApprovalQuery selects approval requests for ListApprovals; zero fields match everything.
type ApprovalQuery struct {
	Status    store.ApprovalStatus
	Requester string
	// Limit is the page size (0: store.DefaultPageLimit); Offset skips requests.
	Limit, Offset int
}

// ListApprovals returns the approval requests matching q, oldest first. Each carries the
// proposed change with credentials redacted (never the sealed change).
//
// Errors: ErrInvalidInput (unknown status, negative page); ErrNotSupported without
// store.ApprovalStore; ErrForbidden; ErrClosed.
func (h *Hub) ListApprovals(ctx context.Context, q ApprovalQuery) ([]*store.Approval, error) {
	if err := h.guard(ctx, call{method: "ListApprovals", perms: perms(PermRead)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	as, err := h.approvals()
	if err != nil {
		return nil, err
	}
	list, err := as.ListApprovals(ctx, store.ApprovalFilter{Status: q.Status, Requester: q.Requester,
		Page: store.Page{Limit: q.Limit, Offset: q.Offset}})
	if err != nil {
		return nil, mapStoreErr(err)
	}
	for _, a := range list {
		a.Sealed = nil
	}
	return list, nil
}

// ApprovalResult reports Approve.
type ApprovalResult struct {
	// Approval is the request after the decision (applied or failed).
	Approval *store.Approval
	// Result is what the approved call returned (*Registration, *Configuration,
	// *RecoveryResult, *ErasureResult, *SubjectExport, *RemovalResult or *RetentionReport).
	Result any
}

// Approve approves the pending request id and applies its change, as the requester's call,
// exactly once: the request goes from pending to applying in one conditional store update,
// so of hubs (or callers) approving at once, one applies and the others get
// ErrInvalidTransition. note is the approver's comment. The approver needs
// approval.decide and must not be the requester. A change that fails to apply leaves the
// request failed, its Result saying why, and returns the error.
//
// Applying is bounded by ApprovalApplyTimeout. A hub stopped between approving and
// recording the outcome leaves the request applying; once it has been applying for
// ApprovalApplyTimeout plus ApprovalRecoveryMargin, a hub on the store marks it failed
// with a reason (see RecoverApprovals) and the audit log tells whether the change happened.
//
// Errors: ErrForbidden (no permission, self-approval); ErrNotFound; ErrInvalidTransition
// (decided already, expired); ErrNotSupported; ErrKeyService or ErrBusy when the sealed
// change cannot be opened for now (the request stays pending); the applied call's errors;
// ErrClosed.
func (h *Hub) Approve(ctx context.Context, id, note string) (*ApprovalResult, error) {
	c := call{method: "Approve", perms: perms(PermApprove)}
	if err := h.guard(ctx, c); err != nil {
		return nil, err
	}
	a, err := h.decidable(ctx, id)
	if err != nil {
		return nil, err
	}
	approver := actorIn(ctx, "")
	if p, ok := PrincipalFrom(ctx); ok && p.ID == a.Requester {
		return nil, h.deny(ctx, call{method: c.method, service: a.Target}, &ForbiddenError{Principal: p.ID, Method: c.method,
			Permission: PermApprove, Rule: "the approver must differ from the requester"})
	}
	// The change is opened before the request leaves pending: a key service or store that
	// fails for now leaves the request pending, to be approved again, instead of failed.
	var change proposedChange
	plain, openErr := h.vault.open(ctx, approvalAAD(a.ID), a.Sealed)
	if openErr != nil && passing(openErr) {
		return nil, fmt.Errorf("hub: approval %s: the sealed change cannot be opened now (the request stays pending): %w", a.ID, openErr)
	}
	if openErr == nil {
		openErr = json.Unmarshal(plain, &change)
	}
	as, _ := h.approvals()
	next := *a
	next.Status = store.ApprovalApplying
	intent, err := h.auditApproval(ctx, approver, "approval.approve", &next, map[string]any{"note": note})
	if err != nil {
		return nil, err
	}
	a, err = as.TransitionApproval(ctx, store.ApprovalTransition{ID: a.ID, From: store.ApprovalPending,
		To: store.ApprovalApplying, DecidedBy: approver, Decision: note})
	if err != nil {
		h.auditAborted(ctx, intent, err)
		return nil, approvalErr(id, err)
	}
	h.publishApproval(a, "approval.approve", approver)
	err = openErr
	var res any
	if err != nil {
		err = fmt.Errorf("hub: approval %s: the sealed change cannot be opened: %w", a.ID, err)
	} else {
		applyCtx, cancel := context.WithTimeout(trusted(WithPrincipal(context.WithoutCancel(ctx), Principal{ID: a.Requester})), ApprovalApplyTimeout)
		res, err = h.applyChange(applyCtx, change)
		cancel()
	}
	to, result := store.ApprovalApplied, "applied"
	if err != nil {
		to, result = store.ApprovalFailed, err.Error()
	}
	done, terr := as.TransitionApproval(context.WithoutCancel(ctx), store.ApprovalTransition{ID: a.ID,
		From: store.ApprovalApplying, To: to, Result: result})
	if terr != nil {
		h.log.Error("hub: recording an approval's outcome failed", "approval", a.ID, "error", terr)
		done = a
	}
	h.auditApprovalOutcome(ctx, approver, "approval."+string(to), done, map[string]any{"result": result})
	done.Sealed = nil
	if err != nil {
		return &ApprovalResult{Approval: done}, err
	}
	return &ApprovalResult{Approval: done, Result: res}, nil
}

// Reject refuses the pending request id; note says why. The requester may withdraw their
// own request this way.
//
// Errors: ErrForbidden; ErrNotFound; ErrInvalidTransition (decided already, expired);
// ErrNotSupported; ErrClosed.
func (h *Hub) Reject(ctx context.Context, id, note string) (*store.Approval, error) {
	if err := h.guard(ctx, call{method: "Reject", perms: perms(PermApprove)}); err != nil {
		return nil, err
	}
	a, err := h.decidable(ctx, id)
	if err != nil {
		return nil, err
	}
	as, _ := h.approvals()
	who := actorIn(ctx, "")
	next := *a
	next.Status = store.ApprovalRejected
	intent, err := h.auditApproval(ctx, who, "approval.reject", &next, map[string]any{"note": note})
	if err != nil {
		return nil, err
	}
	a, err = as.TransitionApproval(ctx, store.ApprovalTransition{ID: a.ID, From: store.ApprovalPending,
		To: store.ApprovalRejected, DecidedBy: who, Decision: note})
	if err != nil {
		h.auditAborted(ctx, intent, err)
		return nil, approvalErr(id, err)
	}
	h.publishApproval(a, "approval.reject", who)
	a.Sealed = nil
	return a, nil
}

// decidable reads the request id and checks it waits for a decision; a request past its
// expiry is expired (and escalated) on the way.
func (h *Hub) decidable(ctx context.Context, id string) (*store.Approval, error) {
	if h.closed.Load() {
		return nil, ErrClosed
	}
	as, err := h.approvals()
	if err != nil {
		return nil, err
	}
	if !isUUID(id) {
		return nil, fmt.Errorf("%w: approval id %q is not a UUID", ErrInvalidInput, id)
	}
	a, err := as.GetApproval(ctx, id)
	if err != nil {
		return nil, approvalErr(id, err)
	}
	if a.Status != store.ApprovalPending {
		return nil, kindf(ErrInvalidTransition, nil, "hub: approval %s is %s: only pending requests can be decided", id, a.Status)
	}
	if !h.cfg.Clock().Before(a.ExpiresAt) {
		if err := h.expire(ctx, a); err != nil {
			return nil, err
		}
		return nil, kindf(ErrInvalidTransition, nil, "hub: approval %s expired at %s", id, a.ExpiresAt.Format(time.RFC3339))
	}
	return a, nil
}

// approvalErr maps a store error about approval id.
func approvalErr(id string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return kindf(ErrNotFound, err, "hub: approval %s not found", id)
	case errors.Is(err, store.ErrInvalidTransition):
		return kindf(ErrInvalidTransition, err, "hub: approval %s was decided meanwhile", id)
	}
	return mapStoreErr(err)
}

// applyChange makes the approved call (ctx is trusted: guard lets it through).
func (h *Hub) applyChange(ctx context.Context, c proposedChange) (any, error) {
	switch {
	case c.Method == "RegisterIntegration" && c.Register != nil:
		return h.RegisterIntegration(ctx, *c.Register)
	case c.Method == "ConfigureService" && c.Configure != nil:
		return h.ConfigureService(ctx, c.Service, *c.Configure)
	case c.Method == "TriggerRecoveryAction" && c.Recovery != nil:
		return h.TriggerRecoveryAction(ctx, *c.Recovery)
	case c.Method == "RemoveService" && c.Remove != nil:
		return h.RemoveService(ctx, c.Service, *c.Remove)
	case c.Method == "EraseSubject":
		return h.EraseSubject(ctx, c.Subject)
	case c.Method == "ExportSubject":
		return h.ExportSubject(ctx, c.Subject)
	case c.Method == "DestroyDataKey":
		return h.DestroyDataKey(ctx, c.Service, c.Reason)
	case c.Method == "RunRetention":
		return h.RunRetention(ctx)
	case c.Method == "ApplyGovernance" && c.Governance != nil:
		return h.applyGovernance(ctx, *c.Governance, "")
	}
	return nil, fmt.Errorf("%w: the stored change names no call this hub applies (%q)", ErrInvalidInput, c.Method)
}

// ExpireApprovals expires every pending request past its expiry and escalates each through
// the escalation service: an audit entry "approval.expire", then, when the request names a
// registered service, an incident of that service as EscalateIntegrationIssue records and
// notifies it (the service's escalation service, else Config.EscalationService); otherwise
// a notification event shaped as an incident's to Config.EscalationService. The hub also does this in the background while started. It returns how many
// requests this call expired (of hubs sharing the store, one expires each).
//
// Errors: ErrForbidden; ErrNotSupported; store errors; ErrClosed.
func (h *Hub) ExpireApprovals(ctx context.Context) (int, error) {
	if err := h.guard(ctx, call{method: "ExpireApprovals", perms: perms(PermApprove)}); err != nil {
		return 0, err
	}
	if h.closed.Load() {
		return 0, ErrClosed
	}
	return h.expireApprovals(ctx)
}

func (h *Hub) expireApprovals(ctx context.Context) (int, error) {
	as, err := h.approvals()
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		due, err := as.ListApprovals(ctx, store.ApprovalFilter{Status: store.ApprovalPending,
			ExpiresBefore: h.cfg.Clock(), Page: store.Page{Limit: store.DefaultPageLimit}})
		if err != nil {
			return n, mapStoreErr(err)
		}
		progressed := false
		for _, a := range due {
			err := h.expire(ctx, a)
			switch {
			case err == nil:
				n++
				progressed = true
			case errors.Is(err, ErrInvalidTransition):
				progressed = true // another hub took it
			default:
				return n, err
			}
		}
		if len(due) < store.DefaultPageLimit || !progressed {
			return n, nil
		}
	}
}

// expire moves a pending request to expired and escalates it; ErrInvalidTransition when
// another caller decided or expired it first.
func (h *Hub) expire(ctx context.Context, a *store.Approval) error {
	as, err := h.approvals()
	if err != nil {
		return err
	}
	id := a.ID
	target := h.cfg.EscalationService
	if a.Target != "" {
		if rt, err := h.runtimeFor(ctx, a.Target); err == nil && rt.meta.EscalationService != "" {
			target = rt.meta.EscalationService
		}
	}
	summary := fmt.Sprintf("approval request %s (%s, %s) by %s expired undecided", a.ID, a.Method, a.Action, a.Requester)
	rec := map[string]any{"method": a.Method, "changes": a.Action, "requester": a.Requester, "status": store.ApprovalExpired,
		"expired_at": a.ExpiresAt, "target": target, "summary": summary}
	if a.Target != "" {
		rec["service"] = a.Target
	}
	// the entry first: a request is not expired (nor escalated) without it
	entry, err := h.appendAudit(ctx, &store.AuditEntry{
		Actor: "hub", Action: "approval.expire", EntityType: "approval", EntityID: a.ID, After: mustJSON(rec),
	})
	if err != nil {
		return err
	}
	a, err = as.TransitionApproval(ctx, store.ApprovalTransition{ID: id, From: store.ApprovalPending, To: store.ApprovalExpired})
	if err != nil {
		h.auditAborted(ctx, entry, err)
		return approvalErr(id, err)
	}
	h.log.Warn("hub: approval request expired", "approval", a.ID, "method", a.Method, "target", target)
	h.publishApproval(a, "approval.expire", "hub")
	details := map[string]any{"approval_id": a.ID, "method": a.Method, "changes": a.Action, "requester": a.Requester}
	if a.Target != "" {
		if _, err := h.runtimeFor(ctx, a.Target); err == nil {
			// The service exists: escalate as any incident of it (recorded, then notified).
			if _, err := h.EscalateIntegrationIssue(trusted(ctx), IntegrationIssue{Service: a.Target, Severity: SeverityHigh,
				Summary: summary, Details: details, Actor: "hub"}); err != nil {
				return within(err, "approval %s expired but escalating it failed", a.ID)
			}
			return nil
		}
	}
	if target == "" {
		return nil
	}
	now := h.cfg.Clock()
	text := fmt.Sprintf("[%s] %s", SeverityHigh, summary)
	payload := mustJSON(map[string]any{
		"incident_id": entry.ID, "service": a.Target, "severity": SeverityHigh, "summary": summary,
		"details": details, "text": text, "at": now.UTC().Format(time.RFC3339Nano),
	})
	if _, err := h.ProcessIntegrationEvent(trusted(ctx), EventData{Service: target, Payload: payload,
		IdempotencyKey: "approval:" + a.ID, Priority: store.PriorityHigh, Mode: Async}); err != nil {
		return within(err, "approval %s expired but notifying %q failed", a.ID, target)
	}
	return nil
}

// Recovery of approved changes interrupted while applying.
const (
	// ApprovalApplyTimeout bounds how long an approved change may take to apply.
	ApprovalApplyTimeout = 10 * time.Minute
	// ApprovalRecoveryMargin is added to ApprovalApplyTimeout before a request still
	// applying counts as interrupted (the hub applying it stopped).
	ApprovalRecoveryMargin = time.Minute
)

// RecoverApprovals marks failed every request left applying for longer than
// ApprovalApplyTimeout plus ApprovalRecoveryMargin since its approval — its hub stopped
// (crashed, killed, lost its store) between approving and recording the outcome — with a
// Result saying so and naming the approval's audit entry, after which the audit log shows
// whether the change took effect. The step is audited first ("approval.recover"); of hubs
// sharing the store, one recovers each request. A recovered change is not applied again:
// an approved call may have taken effect in part, so applying it twice is not safe in
// general; request it again if the log shows it did not happen. The hub also does this in
// the background while started (with the expiry of requests). It returns how many requests
// this call recovered.
//
// Errors: ErrForbidden; ErrNotSupported; ErrAuditUnavailable; store errors; ErrClosed.
func (h *Hub) RecoverApprovals(ctx context.Context) (int, error) {
	if err := h.guard(ctx, call{method: "RecoverApprovals", perms: perms(PermApprove)}); err != nil {
		return 0, err
	}
	if h.closed.Load() {
		return 0, ErrClosed
	}
	return h.recoverApprovals(ctx)
}

func (h *Hub) recoverApprovals(ctx context.Context) (int, error) {
	as, err := h.approvals()
	if err != nil {
		return 0, err
	}
	cutoff := h.cfg.Clock().Add(-(ApprovalApplyTimeout + ApprovalRecoveryMargin))
	n, skipped := 0, 0
	for {
		list, err := as.ListApprovals(ctx, store.ApprovalFilter{Status: store.ApprovalApplying,
			Page: store.Page{Limit: store.DefaultPageLimit, Offset: skipped}})
		if err != nil {
			return n, mapStoreErr(err)
		}
		for _, a := range list {
			decided := a.UpdatedAt
			if a.DecidedAt != nil {
				decided = *a.DecidedAt
			}
			if decided.After(cutoff) {
				skipped++ // still within its time to apply
				continue
			}
			ok, err := h.recoverApproval(ctx, as, a, decided)
			if err != nil {
				return n, err
			}
			if ok {
				n++
			}
		}
		if len(list) < store.DefaultPageLimit {
			return n, nil
		}
	}
}

// recoverApproval marks one interrupted request failed; false when another hub recovered
// (or the applying hub finished) it first.
func (h *Hub) recoverApproval(ctx context.Context, as store.ApprovalStore, a *store.Approval, decided time.Time) (bool, error) {
	ref := ""
	if entries, err := h.st.ListAudit(ctx, store.AuditFilter{EntityType: "approval", EntityID: a.ID}); err == nil {
		for _, e := range entries {
			if e.Action == "approval.approve" {
				ref = fmt.Sprintf(" after entry %d", e.Seq)
			}
		}
	}
	reason := fmt.Sprintf("interrupted: the hub applying it stopped before recording the outcome (approved by %s at %s); "+
		"whether the change took effect shows in the audit log%s; request it again if it did not",
		a.DecidedBy, decided.UTC().Format(time.RFC3339), ref)
	next := *a
	next.Status = store.ApprovalFailed
	intent, err := h.auditApproval(ctx, "hub", "approval.recover", &next, map[string]any{"result": reason})
	if err != nil {
		return false, err
	}
	done, err := as.TransitionApproval(ctx, store.ApprovalTransition{ID: a.ID, From: store.ApprovalApplying,
		To: store.ApprovalFailed, Result: reason})
	if err != nil {
		h.auditAborted(ctx, intent, err)
		if errors.Is(err, store.ErrInvalidTransition) || errors.Is(err, store.ErrConflict) {
			return false, nil
		}
		return false, mapStoreErr(err)
	}
	h.log.Warn("hub: an approved change was interrupted while applying; marked failed", "approval", a.ID, "method", a.Method)
	h.publishApproval(done, "approval.recover", "hub")
	return true, nil
}

// approvalLoop expires requests in the background while the hub runs.
func (h *Hub) approvalLoop(ctx context.Context) {
	defer h.bgWG.Done()
	t := time.NewTicker(h.cfg.MaintenanceInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := h.expireApprovals(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("hub: expiring approval requests failed", "error", err)
		}
		if _, err := h.recoverApprovals(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("hub: recovering interrupted approval requests failed", "error", err)
		}
	}
}

// startGovernance starts the background expiry of approval requests when a policy is set.
func (h *Hub) startGovernance(ctx context.Context) {
	if len(h.cfg.Approvals.Require) == 0 && h.approvalsPossible() != nil {
		return
	}
	h.bgWG.Add(1)
	go h.approvalLoop(ctx)
}
