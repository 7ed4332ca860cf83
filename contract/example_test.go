package contract_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/ehg/hub/contract"
)

func Example() {
	ctx := context.Background()
	reg := contract.NewRegistry() // formats asserted, draft 2020-12 by default

	_, err := reg.Register(ctx, contract.Contract{
		Name:    "ticket",
		Version: "1.0.0",
		Schema: []byte(`{
			"type": "object",
			"required": ["id", "priority"],
			"additionalProperties": false,
			"properties": {
				"id":       {"type": "integer", "minimum": 1},
				"priority": {"enum": ["low", "high"]},
				"due":      {"type": "string", "format": "date-time"}
			}
		}`),
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	c, _ := reg.Latest("ticket")
	_, err = c.ValidateJSON([]byte(`{"id": 7, "priority": "urgent", "due": "tomorrow"}`))

	var verr *contract.ValidationError
	if errors.As(err, &verr) {
		fmt.Println("invalid:", errors.Is(err, contract.ErrInvalid))
		for _, v := range verr.Violations {
			fmt.Printf("%s [%s] %s\n", v.InstancePath, v.Keyword, v.Message)
		}
	}
	// Output:
	// invalid: true
	// /due [format] "tomorrow" is not a valid "date-time": expected an RFC 3339 date-time such as 2026-11-24T09:41:27Z
	// /priority [enum] must be one of "low", "high"; got "urgent"
}

func ExampleCompiled_Correct() {
	reg := contract.NewRegistry()
	c, _ := reg.Register(context.Background(), contract.Contract{Name: "reading", Version: "1.0.0", Schema: []byte(`{
		"type": "object",
		"properties": {
			"value": {"type": "number"},
			"unit":  {"enum": ["celsius", "kelvin"]},
			"at":    {"type": "string", "format": "date-time"}
		}
	}`)})
	corr, err := c.Correct(map[string]any{"value": " 21.5 ", "unit": "Celsius", "at": "2026-11-24"})
	fmt.Println("valid after correction:", err == nil && corr.Result.Valid)
	for _, f := range corr.Fixes {
		fmt.Printf("%s %s: %v -> %v\n", f.Path, f.Rule, f.Before, f.After)
	}
	// Unordered output:
	// valid after correction: true
	// /value trim-space:  21.5  -> 21.5
	// /value numeric-string: 21.5 -> 21.5
	// /unit enum-case: Celsius -> celsius
	// /at date-time-layout: 2026-11-24 -> 2026-11-24T00:00:00Z
}

func ExampleCompare() {
	v1 := []byte(`{"type":"object","properties":{"status":{"enum":["open","closed"]}}}`)
	v2 := []byte(`{"type":"object","required":["status"],"properties":{"status":{"enum":["open","closed","archived"]}}}`)
	rep, _ := contract.Compare(v1, v2)
	fmt.Println("backward compatible:", rep.Backward)
	for _, c := range rep.Changes {
		fmt.Printf("%s breaking=%v: %s\n", c.Kind, c.Breaking, c)
	}
	// Output:
	// backward compatible: false
	// enum-value-added breaking=false: /properties/status/enum: enum value "archived" added
	// required-added breaking=true: /required: property "status" is now required
}

func ExampleObserver() {
	reg := contract.NewRegistry()
	c, _ := reg.Register(context.Background(), contract.Contract{Name: "event", Version: "1.0.0",
		Schema: []byte(`{"type":"object","properties":{"id":{"type":"integer"}}}`)})
	o := contract.NewObserver(c)
	_ = o.ObserveJSON([]byte(`{"id": 1, "source": "github"}`))
	_ = o.ObserveJSON([]byte(`{"id": "2", "source": "jira"}`))
	for _, f := range o.Report().Findings {
		fmt.Printf("%s %s seen in %d payload(s)\n", f.Kind, f.Path, f.Count)
	}
	p, _ := o.Propose("")
	fmt.Println("proposed", p.Contract.Version, "backward compatible:", p.Compatibility.Backward)
	fmt.Println(string(p.Contract.Schema))
	// Output:
	// type-mismatch /id seen in 1 payload(s)
	// undeclared-field /source seen in 2 payload(s)
	// proposed 1.1.0 backward compatible: true
	// {"properties":{"id":{"type":["integer","string"]},"source":{"type":"string"}},"type":"object"}
}
