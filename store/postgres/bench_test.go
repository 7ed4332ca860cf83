package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

// benchPayload is a JSON document about the size of the shared benchmark's compact GitHub
// issue webhook (~4.5 KB).
var benchPayload = func() json.RawMessage {
	doc := map[string]any{
		"action": "opened",
		"issue": map[string]any{
			"number": 1347, "title": "Found a bug", "state": "open",
			"body":   strings.Repeat("The widget fails when the gadget is sprocketed. ", 10),
			"labels": []string{"bug", "priority:high", "area/api"},
		},
		"repository": map[string]any{"full_name": "octo-org/octo-repo", "private": false},
		"padding":    strings.Repeat("x", 3500),
	}
	b, _ := json.Marshal(doc)
	return b
}()

// BenchmarkQueueThroughput measures the queue's end-to-end cycle on PostgreSQL: insert
// events in batches (one INSERT per batch), claim them in batches (one UPDATE … SKIP LOCKED
// per batch) and complete them in batches (one fenced UPDATE per batch), with one worker
// and with four concurrent workers (each its own connection). It reports events/s.
func BenchmarkQueueThroughput(b *testing.B) {
	for _, bc := range []struct {
		workers, insertBatch, claimBatch int
	}{
		{1, 100, 100},
		{4, 100, 50},
		{4, 500, 100},
	} {
		b.Run(fmt.Sprintf("workers=%d/insert=%d/claim=%d", bc.workers, bc.insertBatch, bc.claimBatch), func(b *testing.B) {
			s := newTestStore(b, nil)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			perWorker := (b.N + bc.workers - 1) / bc.workers
			errs := make(chan error, bc.workers)
			for w := range bc.workers {
				owner := fmt.Sprintf("bench-%d", w)
				wg.Go(func() {
					if err := queueCycle(ctx, s, owner, perWorker, bc.insertBatch, bc.claimBatch); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(b, err)
			}
			b.ReportMetric(float64(perWorker*bc.workers)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// queueCycle inserts n events in batches and claims and completes as many as it inserted.
func queueCycle(ctx context.Context, s *Store, owner string, n, insertBatch, claimBatch int) error {
	for done := 0; done < n; {
		k := min(insertBatch, n-done)
		es := make([]*store.Event, k)
		for i := range es {
			es[i] = &store.Event{ServiceID: testServiceID, ServiceName: testServiceName, PayloadIn: benchPayload}
		}
		if _, err := s.InsertEvents(ctx, es); err != nil {
			return err
		}
		for claimed := 0; claimed < k; {
			got, err := s.ClaimEvents(ctx, store.ClaimParams{Owner: owner, Limit: min(claimBatch, k-claimed), Lease: time.Minute})
			if err != nil {
				return err
			}
			if len(got) == 0 {
				// Other workers took ours; take theirs on the next round.
				break
			}
			ps := make([]store.CompleteParams, len(got))
			for i, e := range got {
				ps[i] = store.CompleteParams{ID: e.ID, Owner: owner, ResponseCode: 200, ResponseTimeMS: 5}
			}
			lost, err := s.CompleteEvents(ctx, ps)
			if err != nil {
				return err
			}
			if len(lost) > 0 {
				return fmt.Errorf("lost %d leases", len(lost))
			}
			claimed += len(got)
		}
		done += k
	}
	return nil
}

// BenchmarkInsertEvent measures InsertEvent calls (one round trip and one commit each), the
// cost of accepting events when the caller does not batch, from 8 goroutines per CPU on
// separate connections, as concurrent requests would (their commits share WAL flushes).
func BenchmarkInsertEvent(b *testing.B) {
	s := newTestStore(b, nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := &store.Event{ServiceID: testServiceID, ServiceName: testServiceName, PayloadIn: benchPayload}
			if _, _, err := s.InsertEvent(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
