package hubhttp_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/store"
)

func TestRemoveService(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	ctx := t.Context()
	registerSink(t, b.hub, "old", b.sink.URL)
	off := false
	_, err := b.hub.ConfigureService(ctx, "old", hub.ServiceConfig{Active: &off})
	require.NoError(t, err)
	for i := range 3 { // queued behind the pause
		_, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "old", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), Mode: hub.Async})
		require.NoError(t, err)
	}
	// A claim that read the services to skip just before the pause can still take an event;
	// the hub then returns it to the queue unsent. Wait until all three are queued.
	require.Eventually(t, func() bool {
		n, err := b.hub.Store().CountEventsByStatus(ctx, store.EventFilter{Statuses: []store.EventStatus{store.StatusProcessing}})
		return err == nil && n[store.StatusProcessing] == 0
	}, time.Minute, 5*time.Millisecond)
	require.Zero(t, b.sink.Total(), "a disabled service was called")
	var r apiv1.RemovalResult
	res := b.call(t, "DELETE", "/api/v1/services/old?reason=replaced", tokAdmin, nil)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &r)
	require.Equal(t, "old", r.Name)
	require.Equal(t, 3, r.Cancelled)
	require.True(t, r.CredentialsDestroyed)
	// gone: events for it are refused; a second call reports the same removal
	res = b.json(t, "POST", "/api/v1/events", tokOperator, apiv1.ProcessRequest{Service: "old", Payload: json.RawMessage(`{}`)})
	require.Equal(t, 404, res.Status)
	require.Equal(t, 404, b.call(t, "DELETE", "/api/v1/services/nope", tokAdmin, nil).Status)
	require.Equal(t, 400, b.call(t, "DELETE", "/api/v1/services/sink?drain=maybe", tokAdmin, nil).Status)
}
