package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/store"
)

// A remote refuses an event (a permanent 4xx): it fails at once. Once the remote is fixed,
// RetryFailedIntegration sends it again.
func ExampleHub_RetryFailedIntegration() {
	ctx := context.Background()
	var broken atomic.Bool
	broken.Store(true)
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() {
			w.WriteHeader(http.StatusUnprocessableEntity)
		}
	}))
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

	res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "erp", Payload: json.RawMessage(`{"order": 7}`)})
	fmt.Println(res.Status, res.ResponseCode, err != nil)

	broken.Store(false)
	rr, err := h.RetryFailedIntegration(ctx, res.EventID)
	if err != nil {
		panic(err)
	}
	fmt.Println(rr.PreviousStatus, "->", rr.Status)
	for {
		ev, err := h.Store().GetEvent(ctx, res.EventID)
		if err != nil {
			panic(err)
		}
		if ev.Status == store.StatusSucceeded {
			fmt.Println(ev.Status, ev.ResponseCode)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Output:
	// failed 422 true
	// failed -> pending
	// succeeded 200
}
