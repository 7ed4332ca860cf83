// Package apiv1 holds the wire types of the hub's management API version 1 (the JSON bodies
// of /api/v1, described by the OpenAPI document the handler serves at
// /api/v1/openapi.json) and Client, a Go client of it that cmd/hubctl uses.
//
// Field names are snake_case; times are RFC 3339; durations are milliseconds; no member is
// ever null: absent optional members are left out.
package apiv1
