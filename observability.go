package hub

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/internal/engine"
	"github.com/ehg/hub/internal/health"
	"github.com/ehg/hub/internal/pipeline"
	"github.com/ehg/hub/internal/telemetry"
	"github.com/ehg/hub/resilience"
	"github.com/ehg/hub/store"
)

// probeTick is how often the prober looks for services due a probe; each service is probed
// every interval_seconds of its health_check_config.
const probeTick = time.Second

// OutcomeDeferred is the hub.outcome attribute of a claimed event that was not attempted
// (breaker open, rate-limit pause): it waits in the queue.
const OutcomeDeferred = "deferred"

// HealthChange is a status change of one service, delivered by Subscribe.
type HealthChange struct {
	ServiceID   string
	ServiceName string
	// From and To are the statuses before and after.
	From, To store.HealthStatus
	// Reason says why the service has status To, e.g. "error rate 40.0% at or above
	// critical 25.0%" or "circuit breaker open".
	Reason string
	// At is when the change was judged (the hub's clock).
	At time.Time
}

// ProbeResult is the result of one health probe (the connector's Check).
type ProbeResult struct {
	At      time.Time
	OK      bool
	Latency time.Duration
	// Error describes a failed probe (no secrets).
	Error string
}

// RateLimitHeadroom is the remote rate limit last reported in a response's headers
// (X-RateLimit-*, RateLimit-*, Sforce-Limit-Info).
type RateLimitHeadroom struct {
	Remaining, Limit int
	// Reset is when the remote window ends (zero when unknown).
	Reset      time.Time
	ObservedAt time.Time
}

// HealthWarning is an early warning (a prediction) with its evidence and a recommendation.
type HealthWarning struct {
	// Kind is one of "latency_anomaly", "error_rate_anomaly", "error_rate_trend",
	// "quota_exhaustion", "breaker_flapping", "probe_failing".
	Kind           string
	Message        string
	Recommendation string
	// Evidence holds the figures behind the warning (z-score, baseline, slope, minutes to
	// exhaustion ...).
	Evidence map[string]float64
	At       time.Time
}

// HealthThresholds are the service's health_check_config thresholds after defaults.
type HealthThresholds struct {
	WindowSeconds                             int
	ErrorRateWarning, ErrorRateCritical       float64
	LatencyP95WarningMS, LatencyP95CriticalMS float64
	LatencySLAMS                              float64
	MinSamples                                int
	// ProbeIntervalSeconds is 0 when probes are disabled.
	ProbeIntervalSeconds int
}

// Subscribe returns a channel that receives every health status change of every service, as
// it is judged (on the delivery outcome, breaker transition or probe that caused it), until
// ctx ends; then the channel is closed. A subscriber more than 256 changes behind loses the
// newest ones rather than slowing deliveries. Safe for concurrent use; each call is an
// independent subscription.
func (h *Hub) Subscribe(ctx context.Context) <-chan HealthChange {
	if err := h.guard(ctx, call{method: "Subscribe", perms: perms(PermRead)}); err != nil {
		ch := make(chan HealthChange)
		close(ch)
		return ch
	}
	in := h.mon.Subscribe(ctx)
	out := make(chan HealthChange, 64)
	go func() {
		defer close(out)
		for c := range in {
			hc := HealthChange{ServiceID: c.ServiceID, ServiceName: c.ServiceName, From: c.From, To: c.To, Reason: c.Reason, At: c.At}
			select {
			case out <- hc:
			case <-ctx.Done():
				for range in { // drain until the monitor closes in
				}
				return
			}
		}
	}()
	return out
}

// initMonitoring builds the health monitor and the OpenTelemetry instruments.
func (h *Hub) initMonitoring() error {
	h.mon = health.NewMonitor(h.cfg.Clock)
	tel, err := telemetry.New(h.cfg.TracerProvider, h.cfg.MeterProvider)
	if err != nil {
		return configErr("Config.MeterProvider", "instruments cannot be created", err)
	}
	h.tel = tel
	unreg, err := tel.ObserveGauges(h.queueDepthGauge, h.breakerGauge)
	if err != nil {
		return configErr("Config.MeterProvider", "gauges cannot be registered", err)
	}
	h.gaugesOff = unreg
	return nil
}

// startMonitoring runs the persistence of health changes and the probes until ctx ends.
func (h *Hub) startMonitoring(ctx context.Context) {
	p := health.NewPersister(h.mon, h.st, h.log)
	changes := h.mon.Subscribe(ctx)
	prober := health.NewProber(health.ProberConfig{Monitor: h.mon, Targets: h.probeTargets, Tick: probeTick,
		OnProbe: func(ctx context.Context, serviceID string, r health.ProbeResult) {
			p.Probe(ctx, serviceID, r)
			h.recordServiceHealth(ctx, serviceID, "", r.At)
		}, Logger: h.log})
	h.bgWG.Add(2)
	go func() {
		defer h.bgWG.Done()
		for c := range changes {
			_, _ = p.Write(ctx, c) // failures are logged by the persister
			h.recordServiceHealth(ctx, c.ServiceID, c.To, c.At)
		}
	}()
	go func() {
		defer h.bgWG.Done()
		prober.Run(ctx)
	}()
}

// watchHealth starts (or updates) the monitoring of rt's service: thresholds from its
// health_check_config, and its primary breaker's transitions. It returns the function
// that stops watching the breaker.
func (h *Hub) watchHealth(rt *runtime) func() {
	cfg, err := health.ParseConfig(rt.svc.HealthCheckConfig)
	if err != nil {
		h.log.Warn("hub: unusable health_check_config; using defaults", slog.String("service", rt.svc.Name), slog.Any("error", err))
		cfg = health.Config{}.WithDefaults()
	}
	id := rt.svc.ID
	h.mon.Configure(id, rt.svc.Name, cfg)
	h.mon.SetBreaker(id, rt.policy.State().String())
	primary := rt.policy.Breakers()[0].Endpoint()
	return rt.policy.OnStateChange(func(sc resilience.StateChange) {
		if sc.Endpoint == primary {
			h.mon.SetBreaker(id, sc.To.String())
			h.publishBreaker(rt.svc, sc)
		}
	})
}

// observeQuota feeds the rate-limit headers of a response of the service to the monitor's
// quota forecast.
func (h *Hub) observeQuota(serviceID string, hdr http.Header) {
	if len(hdr) == 0 {
		return
	}
	q := resilience.ParseQuota(hdr, h.cfg.Clock())
	if q.Limit > 0 && q.Remaining >= 0 {
		h.mon.ObserveRateLimit(serviceID, q.Remaining, q.Limit, q.Reset)
	}
}

// observeHealth feeds one engine outcome to the monitor and the delivery metrics.
func (h *Hub) observeHealth(o engine.Outcome) {
	if o.Lost {
		return
	}
	name := o.ServiceID
	if o.Event != nil {
		name = o.Event.ServiceName
	}
	if !o.Attempted {
		outcome := OutcomeDeferred
		if o.Status == store.StatusExpired {
			outcome = string(o.Status)
		}
		h.tel.CountEvent(context.Background(), name, outcome)
		return
	}
	h.mon.Record(o.ServiceID, health.Outcome{At: o.At, Success: o.Status == store.StatusSucceeded, Latency: o.Latency, Err: o.ErrorText})
	h.tel.RecordDelivery(context.Background(), name, string(o.Status), o.Latency)
}

// probeTargets lists the active services' primary connectors' checks.
func (h *Hub) probeTargets() map[string]health.CheckFunc {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make(map[string]health.CheckFunc, len(h.byID))
	for id, rt := range h.byID {
		if !rt.svc.IsActive {
			continue
		}
		c := rt.conns[rt.policy.Breakers()[0].Endpoint()]
		if c == nil {
			continue
		}
		out[id] = func(ctx context.Context) error {
			if err := c.Check(ctx); err != nil {
				return h.scrubErr(err)
			}
			return nil
		}
	}
	return out
}

// queueDepthGauge counts every event by status for the hub.queue.depth gauge.
func (h *Hub) queueDepthGauge(ctx context.Context) (map[string]int64, error) {
	counts, err := h.st.CountEventsByStatus(ctx, store.EventFilter{})
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(counts))
	for s, n := range counts {
		out[string(s)] = n
	}
	return out, nil
}

// breakerGauge reports each known service's primary breaker for hub.breaker.state.
func (h *Hub) breakerGauge() map[string]int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make(map[string]int64, len(h.byID))
	for _, rt := range h.byID {
		out[rt.svc.Name] = telemetry.BreakerValue(rt.policy.State().String())
	}
	return out
}

// startDeliverSpan starts the hub.deliver span of one attempt: a child of the event's
// hub.process_event span when ProcessIntegrationEvent is waiting for it, else a root span.
// Attributes are set only on a recording span.
func (h *Hub) startDeliverSpan(ctx context.Context, rt *runtime, ev *store.Event) (context.Context, trace.Span) {
	ctx, span := h.tel.StartUnder(ctx, h.spans.get(ev.ID), telemetry.SpanDeliver)
	if span.IsRecording() {
		op := ev.Operation
		if op == "" {
			op = rt.meta.Operation
		}
		span.SetAttributes(telemetry.AttrService.String(rt.svc.Name), telemetry.AttrServiceID.String(rt.svc.ID),
			telemetry.AttrOperation.String(op), telemetry.AttrEventID.String(ev.ID),
			telemetry.AttrRetryCount.Int(ev.RetryCount))
	}
	return ctx, span
}

// endDeliverSpan records the attempt's result on span and ends it.
func endDeliverSpan(span trace.Span, resp *connectors.Response, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	status := "succeeded"
	if err != nil {
		status = resilience.Classify(err).String()
	}
	attrs := []attribute.KeyValue{telemetry.AttrStatus.String(status)}
	if resp != nil {
		attrs = append(attrs, attribute.Int("http.response.status_code", resp.StatusCode))
	}
	span.SetAttributes(attrs...)
	telemetry.End(span, err)
}

// checkHealthConfig validates a health_check_config document; field names it in the error.
func checkHealthConfig(field string, raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	if _, err := health.ParseConfig(raw); err != nil {
		var ce *health.ConfigError
		if errors.As(err, &ce) {
			if ce.Field != "health_check_config" {
				field += "." + ce.Field
			}
			return configErr(field, ce.Reason, nil)
		}
		return configErr(field, "", err)
	}
	return nil
}

// endProcessSpan records the result of ProcessIntegrationEvent on its span and ends it.
func endProcessSpan(span trace.Span, res *ProcessingResult, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	if res != nil {
		span.SetAttributes(telemetry.AttrEventID.String(res.EventID), telemetry.AttrServiceID.String(res.ServiceID),
			telemetry.AttrStatus.String(string(res.Status)), telemetry.AttrRetryCount.Int(res.RetryCount))
		if res.ServiceName != "" {
			span.SetAttributes(telemetry.AttrService.String(res.ServiceName))
		}
	}
	telemetry.End(span, err)
}

// pipelineSpans records the hub.validate and hub.transform spans of one run of the
// service's compiled pipeline, which checks the payload, validates the contracts and applies
// the mappings in one fused pass: both spans cover that pass (attribute hub.fused), and the
// one of the failing stage carries the error. The transform span is left out when the
// service has no mapping or the run failed before mapping. err is the pipeline's error
// (it tells the stage), shown the hub's error recorded in its place (violations of personal
// fields withheld).
func (h *Hub) pipelineSpans(ctx context.Context, rt *runtime, start time.Time, err, shown error) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return
	}
	end := time.Now()
	var verr, terr error
	mapped := rt.mapping != nil || rt.delivery != nil
	if pe, ok := errors.AsType[*pipeline.Error](err); ok {
		switch pe.Stage {
		case pipeline.StageMapping, pipeline.StageDelivery:
			terr = shown
		case pipeline.StagePayload, pipeline.StageInput:
			verr, mapped = shown, false
		default:
			verr = shown
		}
	} else if err != nil {
		verr = shown
	}
	fused := attribute.Bool("hub.fused", true)
	h.tel.Record(ctx, telemetry.SpanValidate, start, end, verr, telemetry.AttrOperation.String("contracts"), fused)
	if mapped {
		h.tel.Record(ctx, telemetry.SpanTransform, start, end, terr, telemetry.AttrOperation.String("mapping"), fused)
	}
}

// parentSpans keeps the hub.process_event span context of each synchronous event waiting for
// its first delivery, so that the worker's hub.deliver span joins the caller's trace.
type parentSpans struct {
	n atomic.Int64 // entries; lookups are skipped while there are none (nothing is traced)
	m sync.Map     // event id -> trace.SpanContext
}

func (p *parentSpans) put(id string, sc trace.SpanContext) {
	p.n.Add(1)
	p.m.Store(id, sc)
}

func (p *parentSpans) drop(id string) {
	p.m.Delete(id)
	p.n.Add(-1)
}

// get returns the span context kept for the event, or an invalid one.
func (p *parentSpans) get(id string) trace.SpanContext {
	if p.n.Load() == 0 {
		return trace.SpanContext{}
	}
	if v, ok := p.m.Load(id); ok {
		return v.(trace.SpanContext)
	}
	return trace.SpanContext{}
}
