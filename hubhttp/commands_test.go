package hubhttp_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
)

func TestCommandEndpoints(t *testing.T) {
	t.Parallel()
	b := setupAPI(t)
	ctx := t.Context()
	b.sink.FailWith(400)
	r, _ := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{"n":1}`)})
	require.NotNil(t, r)
	b.sink.FailWith(0)

	var plan apiv1.CommandPlan
	res := b.json(t, "POST", "/api/v1/commands/plan", tokOperator, apiv1.CommandRequest{Text: "retry the failed sink events since yesterday"})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &plan)
	require.True(t, plan.Understood)
	require.Equal(t, "retry_events", plan.Intent)
	require.Equal(t, []string{r.EventID}, plan.EventIDs)

	var out apiv1.CommandResult
	res = b.json(t, "POST", "/api/v1/commands/run", tokOperator, apiv1.RunRequest{Plan: plan})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &out)
	require.Equal(t, []string{r.EventID}, out.Retried)
	require.Contains(t, out.Message, "Requeued 1 event")

	res = b.json(t, "POST", "/api/v1/commands/plan", tokOperator, apiv1.CommandRequest{Text: "what is wrong with sink?"})
	res.decode(t, &plan)
	res = b.json(t, "POST", "/api/v1/commands/run", tokOperator, apiv1.RunRequest{Plan: plan})
	require.Equal(t, 200, res.Status, "%s", res.Body)
	res.decode(t, &out)
	require.NotNil(t, out.Health)
	require.Contains(t, out.Message, "sink is")

	// nonsense: understood false, with suggestions; running it is a bad request
	res = b.json(t, "POST", "/api/v1/commands/plan", tokOperator, apiv1.CommandRequest{Text: "make me a sandwich"})
	require.Equal(t, 200, res.Status)
	res.decode(t, &plan)
	require.False(t, plan.Understood)
	require.NotEmpty(t, plan.Suggestions)
	res = b.json(t, "POST", "/api/v1/commands/run", tokOperator, apiv1.RunRequest{Plan: plan})
	require.Equal(t, 400, res.Status)

	// a stale plan: 409
	res = b.json(t, "POST", "/api/v1/commands/plan", tokOperator, apiv1.CommandRequest{Text: "pause sink"})
	res.decode(t, &plan)
	plan.MadeAt = plan.MadeAt.Add(-time.Hour)
	res = b.json(t, "POST", "/api/v1/commands/run", tokOperator, apiv1.RunRequest{Plan: plan})
	require.Equal(t, 409, res.Status)
	require.Equal(t, apiv1.CodeConflict, res.problem(t).Code)

	var g apiv1.Grammar
	res = b.call(t, "GET", "/api/v1/commands/grammar", tokViewer, nil)
	require.Equal(t, 200, res.Status)
	res.decode(t, &g)
	require.GreaterOrEqual(t, len(g.Rules), 15)
}
