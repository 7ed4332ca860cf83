package hub_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

func TestRetryFailedIntegration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.sink.FailWith(422)
	res, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{"x":1}`), IdempotencyKey: "r1"})
	require.ErrorIs(t, err, hub.ErrDeliveryFailed)
	require.Equal(t, store.StatusFailed, res.Status)

	tests := []struct {
		name string
		id   string
		want error
	}{
		{"not a uuid", "abc", hub.ErrInvalidInput},
		{"unknown event", uuid.NewString(), hub.ErrNotFound},
	}
	for _, tt := range tests {
		_, err := b.hub.RetryFailedIntegration(ctx, tt.id)
		require.ErrorIs(t, err, tt.want, tt.name)
	}

	b.sink.FailWith(0)
	rr, err := b.hub.RetryFailedIntegration(ctx, res.EventID)
	require.NoError(t, err)
	assert.Equal(t, store.StatusFailed, rr.PreviousStatus)
	assert.Equal(t, store.StatusPending, rr.Status)
	eventually(t, 5*time.Second, func() bool { return statusOf(t, b.st, res.EventID) == store.StatusSucceeded }, "redelivered")
	assert.Equal(t, 1, b.sink.Delivered("r1"))

	_, err = b.hub.RetryFailedIntegration(ctx, res.EventID)
	require.ErrorIs(t, err, hub.ErrInvalidTransition, "a succeeded event cannot be retried")
}

func TestTriggerRecoveryAction(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	primary := hubtest.NewSink(t)
	backup := hubtest.NewSink(t)
	reg := register(t, h, "svc", primary.URL, func(c *hub.IntegrationConfig) {
		c.BackupURLs = []string{backup.URL}
		c.MaxRetries = intp(0)
	})
	ctx := t.Context()

	_, err := h.TriggerRecoveryAction(ctx, hub.RecoveryPlan{Service: "svc"})
	require.ErrorIs(t, err, hub.ErrInvalidConfig)
	_, err = h.TriggerRecoveryAction(ctx, hub.RecoveryPlan{Service: "svc", Actions: []hub.RecoveryAction{"reboot"}})
	require.ErrorIs(t, err, hub.ErrInvalidConfig)
	_, err = h.TriggerRecoveryAction(ctx, hub.RecoveryPlan{Service: "ghost", Actions: []hub.RecoveryAction{hub.ActionEnable}})
	require.ErrorIs(t, err, hub.ErrUnknownService)

	// Three events die while the primary is down.
	primary.FailWith(500)
	since := time.Now()
	for range 3 {
		_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "svc", Payload: json.RawMessage(`{}`)})
		require.ErrorIs(t, err, hub.ErrDeliveryFailed)
	}

	// Force the breaker open: events wait.
	rr, err := h.TriggerRecoveryAction(ctx, hub.RecoveryPlan{Service: "svc", Actions: []hub.RecoveryAction{hub.ActionOpenBreaker}, Actor: "ops"})
	require.NoError(t, err)
	require.True(t, rr.OK)
	_, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "svc", Payload: json.RawMessage(`{"waits":true}`)})
	require.ErrorIs(t, err, hub.ErrCircuitOpen)

	// Fail over to the backup, close the breaker, retry the dead ones.
	rr, err = h.TriggerRecoveryAction(ctx, hub.RecoveryPlan{
		Service: "svc", Since: since,
		Actions: []hub.RecoveryAction{hub.ActionFailover, hub.ActionResetBreaker, hub.ActionRetryFailed},
	})
	require.NoError(t, err)
	require.True(t, rr.OK, "%+v", rr.Steps)
	assert.Equal(t, 3, rr.Steps[2].Count)
	eventually(t, 5*time.Second, func() bool { return backup.Total() == 4 }, "the waiting and the requeued events reach the backup")
	svc, err := h.Store().GetService(ctx, reg.ServiceID)
	require.NoError(t, err)
	assert.Equal(t, backup.URL, svc.BaseURL)
	assert.Equal(t, []string{primary.URL}, svc.BackupURLs)

	// Disable: events are accepted and wait; enable: they go.
	rr, err = h.TriggerRecoveryAction(ctx, hub.RecoveryPlan{Service: "svc", Actions: []hub.RecoveryAction{hub.ActionDisable}})
	require.NoError(t, err)
	require.True(t, rr.OK)
	res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "svc", Payload: json.RawMessage(`{"later":true}`)})
	require.ErrorIs(t, err, hub.ErrServiceDisabled)
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, store.StatusPending, statusOf(t, h.Store(), res.EventID))
	_, err = h.TriggerRecoveryAction(ctx, hub.RecoveryPlan{Service: "svc", Actions: []hub.RecoveryAction{hub.ActionEnable}})
	require.NoError(t, err)
	eventually(t, 5*time.Second, func() bool { return statusOf(t, h.Store(), res.EventID) == store.StatusSucceeded }, "delivered once enabled")

	// Failover without a backup is a failed step, not a failed call.
	rr, err = h.TriggerRecoveryAction(ctx, hub.RecoveryPlan{Service: "svc", BackupURL: "https://elsewhere.example", Actions: []hub.RecoveryAction{hub.ActionFailover}})
	require.NoError(t, err)
	assert.False(t, rr.OK)
	assert.NotEmpty(t, rr.Steps[0].Error)

	audit, err := h.Store().ListAudit(ctx, store.AuditFilter{EntityID: reg.ServiceID})
	require.NoError(t, err)
	actions := map[string]bool{}
	for _, a := range audit {
		actions[a.Action] = true
	}
	for _, want := range []string{"recovery.open_breaker", "recovery.failover", "recovery.retry_failed", "recovery.disable", "recovery.enable"} {
		assert.True(t, actions[want], "audited %s", want)
	}
}

func TestEscalateIntegrationIssue(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil, hub.WithEscalationService("oncall"))
	oncall := hubtest.NewSink(t)
	register(t, h, "oncall", oncall.URL, nil)
	reg := register(t, h, "billing", hubtest.NewSink(t).URL, nil)
	ctx := t.Context()

	_, err := h.EscalateIntegrationIssue(ctx, hub.IntegrationIssue{Service: "billing"})
	require.ErrorIs(t, err, hub.ErrInvalidInput)
	_, err = h.EscalateIntegrationIssue(ctx, hub.IntegrationIssue{Service: "billing", Summary: "x", Severity: "apocalyptic"})
	require.ErrorIs(t, err, hub.ErrInvalidInput)
	_, err = h.EscalateIntegrationIssue(ctx, hub.IntegrationIssue{Service: "nope", Summary: "x"})
	require.ErrorIs(t, err, hub.ErrUnknownService)

	res, err := h.EscalateIntegrationIssue(ctx, hub.IntegrationIssue{Service: "billing", Summary: "invoices stuck", Severity: hub.SeverityCritical, Details: map[string]any{"queue": 12}})
	require.NoError(t, err)
	assert.True(t, res.Notified)
	assert.Equal(t, "oncall", res.Target)
	eventually(t, 5*time.Second, func() bool { return oncall.Total() == 1 }, "the escalation target was notified through the hub")
	var msg map[string]any
	require.NoError(t, json.Unmarshal(oncall.Body("incident:"+res.IncidentID), &msg))
	assert.Equal(t, "[critical] billing: invoices stuck", msg["text"])

	audit, err := h.Store().ListAudit(ctx, store.AuditFilter{EntityType: "incident"})
	require.NoError(t, err)
	require.Len(t, audit, 1)
	assert.Equal(t, res.IncidentID, audit[0].ID)
	metrics, err := h.Store().ListHealthMetrics(ctx, store.HealthMetricFilter{ServiceID: reg.ServiceID})
	require.NoError(t, err)
	require.Len(t, metrics, 1)
	assert.True(t, metrics[0].IncidentTriggered)

	// A bad target is reported; the incident is still recorded.
	res, err = h.EscalateIntegrationIssue(ctx, hub.IntegrationIssue{Service: "billing", Summary: "again", Target: "nobody"})
	require.ErrorIs(t, err, hub.ErrUnknownService)
	require.NotNil(t, res)
	assert.NotEmpty(t, res.IncidentID)
	assert.False(t, res.Notified)
}
