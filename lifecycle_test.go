package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
	"github.com/ehg/hub/store/storetest"
)

// TestRemoveService removes a service both ways, on every store: cancelling its queue
// (the removal completes at once) and draining it (the background cleaner completes it
// once the queue is delivered). A removed service accepts nothing, its credentials are
// deleted from the store, its name is free again, and every step is audited.
func TestRemoveService(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"memory", "sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ls := openLifecycleStore(t, kind, nil)
			h := hubtest.New(t, ls.st, hub.WithCleanup(50*time.Millisecond, 0))
			sink := hubtest.NewSink(t)
			secret := "removal-secret-" + kind
			withAuth := func(disabled bool) func(*hub.IntegrationConfig) {
				return func(c *hub.IntegrationConfig) {
					c.Auth = json.RawMessage(fmt.Sprintf(`{"type":"bearer","token":%q}`, secret))
					c.Disabled = disabled
				}
			}
			queue := func(service string, n int) {
				t.Helper()
				for i := range n {
					_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: service, Mode: hub.Async,
						IdempotencyKey: fmt.Sprintf("%s-%d", service, i), Payload: json.RawMessage(`{"n":1}`)})
					require.NoError(t, err)
				}
			}

			// Cancel: the queue of a disabled service is cancelled, the removal is done at once.
			gone := register(t, h, "crm", sink.URL, withAuth(true))
			queue("crm", 50)
			res, err := h.RemoveService(ctx, "crm", hub.RemoveOptions{Reason: "contract ended"})
			require.NoError(t, err)
			assert.Equal(t, 50, res.Cancelled)
			assert.True(t, res.CredentialsDestroyed)
			svc, err := ls.st.GetService(ctx, gone.ServiceID)
			require.NoError(t, err)
			assert.Empty(t, svc.AuthenticationConfig, "the sealed credentials are deleted")
			assert.False(t, svc.IsActive)
			assert.Equal(t, int64(50), countEvents(t, ls.st, store.EventFilter{ServiceID: gone.ServiceID, Statuses: []store.EventStatus{store.StatusCancelled}}))
			_, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: gone.ServiceID, Mode: hub.Async, Payload: json.RawMessage(`{}`)})
			require.ErrorIs(t, err, hub.ErrUnknownService)
			_, err = h.ConfigureService(ctx, gone.ServiceID, hub.ServiceConfig{Active: ptr(true)})
			require.ErrorIs(t, err, hub.ErrUnknownService)
			again := register(t, h, "crm", sink.URL, nil) // the name is free
			assert.NotEqual(t, gone.ServiceID, again.ServiceID)
			res, err = h.RemoveService(ctx, gone.ServiceID, hub.RemoveOptions{})
			require.NoError(t, err, "removing again is idempotent")
			assert.True(t, res.CredentialsDestroyed)

			// Drain: queued events are delivered first; new ones are refused at once.
			sink.SetDelay(20 * time.Millisecond)
			drained := register(t, h, "mailer", sink.URL, withAuth(false))
			queue("mailer", 40)
			res, err = h.RemoveService(ctx, "mailer", hub.RemoveOptions{Drain: true, Actor: "ops"})
			require.NoError(t, err)
			assert.Zero(t, res.Cancelled)
			_, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "mailer", Mode: hub.Async, Payload: json.RawMessage(`{}`)})
			require.ErrorIs(t, err, hub.ErrUnknownService)
			eventually(t, 60*time.Second, func() bool {
				svc, err := ls.st.GetService(ctx, drained.ServiceID)
				return err == nil && len(svc.AuthenticationConfig) == 0
			}, "the cleaner completes the drained removal")
			for i := range 40 {
				assert.Equal(t, 1, sink.Delivered(fmt.Sprintf("mailer-%d", i)), "queued event %d delivered before removal", i)
			}
			if ls.kind != "memory" {
				assert.NotContains(t, string(ls.dump(t)), secret, "no copy of the credentials is left")
			}

			entries, err := ls.st.ListAudit(ctx, store.AuditFilter{EntityType: "service", Page: store.Page{Limit: store.MaxPageLimit}})
			require.NoError(t, err)
			count := map[string]int{}
			for _, e := range entries {
				count[e.Action]++
			}
			assert.Equal(t, 2, count["service.remove"])
			assert.Equal(t, 2, count["service.credentials_destroyed"])
		})
	}
}

// TestRetentionInTheBackground lets a started hub's cleaner apply the policy: events older
// than their age go, per service overrides apply, health metrics and analytics too, and
// the runs are audited.
func TestRetentionInTheBackground(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := storetest.NewClock(time.Now().UTC())
	st := memory.New(memory.Options{Now: clk.Now})
	svc, keep := createService(t, st, "orders"), createService(t, st, "ledger")
	policy := hub.RetentionPolicy{
		Events:        map[store.EventStatus]time.Duration{store.StatusSucceeded: 24 * time.Hour, store.StatusCancelled: time.Hour},
		HealthMetrics: 48 * time.Hour,
		Services: map[string]hub.ServiceRetention{
			"ledger":        {Events: map[store.EventStatus]time.Duration{store.StatusSucceeded: hub.RetainForever}},
			"not-yet-known": {HealthMetrics: time.Hour},
		},
	}
	for _, s := range []*store.Service{svc, keep} {
		for range 5 {
			ev, _, err := st.InsertEvent(ctx, &store.Event{ServiceID: s.ID, ServiceName: s.Name, PayloadIn: json.RawMessage(`{}`)})
			require.NoError(t, err)
			c, err := st.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: 1, Lease: time.Minute})
			require.NoError(t, err)
			require.Equal(t, ev.ID, c[0].ID)
			_, err = st.CompleteEvents(ctx, []store.CompleteParams{{ID: ev.ID, Owner: "w", ResponseCode: 200}})
			require.NoError(t, err)
		}
		_, err := st.InsertHealthMetric(ctx, &store.HealthMetric{ServiceID: s.ID, MetricType: store.MetricErrorRate,
			Status: store.MetricNormal, RecordedAt: clk.Now().Add(-72 * time.Hour)})
		require.NoError(t, err)
	}
	clk.Advance(25 * time.Hour)
	hubtest.New(t, st, hub.WithClock(clk.Now), hub.WithRetention(policy), hub.WithCleanup(20*time.Millisecond, 2))
	// A run deletes the events, then the health metrics, then audits what it removed: the
	// audit entry of a run that removed something says the whole run is over.
	var run hub.RetentionReport
	eventually(t, 10*time.Second, func() bool {
		if countEvents(t, st, store.EventFilter{ServiceID: svc.ID}) != 0 {
			return false
		}
		entries, err := st.ListAudit(ctx, store.AuditFilter{EntityType: "retention"})
		require.NoError(t, err)
		for _, e := range entries {
			require.NoError(t, json.Unmarshal(e.After, &run))
			if run.Total() > 0 {
				return true
			}
		}
		return false
	}, "the cleaner removes the old events of orders and audits the run")
	assert.Equal(t, int64(5), countEvents(t, st, store.EventFilter{ServiceID: keep.ID}), "ledger keeps its events forever")
	ms, err := st.ListHealthMetrics(ctx, store.HealthMetricFilter{})
	require.NoError(t, err)
	for _, m := range ms {
		assert.False(t, m.RecordedAt.Before(clk.Now().Add(-48*time.Hour)), "old health metrics removed")
	}
	assert.Positive(t, run.Total())
}

// TestLifecycleConfig checks the validation of the data lifecycle settings.
func TestLifecycleConfig(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]hub.Option{
		"retention of pending": hub.WithRetention(hub.RetentionPolicy{Events: map[store.EventStatus]time.Duration{store.StatusPending: time.Hour}}),
		"negative age":         hub.WithRetention(hub.RetentionPolicy{HealthMetrics: -2}),
		"service negative":     hub.WithRetention(hub.RetentionPolicy{Services: map[string]hub.ServiceRetention{"x": {Analytics: -5}}}),
		"empty service name":   hub.WithRetention(hub.RetentionPolicy{Services: map[string]hub.ServiceRetention{"": {}}}),
		"bad region":           hub.WithRegions("EU West"),
		"no region":            hub.WithRegions(),
		"short subject key":    hub.WithSubjectKey([]byte("short")),
		"huge batch":           hub.WithCleanup(time.Minute, store.MaxPageLimit+1),
	} {
		_, err := hub.New(nil, opt)
		var ce *hub.ConfigError
		require.ErrorAs(t, err, &ce, name)
		assert.ErrorIs(t, err, hub.ErrInvalidConfig, name)
	}
	// A store without the capabilities the configuration needs.
	core := struct{ store.Store }{memory.New(memory.Options{})}
	_, err := hub.New(core, hub.WithRegions("eu"))
	require.ErrorIs(t, err, hub.ErrNotSupported)
	_, err = hub.New(core, hub.WithRetention(hub.RetentionPolicy{HealthMetrics: time.Hour}))
	require.ErrorIs(t, err, hub.ErrNotSupported)
	h := hubtest.New(t, core)
	_, err = h.EraseSubject(context.Background(), "ann@example.com")
	require.ErrorIs(t, err, hub.ErrNotSupported)
	_, err = h.RunRetention(context.Background())
	require.ErrorIs(t, err, hub.ErrNotSupported)

	// A contract naming a data subject needs the subject index key.
	plain, err := hub.New(nil)
	require.NoError(t, err)
	_, err = plain.RegisterIntegration(context.Background(), hub.IntegrationConfig{Name: "crm", Connector: "http",
		BaseURL: "https://crm.example.com", Contract: &hub.ContractRef{Name: "contact", Version: "1.0.0", Schema: json.RawMessage(contactSchema)}})
	var ce *hub.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Config.SecretKey", ce.Field)
	_, err = plain.EraseSubject(context.Background(), "ann@example.com")
	require.ErrorIs(t, err, hub.ErrInvalidConfig)
	// Malformed annotations are refused at registration.
	keyed := hubtest.New(t, nil)
	_, err = keyed.RegisterIntegration(context.Background(), hub.IntegrationConfig{Name: "crm", Connector: "http",
		BaseURL: "https://crm.example.com", Contract: &hub.ContractRef{Name: "bad", Version: "1.0.0",
			Schema: json.RawMessage(`{"properties":{"a":{"x-pii":1}}}`)}})
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "IntegrationConfig.Contract", ce.Field)
	_, err = keyed.EraseSubject(context.Background(), "  ")
	require.ErrorIs(t, err, hub.ErrInvalidInput)
	_, err = keyed.RegisterIntegration(context.Background(), hub.IntegrationConfig{Name: "x", Connector: "http",
		BaseURL: "https://x.example.com", DataRegion: "Mars!"})
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "IntegrationConfig.DataRegion", ce.Field)
}

// TestComplianceReport builds the report of a period with services in two regions, a
// retention run, an erasure, an access request and chairman overrides, and checks each
// part; the report holds no personal value.
func TestComplianceReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := storetest.NewClock(time.Now().UTC())
	st := memory.New(memory.Options{Now: clk.Now})
	policy := hub.RetentionPolicy{Events: map[store.EventStatus]time.Duration{store.StatusSucceeded: 7 * 24 * time.Hour},
		Services: map[string]hub.ServiceRetention{"crm": {Events: map[store.EventStatus]time.Duration{store.StatusSucceeded: 30 * 24 * time.Hour}}}}
	h := hubtest.New(t, st, hub.WithClock(clk.Now), hub.WithRetention(policy), hub.WithCleanup(-1, 0))
	sink := hubtest.NewSink(t)
	contact := &hub.ContractRef{Name: "contact", Version: "1.0.0", Schema: json.RawMessage(contactSchema)}
	register(t, h, "crm", sink.URL, func(c *hub.IntegrationConfig) { c.Contract = contact; c.DataRegion = "eu" })
	register(t, h, "billing", sink.URL, func(c *hub.IntegrationConfig) { c.DataRegion = "us" })
	periodStart := clk.Now()
	subjects := people(3)
	for i := range 9 {
		p := subjects[i%3]
		_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Mode: hub.Sync, ChairmanOverride: i == 0,
			Payload: json.RawMessage(fmt.Sprintf(`{"email":%q,"name":%q,"seq":%d}`, p.Email, p.Name, i))})
		require.NoError(t, err)
		_, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "billing", Mode: hub.Sync,
			Payload: json.RawMessage(fmt.Sprintf(`{"invoice":%d}`, i))})
		require.NoError(t, err)
	}
	_, err := h.ExportSubject(ctx, subjects[1].Email)
	require.NoError(t, err)
	er, err := h.EraseSubject(ctx, subjects[0].Email)
	require.NoError(t, err)
	clk.Advance(8 * 24 * time.Hour) // billing's delivered events are past their age; crm's are not
	run, err := h.RunRetention(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(9), run.Events)

	rep, err := h.ComplianceReport(ctx, periodStart.Add(-time.Minute), clk.Now().Add(time.Minute))
	require.NoError(t, err)
	require.Len(t, rep.Services, 2)
	byName := map[string]hub.ComplianceService{}
	for _, s := range rep.Services {
		byName[s.Name] = s
	}
	crm, billing := byName["crm"], byName["billing"]
	assert.Equal(t, "eu", crm.Region)
	assert.Equal(t, "us", billing.Region)
	assert.Equal(t, []string{"contact@1.0.0:email=email", "contact@1.0.0:name=name", "contact@1.0.0:phone=phone"}, crm.PersonalFields)
	assert.Equal(t, "contact@1.0.0:email", crm.SubjectField)
	assert.Equal(t, int64(9), crm.EventsHeld)
	assert.Zero(t, billing.EventsHeld, "retention removed them")
	assert.Equal(t, int64(1), crm.Overrides)
	assert.Equal(t, int64(1), rep.Overrides)
	assert.Equal(t, []hub.RegionData{{Region: "eu", Services: 1, Events: 9, Bytes: crm.BytesHeld}, {Region: "us", Services: 1}}, rep.Regions)
	assert.Equal(t, 1, rep.Retention.Runs)
	assert.Equal(t, int64(9), rep.Retention.Removed["integration_events"])
	assert.Contains(t, rep.Retention.InForce, hub.RetentionRule{Table: "integration_events", Status: store.StatusSucceeded, Keep: "168h0m0s"})
	assert.Contains(t, rep.Retention.InForce, hub.RetentionRule{Table: "integration_events", Status: store.StatusSucceeded, Service: "crm", Keep: "720h0m0s"})
	assert.Contains(t, rep.Retention.InForce, hub.RetentionRule{Table: "integration_events", Status: store.StatusDead, Keep: "forever"})
	require.Len(t, rep.SubjectRequests, 2)
	assert.Equal(t, map[store.SubjectRequestStatus]int{store.RequestCompleted: 1}, rep.Erasures)
	assert.Equal(t, map[store.SubjectRequestStatus]int{store.RequestCompleted: 1}, rep.Accesses)
	for _, r := range rep.SubjectRequests {
		if r.ID == er.RequestID {
			assert.Equal(t, int64(3), r.Records)
			assert.NotNil(t, r.CompletedAt)
		}
	}
	require.NotNil(t, rep.Audit)
	assert.True(t, rep.Audit.OK, "the audit log verifies")
	assert.Positive(t, rep.Audit.Entries)
	b, err := rep.JSON()
	require.NoError(t, err)
	for _, p := range subjects {
		for _, v := range p.values() {
			assert.False(t, bytes.Contains(b, []byte(v)), "the report holds %q", v)
		}
	}
	t.Logf("compliance report: %d bytes of JSON", len(b))

	_, err = h.ComplianceReport(ctx, clk.Now(), clk.Now().Add(-time.Hour))
	require.ErrorIs(t, err, hub.ErrInvalidInput)
	def, err := h.ComplianceReport(ctx, time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, 30*24*time.Hour, def.To.Sub(def.From))
}

// TestErasureAfterContractChange erases events indexed under a contract version that
// marked personal fields after the service moved to one that marks none: their documents
// are erased whole rather than kept.
func TestErasureAfterContractChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := hubtest.New(t, nil)
	register(t, h, "crm", "https://crm.example.com", func(c *hub.IntegrationConfig) {
		c.Contract = &hub.ContractRef{Name: "contact", Version: "1.0.0", Schema: json.RawMessage(contactSchema)}
		c.Disabled = true
	})
	res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Mode: hub.Async,
		Payload: json.RawMessage(`{"email":"ann@example.com","name":"Ann Lee","plan":"pro"}`)})
	require.NoError(t, err)
	plain := `{"type":"object","properties":{"email":{"type":"string"},"name":{"type":"string"},"plan":{"type":"string"}}}`
	_, err = h.ConfigureService(ctx, "crm", hub.ServiceConfig{Contract: &hub.ContractRef{Name: "contact", Version: "1.1.0", Schema: json.RawMessage(plain)}})
	require.NoError(t, err)
	er, err := h.EraseSubject(ctx, "ann@example.com")
	require.NoError(t, err)
	assert.Equal(t, int64(1), er.Records)
	ev, err := h.Store().GetEvent(ctx, res.EventID)
	require.NoError(t, err)
	assert.JSONEq(t, `"[erased]"`, string(ev.PayloadIn))
	assert.Equal(t, store.StatusCancelled, ev.Status)
}

// TestSubjectRequestsGoverned runs the data-subject requests with authorization and
// approvals on: a caller without the permission is refused; with approvals requiring data
// access and data deletion, ExportSubject and EraseSubject only store a request (the subject
// hidden from the approvers' listing) and nothing is exported or erased until a second
// person approves; the approved export holds exactly the subject's events and the approved
// erasure erases them.
func TestSubjectRequestsGoverned(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memory.New(memory.Options{})
	key := make([]byte, hub.SecretKeySize)
	copy(key, "subject-requests-governed-key-32")
	// Set-up before the governance: a service whose contract names the data subject.
	setup := hubtest.New(t, st, hub.WithSecretKey(key))
	register(t, setup, "crm", "https://crm.example.com", func(c *hub.IntegrationConfig) {
		c.Contract = &hub.ContractRef{Name: "contact", Version: "1.0.0", Schema: json.RawMessage(contactSchema)}
		c.Disabled = true // the events stay stored, queued
	})
	subjects := people(2)
	owned := map[string][]string{}
	for i := range 10 {
		p := subjects[i%2]
		res, err := setup.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Mode: hub.Async,
			Payload: json.RawMessage(fmt.Sprintf(`{"email":%q,"name":%q,"seq":%d}`, p.Email, p.Name, i))})
		require.NoError(t, err)
		owned[p.Email] = append(owned[p.Email], res.EventID)
	}
	require.NoError(t, setup.Close(ctx))

	h, err := hub.New(st, append(hubtest.Fast(), hub.WithSecretKey(key), hub.WithAuthorization(nil),
		hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{hub.ChangeDataAccess, hub.ChangeDataDeletion}}))...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, h.Close(adminCtx(context.Background()))) })
	alice := governed(ctx, "alice", hub.RoleAdmin)
	bob := governed(ctx, "bob", hub.RoleAdmin)
	viewer := governed(ctx, "vic", hub.RoleViewer)
	ann := subjects[0]
	requests := func(kind store.SubjectRequestKind) int {
		rs, err := st.ListSubjectRequests(ctx, store.SubjectRequestFilter{Kind: kind})
		require.NoError(t, err)
		return len(rs)
	}

	// Authorization: a viewer may do neither.
	_, err = h.ExportSubject(viewer, ann.Email)
	require.ErrorIs(t, err, hub.ErrForbidden)
	_, err = h.EraseSubject(viewer, ann.Email)
	require.ErrorIs(t, err, hub.ErrForbidden)

	// Approvals: the export waits for a second person.
	_, err = h.ExportSubject(alice, ann.Email)
	var held *hub.ApprovalRequiredError
	require.ErrorAs(t, err, &held)
	assert.Equal(t, []hub.ChangeKind{hub.ChangeDataAccess}, held.Changes)
	assert.Zero(t, requests(store.RequestAccess), "nothing exported before the approval")
	pending, err := h.ListApprovals(bob, hub.ApprovalQuery{Status: store.ApprovalPending})
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.NotContains(t, string(pending[0].Change), ann.Email, "the approvers' listing hides the subject")
	_, err = h.Approve(alice, held.ID, "mine")
	require.ErrorIs(t, err, hub.ErrForbidden, "the requester cannot approve")
	res, err := h.Approve(bob, held.ID, "verified the requester's identity")
	require.NoError(t, err)
	exp, ok := res.Result.(*hub.SubjectExport)
	require.True(t, ok, "result %T", res.Result)
	var got []string
	for _, e := range exp.Events {
		got = append(got, e.ID)
	}
	assert.ElementsMatch(t, owned[ann.Email], got, "the approved export holds exactly the subject's events")
	assert.Equal(t, 1, requests(store.RequestAccess))

	// The erasure waits too; nothing is erased before the approval.
	_, err = h.EraseSubject(alice, ann.Email)
	require.ErrorAs(t, err, &held)
	assert.Equal(t, []hub.ChangeKind{hub.ChangeDataDeletion}, held.Changes)
	assert.Zero(t, requests(store.RequestErasure))
	ev, err := st.GetEvent(ctx, owned[ann.Email][0])
	require.NoError(t, err)
	assert.Contains(t, string(ev.PayloadIn), ann.Email, "nothing erased before the approval")
	res, err = h.Approve(bob, held.ID, "ok")
	require.NoError(t, err)
	er, ok := res.Result.(*hub.ErasureResult)
	require.True(t, ok, "result %T", res.Result)
	assert.Equal(t, store.RequestCompleted, er.Status)
	assert.Equal(t, int64(len(owned[ann.Email])), er.Records)
	for _, id := range owned[ann.Email] {
		ev, err := st.GetEvent(ctx, id)
		require.NoError(t, err)
		assert.NotContains(t, string(ev.PayloadIn), ann.Email)
		assert.NotContains(t, string(ev.PayloadIn), ann.Name)
	}
	for _, id := range owned[subjects[1].Email] {
		ev, err := st.GetEvent(ctx, id)
		require.NoError(t, err)
		assert.Contains(t, string(ev.PayloadIn), subjects[1].Email, "the other subject's data is intact")
	}

	// The compliance report accounts for both requests, their approvals and the refusals,
	// and for the audit log's verification, without the subject.
	rep, err := h.ComplianceReport(alice, time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, map[store.SubjectRequestStatus]int{store.RequestCompleted: 1}, rep.Erasures)
	assert.Equal(t, map[store.SubjectRequestStatus]int{store.RequestCompleted: 1}, rep.Accesses)
	assert.Equal(t, int64(2), rep.Governance.ApprovalsRequested)
	assert.Equal(t, int64(2), rep.Governance.Approved)
	assert.Equal(t, int64(3), rep.Governance.Denials, "two calls of the viewer and a self-approval")
	require.NotNil(t, rep.Audit)
	assert.True(t, rep.Audit.OK)
	b, err := rep.JSON()
	require.NoError(t, err)
	for _, v := range ann.values() {
		assert.NotContains(t, string(b), v)
	}
	t.Logf("governed subject requests: export of %d events and erasure of %d approved; report: %+v, audit %d entries verified",
		len(exp.Events), er.Records, rep.Governance, rep.Audit.Entries)
}

// TestRemoveServiceNeedsApproval: with approvals requiring data deletion, RemoveService only
// stores a request: the service keeps accepting and keeps its credentials until a second
// person approves; the approved removal then cancels its queue and destroys its credentials.
func TestRemoveServiceNeedsApproval(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memory.New(memory.Options{})
	key := make([]byte, hub.SecretKeySize)
	copy(key, "remove-service-approval-key-32by")
	setup := hubtest.New(t, st, hub.WithSecretKey(key))
	reg := register(t, setup, "crm", "https://crm.example.com", func(c *hub.IntegrationConfig) {
		c.Auth = json.RawMessage(`{"type":"bearer","token":"crm-removal-token"}`)
		c.Disabled = true // the events stay queued
	})
	require.NoError(t, setup.Close(ctx))

	h, err := hub.New(st, append(hubtest.Fast(), hub.WithSecretKey(key), hub.WithAuthorization(nil),
		hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{hub.ChangeDataDeletion}}))...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, h.Close(adminCtx(context.Background()))) })
	alice := governed(ctx, "alice", hub.RoleAdmin)
	bob := governed(ctx, "bob", hub.RoleAdmin)
	operator := governed(ctx, "olga", hub.RoleOperator)
	queue := func() {
		t.Helper()
		_, err := h.ProcessIntegrationEvent(operator, hub.EventData{Service: "crm", Mode: hub.Async, Payload: json.RawMessage(`{"n":1}`)})
		require.NoError(t, err)
	}
	queue()

	_, err = h.RemoveService(operator, "crm", hub.RemoveOptions{Reason: "contract ended"})
	require.ErrorIs(t, err, hub.ErrForbidden, "an operator may not remove a service")
	_, err = h.RemoveService(alice, "crm", hub.RemoveOptions{Reason: "contract ended"})
	var held *hub.ApprovalRequiredError
	require.ErrorAs(t, err, &held)
	assert.Equal(t, []hub.ChangeKind{hub.ChangeDataDeletion}, held.Changes)
	queue() // still accepting
	svc, err := st.GetService(ctx, reg.ServiceID)
	require.NoError(t, err)
	assert.NotEmpty(t, svc.AuthenticationConfig, "the credentials are kept until the approval")

	res, err := h.Approve(bob, held.ID, "ok")
	require.NoError(t, err)
	rm, ok := res.Result.(*hub.RemovalResult)
	require.True(t, ok, "result %T", res.Result)
	assert.Equal(t, 2, rm.Cancelled)
	assert.True(t, rm.CredentialsDestroyed)
	svc, err = st.GetService(ctx, reg.ServiceID)
	require.NoError(t, err)
	assert.Empty(t, svc.AuthenticationConfig)
	_, err = h.ProcessIntegrationEvent(operator, hub.EventData{Service: "crm", Mode: hub.Async, Payload: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, hub.ErrUnknownService)
}
