package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/internal/apitest"
)

// TestGovernedHub: against a hub that holds enabling a disabled service for approval,
// "resume" waits with its -reason, "approvals" lists it, a second principal approves it, and
// the chairman resumes another service at once with -override.
func TestGovernedHub(t *testing.T) {
	t.Parallel()
	admin := hub.WithPrincipal(context.Background(), hub.Principal{ID: "ops", Roles: []hub.Role{hub.RoleAdmin}})
	h, err := hub.New(nil, append(hubtest.Fast(), hub.WithAuthorization(nil),
		hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{hub.ChangeEnable}}))...)
	require.NoError(t, err)
	require.NoError(t, h.Start(admin))
	t.Cleanup(func() { require.NoError(t, h.Close(admin)) })
	for _, name := range []string{"crm", "erp"} {
		_, err := h.RegisterIntegration(admin, hub.IntegrationConfig{Name: name, Connector: "http", BaseURL: "https://" + name + ".example.com", Disabled: true})
		require.NoError(t, err)
	}
	x, err := hubhttp.New(h, hubhttp.Options{Authenticate: hubhttp.BearerTokens(map[string]hubhttp.Principal{
		"alice": {ID: "alice", Roles: []string{"admin"}}, "bob": {ID: "bob", Roles: []string{"admin"}},
		"chair": {ID: "chair", Roles: []string{"chairman"}}})})
	require.NoError(t, err)
	srv := httptest.NewServer(apitest.Validating(t, x))
	t.Cleanup(func() {
		x.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	hubctl := func(token string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		env := map[string]string{"HUBCTL_URL": srv.URL, "HUBCTL_TOKEN": token}
		code := run(t.Context(), args, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
		return code, out.String(), errOut.String()
	}

	code, _, errOut := hubctl("alice", "-reason", "vendor fixed the outage", "resume", "crm")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "approval-required (202")
	code, out, errOut := hubctl("alice", "approvals")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "vendor fixed the outage")
	require.Contains(t, out, "alice")
	id := strings.Fields(strings.Split(out, "\n")[1])[0]

	code, _, errOut = hubctl("alice", "approve", id)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "forbidden (403")
	code, out, errOut = hubctl("bob", "approve", id)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "applied")
	si, err := h.GetService(admin, "crm")
	require.NoError(t, err)
	require.True(t, si.Service.IsActive)

	code, _, errOut = hubctl("chair", "-override", "board demo in ten minutes", "resume", "erp")
	require.Equal(t, 0, code, errOut)
	si, err = h.GetService(admin, "erp")
	require.NoError(t, err)
	require.True(t, si.Service.IsActive)
}
