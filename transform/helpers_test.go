package transform_test

import (
	"encoding/json"
	"testing"

	"github.com/ehg/hub/transform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHelpers(t *testing.T) {
	t.Parallel()
	in := map[string]any{
		"state": "closed",
		"n":     json.Number("41"),
		"big":   json.Number("12345678901234567890"),
		"f":     json.Number("2.5"),
		"nums":  []any{json.Number("1"), json.Number("2.5")},
		"when":  "24/11/2026 09:41",
		"epoch": json.Number("1764000000"),
		"empty": "",
		"user":  map[string]any{"emails": []any{map[string]any{"address": "a@example.com"}}},
		"items": []any{"a", "b", "c"},
	}
	rules := transform.Rules{
		Name:   "helpers",
		Tables: map[string]map[string]any{"status": {"open": "todo", "closed": "done"}, "codes": {"41": "forty-one"}},
	}
	cases := []struct {
		expr string
		want any
	}{
		{"coalesce(nil, empty, 'x', 'y')", "x"},
		{"coalesce(nil, empty)", nil},
		{"lookup('status', state)", "done"},
		{"lookup('status', 'unknown', 'todo')", "todo"},
		{"lookup('status', 'unknown')", nil},
		{"lookup('codes', n)", "forty-one"},
		{"lookup({'a': 1}, 'a')", 1},
		{"parseDate(when, '02/01/2006 15:04')", "2026-11-24T09:41:00Z"},
		{"parseDate('2026-11-24T10:41:27+01:00')", "2026-11-24T09:41:27Z"},
		{"parseDate('Tue, 24 Nov 2026 09:41:27 GMT', 'RFC1123')", "2026-11-24T09:41:27Z"},
		{"parseDate(epoch)", "2025-11-24T16:00:00Z"},
		{"parseDate('1764000000500', 'unix_ms')", "2025-11-24T16:00:00.5Z"},
		{"parseDate(nil)", nil},
		{"parseDate(empty) ?? 'none'", "none"},
		{"uuid5('dns', 'www.example.com')", "2ed6657d-e927-568b-95e1-2665a8aea6a2"},
		{"uuid5('6ba7b811-9dad-11d1-80b4-00c04fd430c8', 'https://example.com')", "4fd35a71-71ef-5a55-a9d9-aa75c889a6d0"},
		{"sha256('abc')", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"sha256(n) == sha256('41')", true},
		{"path($env, 'user.emails[0].address')", "a@example.com"},
		{"path(user, 'emails.0.address')", "a@example.com"},
		{"path($env, 'items[-1]')", "c"},
		{"path($env, 'user.emails[3].address', 'none')", "none"},
		{"path($env, 'state.deeper')", nil},
		{"toNumber('12')", 12},
		{"toNumber(f)", 2.5},
		// json.Number inputs work in arithmetic, comparisons and numeric builtins.
		{"n + 1", 42},
		{"n > 40 && n < 42", true},
		{"n == 41", true},
		{"n * f", 102.5},
		{"int(f)", 2},
		{"sum(nums)", 3.5},
		{"max(n, 50)", 50},
		{"'#' + string(n)", "#41"},
		{"n + 1 > 41 ? 'big' : 'small'", "big"},
		{"big", json.Number("12345678901234567890")},
		{"'a' + state + '-' + string(n) + empty", "aclosed-41"},
		{"1 + 2", 3},
		{"-n", -41},
		{"n in [40, 41]", true},
		{"state in ['open', 'closed']", true},
		{"n in 40..45", true},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			t.Parallel()
			r := rules
			r.Fields = []transform.Field{{Target: "v", Expr: c.expr}}
			p, err := transform.Compile(r)
			require.NoError(t, err)
			out, _, err := p.Apply(t.Context(), in)
			require.NoError(t, err)
			assert.Equal(t, c.want, out["v"])
		})
	}
	for _, bad := range []string{
		"uuid5('nope', 'x')",
		"parseDate('yesterday', 'DateOnly')",
		"toNumber('abc')",
		"lookup(1, 2)",
		"path($env, 'user.emails[0')",
	} {
		t.Run("error "+bad, func(t *testing.T) {
			t.Parallel()
			r := rules
			r.Fields = []transform.Field{{Target: "v", Expr: bad}}
			p, err := transform.Compile(r)
			require.NoError(t, err)
			_, _, err = p.Apply(t.Context(), in)
			require.ErrorIs(t, err, transform.ErrEval)
		})
	}
}
