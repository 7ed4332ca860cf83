package transform_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ehg/hub/transform"
)

func Example() {
	rules, err := transform.Parse([]byte(`{
		"name": "ticket", "version": 1,
		"tables": {"status": {"open": "todo", "closed": "done"}},
		"fields": {
			"id":            "'jira:' + issue.key",
			"status":        "lookup('status', issue.state, 'todo')",
			"owner.login":   {"expr": "issue.assignee?.login", "default": "nobody"},
			"comment_count": "issue.comments + 0"
		}
	}`))
	if err != nil {
		panic(err)
	}
	prog, err := transform.Compile(rules)
	if err != nil {
		panic(err)
	}
	var in map[string]any
	_ = json.Unmarshal([]byte(`{"issue": {"key": "PAY-1", "state": "closed", "assignee": null, "comments": 3}}`), &in)
	out, applied, err := prog.Apply(context.Background(), in)
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	fmt.Println(applied.Name, applied.Version, applied.Fields, applied.Defaulted)
	// Output:
	// {"comment_count":3,"id":"jira:PAY-1","owner":{"login":"nobody"},"status":"done"}
	// ticket 1 [id status owner.login comment_count] [owner.login]
}

func ExampleRegistry() {
	reg := transform.NewRegistry()
	for v, expr := range map[int]string{1: "name", 2: "upper(name)"} {
		if _, err := reg.Register(transform.Rules{Name: "greet", Version: v, Fields: []transform.Field{{Target: "who", Expr: expr}}}); err != nil {
			panic(err)
		}
	}
	if err := reg.Activate("greet", 2); err != nil {
		panic(err)
	}
	out, applied, _ := reg.Apply(context.Background(), "greet", map[string]any{"name": "ada"})
	fmt.Println(out["who"], applied.Version)
	// Output: ADA 2
}

func ExampleProgram_RoundTrip() {
	prog := transform.MustCompile(transform.Rules{
		Name: "contact", Version: 1,
		Fields: []transform.Field{{Target: "full", Expr: "first + ' ' + last"}},
		Inverse: &transform.Rules{Fields: []transform.Field{
			{Target: "first", Expr: "split(full, ' ')[0]"},
		}},
	})
	rep, _ := prog.RoundTrip(context.Background(), map[string]any{"first": "Ada", "last": "Lovelace"})
	for _, l := range rep.Lost {
		fmt.Printf("sample %d: %s was %v, came back %v\n", l.Sample, l.Path, l.Want, l.Got)
	}
	// Output: sample 0: last was Lovelace, came back <nil>
}

func ExampleSuggest() {
	sample := map[string]any{"ticket": map[string]any{
		"subject": "Printer on fire", "requester": map[string]any{"name": "Sam", "email": "sam@example.com"},
		"created": "2026-11-24T09:00:00Z",
	}}
	schema := []byte(`{"type": "object", "properties": {
		"title": {"type": "string"}, "reporter_email": {"type": "string", "format": "email"},
		"created_at": {"type": "string", "format": "date-time"}}}`)
	suggestions, _ := transform.Suggest(context.Background(), sample, schema)
	for _, s := range suggestions {
		fmt.Printf("%s <- %s\n", s.Target, s.Expr)
	}
	// Output:
	// title <- ticket.subject
	// reporter_email <- ticket.requester?.email
	// created_at <- ticket.created
}
