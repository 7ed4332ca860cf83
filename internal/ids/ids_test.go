package ids

import (
	"sync"
	"testing"

	"github.com/google/uuid"
)

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 3 * block {
				id := New()
				u, err := uuid.Parse(id)
				if err != nil || u.String() != id || u.Version() != 4 || u.Variant() != uuid.RFC4122 {
					t.Errorf("id %q: %v (version %d, variant %v)", id, err, u.Version(), u.Variant())
				}
				mu.Lock()
				if seen[id] {
					t.Errorf("id %q handed out twice", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = New()
	}
}

func BenchmarkNewParallel(b *testing.B) {
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = New()
		}
	})
}
