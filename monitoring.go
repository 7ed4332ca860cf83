package hub

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ehg/hub/internal/engine"
	"github.com/ehg/hub/internal/health"
	"github.com/ehg/hub/store"
)

// Monitoring settings.
const (
	// HealthWindow is the span of store figures (latency, terminal outcomes) a health report
	// falls back on for a service this hub has not delivered to within its health window
	// (another hub sharing the store did).
	HealthWindow = 15 * time.Minute
	// VariationTarget is the coefficient of variation of response times (standard deviation
	// over mean) the seed expects under normal load ("< 2% variance"); performance reports
	// say whether each service meets it.
	VariationTarget = 0.02
)

// observe is the engine's observer hook: every recorded attempt feeds the live health
// monitor and the delivery metrics. Deferred attempts (nothing reached the service) count
// only in the metrics.
func (h *Hub) observe(o engine.Outcome) {
	h.observeHealth(o)
	h.publishOutcome(o)
	h.logOutcome(o)
}

// GetIntegrationHealth reports the health of the service named by serviceID (ID or name),
// or of every service when it is "".
//
// Status, reason, error rate and latency percentiles come from the live monitor: the
// outcomes of this hub's deliveries within the service's health_check_config window,
// judged against its thresholds (error rate and p95 latency, warning and critical), its
// breaker (open: unhealthy, half-open: degraded) and its last probe. A service with too few
// outcomes in the window is judged on the store's outcomes of the last HealthWindow (other
// hubs' deliveries), then on its last probe, else it is unknown; an inactive service is
// unknown. The report adds the queue depth by state, the last probe, the rate-limit
// headroom, the last error and the early warnings (predictions with evidence and
// recommendations).
//
// Errors: ErrUnknownService; store errors.
func (h *Hub) GetIntegrationHealth(ctx context.Context, serviceID string) (*HealthReport, error) {
	if err := h.guard(ctx, call{method: "GetIntegrationHealth", service: serviceID, perms: perms(PermRead)}); err != nil {
		return nil, err
	}
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
	live, ok := h.mon.Report(rt.svc.ID)
	cfg, _ := h.mon.Config(rt.svc.ID)
	if !ok {
		// not monitored yet (a runtime built before monitoring started): judge from scratch
		cfg = health.Config{}.WithDefaults()
		live = health.Report{Status: store.HealthUnknown, Breaker: sh.Breaker}
	}
	sh.Thresholds = thresholdsOf(cfg)
	sh.Status, sh.Reason = live.Status, live.Reason
	sh.ErrorRate, sh.Attempts = live.ErrorRate, int(live.Samples)
	sh.LatencyP50MS, sh.LatencyP95MS, sh.LatencyP99MS = live.P50MS, live.P95MS, live.P99MS
	sh.LastError, sh.LastErrorAt = live.LastError, live.LastErrorAt
	if p := live.LastProbe; p != nil {
		sh.LastProbe = &ProbeResult{At: p.At, OK: p.OK, Latency: p.Latency, Error: p.Err}
	}
	if q := live.RateLimit; q != nil {
		sh.RateLimit = &RateLimitHeadroom{Remaining: q.Remaining, Limit: q.Limit, Reset: q.Reset, ObservedAt: q.ObservedAt}
	} else if q := rt.policy.Headroom(); q.Limit > 0 && q.Remaining >= 0 {
		// the adaptive limiter's estimate (it also counts calls sent since the last response)
		sh.RateLimit = &RateLimitHeadroom{Remaining: q.Remaining, Limit: q.Limit, Reset: q.Reset, ObservedAt: q.ObservedAt}
	}
	for _, w := range live.Warnings {
		sh.Warnings = append(sh.Warnings, HealthWarning{Kind: w.Kind, Message: w.Message, Recommendation: w.Recommendation, Evidence: w.Evidence, At: w.At})
	}
	if live.Samples < int64(cfg.MinSamples) {
		// Too few outcomes by this hub: other hubs may have delivered; judge the store's.
		stats, err := h.st.EventStats(ctx, store.StatsParams{ServiceID: rt.svc.ID, From: now.Add(-HealthWindow), To: now.Add(time.Second)})
		if err != nil {
			return sh, mapStoreErr(err)
		}
		var st store.EventStats
		if len(stats) > 0 {
			st = stats[0]
		}
		ok := st.ByStatus[store.StatusSucceeded]
		bad := st.ByStatus[store.StatusFailed] + st.ByStatus[store.StatusDead]
		if ok+bad >= int64(cfg.MinSamples) {
			sh.ErrorRate, sh.Attempts = float64(bad)/float64(ok+bad), int(ok+bad)
			sh.LatencyP50MS, sh.LatencyP95MS, sh.LatencyP99MS = st.Latency.P50, st.Latency.P95, st.Latency.P99
			var probe *health.ProbeResult
			if live.LastProbe != nil {
				probe = live.LastProbe
			}
			sh.Status, sh.Reason = health.Evaluate(cfg, ok+bad, bad, st.Latency.P95, live.Breaker, probe)
			sh.Reason = "store, last " + HealthWindow.String() + ": " + sh.Reason
		}
	}
	if !rt.svc.IsActive {
		sh.Status, sh.Reason = store.HealthUnknown, "service disabled"
	}
	return sh, nil
}

func thresholdsOf(c health.Config) HealthThresholds {
	return HealthThresholds{
		WindowSeconds: c.WindowSeconds, ErrorRateWarning: c.ErrorRateWarning, ErrorRateCritical: c.ErrorRateCritical,
		LatencyP95WarningMS: c.LatencyP95WarningMS, LatencyP95CriticalMS: c.LatencyP95CriticalMS,
		LatencySLAMS: c.LatencySLAMS, MinSamples: c.MinSamples, ProbeIntervalSeconds: int(c.Interval() / time.Second),
	}
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

// slaOf returns the latency SLA of a service in whole milliseconds (health_check_config
// latency_sla_ms, default health.DefaultLatencySLAMS).
func (h *Hub) slaOf(serviceID string) int64 {
	c, ok := h.mon.Config(serviceID)
	if !ok {
		c = health.Config{}.WithDefaults()
	}
	return int64(math.Round(c.LatencySLAMS))
}

// GetPerformanceMetrics reports, per service and overall, the events created in r: counts,
// success rate, throughput (events per second over the range), the latency of succeeded
// events (mean, p50/p95/p99), the share of them within the service's latency SLA
// (health_check_config latency_sla_ms), and the spread of response times: the population
// standard deviation and the coefficient of variation (standard deviation / mean), with
// whether it meets VariationTarget. All figures are aggregated by the store. Overall
// percentiles are the largest of the services'; its mean and spread pool every succeeded
// event. Errors: ErrInvalidInput for an empty range; store errors.
func (h *Hub) GetPerformanceMetrics(ctx context.Context, r TimeRange) (*PerformanceMetrics, error) {
	if err := h.guard(ctx, call{method: "GetPerformanceMetrics", perms: perms(PermRead)}); err != nil {
		return nil, err
	}
	r, err := r.resolve(h.cfg.Clock(), time.Hour)
	if err != nil {
		return nil, err
	}
	stats, err := h.st.EventStats(ctx, store.StatsParams{From: r.From, To: r.To})
	if err != nil {
		return nil, mapStoreErr(err)
	}
	// One more aggregate per distinct SLA counts the events within it.
	within := map[string]int64{}
	slas := map[int64][]string{}
	for _, s := range stats {
		sla := h.slaOf(s.ServiceID)
		slas[sla] = append(slas[sla], s.ServiceID)
	}
	for sla, ids := range slas {
		ws, err := h.st.EventStats(ctx, store.StatsParams{From: r.From, To: r.To, WithinMS: max(sla, 1)})
		if err != nil {
			return nil, mapStoreErr(err)
		}
		for _, w := range ws {
			if slices.Contains(ids, w.ServiceID) {
				within[w.ServiceID] = w.Latency.Within
			}
		}
	}
	secs := r.To.Sub(r.From).Seconds()
	pm := &PerformanceMetrics{Range: r}
	var sum, sumSq float64
	for _, s := range stats {
		sp := perf(s, secs)
		sp.SLAMS = float64(h.slaOf(s.ServiceID))
		sp.WithinSLA = within[s.ServiceID]
		sp.SLAShare = share(sp.WithinSLA, sp.LatencyCount)
		pm.Services = append(pm.Services, sp)
		o := &pm.Overall
		o.Events += sp.Events
		o.Succeeded += sp.Succeeded
		o.Failed += sp.Failed
		o.Retried += sp.Retried
		o.WithinSLA += sp.WithinSLA
		o.LatencyCount += sp.LatencyCount
		o.P50MS, o.P95MS, o.P99MS = max(o.P50MS, sp.P50MS), max(o.P95MS, sp.P95MS), max(o.P99MS, sp.P99MS)
		c := float64(s.Latency.Count)
		sum += s.Latency.Mean * c
		sumSq += (s.Latency.StdDev*s.Latency.StdDev + s.Latency.Mean*s.Latency.Mean) * c
	}
	o := &pm.Overall
	o.ServiceName = "*"
	o.SuccessRate = rate(o.Succeeded, o.Failed)
	o.Throughput = float64(o.Events) / secs
	o.SLAShare = share(o.WithinSLA, o.LatencyCount)
	if o.LatencyCount > 0 {
		n := float64(o.LatencyCount)
		o.MeanMS = sum / n
		o.StdDevMS = math.Sqrt(max(0, sumSq/n-o.MeanMS*o.MeanMS))
		if o.MeanMS > 0 {
			o.Variation = o.StdDevMS / o.MeanMS
		}
		o.MeetsVariationTarget = o.Variation <= VariationTarget
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
		StdDevMS: s.Latency.StdDev, LatencyCount: s.Latency.Count,
	}
	sp.SuccessRate = rate(sp.Succeeded, sp.Failed)
	sp.Throughput = float64(sp.Events) / secs
	if sp.MeanMS > 0 {
		sp.Variation = sp.StdDevMS / sp.MeanMS
	}
	sp.MeetsVariationTarget = sp.LatencyCount > 0 && sp.Variation <= VariationTarget
	return sp
}

func rate(ok, bad int64) float64 {
	if ok+bad == 0 {
		return 1
	}
	return float64(ok) / float64(ok+bad)
}

// share returns part/whole, 1 when whole is 0.
func share(part, whole int64) float64 {
	if whole == 0 {
		return 1
	}
	return float64(part) / float64(whole)
}

// GetIntegrationAnalytics rolls up the queried range and the range of the same length just
// before it (idempotently: re-running replaces the same rows of integration_analytics),
// and returns the stored rollups of the range with their totals, the previous range's
// totals, and each service's trend between the two. Period defaults to hours; the range
// defaults to the last 24 periods; both ends are aligned down to period boundaries (an
// unaligned end includes its partial period). Errors: ErrUnknownService, ErrInvalidInput
// (unknown period, empty range), store errors.
func (h *Hub) GetIntegrationAnalytics(ctx context.Context, q AnalyticsQuery) (*Analytics, error) {
	if err := h.guard(ctx, call{method: "GetIntegrationAnalytics", service: q.Service, perms: perms(PermRead)}); err != nil {
		return nil, err
	}
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
	to := q.Period.Truncate(r.To)
	if to.Before(r.To) {
		to = to.Add(q.Period.Duration())
	}
	prevFrom := from.Add(-to.Sub(from))
	if _, err := h.rollup(ctx, serviceID, q.Period, prevFrom, to); err != nil {
		return nil, err
	}
	list := func(from, to time.Time) ([]*store.AnalyticsRollup, error) {
		rolls, err := h.st.ListAnalytics(ctx, store.AnalyticsFilter{ServiceID: serviceID, Period: q.Period, From: from, To: to, Page: store.Page{Limit: store.MaxPageLimit}})
		return rolls, mapStoreErr(err)
	}
	rolls, err := list(from, to)
	if err != nil {
		return nil, err
	}
	prev, err := list(prevFrom, from)
	if err != nil {
		return nil, err
	}
	a := &Analytics{Period: q.Period, Range: TimeRange{From: from, To: to}, Rollups: rolls,
		Totals: totalsOf(rolls), Previous: totalsOf(prev)}
	type pair struct{ cur, prev []*store.AnalyticsRollup }
	by := map[string]*pair{}
	names := map[string]string{}
	for _, x := range rolls {
		if by[x.ServiceID] == nil {
			by[x.ServiceID] = &pair{}
		}
		by[x.ServiceID].cur = append(by[x.ServiceID].cur, x)
		names[x.ServiceID] = x.ServiceName
	}
	for _, x := range prev {
		if by[x.ServiceID] == nil {
			by[x.ServiceID] = &pair{}
		}
		by[x.ServiceID].prev = append(by[x.ServiceID].prev, x)
		names[x.ServiceID] = x.ServiceName
	}
	for id, p := range by {
		a.Trends = append(a.Trends, trendOf(id, names[id], totalsOf(p.cur), totalsOf(p.prev)))
	}
	slices.SortFunc(a.Trends, func(x, y AnalyticsTrend) int { return compareStrings(x.ServiceName, y.ServiceName) })
	return a, nil
}

// totalsOf sums rollups: the average response time is weighted by successes, uptime is the
// mean of the rollups' known uptimes (nil when none is known).
func totalsOf(rolls []*store.AnalyticsRollup) AnalyticsTotals {
	var t AnalyticsTotals
	var latSum, upSum float64
	var ups int
	for _, x := range rolls {
		t.Events += x.TotalEvents
		t.Successes += x.Successes
		t.Failures += x.Failures
		t.DataVolumeBytes += x.DataVolumeBytes
		t.ChairmanInterventions += x.ChairmanInterventions
		t.Cost += x.Cost
		latSum += x.AvgResponseTimeMS * float64(x.Successes)
		if x.UptimePercent != nil {
			upSum += *x.UptimePercent
			ups++
		}
	}
	if ups > 0 {
		up := upSum / float64(ups)
		t.UptimePercent = &up
	}
	if t.Events > 0 {
		t.ErrorRate = float64(t.Failures) / float64(t.Events)
	}
	if t.Successes > 0 {
		t.AvgResponseTimeMS = latSum / float64(t.Successes)
	}
	return t
}

// Trend directions.
const (
	TrendImproving = "improving"
	TrendWorsening = "worsening"
	TrendSteady    = "steady"
	TrendNew       = "new"
)

// trendSignificance is the smallest change that moves a trend off steady: one percentage
// point of error rate, or ten percent of average response time.
const (
	trendErrorRate = 0.01
	trendLatency   = 0.10
)

func trendOf(id, name string, cur, prev AnalyticsTotals) AnalyticsTrend {
	t := AnalyticsTrend{ServiceID: id, ServiceName: name, Current: cur, Previous: prev, Direction: TrendSteady}
	if prev.Events == 0 {
		t.Direction = TrendNew
		return t
	}
	t.EventsChange = float64(cur.Events-prev.Events) / float64(prev.Events)
	t.ErrorRateChange = cur.ErrorRate - prev.ErrorRate
	t.AvgResponseChangeMS = cur.AvgResponseTimeMS - prev.AvgResponseTimeMS
	latRel := 0.0
	if prev.AvgResponseTimeMS > 0 {
		latRel = t.AvgResponseChangeMS / prev.AvgResponseTimeMS
	}
	switch {
	case cur.Events == 0:
		t.Direction = TrendSteady
	case t.ErrorRateChange >= trendErrorRate || (t.ErrorRateChange > -trendErrorRate && latRel >= trendLatency):
		t.Direction = TrendWorsening
	case t.ErrorRateChange <= -trendErrorRate || latRel <= -trendLatency:
		t.Direction = TrendImproving
	}
	return t
}

// rollup computes the analytics rows of every period bucket in [from, to) and upserts them
// (see rollups).
func (h *Hub) rollup(ctx context.Context, serviceID string, p store.Period, from, to time.Time) (int, error) {
	rolls, err := h.rollups(ctx, serviceID, p, from, to)
	if err != nil || len(rolls) == 0 {
		return 0, err
	}
	if err := h.st.UpsertAnalytics(ctx, rolls); err != nil {
		return 0, mapStoreErr(err)
	}
	return len(rolls), nil
}
