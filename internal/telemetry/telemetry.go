// Package telemetry holds the hub's OpenTelemetry instruments: a span per event with a child
// per pipeline step, and metrics for events by service and outcome, delivery latency, queue
// depth and breaker state. Names and attributes are documented on the constants below and in
// the hub's package documentation.
package telemetry

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the hub's tracer and meter.
const ScopeName = "github.com/ehg/hub"

// Span names.
const (
	// SpanProcess is the root span of ProcessIntegrationEvent.
	SpanProcess = "hub.process_event"
	// SpanValidate, SpanTransform, SpanPersist and SpanDeliver are its children.
	SpanValidate  = "hub.validate"
	SpanTransform = "hub.transform"
	SpanPersist   = "hub.persist"
	// SpanDeliver is one delivery attempt; workers start it as a root span linked to nothing
	// when the event is delivered asynchronously.
	SpanDeliver = "hub.deliver"
)

// Metric names.
const (
	// MetricEvents counts delivery outcomes (Int64Counter, {event}); attributes service, outcome.
	MetricEvents = "hub.events"
	// MetricDeliveryDuration is the delivery latency (Float64Histogram, ms); attributes
	// service, outcome.
	MetricDeliveryDuration = "hub.delivery.duration"
	// MetricQueueDepth is the number of events per status (Int64ObservableGauge, {event});
	// attributes status.
	MetricQueueDepth = "hub.queue.depth"
	// MetricBreakerState is each service's breaker (Int64ObservableGauge: 0 closed,
	// 1 half-open, 2 open); attribute service.
	MetricBreakerState = "hub.breaker.state"
)

// Attribute keys.
const (
	AttrService    = attribute.Key("hub.service")
	AttrServiceID  = attribute.Key("hub.service.id")
	AttrOperation  = attribute.Key("hub.operation")
	AttrEventID    = attribute.Key("hub.event.id")
	AttrStatus     = attribute.Key("hub.status")
	AttrRetryCount = attribute.Key("hub.retry_count")
	AttrOutcome    = attribute.Key("hub.outcome")
)

// Telemetry is the hub's tracer and instruments. It is safe for concurrent use.
type Telemetry struct {
	tracer   trace.Tracer
	meter    metric.Meter
	events   metric.Int64Counter
	duration metric.Float64Histogram

	// sets caches the attribute set of each (service, outcome) pair, so a measurement
	// builds none.
	setsMu sync.RWMutex
	sets   map[string]map[string]metric.MeasurementOption
}

// New builds the instruments on the given providers.
func New(tp trace.TracerProvider, mp metric.MeterProvider) (*Telemetry, error) {
	t := &Telemetry{tracer: tp.Tracer(ScopeName), meter: mp.Meter(ScopeName), sets: map[string]map[string]metric.MeasurementOption{}}
	var err error
	if t.events, err = t.meter.Int64Counter(MetricEvents, metric.WithUnit("{event}"),
		metric.WithDescription("Delivery outcomes by service and outcome.")); err != nil {
		return nil, fmt.Errorf("telemetry: %s: %w", MetricEvents, err)
	}
	if t.duration, err = t.meter.Float64Histogram(MetricDeliveryDuration, metric.WithUnit("ms"),
		metric.WithDescription("Delivery latency by service and outcome."),
		metric.WithExplicitBucketBoundaries(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)); err != nil {
		return nil, fmt.Errorf("telemetry: %s: %w", MetricDeliveryDuration, err)
	}
	return t, nil
}

// Start starts a span named name as a child of the span in ctx.
func (t *Telemetry) Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if len(attrs) == 0 {
		return t.tracer.Start(ctx, name)
	}
	return t.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
}

// End ends span, recording err (when not nil) as the span's error status.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// RecordDelivery counts one delivery outcome of the service and its latency.
// Nothing is done when no reader collects the instruments.
func (t *Telemetry) RecordDelivery(ctx context.Context, service, outcome string, d time.Duration) {
	ev, dur := t.events.Enabled(ctx), t.duration.Enabled(ctx)
	if !ev && !dur {
		return
	}
	set := t.set(service, outcome)
	if ev {
		t.events.Add(ctx, 1, set)
	}
	if dur {
		t.duration.Record(ctx, float64(d)/float64(time.Millisecond), set)
	}
}

// set returns the cached attribute set of (service, outcome).
func (t *Telemetry) set(service, outcome string) metric.MeasurementOption {
	t.setsMu.RLock()
	o, ok := t.sets[service][outcome]
	t.setsMu.RUnlock()
	if ok {
		return o
	}
	o = metric.WithAttributeSet(attribute.NewSet(AttrService.String(service), AttrOutcome.String(outcome)))
	t.setsMu.Lock()
	defer t.setsMu.Unlock()
	if t.sets[service] == nil {
		t.sets[service] = map[string]metric.MeasurementOption{}
	}
	t.sets[service][outcome] = o
	return o
}

// ObserveGauges registers the queue-depth and breaker-state gauges, read from the callbacks
// at each collection: depth returns counts by status, breakers returns each service's state
// (0 closed, 1 half-open, 2 open). The returned function unregisters them.
func (t *Telemetry) ObserveGauges(depth func(ctx context.Context) (map[string]int64, error), breakers func() map[string]int64) (unregister func() error, err error) {
	qd, err := t.meter.Int64ObservableGauge(MetricQueueDepth, metric.WithUnit("{event}"),
		metric.WithDescription("Events by status."))
	if err != nil {
		return nil, fmt.Errorf("telemetry: %s: %w", MetricQueueDepth, err)
	}
	bs, err := t.meter.Int64ObservableGauge(MetricBreakerState,
		metric.WithDescription("Circuit breaker state by service: 0 closed, 1 half-open, 2 open."))
	if err != nil {
		return nil, fmt.Errorf("telemetry: %s: %w", MetricBreakerState, err)
	}
	reg, err := t.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		counts, err := depth(ctx)
		if err != nil {
			return err
		}
		for status, n := range counts {
			o.ObserveInt64(qd, n, metric.WithAttributes(AttrStatus.String(status)))
		}
		for svc, state := range breakers() {
			o.ObserveInt64(bs, state, metric.WithAttributes(AttrService.String(svc)))
		}
		return nil
	}, qd, bs)
	if err != nil {
		return nil, fmt.Errorf("telemetry: registering gauges: %w", err)
	}
	return reg.Unregister, nil
}

// StartUnder starts a span named name as a child of parent (a span context kept from another
// goroutine, such as the hub.process_event span of a synchronous event delivered by a
// worker); with an invalid parent it starts a root span. ctx supplies cancellation and
// baggage only.
func (t *Telemetry) StartUnder(ctx context.Context, parent trace.SpanContext, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if parent.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, parent)
	}
	if len(attrs) == 0 {
		return t.tracer.Start(ctx, name)
	}
	return t.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
}

// BreakerValue maps a breaker state name ("closed", "half-open", "open") to the value of
// MetricBreakerState: 0, 1, 2; unknown names are 0.
func BreakerValue(state string) int64 {
	switch state {
	case "half-open":
		return 1
	case "open":
		return 2
	}
	return 0
}

// CountEvent counts one outcome of the service that had no delivery latency (an event
// expired or deferred before any call) in MetricEvents.
func (t *Telemetry) CountEvent(ctx context.Context, service, outcome string) {
	if t.events.Enabled(ctx) {
		t.events.Add(ctx, 1, t.set(service, outcome))
	}
}

// Child starts a span named name as a child of the span in ctx when that span is recording;
// otherwise it returns ctx and a no-op span without starting one, so that untraced requests pay
// (almost) nothing for their steps.
func (t *Telemetry) Child(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, trace.SpanFromContext(context.Background())
	}
	return t.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
}

// Record adds a finished child span named name, from start to end, under the span in ctx
// when that span is recording (a step measured before its span could be started, such as
// one pass of a fused pipeline); err, when not nil, is recorded on it.
func (t *Telemetry) Record(ctx context.Context, name string, start, end time.Time, err error, attrs ...attribute.KeyValue) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return
	}
	_, span := t.tracer.Start(ctx, name, trace.WithTimestamp(start), trace.WithAttributes(attrs...))
	if err != nil {
		span.RecordError(err, trace.WithTimestamp(end))
		span.SetStatus(codes.Error, err.Error())
	}
	span.End(trace.WithTimestamp(end))
}
