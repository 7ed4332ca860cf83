package contract_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/contract"
)

const driftSchema = `{
	"type": "object",
	"required": ["id", "title"],
	"properties": {
		"id":    {"type": "integer"},
		"title": {"type": "string"},
		"labels": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
		"meta":  {"type": "object", "additionalProperties": {"type": "string"}}
	}
}`

func TestObserverDrift(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := contract.NewRegistry()
	c, err := reg.Register(ctx, ct("issue", "1.2.0", driftSchema))
	require.NoError(t, err)
	clock := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	o := contract.NewObserver(c, contract.WithClock(func() time.Time { clock = clock.Add(time.Minute); return clock }))

	samples := []string{
		`{"id": 1, "title": "a", "url": "https://x", "labels": [{"name": "bug", "color": "red"}, {"name": "p1", "color": "blue"}]}`,
		`{"id": "2", "title": "b", "url": "https://y", "meta": {"k": "v"}}`,
		`{"id": 3, "url": "https://z", "assignee": {"login": "ann", "since": "2026-11-24T09:41:27Z"}}`,
	}
	for _, s := range samples {
		require.NoError(t, o.ObserveJSON([]byte(s)))
	}
	require.ErrorIs(t, o.ObserveJSON([]byte(`{"id": 1, "id": 2}`)), contract.ErrDuplicateKey)

	rep := o.Report()
	assert.Equal(t, int64(3), rep.Samples)
	type key struct {
		kind contract.DriftKind
		path string
	}
	got := map[key]contract.Finding{}
	for _, f := range rep.Findings {
		got[key{f.Kind, f.Path}] = f
	}
	require.Len(t, got, 5, "%+v", rep.Findings)
	url := got[key{contract.DriftUndeclared, "/url"}]
	assert.Equal(t, int64(3), url.Count)
	assert.Equal(t, map[string]int64{"string": 3}, url.Observed)
	assert.Equal(t, time.Date(2026, 11, 25, 10, 1, 0, 0, time.UTC), url.FirstSeen)
	assert.Equal(t, time.Date(2026, 11, 25, 10, 3, 0, 0, time.UTC), url.LastSeen)
	color := got[key{contract.DriftUndeclared, "/labels/*/color"}]
	assert.Equal(t, int64(1), color.Count, "counted once per payload")
	assert.Equal(t, int64(2), color.Observed["string"])
	id := got[key{contract.DriftTypeMismatch, "/id"}]
	assert.Equal(t, []string{"integer"}, id.Expected)
	assert.Equal(t, map[string]int64{"string": 1}, id.Observed)
	assert.Equal(t, int64(1), got[key{contract.DriftMissingRequired, "/title"}].Count)
	assert.Equal(t, int64(1), got[key{contract.DriftUndeclared, "/assignee"}].Count)

	p, err := o.Propose("")
	require.NoError(t, err)
	assert.Equal(t, "1.3.0", p.Contract.Version)
	assert.True(t, p.Compatibility.Backward, "%v", p.Compatibility.Changes)
	assert.Empty(t, p.Skipped)
	assert.Len(t, p.Applied, 5)

	// The proposal registers as a compatible minor and accepts every sample.
	next, err := reg.Register(ctx, p.Contract)
	require.NoError(t, err)
	for _, s := range samples {
		_, err := next.ValidateJSON([]byte(s))
		assert.NoError(t, err, s)
	}
	var doc map[string]any
	require.NoError(t, json.Unmarshal(p.Contract.Schema, &doc))
	props := doc["properties"].(map[string]any)
	assert.Equal(t, map[string]any{"type": "string"}, props["url"])
	assert.Equal(t, []any{"integer", "string"}, props["id"].(map[string]any)["type"])
	assignee := props["assignee"].(map[string]any)
	assert.Equal(t, "date-time", assignee["properties"].(map[string]any)["since"].(map[string]any)["format"])
	assert.Equal(t, []any{"id"}, doc["required"])

	_, err = o.Propose("bad")
	assert.ErrorIs(t, err, contract.ErrInvalidContract)
}

func TestInferSchema(t *testing.T) {
	t.Parallel()
	schema, err := contract.InferSchema(
		map[string]any{"a": 1, "b": "x", "c": []any{1.5, 2}},
		[]byte(`{"a": 2.5, "c": [], "d": null}`),
	)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(schema, &doc))
	assert.Equal(t, "object", doc["type"])
	assert.Equal(t, []any{"a", "c"}, doc["required"])
	props := doc["properties"].(map[string]any)
	assert.Equal(t, "number", props["a"].(map[string]any)["type"])
	assert.Equal(t, "null", props["d"].(map[string]any)["type"])
	assert.Equal(t, map[string]any{"type": "number"}, props["c"].(map[string]any)["items"])

	// The inferred schema accepts its samples.
	c, err := contract.NewRegistry().Register(t.Context(), contract.Contract{Name: "inferred", Version: "1.0.0", Schema: schema})
	require.NoError(t, err)
	_, err = c.ValidateJSON([]byte(`{"a": 2.5, "c": [], "d": null}`))
	assert.NoError(t, err)

	_, err = contract.InferSchema()
	assert.ErrorIs(t, err, contract.ErrBadInput)
	_, err = contract.InferSchema([]byte(`{"a":1,"a":1}`))
	assert.ErrorIs(t, err, contract.ErrDuplicateKey)
}

func TestObserverBounded(t *testing.T) {
	t.Parallel()
	c, err := contract.NewRegistry().Register(t.Context(), ct("open", "1.0.0", `{"type":"object"}`))
	require.NoError(t, err)
	o := contract.NewObserver(c, contract.WithMaxFindings(10))
	for i := range 50 {
		require.NoError(t, o.Observe(map[string]any{"k" + string(rune('a'+i%26)) + string(rune('a'+i/26)): i}))
	}
	rep := o.Report()
	assert.Len(t, rep.Findings, 10)
	assert.Equal(t, int64(40), rep.Dropped)
	assert.Equal(t, int64(50), rep.Samples)
	require.ErrorIs(t, o.Observe(map[string]any{"x": make(chan int)}), contract.ErrUnsupportedValue)
}

func TestObserverConcurrent(t *testing.T) {
	t.Parallel()
	c, err := contract.NewRegistry().Register(t.Context(), ct("conc", "1.0.0", driftSchema))
	require.NoError(t, err)
	o := contract.NewObserver(c)
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 50 {
				assert.NoError(t, o.Observe(map[string]any{"id": g*100 + i, "title": "t", "extra": true}))
				_ = o.Report()
			}
		}()
	}
	for range 4 {
		<-done
	}
	rep := o.Report()
	assert.Equal(t, int64(200), rep.Samples)
	require.Len(t, rep.Findings, 1)
	assert.Equal(t, int64(200), rep.Findings[0].Count)
	_, err = o.Propose("1.1.0")
	require.NoError(t, err)
}
