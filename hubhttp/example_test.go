package hubhttp_test

import (
	"context"
	"log"
	"net/http"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp"
)

// Mount the management API and the console under /hub/ of a host's server, with bearer
// tokens for two people. The hub decides what each may do.
func ExampleNew() {
	ctx := context.Background()
	h, err := hub.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)

	console, err := hubhttp.New(h, hubhttp.Options{
		Authenticate: hubhttp.BearerTokens(map[string]hubhttp.Principal{
			"token-of-the-chairman": {ID: "chair", Roles: []string{"chairman"}},
			"token-of-an-operator":  {ID: "oscar", Roles: []string{"operator"}},
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer console.Close()

	mux := http.NewServeMux()
	mux.Handle("/hub/", http.StripPrefix("/hub", console))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}
