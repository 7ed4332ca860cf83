package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/ehg/hub"
)

// A service is registered with a mapping and a canonical contract; an event is mapped,
// validated, stored and delivered synchronously.
func ExampleHub_ProcessIntegrationEvent() {
	ctx := context.Background()
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("remote got %s (Idempotency-Key %s)\n", body, r.Header.Get("Idempotency-Key"))
	}))
	defer remote.Close()

	h, err := hub.New(nil, hub.WithPollInterval(10*time.Millisecond),
		// the stand-in remote listens on loopback, which the hub refuses unless allowed
		hub.WithAllowedNetworks(netip.MustParsePrefix("127.0.0.0/8"))) // nil: the in-memory store
	if err != nil {
		panic(err)
	}
	if err := h.Start(ctx); err != nil {
		panic(err)
	}
	defer h.Close(ctx)

	_, err = h.RegisterIntegration(ctx, hub.IntegrationConfig{
		Name:      "tickets",
		Connector: "http", // generic JSON REST: POST to the base URL
		BaseURL:   remote.URL,
		Contract: &hub.ContractRef{Name: "ticket", Version: "1.0.0", Schema: json.RawMessage(`{
			"type": "object", "required": ["title", "priority"],
			"properties": {"title": {"type": "string", "minLength": 1}, "priority": {"enum": ["low", "high"]}}}`)},
		Mapping: json.RawMessage(`{"title": "issue.title", "priority": "issue.urgent ? 'high' : 'low'"}`),
	})
	if err != nil {
		panic(err)
	}
	res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{
		Service:        "tickets",
		Payload:        json.RawMessage(`{"issue": {"title": "Checkout is down", "urgent": true}}`),
		IdempotencyKey: "evt-1",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.ResponseCode, res.RuleName, res.RuleVersion)
	// Output:
	// remote got {"priority":"high","title":"Checkout is down"} (Idempotency-Key evt-1)
	// succeeded 200 tickets.mapping 1
}
