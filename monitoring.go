package hub

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/ehg/hub/internal/engine"
	"github.com/ehg/hub/resilience"
	"github.com/ehg/hub/store"
)

// Health settings.
const (
	// HealthWindow is the span of store figures (latency, failed events) a health report
	// covers.
	HealthWindow = 15 * time.Minute
	// HealthWindowAttempts is how many of this hub's most recent attempts per service the
	// error rate is computed over.
	HealthWindowAttempts = 200
	// HealthStatusAttempts is how many of the latest attempts the status is judged on, so
	// that a recovered service reads healthy again quickly.
	HealthStatusAttempts = 20
	// DegradedErrorRate and UnhealthyErrorRate are the error rates (over the latest
	// HealthStatusAttempts) from which a service is degraded or unhealthy.
	DegradedErrorRate  = 0.05
	UnhealthyErrorRate = 0.25
)

// recentOutcomes keeps, per service, a ring of the latest attempts (success or failure) and
// the last error: the live half of health, fed by the engine's observer hook.
type recentOutcomes struct {
	mu sync.Mutex
	by map[string]*ring
}

type ring struct {
	fails   [HealthWindowAttempts]bool
	n, next int
	failed  int
	lastErr string
	lastAt  time.Time
}

func newRecentOutcomes() *recentOutcomes { return &recentOutcomes{by: map[string]*ring{}} }

func (r *recentOutcomes) add(serviceID string, failed bool, errText string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.by[serviceID]
	if g == nil {
		g = &ring{}
		r.by[serviceID] = g
	}
	if g.n == HealthWindowAttempts {
		if g.fails[g.next] {
			g.failed--
		}
	} else {
		g.n++
	}
	g.fails[g.next] = failed
	if failed {
		g.failed++
		g.lastErr, g.lastAt = errText, at
	}
	g.next = (g.next + 1) % HealthWindowAttempts
}

// rate returns the failed share of recent attempts and how many there were.
func (r *recentOutcomes) rate(serviceID string) (float64, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.by[serviceID]
	if g == nil || g.n == 0 {
		return 0, 0
	}
	return float64(g.failed) / float64(g.n), g.n
}

// latest returns the failed share of the latest n attempts.
func (r *recentOutcomes) latest(serviceID string, n int) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.by[serviceID]
	if g == nil || g.n == 0 {
		return 0
	}
	n = min(n, g.n)
	failed := 0
	for i := 1; i <= n; i++ {
		if g.fails[(g.next-i+HealthWindowAttempts)%HealthWindowAttempts] {
			failed++
		}
	}
	return float64(failed) / float64(n)
}

func (r *recentOutcomes) last(serviceID string) (string, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.by[serviceID]; g != nil {
		return g.lastErr, g.lastAt
	}
	return "", time.Time{}
}

// observe is the engine's observer hook: every recorded attempt feeds the live health
// figures. Deferred attempts (nothing reached the service) are not counted.
func (h *Hub) observe(o engine.Outcome) {
	if !o.Attempted || o.Lost {
		return
	}
	h.recent.add(o.ServiceID, o.Status != store.StatusSucceeded, o.ErrorText, o.At)
}

// GetIntegrationHealth reports the health of the service named by serviceID (ID or name),
// or of every service when it is "": status, breaker state, error rate over this hub's
// recent attempts (the status is judged on the latest HealthStatusAttempts), latency percentiles of the last HealthWindow from the store, queue depth
// by state, and the last error. Status: unhealthy when the breaker is open or the error rate
// reaches UnhealthyErrorRate; degraded from DegradedErrorRate or when the breaker is
// half-open; unknown when inactive or nothing was attempted; healthy otherwise.
//
// Errors: ErrUnknownService; store errors.
func (h *Hub) GetIntegrationHealth(ctx context.Context, serviceID string) (*HealthReport, error) {
	var rts []*runtime
	if serviceID != "" {
		rt, err := h.runtimeFor(ctx, serviceID)
		if err != nil {
			return nil, err
		}
		rts = append(rts, rt)
	} else {
		if err := h.refreshServices(ctx); err != nil {
			return nil, mapStoreErr(err)
		}
		h.mu.RLock()
		for _, rt := range h.byID {
			rts = append(rts, rt)
		}
		h.mu.RUnlock()
		slices.SortFunc(rts, func(a, b *runtime) int { return compareStrings(a.svc.Name, b.svc.Name) })
	}
	now := h.cfg.Clock()
	rep := &HealthReport{GeneratedAt: now, Status: store.HealthUnknown}
	worst := 0
	for _, rt := range rts {
		sh, err := h.serviceHealth(ctx, rt, now)
		if err != nil {
			return nil, err
		}
		if r := healthRank(sh.Status); r > worst {
			worst, rep.Status = r, sh.Status
		}
		rep.Services = append(rep.Services, sh)
	}
	return rep, nil
}

func (h *Hub) serviceHealth(ctx context.Context, rt *runtime, now time.Time) (ServiceHealth, error) {
	sh := ServiceHealth{ServiceID: rt.svc.ID, Name: rt.svc.Name, Active: rt.svc.IsActive, Breaker: rt.policy.State().String()}
	counts, err := h.st.CountEventsByStatus(ctx, store.EventFilter{ServiceID: rt.svc.ID})
	if err != nil {
		return sh, mapStoreErr(err)
	}
	sh.QueueDepth = counts
	stats, err := h.st.EventStats(ctx, store.StatsParams{ServiceID: rt.svc.ID, From: now.Add(-HealthWindow), To: now.Add(time.Second)})
	if err != nil {
		return sh, mapStoreErr(err)
	}
	var st store.EventStats
	if len(stats) > 0 {
		st = stats[0]
	}
	sh.LatencyP50MS, sh.LatencyP95MS, sh.LatencyP99MS = st.Latency.P50, st.Latency.P95, st.Latency.P99
	sh.ErrorRate, sh.Attempts = h.recent.rate(rt.svc.ID)
	judged := h.recent.latest(rt.svc.ID, HealthStatusAttempts)
	if sh.Attempts == 0 {
		// No attempt by this hub: judge from the store window (terminal outcomes).
		ok := st.ByStatus[store.StatusSucceeded]
		bad := st.ByStatus[store.StatusFailed] + st.ByStatus[store.StatusDead]
		if ok+bad > 0 {
			sh.ErrorRate = float64(bad) / float64(ok+bad)
			sh.Attempts = int(ok + bad)
			judged = sh.ErrorRate
		}
	}
	sh.LastError, sh.LastErrorAt = h.recent.last(rt.svc.ID)
	switch state := rt.policy.State(); {
	case !rt.svc.IsActive:
		sh.Status = store.HealthUnknown
	case state == resilience.StateOpen || judged >= UnhealthyErrorRate && sh.Attempts > 0:
		sh.Status = store.HealthUnhealthy
	case state == resilience.StateHalfOpen || judged >= DegradedErrorRate && sh.Attempts > 0:
		sh.Status = store.HealthDegraded
	case sh.Attempts == 0:
		sh.Status = store.HealthUnknown
	default:
		sh.Status = store.HealthHealthy
	}
	return sh, nil
}

func healthRank(s store.HealthStatus) int {
	switch s {
	case store.HealthHealthy:
		return 1
	case store.HealthDegraded:
		return 2
	case store.HealthUnhealthy:
		return 3
	}
	return 0
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (r TimeRange) resolve(now time.Time, def time.Duration) (TimeRange, error) {
	if r.To.IsZero() {
		r.To = now
	}
	if r.From.IsZero() {
		r.From = r.To.Add(-def)
	}
	if !r.From.Before(r.To) {
		return r, fmt.Errorf("%w: time range from %s is not before to %s", ErrInvalidInput, r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))
	}
	return r, nil
}

// GetPerformanceMetrics reports, per service and overall, the events created in r:
// counts, success rate, throughput (events per second over the range), and the latency of
// succeeded events (mean, p50/p95/p99, standard deviation and its ratio to the mean). All
// figures are aggregated by the store. Overall percentiles are the largest of the
// services'. Errors: ErrInvalidInput for an empty range; store errors.
func (h *Hub) GetPerformanceMetrics(ctx context.Context, r TimeRange) (*PerformanceMetrics, error) {
	r, err := r.resolve(h.cfg.Clock(), time.Hour)
	if err != nil {
		return nil, err
	}
	stats, err := h.st.EventStats(ctx, store.StatsParams{From: r.From, To: r.To})
	if err != nil {
		return nil, mapStoreErr(err)
	}
	secs := r.To.Sub(r.From).Seconds()
	pm := &PerformanceMetrics{Range: r}
	var sum, sumSq float64
	var n int64
	for _, s := range stats {
		sp := perf(s, secs)
		pm.Services = append(pm.Services, sp)
		o := &pm.Overall
		o.Events += sp.Events
		o.Succeeded += sp.Succeeded
		o.Failed += sp.Failed
		o.Retried += sp.Retried
		o.P50MS, o.P95MS, o.P99MS = max(o.P50MS, sp.P50MS), max(o.P95MS, sp.P95MS), max(o.P99MS, sp.P99MS)
		c := float64(s.Latency.Count)
		sum += s.Latency.Mean * c
		sumSq += (s.Latency.StdDev*s.Latency.StdDev + s.Latency.Mean*s.Latency.Mean) * c
		n += s.Latency.Count
	}
	o := &pm.Overall
	o.ServiceName = "*"
	o.SuccessRate = rate(o.Succeeded, o.Failed)
	o.Throughput = float64(o.Events) / secs
	if n > 0 {
		o.MeanMS = sum / float64(n)
		o.StdDevMS = math.Sqrt(max(0, sumSq/float64(n)-o.MeanMS*o.MeanMS))
		if o.MeanMS > 0 {
			o.Variation = o.StdDevMS / o.MeanMS
		}
	}
	return pm, nil
}

func perf(s store.EventStats, secs float64) ServicePerformance {
	sp := ServicePerformance{
		ServiceID: s.ServiceID, ServiceName: s.ServiceName, Events: s.Total,
		Succeeded: s.ByStatus[store.StatusSucceeded],
		Failed:    s.ByStatus[store.StatusFailed] + s.ByStatus[store.StatusDead],
		Retried:   s.Retried,
		MeanMS:    s.Latency.Mean, P50MS: s.Latency.P50, P95MS: s.Latency.P95, P99MS: s.Latency.P99,
		StdDevMS: s.Latency.StdDev,
	}
	sp.SuccessRate = rate(sp.Succeeded, sp.Failed)
	sp.Throughput = float64(sp.Events) / secs
	if sp.MeanMS > 0 {
		sp.Variation = sp.StdDevMS / sp.MeanMS
	}
	return sp
}

func rate(ok, bad int64) float64 {
	if ok+bad == 0 {
		return 1
	}
	return float64(ok) / float64(ok+bad)
}

// GetIntegrationAnalytics rolls up the queried range (idempotently: re-running replaces
// the same rows) and returns the stored rollups with their totals. Period defaults to hours;
// the range defaults to the last 24 periods. Errors: ErrUnknownService, ErrInvalidInput
// (unknown period, empty range), store errors.
func (h *Hub) GetIntegrationAnalytics(ctx context.Context, q AnalyticsQuery) (*Analytics, error) {
	if q.Period == "" {
		q.Period = store.PeriodHour
	}
	if !q.Period.Valid() {
		return nil, fmt.Errorf("%w: unknown period %q", ErrInvalidInput, q.Period)
	}
	r, err := q.Range.resolve(h.cfg.Clock(), 24*q.Period.Duration())
	if err != nil {
		return nil, err
	}
	serviceID := ""
	if q.Service != "" {
		rt, err := h.runtimeFor(ctx, q.Service)
		if err != nil {
			return nil, err
		}
		serviceID = rt.svc.ID
	}
	from := q.Period.Truncate(r.From)
	if _, err := h.rollup(ctx, serviceID, q.Period, from, r.To); err != nil {
		return nil, err
	}
	rolls, err := h.st.ListAnalytics(ctx, store.AnalyticsFilter{ServiceID: serviceID, Period: q.Period, From: from, To: r.To, Page: store.Page{Limit: store.MaxPageLimit}})
	if err != nil {
		return nil, mapStoreErr(err)
	}
	a := &Analytics{Period: q.Period, Range: TimeRange{From: from, To: r.To}, Rollups: rolls}
	for _, x := range rolls {
		a.Totals.Events += x.TotalEvents
		a.Totals.Successes += x.Successes
		a.Totals.Failures += x.Failures
		a.Totals.DataVolumeBytes += x.DataVolumeBytes
		a.Totals.ChairmanInterventions += x.ChairmanInterventions
		a.Totals.Cost += x.Cost
	}
	if a.Totals.Events > 0 {
		a.Totals.ErrorRate = float64(a.Totals.Failures) / float64(a.Totals.Events)
	}
	return a, nil
}

// rollup computes the analytics rows of every period bucket in [from, to) from the store's
// event volume and upserts them. Uptime is the succeeded share of terminal outcomes (100
// when none); cost is the service's cost per call times its events.
func (h *Hub) rollup(ctx context.Context, serviceID string, p store.Period, from, to time.Time) (int, error) {
	buckets, err := h.st.EventVolume(ctx, store.VolumeParams{ServiceID: serviceID, From: p.Truncate(from), To: to, Period: p})
	if err != nil {
		return 0, mapStoreErr(err)
	}
	if len(buckets) == 0 {
		return 0, nil
	}
	rolls := make([]*store.AnalyticsRollup, 0, len(buckets))
	for _, b := range buckets {
		cost := 0.0
		if rt, err := h.runtimeFor(ctx, b.ServiceID); err == nil {
			cost = rt.meta.CostPerCall * float64(b.Total)
		}
		r := &store.AnalyticsRollup{
			ServiceID: b.ServiceID, ServiceName: b.ServiceName, Period: p, PeriodStart: b.Start,
			TotalEvents: b.Total, Successes: b.Succeeded, Failures: b.Failed,
			AvgResponseTimeMS: b.AvgResponseTimeMS, UptimePercent: 100,
			DataVolumeBytes: b.PayloadBytes, ChairmanInterventions: b.ChairmanOverrides, Cost: cost,
		}
		if b.Total > 0 {
			r.ErrorRate = float64(b.Failed) / float64(b.Total)
		}
		if b.Succeeded+b.Failed > 0 {
			r.UptimePercent = 100 * float64(b.Succeeded) / float64(b.Succeeded+b.Failed)
		}
		rolls = append(rolls, r)
	}
	if err := h.st.UpsertAnalytics(ctx, rolls); err != nil {
		return 0, mapStoreErr(err)
	}
	return len(rolls), nil
}
