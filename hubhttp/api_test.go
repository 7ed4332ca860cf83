package hubhttp_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp"
	"github.com/ehg/hub/hubhttp/apiv1"
)

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	_, err := hubhttp.New(nil, hubhttp.Options{Authenticate: hubhttp.BearerTokens(nil)})
	require.Error(t, err)
	b := setupAPI(t)
	_, err = hubhttp.New(b.hub, hubhttp.Options{})
	require.ErrorContains(t, err, "Authenticate")
	_, err = hubhttp.New(b.hub, hubhttp.Options{Authenticate: hubhttp.BearerTokens(nil), MaxBodyBytes: -1})
	require.Error(t, err)
}

// TestAuthenticationFailures calls every operation of the document without a token and
// with an unknown one: each answers 401 with a problem and a WWW-Authenticate challenge.
func TestAuthenticationFailures(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	n := 0
	for path, item := range b.doc.Paths.Map() {
		for method := range item.Operations() {
			p := strings.NewReplacer("{service}", "sink", "{id}", uuid.NewString()).Replace(path)
			for _, tok := range []string{"", "not-a-token"} {
				res := b.call(t, method, p, tok, nil)
				require.Equal(t, http.StatusUnauthorized, res.Status, "%s %s with token %q", method, p, tok)
				pr := res.problem(t)
				require.Equal(t, apiv1.CodeUnauthenticated, pr.Code)
				require.Contains(t, res.Header.Get("WWW-Authenticate"), "Bearer")
				require.NotContains(t, string(res.Body), "not-a-token")
			}
			n++
		}
	}
	require.Greater(t, n, 20)
	t.Logf("%d operations refuse unauthenticated calls", n)
}

// TestMalformedBodies sends a body that is not JSON, one with an unknown member and one of
// the wrong media type to every operation taking a body.
func TestMalformedBodies(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	n := 0
	for path, item := range b.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil {
				continue
			}
			p := strings.NewReplacer("{service}", "sink", "{id}", uuid.NewString()).Replace(path)
			res := b.call(t, method, p, tokChair, []byte(`{"name": "x",`))
			require.Equal(t, http.StatusBadRequest, res.Status, "%s %s", method, p)
			require.Equal(t, apiv1.CodeMalformedJSON, res.problem(t).Code)

			res = b.call(t, method, p, tokChair, []byte(`{"no_such_member": 1}`))
			require.Equal(t, http.StatusBadRequest, res.Status, "%s %s: %s", method, p, res.Body)
			require.Contains(t, res.problem(t).Detail, "no_such_member")

			res = b.call(t, method, p, tokChair, []byte(`[1,2]`))
			require.Equal(t, http.StatusBadRequest, res.Status, "%s %s", method, p)
			n++
		}
	}
	require.Greater(t, n, 10)
	req, _ := http.NewRequest("POST", b.srv.URL+"/api/v1/events", strings.NewReader(`service=sink`))
	req.Header.Set("Authorization", "Bearer "+tokChair)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res := b.do(t, req)
	require.Equal(t, http.StatusUnsupportedMediaType, res.Status)
	require.Equal(t, apiv1.CodeUnsupportedMedia, res.problem(t).Code)
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	res := b.call(t, "GET", "/api/v1/nothing-here", tokViewer, nil)
	require.Equal(t, 404, res.Status)
	require.Equal(t, apiv1.CodeNotFound, res.problem(t).Code)
	res = b.call(t, "DELETE", "/api/v1/health", tokViewer, nil)
	require.Equal(t, 405, res.Status)
	require.Equal(t, apiv1.CodeMethodNotAllowed, res.problem(t).Code)
	require.Contains(t, res.Header.Get("Allow"), "GET")
}

func TestMe(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	var me apiv1.Me
	res := b.call(t, "GET", "/api/v1/me", tokAdmin, nil)
	require.Equal(t, 200, res.Status)
	res.decode(t, &me)
	require.Equal(t, "alice", me.Principal.ID)
	require.Equal(t, []string{"admin"}, me.Principal.Roles)
}

func TestServicesEndpoints(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	schema := `{"type":"object","required":["title"],"properties":{"title":{"type":"string"}}}`
	res := b.json(t, "POST", "/api/v1/services", tokAdmin, apiv1.RegisterRequest{
		Name: "crm", Connector: "http", BaseURL: b.sink.URL, Category: "crm",
		Auth:        json.RawMessage(`{"token":"very-secret-value"}`),
		Contract:    &apiv1.ContractRef{Name: "ticket", Version: "1.0.0", Schema: json.RawMessage(schema)},
		Mapping:     json.RawMessage(`{"title": "issue.title"}`),
		CostPerCall: 0.5,
	})
	require.Equal(t, 201, res.Status, "%s", res.Body)
	require.NotContains(t, string(res.Body), "very-secret-value")
	var created apiv1.ServiceChange
	res.decode(t, &created)
	require.Equal(t, "crm", created.Service.Name)
	require.Equal(t, 1, created.MappingVersion)

	// the name is taken
	res = b.json(t, "POST", "/api/v1/services", tokAdmin, apiv1.RegisterRequest{Name: "crm", Connector: "http", BaseURL: b.sink.URL})
	require.Equal(t, 422, res.Status)
	pr := res.problem(t)
	require.Equal(t, apiv1.CodeInvalidConfig, pr.Code)
	require.Equal(t, "IntegrationConfig.Name", pr.Field)

	// a bad URL names its field
	res = b.json(t, "POST", "/api/v1/services", tokAdmin, apiv1.RegisterRequest{Name: "bad", Connector: "http", BaseURL: "ftp://x"})
	require.Equal(t, 422, res.Status)
	require.Equal(t, "IntegrationConfig.BaseURL", res.problem(t).Field)

	var list apiv1.ServiceList
	res = b.call(t, "GET", "/api/v1/services", tokViewer, nil)
	require.Equal(t, 200, res.Status)
	res.decode(t, &list)
	require.Len(t, list.Services, 2)
	require.Equal(t, "crm", list.Services[0].Name)
	require.NotContains(t, string(res.Body), "very-secret-value")

	var svc apiv1.Service
	res = b.call(t, "GET", "/api/v1/services/crm", tokViewer, nil)
	require.Equal(t, 200, res.Status)
	res.decode(t, &svc)
	require.Equal(t, "ticket", svc.Contract.Name)
	require.JSONEq(t, `{"title":"issue.title"}`, string(svc.Mapping))

	res = b.call(t, "GET", "/api/v1/services/no-such-service", tokViewer, nil)
	require.Equal(t, 404, res.Status)
	require.Equal(t, apiv1.CodeNotFound, res.problem(t).Code)

	off := false
	res = b.json(t, "PATCH", "/api/v1/services/crm", tokAdmin, apiv1.ConfigureRequest{Active: &off, Mapping: json.RawMessage(`{"title": "issue.title + '!'"}`)})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	var changed apiv1.ServiceChange
	res.decode(t, &changed)
	require.ElementsMatch(t, []string{"is_active", "mapping"}, changed.Changed)
	require.False(t, changed.Service.Active)
	require.Equal(t, 2, changed.MappingVersion)

	res = b.json(t, "PATCH", "/api/v1/services/nope", tokAdmin, apiv1.ConfigureRequest{Active: &off})
	require.Equal(t, 404, res.Status)
	res = b.json(t, "PATCH", "/api/v1/services/crm", tokAdmin, apiv1.ConfigureRequest{Mapping: json.RawMessage(`{"title": "issue.("}`)})
	require.Equal(t, 422, res.Status)
	require.Equal(t, "ServiceConfig.Mapping", res.problem(t).Field)

	var tr apiv1.TestResult
	res = b.json(t, "POST", "/api/v1/services/crm/test", tokOperator, apiv1.TestRequest{Payload: json.RawMessage(`{"issue":{"title":"T"}}`)})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &tr)
	require.True(t, tr.OK, "%s", res.Body)
	require.JSONEq(t, `{"title":"T!"}`, string(tr.Canonical))
	res = b.json(t, "POST", "/api/v1/services/crm/test", tokOperator, apiv1.TestRequest{SkipCheck: true, Payload: json.RawMessage(`{"issue":{"title":7}}`)})
	require.Equal(t, 200, res.Status)
	res.decode(t, &tr)
	require.False(t, tr.OK)
	res = b.json(t, "POST", "/api/v1/services/nope/test", tokOperator, apiv1.TestRequest{})
	require.Equal(t, 404, res.Status)
}

func TestEventsProcessAndRetry(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	var pr apiv1.ProcessResult
	res := b.json(t, "POST", "/api/v1/events", tokOperator, apiv1.ProcessRequest{Service: "sink", Payload: json.RawMessage(`{"n":1}`), IdempotencyKey: "k1"})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &pr)
	require.Equal(t, "succeeded", pr.Status)

	res = b.json(t, "POST", "/api/v1/events", tokOperator, apiv1.ProcessRequest{Service: "nope", Payload: json.RawMessage(`{}`)})
	require.Equal(t, 404, res.Status)
	res = b.json(t, "POST", "/api/v1/events", tokOperator, apiv1.ProcessRequest{Service: "sink", Payload: json.RawMessage(`{}`), Priority: "urgent"})
	require.Equal(t, 400, res.Status)
	require.Equal(t, apiv1.CodeInvalidInput, res.problem(t).Code)

	// a permanent failure: retry it
	b.sink.FailWith(400)
	res = b.json(t, "POST", "/api/v1/events", tokOperator, apiv1.ProcessRequest{Service: "sink", Payload: json.RawMessage(`{"n":2}`)})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &pr)
	require.Equal(t, "failed", pr.Status)
	b.sink.FailWith(0)

	var rr apiv1.RetryResult
	res = b.call(t, "POST", "/api/v1/events/"+pr.EventID+"/retry", tokOperator, nil)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &rr)
	require.Equal(t, "failed", rr.PreviousStatus)
	require.Equal(t, "pending", rr.Status)

	res = b.call(t, "POST", "/api/v1/events/"+uuid.NewString()+"/retry", tokOperator, nil)
	require.Equal(t, 404, res.Status)
	res = b.call(t, "POST", "/api/v1/events/not-a-uuid/retry", tokOperator, nil)
	require.Contains(t, []int{400, 404}, res.Status)
}

func TestRedriveByIDs(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	ctx := t.Context()
	b.sink.FailWith(400)
	var ids []string
	for i := range 3 {
		r, _ := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		require.NotNil(t, r)
		ids = append(ids, r.EventID)
	}
	b.sink.FailWith(0)
	unknown := uuid.NewString()
	var rr apiv1.RedriveResult
	res := b.json(t, "POST", "/api/v1/events/redrive", tokOperator, apiv1.RedriveRequest{IDs: append(ids, unknown)})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &rr)
	require.ElementsMatch(t, ids, rr.Requeued)
	require.Len(t, rr.Skipped, 1)
	require.Equal(t, unknown, rr.Skipped[0].EventID)
	require.Eventually(t, func() bool { return b.sink.Unique() >= 3 }, 5*time.Second, 20*time.Millisecond)
}

func TestMonitoringEndpoints(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	ctx := t.Context()
	for i := range 5 {
		_, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		require.NoError(t, err)
	}
	var hr apiv1.HealthReport
	res := b.call(t, "GET", "/api/v1/health", tokViewer, nil)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &hr)
	require.Len(t, hr.Services, 1)
	require.EqualValues(t, 5, hr.Services[0].QueueDepth["succeeded"])
	res = b.call(t, "GET", "/api/v1/health?service=nope", tokViewer, nil)
	require.Equal(t, 404, res.Status)

	var sh apiv1.ServiceHealth
	res = b.call(t, "GET", "/api/v1/services/sink/health", tokViewer, nil)
	require.Equal(t, 200, res.Status)
	res.decode(t, &sh)
	require.Equal(t, "sink", sh.Name)
	require.Equal(t, 404, b.call(t, "GET", "/api/v1/services/nope/health", tokViewer, nil).Status)

	var pm apiv1.Performance
	res = b.call(t, "GET", "/api/v1/metrics", tokViewer, nil)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &pm)
	require.EqualValues(t, 5, pm.Overall.Events)
	res = b.call(t, "GET", "/api/v1/metrics?from=yesterday", tokViewer, nil)
	require.Equal(t, 400, res.Status)
	require.Equal(t, apiv1.CodeInvalidParameter, res.problem(t).Code)
	now := time.Now().UTC()
	res = b.call(t, "GET", "/api/v1/metrics?from="+now.Format(time.RFC3339)+"&to="+now.Add(-time.Hour).Format(time.RFC3339), tokViewer, nil)
	require.Equal(t, 400, res.Status)
	require.Equal(t, apiv1.CodeInvalidInput, res.problem(t).Code)

	var an apiv1.Analytics
	res = b.call(t, "GET", "/api/v1/analytics?service=sink&period=hour", tokViewer, nil)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &an)
	require.EqualValues(t, 5, an.Totals.Events)
	require.Equal(t, 400, b.call(t, "GET", "/api/v1/analytics?period=week", tokViewer, nil).Status)

	var ov apiv1.Overview
	res = b.call(t, "GET", "/api/v1/overview", tokViewer, nil)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &ov)
	require.Len(t, ov.Services, 1)
	o := ov.Services[0]
	require.Equal(t, "sink", o.Name)
	require.Len(t, o.SeriesEvents, 12)
	var total float64
	for _, v := range o.SeriesEvents {
		total += v
	}
	require.EqualValues(t, 5, total)
	require.InDelta(t, 5.0/60, o.Throughput, 1e-9)
}

func TestRecoveryAndEscalation(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	var rr apiv1.RecoveryResult
	res := b.json(t, "POST", "/api/v1/recovery", tokOperator, apiv1.RecoveryRequest{Service: "sink", Actions: []string{"open_breaker", "reset_breaker"}})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &rr)
	require.True(t, rr.OK)
	require.Len(t, rr.Steps, 2)
	res = b.json(t, "POST", "/api/v1/recovery", tokOperator, apiv1.RecoveryRequest{Service: "sink", Actions: []string{"reboot"}})
	require.Equal(t, 422, res.Status)
	require.Equal(t, "RecoveryPlan.Actions[0]", res.problem(t).Field)
	res = b.json(t, "POST", "/api/v1/recovery", tokOperator, apiv1.RecoveryRequest{Service: "nope", Actions: []string{"enable"}})
	require.Equal(t, 404, res.Status)

	var er apiv1.EscalationResult
	res = b.json(t, "POST", "/api/v1/escalations", tokOperator, apiv1.EscalationRequest{Service: "sink", Summary: "deliveries slow", Severity: "high"})
	require.Equal(t, 201, res.Status, "%s", res.Body)
	res.decode(t, &er)
	require.NotEmpty(t, er.IncidentID)
	res = b.json(t, "POST", "/api/v1/escalations", tokOperator, apiv1.EscalationRequest{Service: "nope", Summary: "x"})
	require.Equal(t, 404, res.Status)
}

func TestAuditPagination(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	for i := range 4 {
		registerSink(t, b.hub, fmt.Sprintf("extra-%d", i), b.sink.URL)
	}
	var all []apiv1.AuditEntry
	cursor := ""
	pages := 0
	for {
		var page apiv1.AuditPage
		res := b.call(t, "GET", "/api/v1/audit?limit=2&entity_type=service&cursor="+cursor, tokAdmin, nil)
		require.Equal(t, 200, res.Status, "%s", res.Body)
		res.decode(t, &page)
		require.LessOrEqual(t, len(page.Entries), 2)
		all = append(all, page.Entries...)
		pages++
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Len(t, all, 5)
	require.Equal(t, 3, pages)
	ids := map[string]bool{}
	for _, e := range all {
		require.False(t, ids[e.ID], "entry %s listed twice", e.ID)
		ids[e.ID] = true
	}
	res := b.call(t, "GET", "/api/v1/audit?cursor=%25%25", tokAdmin, nil)
	require.Equal(t, 400, res.Status)
	res = b.call(t, "GET", "/api/v1/audit?limit=ten", tokAdmin, nil)
	require.Equal(t, 400, res.Status)
	require.Equal(t, apiv1.CodeInvalidParameter, res.problem(t).Code)
}

func TestDesignerEndpoints(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	schema := json.RawMessage(`{"type":"object","required":["title","state"],"properties":{"title":{"type":"string"},"state":{"enum":["todo","done"]}}}`)
	sample := json.RawMessage(`{"issue":{"title":"Crash","state":"open"}}`)

	var cr apiv1.CompileResult
	res := b.json(t, "POST", "/api/v1/mappings/compile", tokViewer, apiv1.CompileRequest{Mapping: json.RawMessage(`{"title":"issue.title","state":"issue.(","x":"nope("}`)})
	require.Equal(t, 200, res.Status)
	res.decode(t, &cr)
	require.False(t, cr.OK)
	require.Len(t, cr.Errors, 2)
	require.Equal(t, "state", cr.Errors[0].Target)
	require.NotZero(t, cr.Errors[0].Column)
	res = b.json(t, "POST", "/api/v1/mappings/compile", tokViewer, apiv1.CompileRequest{Mapping: json.RawMessage(`{"title":"issue.title"}`)})
	res.decode(t, &cr)
	require.True(t, cr.OK)
	require.Equal(t, []string{"title"}, cr.Targets)

	var pr apiv1.PreviewResult
	res = b.json(t, "POST", "/api/v1/mappings/preview", tokViewer, apiv1.PreviewRequest{
		Mapping: json.RawMessage(`{"title":"issue.title","state":"issue.state"}`), Sample: sample,
		Contract: &apiv1.ContractRef{Name: "item", Version: "1.0.0", Schema: schema}})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &pr)
	require.False(t, pr.OK)
	require.JSONEq(t, `{"title":"Crash","state":"open"}`, string(pr.Output))
	require.Len(t, pr.Violations, 1)
	require.Equal(t, "/state", pr.Violations[0].Path)

	res = b.json(t, "POST", "/api/v1/mappings/preview", tokViewer, apiv1.PreviewRequest{
		Mapping: json.RawMessage(`{"title":"issue.title","state":"issue.state == 'open' ? 'todo' : 'done'"}`), Sample: sample,
		Contract: &apiv1.ContractRef{Name: "item", Version: "1.0.0", Schema: schema}})
	res.decode(t, &pr)
	require.True(t, pr.OK, "%s", res.Body)
	require.Empty(t, pr.Violations)

	res = b.json(t, "POST", "/api/v1/mappings/preview", tokViewer, apiv1.PreviewRequest{Mapping: json.RawMessage(`{"n":"int(issue.title)"}`), Sample: sample})
	require.Equal(t, 200, res.Status)
	res.decode(t, &pr)
	require.False(t, pr.OK)
	require.Equal(t, "n", pr.Errors[0].Target)

	res = b.json(t, "POST", "/api/v1/mappings/preview", tokViewer, apiv1.PreviewRequest{Mapping: json.RawMessage(`{"a":"1"}`), Sample: json.RawMessage(`[1]`)})
	require.Equal(t, 400, res.Status)
	res = b.json(t, "POST", "/api/v1/mappings/preview", tokViewer, apiv1.PreviewRequest{Mapping: json.RawMessage(`{"a":"1"}`), Sample: sample, Service: "nope"})
	require.Equal(t, 404, res.Status)

	var sr apiv1.SuggestResult
	res = b.json(t, "POST", "/api/v1/mappings/suggest", tokViewer, apiv1.SuggestRequest{Sample: sample, Schema: schema})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &sr)
	require.NotEmpty(t, sr.Suggestions)
	require.Contains(t, string(sr.Mapping), "issue.title")
	res = b.json(t, "POST", "/api/v1/mappings/suggest", tokViewer, apiv1.SuggestRequest{Sample: sample})
	require.Equal(t, 400, res.Status)

	var vr apiv1.ValidateResult
	res = b.json(t, "POST", "/api/v1/contracts/validate", tokViewer, apiv1.ValidateRequest{Document: json.RawMessage(`{"title":1}`),
		Contract: &apiv1.ContractRef{Name: "item", Version: "1.0.0", Schema: schema}})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &vr)
	require.False(t, vr.Valid)
	require.NotEmpty(t, vr.Violations)
	res = b.json(t, "POST", "/api/v1/contracts/validate", tokViewer, apiv1.ValidateRequest{Document: json.RawMessage(`{}`),
		Contract: &apiv1.ContractRef{Name: "item", Version: "1.0.0", Schema: json.RawMessage(`{"type":"nonsense"}`)}})
	require.Equal(t, 422, res.Status)
	res = b.json(t, "POST", "/api/v1/contracts/validate", tokViewer, apiv1.ValidateRequest{Document: json.RawMessage(`{}`), Service: "sink"})
	require.Equal(t, 400, res.Status) // the sink has no canonical contract

	var cp apiv1.Compatibility
	res = b.json(t, "POST", "/api/v1/contracts/compatibility", tokViewer, apiv1.CompatibilityRequest{OldSchema: schema,
		NewSchema: json.RawMessage(`{"type":"object","required":["title","state","owner"],"properties":{"title":{"type":"string"},"state":{"enum":["todo"]},"owner":{"type":"string"}}}`)})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &cp)
	require.False(t, cp.Backward)
	require.GreaterOrEqual(t, len(cp.Changes), 2)
	res = b.json(t, "POST", "/api/v1/contracts/compatibility", tokViewer, apiv1.CompatibilityRequest{OldSchema: schema})
	require.Equal(t, 400, res.Status)
}

func TestStreamLiveAndResume(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	ctx := t.Context()
	msgs := b.openStream(t, "?types=event,breaker", "")
	res, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{"n":1}`)})
	require.NoError(t, err)
	m1, ev := waitMessage(t, msgs, 5*time.Second, func(e apiv1.StreamEvent) bool { return e.Type == "event" })
	require.Equal(t, res.EventID, ev.EventID)
	require.Equal(t, "succeeded", ev.Status)
	require.Equal(t, "event", m1.Event)

	_, err = b.hub.TriggerRecoveryAction(ctx, hub.RecoveryPlan{Service: "sink", Actions: []hub.RecoveryAction{hub.ActionOpenBreaker, hub.ActionResetBreaker}})
	require.NoError(t, err)
	_, ev = waitMessage(t, msgs, 5*time.Second, func(e apiv1.StreamEvent) bool { return e.Type == "breaker" && e.To == "open" })
	require.Equal(t, "sink", ev.ServiceName)
	m3, _ := waitMessage(t, msgs, 5*time.Second, func(e apiv1.StreamEvent) bool { return e.Type == "breaker" && e.To == "closed" })

	// resume after the first message: the two breaker transitions come again
	resumed := b.openStream(t, "?types=event,breaker", m1.ID)
	got, ev := waitMessage(t, resumed, 5*time.Second, func(apiv1.StreamEvent) bool { return true })
	require.Equal(t, "open", ev.To)
	got, _ = waitMessage(t, resumed, 5*time.Second, func(apiv1.StreamEvent) bool { return true })
	require.Equal(t, m3.ID, got.ID)

	// an id from another process: reset
	other := b.openStream(t, "", "0123456789ab-7")
	_, ev = waitMessage(t, other, 5*time.Second, func(apiv1.StreamEvent) bool { return true })
	require.Equal(t, "reset", ev.Type)

	res2 := b.call(t, "GET", "/api/v1/stream?service=nope", tokViewer, nil)
	require.Equal(t, 404, res2.Status)
}

func TestStreamHealthChanges(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	ctx := t.Context()
	registerSink(t, b.hub, "flaky", b.sink.URL)
	_, err := b.hub.ConfigureService(ctx, "flaky", hub.ServiceConfig{HealthCheck: json.RawMessage(`{"min_samples": 3, "window_seconds": 60}`)})
	require.NoError(t, err)
	msgs := b.openStream(t, "?types=health&service=flaky", "")
	b.sink.FailWith(400)
	for i := range 5 {
		_, _ = b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "flaky", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
	}
	_, ev := waitMessage(t, msgs, 5*time.Second, func(e apiv1.StreamEvent) bool { return e.Type == "health" && e.To == "unhealthy" })
	require.Equal(t, "flaky", ev.ServiceName)
	require.NotEmpty(t, ev.Reason)
}

func TestConsoleServed(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	for _, p := range []string{"/", "/app.js", "/app.css", "/services/sink"} {
		resp, err := http.Get(b.srv.URL + p)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, p)
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'")
		require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

// TestMountedUnderPrefix serves the handler under /hub/ with http.StripPrefix: the API, the
// document and the console's files answer there.
func TestMountedUnderPrefix(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	mux := http.NewServeMux()
	mux.Handle("/hub/", http.StripPrefix("/hub", b.handler))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, want := range map[string]int{"/hub/": 200, "/hub/app.js": 200, "/hub/api/v1/openapi.json": 200} {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, want, resp.StatusCode, path)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/hub/api/v1/me", nil)
	require.Equal(t, 401, b.do(t, req, "/hub").Status)
	req, _ = http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/hub/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+tokViewer)
	require.Equal(t, 200, b.do(t, req, "/hub").Status)
}
