package jsonproj

import (
	"github.com/expr-lang/expr/ast"
)

// closureBuiltins are expr builtins whose first argument is a collection and whose
// predicate or mapping closure (the second argument) sees each element as the pointer #.
var closureBuiltins = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true,
	"find": true, "findIndex": true, "findLast": true, "findLastIndex": true, "count": true,
	"sum": true, "groupBy": true, "sortBy": true, "reduce": true,
}

// elementBuiltins return one element of their first argument.
var elementBuiltins = map[string]bool{"find": true, "findLast": true, "first": true, "last": true}

// FromExpr builds the projection that expr programs with the given ASTs read from their
// environment (the decoded document), for use with Decode before running them. It is
// conservative: a path used in a way it does not model is kept whole, and a use of the whole
// environment ($env) keeps the whole document. Running the programs on the projected
// document gives the same results as on the full one.
func FromExpr(nodes ...ast.Node) *Projection {
	w := &walker{root: &Projection{}}
	for _, n := range nodes {
		if n != nil {
			w.value(n, nil)
		}
		if w.root.all {
			return All()
		}
	}
	return w.root.finish()
}

type walker struct {
	root *Projection
}

// scope binds the names of let variables and the closure pointer to what they refer to.
type scope struct {
	parent  *scope
	name    string      // let variable name, or "" for the closure pointer #
	ref     *Projection // nil when it refers to no path
	pointer bool
}

func (s *scope) lookup(name string, pointer bool) (*Projection, bool) {
	for ; s != nil; s = s.parent {
		if s.pointer == pointer && (pointer || s.name == name) {
			return s.ref, true
		}
	}
	return nil, false
}

// value walks n whose result is used as a value: a path it denotes is kept whole.
func (w *walker) value(n ast.Node, sc *scope) {
	if ref := w.ref(n, sc); ref != nil {
		ref.all = true
	}
}

// ref walks n and returns the projection node of the document path n denotes, or nil when n
// computes something else (after walking its operands).
func (w *walker) ref(n ast.Node, sc *scope) *Projection {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if ref, ok := sc.lookup(n.Value, false); ok {
			return ref
		}
		if n.Value == "$env" {
			return w.root
		}
		return w.root.field(n.Value)
	case *ast.PointerNode:
		ref, _ := sc.lookup("", true)
		if n.Name != "" { // #index, #acc: not elements
			return nil
		}
		return ref
	case *ast.MemberNode:
		base := w.ref(n.Node, sc)
		if s, ok := n.Property.(*ast.StringNode); ok && !n.Method {
			if base == nil {
				return nil
			}
			return base.field(s.Value)
		}
		// a computed member or an index: the base is read whole
		w.value(n.Property, sc)
		if base != nil {
			if _, isInt := n.Property.(*ast.IntegerNode); isInt {
				return base.elems()
			}
			base.all = true
		}
		return nil
	case *ast.ChainNode:
		return w.ref(n.Node, sc)
	case *ast.BuiltinNode:
		return w.builtin(n, sc)
	case *ast.VariableDeclaratorNode:
		// uses of the variable act on the path it is bound to
		return w.ref(n.Expr, &scope{parent: sc, name: n.Name, ref: w.ref(n.Value, sc)})
	case *ast.ConditionalNode:
		w.value(n.Cond, sc)
		w.value(n.Exp1, sc)
		w.value(n.Exp2, sc)
		return nil
	case *ast.SliceNode:
		w.value(n.Node, sc)
		if n.From != nil {
			w.value(n.From, sc)
		}
		if n.To != nil {
			w.value(n.To, sc)
		}
		return nil
	default:
		// every other node computes a value from operands used as values
		for _, c := range children(n) {
			w.value(c, sc)
		}
		return nil
	}
}

func (w *walker) builtin(n *ast.BuiltinNode, sc *scope) *Projection {
	args := n.Arguments
	switch {
	case n.Name == "len" && len(args) == 1:
		if ref := w.ref(args[0], sc); ref != nil {
			ref.objWhole = true // an object's size needs all its members
			ref.elems()         // an array's only its elements' presence
		}
		return nil
	case closureBuiltins[n.Name] && len(args) >= 2:
		coll := w.ref(args[0], sc)
		var elem *Projection
		if coll != nil {
			elem = coll.elems()
		}
		inner := &scope{parent: sc, pointer: true, ref: elem}
		for _, a := range args[1:] {
			if c, ok := a.(*ast.PredicateNode); ok {
				w.value(c.Node, inner)
			} else {
				w.value(a, sc)
			}
		}
		if n.Map != nil { // optimizer fused filter+map: the map sees the filtered elements
			w.value(n.Map, inner)
		}
		switch {
		case elementBuiltins[n.Name]:
			return elem
		case (n.Name == "filter" || n.Name == "sortBy") && n.Map == nil:
			return coll // the same elements, fewer or reordered
		case n.Name == "groupBy" || n.Name == "reduce":
			if elem != nil {
				elem.all = true // the result may hold whole elements
			}
		}
		return nil
	case elementBuiltins[n.Name] && len(args) == 1:
		if coll := w.ref(args[0], sc); coll != nil {
			return coll.elems()
		}
		return nil
	}
	for _, a := range args {
		w.value(a, sc)
	}
	if n.Map != nil {
		w.value(n.Map, sc)
	}
	return nil
}

func (p *Projection) field(name string) *Projection {
	if p.fields == nil {
		p.fields = map[string]*Projection{}
	}
	c := p.fields[name]
	if c == nil {
		c = &Projection{}
		p.fields[name] = c
	}
	return c
}

func (p *Projection) elems() *Projection {
	if p.elements == nil {
		p.elements = &Projection{}
	}
	return p.elements
}

// children returns the operand nodes of n.
func children(n ast.Node) []ast.Node {
	switch n := n.(type) {
	case *ast.UnaryNode:
		return []ast.Node{n.Node}
	case *ast.BinaryNode:
		return []ast.Node{n.Left, n.Right}
	case *ast.CallNode:
		if _, named := n.Callee.(*ast.IdentifierNode); named {
			return n.Arguments // a function's name is not a document path
		}
		return append([]ast.Node{n.Callee}, n.Arguments...)
	case *ast.PredicateNode:
		return []ast.Node{n.Node}
	case *ast.SequenceNode:
		return n.Nodes
	case *ast.ArrayNode:
		return n.Nodes
	case *ast.MapNode:
		return n.Pairs
	case *ast.PairNode:
		return []ast.Node{n.Key, n.Value}
	}
	return nil
}
