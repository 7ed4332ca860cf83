package transform_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/ehg/hub/transform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fields(kv ...string) []transform.Field {
	var out []transform.Field
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, transform.Field{Target: kv[i], Expr: kv[i+1]})
	}
	return out
}

func compile(t *testing.T, fs ...transform.Field) *transform.Program {
	t.Helper()
	p, err := transform.Compile(transform.Rules{Name: "t", Version: 1, Fields: fs})
	require.NoError(t, err)
	return p
}

func apply(t *testing.T, p *transform.Program, in map[string]any) map[string]any {
	t.Helper()
	out, _, err := p.Apply(t.Context(), in)
	require.NoError(t, err)
	return out
}

func TestParse(t *testing.T) {
	t.Parallel()
	t.Run("bare", func(t *testing.T) {
		t.Parallel()
		r, err := transform.Parse([]byte(`{"b": "x.b", "a": {"expr": "x.a", "when": "x.ok", "default": 1.50}}`))
		require.NoError(t, err)
		require.Len(t, r.Fields, 2)
		assert.Equal(t, transform.Field{Target: "b", Expr: "x.b"}, r.Fields[0], "document order kept")
		assert.Equal(t, transform.Field{Target: "a", Expr: "x.a", When: "x.ok", Default: json.Number("1.50")}, r.Fields[1])
		assert.False(t, r.IsBidirectional())
	})
	t.Run("full with inverse", func(t *testing.T) {
		t.Parallel()
		doc := `{"name": "n", "version": 3, "description": "d", "tables": {"s": {"open": "todo"}},
			"fields": {"status": "lookup('s', state)"}, "inverse": {"fields": {"state": "status == 'todo' ? 'open' : 'closed'"}},
			"is_bidirectional": true}`
		r, err := transform.Parse([]byte(doc))
		require.NoError(t, err)
		assert.Equal(t, "n", r.Name)
		assert.Equal(t, 3, r.Version)
		assert.Equal(t, "todo", r.Tables["s"]["open"])
		require.True(t, r.IsBidirectional())
		assert.Equal(t, "state", r.Inverse.Fields[0].Target)

		// MarshalJSON writes the full form, which parses back to the same rules.
		b, err := json.Marshal(r)
		require.NoError(t, err)
		var back transform.Rules
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, r, back)
	})
	for name, doc := range map[string]string{
		"not an object":          `["a"]`,
		"field not a string":     `{"a": 1}`,
		"unknown member":         `{"a": {"expr": "x", "otherwise": 1}}`,
		"bidirectional mismatch": `{"name": "n", "fields": {"a": "x"}, "is_bidirectional": true}`,
		"bad version":            `{"name": "n", "version": "one", "fields": {"a": "x"}}`,
		"fields not an object":   `{"name": "n", "fields": {"a": ["x"]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := transform.Parse([]byte(doc))
			require.ErrorIs(t, err, transform.ErrInvalidRules)
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	deep := "1"
	for range 600 {
		deep += " + 1"
	}
	long := make([]byte, transform.DefaultMaxExprBytes+1)
	for i := range long {
		long[i] = ' '
	}
	long[0] = '1'
	cases := []struct {
		name     string
		rules    transform.Rules
		sentinel error
		target   string
		part     transform.Part
		line     int
	}{
		{"syntax", transform.Rules{Fields: fields("ok", "a", "bad", "a +")}, transform.ErrCompile, "bad", transform.PartExpr, 1},
		{"second line", transform.Rules{Fields: fields("bad", "let x = 1;\n x + )")}, transform.ErrCompile, "bad", transform.PartExpr, 2},
		{"unknown function", transform.Rules{Fields: fields("f", "nosuch(a)")}, transform.ErrCompile, "f", transform.PartExpr, 1},
		{"type error", transform.Rules{Fields: fields("f", "'a' * 2 > len(1)")}, transform.ErrCompile, "f", transform.PartExpr, 1},
		{"helper arity", transform.Rules{Fields: fields("f", "sha256()")}, transform.ErrCompile, "f", transform.PartExpr, 1},
		{"when", transform.Rules{Fields: []transform.Field{{Target: "w", Expr: "1", When: "a ==="}}}, transform.ErrCompile, "w", transform.PartWhen, 1},
		{"node limit", transform.Rules{Fields: fields("big", deep)}, transform.ErrTooComplex, "big", transform.PartExpr, 0},
		{"byte limit", transform.Rules{Fields: fields("long", string(long))}, transform.ErrTooComplex, "long", transform.PartExpr, 0},
		{"inverse", transform.Rules{Fields: fields("a", "x"), Inverse: &transform.Rules{Fields: fields("x", "a +")}}, transform.ErrCompile, "x", transform.PartExpr, 1},
		{"unknown table", transform.Rules{Fields: fields("s", "lookup('nope', state)")}, transform.ErrCompile, "s", transform.PartExpr, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.rules.Name = "r"
			_, err := transform.Compile(c.rules)
			require.ErrorIs(t, err, c.sentinel)
			var ce *transform.CompileError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "r", ce.Rules)
			assert.Equal(t, c.target, ce.Target)
			assert.Equal(t, c.part, ce.Part)
			assert.NotEmpty(t, ce.Expr)
			assert.NotEmpty(t, ce.Msg)
			if c.line > 0 {
				assert.Equal(t, c.line, ce.Line)
				assert.Positive(t, ce.Column)
			}
			assert.Contains(t, err.Error(), c.target)
		})
	}
	t.Run("field limit", func(t *testing.T) {
		t.Parallel()
		_, err := transform.Compile(transform.Rules{Fields: fields("a", "1", "b", "2", "c", "3")}, transform.WithMaxFields(2))
		require.ErrorIs(t, err, transform.ErrTooComplex)
	})
	t.Run("custom node limit", func(t *testing.T) {
		t.Parallel()
		_, err := transform.Compile(transform.Rules{Fields: fields("a", "x + y + z")}, transform.WithMaxNodes(3))
		require.ErrorIs(t, err, transform.ErrTooComplex)
	})
	for name, r := range map[string]transform.Rules{
		"no fields":       {},
		"empty target":    {Fields: fields("", "1")},
		"empty segment":   {Fields: fields("a..b", "1")},
		"prefix conflict": {Fields: fields("a", "1", "a.b", "2")},
		"nested first":    {Fields: fields("a.b", "1", "a", "2")},
		"duplicate":       {Fields: fields("a", "1", "a", "2")},
		"nothing to set":  {Fields: []transform.Field{{Target: "a"}}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := transform.Compile(r)
			require.ErrorIs(t, err, transform.ErrInvalidRules)
		})
	}
}

func TestWhenDefaultAndNesting(t *testing.T) {
	t.Parallel()
	p := compile(t,
		transform.Field{Target: "customer.address.city", Expr: "order.city"},
		transform.Field{Target: "customer.address.zip", Expr: "order.zip", Default: "00000"},
		transform.Field{Target: "customer.name", Expr: "upper(order.name)"},
		transform.Field{Target: "vip", Expr: "'yes'", When: "order.total > 100", Default: "no"},
		transform.Field{Target: "note", Expr: "order.note", When: "order.note != nil"},
		transform.Field{Target: "tags", Default: []any{"new"}},
		transform.Field{Target: "missing", Expr: "order?.nothing"},
	)
	in := map[string]any{"order": map[string]any{"city": "Lyon", "name": "ada", "total": json.Number("150.5"), "zip": nil}}
	out, applied, err := p.Apply(t.Context(), in)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"customer": map[string]any{"address": map[string]any{"city": "Lyon", "zip": "00000"}, "name": "ADA"},
		"vip":      "yes",
		"tags":     []any{"new"},
		"missing":  nil,
	}, out)
	assert.Equal(t, []string{"customer.address.city", "customer.address.zip", "customer.name", "vip", "tags", "missing"}, applied.Fields)
	assert.Equal(t, []string{"customer.address.zip", "tags"}, applied.Defaulted)

	// Defaults are copied: changing one output does not leak into the next.
	out["tags"].([]any)[0] = "changed"
	in["order"].(map[string]any)["total"] = 3.0
	in["order"].(map[string]any)["note"] = "hi"
	out2 := apply(t, p, in)
	assert.Equal(t, []any{"new"}, out2["tags"])
	assert.Equal(t, "no", out2["vip"])
	assert.Equal(t, "hi", out2["note"])

	b, err := json.Marshal(applied)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"name":"t","version":1,"fields":[`)
}

func TestRuntimeErrors(t *testing.T) {
	t.Parallel()
	in := map[string]any{"a": map[string]any{"s": "x"}}
	panicky := transform.WithFunction("boom", func(...any) (any, error) { panic("kaboom") })
	cases := []struct {
		name   string
		field  transform.Field
		target string
		part   transform.Part
		opts   []transform.Option
	}{
		{"missing member", transform.Field{Target: "x.y", Expr: "a.s + nope.z"}, "x.y", transform.PartExpr, nil},
		{"bad operand", transform.Field{Target: "n", Expr: "a.s - 1"}, "n", transform.PartExpr, nil},
		{"when not bool", transform.Field{Target: "w", Expr: "1", When: "a.s"}, "w", transform.PartWhen, nil},
		{"helper error", transform.Field{Target: "d", Expr: "parseDate(a.s, 'DateOnly')"}, "d", transform.PartExpr, nil},
		{"panic in function", transform.Field{Target: "p", Expr: "boom()"}, "p", transform.PartExpr, []transform.Option{panicky}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, err := transform.Compile(transform.Rules{Name: "r", Version: 7, Fields: []transform.Field{{Target: "ok", Expr: "1"}, c.field}}, c.opts...)
			require.NoError(t, err)
			_, _, err = p.Apply(t.Context(), in)
			require.ErrorIs(t, err, transform.ErrEval)
			require.NotErrorIs(t, err, transform.ErrMemoryLimit)
			var fe *transform.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, c.target, fe.Target)
			assert.Equal(t, c.part, fe.Part)
			assert.Equal(t, "r", fe.Rules)
			assert.Equal(t, 7, fe.Version)
			assert.NotEmpty(t, fe.Expr)
			assert.Contains(t, err.Error(), c.target)
		})
	}
	t.Run("context", func(t *testing.T) {
		t.Parallel()
		p := compile(t, fields("a", "1")...)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, _, err := p.Apply(ctx, in)
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestSafetyLimits(t *testing.T) {
	t.Parallel()
	for name, src := range map[string]string{
		"huge range":      "len(map(1..(len(s)*100000000), #))",
		"string doubling": "reduce(1..64, #acc + #acc, 'xx')",
		"let doubling":    "let a = s + s; let b = a + a; let c = b + b; let d = c + c; let e = d + d; let f = e + e; let g = f + f; let h = g + g; let i = h + h; let j = i + i; let k = j + j; len(k + k + k)",
		"replace growth":  "let a = replace(s, 'x', s); let b = replace(a, 'x', a); let c = replace(b, 'x', b); len(c)",
		"repeat":          "repeat(s, 1000000)",
		"concat doubling": "reduce(1..40, concat(#acc, #acc), [1])",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := transform.Compile(transform.Rules{Name: "hostile", Fields: fields("x", src)}, transform.WithMaxStringBytes(64<<10))
			require.NoError(t, err)
			in := map[string]any{"s": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}
			_, _, err = p.Apply(t.Context(), in)
			require.ErrorIs(t, err, transform.ErrMemoryLimit)
			require.ErrorIs(t, err, transform.ErrEval)
			var fe *transform.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, "x", fe.Target)
		})
	}
	t.Run("no host access", func(t *testing.T) {
		t.Parallel()
		// Nothing but the input and the helpers is reachable: unknown names are nil,
		// unknown functions do not compile.
		_, err := transform.Compile(transform.Rules{Fields: fields("x", "os.Getenv('HOME')")})
		require.NoError(t, err, "os is just an absent input key")
		p := compile(t, fields("x", "os?.Getenv")...)
		assert.Equal(t, map[string]any{"x": nil}, apply(t, p, nil))
		_, err = transform.Compile(transform.Rules{Fields: fields("x", "exec('ls')")})
		require.ErrorIs(t, err, transform.ErrCompile)
	})
}

func TestConcurrentApply(t *testing.T) {
	t.Parallel()
	w := loadWorkload(t)
	p := sharedProgram(t)
	var want map[string]any
	require.NoError(t, json.Unmarshal(w.expected, &want))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := decodeNumber(t, w.event)
			for range 50 {
				out, _, err := p.Apply(t.Context(), in)
				if err != nil {
					errs <- err
					return
				}
				b, _ := json.Marshal(out)
				var got map[string]any
				_ = json.Unmarshal(b, &got)
				if !assert.ObjectsAreEqual(want, got) {
					errs <- errors.New("output differs")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestSharedMappingEdgeCases(t *testing.T) {
	t.Parallel()
	w := loadWorkload(t)
	p := sharedProgram(t)
	issue := func(ev map[string]any) map[string]any { return ev["issue"].(map[string]any) }
	cases := map[string]struct {
		mut  func(map[string]any)
		want map[string]any
	}{
		"closed":           {func(ev map[string]any) { issue(ev)["state"] = "closed" }, map[string]any{"status": "done"}},
		"no assignees":     {func(ev map[string]any) { issue(ev)["assignees"] = []any{} }, map[string]any{"status": "todo", "assignees": []any{}}},
		"null body":        {func(ev map[string]any) { issue(ev)["body"] = nil }, map[string]any{"description": ""}},
		"null milestone":   {func(ev map[string]any) { issue(ev)["milestone"] = nil }, map[string]any{"milestone": nil}},
		"no labels":        {func(ev map[string]any) { issue(ev)["labels"] = []any{} }, map[string]any{"priority": "medium", "labels": []any{}}},
		"unknown priority": {func(ev map[string]any) { issue(ev)["labels"].([]any)[1].(map[string]any)["name"] = "priority:critical" }, map[string]any{"priority": "medium"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ev := decodeNumber(t, w.event)
			c.mut(ev)
			out := apply(t, p, ev)
			for k, v := range c.want {
				assert.Equal(t, v, out[k], k)
			}
		})
	}
}

func TestDefaultsArePrivateJSON(t *testing.T) {
	t.Parallel()
	def := []string{"a", "b"}
	p := compile(t, transform.Field{Target: "tags", Default: def}, transform.Field{Target: "n", Default: 2})
	def[0] = "changed after compile"
	out := apply(t, p, nil)
	assert.Equal(t, []any{"a", "b"}, out["tags"])
	assert.Equal(t, json.Number("2"), out["n"])

	_, err := transform.Compile(transform.Rules{Fields: []transform.Field{{Target: "f", Default: func() {}}}})
	require.ErrorIs(t, err, transform.ErrInvalidRules)
}
