package builtin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/builtin"
)

// Example shows how the hub wires a stored service configuration to a connector and
// delivers an event with the default operation.
func Example() {
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.Method, r.URL.Path, r.Header.Get("Idempotency-Key"))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer remote.Close()

	// What the hub keeps per service: a connector kind and a JSON document.
	kind := "http"
	stored := `{"base_url":"` + remote.URL + `","auth":{"type":"bearer","token":"s3cret"},
		"options":{"operations":{"deliver":{"path":"/events"}}}}`

	var cfg connectors.Config
	if err := json.Unmarshal([]byte(stored), &cfg); err != nil {
		fmt.Println(err)
		return
	}
	cfg.HTTPClient = remote.Client() // runtime fields are injected, never stored

	reg := builtin.NewRegistry()
	conn, err := reg.New(kind, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := conn.Invoke(context.Background(), &connectors.Request{
		Body:           json.RawMessage(`{"id":"evt-1","title":"Disk full"}`),
		IdempotencyKey: "evt-1",
	})
	fmt.Println(resp.StatusCode, err)
	// Output:
	// POST /events evt-1
	// 202 <nil>
}

// Example_nativeConnectors configures HubSpot, Discord and Microsoft Teams with their
// native connectors — formerly example configurations of the generic "http" connector —
// and delivers one canonical work item to each. Against the real services, leave out
// base_url (HubSpot, Discord) and use the real webhook URL (Discord, Teams).
func Example_nativeConnectors() {
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(strings.TrimSpace(r.Method + " " + r.URL.Path + " " + r.URL.RawQuery))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/crm/v3/objects/contacts": // HubSpot CRM v3 create
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"51","properties":{"email":"jo@example.com"}}`))
		case r.URL.Path == "/api/webhooks/123/tok": // Discord execute webhook, ?wait=true
			_, _ = w.Write([]byte(`{"id":"1100000000000000001","channel_id":"555"}`))
		default: // a Teams incoming webhook answers 200 "1"
			_, _ = w.Write([]byte("1"))
		}
	}))
	defer remote.Close()

	stored := map[string]string{
		"hubspot": `{"base_url":"` + remote.URL + `","auth":{"token":"pat-na1-xxxx"},"options":{"object_type":"contacts"}}`,
		"discord": `{"auth":{"webhook_url":"` + remote.URL + `/api/webhooks/123/tok"}}`,
		"teams":   `{"auth":{"webhook_url":"` + remote.URL + `/webhookb2/g@t/IncomingWebhook/x/y"}}`,
	}
	bodies := map[string]string{
		"hubspot": `{"email":"jo@example.com","firstname":"Jo"}`,
		"discord": `{"title":"Disk full","description":"db-1 at 95%","status":"todo"}`,
		"teams":   `{"title":"Disk full","description":"db-1 at 95%","status":"todo"}`,
	}
	reg := builtin.NewRegistry()
	for _, kind := range []string{"hubspot", "discord", "teams"} {
		var cfg connectors.Config
		if err := json.Unmarshal([]byte(stored[kind]), &cfg); err != nil {
			fmt.Println(err)
			return
		}
		cfg.HTTPClient = remote.Client()
		conn, err := reg.New(kind, cfg)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp, err := conn.Invoke(context.Background(), &connectors.Request{Body: json.RawMessage(bodies[kind])})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %d remote id %q\n", kind, resp.StatusCode, resp.RemoteID)
	}
	// Output:
	// POST /crm/v3/objects/contacts
	// hubspot: 201 remote id "51"
	// POST /api/webhooks/123/tok wait=true
	// discord: 200 remote id "1100000000000000001"
	// POST /webhookb2/g@t/IncomingWebhook/x/y
	// teams: 200 remote id ""
}
