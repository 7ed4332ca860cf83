package transform_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ehg/hub/transform"
	"github.com/stretchr/testify/require"
)

// BenchmarkWorkItem is the whole per-event cost of a generic pipeline using this package:
// decode the shared event bytes into map[string]any (numbers as json.Number), apply the
// compiled shared mapping, encode the output. Compare with BenchmarkFloorJSON.
func BenchmarkWorkItem(b *testing.B) {
	w := loadWorkload(b)
	p := sharedProgram(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(w.event)))
	for b.Loop() {
		d := json.NewDecoder(bytes.NewReader(w.event))
		d.UseNumber()
		var in map[string]any
		if err := d.Decode(&in); err != nil {
			b.Fatal(err)
		}
		out, _, err := p.Apply(b.Context(), in)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWorkItemFloat64 is BenchmarkWorkItem decoding with json.Unmarshal (numbers as
// float64, as the floor does).
func BenchmarkWorkItemFloat64(b *testing.B) {
	w := loadWorkload(b)
	p := sharedProgram(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(w.event)))
	for b.Loop() {
		var in map[string]any
		if err := json.Unmarshal(w.event, &in); err != nil {
			b.Fatal(err)
		}
		out, _, err := p.Apply(b.Context(), in)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloorJSON is the least a generic pipeline does: decode the event into
// map[string]any and encode the (precomputed) expected output map.
func BenchmarkFloorJSON(b *testing.B) {
	w := loadWorkload(b)
	var want map[string]any
	require.NoError(b, json.Unmarshal(w.expected, &want))
	b.ReportAllocs()
	b.SetBytes(int64(len(w.event)))
	for b.Loop() {
		var in map[string]any
		if err := json.Unmarshal(w.event, &in); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(want); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApply is the mapping alone on an already decoded input.
func BenchmarkApply(b *testing.B) {
	w := loadWorkload(b)
	p := sharedProgram(b)
	in := decodeNumber(b, w.event)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := p.Apply(b.Context(), in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyParallel is Apply from GOMAXPROCS goroutines sharing one Program.
func BenchmarkApplyParallel(b *testing.B) {
	w := loadWorkload(b)
	p := sharedProgram(b)
	in := decodeNumber(b, w.event)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := p.Apply(b.Context(), in); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCompile is the one-off cost of compiling the shared 14-field mapping.
func BenchmarkCompile(b *testing.B) {
	w := loadWorkload(b)
	r, err := transform.Parse(w.mapping)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := transform.Compile(r); err != nil {
			b.Fatal(err)
		}
	}
}
