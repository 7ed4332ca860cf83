package transform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
)

// Applied records what one Apply did, for the event record's transformation_applied
// column. Its JSON form is
//
//	{"name":"gh-issue","version":2,"fields":["id","title"],"duration_ns":1234}
//
// with "inverse":true for an inverse mapping and "defaulted" listing the targets that took
// their default.
type Applied struct {
	// Name and Version identify the rules that ran.
	Name    string `json:"name"`
	Version int    `json:"version"`
	// Inverse is true when the inverse mapping ran.
	Inverse bool `json:"inverse,omitempty"`
	// Fields are the targets set, in mapping order. When every field was set it is the
	// Program's own slice (see Program.Targets): do not modify it.
	Fields []string `json:"fields"`
	// Defaulted are the targets that took their default (When false or a nil result).
	Defaulted []string `json:"defaulted,omitempty"`
	// Duration is the wall time of the Apply, encoded in nanoseconds.
	Duration time.Duration `json:"duration_ns"`
}

// Name returns the rules name.
func (p *Program) Name() string { return p.rules.Name }

// Version returns the rules version.
func (p *Program) Version() int { return p.rules.Version }

// Rules returns a copy of the rules the Program was compiled from (for an inverse
// Program, the inverse rules under the parent's name and version).
func (p *Program) Rules() Rules { return cloneRules(p.rules) }

// Targets returns the target paths in mapping order. The slice is shared: do not modify it.
func (p *Program) Targets() []string { return p.targets }

// Inverse returns the compiled inverse mapping, or nil when the rules are not
// bidirectional. The inverse of an inverse is the forward Program.
func (p *Program) Inverse() *Program { return p.inverse }

// IsBidirectional reports whether the rules declare an inverse.
func (p *Program) IsBidirectional() bool { return p.inverse != nil }

// Nodes returns the parsed AST of every expression (values and conditions) as written,
// before this package's patches and expr's optimiser, for tools that analyse what a
// mapping reads, such as a decoder that keeps only the input paths the expressions use.
// The nodes are shared and must not be modified.
func (p *Program) Nodes() []ast.Node {
	var out []ast.Node
	for i := range p.fields {
		f := &p.fields[i]
		if f.node != nil {
			out = append(out, f.node)
		}
		if f.whenN != nil {
			out = append(out, f.whenN)
		}
	}
	return out
}

// Apply runs the mapping over in, the decoded input (map[string]any as encoding/json
// builds it, with float64 or json.Number numbers), and returns the output and what was
// applied. Fields run in order; the context is checked before each. The output is a fresh
// map, but values copied from the input (objects, arrays) are shared with it, not cloned.
// json.Number values copied through stay json.Number (exact).
//
// Errors: a *FieldError (wrapping ErrEval, plus ErrMemoryLimit for a limit) naming the
// target and the expression of the first field that failed, or the context's error. A
// panic in a helper is reported as a field error. Apply is safe for concurrent use.
func (p *Program) Apply(ctx context.Context, in map[string]any) (map[string]any, Applied, error) {
	start := time.Now()
	a := Applied{Name: p.rules.Name, Version: p.rules.Version, Inverse: p.isInverse}
	if in == nil {
		in = map[string]any{}
	}
	r := p.vms.Get().(*runner)
	r.start(ctx)
	out, set, err := p.run(ctx, r, in, &a)
	r.stop()
	p.vms.Put(r)
	if err != nil {
		return nil, Applied{}, err
	}
	a.Fields = set
	a.Duration = time.Since(start)
	return out, a, nil
}

func (p *Program) run(ctx context.Context, r *runner, in map[string]any, a *Applied) (out map[string]any, set []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: rules %q: internal panic: %v", ErrEval, p.rules.Name, r)
		}
	}()
	out = make(map[string]any, p.topLevel)
	set = p.targets
	skipped := false
	done := ctx.Done() // nil for a context that is never cancelled
	for i := range p.fields {
		if done != nil {
			select {
			case <-done:
				if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
					return nil, nil, fmt.Errorf("transform: rules %q: %w: %w", p.rules.Name, ctx.Err(), cause)
				}
				return nil, nil, fmt.Errorf("transform: rules %q: %w", p.rules.Name, ctx.Err())
			default:
			}
		}
		f := &p.fields[i]
		useDefault := false
		if f.whenP != nil {
			c, err := r.vm.Run(r.program(f.whenP, f.whenSlot), in)
			if err != nil {
				return nil, nil, p.fieldError(f, PartWhen, f.when, err)
			}
			switch c {
			case true:
			case false, nil:
				useDefault = true
			default:
				return nil, nil, &FieldError{Rules: p.rules.Name, Version: p.rules.Version, Inverse: p.isInverse,
					Target: f.target, Part: PartWhen, Expr: f.when, Msg: fmt.Sprintf("condition yields %T, not a bool", c)}
			}
		}
		var v any
		if !useDefault && f.prog != nil {
			if v, err = r.vm.Run(r.program(f.prog, f.progSlot), in); err != nil {
				return nil, nil, p.fieldError(f, PartExpr, f.expr, err)
			}
		}
		if useDefault || v == nil {
			if f.hasDef {
				v = f.def
				if f.defCopy {
					v = deepCopy(v)
				}
				a.Defaulted = append(a.Defaulted, f.target)
			} else if useDefault {
				if !skipped {
					skipped = true
					set = append(make([]string, 0, len(p.targets)), p.targets[:i]...)
				}
				continue
			}
		}
		if skipped {
			set = append(set, f.target)
		}
		if len(f.path) == 1 {
			out[f.target] = v
		} else {
			setPath(out, f.path, v)
		}
	}
	return out, set, nil
}

// setPath stores v at path, creating intermediate maps. Compile guarantees no target is
// a prefix of another, so intermediate values are always maps this package created.
func setPath(m map[string]any, path []string, v any) {
	for _, seg := range path[:len(path)-1] {
		child, ok := m[seg].(map[string]any)
		if !ok {
			child = map[string]any{}
			m[seg] = child
		}
		m = child
	}
	m[path[len(path)-1]] = v
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// budgetMessage is what expr's VM panics with when its memory budget is exceeded; the VM
// reports it only as text, so this is the one place that text is recognised.
const budgetMessage = "memory budget exceeded"

func (p *Program) fieldError(f *compiledField, part Part, src string, err error) error {
	fe := &FieldError{Rules: p.rules.Name, Version: p.rules.Version, Inverse: p.isInverse,
		Target: f.target, Part: part, Expr: src, Msg: err.Error(), Err: err}
	var xe *file.Error
	if errors.As(err, &xe) {
		fe.Msg = xe.Message
		if xe.Line > 0 {
			fe.Line, fe.Column = xe.Line, xe.Column+1
		}
		if xe.Message == budgetMessage {
			fe.limit = true
		}
		if xe.Prev != nil {
			fe.Err = xe.Prev
		}
	}
	if errors.Is(err, ErrMemoryLimit) {
		fe.limit = true
	}
	var ie *interruptError
	if errors.As(err, &ie) {
		fe.Msg = ie.Error()
	}
	return fe
}
