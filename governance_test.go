package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/contract"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
	"github.com/ehg/hub/transform"
)

// The callers of the permission matrix: one principal per built-in role, and none.
var matrixCallers = []string{"chairman", "admin", "operator", "viewer", "none"}

// exemptMethods are the *Hub methods without a context, so without a caller: the process
// that holds the *Hub holds the store and the counters anyway.
var exemptMethods = map[string]bool{"Store": true, "InstanceID": true, "EngineStats": true, "AuditVerifierKey": true, "SecretKeyID": true}

// matrixCall calls one hub method (or one action of it) as ctx's caller. It returns the
// error; methods returning a channel report ErrForbidden when the channel is closed at once.
type matrixCall func(ctx context.Context, h *hub.Hub) error

// access is one row of the matrix: who may (1) and may not (0), in matrixCallers order.
type access [5]int

// matrix is every API method, and the actions with their own permission, against every
// role. Read it as the policy: the test checks the hub enforces exactly this.
var matrix = []struct {
	name string
	want access // chairman, admin, operator, viewer, none
	call matrixCall
}{
	{"RegisterIntegration", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "new-" + uuid.NewString(), Connector: "http", BaseURL: "https://new.example.com"})
		return err
	}},
	{"ConfigureService", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		cost := 0.5
		_, err := h.ConfigureService(ctx, "crm", hub.ServiceConfig{CostPerCall: &cost})
		return err
	}},
	{"ConfigureService/credentials", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.ConfigureService(ctx, "crm", hub.ServiceConfig{Auth: json.RawMessage(`{"type":"bearer","token":"t2"}`)})
		return err
	}},
	{"ConfigureService/endpoints", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.ConfigureService(ctx, "crm", hub.ServiceConfig{BackupURLs: []string{"https://backup.example.com"}})
		return err
	}},
	{"ConfigureService/enable", access{1, 1, 1, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		on := true
		_, err := h.ConfigureService(ctx, "crm", hub.ServiceConfig{Active: &on})
		return err
	}},
	{"TestIntegration", access{1, 1, 1, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.TestIntegration(ctx, "crm", hub.TestData{SkipCheck: true})
		return err
	}},
	{"ProcessIntegrationEvent", access{1, 1, 1, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Payload: json.RawMessage(`{"n":1}`), Mode: hub.Async})
		return err
	}},
	{"ProcessIntegrationEvent/priority", access{1, 0, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.ProcessIntegrationEvent(hub.WithOverride(ctx, "board meeting in an hour"), hub.EventData{Service: "crm",
			Payload: json.RawMessage(`{"n":2}`), Mode: hub.Async, ChairmanOverride: true})
		return err
	}},
	{"ProcessIntegrationEvents", access{1, 1, 1, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.ProcessIntegrationEvents(ctx, []hub.EventData{{Service: "crm", Payload: json.RawMessage(`{"n":3}`)}})
		return err
	}},
	{"TransformData", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.TransformData(ctx, json.RawMessage(`{"a":1}`), transform.Rules{})
		return err
	}},
	{"ValidateDataContract", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.ValidateDataContract(ctx, json.RawMessage(`{"a":1}`), contract.Contract{Name: "c", Version: "1.0.0", Schema: json.RawMessage(`{"type":"object"}`)})
		return err
	}},
	{"GetIntegrationHealth", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.GetIntegrationHealth(ctx, "")
		return err
	}},
	{"GetPerformanceMetrics", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.GetPerformanceMetrics(ctx, hub.TimeRange{})
		return err
	}},
	{"GetIntegrationAnalytics", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.GetIntegrationAnalytics(ctx, hub.AnalyticsQuery{})
		return err
	}},
	{"GetEvent", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.GetEvent(ctx, uuid.NewString())
		return err
	}},
	{"ListEvents", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.ListEvents(ctx, hub.EventQuery{Service: "crm"})
		return err
	}},
	{"WaitEvent", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.WaitEvent(ctx, uuid.NewString())
		return err
	}},
	{"ProcessIntegrationEventTx", access{1, 1, 1, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.ProcessIntegrationEventTx(ctx, struct{}{}, hub.EventData{Service: "crm", Payload: json.RawMessage(`{"n":3}`)})
		return err
	}},
	{"RetryFailedIntegration", access{1, 1, 1, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.RetryFailedIntegration(ctx, uuid.NewString())
		return err
	}},
	{"EscalateIntegrationIssue", access{1, 1, 1, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.EscalateIntegrationIssue(ctx, hub.IntegrationIssue{Service: "crm", Summary: "slow"})
		return err
	}},
	{"TriggerRecoveryAction/reset_breaker", access{1, 1, 1, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.TriggerRecoveryAction(ctx, hub.RecoveryPlan{Service: "crm", Actions: []hub.RecoveryAction{hub.ActionResetBreaker}})
		return err
	}},
	{"TriggerRecoveryAction/retry_failed", access{1, 1, 1, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.TriggerRecoveryAction(ctx, hub.RecoveryPlan{Service: "crm", Actions: []hub.RecoveryAction{hub.ActionRetryFailed}})
		return err
	}},
	{"TriggerRecoveryAction/disable", access{1, 1, 1, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.TriggerRecoveryAction(ctx, hub.RecoveryPlan{Service: "crm", Actions: []hub.RecoveryAction{hub.ActionDisable}})
		return err
	}},
	{"TriggerRecoveryAction/failover", access{1, 1, 1, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.TriggerRecoveryAction(ctx, hub.RecoveryPlan{Service: "crm", Actions: []hub.RecoveryAction{hub.ActionFailover}})
		return err
	}},
	{"AuthCodeURL", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.AuthCodeURL(ctx, "crm", "state")
		return err
	}},
	{"Exchange", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		return h.Exchange(ctx, "crm", "code", "verifier")
	}},
	{"RotateSecretKey", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.RotateSecretKey(ctx, hub.RotateOptions{})
		return err
	}},
	{"DestroyDataKey", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.DestroyDataKey(ctx, "crm", "matrix")
		return err
	}},
	{"VerifyAudit", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.VerifyAudit(ctx, time.Time{}, time.Time{})
		return err
	}},
	{"ExportAudit", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.ExportAudit(ctx, io.Discard, time.Time{}, time.Time{})
		return err
	}},
	{"CheckpointAudit", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.CheckpointAudit(ctx)
		return err
	}},
	{"ListAudit", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.ListAudit(ctx, hub.AuditQuery{})
		return err
	}},
	{"GetService", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.GetService(ctx, "crm")
		return err
	}},
	{"ListServices", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.ListServices(ctx)
		return err
	}},
	{"Command", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.Command(ctx, "help")
		return err
	}},
	{"RunCommand", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.RunCommand(ctx, nil)
		return err
	}},
	{"ComplianceReport", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.ComplianceReport(ctx, time.Time{}, time.Time{})
		return err
	}},
	{"RemoveService", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.RemoveService(ctx, "crm", hub.RemoveOptions{Reason: "replaced"})
		return err
	}},
	{"RunRetention", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.RunRetention(ctx)
		return err
	}},
	{"EraseSubject", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.EraseSubject(ctx, "ada@example.com")
		return err
	}},
	{"ExportSubject", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.ExportSubject(ctx, "ada@example.com")
		return err
	}},
	{"WatchActivity", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		return closedAtOnce(h.WatchActivity(ctx))
	}},
	{"Subscribe", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		return closedAtOnce(h.Subscribe(ctx))
	}},
	{"Start", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		return h.Start(ctx)
	}},
	{"Close", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		return h.Close(ctx)
	}},
	{"ListApprovals", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.ListApprovals(ctx, hub.ApprovalQuery{})
		return err
	}},
	{"Approve", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.Approve(ctx, uuid.NewString(), "ok")
		return err
	}},
	{"Reject", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.Reject(ctx, uuid.NewString(), "no")
		return err
	}},
	{"ExpireApprovals", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.ExpireApprovals(ctx)
		return err
	}},
	{"RecoverApprovals", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.RecoverApprovals(ctx)
		return err
	}},
	{"Authorize", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		return h.Authorize(ctx, hub.PermRead)
	}},
	{"Authorize/audit.read", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		return h.Authorize(ctx, hub.PermReadAudit)
	}},
	{"Export", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.Export(ctx)
		return err
	}},
	{"Plan", access{1, 1, 1, 1, 0}, func(ctx context.Context, h *hub.Hub) error {
		doc, err := h.Export(adminCtx(ctx))
		if err != nil {
			return err
		}
		_, err = h.Plan(ctx, doc)
		return err
	}},
	{"Apply", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		doc, err := h.Export(adminCtx(ctx))
		if err != nil {
			return err
		}
		plan, err := h.Plan(adminCtx(ctx), doc)
		if err != nil {
			return err
		}
		_, err = h.Apply(ctx, plan)
		return err
	}},
	{"GovernanceReport", access{1, 1, 0, 0, 0}, func(ctx context.Context, h *hub.Hub) error {
		_, err := h.GovernanceReport(ctx, hub.GovernanceQuery{})
		return err
	}},
}

// closedAtOnce reports ErrForbidden for a channel a refused subscription returns (closed
// before anything is sent).
func closedAtOnce[T any](ch <-chan T) error {
	select {
	case _, ok := <-ch:
		if !ok {
			return hub.ErrForbidden
		}
	case <-time.After(50 * time.Millisecond):
	}
	return nil
}

// principalCtx is ctx with the principal of caller ("none": no principal).
func principalCtx(ctx context.Context, caller string) context.Context {
	if caller == "none" {
		return ctx
	}
	return hub.WithPrincipal(ctx, hub.Principal{ID: caller + "-1", Roles: []hub.Role{hub.Role(caller)}})
}

// adminCtx is a context of an admin, for set-up and clean-up.
func adminCtx(ctx context.Context) context.Context {
	return hub.WithPrincipal(ctx, hub.Principal{ID: "root", Roles: []hub.Role{hub.RoleAdmin}})
}

// authorizedHub is a hub on the memory store with authorization on (the built-in roles)
// and a service "crm", not started; it is closed when the test ends.
func authorizedHub(t *testing.T, opts ...hub.Option) *hub.Hub {
	t.Helper()
	h, err := hub.New(memory.New(memory.Options{}), append(hubtest.Fast(), append([]hub.Option{hub.WithAuthorization(nil)}, opts...)...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, h.Close(adminCtx(context.Background()))) })
	setUp := hub.WithOverride(hub.WithPrincipal(t.Context(), hub.Principal{ID: "chair", Roles: []hub.Role{hub.RoleChairman}}), "test set-up")
	_, err = h.RegisterIntegration(setUp, hub.IntegrationConfig{Name: "crm", Connector: "http",
		BaseURL: "https://crm.example.com", Auth: json.RawMessage(`{"type":"bearer","token":"t1"}`)})
	require.NoError(t, err)
	return h
}

// TestPermissionMatrix calls every API method as every role and as nobody, on a fresh hub
// each time, and checks the hub allows exactly what the matrix says and audits every
// refusal with its method, permission and rule.
func TestPermissionMatrix(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{}
	for _, row := range matrix {
		covered[strings.Split(row.name, "/")[0]] = true
	}
	ht := reflect.TypeFor[*hub.Hub]()
	for i := range ht.NumMethod() {
		m := ht.Method(i).Name
		assert.True(t, covered[m] || exemptMethods[m], "method %s is missing from the permission matrix", m)
	}
	allowed, denied := 0, 0
	for _, row := range matrix {
		for ci, caller := range matrixCallers {
			want := row.want[ci] == 1
			t.Run(row.name+"/"+caller, func(t *testing.T) {
				h := authorizedHub(t)
				ctx, cancel := context.WithCancel(principalCtx(t.Context(), caller))
				defer cancel()
				err := row.call(ctx, h)
				if want {
					allowed++
					assert.NotErrorIs(t, err, hub.ErrForbidden, "%s as %s", row.name, caller)
					return
				}
				denied++
				require.ErrorIs(t, err, hub.ErrForbidden, "%s as %s", row.name, caller)
				method := strings.Split(row.name, "/")[0]
				var fe *hub.ForbiddenError
				if errors.As(err, &fe) { // a refused subscription reports only the sentinel
					assert.Equal(t, method, fe.Method)
					assert.NotEmpty(t, fe.Permission)
					assert.NotEmpty(t, fe.Rule)
				}
				who := caller + "-1"
				if caller == "none" {
					who = "anonymous"
				}
				entries, err := h.Store().ListAudit(t.Context(), store.AuditFilter{EntityType: "access", Actor: who})
				require.NoError(t, err)
				require.Len(t, entries, 1, "the refusal is audited once")
				assert.Equal(t, "access.denied", entries[0].Action)
				assert.Equal(t, method, entries[0].EntityID)
				var rec map[string]any
				require.NoError(t, json.Unmarshal(entries[0].After, &rec))
				assert.NotEmpty(t, rec["permission"])
				assert.NotEmpty(t, rec["rule"])
			})
		}
	}
	t.Logf("permission matrix: %d rows x %d callers: %d allowed, %d refused and audited", len(matrix), len(matrixCallers), allowed, denied)
}

// TestAuthorizationOff: without WithAuthorization a call needs no principal, and the audit
// actor is the principal when one is given anyway.
func TestAuthorizationOff(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	_, err := h.RegisterIntegration(t.Context(), hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com"})
	require.NoError(t, err)
	cost := 1.0
	_, err = h.ConfigureService(hub.WithPrincipal(t.Context(), hub.Principal{ID: "ada"}), "crm", hub.ServiceConfig{CostPerCall: &cost, Actor: "free text"})
	require.NoError(t, err)
	page, err := h.ListAudit(t.Context(), hub.AuditQuery{EntityType: "service"})
	require.NoError(t, err)
	require.Len(t, page.Entries, 2)
	assert.Equal(t, "hub", page.Entries[0].Actor)
	assert.Equal(t, "ada", page.Entries[1].Actor, "the principal is the actor")
}

// TestAuthorizerPlugin: a platform's own Authorizer decides; its rule reaches the error and
// the audit log, and an Authorizer error refuses the call (fail closed).
func TestAuthorizerPlugin(t *testing.T) {
	t.Parallel()
	tenantOnly := hub.AuthorizerFunc(func(_ context.Context, r hub.AccessRequest) (hub.Decision, error) {
		switch {
		case r.Principal.Attributes["tenant"] == "":
			return hub.Decision{}, errors.New("directory unavailable")
		case r.Principal.Attributes["tenant"] == "acme":
			return hub.Decision{Allow: true, Rule: "acme may"}, nil
		}
		return hub.Decision{Rule: "tenant " + r.Principal.Attributes["tenant"] + " is read-only"}, nil
	})
	h, err := hub.New(nil, append(hubtest.Fast(), hub.WithAuthorization(tenantOnly))...)
	require.NoError(t, err)
	acme := hub.WithPrincipal(t.Context(), hub.Principal{ID: "ada", Attributes: map[string]string{"tenant": "acme"}})
	t.Cleanup(func() { _ = h.Close(acme) })
	_, err = h.ListServices(acme)
	require.NoError(t, err)

	other := hub.WithPrincipal(t.Context(), hub.Principal{ID: "bob", Attributes: map[string]string{"tenant": "globex"}})
	_, err = h.ListServices(other)
	var fe *hub.ForbiddenError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, hub.ForbiddenError{Principal: "bob", Method: "ListServices", Permission: hub.PermRead, Rule: "tenant globex is read-only"}, *fe)
	assert.Equal(t, "hub: forbidden: bob may not call ListServices: needs hub.read (tenant globex is read-only)", err.Error())

	_, err = h.ListServices(hub.WithPrincipal(t.Context(), hub.Principal{ID: "eve"}))
	require.ErrorIs(t, err, hub.ErrForbidden)
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "the authorizer failed", fe.Rule)
	assert.ErrorContains(t, err, "directory unavailable")

	entries, err := h.Store().ListAudit(t.Context(), store.AuditFilter{EntityType: "access"})
	require.NoError(t, err)
	require.Len(t, entries, 2)
	assert.Equal(t, []string{"bob", "eve"}, []string{entries[0].Actor, entries[1].Actor})
}

// TestApprovalCommands: the text commands list, approve and reject approval requests, each
// step checked as the speaker's own call.
func TestApprovalCommands(t *testing.T) {
	t.Parallel()
	h := authorizedHub(t, hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{hub.ChangeRegister}}))
	alice := governed(t.Context(), "alice", hub.RoleAdmin)
	chair := governed(t.Context(), "chair", hub.RoleChairman)
	vic := governed(t.Context(), "vic", hub.RoleViewer)
	var ids []string
	for _, name := range []string{"billing", "erp"} {
		_, err := h.RegisterIntegration(alice, hub.IntegrationConfig{Name: name, Connector: "http", BaseURL: "https://" + name + ".example.com"})
		var are *hub.ApprovalRequiredError
		require.ErrorAs(t, err, &are)
		ids = append(ids, are.ID)
	}
	run := func(ctx context.Context, text string) (*hub.CommandResult, error) {
		t.Helper()
		plan, err := h.Command(ctx, text)
		require.NoError(t, err)
		require.True(t, plan.Understood, "%q: %s", text, plan.Reason)
		return h.RunCommand(ctx, plan)
	}
	res, err := run(vic, "show pending approvals")
	require.NoError(t, err)
	require.Len(t, res.Approvals, 2)
	assert.Contains(t, res.Message, "2 changes waiting")
	_, err = run(vic, "approve "+ids[0])
	require.ErrorIs(t, err, hub.ErrForbidden, "a viewer may not decide")
	res, err = run(chair, "approve "+ids[0])
	require.NoError(t, err)
	assert.Equal(t, store.ApprovalApplied, res.Approvals[0].Status)
	res, err = run(chair, "reject "+ids[1])
	require.NoError(t, err)
	assert.Equal(t, store.ApprovalRejected, res.Approvals[0].Status)
	_, err = h.GetService(vic, "billing")
	require.NoError(t, err)
	_, err = h.GetService(vic, "erp")
	require.ErrorIs(t, err, hub.ErrUnknownService)
}
