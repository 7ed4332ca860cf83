package hubhttp_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/hubhttp/apiv1"
)

// TestRoutes: a route is stored (versioned), listed, refused when its condition does not
// compile or its destination is unknown, and deleted (stored as an inactive version).
func TestRoutes(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	registerSink(t, b.hub, "chat", b.sink.URL)
	req := apiv1.RouteRequest{Source: "sink", Condition: `payload.action == "opened"`,
		Mapping:      json.RawMessage(`{"fields":{"title":"payload.title"}}`),
		Destinations: []apiv1.RouteDestination{{Service: "chat", Priority: "high"}}}

	var r apiv1.Route
	res := b.json(t, "PUT", "/api/v1/routes/opened", tokAdmin, req)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &r)
	require.Equal(t, "opened", r.Name)
	require.Equal(t, 1, r.Version)
	require.Equal(t, "high", r.Destinations[0].Priority)
	require.NotEmpty(t, r.SourceServiceID)

	res = b.json(t, "PUT", "/api/v1/routes/opened", tokAdmin, req)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &r)
	require.Equal(t, 2, r.Version)

	var list apiv1.RouteList
	res = b.call(t, "GET", "/api/v1/routes?source=sink", tokViewer, nil)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &list)
	require.Len(t, list.Routes, 1)
	require.Equal(t, 2, list.Routes[0].Version)
	require.Equal(t, `payload.action == "opened"`, list.Routes[0].Condition)

	bad := req
	bad.Condition = `payload.action ==`
	pr := b.json(t, "PUT", "/api/v1/routes/broken", tokAdmin, bad).problem(t)
	require.Equal(t, 422, pr.Status, "%+v", pr)
	bad = req
	bad.Destinations = []apiv1.RouteDestination{{Service: "nowhere"}}
	require.Equal(t, 404, b.json(t, "PUT", "/api/v1/routes/lost", tokAdmin, bad).problem(t).Status)

	var del apiv1.RouteDeleted
	res = b.call(t, "DELETE", "/api/v1/routes/opened", tokAdmin, nil)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &del)
	require.Equal(t, "opened", del.Name)
	res = b.call(t, "GET", "/api/v1/routes", tokViewer, nil)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &list)
	require.Len(t, list.Routes, 1, "a deleted route is its next version, stored inactive")
	require.True(t, list.Routes[0].Disabled)
	require.Equal(t, 3, list.Routes[0].Version)
	require.Equal(t, 404, b.call(t, "DELETE", "/api/v1/routes/never", tokAdmin, nil).Status)
}
