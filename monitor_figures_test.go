package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
	"github.com/ehg/hub/store/postgres"
	"github.com/ehg/hub/store/sqlite"
)

// monClock is a settable clock shared by a store and a hub.
type monClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *monClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *monClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// monStores opens each backend on clock.
func monStores() []struct {
	name string
	open func(t *testing.T, now func() time.Time) store.Store
} {
	return []struct {
		name string
		open func(t *testing.T, now func() time.Time) store.Store
	}{
		{"memory", func(t *testing.T, now func() time.Time) store.Store { return memory.New(memory.Options{Now: now}) }},
		{"sqlite", func(t *testing.T, now func() time.Time) store.Store {
			st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"), sqlite.Options{Now: now})
			require.NoError(t, err)
			t.Cleanup(func() { _ = st.Close() })
			return st
		}},
		{"postgres", func(t *testing.T, now func() time.Time) store.Store {
			st, err := postgres.Open(context.Background(), postgresURL(t), postgres.Options{Schema: newSchema(t), Now: now})
			require.NoError(t, err)
			t.Cleanup(func() { _ = st.Close() })
			return st
		}},
	}
}

// planned is how the test settles one event: a success taking ms, or a failure status.
type planned struct {
	ms     int64
	status store.EventStatus // succeeded, failed, dead; retrying means one retry then ms
}

// settle claims every due event and settles it as plan says (by payload), as a worker would.
func settle(t *testing.T, st store.Store, plan map[string]planned) {
	t.Helper()
	ctx := t.Context()
	for round := 0; round < 3; round++ {
		evs, err := st.ClaimEvents(ctx, store.ClaimParams{Owner: "figures", Limit: 100, Lease: time.Minute})
		require.NoError(t, err)
		if len(evs) == 0 {
			return
		}
		for _, ev := range evs {
			p, ok := plan[string(ev.PayloadIn)]
			require.True(t, ok, "unplanned event %s", ev.PayloadIn)
			var lost []string
			switch {
			case p.status == store.StatusRetrying && ev.RetryCount == 0:
				lost, err = st.FailEvents(ctx, []store.FailParams{{ID: ev.ID, Owner: "figures", Status: store.StatusRetrying,
					NextAttemptAt: ev.CreatedAt, ResponseCode: 503, ResponseTimeMS: 5}})
			case p.status == store.StatusFailed || p.status == store.StatusDead:
				// as the engine does for a permanent failure: not a retry
				lost, err = st.FailEvents(ctx, []store.FailParams{{ID: ev.ID, Owner: "figures", Status: p.status, KeepRetryCount: true, ResponseCode: 400, ResponseTimeMS: 9}})
			default:
				lost, err = st.CompleteEvents(ctx, []store.CompleteParams{{ID: ev.ID, Owner: "figures", ResponseCode: 200, ResponseTimeMS: p.ms}})
			}
			require.NoError(t, err)
			require.Empty(t, lost)
		}
	}
	t.Fatal("events still due after three rounds")
}

func availability(t *testing.T, st store.Store, serviceID string, at time.Time, ok bool) {
	t.Helper()
	m := &store.HealthMetric{ServiceID: serviceID, MetricType: store.MetricAvailability, Value: 1, Status: store.MetricNormal, RecordedAt: at}
	if !ok {
		m.Value, m.Status = 0, store.MetricCritical
	}
	_, err := st.InsertHealthMetric(t.Context(), m)
	require.NoError(t, err)
}

// TestMonitoringFiguresMatchHandComputedValues loads a known set of deliveries into each
// store and checks the performance metrics and analytics against figures computed by hand
// (in the comments).
func TestMonitoringFiguresMatchHandComputedValues(t *testing.T) {
	t.Parallel()
	for _, kind := range monStores() {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			clk := &monClock{t: time.Date(2026, 3, 2, 10, 10, 0, 0, time.UTC)}
			st := kind.open(t, clk.Now)
			h, err := hub.New(st, append(hubtest.Fast(), hub.WithClock(clk.Now))...)
			require.NoError(t, err)
			t.Cleanup(func() { _ = h.Close(context.Background()) })
			ctx := t.Context()
			cost := func(v float64) *float64 { return &v }
			alpha, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "alpha", Connector: "http", BaseURL: "http://127.0.0.1:1",
				CostPerCall: *cost(0.25), HealthCheck: json.RawMessage(`{"latency_sla_ms":250,"interval_seconds":-1}`)})
			require.NoError(t, err)
			beta, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "beta", Connector: "http", BaseURL: "http://127.0.0.1:1",
				CostPerCall: 1.0, HealthCheck: json.RawMessage(`{"interval_seconds":-1}`)})
			require.NoError(t, err)
			send := func(svc string, n int, chairman bool) {
				_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: svc, Payload: json.RawMessage(fmt.Sprintf(`[%d]`, n)),
					Mode: hub.Async, ChairmanOverride: chairman})
				require.NoError(t, err)
			}
			// 10:10 — alpha: 100, 200, 300, 400 ms and one permanent failure; event 1 is a
			// chairman override. Payloads are [N]: 3 bytes, 4 from [10] (the same text in
			// every store, PostgreSQL's jsonb included).
			for n := 1; n <= 5; n++ {
				send("alpha", n, n == 1)
			}
			settle(t, st, map[string]planned{`[1]`: {ms: 100}, `[2]`: {ms: 200}, `[3]`: {ms: 300}, `[4]`: {ms: 400},
				`[5]`: {status: store.StatusFailed}})
			// alpha probes in hour 10: three passed, one failed -> uptime 75 %.
			for i, ok := range []bool{true, true, false, true} {
				availability(t, st, alpha.ServiceID, time.Date(2026, 3, 2, 10, 15+i, 0, 0, time.UTC), ok)
			}
			// 11:20 — alpha: 50, 150 ms; beta: 1000, 3000 ms, one dead, one retried once
			// then 2000 ms.
			clk.Set(time.Date(2026, 3, 2, 11, 20, 0, 0, time.UTC))
			send("alpha", 6, false)
			send("alpha", 7, false)
			for n := 8; n <= 11; n++ {
				send("beta", n, false)
			}
			settle(t, st, map[string]planned{`[6]`: {ms: 50}, `[7]`: {ms: 150}, `[8]`: {ms: 1000}, `[9]`: {ms: 3000},
				`[10]`: {status: store.StatusDead}, `[11]`: {status: store.StatusRetrying, ms: 2000}})
			// beta probes in hour 11: one passed, one failed -> uptime 50 %.
			availability(t, st, beta.ServiceID, time.Date(2026, 3, 2, 11, 21, 0, 0, time.UTC), true)
			availability(t, st, beta.ServiceID, time.Date(2026, 3, 2, 11, 22, 0, 0, time.UTC), false)
			clk.Set(time.Date(2026, 3, 2, 11, 30, 0, 0, time.UTC))

			pm, err := h.GetPerformanceMetrics(ctx, hub.TimeRange{From: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)})
			require.NoError(t, err)
			require.Len(t, pm.Services, 2)
			a, b, o := pm.Services[0], pm.Services[1], pm.Overall
			require.Equal(t, "alpha", a.ServiceName)
			const eps = 1e-6
			// alpha: latencies 50 100 150 200 300 400: mean 1200/6 = 200; deviations
			// -150 -100 -50 0 100 200, squares sum 85000, population sd sqrt(85000/6);
			// p50 at rank 2.5 = 175, p95 at rank 4.75 = 300+0.75*100 = 375, p99 at rank 4.95 = 395;
			// within the 250 ms SLA: 50 100 150 200 = 4 of 6.
			assert.EqualValues(t, 7, a.Events)
			assert.EqualValues(t, 6, a.Succeeded)
			assert.EqualValues(t, 1, a.Failed)
			assert.EqualValues(t, 0, a.Retried)
			assert.InDelta(t, 6.0/7, a.SuccessRate, eps)
			assert.InDelta(t, 7.0/7200, a.Throughput, eps)
			assert.InDelta(t, 200, a.MeanMS, eps)
			assert.InDelta(t, 175, a.P50MS, eps)
			assert.InDelta(t, 375, a.P95MS, eps)
			assert.InDelta(t, 395, a.P99MS, eps)
			assert.InDelta(t, math.Sqrt(85000.0/6), a.StdDevMS, eps)
			assert.InDelta(t, math.Sqrt(85000.0/6)/200, a.Variation, eps)
			assert.False(t, a.MeetsVariationTarget, "a 60%% spread is far above 2%%")
			assert.InDelta(t, 250, a.SLAMS, eps)
			assert.EqualValues(t, 4, a.WithinSLA)
			assert.InDelta(t, 4.0/6, a.SLAShare, eps)
			// beta: 1000 2000 3000: mean 2000, sd sqrt(2e6/3), p50 2000, p95 at rank 1.9 = 2900,
			// p99 2980; default SLA 2000 ms: 2 of 3; one dead, one retried.
			assert.EqualValues(t, 4, b.Events)
			assert.EqualValues(t, 3, b.Succeeded)
			assert.EqualValues(t, 1, b.Failed)
			assert.EqualValues(t, 1, b.Retried)
			assert.InDelta(t, 0.75, b.SuccessRate, eps)
			assert.InDelta(t, 2000, b.MeanMS, eps)
			assert.InDelta(t, 2000, b.P50MS, eps)
			assert.InDelta(t, 2900, b.P95MS, eps)
			assert.InDelta(t, 2980, b.P99MS, eps)
			assert.InDelta(t, math.Sqrt(2e6/3), b.StdDevMS, eps)
			assert.InDelta(t, 2000, b.SLAMS, eps)
			assert.EqualValues(t, 2, b.WithinSLA)
			// overall: 9 latencies, mean (1200+6000)/9 = 800; mean of squares
			// (325000+14e6)/9, variance that minus 800^2 = 951666.67; SLA 6 of 9.
			assert.EqualValues(t, 11, o.Events)
			assert.EqualValues(t, 9, o.Succeeded)
			assert.EqualValues(t, 2, o.Failed)
			assert.InDelta(t, 9.0/11, o.SuccessRate, eps)
			assert.InDelta(t, 800, o.MeanMS, eps)
			assert.InDelta(t, math.Sqrt(14325000.0/9-640000), o.StdDevMS, 1e-4)
			assert.EqualValues(t, 6, o.WithinSLA)
			assert.InDelta(t, 6.0/9, o.SLAShare, eps)
			assert.InDelta(t, 2980, o.P99MS, eps)

			// Hourly analytics of hour 11, against hour 10.
			q := hub.AnalyticsQuery{Period: store.PeriodHour, Range: hub.TimeRange{From: time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}}
			an, err := h.GetIntegrationAnalytics(ctx, q)
			require.NoError(t, err)
			require.Len(t, an.Rollups, 2)
			ra, rb := an.Rollups[0], an.Rollups[1]
			require.Equal(t, "alpha", ra.ServiceName)
			// alpha@11: 2 events, both ok, avg 100, no probes -> uptime from outcomes 100,
			// 6 bytes, cost 2 x 0.25.
			assert.Equal(t, time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC), ra.PeriodStart.UTC())
			assert.EqualValues(t, 2, ra.TotalEvents)
			assert.EqualValues(t, 2, ra.Successes)
			assert.InDelta(t, 100, ra.AvgResponseTimeMS, eps)
			assert.InDelta(t, 0, ra.ErrorRate, eps)
			assert.InDelta(t, 100, known(t, ra.UptimePercent), eps)
			assert.EqualValues(t, 6, ra.DataVolumeBytes)
			assert.InDelta(t, 0.5, ra.Cost, eps)
			// beta@11: 4 events ([8] [9] [10] [11]: 3+3+4+4 = 14 bytes), 3 ok, 1 dead,
			// avg 2000, error rate 0.25, uptime 50 from probes, cost 4 x 1.0.
			assert.EqualValues(t, 4, rb.TotalEvents)
			assert.EqualValues(t, 3, rb.Successes)
			assert.EqualValues(t, 1, rb.Failures)
			assert.InDelta(t, 2000, rb.AvgResponseTimeMS, eps)
			assert.InDelta(t, 0.25, rb.ErrorRate, eps)
			assert.InDelta(t, 50, known(t, rb.UptimePercent), eps)
			assert.EqualValues(t, 14, rb.DataVolumeBytes)
			assert.InDelta(t, 4.0, rb.Cost, eps)
			// totals: 6 events, 5 ok, 1 failure, avg (2x100 + 3x2000)/5 = 1240, uptime (100+50)/2.
			assert.EqualValues(t, 6, an.Totals.Events)
			assert.EqualValues(t, 5, an.Totals.Successes)
			assert.EqualValues(t, 1, an.Totals.Failures)
			assert.InDelta(t, 1.0/6, an.Totals.ErrorRate, eps)
			assert.InDelta(t, 1240, an.Totals.AvgResponseTimeMS, eps)
			assert.InDelta(t, 75, known(t, an.Totals.UptimePercent), eps)
			assert.InDelta(t, 4.5, an.Totals.Cost, eps)
			assert.EqualValues(t, 20, an.Totals.DataVolumeBytes)
			// previous hour (10): alpha only: 5 events, 4 ok, 1 failed, avg 250, uptime 75,
			// 1 chairman intervention, 15 bytes, cost 1.25.
			assert.EqualValues(t, 5, an.Previous.Events)
			assert.EqualValues(t, 1, an.Previous.ChairmanInterventions)
			assert.InDelta(t, 250, an.Previous.AvgResponseTimeMS, eps)
			assert.InDelta(t, 75, known(t, an.Previous.UptimePercent), eps)
			assert.InDelta(t, 1.25, an.Previous.Cost, eps)
			assert.EqualValues(t, 15, an.Previous.DataVolumeBytes)
			require.Len(t, an.Trends, 2)
			ta, tb := an.Trends[0], an.Trends[1]
			// alpha: 2 vs 5 events (-60 %), error rate 0 vs 0.2, avg 100 vs 250: improving.
			assert.InDelta(t, -0.6, ta.EventsChange, eps)
			assert.InDelta(t, -0.2, ta.ErrorRateChange, eps)
			assert.InDelta(t, -150, ta.AvgResponseChangeMS, eps)
			assert.Equal(t, hub.TrendImproving, ta.Direction)
			assert.Equal(t, hub.TrendNew, tb.Direction, "beta had no events the hour before")

			// The rollup is idempotent: the same rows, same IDs, same figures.
			again, err := h.GetIntegrationAnalytics(ctx, q)
			require.NoError(t, err)
			require.Len(t, again.Rollups, 2)
			assert.Equal(t, ra.ID, again.Rollups[0].ID)
			assert.Equal(t, an.Totals, again.Totals)
			stored, err := st.ListAnalytics(ctx, store.AnalyticsFilter{Period: store.PeriodHour})
			require.NoError(t, err)
			require.Len(t, stored, 3, "alpha@10, alpha@11, beta@11")
			// Each stored rollup carries its trend against the hour before it: alpha@10 is
			// new (nothing at 9), alpha@11 improving against alpha@10 (uptime 100 vs 75),
			// beta@11 new.
			assert.JSONEq(t, `{"direction":"new","events_change":0,"error_rate_change":0,"avg_response_change_ms":0}`,
				string(stored[0].PerformanceTrends))
			assert.JSONEq(t, `{"compared_to":"2026-03-02T10:00:00Z","direction":"improving","events_change":-0.6,
				"error_rate_change":-0.2,"avg_response_change_ms":-150,"uptime_change":25}`, string(stored[1].PerformanceTrends))
			assert.JSONEq(t, `{"direction":"new","events_change":0,"error_rate_change":0,"avg_response_change_ms":0}`,
				string(stored[2].PerformanceTrends))

			// Daily: alpha 7 events, 6 ok, avg 200, uptime 75 (the day's probes), cost 1.75.
			day, err := h.GetIntegrationAnalytics(ctx, hub.AnalyticsQuery{Service: "alpha", Period: store.PeriodDay,
				Range: hub.TimeRange{From: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)}})
			require.NoError(t, err)
			require.Len(t, day.Rollups, 1)
			d := day.Rollups[0]
			assert.EqualValues(t, 7, d.TotalEvents)
			assert.EqualValues(t, 6, d.Successes)
			assert.InDelta(t, 200, d.AvgResponseTimeMS, eps)
			assert.InDelta(t, 1.0/7, d.ErrorRate, eps)
			assert.InDelta(t, 75, known(t, d.UptimePercent), eps)
			assert.InDelta(t, 1.75, d.Cost, eps)
			assert.EqualValues(t, 1, d.ChairmanInterventions)
			assert.EqualValues(t, 21, d.DataVolumeBytes)
		})
	}
}

// known returns a known uptime, failing when it is unknown.
func known(t *testing.T, up *float64) float64 {
	t.Helper()
	require.NotNil(t, up, "uptime unknown")
	return *up
}
