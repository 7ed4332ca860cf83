package transform

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm"
)

// DefaultMaxLoopBytes bounds what the loops of one run of one expression build: the sum of
// the sizes of the values their bodies yield (the elements map collects, each accumulator
// reduce makes), in bytes (WithMaxLoopBytes).
const DefaultMaxLoopBytes = 16 << 20

// ErrInterrupted reports an expression stopped while running because its context ended
// (a deadline passed, or the caller or the hub's Close cancelled it). It comes inside a
// *FieldError, which also matches ErrEval and the context's error
// (context.DeadlineExceeded or context.Canceled).
var ErrInterrupted = errors.New("transform: evaluation interrupted")

// WithMaxLoopBytes bounds the bytes the loops (map, filter, reduce, ...) of one run of one
// expression build (default DefaultMaxLoopBytes): each iteration adds the size of the
// value its body yields (a string's length, 16 bytes an array element, 48 a map entry,
// nested two levels deep). Exceeding it fails the field with ErrMemoryLimit. With the
// memory budget (arrays, maps and ranges, in elements) and the string limit (each string
// built), it holds the memory one run can reach to a small factor of these limits. n <= 0
// keeps the default.
func WithMaxLoopBytes(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxLoopBytes = n
		}
	}
}

// evalState is the state of one run of one Program: the context it observes and what its
// loops built. Each pooled runner has its own; compiled programs refer to a placeholder
// that the runner's copies of them replace with it.
type evalState struct {
	ctx      context.Context
	done     <-chan struct{}
	built    int
	maxBuilt int // 0 for the placeholder, which observes nothing and counts nothing
}

// interruptError is the panic of a loop whose context ended: err is the context's error,
// cause its cause (context.Cause) when that differs.
type interruptError struct{ err, cause error }

func (e *interruptError) Error() string {
	if e.cause != nil && e.cause != e.err {
		return "evaluation interrupted: " + e.cause.Error()
	}
	return "evaluation interrupted: " + e.err.Error()
}

// Unwrap returns ErrInterrupted, the context's error and its cause.
func (e *interruptError) Unwrap() []error {
	if e.cause != nil && e.cause != e.err {
		return []error{ErrInterrupted, e.err, e.cause}
	}
	return []error{ErrInterrupted, e.err}
}

// tick runs at every iteration of every loop of an expression, with the iteration's
// result: it stops the run when the context has ended, and counts what the loop built.
func tick(st, v any) any {
	s, _ := st.(*evalState)
	if s == nil || s.maxBuilt == 0 {
		return v
	}
	if s.done != nil {
		select {
		case <-s.done:
			panic(&interruptError{err: s.ctx.Err(), cause: context.Cause(s.ctx)})
		default:
		}
	}
	s.built += sizeOf(v, 2)
	if s.built > s.maxBuilt {
		panic(&limitError{what: "total of loop results", size: s.built, limit: s.maxBuilt, function: "loop"})
	}
	return v
}

// sizeOf estimates the bytes v holds, depth levels deep.
func sizeOf(v any, depth int) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case []any:
		n := 16 * len(x)
		if depth > 0 {
			for _, e := range x {
				n += sizeOf(e, depth-1)
			}
		}
		return n
	case map[string]any:
		n := 48 * len(x)
		if depth > 0 {
			for k, e := range x {
				n += len(k) + sizeOf(e, depth-1)
			}
		}
		return n
	case []string:
		n := 16 * len(x)
		for _, e := range x {
			n += len(e)
		}
		return n
	}
	return 8
}

// loopPatch puts a tick call around the body of every loop (the predicate of map, filter,
// reduce, all, any, sortBy, groupBy ...), passing the placeholder state.
type loopPatch struct {
	state *evalState
}

func (p loopPatch) Visit(node *ast.Node) {
	pred, ok := (*node).(*ast.PredicateNode)
	if !ok {
		return
	}
	if c, ok := pred.Node.(*ast.CallNode); ok {
		if k, ok := c.Callee.(*ast.ConstantNode); ok && isTick(k.Value) {
			return
		}
	}
	body := pred.Node
	// Typed nodes, so the call compiles to a direct call (OpCallTyped) wherever the
	// predicate ends up after optimisation.
	callee := &ast.ConstantNode{Value: tickFunc}
	callee.SetType(reflect.TypeOf(tickFunc))
	state := &ast.ConstantNode{Value: p.state}
	state.SetType(reflect.TypeOf(p.state))
	call := &ast.CallNode{Callee: callee, Arguments: []ast.Node{state, body}}
	call.SetType(body.Type())
	ast.Patch(&pred.Node, call)
}

// tickFunc is tick as a value of a signature expr's VM calls directly.
var tickFunc func(any, any) any = tick

func isTick(v any) bool {
	f, ok := v.(func(any, any) any)
	return ok && reflect.ValueOf(f).Pointer() == reflect.ValueOf(tickFunc).Pointer()
}

// hasState reports whether prog refers to the placeholder state.
func hasState(prog *vm.Program, state *evalState) bool {
	for _, c := range prog.Constants {
		if s, ok := c.(*evalState); ok && s == state {
			return true
		}
	}
	return false
}

// withState returns a copy of prog whose references to the placeholder are to st.
func withState(prog *vm.Program, placeholder, st *evalState) *vm.Program {
	cp := *prog
	cp.Constants = slices.Clone(prog.Constants)
	for i, c := range cp.Constants {
		if s, ok := c.(*evalState); ok && s == placeholder {
			cp.Constants[i] = st
		}
	}
	return &cp
}

// runner is one pooled evaluator of a Program: a VM, its state, and copies of the
// programs that have loops, bound to that state.
type runner struct {
	vm    vm.VM
	st    evalState
	progs []*vm.Program // by compiledField.slot
}

func (p *Program) newRunner() *runner {
	r := &runner{vm: vm.VM{MemoryBudget: p.budget}}
	r.st.maxBuilt = p.maxLoopBytes
	r.progs = make([]*vm.Program, len(p.looped))
	for i, prog := range p.looped {
		r.progs[i] = withState(prog, p.state, &r.st)
	}
	return r
}

// program returns the program to run: the runner's copy of a looped one.
func (r *runner) program(prog *vm.Program, slot int) *vm.Program {
	if slot < 0 {
		return prog
	}
	return r.progs[slot]
}

// start readies the runner for one Apply under ctx.
func (r *runner) start(ctx context.Context) {
	r.st.ctx, r.st.done, r.st.built = ctx, ctx.Done(), 0
}

// stop drops the context so a pooled runner keeps nothing alive.
func (r *runner) stop() { r.st.ctx, r.st.done = nil, nil }

// checked builtins: each computes the size of its result from its arguments and refuses
// it before allocating. They replace expr's own (same names, same behaviour within the
// limits).

func checkedBuiltins(c *config) expr.Option {
	return func(cfg *conf.Config) {
		forEachCheck(c, func(name string, pre func(args []any) error) {
			idx, ok := builtin.Index[name]
			if !ok {
				return
			}
			f := *builtin.Builtins[idx]
			if f.Func == nil {
				return // a Safe builtin: see checkedSafe
			}
			inner := f.Func
			if prev := cfg.Functions[name]; prev != nil && prev.Func != nil {
				inner = prev.Func // keep the result checks of limitedBuiltins
			}
			f.Func = func(args ...any) (any, error) {
				if err := pre(args); err != nil {
					return nil, err
				}
				return inner(args...)
			}
			cfg.Functions[name] = &f
		})
	}
}

// safeFunc is the signature of expr's Safe builtins (result, memory used, error).
type safeFunc = func(args ...any) (any, uint, error)

// checkedSafe returns, for the Safe builtins that have a size check (repeat, concat),
// replacements keyed by the code pointer of expr's own: expr compiles a call of one as a
// constant holding its function, which bindChecked swaps in each compiled program. The
// replacement keeps the memory expr's VM counts.
func checkedSafe(c *config) map[uintptr]safeFunc {
	out := map[uintptr]safeFunc{}
	forEachCheck(c, func(name string, pre func(args []any) error) {
		idx, ok := builtin.Index[name]
		if !ok || builtin.Builtins[idx].Safe == nil {
			return
		}
		inner := builtin.Builtins[idx].Safe
		if name == "concat" {
			inner = concatArrays
		}
		out[reflect.ValueOf(builtin.Builtins[idx].Safe).Pointer()] = func(args ...any) (any, uint, error) {
			if err := pre(args); err != nil {
				return nil, 0, err
			}
			return inner(args...)
		}
	})
	return out
}

// concatArrays is expr's concat with the result allocated once and []any arguments copied
// without reflection (a doubling concat in a loop spends its time here).
func concatArrays(args ...any) (any, uint, error) {
	if len(args) == 0 {
		return nil, 0, fmt.Errorf("invalid number of arguments (expected at least 1, got 0)")
	}
	total := 0
	for _, a := range args {
		v := reflect.ValueOf(a)
		if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
			return nil, 0, fmt.Errorf("cannot concat %s", v.Kind())
		}
		total += v.Len()
	}
	out := make([]any, 0, total)
	for _, a := range args {
		if xs, ok := a.([]any); ok {
			out = append(out, xs...)
			continue
		}
		v := reflect.ValueOf(a)
		for i := 0; i < v.Len(); i++ {
			out = append(out, v.Index(i).Interface())
		}
	}
	return out, uint(total), nil
}

// bindChecked replaces in prog the constants holding expr's Safe builtins by their checked
// versions.
func bindChecked(prog *vm.Program, table map[uintptr]safeFunc) {
	for i, k := range prog.Constants {
		if f, ok := k.(safeFunc); ok {
			if g, ok := table[reflect.ValueOf(f).Pointer()]; ok {
				prog.Constants[i] = g
			}
		}
	}
}

// forEachCheck calls set with each builtin that can allocate a large result and the check
// that computes the result's size from the arguments and refuses it before allocating.
func forEachCheck(c *config, set func(name string, pre func(args []any) error)) {
	{
		maxStr, budget := c.maxStringBytes, int(min(c.memoryBudget, math.MaxInt32))
		over := func(fn, what string, size, limit int) error {
			return &limitError{what: what, size: size, limit: limit, function: fn}
		}
		set("repeat", func(args []any) error {
			if len(args) != 2 {
				return nil
			}
			s, _ := args[0].(string)
			n, ok := toInt(args[1])
			if !ok || n <= 0 {
				return nil
			}
			if len(s) > 0 && n > maxStr/len(s) {
				return over("repeat", "string", saturatingMul(len(s), n), maxStr)
			}
			return nil
		})
		set("join", func(args []any) error {
			if len(args) == 0 {
				return nil
			}
			glue := ""
			if len(args) == 2 {
				glue, _ = args[1].(string)
			}
			total, n := 0, 0
			switch xs := args[0].(type) {
			case []string:
				n = len(xs)
				for _, s := range xs {
					total += len(s)
				}
			case []any:
				n = len(xs)
				for _, e := range xs {
					if s, ok := e.(string); ok {
						total += len(s)
					}
				}
			}
			if n > 1 {
				total += len(glue) * (n - 1)
			}
			if total > maxStr {
				return over("join", "string", total, maxStr)
			}
			return nil
		})
		set("replace", func(args []any) error {
			if len(args) != 3 {
				return nil
			}
			s, _ := args[0].(string)
			old, _ := args[1].(string)
			nw, _ := args[2].(string)
			var count int
			if old == "" {
				count = utf8.RuneCountInString(s) + 1
			} else {
				count = strings.Count(s, old)
			}
			size := len(s) + count*(len(nw)-len(old))
			if count > 0 && len(nw) > len(old) && (len(nw)-len(old)) > (maxStr-len(s))/count {
				return over("replace", "string", saturatingMul(count, len(nw)-len(old)), maxStr)
			}
			if size > maxStr {
				return over("replace", "string", size, maxStr)
			}
			return nil
		})
		splitCheck := func(fn string) func(args []any) error {
			return func(args []any) error {
				if len(args) < 2 {
					return nil
				}
				s, _ := args[0].(string)
				sep, _ := args[1].(string)
				parts := 1
				if sep == "" {
					parts = utf8.RuneCountInString(s)
				} else {
					parts += strings.Count(s, sep)
				}
				if parts > budget {
					return over(fn, "array", parts, budget)
				}
				return nil
			}
		}
		set("split", splitCheck("split"))
		set("splitAfter", splitCheck("splitAfter"))
		arrays := func(fn string) func(args []any) error {
			return func(args []any) error {
				total := 0
				for _, a := range args {
					total += lenOf(a)
				}
				if total > budget {
					return over(fn, "array", total, budget)
				}
				return nil
			}
		}
		set("concat", arrays("concat"))
		set("flatten", func(args []any) error {
			total := 0
			for _, a := range args {
				total += deepLen(a, 0)
				if total > budget {
					return over("flatten", "array", total, budget)
				}
			}
			return nil
		})
	}
}

func toInt(v any) (int, bool) {
	switch x := num(v).(type) {
	case int:
		return x, true
	case int64:
		if x > math.MaxInt32 {
			return math.MaxInt32, true
		}
		return int(x), true
	case float64:
		if x > math.MaxInt32 {
			return math.MaxInt32, true
		}
		return int(x), true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(min(rv.Int(), math.MaxInt32)), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int(min(rv.Uint(), math.MaxInt32)), true
	}
	return 0, false
}

func saturatingMul(a, b int) int {
	if a != 0 && b > math.MaxInt/a {
		return math.MaxInt
	}
	return a * b
}

func lenOf(v any) int {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map, reflect.String:
		return rv.Len()
	}
	return 1
}

func deepLen(v any, depth int) int {
	if depth > 64 {
		return 1
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return 1
	}
	n := 0
	for i := 0; i < rv.Len(); i++ {
		n += deepLen(rv.Index(i).Interface(), depth+1)
		if n > math.MaxInt32 {
			break
		}
	}
	return n
}

// checkConstantSizes refuses, at compile time, a range literal with constant bounds over
// the memory budget and a repeat of a constant string a constant number of times over the
// string limit: they would fail on every input.
func checkConstantSizes(n ast.Node, c *config) (int, error) {
	v := &sizeChecker{cfg: c}
	ast.Walk(&n, v)
	return v.pos, v.err
}

type sizeChecker struct {
	cfg *config
	err error
	pos int
}

func (s *sizeChecker) Visit(node *ast.Node) {
	if s.err != nil {
		return
	}
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		if n.Operator != ".." {
			return
		}
		lo, ok1 := n.Left.(*ast.IntegerNode)
		hi, ok2 := n.Right.(*ast.IntegerNode)
		if ok1 && ok2 && hi.Value-lo.Value+1 > int(min(s.cfg.memoryBudget, math.MaxInt32)) {
			s.err = fmt.Errorf("%w: range %d..%d has %d elements, over the memory budget of %d",
				ErrTooComplex, lo.Value, hi.Value, hi.Value-lo.Value+1, s.cfg.memoryBudget)
			s.pos = n.Location().From
		}
	case *ast.BuiltinNode:
		s.builtinCall(n.Name, n.Arguments, n.Location().From)
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			s.builtinCall(id.Value, n.Arguments, n.Location().From)
		}
	}
}

func (s *sizeChecker) builtinCall(name string, args []ast.Node, pos int) {
	if name != "repeat" || len(args) != 2 {
		return
	}
	str, ok1 := args[0].(*ast.StringNode)
	cnt, ok2 := args[1].(*ast.IntegerNode)
	if ok1 && ok2 && len(str.Value) > 0 && cnt.Value > s.cfg.maxStringBytes/len(str.Value) {
		s.err = fmt.Errorf("%w: repeat builds a string of %d bytes, over the limit of %d",
			ErrTooComplex, saturatingMul(len(str.Value), cnt.Value), s.cfg.maxStringBytes)
		s.pos = pos
	}
}
