package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/internal/apitest"
)

func TestMain(m *testing.M) {
	apitest.RegisterDecoders()
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	)
}

const (
	tokOp     = "op-token"
	tokViewer = "viewer-token"
)

type bundle struct {
	hub  *hub.Hub
	url  string
	sink *hubtest.Sink
}

// setup runs a hub with a service "sink" behind the handler on a test server.
func setup(t *testing.T) *bundle {
	t.Helper()
	h := hubtest.New(t, nil)
	x, err := hubhttp.New(h, hubhttp.Options{Authenticate: hubhttp.BearerTokens(map[string]hubhttp.Principal{
		tokOp: {ID: "oscar", Roles: []string{"operator"}}, tokViewer: {ID: "vera", Roles: []string{"viewer"}}})})
	require.NoError(t, err)
	srv := httptest.NewServer(apitest.Validating(t, x))
	t.Cleanup(func() {
		x.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	sink := hubtest.NewSink(t)
	_, err = h.RegisterIntegration(t.Context(), hub.IntegrationConfig{Name: "sink", Connector: "http", BaseURL: sink.URL,
		Retry: json.RawMessage(hubtest.FastRetry), RateLimits: json.RawMessage(hubtest.Unlimited)})
	require.NoError(t, err)
	return &bundle{hub: h, url: srv.URL, sink: sink}
}

// hubctl runs one invocation with the operator's token and returns its exit status and
// outputs.
func (b *bundle) hubctl(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	return b.hubctlCtx(t.Context(), t, stdin, args...)
}

func (b *bundle) hubctlCtx(ctx context.Context, t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := map[string]string{"HUBCTL_URL": b.url, "HUBCTL_TOKEN": tokOp}
	code := run(ctx, args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

func TestStatusAndServices(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.hub.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "sink", Payload: json.RawMessage(`{"n":1}`)})
	require.NoError(t, err)

	code, out, errOut := b.hubctl(t, "", "status")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "SERVICE")
	require.Regexp(t, `(?m)^sink\s+\S+\s+closed\s`, out)

	code, out, _ = b.hubctl(t, "", "-o", "json", "status")
	require.Equal(t, 0, code)
	var ov apiv1.Overview
	require.NoError(t, json.Unmarshal([]byte(out), &ov))
	require.Len(t, ov.Services, 1)

	code, out, _ = b.hubctl(t, "", "services")
	require.Equal(t, 0, code)
	require.Regexp(t, `(?m)^sink\s+http\s+true`, out)

	code, out, _ = b.hubctl(t, "", "health", "sink")
	require.Equal(t, 0, code)
	require.Contains(t, out, "sink")

	code, _, errOut = b.hubctl(t, "", "health", "nope")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "not-found (404")
}

func TestRetryRedriveAndRecovery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.sink.FailWith(400)
	var ids []string
	for i := range 3 {
		r, _ := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		require.NotNil(t, r)
		ids = append(ids, r.EventID)
	}
	b.sink.FailWith(0)

	code, out, errOut := b.hubctl(t, "", "retry", ids[0])
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, ids[0]+`\s+failed\s+pending`, out)

	code, out, errOut = b.hubctl(t, "", "-o", "json", "redrive", ids[1], ids[2])
	require.Equal(t, 0, code, errOut)
	var rr apiv1.RedriveResult
	require.NoError(t, json.Unmarshal([]byte(out), &rr))
	require.ElementsMatch(t, ids[1:], rr.Requeued)
	require.Eventually(t, func() bool { return b.sink.Unique() == 3 }, 5*time.Second, 20*time.Millisecond)

	code, _, errOut = b.hubctl(t, "", "retry", ids[0])
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "invalid-transition")

	code, out, _ = b.hubctl(t, "", "pause", "sink")
	require.Equal(t, 0, code)
	require.Contains(t, out, "service disabled")
	si, err := b.hub.GetService(ctx, "sink")
	require.NoError(t, err)
	require.False(t, si.Service.IsActive)
	code, out, _ = b.hubctl(t, "", "resume", "sink")
	require.Equal(t, 0, code)
	require.Contains(t, out, "service enabled")
	code, out, _ = b.hubctl(t, "", "open-breaker", "sink")
	require.Equal(t, 0, code)
	require.Contains(t, out, "forced open")
	code, out, _ = b.hubctl(t, "", "reset-breaker", "sink")
	require.Equal(t, 0, code)
	require.Contains(t, out, "breaker closed")
	code, out, _ = b.hubctl(t, "", "test", "sink")
	require.Equal(t, 0, code)
	require.Regexp(t, `connector_check\s+ok`, out)
}

func TestAuditList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code, out, errOut := b.hubctl(t, "", "audit", "-limit", "5")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "service.register")
}

func TestDoCommand(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// declined at the prompt: nothing runs
	code, out, errOut := b.hubctl(t, "n\n", "do", "pause", "sink")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "plan: Pause sink")
	require.Contains(t, out, "not run")
	si, _ := b.hub.GetService(t.Context(), "sink")
	require.True(t, si.Service.IsActive)
	// confirmed
	code, out, _ = b.hubctl(t, "y\n", "do", "pause sink")
	require.Equal(t, 0, code)
	require.Contains(t, out, "service disabled")
	// read-only plans run at once
	code, out, _ = b.hubctl(t, "", "do", "what is wrong with sink?")
	require.Equal(t, 0, code)
	require.Contains(t, out, "sink is")
	code, out, _ = b.hubctl(t, "", "do", "-yes", "resume", "sink")
	require.Equal(t, 0, code)
	require.Contains(t, out, "service enabled")
	code, out, _ = b.hubctl(t, "", "do", "make", "me", "a", "sandwich")
	require.Equal(t, 1, code)
	require.Contains(t, out, "try: ")
}

func TestWatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	var out bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	})
	done := make(chan int)
	go func() {
		env := map[string]string{"HUBCTL_URL": b.url, "HUBCTL_TOKEN": tokOp}
		done <- run(ctx, []string{"watch", "-types", "event,breaker"}, strings.NewReader(""), w, &bytes.Buffer{}, func(k string) string { return env[k] })
	}()
	// events sent before the stream is connected are not seen: keep sending until one is
	require.Eventually(t, func() bool {
		_, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{"n":1}`)})
		require.NoError(t, err)
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(out.String(), "event    sink")
	}, 10*time.Second, 100*time.Millisecond)
	_, err := b.hub.TriggerRecoveryAction(ctx, hub.RecoveryPlan{Service: "sink", Actions: []hub.RecoveryAction{hub.ActionOpenBreaker}})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(out.String(), "breaker  sink: closed -> open")
	}, 10*time.Second, 50*time.Millisecond)
	cancel()
	require.Equal(t, 0, <-done)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestUsageAndAuthErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var out, errOut bytes.Buffer
	env := func(string) string { return "" }
	require.Equal(t, 2, run(t.Context(), []string{"status"}, strings.NewReader(""), &out, &errOut, env))
	require.Contains(t, errOut.String(), "URL is required")
	require.Equal(t, 2, run(t.Context(), []string{"-url", b.url}, strings.NewReader(""), &out, &errOut, env))
	require.Equal(t, 2, run(t.Context(), []string{"-url", b.url, "frobnicate"}, strings.NewReader(""), &out, &errOut, env))
	require.Equal(t, 2, run(t.Context(), []string{"-url", b.url, "-o", "yaml", "status"}, strings.NewReader(""), &out, &errOut, env))
	require.Equal(t, 2, run(t.Context(), []string{"-url", "ftp://x", "status"}, strings.NewReader(""), &out, &errOut, env))
	errOut.Reset()
	require.Equal(t, 1, run(t.Context(), []string{"-url", b.url, "-token", "wrong", "status"}, strings.NewReader(""), &out, &errOut, env))
	require.Contains(t, errOut.String(), "unauthenticated (401")
	require.NotContains(t, errOut.String(), "wrong")
	code, _, errOut2 := b.hubctl(t, "", "redrive", "-since", "yesterday")
	require.Equal(t, 2, code)
	require.Contains(t, errOut2, "duration")
}

func TestRemove(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code, out, errOut := b.hubctl(t, "", "remove", "-reason", "replaced", "sink")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "sink removed: 0 queued events cancelled")
	code, _, errOut = b.hubctl(t, "", "remove")
	require.Equal(t, 2, code, errOut)
	code, _, errOut = b.hubctl(t, "", "remove", "nope")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "not-found")
}

func TestEventsAndEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	var ids []string
	for i := range 3 {
		r, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		require.NoError(t, err)
		ids = append(ids, r.EventID)
	}
	code, out, errOut := b.hubctl(t, "", "events", "-service", "sink", "-limit", "2")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, ids[0])
	require.Contains(t, out, ids[1])
	require.NotContains(t, out, ids[2])
	require.Contains(t, out, "more: -cursor ")

	code, out, errOut = b.hubctl(t, "", "-o", "json", "events", "-status", "succeeded", "-newest")
	require.Equal(t, 0, code, errOut)
	var page apiv1.EventPage
	require.NoError(t, json.Unmarshal([]byte(out), &page))
	require.Len(t, page.Events, 3)
	require.Equal(t, ids[2], page.Events[0].ID)

	code, out, errOut = b.hubctl(t, "", "event", ids[1])
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `status\s+succeeded`, out)
	require.Contains(t, out, `{"n":1}`)

	code, _, _ = b.hubctl(t, "", "event")
	require.Equal(t, 2, code)
}
