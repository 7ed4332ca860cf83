package transform_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ehg/hub/transform"
)

// FuzzCompileApply: any expression either fails to compile with ErrCompile/ErrTooComplex
// or runs on the shared event without panicking, failing only with ErrEval.
func FuzzCompileApply(f *testing.F) {
	w := loadWorkload(f)
	in := decodeNumber(f, w.event)
	for _, s := range []string{
		"issue.title", "map(issue.labels, .name)", "issue.comments + 1", "'a' + issue.title",
		"reduce(1..10, #acc + #acc, 'x')", "lookup({'a': 1}, issue.state)", "path($env, 'issue.user.login')",
		"parseDate(issue.created_at)", "1..", "issue.number / 0", "sum(map(issue.labels, .id))",
		"len(repeat(repeat('x', 4000), 1000000))", "reduce(1..100000, #acc + 'xxxxxxxxxx', '')",
		"count(1..50000, count(1..50000, # > 0) > 0)", "replace(issue.title, '', issue.title)",
		"split(repeat('a', 60000), '')", "concat(1..50000, 1..50000)", "flatten([[1..9]])",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := transform.Compile(transform.Rules{Name: "fuzz", Fields: []transform.Field{{Target: "x", Expr: src}}},
			transform.WithMaxStringBytes(1<<16), transform.WithMemoryBudget(1e5))
		if err != nil {
			if !errors.Is(err, transform.ErrCompile) && !errors.Is(err, transform.ErrTooComplex) && !errors.Is(err, transform.ErrInvalidRules) {
				t.Fatalf("compile error of unexpected kind: %v", err)
			}
			return
		}
		// A deadline bounds a runaway expression: it stops with ErrInterrupted (an ErrEval).
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, _, err := p.Apply(ctx, in); err != nil && !errors.Is(err, transform.ErrEval) {
			t.Fatalf("apply error of unexpected kind: %v", err)
		}
	})
}

// FuzzParse: any document either parses into rules that compile or fail with a typed
// error, never a panic.
func FuzzParse(f *testing.F) {
	w := loadWorkload(f)
	f.Add(w.mapping)
	f.Add([]byte(`{"name": "n", "version": 1, "fields": {"a.b": {"expr": "x", "when": "y", "default": [1]}}, "inverse": {"fields": {"x": "a.b"}}}`))
	f.Add([]byte(`{"fields": "x"}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		r, err := transform.Parse(doc)
		if err != nil {
			if !errors.Is(err, transform.ErrInvalidRules) {
				t.Fatalf("parse error of unexpected kind: %v", err)
			}
			return
		}
		if _, err := transform.Compile(r); err != nil && !errors.Is(err, transform.ErrInvalidRules) &&
			!errors.Is(err, transform.ErrCompile) && !errors.Is(err, transform.ErrTooComplex) {
			t.Fatalf("compile error of unexpected kind: %v", err)
		}
	})
}
