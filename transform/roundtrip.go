package transform

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// RoundTripReport is the outcome of Program.RoundTrip.
type RoundTripReport struct {
	// Samples is the number of inputs checked.
	Samples int `json:"samples"`
	// Checked are the input paths compared: those the forward mapping reads and those
	// the inverse sets, sorted.
	Checked []string `json:"checked"`
	// Lost lists every checked path that did not come back unchanged, by sample.
	Lost []Loss `json:"lost,omitempty"`
}

// OK reports whether every checked path came back on every sample.
func (r *RoundTripReport) OK() bool { return len(r.Lost) == 0 }

// Loss is one input path that did not survive forward then inverse.
type Loss struct {
	Sample int    `json:"sample"` // index of the input in the samples
	Path   string `json:"path"`   // dotted input path
	Want   any    `json:"want"`   // value in the input (nil when absent)
	Got    any    `json:"got"`    // value after the round trip (nil when absent)
}

// RoundTrip applies the mapping then its inverse to each sample and compares the result
// with the sample at every path the forward mapping reads and every path the inverse
// sets. Numbers compare by value (json.Number, float64 and int alike); objects and
// arrays compare deeply. It fails with ErrNotBidirectional when there is no inverse, and
// with the Apply error (annotated with the sample index) when a sample fails to map.
func (p *Program) RoundTrip(ctx context.Context, samples ...map[string]any) (*RoundTripReport, error) {
	if p.inverse == nil {
		return nil, fmt.Errorf("%w: rules %q", ErrNotBidirectional, p.rules.Name)
	}
	paths := map[string]bool{}
	for _, n := range p.Nodes() {
		for _, r := range readPaths(n) {
			paths[r] = true
		}
	}
	for _, t := range p.inverse.targets {
		paths[t] = true
	}
	checked := make([]string, 0, len(paths))
	for k := range paths {
		checked = append(checked, k)
	}
	slices.Sort(checked)
	// Keep the longest paths only: comparing "a.b" covers nothing that "a" would not, but
	// "a" alone would blame every unmapped member of a.
	checked = slices.DeleteFunc(checked, func(s string) bool {
		for _, o := range checked {
			if strings.HasPrefix(o, s+".") {
				return true
			}
		}
		return false
	})
	rep := &RoundTripReport{Samples: len(samples), Checked: checked}
	for i, s := range samples {
		mid, _, err := p.Apply(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("round trip sample %d forward: %w", i, err)
		}
		back, _, err := p.inverse.Apply(ctx, mid)
		if err != nil {
			return nil, fmt.Errorf("round trip sample %d inverse: %w", i, err)
		}
		for _, path := range checked {
			want, _ := pathFunc(s, path)
			got, _ := pathFunc(back, path)
			if !jsonEqual(want, got) {
				rep.Lost = append(rep.Lost, Loss{Sample: i, Path: path, Want: want, Got: got})
			}
		}
	}
	return rep, nil
}

// readPaths lists the input paths an expression reads: the longest chains of named
// members from a top-level identifier (or $env). Let variables and closure elements are
// not input paths.
func readPaths(n ast.Node) []string {
	callees := &calleeWalker{nodes: map[ast.Node]bool{}}
	ast.Walk(&n, callees)
	w := &pathWalker{vars: map[string]bool{}, seen: map[string]bool{}, callees: callees.nodes}
	ast.Walk(&n, w)
	var out []string
	for p := range w.seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

type pathWalker struct {
	vars    map[string]bool
	seen    map[string]bool
	callees map[ast.Node]bool
}

// calleeWalker collects the identifiers that name called functions.
type calleeWalker struct{ nodes map[ast.Node]bool }

func (c *calleeWalker) Visit(node *ast.Node) {
	if call, ok := (*node).(*ast.CallNode); ok {
		c.nodes[call.Callee] = true
	}
}

func (w *pathWalker) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.VariableDeclaratorNode:
		w.vars[n.Name] = true
	case *ast.MemberNode, *ast.IdentifierNode:
		if p, ok := w.chain(n); ok && p != "" {
			// A chain's inner members are visited first; keep only the longest.
			for q := range w.seen {
				if strings.HasPrefix(p, q+".") {
					delete(w.seen, q)
				}
			}
			w.seen[p] = true
		}
	}
}

// chain renders a member chain rooted at an input identifier as a dotted path.
func (w *pathWalker) chain(n ast.Node) (string, bool) {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		if w.vars[x.Value] || w.callees[x] {
			return "", false
		}
		if x.Value == "$env" {
			return "", true
		}
		return x.Value, true
	case *ast.MemberNode:
		base, ok := w.chain(x.Node)
		if !ok {
			return "", false
		}
		s, ok := x.Property.(*ast.StringNode)
		if !ok {
			return base, base != ""
		}
		if base == "" {
			return s.Value, true
		}
		return base + "." + s.Value, true
	case *ast.ChainNode:
		return w.chain(x.Node)
	}
	return "", false
}

// jsonEqual compares decoded JSON values, numbers by value.
func jsonEqual(a, b any) bool {
	if fa, ok := bigNumber(a); ok {
		fb, ok := bigNumber(b)
		return ok && fa.Cmp(fb) == 0
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, found := y[k]
			if !found || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case []string:
		y, ok := b.([]any)
		if !ok {
			if ys, ok := b.([]string); ok {
				return slices.Equal(x, ys)
			}
			return false
		}
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if y[i] != x[i] {
				return false
			}
		}
		return true
	}
	if ys, ok := b.([]string); ok {
		return jsonEqual(ys, a)
	}
	return reflect.DeepEqual(a, b)
}

func bigNumber(v any) (*big.Float, bool) {
	switch x := v.(type) {
	case json.Number:
		f, ok := new(big.Float).SetString(string(x))
		return f, ok
	case float64:
		return big.NewFloat(x), true
	case int:
		return new(big.Float).SetInt64(int64(x)), true
	case int64:
		return new(big.Float).SetInt64(x), true
	}
	return nil, false
}
