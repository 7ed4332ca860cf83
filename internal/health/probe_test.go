package health

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func TestProberRunsDueChecksAtTheConfiguredInterval(t *testing.T) {
	t.Parallel()
	clk := newClock()
	m := NewMonitor(clk.Now)
	m.Configure("a", "a", Config{IntervalSeconds: 10})
	m.Configure("b", "b", Config{IntervalSeconds: 30})
	m.Configure("off", "off", Config{IntervalSeconds: -1})
	var calls sync.Map
	count := func(id string) int {
		v, _ := calls.Load(id)
		if v == nil {
			return 0
		}
		return int(v.(*atomic.Int64).Load())
	}
	check := func(id string, err error) CheckFunc {
		v, _ := calls.LoadOrStore(id, new(atomic.Int64))
		return func(context.Context) error { v.(*atomic.Int64).Add(1); return err }
	}
	var probes []ProbeResult
	var mu sync.Mutex
	p := NewProber(ProberConfig{Monitor: m,
		Targets: func() map[string]CheckFunc {
			return map[string]CheckFunc{"a": check("a", nil), "b": check("b", errors.New("connection refused")), "off": check("off", nil)}
		},
		OnProbe: func(_ context.Context, id string, r ProbeResult) {
			mu.Lock()
			defer mu.Unlock()
			if id == "b" {
				probes = append(probes, r)
			}
		}})
	ctx := t.Context()
	assert.Zero(t, p.Start(ctx), "the first probe is an interval after a service appears")
	clk.Advance(10 * time.Second)
	assert.Equal(t, 1, p.Start(ctx), "a is due every 10 s")
	p.Wait()
	clk.Advance(20 * time.Second)
	assert.Equal(t, 2, p.Start(ctx), "b every 30 s")
	p.Wait()
	assert.Equal(t, 0, p.Start(ctx), "nothing due yet")
	clk.Advance(10 * time.Second)
	assert.Equal(t, 1, p.Start(ctx), "a is due every 10 s")
	p.Wait()
	clk.Advance(20 * time.Second)
	assert.Equal(t, 2, p.Start(ctx))
	p.Wait()
	assert.Equal(t, 4, count("a"))
	assert.Equal(t, 2, count("b"))
	assert.Equal(t, 0, count("off"))

	ra, _ := m.Report("a")
	require.NotNil(t, ra.LastProbe)
	assert.True(t, ra.LastProbe.OK)
	assert.Equal(t, store.HealthHealthy, ra.Status, "a passing probe with no traffic is healthy")
	rb, _ := m.Report("b")
	assert.Equal(t, store.HealthUnhealthy, rb.Status)
	assert.Equal(t, "connection refused", rb.LastProbe.Err)
	mu.Lock()
	assert.Len(t, probes, 2)
	mu.Unlock()
}

func TestProberTimesOutAndStopsWithContext(t *testing.T) {
	t.Parallel()
	clk := newClock()
	m := NewMonitor(clk.Now)
	m.Configure("slow", "slow", Config{IntervalSeconds: 1})
	p := NewProber(ProberConfig{Monitor: m, Timeout: 20 * time.Millisecond, Tick: time.Millisecond,
		Targets: func() map[string]CheckFunc {
			return map[string]CheckFunc{"slow": func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
		}})
	p.Start(t.Context())
	clk.Advance(time.Second) // the first probe is one interval later
	p.Start(t.Context())
	p.Wait()
	r, _ := m.Report("slow")
	require.NotNil(t, r.LastProbe)
	assert.False(t, r.LastProbe.OK, "a probe that outlives its timeout fails")

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

type memWriter struct {
	mu   sync.Mutex
	rows []*store.HealthMetric
	err  error
}

func (w *memWriter) InsertHealthMetric(_ context.Context, m *store.HealthMetric) (*store.HealthMetric, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return nil, w.err
	}
	w.rows = append(w.rows, m.Clone())
	return m, nil
}

const svcUUID = "6f1c9a52-3b7e-4d8a-9c61-2f0e5b7d4a13"

func TestPersisterWritesThresholdsStatusIncidentAndActions(t *testing.T) {
	t.Parallel()
	clk := newClock()
	m := NewMonitor(clk.Now)
	cfg, err := ParseConfig([]byte(`{"min_samples":4,"error_rate_warning":0.1,"error_rate_critical":0.5,"latency_p95_warning_ms":100,"latency_p95_critical_ms":400}`))
	require.NoError(t, err)
	m.Configure(svcUUID, "crm", cfg)
	w := &memWriter{}
	p := NewPersister(m, w, nil)
	written := make(chan Change, 8)
	p.OnWrite = func(c Change, _ []*store.HealthMetric, err error) {
		assert.NoError(t, err)
		written <- c
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	// wait until the persister is subscribed
	require.Eventually(t, func() bool { m.mu.Lock(); defer m.mu.Unlock(); return len(m.subs) == 1 }, 5*time.Second, time.Millisecond)

	for _, ms := range []int{50, 60, 70, 80} { // healthy: 0% errors, p95 = 78.5 ms
		clk.Advance(time.Second)
		m.Record(svcUUID, Outcome{Success: true, Latency: time.Duration(ms) * time.Millisecond})
	}
	c := <-written
	assert.Equal(t, store.HealthHealthy, c.To)
	for range 4 { // 4 failures of 8: 50% = critical
		clk.Advance(time.Second)
		m.Record(svcUUID, Outcome{Err: "500"})
	}
	var got []Change
	for len(got) == 0 || got[len(got)-1].To != store.HealthUnhealthy {
		got = append(got, <-written)
	}
	cancel()
	<-done

	w.mu.Lock()
	defer w.mu.Unlock()
	var last []*store.HealthMetric
	for _, r := range w.rows {
		if r.RecordedAt.Equal(got[len(got)-1].At) {
			last = append(last, r)
		}
	}
	require.Len(t, last, 2)
	byType := map[store.MetricType]*store.HealthMetric{}
	for _, r := range last {
		byType[r.MetricType] = r
		assert.True(t, r.IncidentTriggered)
		assert.Equal(t, svcUUID, r.ServiceID)
	}
	er := byType[store.MetricErrorRate]
	require.NotNil(t, er)
	assert.InDelta(t, 0.5, er.Value, 1e-9)
	assert.Equal(t, 0.1, *er.WarningThreshold)
	assert.Equal(t, 0.5, *er.CriticalThreshold)
	assert.Equal(t, store.MetricCritical, er.Status)
	rt := byType[store.MetricResponseTime]
	require.NotNil(t, rt)
	assert.InDelta(t, 78.5, rt.Value, 1e-9, "p95 of 50,60,70,80 (linear interpolation)")
	assert.Equal(t, store.MetricNormal, rt.Status)
	assert.JSONEq(t, `[]`, string(w.rows[0].RecoveryActions), "the first change needed no action")
	assert.JSONEq(t, `[]`, string(er.RecoveryActions), "no breaker, no warning: nothing done or recommended")
	assert.False(t, w.rows[0].IncidentTriggered)
}

func TestPersisterReportsWriteErrors(t *testing.T) {
	t.Parallel()
	m := NewMonitor(nil)
	m.Configure(svcUUID, "crm", Config{})
	boom := errors.New("disk full")
	p := NewPersister(m, &memWriter{err: boom}, nil)
	_, err := p.Write(t.Context(), Change{ServiceID: svcUUID, From: store.HealthUnknown, To: store.HealthHealthy, At: time.Now()})
	require.ErrorIs(t, err, boom)
	rows, err := p.Write(t.Context(), Change{ServiceID: "not-monitored"})
	assert.NoError(t, err)
	assert.Empty(t, rows)
}

func TestMetricRowsRateLimitAndRecovery(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	r := Report{ServiceID: svcUUID, ErrorRate: 0.02, P95MS: 2500,
		RateLimit: &RateLimit{Remaining: 0, Limit: 5000},
		Warnings:  []Warning{{Kind: WarnQuotaExhaustion, Recommendation: "lower requests_per_minute"}}}
	rows := MetricRows(r, Config{}, Change{ServiceID: svcUUID, From: store.HealthDegraded, To: store.HealthHealthy, At: at})
	require.Len(t, rows, 3)
	assert.Equal(t, store.MetricNormal, rows[0].Status, "2% is under the 5% default warning")
	assert.Equal(t, store.MetricWarning, rows[1].Status, "2500 ms is over the 2000 ms default warning")
	assert.Equal(t, store.MetricRateLimitHeadroom, rows[2].MetricType)
	assert.Equal(t, 0.0, rows[2].Value)
	assert.Equal(t, store.MetricCritical, rows[2].Status)
	for _, row := range rows {
		require.NoError(t, row.Validate())
		assert.False(t, row.IncidentTriggered)
		assert.JSONEq(t, `[{"action":"deliveries_resumed","detail":"the service is within its thresholds again","automatic":true},
			{"action":"recommended","detail":"quota_exhaustion: lower requests_per_minute","automatic":false}]`, string(row.RecoveryActions))
	}
}

func TestRecoveryActionsOfBreakerStates(t *testing.T) {
	t.Parallel()
	c := Change{From: store.HealthHealthy, To: store.HealthUnhealthy}
	acts := RecoveryActions(Report{Breaker: BreakerOpen}, c)
	require.Len(t, acts, 1)
	assert.Equal(t, ActionCircuitOpened, acts[0].Action)
	assert.True(t, acts[0].Automatic)
	acts = RecoveryActions(Report{Breaker: BreakerHalfOpen}, Change{From: store.HealthUnhealthy, To: store.HealthDegraded})
	require.Len(t, acts, 1)
	assert.Equal(t, ActionProbing, acts[0].Action)
	assert.Empty(t, RecoveryActions(Report{Breaker: BreakerClosed}, Change{From: store.HealthUnknown, To: store.HealthHealthy}))
}

func TestUptimeFromProbeRows(t *testing.T) {
	t.Parallel()
	var rows []*store.HealthMetric
	for i, ok := range []bool{true, true, false, true} {
		rows = append(rows, ProbeRow(svcUUID, ProbeResult{OK: ok, At: time.Unix(int64(i), 0)}))
	}
	rows = append(rows, &store.HealthMetric{MetricType: store.MetricErrorRate, Value: 0.9})
	u, ok := Uptime(rows)
	require.True(t, ok)
	assert.InDelta(t, 75.0, u, 1e-9)
	_, ok = Uptime(nil)
	assert.False(t, ok)
}

func TestMonitorQuotaForecastToleratesDriftingResets(t *testing.T) {
	t.Parallel()
	clk := newClock()
	m := NewMonitor(clk.Now)
	m.Configure("svc", "gh", Config{})
	// A reset given as whole delta-seconds lands up to a second either side of the true
	// one; consumption of 100 a minute from 1000 leaves 600 after 4 minutes: exhausted in
	// ~6 more minutes.
	reset := clk.Now().Add(time.Hour)
	for i := range 5 {
		jitter := time.Duration(i%3-1) * 900 * time.Millisecond
		m.ObserveRateLimit("svc", 1000-100*i, 5000, reset.Add(jitter))
		if i < 4 {
			clk.Advance(time.Minute)
		}
	}
	r, _ := m.Report("svc")
	require.Len(t, r.Warnings, 1)
	assert.InDelta(t, 6, r.Warnings[0].Evidence["minutes_to_exhaustion"], 0.01)
}
