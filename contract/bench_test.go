package contract

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// benchDir is the shared workload, as the quickstart ships it (inside the repository).
func benchDir(tb testing.TB) string {
	tb.Helper()
	const dir = "../examples/quickstart/data"
	_, err := os.Stat(filepath.Join(dir, "work-item.schema.json"))
	require.NoError(tb, err, "the workload files are missing")
	return dir
}

type workItemBundle struct {
	comp *Compiled
	doc  any    // the canonical work item, decoded (map[string]any, json.Number)
	raw  []byte // the canonical work item as bytes
}

func loadWorkItem(tb testing.TB) workItemBundle {
	tb.Helper()
	dir := benchDir(tb)
	schema, err := os.ReadFile(filepath.Join(dir, "work-item.schema.json"))
	require.NoError(tb, err)
	raw, err := os.ReadFile(filepath.Join(dir, "work-item.expected.json"))
	require.NoError(tb, err)
	reg := NewRegistry()
	comp, err := reg.Register(tb.Context(), Contract{Name: "work-item", Version: "1.0.0", Schema: schema})
	require.NoError(tb, err)
	doc, err := Decode(raw, Limits{})
	require.NoError(tb, err)
	return workItemBundle{comp: comp, doc: doc, raw: raw}
}

func TestWorkItemValid(t *testing.T) {
	t.Parallel()
	w := loadWorkItem(t)
	res, err := w.comp.Validate(w.doc)
	require.NoError(t, err)
	require.True(t, res.Valid)
	require.NoError(t, w.comp.schema.Validate(w.doc))
}

// BenchmarkValidateWorkItem validates the decoded canonical work item through the public API.
func BenchmarkValidateWorkItem(b *testing.B) {
	w := loadWorkItem(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.comp.Validate(w.doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateWorkItemDirect calls jsonschema v5 directly on the same compiled schema
// and value: the floor the wrapper is measured against.
func BenchmarkValidateWorkItemDirect(b *testing.B) {
	w := loadWorkItem(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.comp.schema.Validate(w.doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateWorkItemJSON decodes the raw work item strictly and validates it.
func BenchmarkValidateWorkItemJSON(b *testing.B) {
	w := loadWorkItem(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(w.raw)))
	for b.Loop() {
		if _, err := w.comp.ValidateJSON(w.raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEvent decodes the 5.5 KB GitHub webhook with the strict decoder.
func BenchmarkDecodeEvent(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(benchDir(b), "github-issue-event.json"))
	require.NoError(b, err)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Decode(raw, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEventEncodingJSON is the encoding/json baseline for BenchmarkDecodeEvent:
// decode into any with UseNumber (no duplicate-key, depth or UTF-8 checks).
func BenchmarkDecodeEventEncodingJSON(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(benchDir(b), "github-issue-event.json"))
	require.NoError(b, err)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			b.Fatal(err)
		}
	}
}
