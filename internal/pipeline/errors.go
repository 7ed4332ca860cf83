package pipeline

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ehg/hub/internal/jsonproj"
)

// Stage names the step of the pipeline that failed.
type Stage string

// The stages, in the order they run.
const (
	// StagePayload: the raw payload is empty, too large, malformed JSON (syntax, invalid
	// UTF-8) or nested too deep.
	StagePayload Stage = "payload"
	// StageInput: the input contract rejected the payload (the wrapped error is the
	// contract package's).
	StageInput Stage = "input"
	// StageMapping: the payload is not an object the mapping can read, the mapping failed,
	// or its output has no JSON encoding.
	StageMapping Stage = "mapping"
	// StageCanonical: the canonical contract rejected the mapped document.
	StageCanonical Stage = "canonical"
	// StageDelivery: the delivery mapping could not read the canonical document, failed,
	// or its output has no JSON encoding.
	StageDelivery Stage = "delivery"
	// StageSize: the delivery body is larger than Config.MaxBytes.
	StageSize Stage = "size"
)

// Kinds of failure, matched with errors.Is on an *Error. Contract and transform failures
// carry no kind of their own here: match them with the contract and transform packages'
// errors (contract.ErrInvalid, contract.ErrBadInput, transform.ErrEval...).
var (
	// ErrEmpty: the payload is empty or only white space.
	ErrEmpty = errors.New("pipeline: payload is empty")
	// ErrTooLarge: the payload or the delivery body exceeds Config.MaxBytes.
	ErrTooLarge = errors.New("pipeline: document too large")
	// ErrMalformed: the payload is not one well-formed JSON value in valid UTF-8.
	ErrMalformed = errors.New("pipeline: malformed JSON")
	// ErrTooDeep: the payload nests objects and arrays deeper than Config.MaxDepth.
	ErrTooDeep = errors.New("pipeline: nesting too deep")
	// ErrNotObject: a mapping needs a JSON object and the document is another value.
	ErrNotObject = errors.New("pipeline: the document must be a JSON object")
	// ErrUnencodable: a mapping produced a value with no JSON encoding (NaN, a channel...).
	ErrUnencodable = errors.New("pipeline: the mapped value is not representable as JSON")
)

// Error is a pipeline failure: the stage, the kind (one of the Err* sentinels, or nil for a
// contract or transform failure) and the underlying error. errors.Is and errors.As see both
// Kind and Err.
type Error struct {
	// Stage is the step that failed.
	Stage Stage
	// Kind is one of the package's sentinels, or nil.
	Kind error
	// Err is the underlying error (*jsonproj.SyntaxError, *transform.FieldError, a
	// contract error, the context's error...), or nil when Kind says it all.
	Err error
	// Size is the length in bytes of the document, for ErrTooLarge.
	Size int
	// Limit is the limit that was exceeded (bytes for ErrTooLarge, levels for ErrTooDeep).
	Limit int
}

// Error describes the failure: the stage, then the kind and the detail, each said once
// (a JSON syntax or depth error already names its kind, so only its position and reason
// follow).
func (e *Error) Error() string {
	kind := ""
	if e.Kind != nil {
		kind = strings.TrimPrefix(e.Kind.Error(), "pipeline: ")
	}
	var syn *jsonproj.SyntaxError
	switch {
	case e.Kind == ErrTooLarge:
		return fmt.Sprintf("pipeline: %s: %d bytes, over the %d-byte limit", e.Stage, e.Size, e.Limit)
	case e.Kind != nil && errors.As(e.Err, &syn):
		return fmt.Sprintf("pipeline: %s: %s at offset %d: %s", e.Stage, kind, syn.Offset, syn.Msg)
	case e.Kind != nil && errors.Is(e.Err, jsonproj.ErrTooDeep):
		return fmt.Sprintf("pipeline: %s: %s: %s", e.Stage, kind, strings.TrimPrefix(e.Err.Error(), jsonproj.ErrTooDeep.Error()+": "))
	case e.Kind != nil && e.Err != nil:
		return fmt.Sprintf("pipeline: %s: %s: %v", e.Stage, kind, e.Err)
	case e.Kind != nil:
		return fmt.Sprintf("pipeline: %s: %s", e.Stage, kind)
	}
	return fmt.Sprintf("pipeline: %s: %v", e.Stage, e.Err)
}

// Unwrap returns Kind and Err (the nil ones left out).
func (e *Error) Unwrap() []error {
	out := make([]error, 0, 2)
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}
