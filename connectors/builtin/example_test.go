package builtin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

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
