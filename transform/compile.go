package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Defaults of the compile options.
const (
	// DefaultMaxNodes bounds the AST nodes of one expression (WithMaxNodes).
	DefaultMaxNodes = 1000
	// DefaultMaxFields bounds the fields of one Rules (and of its inverse)
	// (WithMaxFields); compiling costs some tens of microseconds per field.
	DefaultMaxFields = 1000
	// DefaultMaxExprBytes bounds the source length of one expression (WithMaxExprBytes).
	DefaultMaxExprBytes = 16 << 10
	// DefaultMemoryBudget is expr's allocation budget for one run of one expression, in
	// its units (elements of built arrays, maps and ranges, bytes of repeat()).
	DefaultMemoryBudget = 1_000_000
	// DefaultMaxStringBytes bounds every string an expression builds with +, the
	// helpers or replace/repeat/join (WithMaxStringBytes). Strings read from the input
	// are not limited.
	DefaultMaxStringBytes = 1 << 20
)

// Option tunes Compile.
type Option func(*config)

type config struct {
	maxFields      int
	maxNodes       int
	maxExprBytes   int
	memoryBudget   uint
	maxStringBytes int
	maxLoopBytes   int
	functions      map[string]Func
	safe           map[uintptr]safeFunc // checked Safe builtins (bounds.go)
}

// Func is an extra helper made available to expressions with WithFunction. It must be
// safe for concurrent use and should return an error, not panic, on bad arguments
// (panics are turned into errors anyway).
type Func func(args ...any) (any, error)

// WithMaxNodes bounds the number of AST nodes of each expression (default
// DefaultMaxNodes). Larger expressions are refused with ErrTooComplex. n <= 0 keeps the
// default.
func WithMaxNodes(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxNodes = n
		}
	}
}

// WithMaxFields bounds the number of fields of a Rules and of its inverse (default
// DefaultMaxFields); more are refused with ErrTooComplex. n <= 0 keeps the default.
func WithMaxFields(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxFields = n
		}
	}
}

// WithMaxExprBytes bounds the source length of each expression (default
// DefaultMaxExprBytes); longer ones are refused with ErrTooComplex. n <= 0 keeps the
// default.
func WithMaxExprBytes(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxExprBytes = n
		}
	}
}

// WithMemoryBudget sets expr's allocation budget for one run of one expression (default
// DefaultMemoryBudget). Exceeding it fails the field with ErrMemoryLimit. n == 0 keeps
// the default.
func WithMemoryBudget(n uint) Option {
	return func(c *config) {
		if n > 0 {
			c.memoryBudget = n
		}
	}
}

// WithMaxStringBytes bounds the strings expressions build (default
// DefaultMaxStringBytes). Exceeding it fails the field with ErrMemoryLimit. n <= 0 keeps
// the default.
func WithMaxStringBytes(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxStringBytes = n
		}
	}
}

// WithFunction adds a helper callable from expressions as name(args...). It overrides a
// built-in helper or expr builtin of the same name.
func WithFunction(name string, fn Func) Option {
	return func(c *config) {
		if c.functions == nil {
			c.functions = map[string]Func{}
		}
		c.functions[name] = fn
	}
}

func newConfig(opts []Option) *config {
	c := &config{
		maxFields:      DefaultMaxFields,
		maxNodes:       DefaultMaxNodes,
		maxExprBytes:   DefaultMaxExprBytes,
		memoryBudget:   DefaultMemoryBudget,
		maxStringBytes: DefaultMaxStringBytes,
		maxLoopBytes:   DefaultMaxLoopBytes,
	}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	c.safe = checkedSafe(c)
	return c
}

// Program is compiled Rules: immutable and safe for concurrent use by any number of
// goroutines. Build it once with Compile (or Registry.Register) and Apply it to many
// inputs.
type Program struct {
	rules     Rules
	inverse   *Program
	isInverse bool
	fields    []compiledField
	targets   []string // every target, in order: Applied.Fields when all are set
	topLevel  int      // number of distinct first segments, to size the output map
	budget    uint
	vms       sync.Pool // of *runner
	// state is the placeholder the loops of the compiled expressions refer to; looped are
	// the programs with loops, which each runner copies bound to its own state.
	state        *evalState
	looped       []*vm.Program
	maxLoopBytes int
}

type compiledField struct {
	target  string
	path    []string
	expr    string
	when    string
	prog    *vm.Program // nil for a constant field
	whenP   *vm.Program // nil without a condition
	node    ast.Node    // parsed (unpatched) AST of expr, for Nodes
	whenN   ast.Node    // parsed AST of when
	def     any
	hasDef  bool
	defCopy bool // the default is a map or slice: copied per use
	// progSlot and whenSlot index Program.looped when the expression has loops, else -1.
	progSlot, whenSlot int
}

// Compile type-checks and compiles every expression of r (and of its inverse). It fails
// with a *CompileError (wrapping ErrCompile or ErrTooComplex) naming the field, the
// expression and the position, or with ErrInvalidRules for malformed rules (empty or
// conflicting targets, unknown lookup tables). Compile does not require a name or
// version; Registry.Register does.
func Compile(r Rules, opts ...Option) (*Program, error) {
	c := newConfig(opts)
	p, err := compileRules(r, r.Tables, c, false)
	if err != nil {
		return nil, err
	}
	if r.Inverse != nil {
		inv := *r.Inverse
		inv.Name, inv.Version, inv.Inverse = r.Name, r.Version, nil
		tables := inv.Tables
		if tables == nil {
			tables = r.Tables
		}
		if p.inverse, err = compileRules(inv, tables, c, true); err != nil {
			return nil, err
		}
		p.inverse.inverse = p
	}
	return p, nil
}

// MustCompile is Compile that panics on error, for mappings fixed at program start.
func MustCompile(r Rules, opts ...Option) *Program {
	p, err := Compile(r, opts...)
	if err != nil {
		panic(err)
	}
	return p
}

func compileRules(r Rules, tables map[string]map[string]any, c *config, inverse bool) (*Program, error) {
	p := &Program{rules: cloneRules(r), isInverse: inverse, budget: c.memoryBudget,
		state: &evalState{}, maxLoopBytes: c.maxLoopBytes}
	p.vms.New = func() any { return p.newRunner() }
	if len(r.Fields) == 0 {
		if r.Name == "" {
			return nil, invalid("no fields")
		}
		return nil, invalid("%q has no fields", r.Name)
	}
	if len(r.Fields) > c.maxFields {
		return nil, fmt.Errorf("%w: rules %q have %d fields, over the limit of %d", ErrTooComplex, r.Name, len(r.Fields), c.maxFields)
	}
	tables = cloneTables(tables)
	exprOpts := exprOptions(c, tables, p.state)
	trie := map[string]bool{} // every target and every proper prefix
	leaves := map[string]bool{}
	top := map[string]bool{}
	for _, f := range r.Fields {
		path, err := splitTarget(f.Target)
		if err != nil {
			return nil, err
		}
		if trie[f.Target] {
			return nil, invalid("target %q conflicts with another target under it or equal to it", f.Target)
		}
		for i := 1; i < len(path); i++ {
			pre := joinPath(path[:i])
			if leaves[pre] {
				return nil, invalid("target %q is nested under target %q", f.Target, pre)
			}
			trie[pre] = true
		}
		trie[f.Target] = true
		leaves[f.Target] = true
		top[path[0]] = true

		cf := compiledField{target: f.Target, path: path, expr: f.Expr, when: f.When, progSlot: -1, whenSlot: -1}
		if f.Default != nil {
			def, err := normalizeJSON(f.Default)
			if err != nil {
				return nil, invalid("field %q: default is not a JSON value: %v", f.Target, err)
			}
			cf.def, cf.hasDef = def, true
			switch def.(type) {
			case map[string]any, []any:
				cf.defCopy = true
			}
		}
		ce := func(part Part, err error) error {
			var e *CompileError
			if errors.As(err, &e) {
				e.Rules, e.Inverse, e.Target, e.Part = r.Name, inverse, f.Target, part
				return e
			}
			return err
		}
		switch {
		case f.Expr != "":
			if cf.prog, cf.node, err = compileExpr(f.Expr, c, tables, exprOpts); err != nil {
				return nil, ce(PartExpr, err)
			}
		case !cf.hasDef:
			return nil, invalid("field %q has neither an expression nor a default", f.Target)
		}
		if f.When != "" {
			if cf.whenP, cf.whenN, err = compileExpr(f.When, c, tables, exprOpts); err != nil {
				return nil, ce(PartWhen, err)
			}
		}
		if cf.prog != nil && hasState(cf.prog, p.state) {
			cf.progSlot = len(p.looped)
			p.looped = append(p.looped, cf.prog)
		}
		if cf.whenP != nil && hasState(cf.whenP, p.state) {
			cf.whenSlot = len(p.looped)
			p.looped = append(p.looped, cf.whenP)
		}
		p.fields = append(p.fields, cf)
		p.targets = append(p.targets, f.Target)
	}
	p.topLevel = len(top)
	return p, nil
}

// normalizeJSON turns a Go value into the values encoding/json decodes (maps, []any,
// strings, json.Number, bools, nil), so defaults are private to the Program and outputs
// hold only JSON values.
func normalizeJSON(v any) (any, error) {
	switch v.(type) {
	case string, json.Number, bool:
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

func joinPath(segs []string) string {
	n := len(segs) - 1
	for _, s := range segs {
		n += len(s)
	}
	b := make([]byte, 0, n)
	for i, s := range segs {
		if i > 0 {
			b = append(b, '.')
		}
		b = append(b, s...)
	}
	return string(b)
}

func cloneTables(t map[string]map[string]any) map[string]map[string]any {
	if t == nil {
		return nil
	}
	out := make(map[string]map[string]any, len(t))
	for k, v := range t {
		out[k] = maps.Clone(v)
	}
	return out
}

func cloneRules(r Rules) Rules {
	r.Fields = append([]Field(nil), r.Fields...)
	r.Tables = cloneTables(r.Tables)
	if r.Inverse != nil {
		inv := cloneRules(*r.Inverse)
		r.Inverse = &inv
	}
	return r
}

// exprOptions are the expr options shared by every expression of one Rules.
func exprOptions(c *config, tables map[string]map[string]any, state *evalState) []expr.Option {
	opts := []expr.Option{
		// A map environment: identifiers compile to direct map lookups (OpLoadFast), and
		// nothing but the input and the registered functions is reachable.
		expr.Env(map[string]any{}),
		expr.AllowUndefinedVariables(),
		expr.Optimize(true),
		expr.MaxNodes(uint(c.maxNodes)),
		expr.Patch(newNumberPatch(c.maxStringBytes)),
		expr.Patch(loopPatch{state: state}),
		limitedBuiltins(c),
		checkedBuiltins(c),
	}
	for _, h := range helpers(c, tables) {
		opts = append(opts, expr.Function(h.name, h.fn, h.types...))
	}
	for name, fn := range c.functions {
		opts = append(opts, expr.Function(name, fn))
	}
	return opts
}

// compileExpr checks the size limits, then compiles src. It also returns the parsed AST
// before patching and optimisation, which mirrors the source.
func compileExpr(src string, c *config, tables map[string]map[string]any, opts []expr.Option) (*vm.Program, ast.Node, error) {
	if len(src) > c.maxExprBytes {
		return nil, nil, &CompileError{Expr: src, Kind: ErrTooComplex,
			Msg: fmt.Sprintf("expression is %d bytes, over the limit of %d", len(src), c.maxExprBytes)}
	}
	// Parse without a node limit (the source length bounds the work) to count the nodes
	// and report the limit as a typed error rather than expr's message.
	pc := conf.CreateNew()
	pc.MaxNodes = 0
	tree, err := parser.ParseWithConfig(src, pc)
	if err != nil {
		return nil, nil, exprCompileError(src, err)
	}
	var cnt nodeCounter
	ast.Walk(&tree.Node, &cnt)
	if cnt.n > c.maxNodes {
		return nil, nil, &CompileError{Expr: src, Kind: ErrTooComplex,
			Msg: fmt.Sprintf("expression has %d nodes, over the limit of %d", cnt.n, c.maxNodes)}
	}
	if pos, err := checkCalls(tree.Node, tables, c); err != nil {
		ce := &CompileError{Expr: src, Kind: ErrCompile, Msg: err.Error(), Err: err}
		ce.Line, ce.Column = lineColumn(src, pos)
		return nil, nil, ce
	}
	if pos, err := checkConstantSizes(tree.Node, c); err != nil {
		ce := &CompileError{Expr: src, Kind: ErrTooComplex, Msg: err.Error(), Err: err}
		ce.Line, ce.Column = lineColumn(src, pos)
		return nil, nil, ce
	}
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, nil, exprCompileError(src, err)
	}
	bindChecked(prog, c.safe)
	return prog, tree.Node, nil
}

func exprCompileError(src string, err error) error {
	ce := &CompileError{Expr: src, Kind: ErrCompile, Msg: err.Error(), Err: err}
	var fe *file.Error
	if errors.As(err, &fe) {
		ce.Msg = fe.Message
		if fe.Line > 0 {
			ce.Line, ce.Column = fe.Line, fe.Column+1
		}
	}
	return ce
}

type nodeCounter struct{ n int }

func (c *nodeCounter) Visit(*ast.Node) { c.n++ }

// checkCalls reports calls of functions that do not exist (with a map environment expr
// would otherwise treat the name as an input key and fail at run time) and
// lookup("name", ...) calls naming a table the rules do not declare.
// It returns the rune offset of the offending call.
func checkCalls(n ast.Node, tables map[string]map[string]any, c *config) (int, error) {
	v := &callChecker{tables: tables, cfg: c}
	ast.Walk(&n, v)
	return v.pos, v.err
}

type callChecker struct {
	tables map[string]map[string]any
	cfg    *config
	err    error
	pos    int
}

// lineColumn turns a rune offset into a 1-based line and column.
func lineColumn(src string, offset int) (line, col int) {
	line, col = 1, 1
	i := 0
	for _, r := range src {
		if i == offset {
			break
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i++
	}
	return line, col
}

func (t *callChecker) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || t.err != nil {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	if _, builtin := builtin.Index[id.Value]; !builtin && !helperNames[id.Value] && t.cfg.functions[id.Value] == nil {
		t.err = fmt.Errorf("unknown function %s()", id.Value)
		t.pos = call.Location().From
		return
	}
	if id.Value != "lookup" || len(call.Arguments) == 0 {
		return
	}
	if s, ok := call.Arguments[0].(*ast.StringNode); ok {
		if _, found := t.tables[s.Value]; !found {
			t.err = fmt.Errorf("%w: lookup table %q is not declared in the rules' tables", ErrInvalidRules, s.Value)
			t.pos = s.Location().From
		}
	}
}

// Names of the internal functions the numberPatch inserts.
const (
	fnAdd = "__add"
	fnNum = "__num"
	fnGet = "__get"
)

// numberPatch makes expressions work on inputs decoded with json.Number (exact numbers):
// operands of arithmetic and comparisons whose type is not known statically go through
// __num (json.Number to int or float64, anything else unchanged), and every + whose
// operands are not both statically numeric becomes one __add call per chain, which
// concatenates strings in one allocation under the string limit.
//
// It also turns plain member accesses with a constant name (a.b, a['b']) into __get
// calls, which read map[string]any without reflection and without allocating, except
// those an optional chain must skip when it meets nil (see unget).
//
// The one- and two-argument calls have a constant Go function of a signature expr's VM
// calls directly (OpCallTyped), without building an argument slice: a call inside a
// loop (map(xs, .name)) then allocates nothing.
type numberPatch struct {
	fused map[*ast.CallNode]bool
	gets  map[*ast.CallNode]*ast.MemberNode
	nums  map[*ast.CallNode]bool
	add2  func(a, b any) any
	str   func(v any) any
}

func newNumberPatch(maxStr int) *numberPatch {
	return &numberPatch{
		fused: map[*ast.CallNode]bool{},
		gets:  map[*ast.CallNode]*ast.MemberNode{},
		nums:  map[*ast.CallNode]bool{},
		add2:  add2Func(maxStr),
		str:   stringFunc(maxStr),
	}
}

func (p *numberPatch) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		prop, ok := n.Property.(*ast.StringNode)
		if !ok || n.Optional || n.Method || !(unknown(n.Node) || isStringMap(n.Node)) {
			return
		}
		call := &ast.CallNode{Callee: &ast.ConstantNode{Value: getFast}, Arguments: []ast.Node{n.Node, &ast.StringNode{Value: prop.Value}}}
		p.gets[call] = n
		ast.Patch(node, call)
	case *ast.ChainNode:
		if fastChain(&n.Node, p.gets) {
			ast.Patch(node, &ast.CallNode{Callee: &ast.ConstantNode{Value: unchainFast}, Arguments: []ast.Node{n.Node}})
		} else {
			unget(&n.Node, p.gets)
		}
	case *ast.BinaryNode:
		switch n.Operator {
		case "+":
			if isKind(n.Left, numberKinds) && isKind(n.Right, numberKinds) || isTimeish(n.Left) || isTimeish(n.Right) {
				return
			}
			var args []ast.Node
			if c, ok := n.Left.(*ast.CallNode); ok && p.fused[c] {
				args = append(args, c.Arguments...)
			} else {
				args = append(args, n.Left)
			}
			args = append(args, n.Right)
			var callee ast.Node = &ast.IdentifierNode{Value: fnAdd}
			if len(args) == 2 {
				callee = &ast.ConstantNode{Value: p.add2}
			}
			call := &ast.CallNode{Callee: callee, Arguments: args}
			p.fused[call] = true
			ast.Patch(node, call)
		case "-", "*", "/", "%", "**", "^", "<", ">", "<=", ">=", "..":
			if isTimeish(n.Left) || isTimeish(n.Right) {
				return
			}
			if isStringy(n.Left) || isStringy(n.Right) {
				return
			}
			p.wrap(&n.Left)
			p.wrap(&n.Right)
		case "in":
			if arr, ok := n.Right.(*ast.ArrayNode); ok && allStrings(arr.Nodes) {
				return
			}
			p.wrap(&n.Left)
		case "==", "!=":
			if isStringy(n.Left) || isStringy(n.Right) || isLiteral(n.Left, false) || isLiteral(n.Right, false) {
				return
			}
			p.wrap(&n.Left)
			p.wrap(&n.Right)
		}
	case *ast.UnaryNode:
		if n.Operator == "-" || n.Operator == "+" {
			p.wrap(&n.Node)
		}
	case *ast.BuiltinNode:
		if n.Name == "string" && len(n.Arguments) == 1 {
			ast.Patch(node, &ast.CallNode{Callee: &ast.ConstantNode{Value: p.str}, Arguments: n.Arguments})
			return
		}
		switch n.Name {
		case "int", "float", "abs", "ceil", "floor", "round", "max", "min", "sum", "mean", "median":
			for i := range n.Arguments {
				p.wrap(&n.Arguments[i])
			}
		}
	}
}

// fastChain rewrites an optional chain whose spine is only member accesses with
// constant names (a?.b.c, find(xs, ...)?.name) into calls that pass a private nil marker
// up the spine instead of jumping: a ?. member of nil yields the marker, a plain member of
// the marker yields the marker (of a real nil, an error, as in expr), and the chain's
// root, wrapped in unchainFast, turns the marker into nil. It reports false, changing
// nothing, for other chains (index, method or dynamic members), which unget handles.
func fastChain(chain *ast.Node, gets map[*ast.CallNode]*ast.MemberNode) bool {
	var spine []*ast.Node
	cur := chain
	for {
		switch x := (*cur).(type) {
		case *ast.MemberNode:
			if _, ok := x.Property.(*ast.StringNode); !ok || !x.Optional || x.Method {
				return false
			}
			spine = append(spine, cur)
			cur = &x.Node
			continue
		case *ast.CallNode:
			if _, ok := gets[x]; ok {
				spine = append(spine, cur)
				cur = &x.Arguments[0]
				continue
			}
		}
		break
	}
	k := -1
	for i, n := range spine {
		if m, ok := (*n).(*ast.MemberNode); ok && m.Optional {
			k = i
		}
	}
	if k < 0 {
		return false
	}
	// Bottom up, so each rewritten node's base is already final.
	for i := len(spine) - 1; i >= 0; i-- {
		switch x := (*spine[i]).(type) {
		case *ast.MemberNode:
			prop := x.Property.(*ast.StringNode)
			ast.Patch(spine[i], &ast.CallNode{Callee: &ast.ConstantNode{Value: getOptFast},
				Arguments: []ast.Node{x.Node, &ast.StringNode{Value: prop.Value}}})
		case *ast.CallNode:
			if i < k {
				x.Callee = &ast.ConstantNode{Value: getChainFast}
			}
		}
	}
	return true
}

// unget puts back the __get calls on the spine of an optional chain that sit above its
// innermost ?. member (a?.b.c: the .c), where expr's nil short-circuit must skip them.
// Members below it (a.b?.c: the .b) and those inside arguments stay fast.
func unget(chain *ast.Node, gets map[*ast.CallNode]*ast.MemberNode) {
	var spine []*ast.Node
	cur := chain
	for cur != nil {
		spine = append(spine, cur)
		next := (*ast.Node)(nil)
		switch x := (*cur).(type) {
		case *ast.MemberNode:
			next = &x.Node
		case *ast.CallNode:
			if _, ok := gets[x]; ok {
				next = &x.Arguments[0]
			} else if m, ok := x.Callee.(*ast.MemberNode); ok {
				next = &m.Node
			}
		}
		cur = next
	}
	k := -1
	for i, n := range spine {
		if m, ok := (*n).(*ast.MemberNode); ok && m.Optional {
			k = i
		}
	}
	for i := k - 1; i >= 0; i-- {
		call, ok := (*spine[i]).(*ast.CallNode)
		if !ok {
			continue
		}
		if m, ok := gets[call]; ok {
			m.Node = call.Arguments[0]
			ast.Patch(spine[i], m)
		}
	}
}

var stringMapType = reflect.TypeOf(map[string]any(nil))

func isStringMap(n ast.Node) bool { return n.Type() == stringMapType }

// wrap replaces *n by __num(*n) when its type is not known statically.
func (p *numberPatch) wrap(n *ast.Node) {
	if !unknown(*n) || isLiteral(*n, true) {
		return
	}
	if c, ok := (*n).(*ast.CallNode); ok && (p.nums[c] || p.fused[c]) {
		return
	}
	call := &ast.CallNode{Callee: &ast.ConstantNode{Value: numFast}, Arguments: []ast.Node{*n}}
	p.nums[call] = true
	ast.Patch(n, call)
}

func allStrings(ns []ast.Node) bool {
	for _, n := range ns {
		if _, ok := n.(*ast.StringNode); !ok {
			return false
		}
	}
	return true
}

var numberKinds = []reflect.Kind{
	reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
	reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
	reflect.Float32, reflect.Float64,
}

var (
	timeType     = reflect.TypeOf(timeZero)
	durationType = reflect.TypeOf(durationZero)
)

func unknown(n ast.Node) bool {
	t := n.Type()
	return t == nil || t.Kind() == reflect.Interface
}

func isKind(n ast.Node, kinds []reflect.Kind) bool {
	t := n.Type()
	if t == nil {
		return false
	}
	for _, k := range kinds {
		if t.Kind() == k {
			return true
		}
	}
	return false
}

func isStringy(n ast.Node) bool {
	t := n.Type()
	return t != nil && (t.Kind() == reflect.String || t.Kind() == reflect.Bool)
}

func isTimeish(n ast.Node) bool {
	t := n.Type()
	return t != nil && (t == timeType || t == durationType)
}

// isLiteral reports constant nodes; with numbers false, numeric literals do not count
// (an == against a number literal still needs the operand converted).
func isLiteral(n ast.Node, numbers bool) bool {
	switch n.(type) {
	case *ast.StringNode, *ast.BoolNode, *ast.NilNode:
		return true
	case *ast.IntegerNode, *ast.FloatNode:
		return numbers
	}
	return false
}
