package contract_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/contract"
)

const correctSchema = `{
	"type": "object",
	"properties": {
		"count":   {"type": "integer"},
		"ratio":   {"type": "number"},
		"active":  {"type": "boolean"},
		"name":    {"type": "string", "pattern": "^[a-z]+$"},
		"status":  {"enum": ["todo", "in_progress", "done"]},
		"mixed":   {"enum": ["Ab", "aB"]},
		"at":      {"type": "string", "format": "date-time"},
		"tags":    {"type": "array", "items": {"type": "string"}},
		"numOrArr": {"type": ["number", "array"]},
		"either":  {"anyOf": [{"type": "integer"}, {"type": "boolean"}]}
	}
}`

func TestCorrect(t *testing.T) {
	t.Parallel()
	c, err := contract.NewRegistry().Register(t.Context(), ct("c", "1.0.0", correctSchema))
	require.NoError(t, err)
	tests := []struct {
		name   string
		field  string
		in     any
		out    any
		rules  []contract.Rule
		remain bool // still invalid afterwards
	}{
		{"numeric string to integer keeps exact text", "count", "12345678901234567890", json.Number("12345678901234567890"), []contract.Rule{contract.RuleNumericString}, false},
		{"fraction is not an integer", "count", "1.5", "1.5", nil, true},
		{"numeric string to number", "ratio", "0.25", json.Number("0.25"), []contract.Rule{contract.RuleNumericString}, false},
		{"padded number", "ratio", " 2 ", json.Number("2"), []contract.Rule{contract.RuleTrimSpace, contract.RuleNumericString}, false},
		{"boolean string", "active", "TRUE", true, []contract.Rule{contract.RuleBooleanString}, false},
		{"not a boolean", "active", "yes", "yes", nil, true},
		{"trim", "name", "  abc ", "abc", []contract.Rule{contract.RuleTrimSpace}, false},
		{"enum case", "status", "Done", "done", []contract.Rule{contract.RuleEnumCase}, false},
		{"enum case ambiguous", "mixed", "AB", "AB", nil, true},
		{"enum unknown", "status", "blocked", "blocked", nil, true},
		{"date only", "at", "2026-11-24", "2026-11-24T00:00:00Z", []contract.Rule{contract.RuleDateTimeLayout}, false},
		{"RFC 1123 GMT", "at", "Tue, 24 Nov 2026 09:41:27 GMT", "2026-11-24T09:41:27Z", []contract.Rule{contract.RuleDateTimeLayout}, false},
		{"RFC 1123 numeric zone", "at", "Tue, 24 Nov 2026 10:41:27 +0100", "2026-11-24T09:41:27Z", []contract.Rule{contract.RuleDateTimeLayout}, false},
		{"RFC 1123 ambiguous zone name", "at", "Tue, 24 Nov 2026 09:41:27 EST", "Tue, 24 Nov 2026 09:41:27 EST", nil, true},
		{"unix seconds string", "at", "1795513287", "2026-11-24T09:41:27Z", []contract.Rule{contract.RuleDateTimeLayout}, false},
		{"unix seconds number", "at", json.Number("1795513287"), "2026-11-24T09:41:27Z", []contract.Rule{contract.RuleDateTimeLayout}, false},
		{"milliseconds are not guessed", "at", "1795513287000", "1795513287000", nil, true},
		{"single value to array", "tags", "x", []any{"x"}, []contract.Rule{contract.RuleWrapArray}, false},
		{"two readings: number or array", "numOrArr", "5", "5", nil, true},
		{"never inside anyOf", "either", "true", "true", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := map[string]any{tt.field: tt.in}
			corr, err := c.Correct(in)
			require.NotNil(t, corr)
			assert.Equal(t, tt.out, corr.Value.(map[string]any)[tt.field])
			var rules []contract.Rule
			for _, f := range corr.Fixes {
				assert.Equal(t, "/"+tt.field, f.Path)
				rules = append(rules, f.Rule)
			}
			assert.Equal(t, tt.rules, rules)
			assert.Equal(t, tt.remain, err != nil)
			assert.Equal(t, !tt.remain, corr.Result.Valid)
			if tt.remain {
				assert.ErrorIs(t, err, contract.ErrInvalid)
			}
			assert.Equal(t, tt.in, in[tt.field], "input not modified")
		})
	}
}

func TestCorrectValidAndBadInput(t *testing.T) {
	t.Parallel()
	c, err := contract.NewRegistry().Register(t.Context(), ct("c", "1.0.0", correctSchema))
	require.NoError(t, err)
	in := map[string]any{"count": 1}
	corr, err := c.Correct(in)
	require.NoError(t, err)
	assert.Empty(t, corr.Fixes)
	assert.True(t, corr.Result.Valid)

	_, err = c.Correct([]byte(`{"count": 1, "count": 2}`))
	assert.ErrorIs(t, err, contract.ErrDuplicateKey)

	// Several fields in one pass.
	corr, err = c.Correct([]byte(`{"count": "3", "active": "false", "tags": "a", "status": "TODO"}`))
	require.NoError(t, err)
	assert.Len(t, corr.Fixes, 4)
	assert.Equal(t, map[string]any{"count": json.Number("3"), "active": false, "tags": []any{"a"}, "status": "todo"}, corr.Value)
}
