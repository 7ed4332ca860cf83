package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/store"
)

func TestGetAndListServices(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	register(t, b.hub, "crm", b.sink.URL, func(c *hub.IntegrationConfig) {
		workItemService(c)
		c.Auth = json.RawMessage(`{"token":"s3cret-token"}`)
		c.Operation = "create"
		c.CostPerCall = 0.25
	})

	si, err := b.hub.GetService(ctx, "crm")
	require.NoError(t, err)
	require.Equal(t, "crm", si.Service.Name)
	require.NotContains(t, string(si.Service.AuthenticationConfig), "s3cret-token")
	require.Contains(t, string(si.Service.AuthenticationConfig), "token")
	require.Equal(t, "create", si.Operation)
	require.InDelta(t, 0.25, si.CostPerCall, 1e-9)
	require.NotNil(t, si.Contract)
	require.Equal(t, "work-item", si.Contract.Name)
	require.JSONEq(t, string(workItemSchema), string(si.Contract.Schema))
	require.Equal(t, 1, si.MappingVersion)
	require.NotEmpty(t, si.Mapping)
	require.Equal(t, "closed", si.Breaker)

	byID, err := b.hub.GetService(ctx, si.Service.ID)
	require.NoError(t, err)
	require.Equal(t, "crm", byID.Service.Name)

	all, err := b.hub.ListServices(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, []string{"crm", "sink"}, []string{all[0].Service.Name, all[1].Service.Name})

	_, err = b.hub.GetService(ctx, "nope")
	require.ErrorIs(t, err, hub.ErrUnknownService)
	require.ErrorIs(t, err, hub.ErrNotFound)
}

func TestWatchActivity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	acts := b.hub.WatchActivity(ctx)

	res, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{"n":1}`)})
	require.NoError(t, err)
	a := <-acts
	require.Equal(t, hub.ActivityEventOutcome, a.Kind)
	require.Equal(t, res.EventID, a.EventID)
	require.Equal(t, store.StatusSucceeded, a.Status)
	require.True(t, a.Attempted)
	require.Equal(t, "sink", a.ServiceName)

	rr, err := b.hub.TriggerRecoveryAction(ctx, hub.RecoveryPlan{Service: "sink", Actions: []hub.RecoveryAction{hub.ActionOpenBreaker}})
	require.NoError(t, err)
	require.True(t, rr.OK)
	a = <-acts
	require.Equal(t, hub.ActivityBreaker, a.Kind)
	require.Equal(t, "sink", a.ServiceName)
	require.Equal(t, "closed", a.From)
	require.Equal(t, "open", a.To)
	require.True(t, a.Forced)

	cancel()
	for range acts { // closed once ctx ends
	}
	_, err = b.hub.GetService(context.Background(), "sink")
	require.False(t, errors.Is(err, hub.ErrClosed))
}

func TestListAuditPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	for _, n := range []string{"a", "b", "c", "d"} {
		register(t, b.hub, n, b.sink.URL, nil)
	}
	var seen []string
	cursor := ""
	for {
		page, err := b.hub.ListAudit(ctx, hub.AuditQuery{Cursor: cursor, Limit: 2, EntityType: "service"})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Entries), 2)
		for _, e := range page.Entries {
			seen = append(seen, e.Action)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Len(t, seen, 5) // "sink" and the four above
	_, err := b.hub.ListAudit(ctx, hub.AuditQuery{Cursor: "!!"})
	require.ErrorIs(t, err, hub.ErrInvalidInput)
	_, err = b.hub.ListAudit(ctx, hub.AuditQuery{Limit: -1})
	require.ErrorIs(t, err, hub.ErrInvalidInput)
}
