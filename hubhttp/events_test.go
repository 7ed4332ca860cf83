package hubhttp_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
)

func TestEventsListAndGet(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	ctx := t.Context()
	var ids []string
	for i := range 7 {
		r, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		require.NoError(t, err)
		ids = append(ids, r.EventID)
	}
	b.sink.FailWith(400)
	failed, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{"n":99}`)})
	require.Error(t, err)
	b.sink.FailWith(0)
	all := append(append([]string{}, ids...), failed.EventID)

	// Follow the cursors, as a viewer.
	var got []string
	cursor := ""
	for range 10 {
		var page apiv1.EventPage
		res := b.call(t, "GET", "/api/v1/events?service=sink&limit=3&cursor="+url.QueryEscape(cursor), tokViewer, nil)
		require.Equal(t, 200, res.Status, "%s", res.Body)
		res.decode(t, &page)
		for _, e := range page.Events {
			got = append(got, e.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	assert.Equal(t, all, got)

	var page apiv1.EventPage
	res := b.call(t, "GET", "/api/v1/events?status=failed,dead&order=newest", tokViewer, nil)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &page)
	require.Len(t, page.Events, 1)
	assert.Equal(t, failed.EventID, page.Events[0].ID)
	assert.Equal(t, "failed", page.Events[0].Status)
	assert.Empty(t, page.NextCursor)

	since := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	res = b.call(t, "GET", "/api/v1/events?since="+since, tokViewer, nil)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &page)
	assert.Empty(t, page.Events)

	var ev apiv1.Event
	res = b.call(t, "GET", "/api/v1/events/"+ids[2], tokViewer, nil)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &ev)
	assert.Equal(t, ids[2], ev.ID)
	assert.Equal(t, "succeeded", ev.Status)
	assert.JSONEq(t, `{"n":2}`, string(ev.Payload))

	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/events/" + uuid.NewString(), 404, apiv1.CodeNotFound},
		{"/api/v1/events/not-a-uuid", 400, apiv1.CodeInvalidInput},
		{"/api/v1/events?cursor=garbage", 400, apiv1.CodeInvalidInput},
		{"/api/v1/events?status=lost", 400, ""},
		{"/api/v1/events?service=nope", 404, ""},
		{"/api/v1/events?limit=-1", 400, apiv1.CodeInvalidInput},
		{"/api/v1/events?since=yesterday", 400, apiv1.CodeInvalidParameter},
	} {
		res := b.call(t, "GET", tc.path, tokViewer, nil)
		require.Equal(t, tc.status, res.Status, "%s: %s", tc.path, res.Body)
		if tc.code != "" {
			assert.Equal(t, tc.code, res.problem(t).Code, tc.path)
		}
	}
	res = b.call(t, "GET", "/api/v1/events", "", nil)
	assert.Equal(t, 401, res.Status)
}

func TestRedriveByFilter(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	ctx := t.Context()
	registerSink(t, b.hub, "other", b.sink.URL)
	b.sink.FailWith(400)
	var sinkIDs []string
	for i := range 4 {
		r, _ := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		require.NotNil(t, r)
		sinkIDs = append(sinkIDs, r.EventID)
	}
	r, _ := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "other", Payload: json.RawMessage(`{"n":9}`)})
	require.NotNil(t, r)
	b.sink.FailWith(0)

	// A permanent 4xx ends failed, not dead: the default (dead letters) finds nothing.
	var rr apiv1.RedriveResult
	res := b.json(t, "POST", "/api/v1/events/redrive", tokOperator, apiv1.RedriveRequest{Service: "sink"})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &rr)
	assert.Empty(t, rr.Requeued)

	res = b.json(t, "POST", "/api/v1/events/redrive", tokOperator, apiv1.RedriveRequest{Service: "sink", Status: "failed"})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &rr)
	assert.Equal(t, sinkIDs, rr.Requeued, "the service's failed events, oldest first")
	require.Eventually(t, func() bool { return b.sink.Unique() >= 4 }, 10*time.Second, 20*time.Millisecond)
	ev, err := b.hub.GetEvent(ctx, r.EventID)
	require.NoError(t, err)
	assert.Equal(t, "failed", string(ev.Status), "the other service's event is left alone")

	res = b.json(t, "POST", "/api/v1/events/redrive", tokOperator, apiv1.RedriveRequest{IDs: []string{r.EventID}, Service: "other"})
	require.Equal(t, 400, res.Status)
	res = b.json(t, "POST", "/api/v1/events/redrive", tokOperator, apiv1.RedriveRequest{Status: "cancelled"})
	require.Equal(t, 400, res.Status)
}
