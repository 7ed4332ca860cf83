package transform

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error this package returns wraps one of them, so callers branch
// with errors.Is; the typed errors below carry the detail and are reached with errors.As.
var (
	// ErrInvalidRules reports a mapping document or Rules value that is malformed: bad JSON,
	// an empty name, a non-positive version, an empty or conflicting target path, an unknown
	// lookup table. Compile errors of expressions are ErrCompile instead.
	ErrInvalidRules = errors.New("transform: invalid rules")
	// ErrCompile reports an expression that does not parse or type-check. The error is a
	// *CompileError naming the field, the expression and the line and column.
	ErrCompile = errors.New("transform: expression does not compile")
	// ErrTooComplex reports an expression over the node limit (WithMaxNodes) or the source
	// length limit (WithMaxExprBytes), returned inside a *CompileError, or rules with more
	// fields than WithMaxFields allows.
	ErrTooComplex = errors.New("transform: expression too complex")
	// ErrEval reports an expression that failed while running on an input. The error is a
	// *FieldError naming the target path and the expression.
	ErrEval = errors.New("transform: expression failed")
	// ErrMemoryLimit reports an expression that tried to allocate more than its memory
	// budget (WithMemoryBudget) or to build a string over WithMaxStringBytes. It is returned
	// inside a *FieldError and also matches ErrEval.
	ErrMemoryLimit = errors.New("transform: memory limit exceeded")
	// ErrNotFound reports a rule name or version that the Registry does not hold.
	ErrNotFound = errors.New("transform: rules not found")
	// ErrNoActiveVersion reports a rule name that is registered but has no active version.
	ErrNoActiveVersion = errors.New("transform: no active version")
	// ErrVersionExists reports a Register of a name and version already registered with
	// different content. Versions are immutable: register a new version instead.
	ErrVersionExists = errors.New("transform: version already registered")
	// ErrNotBidirectional reports a round-trip check on rules that declare no inverse.
	ErrNotBidirectional = errors.New("transform: rules have no inverse")
	// ErrInvalidSchema reports a target JSON Schema that Suggest cannot read.
	ErrInvalidSchema = errors.New("transform: invalid target schema")
)

// Part names which expression of a field an error is about.
type Part string

// The parts of a Field.
const (
	PartExpr Part = "expr"
	PartWhen Part = "when"
)

// CompileError is an expression of a field that does not compile. It wraps ErrCompile (or
// ErrTooComplex for the size limits) and the underlying expr error.
type CompileError struct {
	Rules   string // rules name ("" when compiling an unnamed mapping)
	Inverse bool   // the field belongs to the inverse mapping
	Target  string // the field's target path
	Part    Part   // which expression failed
	Expr    string // the expression source
	Line    int    // 1-based line of the error in Expr (0 when unknown)
	Column  int    // 1-based column of the error in Expr (0 when unknown)
	Msg     string // what is wrong
	Kind    error  // ErrCompile or ErrTooComplex
	Err     error  // the underlying error from expr, if any
}

// Error names the rules, the field, the expression and the position.
func (e *CompileError) Error() string {
	var b strings.Builder
	b.WriteString("transform: ")
	if e.Rules != "" {
		fmt.Fprintf(&b, "rules %q: ", e.Rules)
	}
	if e.Inverse {
		b.WriteString("inverse: ")
	}
	fmt.Fprintf(&b, "field %q %s %q", e.Target, e.Part, e.Expr)
	if e.Line > 0 {
		fmt.Fprintf(&b, " at %d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel and the underlying expr error.
func (e *CompileError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// FieldError is a field whose expression failed on an input. It wraps ErrEval (and
// ErrMemoryLimit when a limit was hit) and the underlying error.
type FieldError struct {
	Rules   string // rules name
	Version int    // rules version
	Inverse bool   // the field belongs to the inverse mapping
	Target  string // the field's target path
	Part    Part   // which expression failed
	Expr    string // the expression source
	Line    int    // 1-based line in Expr where it failed (0 when unknown)
	Column  int    // 1-based column in Expr where it failed (0 when unknown)
	Msg     string // what went wrong
	Err     error  // the underlying error, if any
	limit   bool
}

// Error names the rules and version, the field, the expression and the position.
func (e *FieldError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "transform: rules %q v%d: ", e.Rules, e.Version)
	if e.Inverse {
		b.WriteString("inverse: ")
	}
	fmt.Fprintf(&b, "field %q %s %q", e.Target, e.Part, e.Expr)
	if e.Line > 0 {
		fmt.Fprintf(&b, " at %d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns ErrEval, ErrMemoryLimit when a limit was hit, and the underlying error.
func (e *FieldError) Unwrap() []error {
	errs := []error{ErrEval}
	if e.limit {
		errs = append(errs, ErrMemoryLimit)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// invalid builds an ErrInvalidRules error.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidRules, fmt.Sprintf(format, args...))
}

var (
	_ error = (*CompileError)(nil)
	_ error = (*FieldError)(nil)
	_ error = (*limitError)(nil)
)
