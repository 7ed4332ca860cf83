package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

// sharedEvent reads the shared workload's GitHub issue webhook from the repository
// (examples/quickstart/data/github-issue-event.json) without insignificant white space:
// 4,459 bytes, about 1.4 KB compressed.
func sharedEvent(tb testing.TB) json.RawMessage {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "quickstart", "data", "github-issue-event.json"))
	require.NoError(tb, err)
	var buf bytes.Buffer
	require.NoError(tb, json.Compact(&buf, raw))
	return buf.Bytes()
}

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
			payload := sharedEvent(b)
			b.ReportAllocs()
			walStart := walPosition(b, s)
			b.ResetTimer()
			var wg sync.WaitGroup
			perWorker := (b.N + bc.workers - 1) / bc.workers
			errs := make(chan error, bc.workers)
			for w := range bc.workers {
				owner := fmt.Sprintf("bench-%d", w)
				wg.Go(func() {
					if err := queueCycle(ctx, s, owner, payload, perWorker, bc.insertBatch, bc.claimBatch); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(b, err)
			}
			b.StopTimer()
			b.ReportMetric(float64(perWorker*bc.workers)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(walPosition(b, s)-walStart)/float64(perWorker*bc.workers), "WAL-B/event")
		})
	}
}

// walPosition returns the server's WAL position in bytes. The difference of two readings is
// the WAL written between them by the whole server (so an upper bound of this benchmark's
// on a shared server).
func walPosition(b *testing.B, s *Store) int64 {
	b.Helper()
	var pos int64
	require.NoError(b, s.pool.QueryRow(context.Background(),
		"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint").Scan(&pos))
	return pos
}

// queueCycle inserts n events in batches and claims and completes as many as it inserted.
func queueCycle(ctx context.Context, s *Store, owner string, payload json.RawMessage, n, insertBatch, claimBatch int) error {
	for done := 0; done < n; {
		k := min(insertBatch, n-done)
		es := make([]*store.Event, k)
		for i := range es {
			es[i] = &store.Event{ServiceID: testServiceID, ServiceName: testServiceName, PayloadIn: payload}
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
	payload := sharedEvent(b)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := &store.Event{ServiceID: testServiceID, ServiceName: testServiceName, PayloadIn: payload}
			if _, _, err := s.InsertEvent(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
