package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/internal/apitest"
	"github.com/ehg/hub/store"
)

// TestOperatorCommandsTableAndJSON runs each operator command of hubctl (status, services,
// events, retry, redrive, approvals, approve, audit verify, watch) against a running
// handler over a hub with authorization and approvals on, once with table output and once
// with -o json, and checks both against the hub's state.
func TestOperatorCommandsTableAndJSON(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	admin := hub.WithPrincipal(context.Background(), hub.Principal{ID: "ops", Roles: []hub.Role{hub.RoleAdmin}})
	h, err := hub.New(nil, append(hubtest.Fast(), hub.WithAuthorization(nil),
		hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{hub.ChangeEnable}}))...)
	require.NoError(t, err)
	require.NoError(t, h.Start(admin))
	t.Cleanup(func() { require.NoError(t, h.Close(admin)) })
	sink := hubtest.NewSink(t)
	zero := 0
	_, err = h.RegisterIntegration(admin, hub.IntegrationConfig{Name: "orders", Connector: "http", BaseURL: sink.URL, MaxRetries: &zero,
		Retry: json.RawMessage(hubtest.FastRetry), RateLimits: json.RawMessage(hubtest.Unlimited),
		CircuitBreaker: json.RawMessage(`{"failure_threshold": 1000, "recovery_timeout": "100ms"}`)})
	require.NoError(t, err)
	for _, name := range []string{"crm", "erp"} {
		_, err := h.RegisterIntegration(admin, hub.IntegrationConfig{Name: name, Connector: "http", BaseURL: "https://" + name + ".example.com", Disabled: true})
		require.NoError(t, err)
	}
	x, err := hubhttp.New(h, hubhttp.Options{Authenticate: hubhttp.BearerTokens(map[string]hubhttp.Principal{
		"alice": {ID: "alice", Roles: []string{"admin"}}, "bob": {ID: "bob", Roles: []string{"admin"}},
		"oscar": {ID: "oscar", Roles: []string{"operator"}}})})
	require.NoError(t, err)
	srv := httptest.NewServer(apitest.Validating(t, x))
	t.Cleanup(func() {
		x.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	hubctl := func(ctx context.Context, token string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		env := map[string]string{"HUBCTL_URL": srv.URL, "HUBCTL_TOKEN": token}
		code := run(ctx, args, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
		return code, out.String(), errOut.String()
	}
	ok := func(token string, args ...string) string {
		t.Helper()
		code, out, errOut := hubctl(ctx, token, args...)
		require.Equal(t, 0, code, "hubctl %v: %s", args, errOut)
		return out
	}
	decode := func(out string, v any) {
		t.Helper()
		require.NoError(t, json.Unmarshal([]byte(out), v), "not JSON: %s", out)
	}

	// (hubtest.WaitForStatus reads without a principal, which this hub refuses)
	waitStatus := func(id string, want store.EventStatus) {
		t.Helper()
		var last store.EventStatus
		require.Eventually(t, func() bool {
			ev, err := h.GetEvent(admin, id)
			require.NoError(t, err)
			last = ev.Status
			return last == want
		}, hubtest.DefaultWait, 5*time.Millisecond, "event %s stays %s, not %s", id, last, want)
	}

	// Four dead letters: the remote fails and the service has no retries.
	sink.FailWith(503)
	var dead []string
	for i := range 4 {
		r, err := h.ProcessIntegrationEvent(admin, hub.EventData{Service: "orders", Payload: json.RawMessage(fmt.Sprintf(`{"order":%d}`, i))})
		require.ErrorIs(t, err, hub.ErrDeliveryFailed)
		waitStatus(r.EventID, store.StatusDead)
		dead = append(dead, r.EventID)
	}
	sink.FailWith(0)

	// status
	out := ok("oscar", "status")
	require.Regexp(t, `(?m)^SERVICE\s+STATUS\s+BREAKER`, out)
	require.Regexp(t, `(?m)^orders\s+\S+\s+closed\s`, out)
	var ov apiv1.Overview
	decode(ok("oscar", "-o", "json", "status"), &ov)
	require.Len(t, ov.Services, 3)

	// services
	out = ok("oscar", "services")
	require.Regexp(t, `(?m)^orders\s+http\s+true`, out)
	require.Regexp(t, `(?m)^crm\s+http\s+false`, out)
	var sl apiv1.ServiceList
	decode(ok("oscar", "-o", "json", "services"), &sl)
	names := []string{}
	for _, s := range sl.Services {
		names = append(names, s.Name)
	}
	require.ElementsMatch(t, []string{"orders", "crm", "erp"}, names)

	// events
	out = ok("oscar", "events", "-service", "orders", "-status", "dead")
	require.Regexp(t, `(?m)^ID\s+SERVICE\s+STATUS`, out)
	for _, id := range dead {
		require.Regexp(t, `(?m)^`+id+`\s+orders\s+dead\s`, out)
	}
	var page apiv1.EventPage
	decode(ok("oscar", "-o", "json", "events", "-service", "orders", "-status", "dead"), &page)
	require.Len(t, page.Events, 4)

	// retry: one in a table, one as JSON; both delivered once requeued
	out = ok("oscar", "retry", dead[0])
	require.Regexp(t, dead[0]+`\s+dead\s+pending`, out)
	var retried []apiv1.RetryResult
	decode(ok("oscar", "-o", "json", "retry", dead[1]), &retried)
	require.Len(t, retried, 1)
	require.Equal(t, apiv1.RetryResult{EventID: dead[1], PreviousStatus: "dead", Status: "pending"}, retried[0])

	// redrive: one by id in a table, the rest of the service's dead letters as JSON
	out = ok("oscar", "redrive", dead[2])
	require.Contains(t, out, "requeued 1 events\n  "+dead[2]+"\n")
	var rr apiv1.RedriveResult
	decode(ok("oscar", "-o", "json", "redrive", "-service", "orders"), &rr)
	require.Equal(t, []string{dead[3]}, rr.Requeued)
	for _, id := range dead {
		waitStatus(id, store.StatusSucceeded)
	}

	// approvals: two enables held for approval
	for _, name := range []string{"crm", "erp"} {
		code, _, errOut := hubctl(ctx, "alice", "-reason", "vendor is back: "+name, "resume", name)
		require.Equal(t, 1, code)
		require.Contains(t, errOut, "approval-required (202")
	}
	out = ok("oscar", "approvals")
	require.Regexp(t, `(?m)^ID\s+ACTION\s+TARGET\s+REQUESTED BY\s+REASON`, out)
	require.Contains(t, out, "vendor is back: crm")
	require.Contains(t, out, "vendor is back: erp")
	var al apiv1.ApprovalList
	decode(ok("oscar", "-o", "json", "approvals"), &al)
	require.Len(t, al.Approvals, 2)
	ids := map[string]string{}
	for _, a := range al.Approvals {
		require.Equal(t, "alice", a.RequestedBy)
		require.Contains(t, out, a.ID)
		ids[strings.TrimPrefix(a.Reason, "vendor is back: ")] = a.ID
	}

	// approve: not by the requester; by a second admin, in a table and as JSON
	code, _, errOut := hubctl(ctx, "alice", "approve", ids["crm"])
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "forbidden (403")
	out = ok("bob", "approve", ids["crm"])
	require.Equal(t, "approval "+ids["crm"]+": applied\n", out)
	var a apiv1.Approval
	decode(ok("bob", "-o", "json", "approve", "-reason", "checked", ids["erp"]), &a)
	require.Equal(t, "applied", a.Status)
	require.Equal(t, "bob", a.DecidedBy)
	for _, name := range []string{"crm", "erp"} {
		si, err := h.GetService(admin, name)
		require.NoError(t, err)
		require.True(t, si.Service.IsActive, name)
	}

	// audit verify
	var rep apiv1.AuditReport
	decode(ok("bob", "-o", "json", "audit", "verify"), &rep)
	require.True(t, rep.OK)
	require.Positive(t, rep.Entries)
	out = ok("bob", "audit", "verify")
	m := regexp.MustCompile(`^audit chain intact: (\d+) entries verified\n$`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	code, _, errOut = hubctl(ctx, "oscar", "audit", "verify")
	require.Equal(t, 1, code, "an operator may not read the audit log")
	require.Contains(t, errOut, "forbidden (403")

	// watch, in a table and as JSON Lines
	for _, asJSON := range []bool{false, true} {
		lines := watch(t, srv.URL, asJSON, func() {
			_, err := h.ProcessIntegrationEvent(admin, hub.EventData{Service: "orders", Payload: json.RawMessage(`{"watched":1}`)})
			require.NoError(t, err)
		})
		if asJSON {
			var ev apiv1.StreamEvent
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &ev), lines[0])
			require.Equal(t, "event", ev.Type)
			require.Equal(t, "orders", ev.ServiceName)
			require.NotEmpty(t, ev.EventID)
		} else {
			require.Regexp(t, `^\d\d:\d\d:\d\d event    orders \S+: `, lines[0])
		}
	}
}

// watch runs "hubctl watch -types event" as oscar, calls produce until a line is printed,
// stops the command and returns its lines.
func watch(t *testing.T, base string, asJSON bool, produce func()) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	var out bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	})
	args := []string{"watch", "-types", "event"}
	if asJSON {
		args = append([]string{"-o", "json"}, args...)
	}
	done := make(chan int)
	go func() {
		env := map[string]string{"HUBCTL_URL": base, "HUBCTL_TOKEN": "oscar"}
		done <- run(ctx, args, strings.NewReader(""), w, &bytes.Buffer{}, func(k string) string { return env[k] })
	}()
	// events sent before the stream is connected are not seen: keep sending until one is
	require.Eventually(t, func() bool {
		produce()
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(out.String(), "\n")
	}, 30*time.Second, 100*time.Millisecond)
	cancel()
	require.Equal(t, 0, <-done)
	mu.Lock()
	defer mu.Unlock()
	var lines []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NotEmpty(t, lines)
	return lines
}
