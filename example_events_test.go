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
	"github.com/ehg/hub/store"
)

// Events queued asynchronously are found again: WaitEvent returns each once it reaches a
// terminal status, GetEvent reads one, and ListEvents pages through them with a cursor.
func ExampleHub_ListEvents() {
	ctx := context.Background()
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer remote.Close()

	h, err := hub.New(nil, hub.WithPollInterval(10*time.Millisecond),
		// the stand-in remote listens on loopback, which the hub refuses unless allowed
		hub.WithAllowedNetworks(netip.MustParsePrefix("127.0.0.0/8")))
	if err != nil {
		panic(err)
	}
	if err := h.Start(ctx); err != nil {
		panic(err)
	}
	defer h.Close(ctx)
	if _, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "erp", Connector: "http", BaseURL: remote.URL}); err != nil {
		panic(err)
	}
	for i := range 5 {
		res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "erp", Mode: hub.Async,
			Payload: json.RawMessage(fmt.Sprintf(`{"order": %d}`, i))})
		if err != nil {
			panic(err)
		}
		ev, err := h.WaitEvent(ctx, res.EventID)
		if err != nil {
			panic(err)
		}
		if i == 0 {
			got, err := h.GetEvent(ctx, ev.ID)
			if err != nil {
				panic(err)
			}
			fmt.Println("first:", got.Status, got.ResponseCode, string(got.PayloadIn))
		}
	}

	q := hub.EventQuery{Service: "erp", Status: []store.EventStatus{store.StatusSucceeded}, Limit: 2}
	for {
		page, err := h.ListEvents(ctx, q)
		if err != nil {
			panic(err)
		}
		fmt.Println("page of", len(page.Events), "more:", page.More)
		if !page.More {
			break
		}
		q.Cursor = page.NextCursor
	}
	// Output:
	// first: succeeded 200 {"order":0}
	// page of 2 more: true
	// page of 2 more: true
	// page of 1 more: false
}
