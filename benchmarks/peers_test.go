package benchmarks

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// testWorkload loads the workload from the repository; a missing file fails the test.
func testWorkload(tb testing.TB) *Workload {
	tb.Helper()
	w, err := FindWorkload()
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func testPeers(tb testing.TB, w *Workload) []Peer {
	tb.Helper()
	peers, err := Peers(w)
	if err != nil {
		tb.Fatal(err)
	}
	return peers
}

func TestWorkloadFromRepository(t *testing.T) {
	w := testWorkload(t)
	if len(w.Event) != 5550 || len(w.Compact) != 4459 {
		t.Errorf("event %d bytes, compact %d: want 5,550 and 4,459", len(w.Event), len(w.Compact))
	}
	if _, err := LocateRepo(t.TempDir()); !errors.Is(err, ErrWorkloadNotFound) {
		t.Errorf("LocateRepo outside the repository: %v, want ErrWorkloadNotFound", err)
	}
	if _, err := LoadWorkload(t.TempDir()); err == nil {
		t.Error("LoadWorkload of an empty folder succeeded")
	}
}

// TestPeersAgree: every implementation turns the event into the expected work item, byte
// for byte, from the pretty-printed and the compact event alike.
func TestPeersAgree(t *testing.T) {
	w := testWorkload(t)
	for _, p := range testPeers(t, w) {
		for _, in := range [][]byte{w.Event, w.Compact} {
			got, err := p.New().Transform(in)
			if err != nil {
				t.Fatalf("%s: %v", p.Name, err)
			}
			if !bytes.Equal(got, w.Expected) {
				t.Errorf("%s:\n got %s\nwant %s", p.Name, got, w.Expected)
			}
		}
	}
}

// TestPeersAgreeOnVariants: the mappings agree on edge cases too (closed, null body and
// milestone, no labels or assignees, an unknown priority).
func TestPeersAgreeOnVariants(t *testing.T) {
	w := testWorkload(t)
	peers := testPeers(t, w)
	issue := func(ev map[string]any) map[string]any { return ev["issue"].(map[string]any) }
	variants := map[string]func(ev map[string]any){
		"closed":           func(ev map[string]any) { issue(ev)["state"] = "closed" },
		"null body":        func(ev map[string]any) { issue(ev)["body"] = nil },
		"null milestone":   func(ev map[string]any) { issue(ev)["milestone"] = nil },
		"no assignees":     func(ev map[string]any) { issue(ev)["assignees"] = []any{} },
		"no labels":        func(ev map[string]any) { issue(ev)["labels"] = []any{} },
		"unknown priority": func(ev map[string]any) { issue(ev)["labels"].([]any)[1].(map[string]any)["name"] = "priority:critical" },
	}
	for name, mut := range variants {
		var ev map[string]any
		if err := json.Unmarshal(w.Event, &ev); err != nil {
			t.Fatal(err)
		}
		mut(ev)
		in, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		want, err := handwritten(in)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(want, w.Expected) {
			t.Fatalf("%s: the variant does not change the output", name)
		}
		for _, p := range peers {
			if p.Name == PeerFloorJSON { // maps nothing: always the expected output
				continue
			}
			got, err := p.New().Transform(in)
			if err != nil {
				t.Errorf("%s/%s: %v", name, p.Name, err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s/%s:\n got %s\nwant %s", name, p.Name, got, want)
			}
		}
	}
}

// TestValidatingPeersReject: the peers that validate refuse an event whose work item breaks
// the contract (a label that is not a string).
func TestValidatingPeersReject(t *testing.T) {
	w := testWorkload(t)
	bad := bytes.Replace(w.Compact, []byte(`"name":"bug"`), []byte(`"name":42`), 1)
	if bytes.Equal(bad, w.Compact) {
		t.Fatal("the event has no label named bug")
	}
	for _, p := range testPeers(t, w) {
		switch p.Name {
		case PeerHub, PeerBloblang, PeerExpr:
			if out, err := p.New().Transform(bad); err == nil {
				t.Errorf("%s accepted an invalid work item: %s", p.Name, out)
			}
		}
	}
}

// BenchmarkPipeline is the per-event cost of each implementation on one goroutine (the
// pretty-printed event as stored). cmd/instructions counts its instructions.
func BenchmarkPipeline(b *testing.B) {
	w := testWorkload(b)
	for _, p := range testPeers(b, w) {
		b.Run(p.Name, func(b *testing.B) {
			tr := p.New()
			b.ReportAllocs()
			b.SetBytes(int64(len(w.Event)))
			for b.Loop() {
				if _, err := tr.Transform(w.Event); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPipelineParallel is BenchmarkPipeline on every core.
func BenchmarkPipelineParallel(b *testing.B) {
	w := testWorkload(b)
	for _, p := range testPeers(b, w) {
		b.Run(p.Name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(w.Event)))
			b.RunParallel(func(pb *testing.PB) {
				tr := p.New()
				for pb.Next() {
					if _, err := tr.Transform(w.Event); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
