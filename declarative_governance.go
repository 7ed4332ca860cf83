package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ehg/hub/config"
	"github.com/ehg/hub/store"
)

// The approval policy, the roles and the retention policy can be set by a configuration
// document. They are kept in the store's configuration state (the "approvals", "roles"
// and "retention" members of the last applied document), so every hub sharing the store
// enforces them, and a restarted hub too: a hub reloads them at most every
// serviceRefreshMin (on a call with authorization on, and before each cleaner round), and
// at once after it changed them. Absent from the state, the hub's options (WithApprovals,
// WithAuthorization, WithRetention) are in force.

// governanceState is the governance a hub enforces, as last read from the store.
type governanceState struct {
	loaded   time.Time
	revision int64
	// approvals is the stored approval policy (nil: Config.Approvals).
	approvals *ApprovalPolicy
	// roles is the stored role policy (nil: the configured Authorizer's).
	roles RolePolicy
	// retention is the stored retention policy (nil: Config.Retention).
	retention *RetentionPolicy
}

// governanceDoc is the governance a document sets: the approval policy and the roles, each
// nil when the document leaves it as it is.
type governanceDoc struct {
	Approvals *config.Approvals   `json:"approvals,omitempty"`
	Roles     map[string][]string `json:"roles,omitempty"`
	// BaseRevision is the configuration revision the change was made against and BaseSum
	// a hash of the approval policy and roles stored then (governanceSum): the change is
	// refused as stale when they changed since, so approving an old request never undoes
	// a later change.
	BaseRevision int64  `json:"base_revision,omitempty"`
	BaseSum      string `json:"base_sum,omitempty"`
}

// governanceSum hashes an approval policy and roles in their normal form.
func governanceSum(a *config.Approvals, roles map[string][]string) string {
	var g governanceDoc
	if a != nil {
		g.Approvals = normalApprovals(a)
	}
	if roles != nil {
		g.Roles = normalRoles(roles)
	}
	sum := sha256.Sum256(mustJSON(g))
	return hex.EncodeToString(sum[:])
}

// governanceLoadTimeout bounds the store read of a reload.
const governanceLoadTimeout = 5 * time.Second

// governance returns the governance in force, reloading it from the store when the cached
// copy is older than serviceRefreshMin. A failed reload keeps the cached copy; with none,
// it is an error (calls are refused rather than checked against a policy that may be
// outdated).
func (h *Hub) governance(ctx context.Context) (*governanceState, error) {
	g := h.gov.Load()
	if g != nil && time.Since(g.loaded) < serviceRefreshMin {
		return g, nil
	}
	cs, ok := h.st.(store.ConfigStateStore)
	if !ok {
		g = &governanceState{loaded: time.Now()}
		h.gov.Store(g)
		return g, nil
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), governanceLoadTimeout)
	defer cancel()
	state, err := cs.GetConfigState(lctx)
	if err != nil {
		if g != nil {
			h.log.Warn("hub: reloading the governance policy failed; keeping the one loaded", "error", err)
			return g, nil
		}
		return nil, fmt.Errorf("hub: reading the governance policy: %w", mapStoreErr(err))
	}
	if g != nil && g.revision == state.Revision && state.Revision > 0 {
		next := *g
		next.loaded = time.Now()
		h.gov.Store(&next)
		return &next, nil
	}
	next := &governanceState{loaded: time.Now(), revision: state.Revision}
	if len(state.Document) > 0 {
		var d config.Document
		if err := json.Unmarshal(state.Document, &d); err != nil {
			return nil, fmt.Errorf("hub: the stored configuration document is unreadable: %w", err)
		}
		if d.Approvals != nil {
			pol := approvalPolicyOf(d.Approvals)
			next.approvals = &pol
		}
		if d.Roles != nil {
			next.roles = rolePolicyOf(d.Roles)
		}
		if d.Retention != nil {
			if pol, err := retentionPolicy(d.Retention); err == nil {
				next.retention = &pol
			}
		}
	}
	h.gov.Store(next)
	return next, nil
}

// authorizerOf is the Authorizer in force: the stored roles when the hub uses the
// built-in role policy and roles were applied, else the configured one.
func (h *Hub) authorizerOf(g *governanceState) Authorizer {
	if g != nil && g.roles != nil {
		if _, ok := h.cfg.Authorizer.(RolePolicy); ok {
			return g.roles
		}
	}
	return h.cfg.Authorizer
}

// approvalPolicyOf is the approval policy in force.
func (h *Hub) approvalPolicyOf(g *governanceState) ApprovalPolicy {
	if g != nil && g.approvals != nil {
		return *g.approvals
	}
	return h.cfg.Approvals
}

func approvalPolicyOf(a *config.Approvals) ApprovalPolicy {
	p := ApprovalPolicy{TTL: time.Duration(a.TTL)}
	for _, k := range a.Require {
		p.Require = append(p.Require, ChangeKind(k))
	}
	if p.TTL <= 0 {
		p.TTL = ApprovalTTLDefault
	}
	return p
}

func rolePolicyOf(roles map[string][]string) RolePolicy {
	out := RolePolicy{}
	for name, ps := range roles {
		list := make([]Permission, len(ps))
		for i, p := range ps {
			list[i] = Permission(p)
		}
		out[Role(name)] = list
	}
	return out
}

// governanceView returns the approval policy and roles in force in document form, from
// the last applied document or else the hub's options: roles only when the hub uses the
// built-in role policy, the approval policy only when it holds something back.
func (h *Hub) governanceView(last *config.Document) (*config.Approvals, map[string][]string) {
	var approvals *config.Approvals
	var roles map[string][]string
	switch {
	case last != nil && last.Approvals != nil:
		approvals = normalApprovals(last.Approvals)
	case len(h.cfg.Approvals.Require) > 0:
		a := &config.Approvals{TTL: config.Duration(h.cfg.Approvals.TTL)}
		for _, k := range h.cfg.Approvals.Require {
			a.Require = append(a.Require, string(k))
		}
		approvals = normalApprovals(a)
	}
	switch rp, ok := h.cfg.Authorizer.(RolePolicy); {
	case last != nil && last.Roles != nil:
		roles = normalRoles(last.Roles)
	case ok:
		roles = map[string][]string{}
		for r, ps := range rp {
			for _, p := range ps {
				roles[string(r)] = append(roles[string(r)], string(p))
			}
		}
		roles = normalRoles(roles)
	}
	return approvals, roles
}

// normalApprovals sorts the kinds; a zero TTL stays zero (the default).
func normalApprovals(a *config.Approvals) *config.Approvals {
	out := &config.Approvals{Require: slices.Sorted(slices.Values(a.Require)), TTL: a.TTL}
	if out.Require == nil {
		out.Require = []string{}
	}
	return out
}

// normalRoles sorts each role's permissions and drops repeats.
func normalRoles(roles map[string][]string) map[string][]string {
	out := make(map[string][]string, len(roles))
	for name, ps := range roles {
		out[name] = slices.Compact(slices.Sorted(slices.Values(ps)))
		if out[name] == nil {
			out[name] = []string{}
		}
	}
	return out
}

// planGovernance plans the document's approval policy and roles against the ones in
// force, and refuses governance that would lock everyone out (see planLockout).
func (h *Hub) planGovernance(ctx context.Context, doc *config.Document, snap *snapshot, p *ConfigPlan, addErr func(error)) {
	failed := false
	h.planGovernanceChanges(doc, snap, p, func(err error) {
		failed = true
		addErr(err)
	})
	if !failed && (doc.Approvals != nil || doc.Roles != nil) {
		h.planLockout(ctx, doc, snap, addErr)
	}
}

// planLockout refuses, with the built-in role policy, governance after which nobody could
// change it again: an approval policy holding back governance changes while no role
// grants approval.decide, or roles taking governance.configure from the principal
// applying them.
func (h *Hub) planLockout(ctx context.Context, doc *config.Document, snap *snapshot, addErr func(error)) {
	if _, ok := h.cfg.Authorizer.(RolePolicy); !ok {
		return // a custom Authorizer decides on its own
	}
	roles, approvals := snap.roles, snap.approvals
	if doc.Roles != nil {
		roles = doc.Roles
	}
	if doc.Approvals != nil {
		approvals = doc.Approvals
	}
	if approvals != nil && slices.Contains(approvals.Require, string(ChangeGovernance)) && !grants(roles, PermApprove) {
		path := "roles"
		if doc.Roles == nil {
			path = fmt.Sprintf("approvals.require[%d]", slices.Index(approvals.Require, string(ChangeGovernance)))
		}
		addErr(doc.ErrorAt(path, ErrInvalidConfig, "approvals hold back %s but no role grants %s: nobody could approve a later change of the roles or the approval policy",
			ChangeGovernance, PermApprove))
	}
	if doc.Roles != nil {
		if reason := h.losesGovernance(ctx, doc.Roles); reason != "" {
			addErr(doc.ErrorAt("roles", ErrInvalidConfig, "%s", reason))
		}
	}
}

// grants reports whether some role grants perm.
func grants(roles map[string][]string, perm Permission) bool {
	for _, ps := range roles {
		if slices.Contains(ps, string(perm)) {
			return true
		}
	}
	return false
}

// losesGovernance says why the principal of ctx, who holds governance.configure under the
// roles in force, would not hold it under roles; "" when it would, when it does not hold
// it now (the permission check refuses the change, or another principal approves it), or
// when authorization is off, the built-in role policy is not in use or ctx is trusted.
func (h *Hub) losesGovernance(ctx context.Context, roles map[string][]string) string {
	if _, ok := h.cfg.Authorizer.(RolePolicy); !ok || isTrusted(ctx) {
		return ""
	}
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return ""
	}
	req := AccessRequest{Principal: p, Method: "Apply", Permission: PermGovernance}
	g, err := h.governance(ctx)
	if err != nil {
		return "" // the permission check reports the unreadable policy
	}
	if d, err := h.authorizerOf(g).Authorize(ctx, req); err != nil || !d.Allow {
		return ""
	}
	d, err := rolePolicyOf(roles).Authorize(ctx, req)
	if err == nil && d.Allow {
		return ""
	}
	return fmt.Sprintf("these roles take %s from %q, who applies them (%s): keep it in one of the principal's roles", PermGovernance, p.ID, d.Rule)
}

// planGovernanceChanges plans the document's approval policy and roles against the ones
// in force. Absent members leave them as they are; present roles list every role, so
// roles in force that the document does not name are removed.
func (h *Hub) planGovernanceChanges(doc *config.Document, snap *snapshot, p *ConfigPlan, addErr func(error)) {
	if a := doc.Approvals; a != nil {
		ok := true
		for i, k := range a.Require {
			if !slices.Contains(changeKinds(), ChangeKind(k)) {
				addErr(doc.ErrorAt(fmt.Sprintf("approvals.require[%d]", i), ErrInvalidConfig, "unknown change kind %q (known: %s)", k, kindList()))
				ok = false
			}
		}
		if len(a.Require) > 0 {
			if err := h.approvalsPossible(); err != nil {
				addErr(doc.ErrorAt("approvals", err, ""))
				ok = false
			}
		}
		if ok {
			want := normalApprovals(a)
			ch := ConfigChange{Kind: KindApprovals, Name: "approvals", Path: "approvals", Action: PlanUnchanged}
			var cur config.Approvals
			if snap.approvals != nil {
				cur = *snap.approvals
			}
			if old, nv := strings.Join(cur.Require, ", "), strings.Join(want.Require, ", "); snap.approvals == nil || old != nv {
				ch.Fields = append(ch.Fields, FieldChange{Field: "require", Old: old, New: nv})
			}
			if cur.TTL != want.TTL {
				ch.Fields = append(ch.Fields, FieldChange{Field: "ttl", Old: durString(cur.TTL), New: durString(want.TTL)})
			}
			switch {
			case snap.approvals == nil:
				ch.Action = PlanCreate
			case len(ch.Fields) > 0:
				ch.Action = PlanUpdate
			}
			p.Changes = append(p.Changes, ch)
		}
	}
	if doc.Roles == nil {
		return
	}
	if _, ok := h.cfg.Authorizer.(RolePolicy); !ok {
		addErr(doc.ErrorAt("roles", ErrInvalidConfig, "roles need the built-in role policy: WithAuthorization(nil) or a hub.RolePolicy"))
		return
	}
	governs := false
	for _, name := range slices.Sorted(maps.Keys(doc.Roles)) {
		if name == "" {
			continue // reported by Validate
		}
		for i, perm := range doc.Roles[name] {
			if !slices.Contains(Permissions(), Permission(perm)) {
				addErr(doc.ErrorAt(fmt.Sprintf("%s[%d]", config.RolePath(name), i), ErrInvalidConfig, "unknown permission %q", perm))
			}
			governs = governs || perm == string(PermGovernance)
		}
	}
	if !governs {
		addErr(doc.ErrorAt("roles", ErrInvalidConfig, "no role grants %s: nobody could change the roles or the approval policy again", PermGovernance))
		return
	}
	want := normalRoles(doc.Roles)
	for _, name := range slices.Sorted(maps.Keys(want)) {
		ch := ConfigChange{Kind: KindRole, Name: name, Path: config.RolePath(name), Action: PlanUnchanged}
		nv := strings.Join(want[name], ", ")
		cur, ok := snap.roles[name]
		switch old := strings.Join(cur, ", "); {
		case !ok:
			ch.Action = PlanCreate
			ch.Fields = []FieldChange{{Field: "permissions", New: nv}}
		case old != nv:
			ch.Action = PlanUpdate
			ch.Fields = []FieldChange{{Field: "permissions", Old: old, New: nv}}
		}
		p.Changes = append(p.Changes, ch)
	}
	for _, name := range slices.Sorted(maps.Keys(snap.roles)) {
		if _, ok := want[name]; !ok {
			p.Changes = append(p.Changes, ConfigChange{Kind: KindRole, Name: name, Path: config.RolePath(name), Action: PlanRemove,
				Fields: []FieldChange{{Field: "permissions", Old: strings.Join(snap.roles[name], ", ")}}})
		}
	}
}

func durString(d config.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func kindList() string {
	names := make([]string, 0, len(changeKinds()))
	for _, k := range changeKinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

// approvalsPossible checks what an approval policy needs, as WithApprovals does.
func (h *Hub) approvalsPossible() error {
	switch {
	case h.cfg.Authorizer == nil:
		return configErr("approvals", "approvals need authorization (WithAuthorization): requester and approver are principals", nil)
	case !h.vault.canSeal():
		return configErr("approvals", "approvals need a secret key (WithSecretKey) or a key service (WithSealer): proposed changes are stored sealed", nil)
	}
	if _, ok := h.st.(store.ApprovalStore); !ok {
		return configErr("approvals", "the store does not implement store.ApprovalStore", nil)
	}
	return nil
}

// isGovernance reports whether a plan change is of the approval policy or the roles.
func isGovernance(kind string) bool { return kind == KindApprovals || kind == KindRole }

// governanceTarget is the governance change of the plan's document: the members it sets
// (nil: kept as they are), made against revision, whose approval policy and roles are
// those of last (the last applied document).
func governanceTarget(doc, last *config.Document, revision int64) governanceDoc {
	g := governanceDoc{BaseRevision: revision}
	if last != nil {
		g.BaseSum = governanceSum(last.Approvals, last.Roles)
	} else {
		g.BaseSum = governanceSum(nil, nil)
	}
	if doc.Approvals != nil {
		g.Approvals = normalApprovals(doc.Approvals)
	}
	if doc.Roles != nil {
		g.Roles = normalRoles(doc.Roles)
	}
	return g
}

// applyGovernance sets the approval policy and roles, after the permission
// (governance.configure) and approval checks of a governance change: when the policy in
// force holds back "governance.policy", the change waits as an approval request and is
// made when approved.
func (h *Hub) applyGovernance(ctx context.Context, g governanceDoc, who string) (int64, error) {
	if g.Roles != nil {
		if reason := h.losesGovernance(ctx, g.Roles); reason != "" {
			return 0, fmt.Errorf("%w: %s", ErrInvalidConfig, reason)
		}
	}
	if err := h.guard(ctx, call{method: "ApplyGovernance", perms: perms(PermGovernance), propose: func(context.Context) (*proposal, error) {
		gc := g
		return &proposal{kinds: []ChangeKind{ChangeGovernance}, change: proposedChange{Method: "ApplyGovernance", Governance: &gc}}, nil
	}}); err != nil {
		return 0, err
	}
	return h.setGovernance(ctx, g, actorIn(ctx, who))
}

// governanceSwapAttempts bounds the retries of setGovernance when other change sets are
// applied at the same moment.
const governanceSwapAttempts = 5

// setGovernance writes the approval policy and roles g sets into the configuration state
// (a new revision) and returns the new revision. It refuses with ErrStalePlan when the
// stored approval policy or roles are no longer those g was made against. The change is
// audited ("governance.policy") before it is made: when the entry cannot be written it is
// not made (ErrAuditUnavailable), and a change that fails after its entry is followed by
// "governance.policy.aborted".
func (h *Hub) setGovernance(ctx context.Context, g governanceDoc, who string) (int64, error) {
	cs, err := h.configStore()
	if err != nil {
		return 0, err
	}
	for range governanceSwapAttempts {
		state, err := cs.GetConfigState(ctx)
		if err != nil {
			return 0, mapStoreErr(err)
		}
		d := config.Document{Version: config.FormatVersion}
		if len(state.Document) > 0 {
			if err := json.Unmarshal(state.Document, &d); err != nil {
				return 0, fmt.Errorf("hub: the stored configuration document is unreadable: %w", err)
			}
		}
		if g.BaseSum == "" || governanceSum(d.Approvals, d.Roles) != g.BaseSum {
			return 0, fmt.Errorf("%w: the approval policy or the roles changed since this change was made at revision %d (now %d); plan again",
				ErrStalePlan, g.BaseRevision, state.Revision)
		}
		before := governanceDoc{Approvals: d.Approvals, Roles: d.Roles}
		if g.Approvals != nil {
			d.Approvals = g.Approvals
		}
		if g.Roles != nil {
			d.Roles = g.Roles
		}
		b, err := json.Marshal(&d)
		if err != nil {
			return 0, fmt.Errorf("hub: encoding the configuration document: %w", err)
		}
		intent, err := h.appendAudit(ctx, &store.AuditEntry{Actor: who, Action: "governance.policy", EntityType: "governance",
			EntityID: strconv.FormatInt(state.Revision+1, 10), Before: mustJSON(before), After: mustJSON(governanceDoc{Approvals: d.Approvals, Roles: d.Roles})})
		if err != nil {
			return 0, err
		}
		sum := sha256.Sum256(b)
		next, err := cs.SwapConfigState(ctx, store.SwapConfigStateParams{Revision: state.Revision, Document: b, Fingerprint: hex.EncodeToString(sum[:]), Actor: who})
		if err != nil {
			h.auditAborted(ctx, intent, err)
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			return 0, mapStoreErr(err)
		}
		h.gov.Store(nil) // reload at the next call
		h.log.Info("hub: governance policy set", "revision", next.Revision, "actor", who)
		return next.Revision, nil
	}
	return 0, fmt.Errorf("%w: the configuration changed %d times while the governance policy was set; plan again", ErrStalePlan, governanceSwapAttempts)
}
