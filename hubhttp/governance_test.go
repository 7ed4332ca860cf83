package hubhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/internal/apitest"
)

// setupGoverned serves a hub built with authorization (the built-in roles) and an approval
// policy holding back registrations: the API's principals are the hub's.
func setupGoverned(t *testing.T) *apiBundle {
	t.Helper()
	admin := hub.WithPrincipal(context.Background(), hub.Principal{ID: "ops", Roles: []hub.Role{hub.RoleAdmin}})
	h, err := hub.New(nil, append(hubtest.Fast(), hub.WithAuthorization(nil),
		hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{hub.ChangeRegister}}))...)
	require.NoError(t, err)
	require.NoError(t, h.Start(admin))
	t.Cleanup(func() { require.NoError(t, h.Close(admin)) })
	x, err := hubhttp.New(h, hubhttp.Options{Authenticate: hubhttp.BearerTokens(testPrincipals)})
	require.NoError(t, err)
	srv := httptest.NewServer(apitest.Validating(t, x))
	t.Cleanup(func() {
		x.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	b := &apiBundle{hub: h, handler: x, srv: srv}
	b.doc, b.router = loadDoc(t, srv.URL)
	return b
}

// TestGovernanceOverHTTP: the hub's refusals are 403 problems naming the permission and the
// rule; a held-back change is 202 approval-required with the request's ID, listed, approved
// by a second principal (not its requester) and applied, or rejected.
func TestGovernanceOverHTTP(t *testing.T) {
	t.Parallel()
	b := setupGoverned(t)

	pr := b.call(t, "GET", "/api/v1/audit", tokViewer, nil).problem(t)
	assert.Equal(t, 403, pr.Status)
	assert.Equal(t, apiv1.CodeForbidden, pr.Code)
	assert.Equal(t, "audit.read", pr.Permission)
	assert.Equal(t, "vera", pr.Principal)
	assert.Equal(t, "no role grants audit.read (roles: viewer)", pr.Rule)

	approvals := b.openStream(t, "?types=approval", "")
	reg := apiv1.RegisterRequest{Name: "crm", Connector: "http", BaseURL: "https://crm.example.com"}
	pr = b.json(t, "POST", "/api/v1/services", tokAdmin, reg).problem(t)
	assert.Equal(t, 202, pr.Status)
	assert.Equal(t, apiv1.CodeApprovalRequired, pr.Code)
	require.NotEmpty(t, pr.ApprovalID)
	id := pr.ApprovalID
	assert.Equal(t, 404, b.call(t, "GET", "/api/v1/services/crm", tokViewer, nil).Status, "not registered yet")
	select {
	case m := <-approvals:
		var ev apiv1.StreamEvent
		require.NoError(t, json.Unmarshal(m.Data, &ev))
		assert.Equal(t, "approval", ev.Type)
		assert.Equal(t, id, ev.ApprovalID)
		assert.Equal(t, "approval.request", ev.Action)
		assert.Equal(t, "alice", ev.Actor)
	case <-time.After(2 * time.Minute):
		t.Fatal("no approval message on the stream")
	}

	var list apiv1.ApprovalList
	b.call(t, "GET", "/api/v1/approvals?status=pending", tokViewer, nil).decode(t, &list)
	require.Len(t, list.Approvals, 1)
	assert.Equal(t, id, list.Approvals[0].ID)
	assert.Equal(t, "alice", list.Approvals[0].RequestedBy)
	assert.Equal(t, "service.register", list.Approvals[0].Action)

	pr = b.json(t, "POST", "/api/v1/approvals/"+id+"/approve", tokAdmin, apiv1.DecisionRequest{}).problem(t)
	assert.Equal(t, 403, pr.Status)
	assert.Equal(t, "the approver must differ from the requester", pr.Rule)

	res := b.json(t, "POST", "/api/v1/approvals/"+id+"/approve", tokChair, apiv1.DecisionRequest{Reason: "checked"})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	var a apiv1.Approval
	res.decode(t, &a)
	assert.Equal(t, "applied", a.Status)
	assert.Equal(t, "chair", a.DecidedBy)
	assert.Equal(t, "checked", a.DecisionReason)
	assert.Equal(t, 200, b.call(t, "GET", "/api/v1/services/crm", tokViewer, nil).Status)

	pr = b.json(t, "POST", "/api/v1/services", tokAdmin, apiv1.RegisterRequest{Name: "erp", Connector: "http",
		BaseURL: "https://erp.example.com"}).problem(t)
	res = b.json(t, "POST", "/api/v1/approvals/"+pr.ApprovalID+"/reject", tokChair, apiv1.DecisionRequest{Reason: "not this quarter"})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &a)
	assert.Equal(t, "rejected", a.Status)
	assert.Equal(t, 409, b.json(t, "POST", "/api/v1/approvals/"+pr.ApprovalID+"/approve", tokChair, apiv1.DecisionRequest{}).Status)

	// A chairman's override with its reason, and a justification, as headers.
	override := func(token string, hdr map[string]string, body any) int {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(t.Context(), "POST", b.srv.URL+"/api/v1/services", bytes.NewReader(raw))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		return b.do(t, req).Status
	}
	assert.Equal(t, 202, override(tokAdmin, map[string]string{hubhttp.ReasonHeader: "quarter close"},
		apiv1.RegisterRequest{Name: "ledger", Connector: "http", BaseURL: "https://ledger.example.com"}))
	b.call(t, "GET", "/api/v1/approvals?status=pending", tokViewer, nil).decode(t, &list)
	require.Len(t, list.Approvals, 1)
	assert.Equal(t, "quarter close", list.Approvals[0].Reason)
	assert.Equal(t, 403, override(tokAdmin, map[string]string{hubhttp.OverrideHeader: "hurry"},
		apiv1.RegisterRequest{Name: "fast", Connector: "http", BaseURL: "https://fast.example.com"}), "only a chairman overrides")
	assert.Equal(t, 400, override(tokChair, map[string]string{hubhttp.OverrideHeader: " "},
		apiv1.RegisterRequest{Name: "fast", Connector: "http", BaseURL: "https://fast.example.com"}), "an override needs a reason")
	assert.Equal(t, 201, override(tokChair, map[string]string{hubhttp.OverrideHeader: "regulator deadline"},
		apiv1.RegisterRequest{Name: "fast", Connector: "http", BaseURL: "https://fast.example.com"}))

	// The live stream: each caller is checked by the hub, and the feed runs.
	assert.Equal(t, 401, b.call(t, "GET", "/api/v1/stream", "", nil).Status)
	msgs := b.openStream(t, "?types=breaker", "")
	admin := hub.WithPrincipal(t.Context(), hub.Principal{ID: "ops", Roles: []hub.Role{hub.RoleAdmin}})
	_, err := b.hub.TriggerRecoveryAction(admin, hub.RecoveryPlan{Service: "crm", Actions: []hub.RecoveryAction{hub.ActionOpenBreaker}})
	require.NoError(t, err)
	select {
	case m := <-msgs:
		assert.Equal(t, "breaker", m.Event)
	case <-time.After(2 * time.Minute):
		t.Fatal("no breaker change on the stream")
	}
}

// TestApprovalsPagesAndUnknownIDs: GET /approvals pages with next_cursor (and offset);
// a bad cursor or page size is 400; deciding an unknown request is 404.
func TestApprovalsPagesAndUnknownIDs(t *testing.T) {
	t.Parallel()
	b := setupGoverned(t)
	var want []string
	for _, name := range []string{"crm", "erp", "hr"} {
		pr := b.json(t, "POST", "/api/v1/services", tokAdmin, apiv1.RegisterRequest{Name: name, Connector: "http",
			BaseURL: "https://" + name + ".example.com"}).problem(t)
		require.Equal(t, 202, pr.Status)
		want = append(want, pr.ApprovalID)
	}
	var got []string
	cursor, pages := "", 0
	for {
		res := b.call(t, "GET", "/api/v1/approvals?status=pending&limit=2&cursor="+url.QueryEscape(cursor), tokViewer, nil)
		require.Equal(t, 200, res.Status, "%s", res.Body)
		var page apiv1.ApprovalList
		res.decode(t, &page)
		pages++
		for _, a := range page.Approvals {
			got = append(got, a.ID)
		}
		if page.NextCursor == "" {
			break
		}
		require.Len(t, page.Approvals, 2)
		cursor = page.NextCursor
	}
	assert.Equal(t, 2, pages)
	assert.Equal(t, want, got, "oldest first, each once")

	var page apiv1.ApprovalList
	b.call(t, "GET", "/api/v1/approvals?status=pending&limit=1&offset=1", tokViewer, nil).decode(t, &page)
	require.Len(t, page.Approvals, 1)
	assert.Equal(t, want[1], page.Approvals[0].ID)
	assert.NotEmpty(t, page.NextCursor)

	for _, q := range []string{"cursor=garbage", "limit=5000", "limit=-1", "status=nonsense"} {
		res := b.call(t, "GET", "/api/v1/approvals?"+q, tokViewer, nil)
		assert.Equal(t, 400, res.Status, "%s: %s", q, res.Body)
	}
	for _, how := range []string{"approve", "reject"} {
		pr := b.json(t, "POST", "/api/v1/approvals/"+uuid.NewString()+"/"+how, tokChair, apiv1.DecisionRequest{}).problem(t)
		assert.Equal(t, 404, pr.Status, how)
		assert.Equal(t, apiv1.CodeNotFound, pr.Code, how)
	}
}
