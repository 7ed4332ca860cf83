package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
)

// HubSpot, Discord and Microsoft Teams are native connectors (kinds "hubspot", "discord",
// "teams"): their credentials and options are the vendor's own, and they know the vendor's
// paging, rate-limit signals, error bodies and webhook signatures. They replace the earlier
// example configurations of the generic "http" connector.
func Example_nativeConnectors() {
	ctx := context.Background()
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/crm/v3/objects/contacts": // HubSpot CRM v3: create a contact
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"51","properties":{"email":"jo@example.com"}}`))
		case "/api/webhooks/123/tok": // Discord: execute webhook with ?wait=true
			_, _ = w.Write([]byte(`{"id":"1100000000000000001","channel_id":"555"}`))
		default: // Teams incoming webhook
			_, _ = w.Write([]byte("1"))
		}
	}))
	defer vendor.Close()
	hubspotAPI := vendor.URL // https://api.hubapi.com, the default, against the real HubSpot
	discordWebhookURL := vendor.URL + "/api/webhooks/123/tok"
	teamsWebhookURL := vendor.URL + "/webhookb2/g@t/IncomingWebhook/x/y"
	hubspotToken := "pat-na1-xxxx"

	h, err := hub.New(nil, hubtest.Fast()...)
	if err != nil {
		log.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)

	// README: begin
	for _, cfg := range []hub.IntegrationConfig{
		{Name: "crm", Connector: "hubspot", BaseURL: hubspotAPI,
			Auth:             json.RawMessage(`{"token":"` + hubspotToken + `"}`), // private-app token, or OAuth
			ConnectorOptions: json.RawMessage(`{"object_type":"contacts","id_property":"email"}`)},
		{Name: "alerts", Connector: "discord",
			Auth: json.RawMessage(`{"webhook_url":"` + discordWebhookURL + `"}`)},
		{Name: "ops-channel", Connector: "teams",
			Auth: json.RawMessage(`{"webhook_url":"` + teamsWebhookURL + `"}`)},
	} {
		if _, err := h.RegisterIntegration(ctx, cfg); err != nil {
			log.Fatal(err)
		}
	}
	// README: end

	for service, payload := range map[string]string{
		"crm":         `{"email":"jo@example.com","firstname":"Jo"}`,
		"alerts":      `{"title":"Disk full","description":"db-1 at 95%","status":"todo"}`,
		"ops-channel": `{"title":"Disk full","description":"db-1 at 95%","status":"todo"}`,
	} {
		res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: service, Payload: json.RawMessage(payload)})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(service, res.Status, res.ResponseCode)
	}
	// Unordered output:
	// crm succeeded 201
	// alerts succeeded 200
	// ops-channel succeeded 200
}
