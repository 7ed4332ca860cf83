package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

// BenchmarkWorkItemPipeline is the per-event cost of what ProcessIntegrationEvent does
// before it stores an event, on the shared workload (a 5.5 KB GitHub issues webhook mapped
// to a canonical work item and validated): checks, projected decode, mapping, encode,
// canonical validation, compacted payload_in and the transformation record.
func BenchmarkWorkItemPipeline(b *testing.B) {
	w := loadWorkload(b)
	p := w.pipeline(b)
	ctx := context.Background()
	want := bytes.TrimSpace(w.expected)
	res, err := p.Run(ctx, w.event)
	if err != nil || !bytes.Equal(res.Canonical, want) {
		b.Fatalf("output differs: %v\n%s", err, res.Canonical)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(w.event)))
	for b.Loop() {
		if _, err := p.Run(ctx, w.event); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWorkItemPipelineParallel is BenchmarkWorkItemPipeline on every core.
func BenchmarkWorkItemPipelineParallel(b *testing.B) {
	w := loadWorkload(b)
	p := w.pipeline(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(w.event)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Run(context.Background(), w.event); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLegacyPrepare is the path the hub took before this package (json.Valid, a depth
// scan, json.Compact, a full encoding/json decode, the mapping, json.Marshal, and the
// canonical contract re-decoding the encoded output): the baseline the pipeline replaces.
func BenchmarkLegacyPrepare(b *testing.B) {
	w := loadWorkload(b)
	cfg := Config{MaxBytes: maxBytes, MaxDepth: maxDepth, Mapping: w.prog, Canonical: w.canon}
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(w.event)))
	for b.Loop() {
		if _, _, _, _, err := legacy(ctx, cfg, w.event); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloorJSON is the least a generic encoding/json pipeline does, for context (the
// peers module's floor_json): decode the whole event into map[string]any and encode the
// (precomputed) output map. No mapping, no validation.
func BenchmarkFloorJSON(b *testing.B) {
	w := loadWorkload(b)
	var out map[string]any
	if err := json.Unmarshal(w.expected, &out); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(w.event)))
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(w.event, &m); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(out); err != nil {
			b.Fatal(err)
		}
	}
}
