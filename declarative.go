package hub

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ehg/hub/config"
	"github.com/ehg/hub/contract"
	"github.com/ehg/hub/internal/seal"
	"github.com/ehg/hub/store"
)

// PlanAction says what applying a plan does to one object.
type PlanAction string

// The plan actions.
const (
	PlanCreate    PlanAction = "create"
	PlanUpdate    PlanAction = "update"
	PlanRemove    PlanAction = "remove"
	PlanUnchanged PlanAction = "unchanged"
)

// Kinds of configuration objects in a plan.
const (
	KindService   = "service"
	KindContract  = "contract"
	KindRoute     = "route"
	KindRetention = "retention"
	KindSchedule  = "schedule"
	KindApprovals = "approvals"
	KindRole      = "role"
)

// ConfigPlan is the difference between a configuration document and a hub's store, object by
// object, made by [Hub.Plan] and carried out by [Hub.Apply]. It holds no secret values.
type ConfigPlan struct {
	// Revision is the store's configuration revision the plan was made against, and
	// Fingerprint identifies the configuration the store held then. Apply refuses the
	// plan (ErrStalePlan) when either moved on.
	Revision    int64  `json:"revision"`
	Fingerprint string `json:"fingerprint"`
	// Changes lists every object of the document and of the store: contracts first, then
	// services, routes and schedules, each ordered by name, then the retention policy, the
	// approval policy and the roles.
	Changes []ConfigChange `json:"changes"`
	// Actor names who applies the plan, for the audit log. Default "hub".
	Actor string `json:"actor,omitempty"`

	doc *config.Document
}

// ConfigChange is what a plan does to one object.
type ConfigChange struct {
	// Kind is KindService, KindContract, KindRoute, KindSchedule, KindRetention,
	// KindApprovals or KindRole; Name the service or route name, the contract's
	// NAME@VERSION, the scheduled service's name, "retention", "approvals" or the role
	// name.
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Path is the object's document path (services[NAME], contracts[NAME@VERSION]).
	Path   string     `json:"path"`
	Action PlanAction `json:"action"`
	// Fields lists the members that change (updates and creates).
	Fields []FieldChange `json:"fields,omitempty"`
	// Breaking lists breaking schema changes: of a new contract major version against
	// the latest version of the previous major, or of a service's contract switching to
	// another version.
	Breaking []string `json:"breaking,omitempty"`
	// Mappings reports, for each changed mapping of a service, how the new version's
	// outputs differ from the current one's on the service's stored events.
	Mappings []MappingEffect `json:"mappings,omitempty"`
}

// FieldChange is one member that changes. Old and New are display forms (compact JSON
// for documents); credentials show their references, never values.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old,omitempty"`
	New   string `json:"new,omitempty"`
	// Drift is true when the store's value is not what the last applied document set:
	// the store was changed outside the configuration document.
	Drift bool `json:"drift,omitempty"`
}

// MappingEffect compares a changed mapping with the current one on stored samples.
type MappingEffect struct {
	// Mapping is "mapping" or "delivery_mapping".
	Mapping string `json:"mapping"`
	// Samples is how many stored payloads were compared, Changed how many of them map to
	// a different output, Failed how many the new mapping cannot map.
	Samples int `json:"samples"`
	Changed int `json:"changed"`
	Failed  int `json:"failed"`
	// Targets are the output members that differ, sorted.
	Targets []string `json:"targets,omitempty"`
}

// HasChanges reports whether applying the plan changes anything.
func (p *ConfigPlan) HasChanges() bool {
	for _, c := range p.Changes {
		if c.Action != PlanUnchanged {
			return true
		}
	}
	return false
}

// Count returns how many objects the plan creates, updates, removes and leaves unchanged.
func (p *ConfigPlan) Count() map[PlanAction]int {
	out := map[PlanAction]int{}
	for _, c := range p.Changes {
		out[c.Action]++
	}
	return out
}

// Document returns the document the plan was made from.
func (p *ConfigPlan) Document() *config.Document { return p.doc }

// String renders the plan as a readable diff: one line per changed object ("+ create",
// "~ update", "- remove") followed by its field changes, then a summary line.
func (p *ConfigPlan) String() string {
	var b strings.Builder
	for _, c := range p.Changes {
		sign := map[PlanAction]string{PlanCreate: "+", PlanUpdate: "~", PlanRemove: "-"}[c.Action]
		if sign == "" {
			continue
		}
		fmt.Fprintf(&b, "%s %s %s\n", sign, c.Kind, c.Name)
		for _, f := range c.Fields {
			drift := ""
			if f.Drift {
				drift = "  (drift: changed outside the document)"
			}
			switch {
			case c.Action == PlanCreate:
				fmt.Fprintf(&b, "    %s: %s\n", f.Field, f.New)
			default:
				fmt.Fprintf(&b, "    %s: %s -> %s%s\n", f.Field, orNone(f.Old), orNone(f.New), drift)
			}
		}
		for _, br := range c.Breaking {
			fmt.Fprintf(&b, "    ! breaking: %s\n", br)
		}
		for _, m := range c.Mappings {
			fmt.Fprintf(&b, "    ! %s changes the output of %d of %d stored events", m.Mapping, m.Changed, m.Samples)
			if len(m.Targets) > 0 {
				fmt.Fprintf(&b, " (%s)", strings.Join(m.Targets, ", "))
			}
			if m.Failed > 0 {
				fmt.Fprintf(&b, "; %d fail", m.Failed)
			}
			b.WriteString("\n")
		}
	}
	n := p.Count()
	fmt.Fprintf(&b, "Plan: %d to create, %d to update, %d to remove, %d unchanged (revision %d).\n",
		n[PlanCreate], n[PlanUpdate], n[PlanRemove], n[PlanUnchanged], p.Revision)
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// ApplyResult reports Apply.
type ApplyResult struct {
	// ChangeSetID identifies the change set in the audit log.
	ChangeSetID string `json:"change_set_id"`
	// Revision is the store's configuration revision after the apply.
	Revision int64 `json:"revision"`
	// Applied lists the objects created, updated or removed.
	Applied []ConfigChange `json:"applied"`
	// Pending lists the changes the approval policy held back: each waits as an approval
	// request and is carried out when approved (see Approve).
	Pending []PendingChange `json:"pending,omitempty"`
}

// PendingChange is a change of an applied plan that waits for approval.
type PendingChange struct {
	Change ConfigChange `json:"change"`
	// ApprovalID identifies the approval request.
	ApprovalID string `json:"approval_id"`
}

// snapshot is the store's configuration as Plan, Apply and Export see it.
type snapshot struct {
	state *store.ConfigState
	// last is the last applied document (nil before the first apply or when unreadable).
	last      *config.Document
	services  map[string]*snapService
	contracts map[string]*store.Contract // by NAME@VERSION
	routes    map[string]config.Route    // enabled routes by name
	schedules map[string]config.Schedule // sync schedules by service name
	// approvals and roles are the governance in force, in document form (nil: none).
	approvals *config.Approvals
	roles     map[string][]string
	export    *config.Document
	// fingerprint hashes the export and the sealed credentials.
	fingerprint string
}

type snapService struct {
	svc  *store.Service
	meta serviceMeta
	auth json.RawMessage // opened credentials
	view config.Service  // the export form
}

func (h *Hub) configStore() (store.ConfigStateStore, error) {
	cs, ok := h.st.(store.ConfigStateStore)
	if !ok {
		return nil, fmt.Errorf("%w: configuration as code needs store.ConfigStateStore", ErrNotSupported)
	}
	return cs, nil
}

// snapshot reads the store's configuration.
func (h *Hub) snapshot(ctx context.Context) (*snapshot, error) {
	cs, err := h.configStore()
	if err != nil {
		return nil, err
	}
	state, err := cs.GetConfigState(ctx)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	s := &snapshot{state: state, services: map[string]*snapService{}, contracts: map[string]*store.Contract{}, routes: map[string]config.Route{},
		schedules: map[string]config.Schedule{}}
	if len(state.Document) > 0 {
		var last config.Document
		if json.Unmarshal(state.Document, &last) == nil {
			s.last = &last
		} else {
			h.log.Warn("hub: the stored configuration document is unreadable; credentials references are not exported")
		}
	}
	for off := 0; ; off += store.MaxPageLimit {
		page, err := h.st.ListServices(ctx, store.ServiceFilter{Page: store.Page{Limit: store.MaxPageLimit, Offset: off}})
		if err != nil {
			return nil, mapStoreErr(err)
		}
		for _, svc := range page {
			meta, err := parseMeta(svc.SchemaMappings)
			if err != nil {
				return nil, configErr("schema_mappings", fmt.Sprintf("stored metadata of service %q is unreadable", svc.Name), err)
			}
			if meta.Removed != nil {
				continue
			}
			auth, err := h.openCredentials(ctx, svc)
			if err != nil {
				return nil, configErr("Config.SecretKey", fmt.Sprintf("cannot open the credentials of service %q", svc.Name), err)
			}
			ss := &snapService{svc: svc, meta: meta, auth: auth}
			if ss.view, err = h.serviceView(ctx, ss, s.last); err != nil {
				return nil, err
			}
			s.services[svc.Name] = ss
		}
		if len(page) < store.MaxPageLimit {
			break
		}
	}
	for off := 0; ; off += store.MaxPageLimit {
		page, err := h.st.ListContracts(ctx, "", store.Page{Limit: store.MaxPageLimit, Offset: off})
		if err != nil {
			return nil, mapStoreErr(err)
		}
		for _, c := range page {
			s.contracts[c.Name+"@"+c.Version] = c
		}
		if len(page) < store.MaxPageLimit {
			break
		}
	}
	if err := h.snapshotRoutes(ctx, s); err != nil {
		return nil, err
	}
	if err := h.snapshotSchedules(ctx, s); err != nil {
		return nil, err
	}
	s.approvals, s.roles = h.governanceView(s.last)
	pol := h.retentionPolicy()
	if s.last != nil && s.last.Retention != nil {
		if p, err := retentionPolicy(s.last.Retention); err == nil {
			pol = p
		}
	}
	s.export = &config.Document{Version: config.FormatVersion, Retention: retentionDoc(pol), Approvals: s.approvals, Roles: s.roles}
	for _, name := range sortedKeys(s.schedules) {
		s.export.Schedules = append(s.export.Schedules, s.schedules[name])
	}
	for _, name := range sortedKeys(s.routes) {
		s.export.Routes = append(s.export.Routes, s.routes[name])
	}
	for _, name := range sortedKeys(s.services) {
		s.export.Services = append(s.export.Services, s.services[name].view)
	}
	applied := map[string]json.RawMessage{}
	if s.last != nil {
		for _, c := range s.last.Contracts {
			applied[c.Name+"@"+c.Version] = c.Schema
		}
	}
	for _, k := range sortedKeys(s.contracts) {
		c := s.contracts[k]
		s.export.Contracts = append(s.export.Contracts, config.Contract{Name: c.Name, Version: c.Version, Schema: asApplied(c.Schema, applied[k])})
	}
	enc, err := config.Encode(s.export)
	if err != nil {
		return nil, err
	}
	sum := sha256.New()
	sum.Write(enc)
	for _, name := range sortedKeys(s.services) {
		sum.Write([]byte(name))
		sum.Write(s.services[name].svc.AuthenticationConfig)
	}
	s.fingerprint = hex.EncodeToString(sum.Sum(nil))
	return s, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// serviceView is the document form of a stored service; credentials are the references
// of the last applied document, when it has them.
func (h *Hub) serviceView(ctx context.Context, ss *snapService, last *config.Document) (config.Service, error) {
	svc, meta := ss.svc, ss.meta
	v := config.Service{
		Name: svc.Name, Category: string(svc.Category), Connector: svc.ConnectorKind, BaseURL: svc.BaseURL,
		BackupURLs: slices.Clone(svc.BackupURLs), Options: svc.ConnectorConfig, RateLimits: svc.RateLimits,
		CircuitBreaker: svc.CircuitBreakerConfig, Retry: svc.RetryConfig, HealthCheck: svc.HealthCheckConfig,
		Operation: meta.Operation, EscalationService: meta.EscalationService, CostPerCall: meta.CostPerCall,
		Disabled: !svc.IsActive, Region: svc.DataRegion,
	}
	mr := svc.MaxRetries
	v.MaxRetries = &mr
	if meta.Redirects != RedirectsNone {
		v.Redirects = string(meta.Redirects)
	}
	if k := meta.InputContract; k != nil {
		v.InputContract = &config.ContractRef{Name: k.Name, Version: k.Version}
	}
	if k := meta.Contract; k != nil {
		v.Contract = &config.ContractRef{Name: k.Name, Version: k.Version}
	}
	for _, r := range []struct {
		k   *ruleKey
		dst *json.RawMessage
	}{{meta.Mapping, &v.Mapping}, {meta.DeliveryMapping, &v.DeliveryMapping}} {
		if r.k == nil {
			continue
		}
		rule, err := h.st.GetRule(ctx, r.k.Name, r.k.Version)
		if err != nil {
			return v, mapStoreErr(err)
		}
		*r.dst = rule.TransformationLogic
	}
	if last != nil {
		if ls := last.Service(svc.Name); ls != nil {
			if !seal.Empty(ss.auth) {
				v.Auth = ls.Auth
			}
			for _, m := range []struct {
				stored  *json.RawMessage
				applied json.RawMessage
			}{
				{&v.Options, ls.Options}, {&v.RateLimits, ls.RateLimits}, {&v.CircuitBreaker, ls.CircuitBreaker},
				{&v.Retry, ls.Retry}, {&v.HealthCheck, ls.HealthCheck}, {&v.Mapping, ls.Mapping}, {&v.DeliveryMapping, ls.DeliveryMapping},
			} {
				*m.stored = asApplied(*m.stored, m.applied)
			}
		}
	}
	return v, nil
}

// asApplied returns the member as the last applied document wrote it when the store holds
// the same JSON value, else as stored. Stores keep JSON differently (PostgreSQL's jsonb
// reorders object members; SQLite and memory keep them as given), so exports take the
// applied bytes: the same document applied to any store exports to the same bytes.
func asApplied(stored, applied json.RawMessage) json.RawMessage {
	if len(applied) == 0 || len(stored) == 0 || !jsonEqual(stored, applied) {
		return stored
	}
	return applied
}

// Export returns the hub's current configuration as a document: every service (removed
// ones left out), every stored contract version, every route (deleted ones left out) and
// the retention policy. Credentials are
// the secret references of the last applied document; a service whose credentials were
// set through the API has none, and its export keeps the stored credentials (no auth
// member). Encode the result with config.Encode; exporting, applying the export to an
// empty hub and exporting again gives the same bytes, and one document applied to stores of
// different kinds exports to the same bytes: JSON members are written as the last applied
// document wrote them when the store holds the same value.
//
// Needs PermRead when the hub has an Authorizer.
//
// Errors: ErrNotSupported when the store has no store.ConfigStateStore; *ForbiddenError;
// store errors.
func (h *Hub) Export(ctx context.Context) (*config.Document, error) {
	if err := h.guard(ctx, call{method: "Export", perms: perms(PermRead)}); err != nil {
		return nil, err
	}
	s, err := h.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return s.export, nil
}

// Plan compares doc with the store and returns what applying it would change, object by
// object, with a field diff for each update. doc is validated as config.Load validates a
// file, its secret references are resolved (to compare credentials; values are not kept)
// and its mappings and contracts are compiled. A new contract version that breaks
// backward compatibility with another version of the same major is an error; a new major
// version's breaking changes are listed. For a changed mapping the plan compares the new
// and current outputs on up to 50 stored events of the service. Services and routes in the
// store that the document does not name are removed.
//
// Errors: config.Errors or *config.Error (config.ErrInvalid) naming the file, line and
// path of each problem, including unresolvable secret references (config.ErrSecret);
// ErrNotSupported when the store has no store.ConfigStateStore; *ForbiddenError (Plan
// needs PermRead when the hub has an Authorizer); store errors.
func (h *Hub) Plan(ctx context.Context, doc *config.Document) (*ConfigPlan, error) {
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if err := h.guard(ctx, call{method: "Plan", perms: perms(PermRead)}); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, configErr("config.Document", "the document is nil", nil)
	}
	if err := doc.Validate(); err != nil {
		return nil, err
	}
	if len(doc.Environments) > 0 {
		d, err := doc.ForEnvironment("")
		if err != nil {
			return nil, err
		}
		doc = d
	}
	snap, err := h.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	p := &ConfigPlan{Revision: snap.state.Revision, Fingerprint: snap.fingerprint, doc: doc}
	var errs config.Errors
	addErr := func(err error) {
		var ce *config.Error
		var ces config.Errors
		switch {
		case errors.As(err, &ces):
			errs = append(errs, ces...)
		case errors.As(err, &ce):
			errs = append(errs, ce)
		default:
			errs = append(errs, &config.Error{Err: err})
		}
	}
	contracts, err := h.planContracts(ctx, doc, snap, p, addErr)
	if err != nil {
		return nil, err
	}
	for _, s := range doc.Services {
		if err := h.planService(ctx, doc, snap, contracts, s, p, addErr); err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(snap.services) {
		if doc.Service(name) == nil {
			p.Changes = append(p.Changes, ConfigChange{Kind: KindService, Name: name, Path: config.ServicePath(name, ""), Action: PlanRemove})
		}
	}
	h.planRoutes(ctx, doc, snap, contracts, p, addErr)
	h.planSchedules(ctx, doc, snap, p, addErr)
	h.planRetention(doc, snap, p, addErr)
	h.planGovernance(ctx, doc, snap, p, addErr)
	if len(errs) > 0 {
		return nil, errs
	}
	slices.SortStableFunc(p.Changes, func(a, b ConfigChange) int {
		return cmp.Or(cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)), cmp.Compare(a.Name, b.Name))
	})
	return p, nil
}

func kindOrder(k string) int {
	switch k {
	case KindContract:
		return 0
	case KindService:
		return 1
	case KindRoute:
		return 2
	case KindSchedule:
		return 3
	case KindRetention:
		return 4
	case KindApprovals:
		return 5
	}
	return 6
}

// planContracts plans the document's contracts and returns every schema known to the
// plan (stored and new) by NAME@VERSION.
func (h *Hub) planContracts(ctx context.Context, doc *config.Document, snap *snapshot, p *ConfigPlan, addErr func(error)) (map[string]json.RawMessage, error) {
	all := map[string]json.RawMessage{}
	for k, c := range snap.contracts {
		all[k] = c.Schema
	}
	var created []config.Contract
	for _, c := range doc.Contracts {
		key := c.Name + "@" + c.Version
		path := config.ContractPath(c.Name, c.Version)
		ch := ConfigChange{Kind: KindContract, Name: key, Path: path, Action: PlanUnchanged}
		if stored, ok := snap.contracts[key]; ok {
			if !jsonEqual(stored.Schema, c.Schema) {
				addErr(doc.ErrorAt(path+".schema", contract.ErrVersionExists, "contract %s is stored with a different schema; versions are immutable, publish a new version", key))
				continue
			}
			p.Changes = append(p.Changes, ch)
			continue
		}
		if _, err := h.contracts.Compile(ctx, contract.Contract{Name: c.Name, Version: c.Version, Schema: c.Schema}); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			addErr(doc.ErrorAt(path+".schema", err, "the contract does not compile"))
			continue
		}
		ch.Action = PlanCreate
		ch.Fields = []FieldChange{{Field: "schema", New: string(compact(c.Schema))}}
		all[key] = c.Schema
		created = append(created, c)
		p.Changes = append(p.Changes, ch)
	}
	// compatibility of each new version with its neighbours in the same major, and with
	// the previous major's latest
	for _, c := range created {
		key := c.Name + "@" + c.Version
		path := config.ContractPath(c.Name, c.Version)
		v, ok := parseSemver(c.Version)
		if !ok {
			addErr(doc.ErrorAt(path+".version", contract.ErrInvalidContract, "%q is not a MAJOR.MINOR.PATCH version", c.Version))
			continue
		}
		var below, above, prevMajor string
		var belowV, aboveV, prevV semver
		for k := range all {
			name, ver, _ := strings.Cut(k, "@")
			o, ok := parseSemver(ver)
			if name != c.Name || k == key || !ok {
				continue
			}
			switch {
			case o.major == v.major && o.less(v) && (below == "" || belowV.less(o)):
				below, belowV = k, o
			case o.major == v.major && v.less(o) && (above == "" || o.less(aboveV)):
				above, aboveV = k, o
			case o.major < v.major && (prevMajor == "" || prevV.less(o)):
				prevMajor, prevV = k, o
			}
		}
		check := func(oldKey, newKey string, oldS, newS json.RawMessage) {
			cmpRes, err := contract.Compare(oldS, newS)
			if err != nil || cmpRes.Backward {
				return
			}
			var msgs []string
			for _, b := range cmpRes.Breaking() {
				msgs = append(msgs, b.String())
			}
			addErr(doc.ErrorAt(path+".schema", contract.ErrIncompatible, "%s breaks backward compatibility with %s in the same major version (%s); publish a new major version", newKey, oldKey, strings.Join(msgs, "; ")))
		}
		if below != "" {
			check(below, key, all[below], c.Schema)
		}
		if above != "" {
			check(key, above, c.Schema, all[above])
		}
		if prevMajor != "" {
			if cmpRes, err := contract.Compare(all[prevMajor], c.Schema); err == nil && !cmpRes.Backward {
				for i := range p.Changes {
					if p.Changes[i].Kind == KindContract && p.Changes[i].Name == key {
						for _, b := range cmpRes.Breaking() {
							p.Changes[i].Breaking = append(p.Changes[i].Breaking, fmt.Sprintf("against %s: %s", prevMajor, b.String()))
						}
					}
				}
			}
		}
	}
	return all, nil
}

// semver is a parsed MAJOR.MINOR.PATCH (pre-release and build ignored for ordering
// within the plan's compatibility checks, as contract versions are compared).
type semver struct{ major, minor, patch uint64 }

func parseSemver(s string) (semver, bool) {
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return semver{}, false
	}
	var out [3]uint64
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return semver{}, false
		}
		out[i] = n
	}
	return semver{out[0], out[1], out[2]}, true
}

func (a semver) less(b semver) bool {
	return cmp.Or(cmp.Compare(a.major, b.major), cmp.Compare(a.minor, b.minor), cmp.Compare(a.patch, b.patch)) < 0
}

// normalService fills a document service's defaults as the hub stores them, so it
// compares with an export.
func (h *Hub) normalService(s config.Service) config.Service {
	if s.Category == "" {
		s.Category = string(store.CategoryOther)
	}
	if s.MaxRetries == nil {
		mr := h.cfg.MaxRetriesDefault
		if v, ok := retryColumnMax(s.Retry); ok {
			mr = v
		}
		s.MaxRetries = &mr
	}
	if s.Redirects == string(RedirectsNone) {
		s.Redirects = ""
	}
	for _, p := range []*json.RawMessage{&s.Options, &s.RateLimits, &s.CircuitBreaker, &s.Retry, &s.HealthCheck, &s.Mapping, &s.DeliveryMapping} {
		*p = nonEmpty(*p)
	}
	return s
}

// serviceField is one comparable member of a service.
type serviceField struct {
	name string
	get  func(config.Service) string
	json bool
}

var serviceFields = []serviceField{
	{name: "category", get: func(s config.Service) string { return s.Category }},
	{name: "connector", get: func(s config.Service) string { return s.Connector }},
	{name: "base_url", get: func(s config.Service) string { return s.BaseURL }},
	{name: "backup_urls", get: func(s config.Service) string { return strings.Join(s.BackupURLs, ", ") }},
	{name: "options", get: func(s config.Service) string { return string(s.Options) }, json: true},
	{name: "rate_limits", get: func(s config.Service) string { return string(s.RateLimits) }, json: true},
	{name: "circuit_breaker", get: func(s config.Service) string { return string(s.CircuitBreaker) }, json: true},
	{name: "retry", get: func(s config.Service) string { return string(s.Retry) }, json: true},
	{name: "max_retries", get: func(s config.Service) string { return intString(s.MaxRetries) }},
	{name: "health_check", get: func(s config.Service) string { return string(s.HealthCheck) }, json: true},
	{name: "input_contract", get: func(s config.Service) string { return refString(s.InputContract) }},
	{name: "contract", get: func(s config.Service) string { return refString(s.Contract) }},
	{name: "mapping", get: func(s config.Service) string { return string(s.Mapping) }, json: true},
	{name: "delivery_mapping", get: func(s config.Service) string { return string(s.DeliveryMapping) }, json: true},
	{name: "operation", get: func(s config.Service) string { return s.Operation }},
	{name: "escalation_service", get: func(s config.Service) string { return s.EscalationService }},
	{name: "cost_per_call", get: func(s config.Service) string { return strconv.FormatFloat(s.CostPerCall, 'g', -1, 64) }},
	{name: "redirects", get: func(s config.Service) string { return s.Redirects }},
	{name: "disabled", get: func(s config.Service) string { return strconv.FormatBool(s.Disabled) }},
	{name: "region", get: func(s config.Service) string { return s.Region }},
}

func intString(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}

func refString(r *config.ContractRef) string {
	if r == nil {
		return ""
	}
	return r.String()
}

func (f serviceField) equal(a, b config.Service) bool {
	x, y := f.get(a), f.get(b)
	if f.json {
		if x == "" || y == "" {
			return x == y
		}
		return jsonEqual(json.RawMessage(x), json.RawMessage(y))
	}
	return x == y
}

// fieldPaths maps hub configuration fields to document members, so a ConfigError found
// while checking a service names its place in the document.
var fieldPaths = map[string]string{
	"Name": "name", "Category": "category", "Connector": "connector", "BaseURL": "base_url",
	"BackupURLs": "backup_urls", "Auth": "auth", "ConnectorOptions": "options", "RateLimits": "rate_limits",
	"CircuitBreaker": "circuit_breaker", "Retry": "retry", "MaxRetries": "max_retries", "HealthCheck": "health_check",
	"InputContract": "input_contract", "Contract": "contract", "Mapping": "mapping", "DeliveryMapping": "delivery_mapping",
	"Operation": "operation", "EscalationService": "escalation_service", "CostPerCall": "cost_per_call",
	"Redirects": "redirects", "DataRegion": "region",
}

// docError turns an error of the hub's checks about service name into a document error.
func docError(doc *config.Document, name string, err error) *config.Error {
	var ce *ConfigError
	member := ""
	if errors.As(err, &ce) {
		f := ce.Field
		for _, pre := range []string{"IntegrationConfig.", "ServiceConfig."} {
			f = strings.TrimPrefix(f, pre)
		}
		head, rest, _ := strings.Cut(f, ".")
		base, idx, _ := strings.Cut(head, "[")
		if m, ok := fieldPaths[base]; ok {
			member = m
			if idx != "" {
				member += "[" + idx
			}
			if rest != "" {
				member += "." + rest
			}
		}
	}
	return doc.ErrorAt(config.ServicePath(name, member), err, "")
}

// checkService runs the hub's registration checks on a document service without storing
// anything.
func (h *Hub) checkService(s config.Service, contracts map[string]json.RawMessage, doc *config.Document) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, docError(doc, s.Name, err))
		}
	}
	add(checkName(s.Name))
	if !store.ServiceCategory(s.Category).Valid() {
		add(configErr("IntegrationConfig.Category", fmt.Sprintf("unknown category %q", s.Category), nil))
	}
	if _, ok := h.reg.Lookup(s.Connector); !ok {
		add(configErr("IntegrationConfig.Connector", fmt.Sprintf("unknown connector kind %q (known: %v)", s.Connector, h.reg.Kinds()), nil))
	}
	add(h.checkURLs("IntegrationConfig.", s.BaseURL, s.BackupURLs))
	add(checkRedirects("IntegrationConfig.Redirects", redirectPolicy(s.Redirects)))
	add(checkHealthConfig("IntegrationConfig.HealthCheck", s.HealthCheck))
	if mr := *s.MaxRetries; mr < 0 || mr > maxRetriesCap {
		add(configErr("IntegrationConfig.MaxRetries", fmt.Sprintf("%d is outside [0, %d]", mr, maxRetriesCap), nil))
	}
	if s.CostPerCall < 0 {
		add(configErr("IntegrationConfig.CostPerCall", "must not be negative", nil))
	}
	if s.Region != "" && !store.ValidRegion(s.Region) {
		add(configErr("IntegrationConfig.DataRegion", fmt.Sprintf("%q is not a region name (lowercase letters, digits, '-', '_')", s.Region), nil))
	}
	for _, m := range []struct {
		field string
		doc   json.RawMessage
	}{{"IntegrationConfig.Mapping", s.Mapping}, {"IntegrationConfig.DeliveryMapping", s.DeliveryMapping}} {
		if len(m.doc) == 0 {
			continue
		}
		if _, err := h.compileRule(m.field, &ruleKey{Name: s.Name, Version: 1}, m.doc); err != nil {
			add(err)
		}
	}
	for _, r := range []struct {
		field string
		ref   *config.ContractRef
	}{{"IntegrationConfig.InputContract", s.InputContract}, {"IntegrationConfig.Contract", s.Contract}} {
		if r.ref != nil {
			if _, ok := contracts[r.ref.String()]; !ok {
				add(configErr(r.field, fmt.Sprintf("contract %s is neither in the document nor stored", r.ref), nil))
			}
		}
	}
	return errs
}

func redirectPolicy(s string) RedirectPolicy {
	if s == "" {
		return RedirectsNone
	}
	return RedirectPolicy(s)
}

func (h *Hub) planService(ctx context.Context, doc *config.Document, snap *snapshot, contracts map[string]json.RawMessage, raw config.Service, p *ConfigPlan, addErr func(error)) error {
	s := h.normalService(raw)
	path := config.ServicePath(s.Name, "")
	for _, err := range h.checkService(s, contracts, doc) {
		addErr(err)
	}
	auth, err := doc.ResolveAuth(ctx, s.Name)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		addErr(err)
	}
	cur, exists := snap.services[s.Name]
	ch := ConfigChange{Kind: KindService, Name: s.Name, Path: path, Action: PlanUnchanged}
	if !exists {
		ch.Action = PlanCreate
		for _, f := range serviceFields {
			if v := f.get(s); v != "" && v != "false" && !(f.name == "cost_per_call" && v == "0") {
				ch.Fields = append(ch.Fields, FieldChange{Field: f.name, New: v})
			}
		}
		if len(s.Auth) > 0 {
			ch.Fields = append(ch.Fields, FieldChange{Field: "auth", New: string(compact(s.Auth))})
		}
		p.Changes = append(p.Changes, ch)
		return nil
	}
	var last *config.Service
	if snap.last != nil {
		if ls := snap.last.Service(s.Name); ls != nil {
			n := h.normalService(*ls)
			last = &n
		}
	}
	for _, f := range serviceFields {
		if f.equal(cur.view, s) {
			continue
		}
		fc := FieldChange{Field: f.name, Old: f.get(cur.view), New: f.get(s)}
		if f.json {
			fc.Old, fc.New = string(compact(json.RawMessage(fc.Old))), string(compact(json.RawMessage(fc.New)))
		}
		fc.Drift = last != nil && !f.equal(*last, cur.view)
		switch f.name {
		case "input_contract", "contract", "mapping", "delivery_mapping":
			if fc.New == "" {
				addErr(doc.ErrorAt(path, ErrInvalidConfig, "%s cannot be removed from a stored service; add a service under a new name", f.name))
			}
		}
		ch.Fields = append(ch.Fields, fc)
	}
	// credentials: references and values (values are compared, never shown)
	if len(s.Auth) > 0 && auth != nil {
		refsChanged := !jsonEqual(s.Auth, cur.view.Auth)
		valueChanged := !jsonEqual(auth, cur.auth)
		if refsChanged || valueChanged {
			fc := FieldChange{Field: "auth", Old: string(compact(cur.view.Auth)), New: string(compact(s.Auth))}
			if !refsChanged {
				fc.New += " (value changed)"
			}
			if fc.Old == "" && !seal.Empty(cur.auth) {
				fc.Old = "(stored credentials, no references)"
			}
			ch.Fields = append(ch.Fields, fc)
		}
	}
	if len(ch.Fields) > 0 {
		ch.Action = PlanUpdate
	}
	if ch.Action == PlanUpdate {
		ch.Breaking = h.contractSwitch(cur.view.Contract, s.Contract, contracts)
		for _, m := range []struct {
			name     string
			old, new json.RawMessage
		}{{"mapping", cur.view.Mapping, s.Mapping}, {"delivery_mapping", cur.view.DeliveryMapping, s.DeliveryMapping}} {
			if len(m.old) == 0 || len(m.new) == 0 || jsonEqual(m.old, m.new) {
				continue
			}
			eff, err := h.mappingEffect(ctx, cur, m.name, m.old, m.new)
			if err != nil {
				return err
			}
			if eff != nil {
				ch.Mappings = append(ch.Mappings, *eff)
			}
		}
	}
	p.Changes = append(p.Changes, ch)
	return nil
}

// contractSwitch lists the breaking changes of a service moving from one contract version
// to another.
func (h *Hub) contractSwitch(from, to *config.ContractRef, schemas map[string]json.RawMessage) []string {
	if from == nil || to == nil || *from == *to {
		return nil
	}
	res, err := contract.Compare(schemas[from.String()], schemas[to.String()])
	if err != nil || res.Backward {
		return nil
	}
	var out []string
	for _, b := range res.Breaking() {
		out = append(out, fmt.Sprintf("contract %s -> %s: %s", from, to, b.String()))
	}
	return out
}

// mappingSamples is how many stored events a changed mapping is compared on.
const mappingSamples = 50

// mappingEffect compares old and new mapping outputs on stored events of the service:
// payloads as received for the mapping, canonical documents for the delivery mapping.
func (h *Hub) mappingEffect(ctx context.Context, ss *snapService, name string, oldDoc, newDoc json.RawMessage) (*MappingEffect, error) {
	oldR, err := h.compileRule("old", &ruleKey{Name: ss.svc.Name + "." + name, Version: 1}, oldDoc)
	if err != nil {
		return nil, nil // the stored mapping no longer compiles: nothing to compare with
	}
	newR, err := h.compileRule("new", &ruleKey{Name: ss.svc.Name + "." + name, Version: 2}, newDoc)
	if err != nil {
		return nil, nil // reported by checkService
	}
	evs, err := h.st.ListEvents(ctx, store.EventFilter{ServiceID: ss.svc.ID, Page: store.Page{Limit: mappingSamples}})
	if err != nil {
		return nil, mapStoreErr(err)
	}
	eff := &MappingEffect{Mapping: name}
	targets := map[string]bool{}
	for _, ev := range evs {
		in := ev.PayloadIn
		if name == "delivery_mapping" {
			in = ev.CanonicalMapping
		}
		if seal.Empty(in) {
			continue
		}
		a, _, aerr := oldR.apply(ctx, in)
		if aerr != nil {
			continue // not a sample the current mapping handles
		}
		eff.Samples++
		b, _, berr := newR.apply(ctx, in)
		if berr != nil {
			eff.Failed++
			continue
		}
		if diff := topLevelDiff(a, b); len(diff) > 0 {
			eff.Changed++
			for _, t := range diff {
				targets[t] = true
			}
		}
	}
	eff.Targets = sortedKeys(targets)
	return eff, nil
}

// topLevelDiff names the top-level members that differ between two JSON objects.
func topLevelDiff(a, b json.RawMessage) []string {
	var x, y map[string]json.RawMessage
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		if bytes.Equal(a, b) {
			return nil
		}
		return []string{"(document)"}
	}
	var out []string
	for k, v := range x {
		if w, ok := y[k]; !ok || !jsonEqual(v, w) {
			out = append(out, k)
		}
	}
	for k := range y {
		if _, ok := x[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// planRetention compares the document's retention policy with the hub's.
func (h *Hub) planRetention(doc *config.Document, snap *snapshot, p *ConfigPlan, addErr func(error)) {
	if doc.Retention == nil {
		return
	}
	want, err := retentionPolicy(doc.Retention)
	if err != nil {
		addErr(doc.ErrorAt("retention", err, ""))
		return
	}
	if err := want.validate(); err != nil {
		addErr(doc.ErrorAt("retention", err, ""))
		return
	}
	ch := ConfigChange{Kind: KindRetention, Name: "retention", Path: "retention", Action: PlanUnchanged}
	cur, _ := json.Marshal(snap.export.Retention)
	next, _ := json.Marshal(retentionDoc(want))
	if !jsonEqual(cur, next) {
		ch.Action = PlanUpdate
		ch.Fields = []FieldChange{{Field: "retention", Old: nullEmpty(cur), New: nullEmpty(next)}}
	}
	p.Changes = append(p.Changes, ch)
}

func nullEmpty(b []byte) string {
	if string(b) == "null" {
		return ""
	}
	return string(b)
}

// retentionDoc is the document form of a policy (nil when it keeps everything).
func retentionDoc(p RetentionPolicy) *config.Retention {
	if p.IsZero() && len(p.Services) == 0 {
		return nil
	}
	events := func(m map[store.EventStatus]time.Duration) map[string]config.Duration {
		if len(m) == 0 {
			return nil
		}
		out := map[string]config.Duration{}
		for k, v := range m {
			out[string(k)] = config.Duration(v)
		}
		return out
	}
	r := &config.Retention{Events: events(p.Events), HealthMetrics: config.Duration(p.HealthMetrics), Analytics: config.Duration(p.Analytics),
		Audit: config.Duration(p.Audit)}
	for name, s := range p.Services {
		if r.Services == nil {
			r.Services = map[string]config.ServiceRetention{}
		}
		r.Services[name] = config.ServiceRetention{Events: events(s.Events), HealthMetrics: config.Duration(s.HealthMetrics), Analytics: config.Duration(s.Analytics)}
	}
	return r
}

// retentionPolicy is the policy a document's retention member describes.
func retentionPolicy(r *config.Retention) (RetentionPolicy, error) {
	var p RetentionPolicy
	if r == nil {
		return p, nil
	}
	events := func(m map[string]config.Duration) map[store.EventStatus]time.Duration {
		if len(m) == 0 {
			return nil
		}
		out := map[store.EventStatus]time.Duration{}
		for k, v := range m {
			out[store.EventStatus(k)] = time.Duration(v)
		}
		return out
	}
	p.Events, p.HealthMetrics, p.Analytics = events(r.Events), time.Duration(r.HealthMetrics), time.Duration(r.Analytics)
	p.Audit = time.Duration(r.Audit)
	for name, s := range r.Services {
		if p.Services == nil {
			p.Services = map[string]ServiceRetention{}
		}
		p.Services[name] = ServiceRetention{Events: events(s.Events), HealthMetrics: time.Duration(s.HealthMetrics), Analytics: time.Duration(s.Analytics)}
	}
	return p, nil
}
