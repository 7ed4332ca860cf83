package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/storetest"
)

// governed is a principal's context.
func governed(ctx context.Context, id string, roles ...hub.Role) context.Context {
	return hub.WithPrincipal(ctx, hub.Principal{ID: id, Roles: roles})
}

// approvalPolicy holds back every change kind the issue names.
var approvalPolicy = hub.ApprovalPolicy{
	Require: []hub.ChangeKind{hub.ChangeRegister, hub.ChangeCredentials, hub.ChangeEndpoints, hub.ChangeEnable,
		hub.ChangeBulkRetry, hub.ChangeDataDeletion},
	TTL: time.Hour,
}

// TestApprovals runs the approval workflow on each store with two hubs sharing it: a
// request, self-approval refused, two approvers racing on two hubs (exactly one applies), a
// rejection, an expiry escalated to the escalation service, and the chairman's overrides
// audited and counted.
func TestApprovals(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"memory", "sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testApprovals(t, kind)
		})
	}
}

func testApprovals(t *testing.T, kind string) {
	clk := storetest.NewClock(time.Now().UTC())
	ls := openLifecycleStore(t, kind, clk.Now)
	key := make([]byte, hub.SecretKeySize)
	for i := range key {
		key[i] = byte(i)
	}
	newHub := func(st store.Store, opts ...hub.Option) *hub.Hub {
		h, err := hub.New(st, append(hubtest.Fast(), append([]hub.Option{hub.WithSecretKey(key), hub.WithClock(clk.Now),
			hub.WithAuthorization(nil), hub.WithEscalationService("pager")}, opts...)...)...)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, h.Close(adminCtx(context.Background()))) })
		return h
	}
	ctx := t.Context()
	alice := governed(ctx, "alice", hub.RoleAdmin)
	bob := governed(ctx, "bob", hub.RoleAdmin)
	carol := governed(ctx, "carol", hub.RoleAdmin)
	chair := governed(ctx, "chair", hub.RoleChairman)
	viewer := governed(ctx, "vic", hub.RoleViewer)

	// Before the policy: the escalation target and a service to change.
	setup := newHub(ls.st)
	_, err := setup.RegisterIntegration(alice, hub.IntegrationConfig{Name: "pager", Connector: "http", BaseURL: "https://pager.example.com"})
	require.NoError(t, err)
	_, err = setup.RegisterIntegration(alice, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com",
		Auth: json.RawMessage(`{"type":"bearer","token":"crm-token-1"}`)})
	require.NoError(t, err)

	h1 := newHub(ls.st, hub.WithApprovals(approvalPolicy))
	h2 := newHub(ls.reopen(t, clk.Now), hub.WithApprovals(approvalPolicy))

	// A request: nothing happens, the change waits, sealed, with the secret redacted.
	_, err = h1.RegisterIntegration(hub.WithReason(alice, "billing goes live Monday"), hub.IntegrationConfig{Name: "billing",
		Connector: "http", BaseURL: "https://billing.example.com", Auth: json.RawMessage(`{"type":"bearer","token":"billing-secret-9"}`)})
	var are *hub.ApprovalRequiredError
	require.ErrorAs(t, err, &are)
	require.ErrorIs(t, err, hub.ErrApprovalRequired)
	assert.Equal(t, "RegisterIntegration", are.Method)
	assert.Equal(t, []hub.ChangeKind{hub.ChangeRegister}, are.Changes)
	_, err = h1.GetService(alice, "billing")
	require.ErrorIs(t, err, hub.ErrUnknownService, "nothing registered yet")
	pending, err := h2.ListApprovals(viewer, hub.ApprovalQuery{Status: store.ApprovalPending})
	require.NoError(t, err)
	require.Len(t, pending, 1)
	req := pending[0]
	assert.Equal(t, are.ID, req.ID)
	assert.Equal(t, "alice", req.Requester)
	assert.Equal(t, "billing goes live Monday", req.Reason)
	assert.Equal(t, "billing", req.Target)
	assert.Nil(t, req.Sealed, "the sealed change is not listed")
	assert.Contains(t, string(req.Change), "[REDACTED]")
	raw, err := ls.st.(store.ApprovalStore).GetApproval(ctx, req.ID)
	require.NoError(t, err)
	for _, doc := range []json.RawMessage{raw.Change, raw.Sealed} {
		assert.NotContains(t, string(doc), "billing-secret-9", "the secret never reaches the store in clear")
	}
	if dump := ls.dump(t); dump != nil {
		assert.NotContains(t, string(dump), "billing-secret-9")
	}

	// Self-approval and a viewer's approval are refused, and audited.
	_, err = h1.Approve(alice, req.ID, "mine")
	var fe *hub.ForbiddenError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "the approver must differ from the requester", fe.Rule)
	_, err = h1.Approve(viewer, req.ID, "")
	require.ErrorIs(t, err, hub.ErrForbidden)

	// Two approvers on two hubs at once: exactly one applies the change.
	type outcome struct {
		res *hub.ApprovalResult
		err error
	}
	outs := make([]outcome, 2)
	var wg sync.WaitGroup
	for i, a := range []struct {
		h   *hub.Hub
		ctx context.Context
	}{{h1, bob}, {h2, carol}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := a.h.Approve(a.ctx, req.ID, "checked the contract")
			outs[i] = outcome{res, err}
		}()
	}
	wg.Wait()
	applied := 0
	for _, o := range outs {
		if o.err == nil {
			applied++
			assert.Equal(t, store.ApprovalApplied, o.res.Approval.Status)
			reg, ok := o.res.Result.(*hub.Registration)
			require.True(t, ok, "the result is the registration")
			assert.Equal(t, "billing", reg.Name)
		} else {
			require.ErrorIs(t, o.err, hub.ErrInvalidTransition)
		}
	}
	require.Equal(t, 1, applied, "exactly one approval applies")
	svc, err := h2.GetService(viewer, "billing")
	require.NoError(t, err)
	regs, err := ls.st.ListAudit(ctx, store.AuditFilter{EntityType: "service", EntityID: svc.Service.ID})
	require.NoError(t, err)
	require.Len(t, regs, 1, "registered once")
	assert.Equal(t, "service.register", regs[0].Action)
	assert.Equal(t, "alice", regs[0].Actor, "the change is the requester's")
	done, err := ls.st.(store.ApprovalStore).GetApproval(ctx, req.ID)
	require.NoError(t, err)
	assert.Equal(t, store.ApprovalApplied, done.Status)
	assert.Contains(t, []string{"bob", "carol"}, done.DecidedBy)
	assert.Nil(t, done.Sealed, "the sealed change (credentials) is dropped once applied")

	// More races: each of racedRequests requests is approved at once on both hubs.
	const racedRequests = 10
	var raced []string
	for i := range racedRequests {
		_, err := h1.RegisterIntegration(alice, hub.IntegrationConfig{Name: fmt.Sprintf("raced-%d", i), Connector: "http",
			BaseURL: "https://raced.example.com"})
		require.ErrorAs(t, err, &are)
		raced = append(raced, are.ID)
	}
	var wins, lost atomic.Int32
	for _, id := range raced {
		for _, a := range []struct {
			h   *hub.Hub
			ctx context.Context
		}{{h1, bob}, {h2, carol}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := a.h.Approve(a.ctx, id, "")
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, hub.ErrInvalidTransition):
					lost.Add(1)
				default:
					t.Errorf("approve %s: %v", id, err)
				}
			}()
		}
	}
	wg.Wait()
	assert.Equal(t, int32(racedRequests), wins.Load(), "one approval applies each request")
	assert.Equal(t, int32(racedRequests), lost.Load(), "the other finds it decided")
	registered, err := ls.st.ListAudit(ctx, store.AuditFilter{EntityType: "service"})
	require.NoError(t, err)
	perName := map[string]int{}
	for _, e := range registered {
		if e.Action == "service.register" {
			var rec struct{ Name string }
			require.NoError(t, json.Unmarshal(e.After, &rec))
			perName[rec.Name]++
		}
	}
	for i := range racedRequests {
		assert.Equal(t, 1, perName[fmt.Sprintf("raced-%d", i)], "raced-%d registered once", i)
	}
	t.Logf("%s: %d requests raced by 2 hubs: %d applied, %d refused as decided", kind, racedRequests, wins.Load(), lost.Load())

	// A rejection: the credentials stay.
	_, err = h1.ConfigureService(alice, "crm", hub.ServiceConfig{Auth: json.RawMessage(`{"type":"bearer","token":"crm-token-2"}`)})
	require.ErrorAs(t, err, &are)
	assert.Equal(t, []hub.ChangeKind{hub.ChangeCredentials}, are.Changes)
	rej, err := h2.Reject(bob, are.ID, "rotate through the vault")
	require.NoError(t, err)
	assert.Equal(t, store.ApprovalRejected, rej.Status)
	assert.Equal(t, "bob", rej.DecidedBy)
	_, err = h1.Approve(carol, are.ID, "")
	require.ErrorIs(t, err, hub.ErrInvalidTransition)

	// Expiry: an undecided bulk retry expires and is escalated to the escalation service.
	_, err = h1.TriggerRecoveryAction(alice, hub.RecoveryPlan{Service: "crm", Actions: []hub.RecoveryAction{hub.ActionRetryFailed}})
	require.ErrorAs(t, err, &are)
	expiring := are.ID
	clk.Advance(2 * time.Hour)
	n, err := h2.ExpireApprovals(bob)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = h1.ExpireApprovals(bob)
	require.NoError(t, err)
	assert.Equal(t, 0, n, "expired once")
	exp, err := ls.st.(store.ApprovalStore).GetApproval(ctx, expiring)
	require.NoError(t, err)
	assert.Equal(t, store.ApprovalExpired, exp.Status)
	_, err = h1.Approve(carol, expiring, "")
	require.ErrorIs(t, err, hub.ErrInvalidTransition)
	pagerSvc, err := h1.GetService(viewer, "pager")
	require.NoError(t, err)
	notes, err := ls.st.ListEvents(ctx, store.EventFilter{ServiceID: pagerSvc.Service.ID})
	require.NoError(t, err)
	require.Len(t, notes, 1, "one escalation")
	assert.Contains(t, string(notes[0].PayloadIn), expiring)
	assert.Contains(t, string(notes[0].PayloadIn), "expired undecided")

	// The chairman's override: with a reason, at once, audited as an intervention.
	_, err = h1.RegisterIntegration(hub.WithOverride(chair, ""), hub.IntegrationConfig{Name: "urgent", Connector: "http", BaseURL: "https://urgent.example.com"})
	require.ErrorIs(t, err, hub.ErrInvalidInput, "an override needs a reason")
	_, err = h1.RegisterIntegration(hub.WithOverride(alice, "I am in a hurry"), hub.IntegrationConfig{Name: "urgent", Connector: "http", BaseURL: "https://urgent.example.com"})
	require.ErrorAs(t, err, &fe, "only a chairman overrides")
	assert.Equal(t, hub.PermOverride, fe.Permission)
	reg, err := h1.RegisterIntegration(hub.WithOverride(chair, "regulator deadline today"), hub.IntegrationConfig{Name: "urgent",
		Connector: "http", BaseURL: "https://urgent.example.com"})
	require.NoError(t, err)
	assert.Equal(t, "urgent", reg.Name)
	_, err = h2.ProcessIntegrationEvent(hub.WithOverride(chair, "board asks now"), hub.EventData{Service: "crm",
		Payload: json.RawMessage(`{"n":1}`), ChairmanOverride: true, Mode: hub.Async})
	require.NoError(t, err)
	_, err = h2.ProcessIntegrationEvent(chair, hub.EventData{Service: "crm", Payload: json.RawMessage(`{"n":2}`), ChairmanOverride: true, Mode: hub.Async})
	require.ErrorIs(t, err, hub.ErrForbidden, "a queue override needs its reason")
	interventions, err := ls.st.ListAudit(ctx, store.AuditFilter{EntityType: "intervention"})
	require.NoError(t, err)
	require.Len(t, interventions, 2)
	reasons := []string{}
	for _, e := range interventions {
		assert.Equal(t, "chair", e.Actor)
		assert.Equal(t, "governance.intervention", e.Action)
		var rec map[string]any
		require.NoError(t, json.Unmarshal(e.After, &rec))
		reasons = append(reasons, rec["reason"].(string))
	}
	assert.ElementsMatch(t, []string{"regulator deadline today", "board asks now"}, reasons)

	rep, err := h2.GovernanceReport(bob, hub.GovernanceQuery{Period: store.PeriodHour})
	require.NoError(t, err)
	tot := rep.Totals
	assert.Equal(t, int64(2), tot.Interventions)
	assert.Equal(t, int64(1), tot.ApprovalBypasses)
	assert.Equal(t, int64(1), tot.PriorityOverrides)
	assert.Equal(t, int64(3+racedRequests), tot.ApprovalsRequested)
	assert.Equal(t, int64(1+racedRequests), tot.Approved)
	assert.Equal(t, int64(1), tot.Rejected)
	assert.Equal(t, int64(1), tot.Expired)
	assert.Equal(t, int64(4), tot.Denials, "self-approval, a viewer, an admin's override, a queue override without reason (a lost race is no denial)")
	assert.InDelta(t, 1.0/float64(1+3+racedRequests), tot.InterventionRate, 1e-9)
	var inPeriods int64
	for _, p := range rep.Periods {
		inPeriods += p.Interventions
	}
	assert.Equal(t, int64(2), inPeriods, "counted per period")
	t.Logf("%s: %d requests, %d interventions (rate %.2f), %d denials over %d periods",
		kind, tot.ApprovalsRequested, tot.Interventions, tot.InterventionRate, tot.Denials, len(rep.Periods))
}

// TestApprovalsNeedTheirPrerequisites: a policy without authorization or a secret key is a
// configuration error naming the field.
func TestApprovalsNeedTheirPrerequisites(t *testing.T) {
	t.Parallel()
	key := make([]byte, hub.SecretKeySize)
	for name, opts := range map[string][]hub.Option{
		"authorization": {hub.WithSecretKey(key), hub.WithApprovals(approvalPolicy)},
		"secret key":    {hub.WithAuthorization(nil), hub.WithApprovals(approvalPolicy)},
		"change kind":   {hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{"service.everything"}})},
	} {
		_, err := hub.New(nil, opts...)
		var ce *hub.ConfigError
		require.ErrorAs(t, err, &ce, name)
		assert.True(t, strings.Contains(ce.Field, "Approvals"), "%s: %s", name, ce.Field)
	}
}

// TestApprovalRecovery leaves an approved request applying, as a hub killed between
// approving it and recording the outcome does (its approve entry written, the request moved
// to applying, nothing after), and checks the hubs on the store recover it: not while it may
// still be applying, then exactly once (two hubs race, and the background check of a
// started hub finds nothing left), marked failed with a reason that names the approval's
// audit entry, the recovery audited first.
func TestApprovalRecovery(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"memory", "sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			clk := storetest.NewClock(time.Now().UTC())
			ls := openLifecycleStore(t, kind, clk.Now)
			ctx := t.Context()
			alice := governed(ctx, "alice", hub.RoleAdmin)
			bob := governed(ctx, "bob", hub.RoleAdmin)
			key := testSecretKey(t)
			newHub := func(st store.Store) *hub.Hub {
				h, err := hub.New(st, append(hubtest.Fast(), hub.WithSecretKey(key), hub.WithClock(clk.Now), hub.WithAuthorization(nil),
					hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{hub.ChangeEndpoints}, TTL: time.Hour}))...)
				require.NoError(t, err)
				t.Cleanup(func() { require.NoError(t, h.Close(adminCtx(context.Background()))) })
				return h
			}
			h1 := newHub(ls.st)
			_, err := h1.RegisterIntegration(alice, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com"})
			require.NoError(t, err)
			url := "https://crm-v2.example.com"
			_, err = h1.ConfigureService(alice, "crm", hub.ServiceConfig{BaseURL: &url})
			var held *hub.ApprovalRequiredError
			require.ErrorAs(t, err, &held)

			// the approving hub's last steps before it was killed
			as := ls.st.(store.ApprovalStore)
			approve, err := ls.st.AppendAudit(ctx, &store.AuditEntry{Actor: "bob", Action: "approval.approve", EntityType: "approval",
				EntityID: held.ID, After: json.RawMessage(`{"status":"applying"}`)})
			require.NoError(t, err)
			_, err = as.TransitionApproval(ctx, store.ApprovalTransition{ID: held.ID, From: store.ApprovalPending,
				To: store.ApprovalApplying, DecidedBy: "bob", Decision: "fine"})
			require.NoError(t, err)

			h2 := newHub(ls.reopen(t, clk.Now))
			n, err := h2.RecoverApprovals(bob)
			require.NoError(t, err)
			assert.Zero(t, n, "a request within its time to apply is left to its hub")
			clk.Advance(hub.ApprovalApplyTimeout + hub.ApprovalRecoveryMargin + time.Second)

			var recovered atomic.Int64
			var wg sync.WaitGroup
			for _, h := range []*hub.Hub{h1, h2} {
				wg.Go(func() {
					n, err := h.RecoverApprovals(bob)
					assert.NoError(t, err)
					recovered.Add(int64(n))
				})
			}
			wg.Wait()
			assert.Equal(t, int64(1), recovered.Load(), "recovered exactly once")
			a, err := as.GetApproval(ctx, held.ID)
			require.NoError(t, err)
			assert.Equal(t, store.ApprovalFailed, a.Status)
			assert.Contains(t, a.Result, "interrupted")
			assert.Contains(t, a.Result, fmt.Sprintf("after entry %d", approve.Seq))
			svc, err := ls.st.GetServiceByName(ctx, "crm")
			require.NoError(t, err)
			assert.Equal(t, "https://crm.example.com", svc.BaseURL, "a recovered change is not applied again")

			entries, err := ls.st.ListAudit(ctx, store.AuditFilter{EntityType: "approval", EntityID: held.ID})
			require.NoError(t, err)
			var actions []string
			for _, e := range entries {
				actions = append(actions, e.Action)
			}
			assert.Equal(t, 1, countOf(actions, "approval.recover")-countOf(actions, "approval.recover.aborted"), "one recovery took effect: %v", actions)

			// another interrupted request: the next hub started on the store recovers it in the
			// background
			_, err = h1.ConfigureService(alice, "crm", hub.ServiceConfig{BaseURL: &url})
			require.ErrorAs(t, err, &held)
			_, err = as.TransitionApproval(ctx, store.ApprovalTransition{ID: held.ID, From: store.ApprovalPending,
				To: store.ApprovalApplying, DecidedBy: "bob"})
			require.NoError(t, err)
			clk.Advance(hub.ApprovalApplyTimeout + hub.ApprovalRecoveryMargin + time.Second)
			h3 := newHub(ls.reopen(t, clk.Now))
			require.NoError(t, h3.Start(adminCtx(ctx)))
			eventually(t, 10*time.Second, func() bool {
				a, err := as.GetApproval(ctx, held.ID)
				return err == nil && a.Status == store.ApprovalFailed
			}, "the started hub recovers the interrupted request")
			left, err := h3.ListApprovals(bob, hub.ApprovalQuery{Status: store.ApprovalApplying})
			require.NoError(t, err)
			assert.Empty(t, left)
		})
	}
}

func countOf(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}
