package hub_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// A GitHub webhook comes in through WebhookHandler; a route maps it to a work item and fans
// it out to two destinations, each its own durable delivery linked to the inbound event.
func Example_webhookRoute() {
	ctx := context.Background()
	var sink struct{ slack, tracker atomic.Int64 }
	received := func(n *atomic.Int64) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				n.Add(1)
			}
			_, _ = w.Write([]byte(`{"ok":true}`))
		}))
	}
	slackSrv, trackerSrv := received(&sink.slack), received(&sink.tracker)
	defer slackSrv.Close()
	defer trackerSrv.Close()

	h, err := hub.New(nil, append(hubtest.Fast(), hub.WithWorkers(1))...)
	if err != nil {
		log.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)
	mapping := workItemMapping
	mux := http.NewServeMux()
	for _, cfg := range []hub.IntegrationConfig{
		{Name: "github", Connector: "github", BaseURL: slackSrv.URL, Auth: json.RawMessage(`{"token":"t","webhook_secret":"s3cret"}`)},
		{Name: "slack-eng", Connector: "http", BaseURL: slackSrv.URL, Contract: &hub.ContractRef{Name: "work-item", Version: "1.0.0", Schema: workItemSchema}},
		{Name: "tracker", Connector: "http", BaseURL: trackerSrv.URL, Contract: &hub.ContractRef{Name: "work-item", Version: "1.0.0"}},
	} {
		if _, err := h.RegisterIntegration(ctx, cfg); err != nil {
			log.Fatal(err)
		}
	}

	// README: begin
	_, err = h.PutRoute(ctx, hub.Route{
		Name:         "new-issues",
		Source:       "github", // its webhook_secret verifies the deliveries
		Condition:    `headers["X-GitHub-Event"] == "issues" && payload.action == "opened"`,
		Mapping:      mapping, // GitHub issue event -> work item
		Contract:     &hub.ContractRef{Name: "work-item", Version: "1.0.0"},
		Destinations: []hub.RouteDestination{{Service: "slack-eng"}, {Service: "tracker"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux.Handle("/webhooks/", http.StripPrefix("/webhooks", h.WebhookHandler())) // your server's mux
	// README: end

	// GitHub signs the body with the webhook secret and posts it.
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write(issueEvent)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(issueEvent))
	req.Header.Set("X-GitHub-Event", "issues")
	req.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	var res hub.WebhookResult
	_ = json.Unmarshal(rec.Body.Bytes(), &res)
	fmt.Println("answer:", rec.Code, "duplicate:", res.Duplicate)

	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		kids, err := h.EventFanOut(ctx, res.EventID)
		if err == nil && len(kids) == 2 && kids[0].Status == store.StatusSucceeded && kids[1].Status == store.StatusSucceeded {
			break
		}
	}
	kids, _ := h.EventFanOut(ctx, res.EventID)
	for _, k := range kids {
		if k.ServiceName == "tracker" {
			var wi struct{ ID string }
			_ = json.Unmarshal(k.PayloadIn, &wi)
			fmt.Println("work item:", wi.ID)
		}
	}
	fmt.Println("deliveries:", len(kids), "slack:", sink.slack.Load(), "tracker:", sink.tracker.Load())
	// Output:
	// answer: 200 duplicate: false
	// work item: github:acme-corp/payments-api#1347
	// deliveries: 2 slack: 1 tracker: 1
}
