package config

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every error about a document's content: an
// [*Error], or [Errors] holding several.
var ErrInvalid = errors.New("config: invalid document")

// ErrSecret is matched by errors resolving a secret reference (unset variable, unreadable
// file, unknown scheme, failing resolver). The error never holds the secret.
var ErrSecret = errors.New("config: secret reference cannot be resolved")

// Position is where a value was read: file, line and column (1-based). Documents built in
// Go have no positions (zero).
type Position struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

// String formats the position as FILE:LINE:COLUMN ("" when unknown).
func (p Position) String() string {
	switch {
	case p.File == "" && p.Line == 0:
		return ""
	case p.Line == 0:
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Error is one problem of a document: where (file, line, column), at which path inside it
// ("services[github].auth.token") and what. It matches [ErrInvalid] and unwraps to the
// cause when there is one.
type Error struct {
	Position
	// Path is the document path of the value concerned.
	Path string
	// Message says what is wrong.
	Message string
	// Err is the underlying cause, when there is one.
	Err error
}

// Error formats the problem as "FILE:LINE:COL: PATH: MESSAGE: CAUSE".
func (e *Error) Error() string {
	var b strings.Builder
	if p := e.Position.String(); p != "" {
		b.WriteString(p)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Err != nil {
		if e.Message != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns ErrInvalid and the cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalid, e.Err}
	}
	return []error{ErrInvalid}
}

// Errors are several problems of one document, in document order.
type Errors []*Error

// Error lists the problems, one a line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// ErrorAt returns an *Error about the value at path, with the position it was read from
// (zero for a document built in Go).
func (d *Document) ErrorAt(path string, err error, format string, args ...any) *Error {
	return &Error{Position: d.Position(path), Path: path, Message: fmt.Sprintf(format, args...), Err: err}
}

// Position returns where the value at path was read: the closest enclosing path that has
// a position ("services[a].auth.token" falls back to "services[a].auth", then
// "services[a]"...). Zero when the document was not read from a file.
func (d *Document) Position(path string) Position {
	if d == nil || d.src == nil {
		return Position{}
	}
	for p := path; ; {
		if pos, ok := d.src.pos[p]; ok {
			return pos
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			return d.src.pos[""]
		}
		p = p[:i]
	}
}
