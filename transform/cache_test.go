package transform_test

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/transform"
)

func TestCacheCompilesOncePerContent(t *testing.T) {
	c := transform.NewCache(0)
	mk := func() transform.Rules {
		// a fresh value with the same content on every call, as callers pass rules by value
		return transform.Rules{Name: "m", Version: 1, Fields: fields("out", "upper(a)"),
			Tables: map[string]map[string]any{"t": {"x": json.Number("1"), "y": []any{"a", true, nil}}}}
	}
	p1, err := c.Compile(mk())
	require.NoError(t, err)
	for range 10 {
		p, err := c.Compile(mk())
		require.NoError(t, err)
		assert.Same(t, p1, p)
	}
	assert.Equal(t, int64(1), c.Compiles())
	assert.Equal(t, 1, c.Len())
	out, _, err := p1.Apply(t.Context(), map[string]any{"a": "x"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"out": "X"}, out)
}

func TestCacheKeysByContent(t *testing.T) {
	base := transform.Rules{Name: "m", Version: 1, Fields: []transform.Field{{Target: "out", Expr: "a", Default: json.Number("1")}}}
	variants := map[string]func(r *transform.Rules){
		"name":            func(r *transform.Rules) { r.Name = "n" },
		"version":         func(r *transform.Rules) { r.Version = 2 },
		"description":     func(r *transform.Rules) { r.Description = "d" },
		"expr":            func(r *transform.Rules) { r.Fields[0].Expr = "b" },
		"when":            func(r *transform.Rules) { r.Fields[0].When = "true" },
		"target":          func(r *transform.Rules) { r.Fields[0].Target = "o" },
		"default int":     func(r *transform.Rules) { r.Fields[0].Default = 1 },
		"default float":   func(r *transform.Rules) { r.Fields[0].Default = 1.0 },
		"default string":  func(r *transform.Rules) { r.Fields[0].Default = "1" },
		"default nil":     func(r *transform.Rules) { r.Fields[0].Default = nil },
		"tables":          func(r *transform.Rules) { r.Tables = map[string]map[string]any{"t": {}} },
		"inverse":         func(r *transform.Rules) { r.Inverse = &transform.Rules{Fields: fields("a", "out")} },
		"field order":     func(r *transform.Rules) { r.Fields = append(fields("z", "1"), r.Fields...) },
		"split in fields": func(r *transform.Rules) { r.Fields[0].Target, r.Fields[0].Expr = "outa", "" },
	}
	c := transform.NewCache(0)
	seen := map[*transform.Program]string{}
	p, err := c.Compile(base)
	require.NoError(t, err)
	seen[p] = "base"
	for name, change := range variants {
		r := base
		r.Fields = append([]transform.Field(nil), base.Fields...)
		change(&r)
		p, err := c.Compile(r)
		require.NoError(t, err, name)
		if other, dup := seen[p]; dup {
			t.Errorf("%s shares the program of %s", name, other)
		}
		seen[p] = name
	}
	assert.Equal(t, int64(len(variants)+1), c.Compiles())
}

func TestCacheBoundAndUncacheable(t *testing.T) {
	c := transform.NewCache(2)
	rules := func(target string) transform.Rules {
		return transform.Rules{Fields: fields(target, "1")}
	}
	for _, tgt := range []string{"a", "b", "c"} {
		_, err := c.Compile(rules(tgt))
		require.NoError(t, err)
	}
	assert.Equal(t, 2, c.Len())
	_, err := c.Compile(rules("a")) // evicted as the least recently used
	require.NoError(t, err)
	assert.Equal(t, int64(4), c.Compiles())

	// A default of a type the key does not encode is compiled each time, never cached.
	odd := transform.Rules{Fields: []transform.Field{{Target: "x", Default: []string{"a"}}}}
	for range 2 {
		_, err := c.Compile(odd)
		require.NoError(t, err)
	}
	assert.Equal(t, int64(6), c.Compiles())
	assert.Equal(t, 2, c.Len())

	// Errors are returned, not cached.
	bad := transform.Rules{Fields: fields("x", "(")}
	for range 2 {
		_, err := c.Compile(bad)
		var ce *transform.CompileError
		require.True(t, errors.As(err, &ce), "%v", err)
	}
	assert.Equal(t, int64(8), c.Compiles())
}

func TestCacheConcurrent(t *testing.T) {
	c := transform.NewCache(4)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				r := transform.Rules{Fields: fields("out", "a + "+string(rune('0'+(g+i)%6)))}
				p, err := c.Compile(r)
				if !assert.NoError(t, err) {
					return
				}
				out, _, err := p.Apply(t.Context(), map[string]any{"a": 1})
				if !assert.NoError(t, err) {
					return
				}
				assert.Equal(t, 1+(g+i)%6, out["out"])
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, c.Len(), 4)
}

// BenchmarkCacheCompile is the cost of getting the shared mapping's program from a cache
// that holds it (rules passed by value each time), against compiling it (as BenchmarkCompile
// does).
func BenchmarkCacheCompile(b *testing.B) {
	w := loadWorkload(b)
	r, err := transform.Parse(w.mapping)
	require.NoError(b, err)
	b.Run("cached", func(b *testing.B) {
		c := transform.NewCache(0)
		_, err := c.Compile(r)
		require.NoError(b, err)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Compile(r); err != nil {
				b.Fatal(err)
			}
		}
		if c.Compiles() != 1 {
			b.Fatalf("compiled %d times", c.Compiles())
		}
	})
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := transform.Compile(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
