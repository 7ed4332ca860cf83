package contract

import (
	"regexp"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// compileRegexp compiles a schema regular expression (Go RE2 syntax, as jsonschema v5 uses).
func compileRegexp(pat string) (*regexp.Regexp, error) { return regexp.Compile(pat) }

// builtinFormats returns the checkers that replace jsonschema v5's where those are too
// lenient.
func builtinFormats() map[string]FormatFunc {
	return map[string]FormatFunc{}
}

// emptyEnum makes "enum": [] reject every value, as the specification says; jsonschema v5
// treats an empty enum as absent.
type emptyEnum struct{}

func (emptyEnum) Compile(_ jsonschema.CompilerContext, m map[string]any) (jsonschema.ExtSchema, error) {
	if e, ok := m["enum"].([]any); ok && len(e) == 0 {
		return emptyEnum{}, nil
	}
	return nil, nil
}

func (emptyEnum) Validate(ctx jsonschema.ValidationContext, _ any) error {
	return ctx.Error("enum", "no value is allowed (the enum is empty)")
}
