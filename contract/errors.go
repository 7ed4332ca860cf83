package contract

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// Sentinel errors. Every error the package returns wraps one of them (or is a typed error
// whose Is method matches one), so callers branch with errors.Is and never on message text.
var (
	// ErrInvalid: a value does not satisfy its contract. The error is a *ValidationError
	// listing every violation.
	ErrInvalid = errors.New("contract: value violates contract")

	// ErrBadInput: the input could not be read as a JSON document at all. Every *InputError
	// matches it, together with the more precise sentinel of its kind below.
	ErrBadInput = errors.New("contract: bad input")
	// ErrTooLarge: a raw JSON document is longer than Limits.MaxBytes.
	ErrTooLarge = errors.New("contract: document too large")
	// ErrTooDeep: a document nests objects and arrays deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("contract: document nested too deeply")
	// ErrInvalidUTF8: a raw document or a Go string in a value is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("contract: invalid UTF-8")
	// ErrDuplicateKey: an object in a raw document repeats a member name.
	ErrDuplicateKey = errors.New("contract: duplicate object key")
	// ErrSyntax: a raw document is not well-formed JSON (RFC 8259).
	ErrSyntax = errors.New("contract: JSON syntax error")
	// ErrUnsupportedValue: a Go value cannot be represented as JSON (NaN, infinity, a
	// channel, a function, a malformed json.Number, a map with non-string keys that
	// encoding/json rejects).
	ErrUnsupportedValue = errors.New("contract: value not representable as JSON")

	// ErrNotFound: no contract is registered under the name (and version) asked for.
	ErrNotFound = errors.New("contract: not found")
	// ErrInvalidContract: a contract's name, version or schema is unusable (bad name,
	// version not MAJOR.MINOR.PATCH, schema that does not compile, unresolvable $ref).
	// Compile failures are *SchemaError values, which match it.
	ErrInvalidContract = errors.New("contract: invalid contract")
	// ErrVersionExists: the name and version are already registered with a different
	// schema. Registered versions are immutable; register a new version instead.
	ErrVersionExists = errors.New("contract: version already registered with a different schema")
	// ErrIncompatible: a new version breaks backward compatibility with an existing
	// version of the same major; the error is an *IncompatibleError carrying the report.
	ErrIncompatible = errors.New("contract: incompatible change within the same major version")
)

// InputError reports input that is not a usable JSON document: too large, too deep,
// not UTF-8, with a duplicate key, malformed, or (for Go values) not representable as JSON.
// It matches [ErrBadInput] and the sentinel in Kind with errors.Is.
type InputError struct {
	// Kind is the sentinel of the failure: ErrTooLarge, ErrTooDeep, ErrInvalidUTF8,
	// ErrDuplicateKey, ErrSyntax or ErrUnsupportedValue.
	Kind error
	// Offset is the byte offset in a raw document where the problem was found, or -1
	// for Go values.
	Offset int
	// Path is the JSON Pointer of the value concerned ("" for the document root).
	Path string
	// Detail says what exactly was wrong, for people.
	Detail string
}

// Error formats the kind, position and detail.
func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	if e.Path != "" {
		b.WriteString(" at ")
		b.WriteString(strconv.Quote(e.Path))
	}
	if e.Offset >= 0 {
		b.WriteString(" (byte ")
		b.WriteString(strconv.Itoa(e.Offset))
		b.WriteString(")")
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Is reports whether target is ErrBadInput or the error's Kind.
func (e *InputError) Is(target error) bool { return target == ErrBadInput || target == e.Kind }

// Unwrap returns the Kind sentinel.
func (e *InputError) Unwrap() error { return e.Kind }

// ValidationError is the error returned when a value violates a contract. It carries every
// violation (the same slice as the accompanying [Result]) and matches [ErrInvalid].
type ValidationError struct {
	// Contract and Version identify the contract the value was checked against.
	Contract string
	Version  string
	// Violations lists every violation, in instance order (never empty).
	Violations []Violation
}

// Error summarises the violations: the count and the first few, each with its instance path.
func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "contract %s@%s: %d violation", e.Contract, e.Version, len(e.Violations))
	if len(e.Violations) != 1 {
		b.WriteByte('s')
	}
	for i, v := range e.Violations {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Violations)-3)
			break
		}
		b.WriteString("; ")
		b.WriteString(v.String())
	}
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// SchemaError reports a contract whose schema cannot be used: not JSON, not a valid schema
// for its draft, or with a $ref that resolves to nothing. It matches [ErrInvalidContract].
type SchemaError struct {
	// Contract and Version identify the contract being compiled.
	Contract string
	Version  string
	// Err is the cause from the JSON decoder or the jsonschema compiler.
	Err error
}

// Error names the contract and the cause. A jsonschema compilation error is shown by its
// cause: its own prefix would name the contract a second time.
func (e *SchemaError) Error() string {
	cause := e.Err
	var se *jsonschema.SchemaError
	if errors.As(cause, &se) && se.Err != nil {
		cause = se.Err
	}
	return fmt.Sprintf("contract %s@%s: invalid schema: %v", e.Contract, e.Version, cause)
}

// Unwrap returns the cause.
func (e *SchemaError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalidContract.
func (e *SchemaError) Is(target error) bool { return target == ErrInvalidContract }

// IncompatibleError is returned by [Registry.Register] when a version breaks backward
// compatibility with another version of the same major and the registration was not
// forced. It matches [ErrIncompatible].
type IncompatibleError struct {
	// Contract is the name; Old and New are the versions compared (Old is the earlier).
	Contract string
	Old, New string
	// Report lists every change found, breaking ones marked.
	Report *Compatibility
}

// Error names the versions and the breaking changes.
func (e *IncompatibleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "contract %s: %s is not backward compatible with %s", e.Contract, e.New, e.Old)
	n := 0
	for _, c := range e.Report.Changes {
		if !c.Breaking {
			continue
		}
		if n == 3 {
			b.WriteString("; ...")
			break
		}
		b.WriteString("; ")
		b.WriteString(c.String())
		n++
	}
	b.WriteString(" (bump the major version or force the registration)")
	return b.String()
}

// Is reports whether target is ErrIncompatible.
func (e *IncompatibleError) Is(target error) bool { return target == ErrIncompatible }

func invalidContract(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidContract}, args...)...)
}

var (
	_ error = (*InputError)(nil)
	_ error = (*ValidationError)(nil)
	_ error = (*SchemaError)(nil)
	_ error = (*IncompatibleError)(nil)
)
