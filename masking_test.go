package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// echoRemote fails the first attempt of every delivery with a 503 whose message echoes the
// request body (as careless APIs do), then accepts it.
func echoRemote(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		first := key != "" && !seen[key]
		seen[key] = true
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if first {
			w.WriteHeader(http.StatusServiceUnavailable)
			msg, _ := json.Marshal(map[string]string{"message": "cannot store " + string(body)})
			_, _ = w.Write(msg)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// spanText renders everything a span exports: name, attributes, status and events.
func spanText(s sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	b.WriteString(s.Name())
	for _, kv := range s.Attributes() {
		fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.Emit())
	}
	fmt.Fprintf(&b, " status=%s", s.Status().Description)
	for _, ev := range s.Events() {
		b.WriteString(" event:" + ev.Name)
		for _, kv := range ev.Attributes {
			fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.Emit())
		}
	}
	return b.String()
}

// TestMasking delivers personal payloads through remotes that echo them in error messages,
// and sends some that break their contract on a personal field, with debug logging and
// tracing on. Neither the logs nor the spans, the stored error details, the health and
// analytics reports, nor (with MaskDelivered) the stored documents of delivered events
// hold any personal value; the errors still tell what went wrong.
func TestMasking(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	logger, logs := debugLogger()
	h := hubtest.New(t, nil, hub.WithLogger(logger), hub.WithTracerProvider(tp), hub.WithMaskDelivered())
	crm, mailer, support := echoRemote(t), rejectingRemote(t), hubtest.NewSink(t)
	personalServices(t, h, crm.URL, mailer.URL, support.URL)
	_, err := h.ConfigureService(ctx, "support", hub.ServiceConfig{Active: ptr(true)})
	require.NoError(t, err)

	subjects := people(4)
	var sent []string
	for i := range 60 {
		p := subjects[i%len(subjects)]
		ev := personalEvent(i, p)
		ev.Mode = hub.Sync
		res, err := h.ProcessIntegrationEvent(ctx, ev)
		switch {
		case err == nil:
		case errors.Is(err, hub.ErrDeliveryFailed):
			// the echoing remote's first refusal (retried) or the mailer's 422
			assert.NotContains(t, err.Error(), p.Email)
		default:
			require.NoError(t, err)
		}
		sent = append(sent, res.EventID)
	}
	// Contract violations on personal fields: the value is withheld, the problem is told.
	bad := subjects[0]
	badEmail := "not-an-address-" + strings.ToLower(bad.Name[len(bad.Name)-8:])
	_, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Mode: hub.Sync,
		Payload: json.RawMessage(fmt.Sprintf(`{"email":%q,"name":%q,"phone":%q}`, badEmail, bad.Name, bad.Phone))})
	var cv *hub.ContractViolationError
	require.ErrorAs(t, err, &cv)
	require.NotEmpty(t, cv.Violations)
	assert.Equal(t, "/email", cv.Violations[0].Path)
	assert.Contains(t, cv.Violations[0].Message, "personal field")
	assert.NotContains(t, err.Error(), badEmail)
	_, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "support", Mode: hub.Sync,
		Payload: json.RawMessage(fmt.Sprintf(`{"reporter":{"email":%q,"name":12345678}}`, bad.Email))})
	require.ErrorIs(t, err, hub.ErrContractViolation)
	waitSettled(t, h.Store(), h, "crm", "mailer", "support")

	values := []string{badEmail}
	for _, p := range subjects {
		values = append(values, p.values()...)
	}
	check := func(what string, text []byte) {
		t.Helper()
		for _, v := range values {
			assert.Falsef(t, bytes.Contains(text, []byte(v)), "%s holds the personal value %q", what, v)
		}
	}
	logged := logs.Bytes()
	require.Contains(t, string(logged), "hub: delivery outcome", "debug logging is on")
	require.Contains(t, string(logged), "[masked]", "the echoed values were masked, not dropped")
	check("the debug log", logged)

	spans := rec.Ended()
	require.NotEmpty(t, spans)
	var all strings.Builder
	names := map[string]int{}
	for _, s := range spans {
		all.WriteString(spanText(s) + "\n")
		names[s.Name()]++
	}
	require.Positive(t, names["hub.deliver"])
	require.Positive(t, names["hub.validate"])
	check("the spans", []byte(all.String()))

	// Stored error details; delivered events' documents (MaskDelivered).
	st := h.Store()
	masked, details := 0, 0
	for _, id := range sent {
		ev, err := st.GetEvent(ctx, id)
		require.NoError(t, err)
		if len(ev.ErrorDetails) > 0 {
			details++
			check("error_details of "+id, ev.ErrorDetails)
		}
		if ev.Status == store.StatusSucceeded {
			masked++
			check("a delivered event "+id, bytes.Join([][]byte{ev.PayloadIn, ev.CanonicalMapping, ev.PayloadOut}, nil))
			assert.Contains(t, string(ev.PayloadIn), "[masked]")
		}
	}
	require.Positive(t, details, "some deliveries failed with an echo")
	require.Positive(t, masked)

	rep, err := h.GetIntegrationHealth(ctx, "")
	require.NoError(t, err)
	an, err := h.GetIntegrationAnalytics(ctx, hub.AnalyticsQuery{})
	require.NoError(t, err)
	for what, v := range map[string]any{"the health report": rep, "the analytics": an} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		check(what, b)
	}
	t.Logf("masking: %d deliveries, %d spans, %d bytes of debug log, %d events with error details, %d delivered events stored masked: no personal value",
		len(sent), len(spans), len(logged), details, masked)
}
