package contract_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/contract"
)

func TestViolationMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		schema, doc       string
		path, kw, contain string
	}{
		{`{"minimum": 2}`, `1`, "", "minimum", "≥ 2"},
		{`{"maximum": 2}`, `3`, "", "maximum", "≤ 2"},
		{`{"exclusiveMinimum": 2}`, `2`, "", "exclusiveMinimum", "> 2"},
		{`{"exclusiveMaximum": 2}`, `2`, "", "exclusiveMaximum", "< 2"},
		{`{"multipleOf": 0.5}`, `0.3`, "", "multipleOf", "multiple of 1/2"},
		{`{"minProperties": 2}`, `{"a":1}`, "", "minProperties", "at least 2"},
		{`{"maxProperties": 0}`, `{"a":1}`, "", "maxProperties", "at most 0"},
		{`{"minItems": 2}`, `[1]`, "", "minItems", "at least 2"},
		{`{"maxLength": 2}`, `"abc"`, "", "maxLength", "at most 2"},
		{`{"const": "x"}`, `"y"`, "", "const", `must equal "x"`},
		{`{"not": {"type": "string"}}`, `"y"`, "", "not", "must not match"},
		{`{"oneOf": [{"type": "string"}, {"minLength": 1}]}`, `"y"`, "", "oneOf", "exactly one"},
		{`{"oneOf": [{"type": "string"}, {"type": "number"}]}`, `true`, "", "oneOf", "matches none"},
		{`{"contains": {"const": 1}}`, `[2]`, "", "minContains", "at least 1"},
		{`{"properties": {"a": false}}`, `{"a": 1}`, "/a", "false", `"a" is not allowed`},
		{`{"items": false}`, `[1]`, "/0", "items", "item is not allowed"},
		{`false`, `1`, "", "false", "no value is allowed"},
		{`{"unevaluatedProperties": false, "properties": {"a": true}}`, `{"a": 1, "b": 2}`, "/b", "unevaluatedProperties", `"b" is not allowed`},
		{`{"dependentRequired": {"a": ["b"]}}`, `{"a": 1}`, "", "dependentRequired", `property "b" is required when "a" is present`},
		{`{"$schema": "http://json-schema.org/draft-07/schema#", "dependencies": {"a~/": ["b"]}}`, `{"a~/": 1}`, "", "dependencies", `property "b" is required when "a~/" is present`},
		{`{"propertyNames": {"maxLength": 1}}`, `{"ab": 1}`, "/ab", "maxLength", `property name "ab": must be at most 1`},
		{`{"type": ["string", "null"]}`, `1.5`, "", "type", "must be string or null, got number 1.5"},
		{`{"format": "uuid"}`, `"nope"`, "", "format", "UUID"},
		{`{"enum": []}`, `1`, "", "enum", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.schema, func(t *testing.T) {
			t.Parallel()
			c, err := contract.NewRegistry().Register(t.Context(), ct("m", "1.0.0", tt.schema))
			require.NoError(t, err)
			res, err := c.Validate([]byte(tt.doc))
			require.ErrorIs(t, err, contract.ErrInvalid)
			require.Len(t, res.Violations, 1, "%v", res.Violations)
			v := res.Violations[0]
			assert.Equal(t, tt.path, v.InstancePath)
			assert.Equal(t, tt.kw, v.Keyword)
			assert.Contains(t, v.Message, tt.contain)
			assert.Contains(t, v.String(), v.Message)
			assert.Contains(t, err.Error(), "m@1.0.0: 1 violation")
		})
	}
}

func TestErrorsAndMisc(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	reg := contract.NewRegistry(contract.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := t.Context()
	old, err := reg.Register(ctx, ct("x", "1.0.0", `{"type":"object"}`))
	require.NoError(t, err)
	_, err = reg.Register(ctx, ct("x", "1.1.0", `{"type":"string"}`))
	var ie *contract.IncompatibleError
	require.ErrorAs(t, err, &ie)
	assert.Contains(t, ie.Error(), "1.1.0 is not backward compatible with 1.0.0")
	forced, err := reg.Register(ctx, ct("x", "1.1.0", `{"type":"string"}`), contract.Force())
	require.NoError(t, err)
	assert.Contains(t, logs.String(), "forced incompatible registration")
	assert.False(t, old.CompareTo(forced).Backward)
	assert.Equal(t, "x", forced.Name())

	adhoc, err := reg.Compile(ctx, ct("adhoc", "0.1.0", `{"$ref": "contract:x/1.0.0"}`))
	require.NoError(t, err)
	_, err = adhoc.Validate("s")
	assert.ErrorIs(t, err, contract.ErrInvalid)
	assert.Nil(t, reg.Versions("adhoc"), "Compile does not register")

	_, err = reg.Register(ctx, ct("bad", "1.0.0", `{"type": 1}`))
	var se *contract.SchemaError
	require.ErrorAs(t, err, &se)
	assert.Contains(t, se.Error(), "bad@1.0.0: invalid schema")

	_, err = contract.Decode([]byte(`[1,]`), contract.Limits{})
	var inErr *contract.InputError
	require.ErrorAs(t, err, &inErr)
	assert.ErrorIs(t, inErr.Unwrap(), contract.ErrSyntax)
	assert.Contains(t, inErr.Error(), "byte 3")
}
