package transform_test

import (
	"encoding/json"
	"testing"

	"github.com/ehg/hub/transform"
	"github.com/expr-lang/expr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSameResultsAsExpr: the compile-time patches (fast member access, fused +, nil
// chains, string()) do not change what expressions compute: on float64 inputs every
// expression gives plain expr's result, or fails where expr fails.
func TestSameResultsAsExpr(t *testing.T) {
	t.Parallel()
	exprs := []string{
		"a?.b.c", "a?.b?.c", "a?.b?.c ?? 'dflt'", "a.b.c", "a?.b", "a.b?.c.d", "x?.y?.z",
		"issue.milestone?.title", "issue?.user.login", "find(issue.labels, .name == 'bug')?.name ?? 'none'",
		"map(issue.labels, .name)", "filter(issue.labels, hasPrefix(.name, 'p'))", "len(issue.labels) > 1",
		"'#' + string(issue.number) + '/' + issue.title", "issue.number + 1", "issue.number * 2 > 10",
		"string(issue)", "string(1.5)", "issue['title']", "$env.issue.title", "$env['issue']?.title",
		"issue.labels[0].name", "issue.labels[-1]?.name", "let u = issue.user; u.login + '!'",
		"issue.title + issue.title", "issue.missing.deeper", "issue?.missing?.deeper",
		"issue.number == 7", "7 == issue.number", "issue.title == 'x'", "1 + 2 + issue.number",
		"issue.body ?? ''", "[issue.title, issue.number]", "{'k': issue.title}.k",
		"-issue.number", "issue.number in [7, 8]", "issue.title in ['T']", "issue?.number in 1..9",
	}
	inputs := []string{
		`{}`,
		`{"a": null, "issue": null}`,
		`{"a": {}, "issue": {"title": "T", "number": 7, "body": null, "labels": [], "user": null}}`,
		`{"a": {"b": {"c": 1}}, "x": {"y": null}, "issue": {"title": "T", "number": 7, "body": "B", "milestone": {"title": "M"},
		  "labels": [{"name": "bug"}, {"name": "p1"}], "user": {"login": "u"}}}`,
	}
	for _, src := range exprs {
		ours, err := transform.Compile(transform.Rules{Fields: []transform.Field{{Target: "v", Expr: src}}})
		require.NoError(t, err, src)
		plain, err := expr.Compile(src, expr.Env(map[string]any{}), expr.AllowUndefinedVariables())
		require.NoError(t, err, src)
		for _, doc := range inputs {
			var in map[string]any
			require.NoError(t, json.Unmarshal([]byte(doc), &in))
			want, wantErr := expr.Run(plain, in)
			out, _, gotErr := ours.Apply(t.Context(), in)
			if wantErr != nil {
				assert.Error(t, gotErr, "%s on %s: expr fails with %v", src, doc, wantErr)
				continue
			}
			if assert.NoError(t, gotErr, "%s on %s", src, doc) {
				assert.Equal(t, want, out["v"], "%s on %s", src, doc)
			}
		}
	}
}
