package hub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ehg/hub/store"
)

// This file is the trust layer every call passes: the principal travels in the context,
// and guard checks the permission, then the approval policy, before the method acts; the
// method audits what it did. Every exported method of the hub calls guard first.

// Principal is who makes a call: a person or a system acting on the hub. Put it in the
// call's context with WithPrincipal. With authorization on (WithAuthorization) a call
// without one is refused; the audit log records ID as the actor of what the call does.
type Principal struct {
	// ID identifies the principal (a user id, an e-mail, a service account). Required.
	ID string
	// Roles are the principal's roles; the built-in policy grants their permissions.
	Roles []Role
	// Attributes carry what an embedding platform's own Authorizer needs (tenant,
	// venture ...). The built-in policy ignores them.
	Attributes map[string]string
}

// HasRole reports whether p holds r.
func (p Principal) HasRole(r Role) bool { return slices.Contains(p.Roles, r) }

// Role names a set of permissions.
type Role string

// The built-in roles (see DefaultRoles for what each grants).
const (
	// RoleChairman may do everything, including overrides.
	RoleChairman Role = "chairman"
	// RoleAdmin manages services, credentials, data and approvals.
	RoleAdmin Role = "admin"
	// RoleOperator runs the hub day to day: events, retries, recovery, escalation.
	RoleOperator Role = "operator"
	// RoleViewer reads health, analytics and services.
	RoleViewer Role = "viewer"
)

// Permission names one thing a principal may do.
type Permission string

// Permissions, per API method and action.
const (
	// PermRegister: RegisterIntegration.
	PermRegister Permission = "service.register"
	// PermConfigure: ConfigureService (any change besides enabling or disabling).
	PermConfigure Permission = "service.configure"
	// PermCredentials: a change of a service's credentials (ConfigureService Auth).
	PermCredentials Permission = "service.credentials"
	// PermEndpoints: a change of a service's base or backup URLs or of its connector.
	PermEndpoints Permission = "service.endpoints"
	// PermEnable: enabling or disabling a service (ConfigureService Active, the enable and
	// disable recovery actions).
	PermEnable Permission = "service.enable"
	// PermTest: TestIntegration.
	PermTest Permission = "service.test"
	// PermRemove: RemoveService.
	PermRemove Permission = "service.remove"
	// PermProcess: ProcessIntegrationEvent and ProcessIntegrationEvents.
	PermProcess Permission = "event.process"
	// PermRetry: RetryFailedIntegration and the retry_failed recovery action (redrive).
	PermRetry Permission = "event.retry"
	// PermRecovery: the breaker and failover recovery actions.
	PermRecovery Permission = "recovery.run"
	// PermEscalate: EscalateIntegrationIssue.
	PermEscalate Permission = "issue.escalate"
	// PermTransform: TransformData and ValidateDataContract (pure computations).
	PermTransform Permission = "data.transform"
	// PermRead: health, performance, analytics, services, activity, approvals.
	PermRead Permission = "hub.read"
	// PermReadAudit: ListAudit, VerifyAudit, ExportAudit, CheckpointAudit, ComplianceReport
	// and GovernanceReport.
	PermReadAudit Permission = "audit.read"
	// PermCommand: Command and RunCommand (each step the plan runs is checked too).
	PermCommand Permission = "command.run"
	// PermApprove: Approve, Reject and ExpireApprovals.
	PermApprove Permission = "approval.decide"
	// PermErase: EraseSubject.
	PermErase Permission = "data.erase"
	// PermExport: ExportSubject.
	PermExport Permission = "data.export"
	// PermRetention: RunRetention.
	PermRetention Permission = "data.retention"
	// PermLifecycle: Start and Close.
	PermLifecycle Permission = "hub.lifecycle"
	// PermOverride: applying a change without its approval, or pushing an event to the
	// front of the queue (EventData.ChairmanOverride), with a reason (WithOverride).
	PermOverride Permission = "governance.override"
	// PermGovernance: changing the approval policy or the roles through a configuration
	// document (Apply).
	PermGovernance Permission = "governance.configure"
)

// Permissions lists every permission the hub checks.
func Permissions() []Permission {
	return []Permission{
		PermRegister, PermConfigure, PermCredentials, PermEndpoints, PermEnable, PermTest, PermRemove,
		PermProcess, PermRetry, PermRecovery, PermEscalate, PermTransform, PermRead, PermReadAudit,
		PermCommand, PermApprove, PermErase, PermExport, PermRetention, PermLifecycle, PermOverride, PermGovernance,
	}
}

// AccessRequest is one permission check: may Principal use Permission in Method (on
// Service)?
type AccessRequest struct {
	Principal  Principal
	Method     string
	Permission Permission
	// Service names the service the call concerns as the caller gave it (name or ID); ""
	// when the call concerns none or every service.
	Service string
}

// Decision is an Authorizer's answer.
type Decision struct {
	Allow bool
	// Rule names the rule that decided, for the error and the audit log, e.g.
	// "role admin grants service.register".
	Rule string
}

// Authorizer decides whether a principal may do something. An embedding platform plugs
// its own policy in with WithAuthorization; RolePolicy is the built-in one. An error denies
// the call (fail closed).
type Authorizer interface {
	Authorize(ctx context.Context, req AccessRequest) (Decision, error)
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(ctx context.Context, req AccessRequest) (Decision, error)

// Authorize calls f.
func (f AuthorizerFunc) Authorize(ctx context.Context, req AccessRequest) (Decision, error) {
	return f(ctx, req)
}

// RolePolicy is the built-in Authorizer: each role grants its permissions, and a principal
// holds the union of its roles' permissions. Unknown roles grant nothing.
type RolePolicy map[Role][]Permission

// DefaultRoles returns the built-in roles:
//
//   - viewer: hub.read, data.transform, command.run (each step a command runs is checked
//     as its own call).
//   - operator: viewer's, plus event.process, event.retry, recovery.run, issue.escalate,
//     service.test, service.enable.
//   - admin: operator's, plus service.register, service.configure, service.credentials,
//     service.endpoints, service.remove, audit.read, approval.decide, data.erase,
//     data.export, data.retention, hub.lifecycle.
//   - chairman: every permission, including governance.override and governance.configure.
func DefaultRoles() RolePolicy {
	viewer := []Permission{PermRead, PermTransform, PermCommand}
	operator := append(slices.Clone(viewer), PermProcess, PermRetry, PermRecovery, PermEscalate, PermTest, PermEnable)
	admin := append(slices.Clone(operator), PermRegister, PermConfigure, PermCredentials, PermEndpoints, PermRemove,
		PermReadAudit, PermApprove, PermErase, PermExport, PermRetention, PermLifecycle)
	return RolePolicy{
		RoleViewer:   viewer,
		RoleOperator: operator,
		RoleAdmin:    admin,
		RoleChairman: Permissions(),
	}
}

// Authorize allows the request when one of the principal's roles grants the permission.
func (p RolePolicy) Authorize(_ context.Context, req AccessRequest) (Decision, error) {
	for _, r := range req.Principal.Roles {
		if slices.Contains(p[r], req.Permission) {
			return Decision{Allow: true, Rule: fmt.Sprintf("role %s grants %s", r, req.Permission)}, nil
		}
	}
	if len(req.Principal.Roles) == 0 {
		return Decision{Rule: fmt.Sprintf("no role grants %s: the principal has no roles", req.Permission)}, nil
	}
	names := make([]string, len(req.Principal.Roles))
	for i, r := range req.Principal.Roles {
		names[i] = string(r)
	}
	return Decision{Rule: fmt.Sprintf("no role grants %s (roles: %s)", req.Permission, strings.Join(names, ", "))}, nil
}

// ErrForbidden: the call has no principal, or its principal lacks the permission the call
// needs. The error is a *ForbiddenError naming the permission and the deciding rule.
var ErrForbidden = errors.New("hub: forbidden")

// ForbiddenError reports a refused call. It matches [ErrForbidden].
type ForbiddenError struct {
	// Principal is the caller's ID ("" when the context carried none).
	Principal string
	// Method is the hub method refused, e.g. "RegisterIntegration".
	Method string
	// Permission is the permission missing.
	Permission Permission
	// Rule says what decided, e.g. "no role grants service.register (roles: viewer)".
	Rule string
	// Err is the Authorizer's error when it failed (the call is then refused).
	Err error
}

// Error says who may not do what, and why.
func (e *ForbiddenError) Error() string {
	who := e.Principal
	if who == "" {
		who = "a caller without principal"
	}
	msg := fmt.Sprintf("hub: forbidden: %s may not call %s: needs %s (%s)", who, e.Method, e.Permission, e.Rule)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrForbidden.
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

// Unwrap returns the Authorizer's error, if any.
func (e *ForbiddenError) Unwrap() error { return e.Err }

// WithAuthorization turns authorization on: every call needs a Principal in its context
// (WithPrincipal) holding the permission the call needs, as a decides; a refused call
// returns a *ForbiddenError (ErrForbidden) and is audited ("access.denied"). A nil a is
// the built-in DefaultRoles. Without this option the hub checks nothing.
func WithAuthorization(a Authorizer) Option {
	return func(c *Config) error {
		// a is not assigned here: one Option may configure several hubs at once
		c.Authorizer = a
		if a == nil {
			c.Authorizer = DefaultRoles()
		}
		return nil
	}
}

type ctxKey int

const (
	principalKey ctxKey = iota
	overrideKey
	reasonKey
	trustedKey
)

// WithPrincipal returns a context carrying p as the caller of the hub's methods.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	p.Roles = slices.Clone(p.Roles)
	return context.WithValue(ctx, principalKey, p)
}

// PrincipalFrom returns the principal ctx carries, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey).(Principal)
	return p, ok && p.ID != ""
}

// WithOverride returns a context whose calls the principal (a chairman: governance.override)
// makes as an override: a change the approval policy holds back applies at once, and an
// event with EventData.ChairmanOverride may go to the front of the queue. reason is
// mandatory; each override is audited as an intervention and counted in GovernanceReport.
func WithOverride(ctx context.Context, reason string) context.Context {
	return context.WithValue(ctx, overrideKey, strings.TrimSpace(reason))
}

// WithReason returns a context whose calls carry reason, the justification an approval
// request stores for its approvers.
func WithReason(ctx context.Context, reason string) context.Context {
	return context.WithValue(ctx, reasonKey, reason)
}

func overrideFrom(ctx context.Context) (string, bool) {
	r, ok := ctx.Value(overrideKey).(string)
	return r, ok
}

func reasonFrom(ctx context.Context) string {
	r, _ := ctx.Value(reasonKey).(string)
	return r
}

// trusted marks ctx as inside a call that already passed guard (a step of a recovery plan,
// an incident's notification, an approved change being applied, a background job): the
// hub's own nested calls are not checked again. Only this package can set the mark.
func trusted(ctx context.Context) context.Context {
	return context.WithValue(ctx, trustedKey, true)
}

func isTrusted(ctx context.Context) bool {
	v, _ := ctx.Value(trustedKey).(bool)
	return v
}

// actorIn is the audit actor of a call: the principal when the context carries one, else
// the free-text actor the caller named (default "hub").
func actorIn(ctx context.Context, who string) string {
	if p, ok := PrincipalFrom(ctx); ok {
		return p.ID
	}
	return actor(who)
}

// call describes one API call for guard.
type call struct {
	// method is the hub method's name.
	method string
	// service names the service concerned, as the caller gave it.
	service string
	// perms are the permissions the call needs, all of them.
	perms []Permission
	// priority is set when the call pushes events to the front of the queue
	// (EventData.ChairmanOverride): an override.
	priority bool
	// propose describes the change for the approval policy; nil for calls that change
	// nothing a policy can name. It runs only when a policy is configured.
	propose func(ctx context.Context) (*proposal, error)
}

// guard is the one place every call passes before acting: the principal, the permissions,
// an override's permission and reason, then the approval policy. It returns nil when the
// call may go ahead, a *ForbiddenError (audited) when it may not, and an
// *ApprovalRequiredError when the change was stored for approval instead.
func (h *Hub) guard(ctx context.Context, c call) error {
	if h.cfg.Authorizer == nil || isTrusted(ctx) {
		return nil
	}
	g, err := h.governance(ctx)
	if err != nil {
		return err
	}
	az := h.authorizerOf(g)
	p, ok := PrincipalFrom(ctx)
	if !ok {
		perm := Permission("")
		if len(c.perms) > 0 {
			perm = c.perms[0]
		}
		return h.deny(ctx, c, &ForbiddenError{Method: c.method, Permission: perm, Rule: "the context carries no principal, see WithPrincipal"})
	}
	for _, perm := range c.perms {
		if err := h.authorize(ctx, az, p, c, perm); err != nil {
			return err
		}
	}
	reason, override := overrideFrom(ctx)
	if override && reason == "" {
		return fmt.Errorf("%w: an override needs a reason (WithOverride)", ErrInvalidInput)
	}
	if c.priority {
		if !override {
			return h.deny(ctx, c, &ForbiddenError{Principal: p.ID, Method: c.method, Permission: PermOverride,
				Rule: "a chairman override of the queue needs a reason (WithOverride)"})
		}
		if err := h.authorize(ctx, az, p, c, PermOverride); err != nil {
			return err
		}
		h.intervention(ctx, p, c, interventionPriority, nil, reason)
	}
	pol := h.approvalPolicyOf(g)
	if c.propose == nil || len(pol.Require) == 0 {
		return nil
	}
	prop, err := c.propose(ctx)
	if err != nil {
		return err
	}
	kinds := pol.held(prop)
	if len(kinds) == 0 {
		return nil
	}
	if override {
		if err := h.authorize(ctx, az, p, c, PermOverride); err != nil {
			return err
		}
		h.intervention(ctx, p, c, interventionApproval, kinds, reason)
		return nil
	}
	return h.requestApproval(ctx, p, c, prop, kinds, pol.TTL)
}

// authorize asks the Authorizer about one permission, denying on a refusal or an error.
func (h *Hub) authorize(ctx context.Context, az Authorizer, p Principal, c call, perm Permission) error {
	d, err := az.Authorize(ctx, AccessRequest{Principal: p, Method: c.method, Permission: perm, Service: c.service})
	if err != nil {
		return h.deny(ctx, c, &ForbiddenError{Principal: p.ID, Method: c.method, Permission: perm, Rule: "the authorizer failed", Err: err})
	}
	if !d.Allow {
		rule := d.Rule
		if rule == "" {
			rule = "the authorizer refused"
		}
		return h.deny(ctx, c, &ForbiddenError{Principal: p.ID, Method: c.method, Permission: perm, Rule: rule})
	}
	return nil
}

// deny audits a refusal ("access.denied") and returns it.
func (h *Hub) deny(ctx context.Context, c call, fe *ForbiddenError) error {
	who := fe.Principal
	if who == "" {
		who = "anonymous"
	}
	rec := map[string]any{"method": c.method, "permission": fe.Permission, "rule": fe.Rule}
	if c.service != "" {
		rec["service"] = c.service
	}
	if _, err := h.st.AppendAudit(context.WithoutCancel(ctx), &store.AuditEntry{
		Actor: who, Action: "access.denied", EntityType: "access", EntityID: c.method, After: mustJSON(rec),
	}); err != nil {
		h.log.Error("hub: auditing a refused call failed", "method", c.method, "error", err)
	}
	h.log.Warn("hub: call refused", "principal", who, "method", c.method, "permission", string(fe.Permission))
	return fe
}

// Intervention kinds, as GovernanceReport counts them.
const (
	interventionApproval = "approval_bypass"
	interventionPriority = "priority"
)

// intervention audits a chairman's override ("governance.intervention").
func (h *Hub) intervention(ctx context.Context, p Principal, c call, kind string, kinds []ChangeKind, reason string) {
	rec := map[string]any{"kind": kind, "method": c.method, "reason": reason}
	if c.service != "" {
		rec["service"] = c.service
	}
	if len(kinds) > 0 {
		rec["changes"] = kinds
	}
	if _, err := h.st.AppendAudit(context.WithoutCancel(ctx), &store.AuditEntry{
		Actor: p.ID, Action: "governance.intervention", EntityType: "intervention", EntityID: c.method, After: mustJSON(rec),
	}); err != nil {
		h.log.Error("hub: auditing an intervention failed", "method", c.method, "error", err)
	}
	h.log.Info("hub: chairman intervention", "principal", p.ID, "method", c.method, "kind", kind)
}

// Authorize checks, as every method does before it acts, whether ctx's principal holds
// every permission of perms; a refusal is a *ForbiddenError (ErrForbidden), audited. It is
// for layers over the hub that serve what they read from it once to many callers (a
// shared live stream): they check each caller here. Without authorization it allows
// everything.
func (h *Hub) Authorize(ctx context.Context, perms ...Permission) error {
	return h.guard(ctx, call{method: "Authorize", perms: perms})
}

// perms is a shorthand for a permission list.
func perms(ps ...Permission) []Permission { return ps }
