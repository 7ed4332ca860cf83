package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ehg/hub"
)

// An event whose canonical form breaks the contract is refused before it is stored; the
// error lists every violation with its JSON Pointer.
func ExampleContractViolationError() {
	ctx := context.Background()
	h, err := hub.New(nil)
	if err != nil {
		panic(err)
	}
	defer h.Close(ctx)
	_, err = h.RegisterIntegration(ctx, hub.IntegrationConfig{
		Name: "crm", Connector: "http", BaseURL: "https://crm.example.com/api",
		Contract: &hub.ContractRef{Name: "contact", Version: "1.0.0", Schema: json.RawMessage(`{
			"type": "object", "required": ["email", "name"],
			"properties": {"email": {"type": "string", "format": "email"}, "age": {"type": "integer", "minimum": 0}}}`)},
	})
	if err != nil {
		panic(err)
	}
	_, err = h.ProcessIntegrationEvent(ctx, hub.EventData{
		Service: "crm", Mode: hub.Async,
		Payload: json.RawMessage(`{"email": "not-an-address", "age": -4}`),
	})
	var cv *hub.ContractViolationError
	if errors.As(err, &cv) {
		fmt.Printf("%s contract %s@%s refused the event:\n", cv.Stage, cv.Contract, cv.Version)
		for _, v := range cv.Violations {
			fmt.Printf("  %q %s\n", v.Path, v.Keyword)
		}
	}
	fmt.Println(errors.Is(err, hub.ErrContractViolation))
	// Output:
	// canonical contract contact@1.0.0 refused the event:
	//   "" required
	//   "/age" minimum
	//   "/email" format
	// true
}
