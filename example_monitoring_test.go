package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/ehg/hub"
)

// Subscribe delivers each health status change as it is judged: here one failed delivery
// to a service that needs a single outcome to judge makes it unhealthy.
func ExampleHub_Subscribe() {
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer remote.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := hub.New(nil, hub.WithPollInterval(10*time.Millisecond),
		// the stand-in remote listens on loopback, which the hub refuses unless allowed
		hub.WithAllowedNetworks(netip.MustParsePrefix("127.0.0.0/8")))
	if err != nil {
		panic(err)
	}
	if err := h.Start(ctx); err != nil {
		panic(err)
	}
	defer h.Close(context.Background())
	zero := 0
	if _, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "crm", Connector: "http", BaseURL: remote.URL,
		MaxRetries: &zero, HealthCheck: json.RawMessage(`{"min_samples":1}`)}); err != nil {
		panic(err)
	}
	changes := h.Subscribe(ctx)
	_, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Payload: json.RawMessage(`{"id":1}`)})
	fmt.Println("delivery failed:", err != nil)
	c := <-changes
	fmt.Printf("%s: %s -> %s (%s)\n", c.ServiceName, c.From, c.To, c.Reason)
	// Output:
	// delivery failed: true
	// crm: unknown -> unhealthy (error rate 100.0% at or above critical 25.0%)
}
