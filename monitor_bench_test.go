package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// BenchmarkHealthPropagation measures how long a service's health change takes to reach a
// subscriber after the failing delivery that causes it: from the moment the fake remote
// writes its 503 to the moment Subscribe delivers the change (connector, engine recording
// in the store, monitor judgement, subscription). Each iteration uses a fresh service
// (min_samples 1) so that one failure flips it from unknown to unhealthy. Variants per store:
// the engine records the outcome in the store before the monitor sees it.
func BenchmarkHealthPropagation(b *testing.B) {
	for _, kind := range []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"memory", func(*testing.B) store.Store { return nil }},
		{"sqlite", func(b *testing.B) store.Store { return openSQLite(b, filepath.Join(b.TempDir(), "hub.db")) }},
		{"postgres", func(b *testing.B) store.Store { return openPostgres(b, newSchema(b)) }},
	} {
		b.Run(kind.name, func(b *testing.B) { benchPropagation(b, kind.open(b)) })
	}
}

func benchPropagation(b *testing.B, st store.Store) {
	h := hubtest.New(b, st)
	rem := newRemote(b)
	rem.deliverStatus.Store(503)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := h.Subscribe(ctx)
	delays := make([]float64, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		reg := registerMonitored(b, h, fmt.Sprintf("prop-%d", i), rem.URL, `{"min_samples":1,"interval_seconds":-1}`, nil)
		b.StartTimer()
		if _, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: reg.Name, Payload: json.RawMessage(`{}`), Mode: hub.Async}); err != nil {
			b.Fatal(err)
		}
		for c := range sub {
			if c.ServiceID == reg.ServiceID && c.To == store.HealthUnhealthy {
				delays = append(delays, float64(time.Now().UnixNano()-rem.failedAt.Load())/1e6)
				break
			}
		}
	}
	b.StopTimer()
	slices.Sort(delays)
	var sum float64
	for _, d := range delays {
		sum += d
	}
	b.ReportMetric(sum/float64(len(delays)), "ms-mean")
	b.ReportMetric(delays[len(delays)/2], "ms-p50")
	b.ReportMetric(delays[(len(delays)*99)/100], "ms-p99")
	b.ReportMetric(delays[len(delays)-1], "ms-max")
}
