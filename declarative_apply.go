package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/ehg/hub/config"
	"github.com/ehg/hub/store"
)

// retentionPolicy is the retention policy in force: the one a configuration document
// applied last (as kept in the store's configuration state, so every hub sharing the store
// and a restarted hub use it; see governance), else Config.Retention.
func (h *Hub) retentionPolicy() RetentionPolicy {
	if g := h.gov.Load(); g != nil && g.retention != nil {
		return *g.retention
	}
	if p := h.appliedRetention.Load(); p != nil {
		return *p
	}
	return h.cfg.Retention
}

// Apply carries out a plan made by Plan, as one change set: new contract versions are
// stored, then services are registered, reconfigured (only the members that changed) and
// removed, then the retention policy is set. Each step goes through the same validation
// and audit as the API call it stands for, and one more audit entry
// ("configuration.apply") records the whole change set with its revision.
//
// The plan must still describe the store: when another apply or an API change happened
// since it was made, Apply returns ErrStalePlan and changes nothing. Of two plans made
// from the same state and applied concurrently, by this hub or another one sharing the
// store, exactly one is applied. Applying is idempotent in effect: after an interrupted
// apply, a new plan of the same document lists exactly what is left.
//
// The approval policy and roles of the document are one last step, kept in the store's
// configuration state so every hub sharing the store enforces them; it advances the
// revision once more and is audited ("governance.policy").
//
// With an Authorizer, Apply needs PermConfigure (and PermRegister when the plan stores
// contracts, PermRetention when it sets the retention policy, PermGovernance when it sets
// the approval policy or roles), and every step passes the
// permission and approval checks of the call it stands for: a step the approval policy
// holds back is stored as an approval request and listed in ApplyResult.Pending, while
// the other steps go ahead; it is carried out when approved.
//
// Errors: ErrStalePlan; *ForbiddenError; ErrNotSupported when the store has no store.ConfigStateStore; a
// *config.Error naming the document path of a step that failed (wrapping the hub's
// error), with the result listing the steps applied before it; ErrClosed.
func (h *Hub) Apply(ctx context.Context, p *ConfigPlan) (*ApplyResult, error) {
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if p == nil || p.doc == nil {
		return nil, configErr("ConfigPlan", "the plan was not made by Plan", nil)
	}
	if err := h.guard(ctx, call{method: "Apply", perms: p.permissions()}); err != nil {
		return nil, err
	}
	cs, err := h.configStore()
	if err != nil {
		return nil, err
	}
	snap, err := h.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case snap.state.Revision != p.Revision:
		return nil, fmt.Errorf("%w: the configuration is at revision %d, the plan was made at %d; plan again", ErrStalePlan, snap.state.Revision, p.Revision)
	case snap.fingerprint != p.Fingerprint:
		return nil, fmt.Errorf("%w: the configuration was changed outside the document since the plan was made; plan again", ErrStalePlan)
	}
	// the approval policy and roles change only when their step is carried out (it may
	// wait for approval): until then the state keeps the ones in force
	stateDoc := p.doc.Clone()
	stateDoc.Approvals, stateDoc.Roles = nil, nil
	if snap.last != nil {
		stateDoc.Approvals, stateDoc.Roles = snap.last.Approvals, snap.last.Roles
		if stateDoc.Retention == nil {
			stateDoc.Retention = snap.last.Retention // absent: the policy stays as it is
		}
	}
	docJSON, err := json.Marshal(stateDoc)
	if err != nil {
		return nil, fmt.Errorf("hub: encoding the configuration document: %w", err)
	}
	sum := sha256.Sum256(docJSON)
	who := actorIn(ctx, p.Actor)
	state, err := cs.SwapConfigState(ctx, store.SwapConfigStateParams{Revision: p.Revision, Document: docJSON, Fingerprint: hex.EncodeToString(sum[:]), Actor: who})
	if errors.Is(err, store.ErrConflict) {
		return nil, fmt.Errorf("%w: another change set was applied at revision %d first; plan again", ErrStalePlan, p.Revision+1)
	}
	if err != nil {
		return nil, mapStoreErr(err)
	}
	h.gov.Store(nil) // the policies kept in the state are read again at the next use
	res := &ApplyResult{ChangeSetID: uuid.NewString(), Revision: state.Revision}
	err = h.applyChanges(ctx, p, snap, who, res)
	h.auditChangeSet(ctx, who, res, p, err)
	if err != nil {
		return res, err
	}
	h.log.Info("hub: configuration applied", "revision", res.Revision, "changes", len(res.Applied), "change_set", res.ChangeSetID)
	return res, nil
}

// permissions are what applying the plan needs besides each step's own.
func (p *ConfigPlan) permissions() []Permission {
	out := []Permission{PermConfigure}
	for _, c := range p.Changes {
		switch {
		case c.Action == PlanUnchanged:
		case c.Kind == KindContract && !slices.Contains(out, PermRegister):
			out = append(out, PermRegister)
		case c.Kind == KindRetention:
			out = append(out, PermRetention)
		case isGovernance(c.Kind) && !slices.Contains(out, PermGovernance):
			out = append(out, PermGovernance)
		}
	}
	return out
}

func (h *Hub) applyChanges(ctx context.Context, p *ConfigPlan, snap *snapshot, who string, res *ApplyResult) error {
	doc := p.doc
	docContracts := map[string]config.Contract{}
	for _, c := range doc.Contracts {
		docContracts[c.Name+"@"+c.Version] = c
	}
	ref := func(r *config.ContractRef) *ContractRef {
		if r == nil {
			return nil
		}
		out := &ContractRef{Name: r.Name, Version: r.Version}
		if c, ok := docContracts[r.String()]; ok {
			out.Schema = c.Schema
		}
		return out
	}
	// routes and schedules are removed first: they name services the plan may remove
	removedFirst := func(ch ConfigChange) bool {
		return (ch.Kind == KindRoute || ch.Kind == KindSchedule) && ch.Action == PlanRemove
	}
	ordered := make([]ConfigChange, 0, len(p.Changes))
	for _, ch := range p.Changes {
		if removedFirst(ch) {
			ordered = append(ordered, ch)
		}
	}
	for _, ch := range p.Changes {
		if !removedFirst(ch) {
			ordered = append(ordered, ch)
		}
	}
	var governance []ConfigChange
	for _, ch := range ordered {
		if ch.Action == PlanUnchanged {
			continue
		}
		if isGovernance(ch.Kind) {
			governance = append(governance, ch) // one step, after the others
			continue
		}
		var err error
		switch ch.Kind {
		case KindContract:
			c := docContracts[ch.Name]
			err = h.storeContract(ctx, "Contract", &ContractRef{Name: c.Name, Version: c.Version, Schema: c.Schema})
		case KindService:
			err = h.applyService(ctx, doc, snap, ch, who, ref)
		case KindRoute:
			err = h.applyRoute(ctx, doc, ch, who)
		case KindSchedule:
			err = h.applySchedule(ctx, doc, ch, who)
		case KindRetention:
			var pol RetentionPolicy
			if pol, err = retentionPolicy(doc.Retention); err == nil {
				if _, ok := h.st.(store.RetentionStore); !ok && !pol.IsZero() {
					err = fmt.Errorf("%w: the store cannot delete old records (store.RetentionStore)", ErrNotSupported)
				} else {
					h.appliedRetention.Store(&pol)
				}
			}
		}
		var ar *ApprovalRequiredError
		if errors.As(err, &ar) {
			res.Pending = append(res.Pending, PendingChange{Change: ch, ApprovalID: ar.ID})
			continue
		}
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return err
			}
			return doc.ErrorAt(ch.Path, err, "applying the %s of %s %s", ch.Action, ch.Kind, ch.Name)
		}
		res.Applied = append(res.Applied, ch)
	}
	if len(governance) == 0 {
		return nil
	}
	rev, err := h.applyGovernance(ctx, governanceTarget(doc, snap.last, res.Revision), who)
	var ar *ApprovalRequiredError
	switch {
	case errors.As(err, &ar):
		for _, ch := range governance {
			res.Pending = append(res.Pending, PendingChange{Change: ch, ApprovalID: ar.ID})
		}
	case err != nil:
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return err
		}
		return doc.ErrorAt(governance[0].Path, err, "applying the approval policy and roles")
	default:
		res.Applied = append(res.Applied, governance...)
		res.Revision = rev
	}
	return nil
}

func (h *Hub) applyService(ctx context.Context, doc *config.Document, snap *snapshot, ch ConfigChange, who string, ref func(*config.ContractRef) *ContractRef) error {
	switch ch.Action {
	case PlanRemove:
		_, err := h.RemoveService(ctx, snap.services[ch.Name].svc.ID, RemoveOptions{Drain: true, Actor: who, Reason: "removed by a configuration change set"})
		return err
	}
	s := h.normalService(*doc.Service(ch.Name))
	auth, err := doc.ResolveAuth(ctx, s.Name)
	if err != nil {
		return err
	}
	if ch.Action == PlanCreate {
		_, err := h.RegisterIntegration(ctx, IntegrationConfig{
			Name: s.Name, Category: store.ServiceCategory(s.Category), Connector: s.Connector, BaseURL: s.BaseURL,
			BackupURLs: s.BackupURLs, Auth: auth, ConnectorOptions: s.Options, RateLimits: s.RateLimits,
			CircuitBreaker: s.CircuitBreaker, Retry: s.Retry, MaxRetries: s.MaxRetries, HealthCheck: s.HealthCheck,
			InputContract: ref(s.InputContract), Contract: ref(s.Contract), Mapping: s.Mapping, DeliveryMapping: s.DeliveryMapping,
			Operation: s.Operation, EscalationService: s.EscalationService, CostPerCall: s.CostPerCall,
			Redirects: redirectPolicy(s.Redirects), Disabled: s.Disabled, Actor: who, DataRegion: s.Region,
		})
		return err
	}
	var sc ServiceConfig
	orNull := func(v json.RawMessage) json.RawMessage {
		if len(v) == 0 {
			return json.RawMessage("null")
		}
		return v
	}
	for _, f := range ch.Fields {
		switch f.Field {
		case "category":
			sc.Category = store.ServiceCategory(s.Category)
		case "connector":
			sc.Connector = &s.Connector
		case "base_url":
			sc.BaseURL = &s.BaseURL
		case "backup_urls":
			sc.BackupURLs = append([]string{}, s.BackupURLs...)
		case "options":
			sc.ConnectorOptions = orNull(s.Options)
		case "rate_limits":
			sc.RateLimits = orNull(s.RateLimits)
		case "circuit_breaker":
			sc.CircuitBreaker = orNull(s.CircuitBreaker)
		case "retry":
			sc.Retry = orNull(s.Retry)
		case "max_retries":
			sc.MaxRetries = s.MaxRetries
		case "health_check":
			sc.HealthCheck = orNull(s.HealthCheck)
		case "input_contract":
			sc.InputContract = ref(s.InputContract)
		case "contract":
			sc.Contract = ref(s.Contract)
		case "mapping":
			sc.Mapping = s.Mapping
		case "delivery_mapping":
			sc.DeliveryMapping = s.DeliveryMapping
		case "operation":
			sc.Operation = &s.Operation
		case "escalation_service":
			sc.EscalationService = &s.EscalationService
		case "cost_per_call":
			sc.CostPerCall = &s.CostPerCall
		case "redirects":
			r := redirectPolicy(s.Redirects)
			sc.Redirects = &r
		case "disabled":
			active := !s.Disabled
			sc.Active = &active
		case "region":
			sc.DataRegion = &s.Region
		case "auth":
			sc.Auth = auth
		}
	}
	sc.Actor = who
	_, err = h.ConfigureService(ctx, snap.services[ch.Name].svc.ID, sc)
	return err
}

// auditChangeSet records the change set as one audit entry: revision, objects and field
// changes (credentials as references only), and the error that stopped it, if any.
func (h *Hub) auditChangeSet(ctx context.Context, who string, res *ApplyResult, p *ConfigPlan, applyErr error) {
	after := map[string]any{"revision": res.Revision, "changes": res.Applied}
	if applyErr != nil {
		after["error"] = applyErr.Error()
		after["planned"] = len(p.Changes)
	}
	before, _ := json.Marshal(map[string]any{"revision": p.Revision, "fingerprint": p.Fingerprint})
	a, err := json.Marshal(after)
	if err != nil {
		h.log.Error("hub: encoding the change set audit entry failed", "error", err)
		return
	}
	if _, err := h.st.AppendAudit(context.WithoutCancel(ctx), &store.AuditEntry{
		Actor: who, Action: "configuration.apply", EntityType: "configuration", EntityID: res.ChangeSetID, Before: before, After: a,
	}); err != nil {
		h.log.Error("hub: appending the change set audit entry failed", "change_set", res.ChangeSetID, "error", err)
	}
}
