package health

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)} }
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		raw   string
		field string // the field the *ConfigError names; "" when the document is valid
	}{
		{"empty", ``, ""},
		{"null", `null`, ""},
		{"full", `{"interval_seconds":10,"window_seconds":60,"error_rate_warning":0.1,"error_rate_critical":0.5,"latency_p95_warning_ms":100,"latency_p95_critical_ms":500,"latency_sla_ms":300,"min_samples":3}`, ""},
		{"malformed", `{"window_seconds":`, "health_check_config"},
		{"not an object", `[1]`, "health_check_config"},
		{"unknown field", `{"window_secs":60}`, "window_secs"},
		{"wrong type", `{"window_seconds":"x"}`, "window_seconds"},
		{"rate above one", `{"error_rate_critical":1.5}`, "error_rate_critical"},
		{"warning above critical", `{"error_rate_warning":0.6,"error_rate_critical":0.5}`, "error_rate_warning"},
		{"latency order", `{"latency_p95_warning_ms":900,"latency_p95_critical_ms":100}`, "latency_p95_warning_ms"},
		{"negative sla", `{"latency_sla_ms":-1}`, "latency_sla_ms"},
		{"negative window", `{"window_seconds":-1}`, "window_seconds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseConfig(json.RawMessage(tc.raw))
			if tc.field != "" {
				require.ErrorIs(t, err, ErrInvalidConfig)
				var ce *ConfigError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tc.field, ce.Field, "%v", err)
				return
			}
			require.NoError(t, err)
			assert.Positive(t, c.WindowSeconds)
			assert.Positive(t, c.MinSamples)
		})
	}
	c, err := ParseConfig(nil)
	require.NoError(t, err)
	assert.Equal(t, DefaultErrorRateCritical, c.ErrorRateCritical)
	assert.Equal(t, 30*time.Second, c.Interval())
	assert.Equal(t, time.Duration(0), Config{IntervalSeconds: -1}.Interval())
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	c := Config{}.WithDefaults()
	bad := &ProbeResult{OK: false, Err: "401"}
	good := &ProbeResult{OK: true}
	tests := []struct {
		name            string
		total, failures int64
		p95             float64
		breaker         string
		probe           *ProbeResult
		want            store.HealthStatus
	}{
		{"no data", 0, 0, 0, BreakerClosed, nil, store.HealthUnknown},
		{"no data probe ok", 0, 0, 0, BreakerClosed, good, store.HealthHealthy},
		{"no data probe failed", 2, 0, 0, BreakerClosed, bad, store.HealthUnhealthy},
		{"healthy", 100, 1, 50, BreakerClosed, nil, store.HealthHealthy},
		{"warning rate", 100, 5, 50, BreakerClosed, nil, store.HealthDegraded},
		{"critical rate", 100, 25, 50, BreakerClosed, nil, store.HealthUnhealthy},
		{"warning latency", 100, 0, 2000, BreakerClosed, nil, store.HealthDegraded},
		{"critical latency", 100, 0, 10000, BreakerClosed, nil, store.HealthUnhealthy},
		{"probe failing with good traffic", 100, 0, 10, BreakerClosed, bad, store.HealthDegraded},
		{"breaker open", 100, 0, 10, BreakerOpen, nil, store.HealthUnhealthy},
		{"breaker half-open", 100, 0, 10, BreakerHalfOpen, nil, store.HealthDegraded},
	}
	for _, tc := range tests {
		got, reason := Evaluate(c, tc.total, tc.failures, tc.p95, tc.breaker, tc.probe)
		assert.Equal(t, tc.want, got, tc.name)
		assert.NotEmpty(t, reason, tc.name)
	}
}

func TestEWMAStationaryNoiseNeverFlags(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 50; seed++ {
		r := rand.New(rand.NewPCG(seed, 42))
		d := NewEWMA(0.2, 4, 20, 2, 1)
		for i := range 2000 {
			x := 200 + r.NormFloat64()*20
			_, bad := d.Observe(x)
			require.False(t, bad, "seed %d: flagged stationary noise at %d (x=%.1f)", seed, i, x)
		}
	}
}

func TestEWMAStepChangeFlagsWithinFewWindows(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 7))
	d := NewEWMA(0.2, 4, 20, 2, 1)
	for range 200 {
		_, bad := d.Observe(200 + r.NormFloat64()*20)
		require.False(t, bad)
	}
	flaggedAt := -1
	for i := range 10 {
		if _, bad := d.Observe(400 + r.NormFloat64()*20); bad {
			flaggedAt = i
			break
		}
	}
	require.GreaterOrEqual(t, flaggedAt, 0, "step change never flagged")
	assert.LessOrEqual(t, flaggedAt, 3, "flagged after %d windows", flaggedAt)
}

func TestLinearFitAndTimeToReach(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var pts []Point
	for i := range 5 {
		pts = append(pts, Point{At: t0.Add(time.Duration(i) * time.Minute), Value: 1000 - 10*float64(i)})
	}
	slope, icept, ok := LinearFit(pts)
	require.True(t, ok)
	assert.InDelta(t, -10.0/60, slope, 1e-12)
	assert.InDelta(t, 1000, icept, 1e-9)
	d, ok := TimeToReach(pts, 0)
	require.True(t, ok)
	assert.InDelta(t, (96 * time.Minute).Seconds(), d.Seconds(), 1e-6)
	_, ok = TimeToReach(pts, 2000) // moving away
	assert.False(t, ok)
	_, _, ok = LinearFit(pts[:1])
	assert.False(t, ok)
}

func setup(t *testing.T, cfg string) (*Monitor, *clock) {
	t.Helper()
	clk := newClock()
	m := NewMonitor(clk.Now)
	c, err := ParseConfig(json.RawMessage(cfg))
	require.NoError(t, err)
	m.Configure("svc", "slack", c)
	return m, clk
}

func TestMonitorStatusChangesReachSubscribers(t *testing.T) {
	t.Parallel()
	m, clk := setup(t, `{"window_seconds":60,"min_samples":5}`)
	ctx, cancel := context.WithCancel(t.Context())
	ch := m.Subscribe(ctx)
	for range 10 {
		clk.Advance(100 * time.Millisecond)
		m.Record("svc", Outcome{Success: true, Latency: 20 * time.Millisecond})
	}
	c := <-ch
	assert.Equal(t, store.HealthUnknown, c.From)
	assert.Equal(t, store.HealthHealthy, c.To)
	for range 10 {
		clk.Advance(100 * time.Millisecond)
		m.Record("svc", Outcome{Success: false, Err: "503 Service Unavailable"})
	}
	c = <-ch
	assert.Equal(t, store.HealthHealthy, c.From)
	assert.Equal(t, store.HealthDegraded, c.To)
	c = <-ch
	assert.Equal(t, store.HealthUnhealthy, c.To)
	assert.Contains(t, c.Reason, "error rate")
	r, ok := m.Report("svc")
	require.True(t, ok)
	assert.Equal(t, int64(20), r.Samples)
	assert.Equal(t, int64(10), r.Failures)
	assert.InDelta(t, 0.5, r.ErrorRate, 1e-9)
	assert.Equal(t, "503 Service Unavailable", r.LastError)
	assert.InDelta(t, 20, r.P95MS, 1e-9)

	m.SetBreaker("svc", BreakerOpen)
	// still unhealthy: no change published, the reason says breaker
	r, _ = m.Report("svc")
	assert.Equal(t, "circuit breaker open", r.Reason)

	// outcomes leave the window after it passes
	clk.Advance(2 * time.Minute)
	m.SetBreaker("svc", BreakerClosed)
	r, _ = m.Report("svc")
	assert.Equal(t, int64(0), r.Samples)
	assert.Equal(t, store.HealthUnknown, r.Status)
	cancel()
	_, open := <-ch
	for open {
		_, open = <-ch
	}
}

func TestMonitorLatencyPercentiles(t *testing.T) {
	t.Parallel()
	m, clk := setup(t, `{"window_seconds":300}`)
	for i := 1; i <= 100; i++ {
		clk.Advance(time.Millisecond)
		m.Record("svc", Outcome{Success: true, Latency: time.Duration(i) * time.Millisecond})
	}
	r, _ := m.Report("svc")
	assert.InDelta(t, 50.5, r.P50MS, 1e-9)
	assert.InDelta(t, 95.05, r.P95MS, 1e-9)
	assert.InDelta(t, 99.01, r.P99MS, 1e-9)
}

func TestMonitorLatencyAnomalyWarning(t *testing.T) {
	t.Parallel()
	m, clk := setup(t, `{"window_seconds":60}`) // 3 s buckets
	r := rand.New(rand.NewPCG(3, 3))
	for range 40 { // 40 buckets of normal latency
		for range 5 {
			m.Record("svc", Outcome{Success: true, Latency: time.Duration(100+r.NormFloat64()*5) * time.Millisecond})
		}
		clk.Advance(3 * time.Second)
	}
	rep, _ := m.Report("svc")
	require.Empty(t, rep.Warnings, "no warning on a stationary series")
	for range 4 { // latency triples
		for range 5 {
			m.Record("svc", Outcome{Success: true, Latency: time.Duration(300+r.NormFloat64()*5) * time.Millisecond})
		}
		clk.Advance(3 * time.Second)
	}
	rep, _ = m.Report("svc")
	require.NotEmpty(t, rep.Warnings)
	assert.Equal(t, WarnLatencyAnomaly, rep.Warnings[0].Kind)
	assert.Greater(t, rep.Warnings[0].Evidence["z"], 4.0)
}

func TestMonitorErrorTrendWarning(t *testing.T) {
	t.Parallel()
	m, clk := setup(t, `{"window_seconds":60,"error_rate_warning":0.2,"error_rate_critical":0.5,"min_samples":10}`)
	// error rate climbs 0%, 4%, 8%, ... per 3-second bucket
	for i := range 6 {
		for j := range 25 {
			m.Record("svc", Outcome{Success: j >= i, Latency: time.Millisecond, Err: "500"})
		}
		clk.Advance(3 * time.Second)
	}
	rep, _ := m.Report("svc")
	var trend *Warning
	for i := range rep.Warnings {
		if rep.Warnings[i].Kind == WarnErrorTrend {
			trend = &rep.Warnings[i]
		}
	}
	require.NotNil(t, trend, "warnings: %+v", rep.Warnings)
	// slope 4% per 3 s; from 20% (last bucket) to 50% takes 7.5 buckets = 22.5 s
	assert.InDelta(t, 22.5/60, trend.Evidence["minutes_to_critical"], 0.01)
}

func TestMonitorQuotaForecast(t *testing.T) {
	t.Parallel()
	m, clk := setup(t, ``)
	reset := clk.Now().Add(time.Hour)
	// 5000 quota, consumed at 50 per minute from 1000 remaining: exhausted in 20 minutes
	for i := range 6 {
		m.ObserveRateLimit("svc", 1000-50*i, 5000, reset)
		if i < 5 {
			clk.Advance(time.Minute)
		}
	}
	rep, _ := m.Report("svc")
	require.Len(t, rep.Warnings, 1)
	w := rep.Warnings[0]
	assert.Equal(t, WarnQuotaExhaustion, w.Kind)
	assert.InDelta(t, 15, w.Evidence["minutes_to_exhaustion"], 0.15, "within 1%%")
	assert.Contains(t, w.Message, "quota exhausted in ~15 minutes")
	require.NotNil(t, rep.RateLimit)
	assert.Equal(t, 750, rep.RateLimit.Remaining)

	// a reset starts a new period: the forecast needs fresh points
	m.ObserveRateLimit("svc", 5000, 5000, reset.Add(time.Hour))
	rep, _ = m.Report("svc")
	assert.Empty(t, rep.Warnings)
}

func TestMonitorBreakerFlapping(t *testing.T) {
	t.Parallel()
	m, clk := setup(t, ``)
	for range 3 {
		m.SetBreaker("svc", BreakerOpen)
		clk.Advance(time.Minute)
		m.SetBreaker("svc", BreakerHalfOpen)
		m.SetBreaker("svc", BreakerClosed)
	}
	rep, _ := m.Report("svc")
	require.Len(t, rep.Warnings, 1)
	assert.Equal(t, WarnBreakerFlapping, rep.Warnings[0].Kind)
	assert.Contains(t, rep.Warnings[0].Recommendation, "raise recovery_timeout")
}

func TestMonitorProbe(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, ``)
	m.RecordProbe("svc", ProbeResult{OK: false, Err: "connection refused"})
	rep, _ := m.Report("svc")
	assert.Equal(t, store.HealthUnhealthy, rep.Status)
	require.NotNil(t, rep.LastProbe)
	assert.False(t, rep.LastProbe.OK)
	m.RecordProbe("svc", ProbeResult{OK: true})
	rep, _ = m.Report("svc")
	assert.Equal(t, store.HealthHealthy, rep.Status)
	assert.Empty(t, rep.Warnings)
}

func TestMonitorUnknownServiceIgnored(t *testing.T) {
	t.Parallel()
	m := NewMonitor(nil)
	m.Record("nope", Outcome{Success: true})
	m.RecordProbe("nope", ProbeResult{OK: true})
	m.SetBreaker("nope", BreakerOpen)
	m.ObserveRateLimit("nope", 1, 2, time.Now())
	_, ok := m.Report("nope")
	assert.False(t, ok)
	assert.Empty(t, m.Reports())
}

func TestMonitorConcurrent(t *testing.T) {
	t.Parallel()
	m := NewMonitor(nil)
	m.Configure("a", "a", Config{})
	m.Configure("b", "b", Config{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch := m.Subscribe(ctx)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			id := []string{"a", "b"}[g%2]
			for i := range 500 {
				m.Record(id, Outcome{Success: i%3 != 0, Latency: time.Millisecond})
				if i%100 == 0 {
					_ = m.Reports()
				}
			}
		})
	}
	wg.Wait()
	reps := m.Reports()
	require.Len(t, reps, 2)
	assert.Equal(t, "a", reps[0].ServiceName)
	assert.Equal(t, int64(2000), reps[0].Samples)
	assert.Equal(t, int64(2000), reps[1].Samples)
	cancel()
	_, open := <-ch
	for open {
		_, open = <-ch
	}
}

func BenchmarkRecord(b *testing.B) {
	m := NewMonitor(nil)
	m.Configure("svc", "svc", Config{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Record("svc", Outcome{Success: i%10 != 0, Latency: time.Duration(i%100) * time.Millisecond})
	}
}
