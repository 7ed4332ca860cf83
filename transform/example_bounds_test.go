package transform_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ehg/hub/transform"
)

// A mapping is untrusted code: one that would build gigabytes is refused before it
// allocates, and one that would run for minutes stops when its context ends.
func Example_boundedMappings() {
	p := transform.MustCompile(transform.Rules{Name: "hostile", Fields: []transform.Field{
		{Target: "big", Expr: "len(repeat(repeat('x', 4000), 1000000))"},
	}})
	_, _, err := p.Apply(context.Background(), nil)
	fmt.Println("memory limit:", errors.Is(err, transform.ErrMemoryLimit))

	xs := make([]any, 20000)
	for i := range xs {
		xs[i] = i
	}
	slow := transform.MustCompile(transform.Rules{Name: "slow", Fields: []transform.Field{
		{Target: "n", Expr: "count(xs, count(xs, # >= 0) == len(xs))"},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, _, err = slow.Apply(ctx, map[string]any{"xs": xs})
	fmt.Println("interrupted:", errors.Is(err, transform.ErrInterrupted), errors.Is(err, context.DeadlineExceeded))
	// Output:
	// memory limit: true
	// interrupted: true true
}
