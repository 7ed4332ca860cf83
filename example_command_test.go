package hub_test

import (
	"context"
	"fmt"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
)

// Text commands: a sentence becomes a plan, which runs only when confirmed.
func ExampleHub_Command() {
	ctx := context.Background()
	h, _ := hub.New(nil, hubtest.Fast()...)
	_ = h.Start(ctx)
	defer h.Close(ctx)
	_, _ = h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "Slack", Connector: "http", BaseURL: "https://slack.example.com"})

	plan, _ := h.Command(ctx, "pause Slack")
	fmt.Println(plan.Summary)
	fmt.Println(plan.Steps[0])
	res, _ := h.RunCommand(ctx, plan) // after the operator confirmed
	fmt.Println(res.Message)

	plan, _ = h.Command(ctx, "make me a sandwich")
	fmt.Println(plan.Understood, plan.Suggestions[0])
	// Output:
	// Pause Slack: disable the service; its events are accepted and wait until it is resumed.
	// TriggerRecoveryAction(Slack, disable)
	// Slack: service disabled.
	// false status
}
