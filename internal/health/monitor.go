package health

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/ehg/hub/store"
)

// Breaker states as the monitor names them.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half-open"
)

const (
	bucketsPerWindow = 20
	latencySamples   = 1024
	trendPoints      = 12
	flapWindow       = 10 * time.Minute
	flapOpens        = 3
	subscriberBuffer = 256
	// quotaResetTolerance: rate-limit resets closer than this are the same quota period.
	quotaResetTolerance = 2 * time.Second
	// p95Refresh bounds how often judge sorts the latency samples: error rates and breaker
	// changes are judged on every outcome, latency at most this stale.
	p95Refresh = 20 * time.Millisecond
)

// Outcome is the result of one delivery attempt.
type Outcome struct {
	At      time.Time
	Success bool
	Latency time.Duration
	// Err describes a failure for the report; it must not hold secrets.
	Err string
}

// ProbeResult is the result of one health probe through the connector's Check.
type ProbeResult struct {
	At      time.Time     `json:"at"`
	OK      bool          `json:"ok"`
	Latency time.Duration `json:"latency"`
	Err     string        `json:"error,omitempty"`
}

// RateLimit is the remote rate-limit headroom last observed in responses.
type RateLimit struct {
	Remaining  int       `json:"remaining"`
	Limit      int       `json:"limit"`
	Reset      time.Time `json:"reset"`
	ObservedAt time.Time `json:"observed_at"`
}

// Warning is an early warning with the evidence behind it and what to do about it.
type Warning struct {
	Kind           string             `json:"kind"`
	Message        string             `json:"message"`
	Recommendation string             `json:"recommendation,omitempty"`
	Evidence       map[string]float64 `json:"evidence,omitempty"`
	At             time.Time          `json:"at"`
}

// Warning kinds.
const (
	WarnLatencyAnomaly  = "latency_anomaly"
	WarnErrorAnomaly    = "error_rate_anomaly"
	WarnErrorTrend      = "error_rate_trend"
	WarnQuotaExhaustion = "quota_exhaustion"
	WarnBreakerFlapping = "breaker_flapping"
	WarnProbeFailing    = "probe_failing"
)

// Report is the live health of one service.
type Report struct {
	ServiceID   string             `json:"service_id"`
	ServiceName string             `json:"service_name"`
	Status      store.HealthStatus `json:"status"`
	Reason      string             `json:"reason"`
	Breaker     string             `json:"breaker"`
	Samples     int64              `json:"samples"`
	Failures    int64              `json:"failures"`
	ErrorRate   float64            `json:"error_rate"`
	P50MS       float64            `json:"p50_ms"`
	P95MS       float64            `json:"p95_ms"`
	P99MS       float64            `json:"p99_ms"`
	LastError   string             `json:"last_error,omitempty"`
	LastErrorAt time.Time          `json:"last_error_at,omitzero"`
	LastProbe   *ProbeResult       `json:"last_probe,omitempty"`
	RateLimit   *RateLimit         `json:"rate_limit,omitempty"`
	Warnings    []Warning          `json:"warnings,omitempty"`
	UpdatedAt   time.Time          `json:"updated_at"`
}

// Change is a status change of one service, delivered to subscribers.
type Change struct {
	ServiceID   string
	ServiceName string
	From, To    store.HealthStatus
	Reason      string
	At          time.Time
}

type bucket struct {
	start    time.Time
	total    int64
	failures int64
	latSum   float64
	latN     int64
}

type sample struct {
	at time.Time
	ms float64
}

type service struct {
	id, name string
	cfg      Config
	bucket   time.Duration
	buckets  [bucketsPerWindow]bucket
	samples  [latencySamples]sample
	next     int // next sample slot
	fedUpTo  time.Time

	status    store.HealthStatus
	verdict   verdict
	breaker   string
	opens     []time.Time
	lastErr   string
	lastErrAt time.Time
	probe     *ProbeResult
	quota     []Point
	rate      *RateLimit

	pctAt time.Time // when p95 was last computed
	p95   float64

	latDet, errDet *EWMA
	errSeries      []Point
	warnings       map[string]Warning
	updated        time.Time
}

// Monitor keeps the health of every configured service. It is safe for concurrent use;
// Record is cheap enough for the delivery hot path.
type Monitor struct {
	now func() time.Time

	mu       sync.Mutex
	services map[string]*service
	subs     map[uint64]chan Change
	nextSub  uint64
	dropped  int64
}

// NewMonitor returns a monitor reading time from now (time.Now when nil).
func NewMonitor(now func() time.Time) *Monitor {
	if now == nil {
		now = time.Now
	}
	return &Monitor{now: now, services: map[string]*service{}, subs: map[uint64]chan Change{}}
}

// Configure starts or updates the monitoring of a service. Collected outcomes are kept when
// the window length is unchanged.
func (m *Monitor) Configure(serviceID, name string, c Config) {
	c = c.WithDefaults()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.services[serviceID]
	if s == nil || s.cfg.WindowSeconds != c.WindowSeconds {
		s = &service{id: serviceID, status: store.HealthUnknown, breaker: BreakerClosed,
			warnings: map[string]Warning{},
			latDet:   NewEWMA(0.2, 4, 20, 2, 1),
			errDet:   NewEWMA(0.2, 4, 20, 2, 0.01)}
		s.bucket = max(c.Window()/bucketsPerWindow, time.Second)
		m.services[serviceID] = s
	}
	s.name, s.cfg = name, c
}

// Remove stops monitoring a service.
func (m *Monitor) Remove(serviceID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.services, serviceID)
}

// Record adds a delivery outcome of the service and re-judges its status; a change reaches
// subscribers before Record returns. Unknown services are ignored.
func (m *Monitor) Record(serviceID string, o Outcome) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.services[serviceID]
	if s == nil {
		return
	}
	if o.At.IsZero() {
		o.At = m.now()
	}
	m.feedDetectors(s, o.At)
	b := s.slot(o.At)
	b.total++
	ms := float64(o.Latency) / float64(time.Millisecond)
	if o.Success {
		b.latSum += ms
		b.latN++
		s.samples[s.next] = sample{at: o.At, ms: ms}
		s.next = (s.next + 1) % latencySamples
	} else {
		b.failures++
		s.lastErr, s.lastErrAt = o.Err, o.At
	}
	m.judge(s, o.At)
}

// RecordProbe records the result of a health probe and re-judges the status.
func (m *Monitor) RecordProbe(serviceID string, p ProbeResult) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.services[serviceID]
	if s == nil {
		return
	}
	if p.At.IsZero() {
		p.At = m.now()
	}
	s.probe = &p
	if p.OK {
		delete(s.warnings, WarnProbeFailing)
	} else {
		s.warnings[WarnProbeFailing] = Warning{Kind: WarnProbeFailing, At: p.At,
			Message:        "health probe failed: " + p.Err,
			Recommendation: "check the service's credentials and base URL with TestIntegration"}
	}
	m.judge(s, p.At)
}

// SetBreaker records the service's circuit-breaker state (BreakerClosed, BreakerOpen or
// BreakerHalfOpen) and re-judges the status. Repeated openings raise a flapping warning.
func (m *Monitor) SetBreaker(serviceID, state string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.services[serviceID]
	if s == nil || s.breaker == state {
		return
	}
	now := m.now()
	s.breaker = state
	if state == BreakerOpen {
		s.opens = append(s.opens, now)
	}
	s.opens = slices.DeleteFunc(s.opens, func(t time.Time) bool { return now.Sub(t) > flapWindow })
	if len(s.opens) >= flapOpens {
		s.warnings[WarnBreakerFlapping] = Warning{Kind: WarnBreakerFlapping, At: now,
			Message:        fmt.Sprintf("breaker opened %d times in %s", len(s.opens), flapWindow),
			Recommendation: "breaker flapping: raise recovery_timeout or the failure threshold",
			Evidence:       map[string]float64{"opens": float64(len(s.opens)), "window_minutes": flapWindow.Minutes()}}
	} else {
		delete(s.warnings, WarnBreakerFlapping)
	}
	m.judge(s, now)
}

// ObserveRateLimit records the remote quota seen in a response (remaining of limit until
// reset) and forecasts its exhaustion from the consumption since the last reset.
func (m *Monitor) ObserveRateLimit(serviceID string, remaining, limit int, reset time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.services[serviceID]
	if s == nil || limit <= 0 {
		return
	}
	now := m.now()
	// Resets given as delta-seconds move by the time between responses: two resets within
	// quotaResetTolerance belong to the same quota period.
	if s.rate == nil || absDuration(s.rate.Reset.Sub(reset)) > quotaResetTolerance || remaining > s.rate.Remaining {
		s.quota = s.quota[:0] // a new quota period
	}
	s.rate = &RateLimit{Remaining: remaining, Limit: limit, Reset: reset, ObservedAt: now}
	s.quota = append(s.quota, Point{At: now, Value: float64(remaining)})
	if len(s.quota) > 64 {
		s.quota = append(s.quota[:0], s.quota[len(s.quota)-64:]...)
	}
	delete(s.warnings, WarnQuotaExhaustion)
	if d, ok := TimeToReach(s.quota, 0); ok && len(s.quota) >= 3 && (reset.IsZero() || now.Add(d).Before(reset)) {
		s.warnings[WarnQuotaExhaustion] = Warning{Kind: WarnQuotaExhaustion, At: now,
			Message:        fmt.Sprintf("quota exhausted in ~%.0f minutes at current rate", math.Ceil(d.Minutes())),
			Recommendation: "lower requests_per_minute or spread the load before the quota resets",
			Evidence: map[string]float64{"remaining": float64(remaining), "limit": float64(limit),
				"minutes_to_exhaustion": d.Minutes(), "minutes_to_reset": reset.Sub(now).Minutes()}}
	}
}

// Report returns the live health of the service and false when it is not monitored.
func (m *Monitor) Report(serviceID string) (Report, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.services[serviceID]
	if s == nil {
		return Report{}, false
	}
	now := m.now()
	m.feedDetectors(s, now)
	m.judge(s, now)
	return s.report(now), true
}

// Reports returns the health of every monitored service, ordered by name.
func (m *Monitor) Reports() []Report {
	m.mu.Lock()
	ids := make([]string, 0, len(m.services))
	for id := range m.services {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	out := make([]Report, 0, len(ids))
	for _, id := range ids {
		if r, ok := m.Report(id); ok {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Report) int {
		if a.ServiceName != b.ServiceName {
			if a.ServiceName < b.ServiceName {
				return -1
			}
			return 1
		}
		if a.ServiceID < b.ServiceID {
			return -1
		}
		return 1
	})
	return out
}

// Subscribe returns a channel that receives every status change until ctx ends, when it is
// closed. A subscriber that falls more than 256 changes behind loses the newest ones
// (counted by Dropped) rather than slowing deliveries.
func (m *Monitor) Subscribe(ctx context.Context) <-chan Change {
	ch := make(chan Change, subscriberBuffer)
	m.mu.Lock()
	id := m.nextSub
	m.nextSub++
	m.subs[id] = ch
	m.mu.Unlock()
	go func() {
		<-ctx.Done()
		m.mu.Lock()
		delete(m.subs, id)
		m.mu.Unlock()
		close(ch)
	}()
	return ch
}

// Dropped returns how many changes slow subscribers have lost.
func (m *Monitor) Dropped() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dropped
}

// slot returns the bucket for t, resetting it when it holds an older period.
func (s *service) slot(t time.Time) *bucket {
	start := t.Truncate(s.bucket)
	i := int((start.UnixNano() / int64(s.bucket)) % bucketsPerWindow)
	b := &s.buckets[i]
	if !b.start.Equal(start) {
		*b = bucket{start: start}
	}
	return b
}

// window sums the buckets inside the window ending at now.
func (s *service) window(now time.Time) (total, failures int64) {
	from := now.Add(-s.cfg.Window())
	for i := range s.buckets {
		b := &s.buckets[i]
		if b.total > 0 && b.start.After(from.Add(-s.bucket)) && !b.start.After(now) {
			total += b.total
			failures += b.failures
		}
	}
	return total, failures
}

// percentiles returns p50, p95 and p99 of the successful latencies inside the window.
func (s *service) percentiles(now time.Time) (p50, p95, p99 float64) {
	from := now.Add(-s.cfg.Window())
	vals := make([]float64, 0, 64)
	for _, v := range s.samples {
		if !v.at.IsZero() && v.at.After(from) && !v.at.After(now) {
			vals = append(vals, v.ms)
		}
	}
	slices.Sort(vals)
	return store.Percentile(vals, 0.50), store.Percentile(vals, 0.95), store.Percentile(vals, 0.99)
}

// feedDetectors passes every bucket completed before now, not yet fed, to the anomaly and
// trend detectors.
func (m *Monitor) feedDetectors(s *service, now time.Time) {
	cur := now.Truncate(s.bucket)
	var done []bucket
	for _, b := range s.buckets {
		if b.total > 0 && b.start.Before(cur) && b.start.After(s.fedUpTo) {
			done = append(done, b)
		}
	}
	if len(done) == 0 {
		return
	}
	slices.SortFunc(done, func(a, b bucket) int { return a.start.Compare(b.start) })
	for _, b := range done {
		s.fedUpTo = b.start
		rate := float64(b.failures) / float64(b.total)
		if b.latN > 0 {
			mean := b.latSum / float64(b.latN)
			z, bad := s.latDet.Observe(mean)
			if bad {
				s.warnings[WarnLatencyAnomaly] = Warning{Kind: WarnLatencyAnomaly, At: b.start,
					Message:        fmt.Sprintf("mean latency %.0f ms is %.1f standard deviations from its baseline %.0f ms", mean, z, s.latDet.Mean()),
					Recommendation: "check the remote service's status; consider a tighter timeout or failover",
					Evidence:       map[string]float64{"latency_ms": mean, "baseline_ms": s.latDet.Mean(), "z": z}}
			} else if math.Abs(z) < 2 {
				delete(s.warnings, WarnLatencyAnomaly)
			}
		}
		if b.total >= int64(s.cfg.MinSamples) {
			z, bad := s.errDet.Observe(rate)
			if bad && rate > s.errDet.Mean() {
				s.warnings[WarnErrorAnomaly] = Warning{Kind: WarnErrorAnomaly, At: b.start,
					Message:        fmt.Sprintf("error rate %.1f%% is %.1f standard deviations above its baseline", rate*100, z),
					Recommendation: "inspect the last errors; the breaker opens if failures continue",
					Evidence:       map[string]float64{"error_rate": rate, "baseline": s.errDet.Mean(), "z": z}}
			} else if math.Abs(z) < 2 {
				delete(s.warnings, WarnErrorAnomaly)
			}
		}
		s.errSeries = append(s.errSeries, Point{At: b.start, Value: rate})
		if len(s.errSeries) > trendPoints {
			s.errSeries = append(s.errSeries[:0], s.errSeries[len(s.errSeries)-trendPoints:]...)
		}
	}
	s.trend()
}

// trend warns when the fitted error-rate line reaches the critical threshold within the
// next window.
func (s *service) trend() {
	delete(s.warnings, WarnErrorTrend)
	if len(s.errSeries) < 4 {
		return
	}
	last := s.errSeries[len(s.errSeries)-1]
	if last.Value >= s.cfg.ErrorRateCritical {
		return // already critical: the status says so
	}
	slope, _, ok := LinearFit(s.errSeries)
	if !ok || slope <= 0 {
		return
	}
	d, ok := TimeToReach(s.errSeries, s.cfg.ErrorRateCritical)
	if !ok || d > s.cfg.Window() {
		return
	}
	s.warnings[WarnErrorTrend] = Warning{Kind: WarnErrorTrend, At: last.At,
		Message:        fmt.Sprintf("error rate climbing %.2f%%/min: critical %.0f%% in ~%.0f minutes", slope*60*100, s.cfg.ErrorRateCritical*100, math.Ceil(d.Minutes())),
		Recommendation: "investigate before the breaker opens; consider failover to a backup endpoint",
		Evidence:       map[string]float64{"error_rate": last.Value, "slope_per_minute": slope * 60, "minutes_to_critical": d.Minutes()}}
}

// judge recomputes the status and tells subscribers when it changed. m.mu is held.
func (m *Monitor) judge(s *service, now time.Time) {
	total, failures := s.window(now)
	if now.Sub(s.pctAt) >= p95Refresh || now.Before(s.pctAt) {
		_, s.p95, _ = s.percentiles(now)
		s.pctAt = now
	}
	v := evaluate(s.cfg, total, failures, s.p95, s.breaker, s.probe)
	s.updated = now
	s.verdict = v
	if v.status == s.status {
		return
	}
	c := Change{ServiceID: s.id, ServiceName: s.name, From: s.status, To: v.status, Reason: v.reason(s.cfg), At: now}
	s.status = v.status
	for _, ch := range m.subs {
		select {
		case ch <- c:
		default:
			m.dropped++
		}
	}
}

func (s *service) report(now time.Time) Report {
	total, failures := s.window(now)
	r := Report{ServiceID: s.id, ServiceName: s.name, Status: s.status, Reason: s.verdict.reason(s.cfg),
		Breaker: s.breaker, Samples: total, Failures: failures,
		LastError: s.lastErr, LastErrorAt: s.lastErrAt, UpdatedAt: s.updated}
	if total > 0 {
		r.ErrorRate = float64(failures) / float64(total)
	}
	r.P50MS, r.P95MS, r.P99MS = s.percentiles(now)
	if s.probe != nil {
		p := *s.probe
		r.LastProbe = &p
	}
	if s.rate != nil {
		q := *s.rate
		r.RateLimit = &q
	}
	for _, w := range s.warnings {
		r.Warnings = append(r.Warnings, w)
	}
	slices.SortFunc(r.Warnings, func(a, b Warning) int {
		if a.Kind < b.Kind {
			return -1
		}
		return 1
	})
	return r
}

// Evaluate judges a service's status from its window (total outcomes, failures, successful
// p95 latency), its breaker state and its last probe, and says why:
//
//   - breaker open: unhealthy; half-open: degraded;
//   - fewer than MinSamples outcomes: the last probe decides (unhealthy when it failed,
//     healthy when it passed), else unknown;
//   - error rate or p95 at or above a critical threshold: unhealthy;
//   - at or above a warning threshold, or a failing probe: degraded;
//   - otherwise healthy.
func Evaluate(c Config, total, failures int64, p95 float64, breaker string, probe *ProbeResult) (store.HealthStatus, string) {
	v := evaluate(c, total, failures, p95, breaker, probe)
	return v.status, v.reason(c)
}

// verdict is a judged status with what its reason is made of, so the hot path formats no
// text.
type verdict struct {
	status   store.HealthStatus
	why      int
	total    int64
	rate     float64
	p95      float64
	probeErr string
}

const (
	whyBreakerOpen = iota
	whyBreakerHalfOpen
	whyProbeFailed
	whyProbePassed
	whyTooFew
	whyRateCritical
	whyLatencyCritical
	whyRateWarning
	whyLatencyWarning
	whyWithin
)

func evaluate(c Config, total, failures int64, p95 float64, breaker string, probe *ProbeResult) verdict {
	switch breaker {
	case BreakerOpen:
		return verdict{status: store.HealthUnhealthy, why: whyBreakerOpen}
	case BreakerHalfOpen:
		return verdict{status: store.HealthDegraded, why: whyBreakerHalfOpen}
	}
	probeFailed := probe != nil && !probe.OK
	if total < int64(c.MinSamples) {
		switch {
		case probeFailed:
			return verdict{status: store.HealthUnhealthy, why: whyProbeFailed, probeErr: probe.Err}
		case probe != nil:
			return verdict{status: store.HealthHealthy, why: whyProbePassed}
		}
		return verdict{status: store.HealthUnknown, why: whyTooFew, total: total}
	}
	v := verdict{total: total, rate: float64(failures) / float64(total), p95: p95}
	switch {
	case v.rate >= c.ErrorRateCritical:
		v.status, v.why = store.HealthUnhealthy, whyRateCritical
	case p95 >= c.LatencyP95CriticalMS:
		v.status, v.why = store.HealthUnhealthy, whyLatencyCritical
	case v.rate >= c.ErrorRateWarning:
		v.status, v.why = store.HealthDegraded, whyRateWarning
	case p95 >= c.LatencyP95WarningMS:
		v.status, v.why = store.HealthDegraded, whyLatencyWarning
	case probeFailed:
		v.status, v.why, v.probeErr = store.HealthDegraded, whyProbeFailed, probe.Err
	default:
		v.status, v.why = store.HealthHealthy, whyWithin
	}
	return v
}

func (v verdict) reason(c Config) string {
	switch v.why {
	case whyBreakerOpen:
		return "circuit breaker open"
	case whyBreakerHalfOpen:
		return "circuit breaker half-open: probing recovery"
	case whyProbeFailed:
		return "health probe failed: " + v.probeErr
	case whyProbePassed:
		return "health probe passed"
	case whyTooFew:
		return fmt.Sprintf("%d of %d outcomes needed", v.total, c.MinSamples)
	case whyRateCritical:
		return fmt.Sprintf("error rate %.1f%% at or above critical %.1f%%", v.rate*100, c.ErrorRateCritical*100)
	case whyLatencyCritical:
		return fmt.Sprintf("p95 latency %.0f ms at or above critical %.0f ms", v.p95, c.LatencyP95CriticalMS)
	case whyRateWarning:
		return fmt.Sprintf("error rate %.1f%% at or above warning %.1f%%", v.rate*100, c.ErrorRateWarning*100)
	case whyLatencyWarning:
		return fmt.Sprintf("p95 latency %.0f ms at or above warning %.0f ms", v.p95, c.LatencyP95WarningMS)
	}
	return fmt.Sprintf("error rate %.1f%%, p95 %.0f ms within thresholds", v.rate*100, v.p95)
}

// Config returns the configuration the service is monitored with, and false when it is not
// monitored.
func (m *Monitor) Config(serviceID string) (Config, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.services[serviceID]
	if s == nil {
		return Config{}, false
	}
	return s.cfg, true
}

// ServiceIDs returns the IDs of the monitored services, sorted.
func (m *Monitor) ServiceIDs() []string {
	m.mu.Lock()
	ids := make([]string, 0, len(m.services))
	for id := range m.services {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	slices.Sort(ids)
	return ids
}

// Breaker returns the breaker state last set for the service (BreakerClosed when never set),
// and false when it is not monitored.
func (m *Monitor) Breaker(serviceID string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.services[serviceID]
	if s == nil {
		return "", false
	}
	return s.breaker, true
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
