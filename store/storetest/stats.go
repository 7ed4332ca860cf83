package storetest

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func statsCases() []testCase {
	return []testCase{
		{"CountEventsByStatus", testCountByStatus},
		{"EventStats", testEventStats},
		{"EventStatsNoSuccess", testEventStatsNoSuccess},
		{"EventStatsEmptyAndInvalid", testEventStatsEmpty},
		{"EventVolumeByHour", testEventVolumeHour},
		{"EventVolumeByDay", testEventVolumeDay},
		{"EventVolumeBucketEdges", testEventVolumeEdges},
	}
}

// statsBase is the start of the stats fixture's range: 09:00 UTC on start's day.
var statsBase = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

// statsFixture stores, for service "alpha" (created second, so the order by name is
// tested) and "beta":
//
//	08:00          alpha succeeded, 1 ms                         (before the range)
//	09:00..10:30   alpha succeeded every 10 min, response times
//	               10 20 30 40 50 60 70 80 90 1000 ms
//	09:30          beta succeeded, 7 ms, payload {"b":22} (8 bytes)
//	11:00          alpha failed (retry_count 1), 5000 ms         (not a latency: not succeeded)
//	11:10          alpha dead (retry_count 1)
//	11:20          alpha retrying (retry_count 1)
//	11:30          alpha pending, chairman override, payload {"chairman":true} (17 bytes)
//	12:00          alpha succeeded, 1 ms                         (at the range's end: excluded)
//
// Every other payload_in is {"i":0}: 7 bytes. The range is [09:00, 12:00).
func statsFixture(t *testing.T, b *bundle) (alpha, beta *store.Service) {
	t.Helper()
	beta = b.service(t, "beta")
	alpha = b.service(t, "alpha")
	far := statsBase.Add(100 * time.Hour)
	step := func(at time.Time, sv *store.Service, payload string, mutate func(*store.Event), settle func(id string)) {
		t.Helper()
		b.clock.Set(at)
		e := newEvent(sv)
		e.PayloadIn = json.RawMessage(payload)
		if mutate != nil {
			mutate(e)
		}
		in := b.insert(t, e)
		if settle != nil {
			b.claimOne(t, "w", in)
			settle(in.ID)
		}
	}
	succeed := func(ms int64) func(string) {
		return func(id string) { b.complete(t, id, "w", ms) }
	}
	fail := func(st store.EventStatus, ms int64) func(string) {
		return func(id string) {
			b.fail(t, store.FailParams{ID: id, Owner: "w", Status: st, NextAttemptAt: far, ResponseCode: 500, ResponseTimeMS: ms})
		}
	}
	step(statsBase.Add(-time.Hour), alpha, `{"i":0}`, nil, succeed(1))
	for i, ms := range []int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 1000} {
		at := statsBase.Add(time.Duration(i) * 10 * time.Minute)
		step(at, alpha, `{"i":0}`, nil, succeed(ms))
		if i == 3 {
			step(at, beta, `{"b":22}`, nil, succeed(7))
		}
	}
	step(statsBase.Add(2*time.Hour), alpha, `{"i":0}`, nil, fail(store.StatusFailed, 5000))
	step(statsBase.Add(2*time.Hour+10*time.Minute), alpha, `{"i":0}`, nil, fail(store.StatusDead, 4000))
	step(statsBase.Add(2*time.Hour+20*time.Minute), alpha, `{"i":0}`, nil, fail(store.StatusRetrying, 3000))
	step(statsBase.Add(2*time.Hour+30*time.Minute), alpha, `{"chairman":true}`, func(e *store.Event) {
		e.ChairmanOverride = true
		e.NextAttemptAt = far
	}, nil)
	step(statsBase.Add(3*time.Hour), alpha, `{"i":0}`, nil, succeed(1))
	return alpha, beta
}

func testCountByStatus(t *testing.T, b *bundle) {
	alpha, beta := statsFixture(t, b)
	count := func(f store.EventFilter) map[store.EventStatus]int64 {
		t.Helper()
		m, err := b.st.CountEventsByStatus(b.ctx, f)
		require.NoError(t, err)
		return m
	}
	all := map[store.EventStatus]int64{store.StatusSucceeded: 13, store.StatusFailed: 1, store.StatusDead: 1,
		store.StatusRetrying: 1, store.StatusPending: 1}
	assert.Equal(t, all, count(store.EventFilter{}))
	assert.Equal(t, all, count(store.EventFilter{Page: store.Page{Limit: 1}}), "page is ignored")
	assert.Equal(t, map[store.EventStatus]int64{store.StatusSucceeded: 12, store.StatusFailed: 1, store.StatusDead: 1,
		store.StatusRetrying: 1, store.StatusPending: 1}, count(store.EventFilter{ServiceID: alpha.ID}))
	assert.Equal(t, map[store.EventStatus]int64{store.StatusFailed: 1, store.StatusDead: 1},
		count(store.EventFilter{Statuses: []store.EventStatus{store.StatusFailed, store.StatusDead, store.StatusCancelled}}))
	assert.Equal(t, map[store.EventStatus]int64{store.StatusSucceeded: 1},
		count(store.EventFilter{ServiceID: beta.ID, CreatedFrom: statsBase, CreatedTo: statsBase.Add(3 * time.Hour)}))
	assert.Equal(t, map[store.EventStatus]int64{store.StatusSucceeded: 10, store.StatusFailed: 1, store.StatusDead: 1,
		store.StatusRetrying: 1, store.StatusPending: 1},
		count(store.EventFilter{ServiceID: alpha.ID, CreatedFrom: statsBase, CreatedTo: statsBase.Add(3 * time.Hour)}))
	assert.Empty(t, count(store.EventFilter{ServiceID: newID()}))
	_, err := b.st.CountEventsByStatus(b.ctx, store.EventFilter{Statuses: []store.EventStatus{"done"}})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
}

// assertStats compares EventStats field by field, floats within 1e-9.
func assertStats(t *testing.T, want, got []store.EventStats) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		assert.Equal(t, w.ServiceID, g.ServiceID, "service %d", i)
		assert.Equal(t, w.ServiceName, g.ServiceName, "service %d", i)
		assert.Equal(t, w.Total, g.Total, "%s total", w.ServiceName)
		assert.Equal(t, w.ByStatus, g.ByStatus, "%s by status", w.ServiceName)
		assert.Equal(t, w.Retried, g.Retried, "%s retried", w.ServiceName)
		assert.Equal(t, w.ChairmanOverrides, g.ChairmanOverrides, "%s overrides", w.ServiceName)
		assert.Equal(t, w.PayloadBytes, g.PayloadBytes, "%s payload bytes", w.ServiceName)
		wl, gl := w.Latency, g.Latency
		assert.Equal(t, wl.Count, gl.Count, "%s latency count", w.ServiceName)
		assert.Equal(t, wl.Within, gl.Within, "%s within", w.ServiceName)
		for _, f := range []struct {
			name string
			w, g float64
		}{
			{"min", wl.Min, gl.Min}, {"max", wl.Max, gl.Max}, {"mean", wl.Mean, gl.Mean},
			{"stddev", wl.StdDev, gl.StdDev}, {"p50", wl.P50, gl.P50}, {"p95", wl.P95, gl.P95},
			{"p99", wl.P99, gl.P99},
		} {
			assert.InDelta(t, f.w, f.g, 1e-9, "%s latency %s", w.ServiceName, f.name)
		}
	}
}

func testEventStats(t *testing.T, b *bundle) {
	alpha, beta := statsFixture(t, b)
	alphaStats := store.EventStats{
		ServiceID: alpha.ID, ServiceName: "alpha", Total: 14,
		ByStatus: map[store.EventStatus]int64{store.StatusSucceeded: 10, store.StatusFailed: 1,
			store.StatusDead: 1, store.StatusRetrying: 1, store.StatusPending: 1},
		Retried: 3, ChairmanOverrides: 1,
		PayloadBytes: 13*7 + 17,
		Latency: store.LatencyStats{
			Count: 10, Min: 10, Max: 1000,
			Mean: 145, // 1450 / 10
			// Deviations from 145: -135 -125 -115 -105 -95 -85 -75 -65 -55 855; their squares
			// sum to 818250, so the population variance is 81825.
			StdDev: math.Sqrt(81825),
			P50:    55,    // rank 4.5: 50 + 0.5*(60-50)
			P95:    590.5, // rank 8.55: 90 + 0.55*(1000-90)
			P99:    918.1, // rank 8.91: 90 + 0.91*(1000-90)
			Within: 5,     // 10 20 30 40 50 <= 50 ms
		},
	}
	betaStats := store.EventStats{
		ServiceID: beta.ID, ServiceName: "beta", Total: 1,
		ByStatus:     map[store.EventStatus]int64{store.StatusSucceeded: 1},
		PayloadBytes: 8,
		Latency:      store.LatencyStats{Count: 1, Min: 7, Max: 7, Mean: 7, P50: 7, P95: 7, P99: 7, Within: 1},
	}
	rng := store.StatsParams{From: statsBase, To: statsBase.Add(3 * time.Hour), WithinMS: 50}
	got, err := b.st.EventStats(b.ctx, rng)
	require.NoError(t, err)
	assertStats(t, []store.EventStats{alphaStats, betaStats}, got)

	rng.ServiceID = beta.ID
	got, err = b.st.EventStats(b.ctx, rng)
	require.NoError(t, err)
	assertStats(t, []store.EventStats{betaStats}, got)

	// Without WithinMS, Within is 0.
	rng.ServiceID, rng.WithinMS = alpha.ID, 0
	got, err = b.st.EventStats(b.ctx, rng)
	require.NoError(t, err)
	alphaStats.Latency.Within = 0
	assertStats(t, []store.EventStats{alphaStats}, got)

	// Open range: the 08:00 and 12:00 events (1 ms each) join alpha's figures.
	// Sorted: 1 1 10 20 30 40 50 60 70 80 90 1000; sum 1452, mean 121.
	got, err = b.st.EventStats(b.ctx, store.StatsParams{ServiceID: alpha.ID, WithinMS: 1})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, int64(16), got[0].Total)
	assert.Equal(t, int64(12), got[0].Latency.Count)
	assert.Equal(t, int64(2), got[0].Latency.Within)
	assert.InDelta(t, 1.0, got[0].Latency.Min, 1e-9)
	assert.InDelta(t, 121.0, got[0].Latency.Mean, 1e-9)
	assert.InDelta(t, 45.0, got[0].Latency.P50, 1e-9)  // rank 5.5: 40 + 0.5*(50-40)
	assert.InDelta(t, 499.5, got[0].Latency.P95, 1e-9) // rank 10.45: 90 + 0.45*(1000-90)
	assert.InDelta(t, 899.9, got[0].Latency.P99, 1e-9) // rank 10.89: 90 + 0.89*(1000-90)
	assert.Equal(t, int64(15*7+17), got[0].PayloadBytes)
}

func testEventStatsNoSuccess(t *testing.T, b *bundle) {
	alpha, _ := statsFixture(t, b)
	got, err := b.st.EventStats(b.ctx, store.StatsParams{From: statsBase.Add(2 * time.Hour), To: statsBase.Add(3 * time.Hour), WithinMS: 10000})
	require.NoError(t, err)
	assertStats(t, []store.EventStats{{
		ServiceID: alpha.ID, ServiceName: "alpha", Total: 4,
		ByStatus: map[store.EventStatus]int64{store.StatusFailed: 1, store.StatusDead: 1,
			store.StatusRetrying: 1, store.StatusPending: 1},
		Retried: 3, ChairmanOverrides: 1, PayloadBytes: 3*7 + 17,
		// No succeeded event: every latency figure is 0, whatever the failures took.
	}}, got)
}

func testEventStatsEmpty(t *testing.T, b *bundle) {
	statsFixture(t, b)
	got, err := b.st.EventStats(b.ctx, store.StatsParams{From: statsBase.Add(24 * time.Hour)})
	require.NoError(t, err)
	assert.Empty(t, got)
	got, err = b.st.EventStats(b.ctx, store.StatsParams{ServiceID: newID()})
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = b.st.EventStats(b.ctx, store.StatsParams{ServiceID: "alpha"})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
}

// assertVolume compares buckets, the average within 1e-9.
func assertVolume(t *testing.T, want, got []store.VolumeBucket) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		assert.InDelta(t, w.AvgResponseTimeMS, g.AvgResponseTimeMS, 1e-9, "bucket %d average", i)
		w.AvgResponseTimeMS, g.AvgResponseTimeMS = 0, 0
		assert.Equal(t, w, g, "bucket %d", i)
	}
}

func testEventVolumeHour(t *testing.T, b *bundle) {
	alpha, beta := statsFixture(t, b)
	h := func(hour int) time.Time { return time.Date(2026, time.March, 2, hour, 0, 0, 0, time.UTC) }
	want := []store.VolumeBucket{
		{ServiceID: alpha.ID, ServiceName: "alpha", Start: h(9), Total: 6, Succeeded: 6, PayloadBytes: 42,
			AvgResponseTimeMS: 35}, // (10+20+30+40+50+60)/6
		{ServiceID: alpha.ID, ServiceName: "alpha", Start: h(10), Total: 4, Succeeded: 4, PayloadBytes: 28,
			AvgResponseTimeMS: 310}, // (70+80+90+1000)/4
		{ServiceID: alpha.ID, ServiceName: "alpha", Start: h(11), Total: 4, Failed: 2, ChairmanOverrides: 1,
			PayloadBytes: 38}, // failed + dead; no success, so no average
		{ServiceID: beta.ID, ServiceName: "beta", Start: h(9), Total: 1, Succeeded: 1, PayloadBytes: 8,
			AvgResponseTimeMS: 7},
	}
	got, err := b.st.EventVolume(b.ctx, store.VolumeParams{From: statsBase, To: statsBase.Add(3 * time.Hour), Period: store.PeriodHour})
	require.NoError(t, err)
	assertVolume(t, want, got)

	got, err = b.st.EventVolume(b.ctx, store.VolumeParams{ServiceID: beta.ID, Period: store.PeriodHour})
	require.NoError(t, err)
	assertVolume(t, want[3:], got)

	// Open range: alpha's 08:00 and 12:00 buckets appear.
	got, err = b.st.EventVolume(b.ctx, store.VolumeParams{ServiceID: alpha.ID, Period: store.PeriodHour})
	require.NoError(t, err)
	one := func(hour int) store.VolumeBucket {
		return store.VolumeBucket{ServiceID: alpha.ID, ServiceName: "alpha", Start: h(hour), Total: 1,
			Succeeded: 1, PayloadBytes: 7, AvgResponseTimeMS: 1}
	}
	assertVolume(t, []store.VolumeBucket{one(8), want[0], want[1], want[2], one(12)}, got)

	for name, p := range map[string]store.VolumeParams{
		"no period":   {},
		"bad period":  {Period: "week"},
		"bad service": {ServiceID: "alpha", Period: store.PeriodDay},
	} {
		_, err := b.st.EventVolume(b.ctx, p)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
}

func testEventVolumeDay(t *testing.T, b *bundle) {
	alpha, beta := statsFixture(t, b)
	day := time.Date(2026, time.March, 2, 0, 0, 0, 0, time.UTC)
	got, err := b.st.EventVolume(b.ctx, store.VolumeParams{Period: store.PeriodDay})
	require.NoError(t, err)
	assertVolume(t, []store.VolumeBucket{
		{ServiceID: alpha.ID, ServiceName: "alpha", Start: day, Total: 16, Succeeded: 12, Failed: 2,
			ChairmanOverrides: 1, PayloadBytes: 15*7 + 17,
			AvgResponseTimeMS: 121}, // (1450 + 1 + 1) / 12
		{ServiceID: beta.ID, ServiceName: "beta", Start: day, Total: 1, Succeeded: 1, PayloadBytes: 8,
			AvgResponseTimeMS: 7},
	}, got)
	got, err = b.st.EventVolume(b.ctx, store.VolumeParams{Period: store.PeriodDay, From: day.Add(24 * time.Hour)})
	require.NoError(t, err)
	assert.Empty(t, got)
}

func testEventVolumeEdges(t *testing.T, b *bundle) {
	sv := b.service(t, "gamma")
	midnight := time.Date(2026, time.March, 2, 0, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{
		midnight.Add(-time.Microsecond), // 2026-03-01 23:59:59.999999
		midnight,
		midnight.Add(59*time.Minute + 59*time.Second + 999999*time.Microsecond),
		midnight.Add(time.Hour),
	} {
		b.clock.Set(at)
		b.insert(t, newEvent(sv))
	}
	bucket := func(start time.Time, n int64) store.VolumeBucket {
		return store.VolumeBucket{ServiceID: sv.ID, ServiceName: "gamma", Start: start, Total: n, PayloadBytes: 7 * n}
	}
	got, err := b.st.EventVolume(b.ctx, store.VolumeParams{Period: store.PeriodHour})
	require.NoError(t, err)
	assertVolume(t, []store.VolumeBucket{
		bucket(midnight.Add(-time.Hour), 1), bucket(midnight, 2), bucket(midnight.Add(time.Hour), 1),
	}, got)
	got, err = b.st.EventVolume(b.ctx, store.VolumeParams{Period: store.PeriodDay})
	require.NoError(t, err)
	assertVolume(t, []store.VolumeBucket{bucket(midnight.Add(-24*time.Hour), 1), bucket(midnight, 3)}, got)
	// The range bounds created_at, not the buckets: [00:00, 01:00) holds two events.
	got, err = b.st.EventVolume(b.ctx, store.VolumeParams{Period: store.PeriodDay, From: midnight, To: midnight.Add(time.Hour)})
	require.NoError(t, err)
	assertVolume(t, []store.VolumeBucket{bucket(midnight, 2)}, got)
}
