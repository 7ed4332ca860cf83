package hub_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/ehg/hub"
	"github.com/ehg/hub/config"
)

// Configuration as code: a document describes the services; Plan shows what would change,
// Apply carries it out as one audited change set, and Export writes the hub's state back
// as a document — with secret references, never secret values.
func ExampleHub_Plan() {
	ctx := context.Background()
	key := []byte(strings.Repeat("k", hub.SecretKeySize))
	h, err := hub.New(nil, hub.WithSecretKey(key))
	if err != nil {
		panic(err)
	}
	defer h.Close(ctx)

	const document = `
version: 1
services:
  - name: crm
    connector: http
    base_url: https://crm.example.com
    auth: {type: bearer, token: env:CRM_TOKEN}
    cost_per_call: 0.01
`
	// In production the hub's environment holds CRM_TOKEN; here a lookup stands in.
	env := config.WithLookupEnv(func(name string) (string, bool) { return "s3cr3t", name == "CRM_TOKEN" })
	doc, err := config.Parse("hub.yaml", []byte(document), env)
	if err != nil {
		panic(err)
	}
	plan, err := h.Plan(ctx, doc)
	if err != nil {
		panic(err)
	}
	fmt.Print(plan)
	if _, err := h.Apply(ctx, plan); err != nil {
		panic(err)
	}

	edited, err := config.Parse("hub.yaml", []byte(strings.Replace(document, "0.01", "0.02", 1)), env)
	if err != nil {
		panic(err)
	}
	plan, err = h.Plan(ctx, edited)
	if err != nil {
		panic(err)
	}
	fmt.Print(plan)

	exported, err := h.Export(ctx)
	if err != nil {
		panic(err)
	}
	out, err := config.Encode(exported)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(out))
	// Output:
	// + service crm
	//     category: other
	//     connector: http
	//     base_url: https://crm.example.com
	//     max_retries: 3
	//     cost_per_call: 0.01
	//     auth: {"type":"bearer","token":"env:CRM_TOKEN"}
	// Plan: 1 to create, 0 to update, 0 to remove, 0 unchanged (revision 0).
	// ~ service crm
	//     cost_per_call: 0.01 -> 0.02
	// Plan: 0 to create, 1 to update, 0 to remove, 0 unchanged (revision 1).
	// version: 1
	// services:
	//   - name: crm
	//     category: other
	//     connector: http
	//     base_url: https://crm.example.com
	//     auth:
	//       type: bearer
	//       token: env:CRM_TOKEN
	//     max_retries: 3
	//     cost_per_call: 0.01
}
