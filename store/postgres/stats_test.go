package postgres

import (
	"math"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func TestAggregatesInSQL(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clk := newClock()
	s := newTestStore(t, clk.Now)
	const (
		alpha = "0b9d6d33-3f0c-4a57-9c8b-3f5f0e8f0a01"
		beta  = "0b9d6d33-3f0c-4a57-9c8b-3f5f0e8f0a02"
	)
	start := clk.Now()
	times := []int64{120, 15, 40, 40, 7, 300, 85, 22, 61, 9}
	var payloadBytes int64
	// Ten alpha events, one every 20 minutes (two hourly buckets and a bit), all delivered.
	for i, ms := range times {
		e := newEvent("")
		e.ServiceID, e.ServiceName = alpha, "alpha"
		e.PayloadIn = []byte(`{"i":` + string(rune('0'+i)) + `, "pad": "xxxxxxxx"}`)
		e.ChairmanOverride = i == 3
		payloadBytes += int64(len(e.PayloadIn))
		_, _, err := s.InsertEvent(ctx, e)
		require.NoError(t, err)
		got, err := s.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: 1, Lease: time.Minute})
		require.NoError(t, err)
		require.Len(t, got, 1)
		if i == 5 {
			// One retry first.
			_, err = s.FailEvents(ctx, []store.FailParams{{ID: got[0].ID, Owner: "w", Status: store.StatusRetrying, NextAttemptAt: clk.Now()}})
			require.NoError(t, err)
			got, err = s.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: 1, Lease: time.Minute})
			require.NoError(t, err)
			require.Len(t, got, 1)
		}
		lost, err := s.CompleteEvents(ctx, []store.CompleteParams{{ID: got[0].ID, Owner: "w", ResponseCode: 200, ResponseTimeMS: ms}})
		require.NoError(t, err)
		require.Empty(t, lost)
		clk.Advance(20 * time.Minute)
	}
	// Two beta events: one dead, one pending.
	for i := range 2 {
		e := newEvent("")
		e.ServiceID, e.ServiceName = beta, "beta"
		_, _, err := s.InsertEvent(ctx, e)
		require.NoError(t, err)
		if i == 0 {
			got, err := s.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: 1, Lease: time.Minute})
			require.NoError(t, err)
			_, err = s.FailEvents(ctx, []store.FailParams{{ID: got[0].ID, Owner: "w", Status: store.StatusDead}})
			require.NoError(t, err)
		}
	}

	stats, err := s.EventStats(ctx, store.StatsParams{From: start, To: clk.Now().Add(time.Hour), WithinMS: 40})
	require.NoError(t, err)
	require.Len(t, stats, 2)
	a, b := stats[0], stats[1]
	assert.Equal(t, "alpha", a.ServiceName)
	assert.Equal(t, int64(10), a.Total)
	assert.Equal(t, map[store.EventStatus]int64{store.StatusSucceeded: 10}, a.ByStatus)
	assert.Equal(t, int64(1), a.Retried)
	assert.Equal(t, int64(1), a.ChairmanOverrides)
	assert.Equal(t, payloadBytes, a.PayloadBytes, "bytes as written, not as JSONB prints them")

	sorted := make([]float64, len(times))
	var sum float64
	for i, v := range times {
		sorted[i] = float64(v)
		sum += float64(v)
	}
	sort.Float64s(sorted)
	mean := sum / float64(len(sorted))
	var sq float64
	for _, v := range sorted {
		sq += (v - mean) * (v - mean)
	}
	l := a.Latency
	assert.Equal(t, int64(10), l.Count)
	assert.InDelta(t, 7, l.Min, 1e-9)
	assert.InDelta(t, 300, l.Max, 1e-9)
	assert.InDelta(t, mean, l.Mean, 1e-9)
	assert.InDelta(t, math.Sqrt(sq/float64(len(sorted))), l.StdDev, 1e-9)
	assert.InDelta(t, store.Percentile(sorted, 0.50), l.P50, 1e-9)
	assert.InDelta(t, store.Percentile(sorted, 0.95), l.P95, 1e-9)
	assert.InDelta(t, store.Percentile(sorted, 0.99), l.P99, 1e-9)
	assert.Equal(t, int64(6), l.Within, "values <= 40ms")

	assert.Equal(t, "beta", b.ServiceName)
	assert.Equal(t, map[store.EventStatus]int64{store.StatusDead: 1, store.StatusPending: 1}, b.ByStatus)
	assert.Equal(t, store.LatencyStats{}, b.Latency)

	only, err := s.EventStats(ctx, store.StatsParams{ServiceID: beta, From: start, To: clk.Now().Add(time.Hour)})
	require.NoError(t, err)
	require.Len(t, only, 1)
	assert.Equal(t, beta, only[0].ServiceID)

	vol, err := s.EventVolume(ctx, store.VolumeParams{ServiceID: alpha, From: start, To: clk.Now(), Period: store.PeriodHour})
	require.NoError(t, err)
	require.Len(t, vol, 4, "12:00, 13:00, 14:00, 15:00")
	var total int64
	for i, v := range vol {
		assert.Equal(t, start.Add(time.Duration(i)*time.Hour), v.Start)
		assert.Equal(t, time.UTC, v.Start.Location())
		total += v.Total
	}
	assert.Equal(t, int64(10), total)
	assert.Equal(t, int64(3), vol[0].Total)
	assert.InDelta(t, (120.0+15+40)/3, vol[0].AvgResponseTimeMS, 1e-9)

	day, err := s.EventVolume(ctx, store.VolumeParams{From: start, To: clk.Now().Add(time.Hour), Period: store.PeriodDay})
	require.NoError(t, err)
	require.Len(t, day, 2)
	assert.Equal(t, store.PeriodDay.Truncate(start), day[0].Start)
	assert.Equal(t, int64(1), day[1].Failed)

	counts, err := s.CountEventsByStatus(ctx, store.EventFilter{Statuses: []store.EventStatus{store.StatusDead, store.StatusPending}})
	require.NoError(t, err)
	assert.Equal(t, map[store.EventStatus]int64{store.StatusDead: 1, store.StatusPending: 1}, counts)

	_, err = s.EventVolume(ctx, store.VolumeParams{Period: "week"})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
}
