package jsonproj

import (
	"encoding/json"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func compileAll(t *testing.T, srcs ...string) ([]*vm.Program, []ast.Node) {
	t.Helper()
	var progs []*vm.Program
	var nodes []ast.Node
	for _, src := range srcs {
		p, err := expr.Compile(src, expr.Env(map[string]any{}), expr.AllowUndefinedVariables())
		require.NoError(t, err, src)
		progs = append(progs, p)
		nodes = append(nodes, p.Node())
	}
	return progs, nodes
}

// sameResults runs the programs on the full and on the projected document.
func sameResults(t *testing.T, doc []byte, srcs ...string) *Projection {
	t.Helper()
	progs, nodes := compileAll(t, srcs...)
	proj := FromExpr(nodes...)
	full, err := All().Decode(doc, Options{})
	require.NoError(t, err)
	part, err := proj.Decode(doc, Options{})
	require.NoError(t, err)
	for i, p := range progs {
		want, errFull := expr.Run(p, full)
		got, errPart := expr.Run(p, part)
		if errFull != nil {
			require.Error(t, errPart, srcs[i])
			continue
		}
		require.NoError(t, errPart, srcs[i])
		assert.Equal(t, want, got, srcs[i])
	}
	return proj
}

func TestFromExprSharedMapping(t *testing.T) {
	t.Parallel()
	raw := benchFile(t, "github-issue-to-work-item.expr.json")
	var mapping map[string]string
	require.NoError(t, json.Unmarshal(raw, &mapping))
	var srcs []string
	for _, src := range mapping {
		srcs = append(srcs, src)
	}
	doc := benchFile(t, "github-issue-event.json")
	proj := sameResults(t, doc, srcs...)
	part, err := proj.Decode(doc, Options{})
	require.NoError(t, err)
	assert.NotContains(t, part, "sender", "unread members are skipped")
	assert.NotContains(t, part["issue"], "reactions")
	assert.Equal(t, map[string]any{"full_name": "acme-corp/payments-api"}, part["repository"])
}

func TestFromExprCases(t *testing.T) {
	t.Parallel()
	doc := []byte(`{"a":{"b":{"c":1,"d":2},"list":[{"x":1,"y":"p"},{"x":2,"y":"q"}],"obj":{"k1":1,"k2":2},"s":"str"},
		"other":{"big":[1,2,3]},"n":null,"idx":1}`)
	tests := []string{
		"a.b.c",
		"a.b",
		"let v = a.b; v.d + 1",
		"let v = a.list; map(v, .x)",
		"map(a.list, .x)",
		"map(a.list, #)",
		"filter(a.list, .x > 1)",
		"map(filter(a.list, .x > 1), .y)",
		"find(a.list, .y == 'q')?.x",
		"first(a.list).y",
		"a.list[0].y",
		"a.list[idx].x",
		"len(a.list)",
		"len(a.obj)",
		"len(a.s)",
		"a['b'].c",
		"sort(keys(a.obj))",
		"reduce(a.list, #).y",
		"toJSON(a.b)",
		"n?.x ?? 'none'",
		"a.missing?.deep ?? 'd'",
		"$env.other.big[2]",
		"count(a.list, .x == 1) + sum(map(a.list, .x))",
		"reduce(a.list, #acc + #.x, 0)",
		"sortBy(a.list, .y, 'desc')[0].x",
		"groupBy(a.list, .y)['p'][0].x",
		"a.list | map(.x) | sum()",
		"{'z': a.b.c}.z",
		"[a.b.c, a.b.d][1]",
		"a.b.c > 0 ? a.s : a.obj.k1",
	}
	for _, src := range tests {
		t.Run(src, func(t *testing.T) {
			t.Parallel()
			sameResults(t, doc, src)
		})
	}
	// a whole-environment use keeps everything
	_, nodes := compileAll(t, "toJSON($env)")
	assert.True(t, FromExpr(nodes...).all)
}
