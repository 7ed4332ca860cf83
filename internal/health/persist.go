package health

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"

	"github.com/ehg/hub/store"
)

// Action is one entry of a health metric's recovery_actions: what the hub did on its own
// (Automatic) or recommends an operator do.
type Action struct {
	Action    string `json:"action"`
	Detail    string `json:"detail,omitempty"`
	Automatic bool   `json:"automatic"`
}

// Recovery action names.
const (
	// ActionCircuitOpened: the breaker stopped deliveries; events wait in the queue.
	ActionCircuitOpened = "circuit_opened"
	// ActionProbing: the breaker is half-open and lets trial deliveries through.
	ActionProbing = "probing_recovery"
	// ActionDeliveriesResumed: the service recovered; queued events are delivered again.
	ActionDeliveriesResumed = "deliveries_resumed"
	// ActionRecommended: an early-warning recommendation (not done by the hub).
	ActionRecommended = "recommended"
)

// RecoveryActions lists what the hub did about the change c of the service reported by r
// (breaker opened, probing, deliveries resumed) followed by the recommendations of r's
// warnings.
func RecoveryActions(r Report, c Change) []Action {
	var out []Action
	switch {
	case r.Breaker == BreakerOpen:
		out = append(out, Action{Action: ActionCircuitOpened, Automatic: true,
			Detail: "deliveries paused; events wait in the queue until the recovery timeout lets a probe through"})
	case r.Breaker == BreakerHalfOpen:
		out = append(out, Action{Action: ActionProbing, Automatic: true,
			Detail: "trial deliveries decide whether the breaker closes"})
	case c.To == store.HealthHealthy && (c.From == store.HealthUnhealthy || c.From == store.HealthDegraded):
		out = append(out, Action{Action: ActionDeliveriesResumed, Automatic: true,
			Detail: "the service is within its thresholds again"})
	}
	for _, w := range r.Warnings {
		if w.Recommendation != "" {
			out = append(out, Action{Action: ActionRecommended, Detail: w.Kind + ": " + w.Recommendation})
		}
	}
	return out
}

// MetricRows builds the integration_health_metrics rows recording the status change c of the
// service reported by r, judged against cfg: the window's error rate and p95 latency with
// their warning and critical thresholds, and the rate-limit headroom (share of the quota
// left) when known. Every row carries incident_triggered (the service became unhealthy) and
// the recovery actions.
func MetricRows(r Report, cfg Config, c Change) []*store.HealthMetric {
	cfg = cfg.WithDefaults()
	actions, _ := json.Marshal(RecoveryActions(r, c))
	if string(actions) == "null" {
		actions = []byte("[]")
	}
	incident := c.To == store.HealthUnhealthy && c.From != store.HealthUnhealthy
	row := func(t store.MetricType, v float64, warn, crit *float64, st store.MetricStatus) *store.HealthMetric {
		return &store.HealthMetric{ServiceID: r.ServiceID, MetricType: t, Value: v,
			WarningThreshold: warn, CriticalThreshold: crit, Status: st,
			IncidentTriggered: incident, RecoveryActions: actions, RecordedAt: c.At}
	}
	rows := []*store.HealthMetric{
		row(store.MetricErrorRate, r.ErrorRate, ptr(cfg.ErrorRateWarning), ptr(cfg.ErrorRateCritical),
			Judge(r.ErrorRate, cfg.ErrorRateWarning, cfg.ErrorRateCritical)),
		row(store.MetricResponseTime, r.P95MS, ptr(cfg.LatencyP95WarningMS), ptr(cfg.LatencyP95CriticalMS),
			Judge(r.P95MS, cfg.LatencyP95WarningMS, cfg.LatencyP95CriticalMS)),
	}
	if q := r.RateLimit; q != nil && q.Limit > 0 && q.Remaining >= 0 {
		st := store.MetricNormal
		if slices.ContainsFunc(r.Warnings, func(w Warning) bool { return w.Kind == WarnQuotaExhaustion }) {
			st = store.MetricWarning
		}
		if q.Remaining == 0 {
			st = store.MetricCritical
		}
		rows = append(rows, row(store.MetricRateLimitHeadroom, float64(q.Remaining)/float64(q.Limit), nil, nil, st))
	}
	return rows
}

// ProbeRow builds the availability row of one probe: value 1 when it passed, 0 when it
// failed (critical). Uptime over a period is the mean of these rows.
func ProbeRow(serviceID string, p ProbeResult) *store.HealthMetric {
	m := &store.HealthMetric{ServiceID: serviceID, MetricType: store.MetricAvailability, Value: 1,
		Status: store.MetricNormal, RecordedAt: p.At}
	if !p.OK {
		m.Value, m.Status = 0, store.MetricCritical
	}
	return m
}

// Judge returns the status of value v against warning and critical thresholds (reached at or
// above them).
func Judge(v, warning, critical float64) store.MetricStatus {
	switch {
	case v >= critical:
		return store.MetricCritical
	case v >= warning:
		return store.MetricWarning
	}
	return store.MetricNormal
}

func ptr(v float64) *float64 { return &v }

// MetricWriter stores health metric rows; store.Store implements it.
type MetricWriter interface {
	InsertHealthMetric(ctx context.Context, m *store.HealthMetric) (*store.HealthMetric, error)
}

// Persister writes a row set (MetricRows) for every status change the monitor publishes,
// and an availability row for every probe. Writes happen off the delivery path, on the
// goroutine running Run (changes) or the prober's (probes). Safe for concurrent use.
type Persister struct {
	m   *Monitor
	w   MetricWriter
	log *slog.Logger
	// OnWrite, optional, is called after the rows of a change are written (for tests and
	// follow-up actions); err is the first write error.
	OnWrite func(c Change, rows []*store.HealthMetric, err error)
}

// NewPersister returns a persister of m's changes into w; a nil logger discards.
func NewPersister(m *Monitor, w MetricWriter, log *slog.Logger) *Persister {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Persister{m: m, w: w, log: log}
}

// Run subscribes to the monitor and writes the rows of each change until ctx ends.
func (p *Persister) Run(ctx context.Context) {
	for c := range p.m.Subscribe(ctx) {
		p.Write(ctx, c)
	}
}

// Write stores the rows of change c now, and returns them with the first error.
func (p *Persister) Write(ctx context.Context, c Change) ([]*store.HealthMetric, error) {
	r, ok := p.m.Report(c.ServiceID)
	cfg, _ := p.m.Config(c.ServiceID)
	if !ok {
		return nil, nil
	}
	r.Status = c.To
	rows := MetricRows(r, cfg, c)
	var first error
	for _, row := range rows {
		if _, err := p.w.InsertHealthMetric(ctx, row); err != nil && ctx.Err() == nil {
			p.log.Warn("health: storing a health metric failed", slog.String("service_id", c.ServiceID),
				slog.String("metric_type", string(row.MetricType)), slog.Any("error", err))
			if first == nil {
				first = err
			}
		}
	}
	if p.OnWrite != nil {
		p.OnWrite(c, rows, first)
	}
	return rows, first
}

// Probe stores the availability row of one probe result.
func (p *Persister) Probe(ctx context.Context, serviceID string, r ProbeResult) {
	if _, err := p.w.InsertHealthMetric(ctx, ProbeRow(serviceID, r)); err != nil && ctx.Err() == nil {
		p.log.Warn("health: storing a probe result failed", slog.String("service_id", serviceID), slog.Any("error", err))
	}
}

// Uptime returns the percentage (0..100) of passed probes among the availability rows, and
// false when there are none.
func Uptime(rows []*store.HealthMetric) (float64, bool) {
	var n, up float64
	for _, r := range rows {
		if r.MetricType != store.MetricAvailability {
			continue
		}
		n++
		up += min(max(r.Value, 0), 1)
	}
	if n == 0 {
		return 0, false
	}
	return 100 * up / n, true
}
