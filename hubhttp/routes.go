package hubhttp

import (
	"context"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/hubhttp/internal/apiendpoint"
	"github.com/ehg/hub/store"
)

// inboundRoutes are the endpoints over the hub's routes (fan-out of inbound events).
func (x *Handler) inboundRoutes() []*apiendpoint.Endpoint {
	return []*apiendpoint.Endpoint{
		apiendpoint.New(apiendpoint.Meta{Method: "GET", Path: "/api/v1/routes", OperationID: "listRoutes", Tag: "routes",
			Summary: "The active routes, optionally of one source service"}, x.listRoutes),
		apiendpoint.New(apiendpoint.Meta{Method: "PUT", Path: "/api/v1/routes/{name}", OperationID: "putRoute", Tag: "routes",
			Summary: "Store a route as the next version of its name (checked: services exist, condition and mappings compile)"}, x.putRoute),
		apiendpoint.New(apiendpoint.Meta{Method: "DELETE", Path: "/api/v1/routes/{name}", OperationID: "deleteRoute", Tag: "routes",
			Summary: "Store a route inactive: it routes nothing from now on"}, x.deleteRoute),
	}
}

type listRoutesParams struct {
	Source string `query:"source" doc:"source service name or ID (empty: every route)"`
}

type routeParams struct {
	Name string `path:"name" doc:"route name"`
}

type putRouteParams struct {
	Name string             `path:"name" doc:"route name"`
	Body apiv1.RouteRequest `body:""`
}

func (x *Handler) listRoutes(ctx context.Context, p *listRoutesParams) (*apiv1.RouteList, error) {
	infos, err := x.hub.Routes(ctx, p.Source)
	if err != nil {
		return nil, err
	}
	out := &apiv1.RouteList{Routes: make([]apiv1.Route, 0, len(infos))}
	for _, ri := range infos {
		out.Routes = append(out.Routes, routeOf(ri))
	}
	return out, nil
}

func (x *Handler) putRoute(ctx context.Context, p *putRouteParams) (*apiv1.Route, error) {
	b := p.Body
	r := hub.Route{Name: p.Name, Source: b.Source, Condition: b.Condition, Mapping: b.Mapping,
		Contract: hubContractRef(b.Contract), Disabled: b.Disabled, Actor: callerOf(ctx).ID}
	for _, d := range b.Destinations {
		r.Destinations = append(r.Destinations, hub.RouteDestination{Service: d.Service, DeliveryMapping: d.DeliveryMapping,
			Operation: d.Operation, Priority: store.Priority(d.Priority)})
	}
	ri, err := x.hub.PutRoute(ctx, r)
	if err != nil {
		return nil, err
	}
	out := routeOf(ri)
	return &out, nil
}

func (x *Handler) deleteRoute(ctx context.Context, p *routeParams) (*apiv1.RouteDeleted, error) {
	if err := x.hub.DeleteRoute(ctx, p.Name, callerOf(ctx).ID); err != nil {
		return nil, err
	}
	return &apiv1.RouteDeleted{Name: p.Name}, nil
}

func routeOf(ri *hub.RouteInfo) apiv1.Route {
	r := apiv1.Route{Name: ri.Name, Version: ri.Version, SourceServiceID: ri.SourceServiceID, CreatedAt: ri.CreatedAt,
		Source: ri.Source, Condition: ri.Condition, Mapping: ri.Mapping, Disabled: ri.Disabled,
		Destinations: make([]apiv1.RouteDestination, 0, len(ri.Destinations))}
	if ri.Contract != nil {
		r.Contract = &apiv1.ContractRef{Name: ri.Contract.Name, Version: ri.Contract.Version, Schema: ri.Contract.Schema}
	}
	for _, d := range ri.Destinations {
		r.Destinations = append(r.Destinations, apiv1.RouteDestination{Service: d.Service, DeliveryMapping: d.DeliveryMapping,
			Operation: d.Operation, Priority: string(d.Priority)})
	}
	return r
}
