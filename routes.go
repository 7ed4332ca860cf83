package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/ehg/hub/internal/ids"
	"github.com/ehg/hub/store"
)

// Route sends the inbound events of one service (webhooks the hub verified, records a sync
// pulled) on to other services. An event the Condition accepts is mapped to the canonical
// document (Mapping, checked against Contract) and fanned out: each destination gets its
// own durable outbound event, stored in the same transaction as the inbound event and
// naming it as its source, so a crash never leaves an inbound event without its deliveries
// and one failing destination never holds back the others.
//
// Routes are stored as versioned transformation rules named "route:<Name>" whose
// transformation_logic is the route, like a service's mappings: every PutRoute stores a new
// version, makes it the active one and is audited.
type Route struct {
	// Name identifies the route; a PutRoute with the name of a stored route replaces it
	// (as a new version). Required: letters, digits, '.', '_' and '-'.
	Name string `json:"name"`
	// Source names the service (by name or ID) whose inbound events the route takes.
	// Required.
	Source string `json:"source"`
	// Condition is an expr-lang boolean expression over the inbound event: headers (a map
	// of the delivery's HTTP headers, looked up case-insensitively, e.g.
	// headers["X-GitHub-Event"]), payload (the decoded JSON body), event (the provider's
	// event name), delivery_id and service. Empty accepts every event.
	Condition string `json:"condition,omitempty"`
	// Mapping turns the payload into the canonical document (transform rules JSON, as
	// IntegrationConfig.Mapping). Empty: the payload is the canonical document.
	Mapping json.RawMessage `json:"mapping,omitempty"`
	// Contract, when set, is the canonical contract the mapped document must satisfy.
	Contract *ContractRef `json:"contract,omitempty"`
	// Destinations receive the canonical document. At least one.
	Destinations []RouteDestination `json:"destinations"`
	// Disabled stores the route inactive: it routes nothing (DeleteRoute sets it).
	Disabled bool `json:"disabled,omitempty"`
	// Actor names who changes the route, for the audit log. Default "hub". Not stored in
	// the route.
	Actor string `json:"-"`
}

// RouteDestination is one service a [Route] delivers to.
type RouteDestination struct {
	// Service names the destination by name or ID. Required.
	Service string `json:"service"`
	// DeliveryMapping, when set, turns the destination's canonical document into the
	// request body, replacing the service's own delivery mapping for this route. The
	// canonical document first goes through the service's pipeline (input contract,
	// mapping, canonical contract, delivery mapping) as ProcessIntegrationEvent does.
	DeliveryMapping json.RawMessage `json:"delivery_mapping,omitempty"`
	// Operation overrides the service's connector operation.
	Operation string `json:"operation,omitempty"`
	// Priority of the delivered events. Default store.PriorityNormal.
	Priority store.Priority `json:"priority,omitempty"`
}

// RouteInfo describes a stored route version.
type RouteInfo struct {
	Route
	// Version is the stored version (1 for the first PutRoute of the name).
	Version int
	// SourceServiceID is the ID of the source service.
	SourceServiceID string
	// CreatedAt is when the version was stored.
	CreatedAt time.Time
}

// routeRulePrefix prefixes the rule names routes are stored under.
const routeRulePrefix = "route:"

// PutRoute checks r (the source and every destination exist, the condition and mappings
// compile, the contract is known) and stores it as the next version of its name, active
// from now on for every hub sharing the store. Errors: *ConfigError (ErrInvalidConfig)
// naming the bad field, ErrUnknownService, ErrClosed.
func (h *Hub) PutRoute(ctx context.Context, r Route) (*RouteInfo, error) {
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if err := h.guard(ctx, call{method: "PutRoute", service: r.Source, perms: perms(PermConfigure)}); err != nil {
		return nil, err
	}
	return h.putRoute(ctx, r)
}

// putRoute is PutRoute past the guard.
func (h *Hub) putRoute(ctx context.Context, r Route) (*RouteInfo, error) {
	if err := checkName(r.Name); err != nil {
		return nil, configErr("Route.Name", err.Error(), nil)
	}
	src, err := h.runtimeFor(ctx, r.Source)
	if err != nil {
		return nil, within(err, "route %q source", r.Name)
	}
	if len(r.Destinations) == 0 {
		return nil, configErr("Route.Destinations", "at least one destination is required", nil)
	}
	for i, d := range r.Destinations {
		rt, err := h.runtimeFor(ctx, d.Service)
		if err != nil {
			return nil, within(err, "route %q destination %d", r.Name, i)
		}
		r.Destinations[i].Service = rt.svc.Name
		if d.Priority != "" && !d.Priority.Valid() {
			return nil, configErr(fmt.Sprintf("Route.Destinations[%d].Priority", i), fmt.Sprintf("unknown priority %q", d.Priority), nil)
		}
	}
	r.Source = src.svc.Name
	if _, err := h.compileRoute(ctx, &r, 0); err != nil {
		return nil, err
	}
	if err := h.storeContract(ctx, "Route.Contract", r.Contract); err != nil {
		return nil, err
	}
	if r.Contract != nil {
		r.Contract = &ContractRef{Name: r.Contract.Name, Version: r.Contract.Version} // the schema is stored once, as the contract
	}
	name := routeRulePrefix + r.Name
	version, err := h.nextRuleVersion(ctx, name)
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("hub: encoding route %q: %w", r.Name, err)
	}
	rule, err := h.st.CreateRule(ctx, &store.TransformationRule{Name: name, Version: version, ServiceID: src.svc.ID, TransformationLogic: doc})
	if err != nil {
		return nil, mapStoreErr(err)
	}
	if _, err := h.st.ActivateRule(ctx, name, version); err != nil {
		return nil, mapStoreErr(err)
	}
	var before json.RawMessage
	if version > 1 {
		if prev, err := h.st.GetRule(ctx, name, version-1); err == nil {
			before = prev.TransformationLogic
		}
	}
	action := "route.put"
	if r.Disabled {
		action = "route.delete"
	}
	h.audit(ctx, r.Actor, action, rule.ID, before, doc)
	h.routes.invalidate(src.svc.ID)
	return &RouteInfo{Route: r, Version: version, SourceServiceID: src.svc.ID, CreatedAt: rule.CreatedAt}, nil
}

// DeleteRoute stops the route: it stores a disabled version of it (the history stays).
// Errors: ErrNotFound when no route has the name, ErrClosed.
func (h *Hub) DeleteRoute(ctx context.Context, name, actor string) error {
	if err := h.guard(ctx, call{method: "DeleteRoute", perms: perms(PermConfigure)}); err != nil {
		return err
	}
	cur, err := h.st.GetActiveRule(ctx, routeRulePrefix+name)
	if err != nil {
		return mapStoreErr(err)
	}
	var r Route
	if err := json.Unmarshal(cur.TransformationLogic, &r); err != nil {
		return fmt.Errorf("hub: route %q is stored unreadable: %w", name, err)
	}
	r.Disabled, r.Actor = true, actor
	_, err = h.putRoute(ctx, r)
	return err
}

// Routes returns the active routes whose source is the service (by name or ID), or of
// every service when source is empty, disabled ones included, ordered by name.
func (h *Hub) Routes(ctx context.Context, source string) ([]*RouteInfo, error) {
	if err := h.guard(ctx, call{method: "Routes", service: source, perms: perms(PermRead)}); err != nil {
		return nil, err
	}
	f := store.RuleFilter{ActiveOnly: true, Page: store.Page{Limit: store.MaxPageLimit}}
	if source != "" {
		rt, err := h.runtimeFor(ctx, source)
		if err != nil {
			return nil, err
		}
		f.ServiceID = rt.svc.ID
	}
	rules, err := h.st.ListRules(ctx, f)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	var out []*RouteInfo
	for _, rule := range rules {
		if !strings.HasPrefix(rule.Name, routeRulePrefix) {
			continue
		}
		var r Route
		if err := json.Unmarshal(rule.TransformationLogic, &r); err != nil {
			return nil, fmt.Errorf("hub: route %q is stored unreadable: %w", rule.Name, err)
		}
		out = append(out, &RouteInfo{Route: r, Version: rule.Version, SourceServiceID: rule.ServiceID, CreatedAt: rule.CreatedAt})
	}
	return out, nil
}

// compiledRoute is a route version ready to run.
type compiledRoute struct {
	name     string
	version  int
	cond     *vm.Program // nil: every event
	mapping  *compiledRule
	contract *compiledContract
	dests    []compiledDest
}

type compiledDest struct {
	RouteDestination
	mapping *compiledRule
}

// routeEnv is the condition's environment at compile time (the types the names have).
var routeEnvTypes = map[string]any{
	"headers": map[string]string{}, "payload": map[string]any{}, "event": "", "delivery_id": "", "service": "",
}

// headerKeys lower-cases the constant keys of headers[...] so that a condition written
// headers["X-GitHub-Event"] finds the header however the provider spelled it (the map
// the condition reads has lower-case keys).
type headerKeys struct{}

func (headerKeys) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok {
		return
	}
	if id, ok := m.Node.(*ast.IdentifierNode); ok && id.Value == "headers" {
		if s, ok := m.Property.(*ast.StringNode); ok {
			s.Value = strings.ToLower(s.Value)
		}
	}
}

// compileRoute compiles r; version is recorded in the transformation records.
func (h *Hub) compileRoute(ctx context.Context, r *Route, version int) (*compiledRoute, error) {
	cr := &compiledRoute{name: r.Name, version: version}
	if strings.TrimSpace(r.Condition) != "" {
		prog, err := expr.Compile(r.Condition, expr.Env(routeEnvTypes), expr.AsBool(), expr.Patch(headerKeys{}))
		if err != nil {
			return nil, configErr("Route.Condition", "does not compile", err)
		}
		cr.cond = prog
	}
	var err error
	if len(r.Mapping) > 0 {
		if cr.mapping, err = h.compileRule("Route.Mapping", &ruleKey{Name: routeRulePrefix + r.Name, Version: max(version, 1)}, r.Mapping); err != nil {
			return nil, err
		}
	}
	if r.Contract != nil {
		k, schema, err := h.resolveContract(ctx, "Route.Contract", r.Contract)
		if err != nil {
			return nil, err
		}
		if cr.contract, err = h.compileContract(ctx, "Route.Contract", k, schema); err != nil {
			return nil, err
		}
	}
	for i, d := range r.Destinations {
		cd := compiledDest{RouteDestination: d}
		if len(d.DeliveryMapping) > 0 {
			k := &ruleKey{Name: fmt.Sprintf("%s%s/%s", routeRulePrefix, r.Name, d.Service), Version: max(version, 1)}
			if cd.mapping, err = h.compileRule(fmt.Sprintf("Route.Destinations[%d].DeliveryMapping", i), k, d.DeliveryMapping); err != nil {
				return nil, err
			}
		}
		cr.dests = append(cr.dests, cd)
	}
	return cr, nil
}

// routeCache holds the compiled active routes of each source service, reloaded from the
// store at most every serviceRefreshMin (so routes put through another hub apply within
// about a second) and at once after a PutRoute on this hub. The zero value is ready.
type routeCache struct {
	mu  sync.Mutex
	set map[string]*routeSet // by source service id
}

type routeSet struct {
	loaded time.Time
	routes []*compiledRoute
}

func (c *routeCache) invalidate(serviceID string) {
	c.mu.Lock()
	delete(c.set, serviceID)
	c.mu.Unlock()
}

// routesOf returns the compiled, enabled routes of the source service.
func (h *Hub) routesOf(ctx context.Context, serviceID string) ([]*compiledRoute, error) {
	h.routes.mu.Lock()
	rs := h.routes.set[serviceID]
	h.routes.mu.Unlock()
	if rs != nil && time.Since(rs.loaded) < serviceRefreshMin {
		return rs.routes, nil
	}
	rules, err := h.st.ListRules(ctx, store.RuleFilter{ServiceID: serviceID, ActiveOnly: true, Page: store.Page{Limit: store.MaxPageLimit}})
	if err != nil {
		return nil, mapStoreErr(err)
	}
	rs = &routeSet{loaded: time.Now()}
	for _, rule := range rules {
		if !strings.HasPrefix(rule.Name, routeRulePrefix) {
			continue
		}
		var r Route
		if err := json.Unmarshal(rule.TransformationLogic, &r); err != nil {
			return nil, fmt.Errorf("hub: route %q is stored unreadable: %w", rule.Name, err)
		}
		if r.Disabled {
			continue
		}
		cr, err := h.compileRoute(ctx, &r, rule.Version)
		if err != nil {
			return nil, within(err, "route %q v%d", r.Name, rule.Version)
		}
		rs.routes = append(rs.routes, cr)
	}
	h.routes.mu.Lock()
	if h.routes.set == nil {
		h.routes.set = map[string]*routeSet{}
	}
	h.routes.set[serviceID] = rs
	h.routes.mu.Unlock()
	return rs.routes, nil
}

// inbound is one event received from a service, before it is stored.
type inbound struct {
	src        *runtime
	key        string // idempotency key of the inbound event
	event      string
	deliveryID string
	headers    map[string]string // lower-case keys
	payload    json.RawMessage
	operation  string
}

// routing is the record an inbound event keeps (its payload_out) of what its routes did.
type routing struct {
	Routes []routeOutcome `json:"routes"`
}

type routeOutcome struct {
	Route        string          `json:"route"`
	Version      int             `json:"version"`
	Error        string          `json:"error,omitempty"`
	Destinations []destOutcome   `json:"destinations,omitempty"`
	Applied      json.RawMessage `json:"transformation_applied,omitempty"`
}

type destOutcome struct {
	Service string `json:"service"`
	EventID string `json:"event_id,omitempty"`
	Error   string `json:"error,omitempty"`
}

// accept stores an inbound event and, in the same store transaction, one outbound event
// per destination of every route that takes it. A delivery seen before (same key) returns
// the stored event with dup set and stores nothing.
func (h *Hub) accept(ctx context.Context, in *inbound) (ev *store.Event, dup bool, err error) {
	if prev, err := h.st.GetEventByIdempotencyKey(ctx, in.src.svc.ID, in.key); err == nil {
		return prev, true, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, false, mapStoreErr(err)
	}
	if err := h.checkPayload(in.payload); err != nil {
		return nil, false, err
	}
	ev = h.inboundEvent(in)
	children, rec, err := h.fanOut(ctx, in, ev.ID)
	if err != nil {
		return nil, false, err
	}
	if len(rec.Routes) > 0 {
		ev.PayloadOut = mustJSON(rec)
	}
	res, err := h.st.InsertEvents(ctx, append([]*store.Event{ev}, children...))
	if err != nil {
		return nil, false, mapStoreErr(err)
	}
	created := 0
	for _, r := range res {
		if r.Created {
			created++
		}
	}
	h.noteAccepted(created)
	h.eng.Wake()
	return res[0].Event, !res[0].Created, nil
}

// inboundEvent is the record of in before it is stored.
func (h *Hub) inboundEvent(in *inbound) *store.Event {
	return &store.Event{
		ID:             newEventID(),
		ServiceID:      in.src.svc.ID,
		ServiceName:    in.src.svc.Name,
		ServiceType:    in.src.svc.ConnectorKind,
		Operation:      in.operation,
		RequestMethod:  store.MethodPost,
		PayloadIn:      compact(in.payload),
		PriorityLevel:  store.PriorityNormal,
		IdempotencyKey: in.key,
		Direction:      store.DirectionInbound,
	}
}

// fanOut builds the outbound events the routes of in's service derive from it.
func (h *Hub) fanOut(ctx context.Context, in *inbound, sourceID string) ([]*store.Event, routing, error) {
	var rec routing
	routes, err := h.routesOf(ctx, in.src.svc.ID)
	if err != nil || len(routes) == 0 {
		return nil, rec, err
	}
	var env map[string]any
	var children []*store.Event
	for _, r := range routes {
		out := routeOutcome{Route: r.name, Version: r.version}
		if r.cond != nil {
			if env == nil {
				var payload any
				_ = json.Unmarshal(in.payload, &payload) // checked well-formed before
				env = map[string]any{"headers": in.headers, "payload": payload, "event": in.event,
					"delivery_id": in.deliveryID, "service": in.src.svc.Name}
			}
			ok, err := expr.Run(r.cond, env)
			if err != nil {
				out.Error = "condition: " + err.Error()
				rec.Routes = append(rec.Routes, out)
				continue
			}
			if b, _ := ok.(bool); !b {
				continue
			}
		}
		canonical := json.RawMessage(in.payload)
		if r.mapping != nil {
			doc, applied, err := r.mapping.apply(ctx, in.payload)
			if err != nil {
				if ctx.Err() != nil {
					return nil, rec, ctx.Err()
				}
				out.Error = err.Error()
				rec.Routes = append(rec.Routes, out)
				continue
			}
			canonical, out.Applied = doc, applied
		}
		if r.contract != nil {
			if err := r.contract.check(ctx, "canonical", canonical); err != nil {
				out.Error = err.Error()
				rec.Routes = append(rec.Routes, out)
				continue
			}
		}
		for _, d := range r.dests {
			child, err := h.derive(ctx, in, sourceID, r, d, canonical)
			if err != nil {
				if ctx.Err() != nil {
					return nil, rec, ctx.Err()
				}
				out.Destinations = append(out.Destinations, destOutcome{Service: d.Service, Error: err.Error()})
				continue
			}
			children = append(children, child)
			out.Destinations = append(out.Destinations, destOutcome{Service: d.Service, EventID: child.ID})
		}
		rec.Routes = append(rec.Routes, out)
	}
	return children, rec, nil
}

// derive builds the outbound event of one destination: the canonical document through
// the destination service's pipeline, then the route's delivery mapping if it has one.
func (h *Hub) derive(ctx context.Context, in *inbound, sourceID string, r *compiledRoute, d compiledDest, canonical json.RawMessage) (*store.Event, error) {
	_, ev, _, err := h.newEvent(ctx, EventData{
		Service: d.Service, Payload: canonical, Operation: d.Operation, Priority: d.Priority, Mode: Async,
		IdempotencyKey: routeKey(in.key, r.name),
	})
	if err != nil {
		return nil, err
	}
	if d.mapping != nil {
		out, _, err := d.mapping.apply(ctx, deliveryDoc(ev.CanonicalMapping, ev.PayloadIn))
		if err != nil {
			return nil, err
		}
		ev.PayloadOut = out
	}
	ev.ID = newEventID()
	ev.SourceEventID = sourceID
	return ev, nil
}

// routeKey is the idempotency key of a route's event derived from the inbound event with
// key inKey: the same for every retry of the delivery, so a fan-out is stored once even
// when two copies of a delivery race.
func routeKey(inKey, route string) string {
	k := inKey + "|route:" + route
	if len(k) > 512 {
		k = "sha256:" + sha256Hex([]byte(k))
	}
	return k
}

// EventFanOut returns the events a route derived from the inbound event id (one per
// destination), oldest first. Errors: ErrNotFound for an unknown event; ErrInvalidInput
// for a malformed id; errors.ErrUnsupported when the store cannot list derived events.
func (h *Hub) EventFanOut(ctx context.Context, id string) ([]*store.Event, error) {
	if err := h.guard(ctx, call{method: "EventFanOut", perms: perms(PermRead)}); err != nil {
		return nil, err
	}
	ds, ok := h.st.(store.DerivedEventStore)
	if !ok {
		return nil, fmt.Errorf("hub: %w: the store does not implement store.DerivedEventStore", errors.ErrUnsupported)
	}
	if _, err := h.st.GetEvent(ctx, id); err != nil {
		return nil, mapStoreErr(err)
	}
	var out []*store.Event
	for off := 0; ; off += store.MaxPageLimit {
		page, err := ds.ListDerivedEvents(ctx, id, store.Page{Limit: store.MaxPageLimit, Offset: off})
		if err != nil {
			return nil, mapStoreErr(err)
		}
		out = append(out, page...)
		if len(page) < store.MaxPageLimit {
			return out, nil
		}
	}
}

func newEventID() string { return ids.New() }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
