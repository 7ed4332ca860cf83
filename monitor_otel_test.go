package hub_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
)

func attrOf(attrs []attribute.KeyValue, key string) (attribute.Value, bool) {
	for _, kv := range attrs {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// trace returns the spans of the event's hub.process_event span and its children by name.
func traceOf(t *testing.T, spans []sdktrace.ReadOnlySpan, eventID string) (sdktrace.ReadOnlySpan, map[string][]sdktrace.ReadOnlySpan) {
	t.Helper()
	var root sdktrace.ReadOnlySpan
	for _, s := range spans {
		if v, ok := attrOf(s.Attributes(), "hub.event.id"); ok && v.AsString() == eventID && s.Name() == "hub.process_event" {
			root = s
		}
	}
	require.NotNil(t, root, "no hub.process_event span for event %s", eventID)
	kids := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		if s.Parent().SpanID() == root.SpanContext().SpanID() {
			kids[s.Name()] = append(kids[s.Name()], s)
		}
	}
	return root, kids
}

func TestTelemetryThroughTheHub(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	h := hubtest.New(t, nil, hub.WithTracerProvider(tp), hub.WithMeterProvider(mp))
	rem := newRemote(t)
	registerMonitored(t, h, "items", rem.URL, `{"interval_seconds":-1}`, workItemService)
	ctx := t.Context()

	ok, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "items", Payload: issueEvent, Operation: "deliver"})
	require.NoError(t, err)
	root, kids := traceOf(t, rec.Ended(), ok.EventID)
	assert.Equal(t, codes.Unset, root.Status().Code)
	for _, name := range []string{"hub.validate", "hub.transform", "hub.persist", "hub.deliver"} {
		require.NotEmpty(t, kids[name], "child %s of hub.process_event", name)
	}
	v, _ := attrOf(root.Attributes(), "hub.service")
	assert.Equal(t, "items", v.AsString())
	v, _ = attrOf(root.Attributes(), "hub.status")
	assert.Equal(t, "succeeded", v.AsString())
	d := kids["hub.deliver"][0]
	assert.Equal(t, root.SpanContext().TraceID(), d.SpanContext().TraceID(), "the worker's delivery joins the event's trace")
	for key, want := range map[string]string{"hub.service": "items", "hub.operation": "deliver", "hub.status": "succeeded", "hub.event.id": ok.EventID} {
		v, found := attrOf(d.Attributes(), key)
		require.True(t, found, key)
		assert.Equal(t, want, v.AsString(), key)
	}
	v, _ = attrOf(d.Attributes(), "hub.retry_count")
	assert.EqualValues(t, 0, v.AsInt64())

	// A failing delivery: the error is recorded on the deliver and process spans.
	rem.deliverStatus.Store(500)
	bad, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "items", Payload: issueWith(t, func(is map[string]any) { is["number"] = 7 })})
	require.ErrorIs(t, err, hub.ErrDeliveryFailed)
	root, kids = traceOf(t, rec.Ended(), bad.EventID)
	assert.Equal(t, codes.Error, root.Status().Code)
	require.Len(t, kids["hub.deliver"], 1)
	d = kids["hub.deliver"][0]
	assert.Equal(t, codes.Error, d.Status().Code)
	require.NotEmpty(t, d.Events(), "the error is recorded as an exception event")
	assert.Equal(t, "exception", d.Events()[0].Name)

	// A payload the mapping cannot apply fails in the transform span, before anything is
	// stored: no persist span.
	before := len(rec.Ended())
	_, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "items", Payload: json.RawMessage(`{"issue":{"title":7}}`)})
	require.ErrorIs(t, err, hub.ErrTransform)
	names := map[string]codes.Code{}
	for _, s := range rec.Ended()[before:] {
		names[s.Name()] = s.Status().Code
	}
	assert.Equal(t, map[string]codes.Code{"hub.validate": codes.Unset, "hub.transform": codes.Error, "hub.process_event": codes.Error}, names)

	// Metrics: events by service and outcome, latency, queue depth, breaker state.
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	got := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			got[m.Name] = m
		}
	}
	events := map[string]int64{}
	for _, dp := range got["hub.events"].Data.(metricdata.Sum[int64]).DataPoints {
		svc, _ := dp.Attributes.Value("hub.service")
		out, _ := dp.Attributes.Value("hub.outcome")
		events[svc.AsString()+"/"+out.AsString()] = dp.Value
	}
	assert.Equal(t, map[string]int64{"items/succeeded": 1, "items/dead": 1}, events)
	var latencies uint64
	for _, dp := range got["hub.delivery.duration"].Data.(metricdata.Histogram[float64]).DataPoints {
		latencies += dp.Count
	}
	assert.EqualValues(t, 2, latencies)
	depth := map[string]int64{}
	for _, dp := range got["hub.queue.depth"].Data.(metricdata.Gauge[int64]).DataPoints {
		st, _ := dp.Attributes.Value("hub.status")
		depth[st.AsString()] = dp.Value
	}
	assert.Equal(t, map[string]int64{"succeeded": 1, "dead": 1}, depth)
	br := got["hub.breaker.state"].Data.(metricdata.Gauge[int64]).DataPoints
	require.Len(t, br, 1)
	assert.EqualValues(t, 0, br[0].Value)
}
