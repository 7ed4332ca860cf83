package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ehg/hub/config"
	"github.com/ehg/hub/store"
)

// snapshotRoutes reads the enabled routes into s.
func (h *Hub) snapshotRoutes(ctx context.Context, s *snapshot) error {
	for off := 0; ; off += store.MaxPageLimit {
		rules, err := h.st.ListRules(ctx, store.RuleFilter{ActiveOnly: true, Page: store.Page{Limit: store.MaxPageLimit, Offset: off}})
		if err != nil {
			return mapStoreErr(err)
		}
		for _, rule := range rules {
			if !strings.HasPrefix(rule.Name, routeRulePrefix) {
				continue
			}
			var r Route
			if err := json.Unmarshal(rule.TransformationLogic, &r); err != nil {
				return fmt.Errorf("hub: route %q is stored unreadable: %w", rule.Name, err)
			}
			if r.Disabled {
				continue
			}
			s.routes[r.Name] = routeAsApplied(routeView(r), s.last)
		}
		if len(rules) < store.MaxPageLimit {
			return nil
		}
	}
}

// routeView is the document form of a route.
func routeView(r Route) config.Route {
	v := config.Route{Name: r.Name, Source: r.Source, Condition: r.Condition, Mapping: nonEmpty(r.Mapping)}
	if r.Contract != nil {
		v.Contract = &config.ContractRef{Name: r.Contract.Name, Version: r.Contract.Version}
	}
	for _, d := range r.Destinations {
		v.Destinations = append(v.Destinations, config.RouteDestination{Service: d.Service, DeliveryMapping: nonEmpty(d.DeliveryMapping),
			Operation: d.Operation, Priority: string(d.Priority)})
	}
	return v
}

// routeAsApplied takes the route's mappings as the last applied document wrote them when
// they hold the same JSON (see asApplied).
func routeAsApplied(v config.Route, last *config.Document) config.Route {
	if last == nil {
		return v
	}
	for _, lr := range last.Routes {
		if lr.Name != v.Name {
			continue
		}
		v.Mapping = asApplied(v.Mapping, lr.Mapping)
		for i := range v.Destinations {
			if i < len(lr.Destinations) && lr.Destinations[i].Service == v.Destinations[i].Service {
				v.Destinations[i].DeliveryMapping = asApplied(v.Destinations[i].DeliveryMapping, lr.Destinations[i].DeliveryMapping)
			}
		}
	}
	return v
}

// hubRoute is the hub's form of a document route (the contract's schema added when the
// document defines it).
func hubRoute(r config.Route, docContracts map[string]config.Contract) Route {
	out := Route{Name: r.Name, Source: r.Source, Condition: r.Condition, Mapping: r.Mapping}
	if r.Contract != nil {
		out.Contract = &ContractRef{Name: r.Contract.Name, Version: r.Contract.Version}
		if c, ok := docContracts[r.Contract.String()]; ok {
			out.Contract.Schema = c.Schema
		}
	}
	for _, d := range r.Destinations {
		out.Destinations = append(out.Destinations, RouteDestination{Service: d.Service, DeliveryMapping: d.DeliveryMapping,
			Operation: d.Operation, Priority: store.Priority(d.Priority)})
	}
	return out
}

// routeFields are the compared members of a route, in document form.
var routeFields = []struct {
	name string
	get  func(config.Route) string
}{
	{"source", func(r config.Route) string { return r.Source }},
	{"condition", func(r config.Route) string { return r.Condition }},
	{"mapping", func(r config.Route) string { return string(compact(r.Mapping)) }},
	{"contract", func(r config.Route) string { return refString(r.Contract) }},
	{"destinations", func(r config.Route) string {
		b, _ := json.Marshal(r.Destinations)
		return string(b)
	}},
}

// planRoutes plans the document's routes: checks (services known to the document, the
// condition and mappings compile, the contract is known), then a field diff against the
// stored route; stored routes the document does not name are removed.
func (h *Hub) planRoutes(ctx context.Context, doc *config.Document, snap *snapshot, contracts map[string]json.RawMessage, p *ConfigPlan, addErr func(error)) {
	for _, r := range doc.Routes {
		path := config.RoutePath(r.Name, "")
		if doc.Service(r.Source) == nil {
			addErr(doc.ErrorAt(path+".source", ErrUnknownService, "service %q is not in the document", r.Source))
		}
		for i, d := range r.Destinations {
			dp := fmt.Sprintf("%s.destinations[%d]", path, i)
			if doc.Service(d.Service) == nil {
				addErr(doc.ErrorAt(dp+".service", ErrUnknownService, "service %q is not in the document", d.Service))
			}
			if d.Priority != "" && !store.Priority(d.Priority).Valid() {
				addErr(doc.ErrorAt(dp+".priority", ErrInvalidConfig, "unknown priority %q", d.Priority))
			}
		}
		if r.Contract != nil {
			if _, ok := contracts[r.Contract.String()]; !ok {
				addErr(doc.ErrorAt(path+".contract", ErrInvalidConfig, "contract %s is neither in the document nor stored", r.Contract))
			}
		}
		check := hubRoute(r, nil)
		check.Contract = nil // checked above; compiling it would register it
		if _, err := h.compileRoute(ctx, &check, 0); err != nil {
			addErr(doc.ErrorAt(path+"."+routeMember(err), err, ""))
		}
		ch := ConfigChange{Kind: KindRoute, Name: r.Name, Path: path, Action: PlanUnchanged}
		want := routeView(hubRoute(r, nil))
		cur, ok := snap.routes[r.Name]
		if !ok {
			ch.Action = PlanCreate
		}
		for _, f := range routeFields {
			var old string
			if ok {
				old = f.get(cur)
			}
			if nv := f.get(want); (ok && !jsonOrTextEqual(old, nv)) || (!ok && nv != "" && nv != "null") {
				ch.Fields = append(ch.Fields, FieldChange{Field: f.name, Old: old, New: nv})
			}
		}
		if ok && len(ch.Fields) > 0 {
			ch.Action = PlanUpdate
		}
		p.Changes = append(p.Changes, ch)
	}
	for _, name := range sortedKeys(snap.routes) {
		found := false
		for _, r := range doc.Routes {
			found = found || r.Name == name
		}
		if !found {
			p.Changes = append(p.Changes, ConfigChange{Kind: KindRoute, Name: name, Path: config.RoutePath(name, ""), Action: PlanRemove})
		}
	}
}

// jsonOrTextEqual compares two members as JSON when both are JSON, else as text.
func jsonOrTextEqual(a, b string) bool {
	if a == b {
		return true
	}
	if a == "" || b == "" || !json.Valid([]byte(a)) || !json.Valid([]byte(b)) {
		return false
	}
	return jsonEqual(json.RawMessage(a), json.RawMessage(b))
}

// routeMember names the document member of a route's compile error.
func routeMember(err error) string {
	var ce *ConfigError
	if errors.As(err, &ce) {
		switch {
		case ce.Field == "Route.Condition":
			return "condition"
		case ce.Field == "Route.Mapping":
			return "mapping"
		case strings.HasPrefix(ce.Field, "Route.Destinations["):
			rest := strings.TrimPrefix(ce.Field, "Route.Destinations")
			return "destinations" + strings.Replace(rest, ".DeliveryMapping", ".delivery_mapping", 1)
		}
	}
	return ""
}

// applyRoute carries out one route change through PutRoute or DeleteRoute, so it passes
// their permission and approval checks.
func (h *Hub) applyRoute(ctx context.Context, doc *config.Document, ch ConfigChange, who string) error {
	if ch.Action == PlanRemove {
		return h.DeleteRoute(ctx, ch.Name, who)
	}
	docContracts := map[string]config.Contract{}
	for _, c := range doc.Contracts {
		docContracts[c.Name+"@"+c.Version] = c
	}
	for _, r := range doc.Routes {
		if r.Name == ch.Name {
			hr := hubRoute(r, docContracts)
			hr.Actor = who
			_, err := h.PutRoute(ctx, hr)
			return err
		}
	}
	return fmt.Errorf("hub: route %q is not in the document", ch.Name)
}
