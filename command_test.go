package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

const (
	ventureA    = "0b7e4a52-6c1d-4d35-9a51-7f0c1b2a3e4d"
	ventureAcme = "8d7c6b5a-4f3e-4d2c-8b1a-0f9e8d7c6b5a"
)

// TestCommandPlans is the text-command table: sentence -> the plan it yields.
func TestCommandPlans(t *testing.T) {
	t.Parallel()
	// Wednesday 2026-03-18 14:30 UTC
	now := time.Date(2026, 3, 18, 14, 30, 0, 0, time.UTC)
	h := hubtest.New(t, nil, hub.WithClock(func() time.Time { return now }),
		hub.WithVentures(map[string]string{"A": ventureA, "Acme Corp": ventureAcme}))
	sink := hubtest.NewSink(t)
	for _, n := range []string{"GitHub", "Slack", "Salesforce", "Jira Cloud", "billing-api"} {
		register(t, h, n, sink.URL, nil)
	}
	midnight := time.Date(2026, 3, 18, 0, 0, 0, 0, time.UTC)
	type want struct {
		intent   string
		service  string
		statuses []store.EventStatus
		since    time.Time
		venture  string
		readOnly bool
		summary  string // a part of the summary
		approval string
		severity string
	}
	failedDead := []store.EventStatus{store.StatusFailed, store.StatusDead}
	dead := []store.EventStatus{store.StatusDead}
	// (no event matches the retry plans here: they change nothing, so they are read-only)
	cases := []struct {
		text string
		want want
	}{
		{"retry the failed GitHub events for Venture A since yesterday", want{intent: "retry_events", service: "GitHub", statuses: failedDead, since: midnight.AddDate(0, 0, -1), venture: ventureA, summary: "No failed or dead events of GitHub for venture A since yesterday", readOnly: true}},
		{"pause Slack", want{intent: "pause", service: "Slack", summary: "Pause Slack"}},
		{"what is wrong with Salesforce?", want{intent: "diagnose", service: "Salesforce", readOnly: true}},
		{"show dead letters", want{intent: "list_events", statuses: dead, readOnly: true, summary: "dead letters"}},
		{"Retry failed Slack messages from today", want{intent: "retry_events", service: "Slack", statuses: failedDead, since: midnight, readOnly: true}},
		{"resend the failed salesforce deliveries in the last 3 hours", want{intent: "retry_events", service: "Salesforce", statuses: failedDead, since: now.Add(-3 * time.Hour), readOnly: true}},
		{"replay dead events since yesterday", want{intent: "redrive_dead", statuses: dead, since: midnight.AddDate(0, 0, -1), summary: "dead letters", readOnly: true}},
		{"redrive the dead letters of Slack", want{intent: "redrive_dead", service: "Slack", statuses: dead, readOnly: true}},
		{"requeue github dead letters for venture acme corp", want{intent: "redrive_dead", service: "GitHub", statuses: dead, venture: ventureAcme, readOnly: true}},
		{"reprocess failed events of Jira Cloud since monday", want{intent: "retry_events", service: "Jira Cloud", statuses: failedDead, since: midnight.AddDate(0, 0, -2), readOnly: true}},
		{"try again the failed billing-api calls in the past hour", want{intent: "retry_events", service: "billing-api", statuses: failedDead, since: now.Add(-time.Hour), readOnly: true}},
		{"retry failed events since 2026-03-01", want{intent: "retry_events", statuses: failedDead, since: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), readOnly: true}},
		{"retry failed events for venture " + ventureA, want{intent: "retry_events", statuses: failedDead, venture: ventureA, readOnly: true}},
		{"disable salesforce", want{intent: "pause", service: "Salesforce"}},
		{"Stop sending to GitHub", want{intent: "pause", service: "GitHub"}},
		{"suspend jira cloud", want{intent: "pause", service: "Jira Cloud"}},
		{"turn off Slack please", want{intent: "pause", service: "Slack"}},
		{"resume Slack", want{intent: "resume", service: "Slack", summary: "Resume Slack"}},
		{"turn GitHub back on", want{intent: "resume", service: "GitHub"}},
		{"unpause salesforce", want{intent: "resume", service: "Salesforce"}},
		{"enable billing-api", want{intent: "resume", service: "billing-api"}},
		{"how is Slack doing?", want{intent: "diagnose", service: "Slack", readOnly: true}},
		{"What's wrong with github", want{intent: "diagnose", service: "GitHub", readOnly: true}},
		{"diagnose Jira Cloud", want{intent: "diagnose", service: "Jira Cloud", readOnly: true}},
		{"is salesforce ok?", want{intent: "diagnose", service: "Salesforce", readOnly: true}},
		{"why is billing-api failing", want{intent: "diagnose", service: "billing-api", readOnly: true}},
		{"status", want{intent: "status", readOnly: true}},
		{"is anything broken?", want{intent: "status", readOnly: true}},
		{"how are things", want{intent: "status", readOnly: true}},
		{"give me an overview", want{intent: "status", readOnly: true}},
		{"list failed Salesforce events in the last 2 hours", want{intent: "list_events", service: "Salesforce", statuses: failedDead, since: now.Add(-2 * time.Hour), readOnly: true}},
		{"show the dead letters of GitHub", want{intent: "list_events", service: "GitHub", statuses: dead, readOnly: true}},
		{"which Slack events failed today?", want{intent: "list_events", service: "Slack", statuses: failedDead, since: midnight, readOnly: true}},
		{"show events of jira cloud", want{intent: "list_events", service: "Jira Cloud", readOnly: true}},
		{"reset the breaker for Slack", want{intent: "reset_breaker", service: "Slack"}},
		{"close the circuit of salesforce", want{intent: "reset_breaker", service: "Salesforce"}},
		{"trip the circuit for GitHub", want{intent: "open_breaker", service: "GitHub"}},
		{"open the breaker of billing-api", want{intent: "open_breaker", service: "billing-api"}},
		{"fail over Salesforce", want{intent: "failover", service: "Salesforce"}},
		{"switch slack to the backup", want{intent: "failover", service: "Slack"}},
		{"test the Salesforce connection", want{intent: "test", service: "Salesforce", readOnly: true}},
		{"ping github", want{intent: "test", service: "GitHub", readOnly: true}},
		{"escalate Salesforce: logins failing since 9am", want{intent: "escalate", service: "Salesforce", severity: "medium", summary: "logins failing since 9am"}},
		{"page the team about Slack, urgent: messages are not arriving", want{intent: "escalate", service: "Slack", severity: "critical"}},
		{"show performance for the last hour", want{intent: "metrics", since: now.Add(-time.Hour), readOnly: true}},
		{"what is the latency of GitHub?", want{intent: "metrics", service: "GitHub", readOnly: true}},
		{"how much did Slack cost today?", want{intent: "cost", service: "Slack", since: midnight, readOnly: true}},
		{"show analytics", want{intent: "cost", readOnly: true}},
		{"show pending approvals", want{intent: "list_approvals", readOnly: true}},
		{"what needs my approval?", want{intent: "list_approvals", readOnly: true}},
		{"approve 5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d", want{intent: "approve", approval: "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}},
		{"reject 5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d", want{intent: "reject", approval: "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}},
		{"verify the audit chain", want{intent: "verify_audit", readOnly: true}},
		{"show routes", want{intent: "list_routes", readOnly: true, summary: "List the active routes."}},
		{"list the routes of GitHub", want{intent: "list_routes", service: "GitHub", readOnly: true, summary: "List the active routes of GitHub."}},
		{"routes", want{intent: "list_routes", readOnly: true}},
		{"is the audit log intact?", want{intent: "verify_audit", readOnly: true}},
		{"help", want{intent: "help", readOnly: true}},
		{"remove the Jira Cloud integration", want{intent: "remove", service: "Jira Cloud", summary: "Remove Jira Cloud: its queued events are cancelled"}},
		{"decommission billing-api after delivering its queue", want{intent: "remove", service: "billing-api", summary: "after delivering its queued events"}},
	}
	require.GreaterOrEqual(t, len(cases), 40)
	for _, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			p, err := h.Command(t.Context(), c.text)
			require.NoError(t, err)
			require.True(t, p.Understood, "not understood: %s (suggestions %v)", p.Reason, p.Suggestions)
			w := c.want
			require.Equal(t, w.intent, p.Intent)
			require.Equal(t, w.service, p.Service)
			require.Equal(t, w.statuses, p.Statuses)
			require.True(t, w.since.Equal(p.Since), "since %v, want %v", p.Since, w.since)
			require.Equal(t, w.venture, p.VentureID)
			require.Equal(t, w.readOnly, p.ReadOnly, "read only")
			require.Equal(t, w.approval, p.ApprovalID)
			require.Equal(t, w.severity, p.Severity)
			require.Contains(t, p.Summary, w.summary)
			require.NotEmpty(t, p.Summary)
			require.Equal(t, now, p.MadeAt)
			// plans are values: they survive JSON
			b, err := json.Marshal(p)
			require.NoError(t, err)
			var back hub.CommandPlan
			require.NoError(t, json.Unmarshal(b, &back))
			require.Equal(t, p.Intent, back.Intent)
			require.True(t, p.Since.Equal(back.Since))
		})
	}
}

// TestCommandNotUnderstood: nonsense and incomplete sentences are not understood, with a
// reason and suggestions.
func TestCommandNotUnderstood(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil, hub.WithVentures(map[string]string{"A": ventureA}))
	sink := hubtest.NewSink(t)
	register(t, h, "Slack", sink.URL, nil)
	register(t, h, "GitHub", sink.URL, nil)
	for _, c := range []struct{ text, reason string }{
		{"make me a sandwich", "no command matches"},
		{"colorless green ideas sleep furiously", "no command matches"},
		{"", "empty"},
		{"pause", "needs a service"},
		{"pause Teams", "needs a service"},
		{"retry failed events for venture Zeta", "unknown venture"},
		{"escalate Slack", "summary"},
		{"approve it", ""},
	} {
		p, err := h.Command(t.Context(), c.text)
		require.NoError(t, err)
		require.False(t, p.Understood, "%q was understood as %s", c.text, p.Intent)
		require.Contains(t, p.Reason, c.reason, c.text)
		require.NotEmpty(t, p.Suggestions, c.text)
		_, err = h.RunCommand(t.Context(), p)
		require.ErrorIs(t, err, hub.ErrInvalidInput)
	}
	p, _ := h.Command(t.Context(), "make me a sandwich")
	t.Logf("suggestions for nonsense: %v", p.Suggestions)
}

// TestRunCommandRetry plans a retry of failed events, runs it and sees them delivered; a
// second run of the same plan skips them.
func TestRunCommandRetry(t *testing.T) {
	t.Parallel()
	b := setup(t, hub.WithVentures(map[string]string{"A": ventureA}))
	ctx := t.Context()
	b.sink.FailWith(400)
	var mine []string
	for i := range 4 {
		v := ventureA
		if i == 3 {
			v = ventureAcme
		}
		r, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", VentureID: v, Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		require.ErrorIs(t, err, hub.ErrDeliveryFailed)
		if v == ventureA {
			mine = append(mine, r.EventID)
		}
	}
	b.sink.FailWith(0)
	plan, err := b.hub.Command(ctx, "retry the failed sink events for venture A since yesterday")
	require.NoError(t, err)
	require.True(t, plan.Understood, plan.Reason)
	require.ElementsMatch(t, mine, plan.EventIDs)
	require.Contains(t, plan.Summary, "Requeue 3 failed or dead events of sink for venture A since yesterday")
	res, err := b.hub.RunCommand(ctx, plan)
	require.NoError(t, err)
	require.ElementsMatch(t, mine, res.Retried)
	for _, id := range mine {
		eventually(t, 5*time.Second, func() bool { return statusOf(t, b.st, id) == store.StatusSucceeded }, "event %s delivered", id)
	}
	again, err := b.hub.RunCommand(ctx, plan)
	require.NoError(t, err)
	require.Empty(t, again.Retried)
	require.Len(t, again.Skipped, 3)
}

// TestRunCommandPauseAndStale: a pause plan runs once; a plan made before the service
// changed is refused as stale, and so is an old plan.
func TestRunCommandPauseAndStale(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	pause, err := b.hub.Command(ctx, "pause sink")
	require.NoError(t, err)
	resume, err := b.hub.Command(ctx, "resume sink")
	require.NoError(t, err)
	res, err := b.hub.RunCommand(ctx, pause)
	require.NoError(t, err)
	require.True(t, res.OK)
	require.Contains(t, res.Message, "disabled")
	si, err := b.hub.GetService(ctx, "sink")
	require.NoError(t, err)
	require.False(t, si.Service.IsActive)
	// resume was planned while sink was active: stale now
	_, err = b.hub.RunCommand(ctx, resume)
	require.ErrorIs(t, err, hub.ErrStalePlan)
	resume, err = b.hub.Command(ctx, "resume sink")
	require.NoError(t, err)
	_, err = b.hub.RunCommand(ctx, resume)
	require.NoError(t, err)

	old, err := b.hub.Command(ctx, "what is wrong with sink")
	require.NoError(t, err)
	old.MadeAt = old.MadeAt.Add(-hub.CommandPlanTTL - time.Minute)
	_, err = b.hub.RunCommand(ctx, old)
	require.ErrorIs(t, err, hub.ErrStalePlan)
}

// TestRunCommandRoutes: "show routes" lists the stored routes, of one source service when
// the sentence names one; a stored-inactive route is marked.
func TestRunCommandRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	register(t, b.hub, "chat", b.sink.URL, nil)
	register(t, b.hub, "tracker", b.sink.URL, nil)
	for _, r := range []hub.Route{
		{Name: "opened", Source: "sink", Mapping: json.RawMessage(`{"fields":{"title":"payload.title"}}`), Destinations: []hub.RouteDestination{{Service: "chat"}, {Service: "tracker"}}},
		{Name: "chatter", Source: "chat", Mapping: json.RawMessage(`{"fields":{"title":"payload.title"}}`), Destinations: []hub.RouteDestination{{Service: "tracker"}}},
	} {
		_, err := b.hub.PutRoute(ctx, r)
		require.NoError(t, err)
	}
	err := b.hub.DeleteRoute(ctx, "chatter", "route-test")
	require.NoError(t, err)

	p, err := b.hub.Command(ctx, "show routes")
	require.NoError(t, err)
	require.True(t, p.Understood, p.Reason)
	require.Equal(t, []string{"Routes()"}, p.Steps)
	res, err := b.hub.RunCommand(ctx, p)
	require.NoError(t, err)
	require.Contains(t, res.Message, "2 routes.")
	require.Contains(t, res.Message, "opened v1: sink -> chat, tracker")
	require.Contains(t, res.Message, "chatter v2 (inactive): chat -> tracker")

	p, err = b.hub.Command(ctx, "list the routes of sink")
	require.NoError(t, err)
	require.Equal(t, []string{"Routes(of sink)"}, p.Steps)
	res, err = b.hub.RunCommand(ctx, p)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(res.Message, "1 route."), res.Message)
	require.NotContains(t, res.Message, "chatter")
}

// TestRunCommandMapping: "preview the mapping of S" applies the service's current mapping
// to the payload of its most recent event and checks the output against its contract
// (violations at their paths); "suggest a mapping for S" proposes one from that payload;
// a service without events gets a plan that says why it cannot run.
func TestRunCommandMapping(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	schema := json.RawMessage(`{"type":"object","required":["title","state"],"properties":{"title":{"type":"string"},"state":{"enum":["todo","done"]}}}`)
	reg := register(t, b.hub, "crm", b.sink.URL, func(c *hub.IntegrationConfig) {
		c.Contract = &hub.ContractRef{Name: "item", Version: "1.0.0", Schema: schema}
		c.Mapping = json.RawMessage(`{"title":"issue.title","state":"issue.state == 'open' ? 'todo' : 'done'"}`)
	})
	register(t, b.hub, "quiet", b.sink.URL, func(c *hub.IntegrationConfig) {
		c.Contract = &hub.ContractRef{Name: "item", Version: "1.0.0", Schema: schema}
		c.Mapping = json.RawMessage(`{"title":"issue.title","state":"'todo'"}`)
	})
	for _, title := range []string{"Old", "Crash"} {
		_, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Payload: json.RawMessage(`{"issue":{"title":"` + title + `","state":"open"}}`)})
		require.NoError(t, err)
	}
	page, err := b.hub.ListEvents(ctx, hub.EventQuery{Service: "crm", Limit: 1, NewestFirst: true})
	require.NoError(t, err)
	last := page.Events[0].ID

	for _, text := range []string{"preview the crm mapping", "preview the mapping of crm on its last event"} {
		p, err := b.hub.Command(ctx, text)
		require.NoError(t, err)
		require.True(t, p.Understood, "%s: %s", text, p.Reason)
		require.Equal(t, "preview_mapping", p.Intent)
		require.True(t, p.ReadOnly)
		require.Equal(t, []string{last}, p.EventIDs)
		require.Equal(t, []string{"GetEvent(" + last + ")", "TransformData(crm mapping v1)", "ValidateDataContract(item@1.0.0)"}, p.Steps)
		require.Contains(t, p.Summary, "checked against item@1.0.0")
		res, err := b.hub.RunCommand(ctx, p)
		require.NoError(t, err)
		require.True(t, res.OK, res.Message)
		require.Contains(t, res.Message, `Output: {"state":"todo","title":"Crash"}`, "the most recent event is the sample")
		require.Contains(t, res.Message, "Valid against item@1.0.0.")
	}

	// the current mapping is previewed: one that passes the state through breaks the contract
	_, err = b.hub.ConfigureService(ctx, reg.ServiceID, hub.ServiceConfig{Mapping: json.RawMessage(`{"title":"issue.title","state":"issue.state"}`)})
	require.NoError(t, err)
	p, err := b.hub.Command(ctx, "preview the crm mapping")
	require.NoError(t, err)
	require.Contains(t, p.Summary, "(version 2)")
	res, err := b.hub.RunCommand(ctx, p)
	require.NoError(t, err)
	require.False(t, res.OK)
	require.Contains(t, res.Message, "1 violation of item@1.0.0:")
	require.Regexp(t, `(?m)^/state: \S`, res.Message)

	p, err = b.hub.Command(ctx, "suggest a mapping for crm")
	require.NoError(t, err)
	require.True(t, p.Understood, p.Reason)
	require.Equal(t, "suggest_mapping", p.Intent)
	require.True(t, p.ReadOnly)
	require.Equal(t, []string{last}, p.EventIDs)
	res, err = b.hub.RunCommand(ctx, p)
	require.NoError(t, err)
	require.Contains(t, res.Message, "title = issue.title")

	for _, text := range []string{"preview the quiet mapping", "suggest a mapping for quiet"} {
		p, err := b.hub.Command(ctx, text)
		require.NoError(t, err)
		require.False(t, p.Understood, text)
		require.Contains(t, p.Reason, "quiet has no events", text)
	}
	p, err = b.hub.Command(ctx, "preview the sink mapping")
	require.NoError(t, err)
	require.False(t, p.Understood)
	require.Contains(t, p.Reason, "sink has no mapping")
	p, err = b.hub.Command(ctx, "suggest a mapping")
	require.NoError(t, err)
	require.False(t, p.Understood)
	require.Contains(t, p.Reason, "needs a service")
}

func TestRunCommandReadOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.sink.FailWith(400)
	r, _ := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{"n":1}`)})
	require.NotNil(t, r)
	b.sink.FailWith(0)
	for _, c := range []struct{ text, message string }{
		{"what is wrong with sink?", "sink is"},
		{"status", "services"},
		{"show failed events", "1 event"},
		{"test sink", "passed"},
		{"show performance", "events"},
		{"how much did sink cost today", "cost"},
		{"help", "pause <service>"},
	} {
		p, err := b.hub.Command(ctx, c.text)
		require.NoError(t, err)
		require.True(t, p.Understood, "%s: %s", c.text, p.Reason)
		require.True(t, p.ReadOnly, c.text)
		res, err := b.hub.RunCommand(ctx, p)
		require.NoError(t, err, c.text)
		require.Contains(t, res.Message, c.message, c.text)
	}
	p, _ := b.hub.Command(ctx, "show failed events")
	res, err := b.hub.RunCommand(ctx, p)
	require.NoError(t, err)
	require.Len(t, res.Events, 1)
	require.Equal(t, r.EventID, res.Events[0].ID)
	require.True(t, strings.HasPrefix(res.Message, "1 event"))
	_ = context.Background
}
