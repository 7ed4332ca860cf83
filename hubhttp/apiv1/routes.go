package apiv1

import (
	"encoding/json"
	"time"
)

// RouteDestination is one service a route delivers to.
type RouteDestination struct {
	// Service names the destination by name or ID.
	Service string `json:"service"`
	// DeliveryMapping replaces the service's own delivery mapping for this route.
	DeliveryMapping json.RawMessage `json:"delivery_mapping,omitempty"`
	// Operation overrides the service's connector operation.
	Operation string `json:"operation,omitempty"`
	// Priority of the delivered events.
	Priority string `json:"priority,omitempty" enum:"low,normal,high,critical"`
}

// RouteRequest stores a route: the inbound events of Source that pass Condition, mapped to
// the canonical document, fan out to every destination.
type RouteRequest struct {
	// Source names the service whose inbound events the route takes.
	Source string `json:"source"`
	// Condition is an expr-lang boolean expression over headers, payload, event,
	// delivery_id and service; empty accepts every event.
	Condition string `json:"condition,omitempty"`
	// Mapping turns the payload into the canonical document (transform rules).
	Mapping json.RawMessage `json:"mapping,omitempty"`
	// Contract is the canonical contract the mapped document must satisfy.
	Contract *ContractRef `json:"contract,omitempty"`
	// Destinations receive the canonical document; at least one.
	Destinations []RouteDestination `json:"destinations"`
	// Disabled stores the route inactive.
	Disabled bool `json:"disabled,omitempty"`
}

// Route is a stored route version.
type Route struct {
	// Source names the service whose inbound events the route takes.
	Source string `json:"source"`
	// Condition is the route's expr-lang condition; empty accepts every event.
	Condition string `json:"condition,omitempty"`
	// Mapping turns the payload into the canonical document.
	Mapping json.RawMessage `json:"mapping,omitempty"`
	// Contract is the canonical contract the mapped document must satisfy.
	Contract *ContractRef `json:"contract,omitempty"`
	// Destinations receive the canonical document.
	Destinations []RouteDestination `json:"destinations"`
	// Disabled: the route routes nothing.
	Disabled bool `json:"disabled,omitempty"`
	// Name identifies the route.
	Name string `json:"name"`
	// Version is the stored version (1 for the first).
	Version int `json:"version"`
	// SourceServiceID is the ID of the source service.
	SourceServiceID string `json:"source_service_id"`
	// CreatedAt is when the version was stored.
	CreatedAt time.Time `json:"created_at"`
}

// RouteList is the active routes.
type RouteList struct {
	Routes []Route `json:"routes"`
}

// RouteDeleted reports a route stored inactive.
type RouteDeleted struct {
	Name string `json:"name"`
}
