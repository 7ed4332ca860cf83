package telemetry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func setup(t *testing.T) (*Telemetry, *tracetest.SpanRecorder, *sdkmetric.ManualReader) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tel, err := New(tp, mp)
	require.NoError(t, err)
	return tel, rec, reader
}

func TestSpansNestAndRecordErrors(t *testing.T) {
	t.Parallel()
	tel, rec, _ := setup(t)
	ctx, root := tel.Start(t.Context(), SpanProcess, AttrService.String("slack"))
	_, v := tel.Start(ctx, SpanValidate)
	End(v, errors.New("contract violation"))
	_, d := tel.Start(ctx, SpanDeliver, AttrRetryCount.Int(2))
	End(d, nil)
	End(root, nil)

	spans := rec.Ended()
	require.Len(t, spans, 3)
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = s
	}
	rootSpan := byName[SpanProcess]
	assert.Equal(t, rootSpan.SpanContext().SpanID(), byName[SpanValidate].Parent().SpanID())
	assert.Equal(t, rootSpan.SpanContext().SpanID(), byName[SpanDeliver].Parent().SpanID())
	assert.Equal(t, codes.Error, byName[SpanValidate].Status().Code)
	assert.Len(t, byName[SpanValidate].Events(), 1, "the error is recorded as an event")
	assert.Contains(t, byName[SpanDeliver].Attributes(), AttrRetryCount.Int(2))
	assert.Contains(t, rootSpan.Attributes(), AttrService.String("slack"))
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	tel, _, reader := setup(t)
	ctx := t.Context()
	tel.RecordDelivery(ctx, "slack", "succeeded", 20*time.Millisecond)
	tel.RecordDelivery(ctx, "slack", "succeeded", 40*time.Millisecond)
	tel.RecordDelivery(ctx, "slack", "retrying", 5*time.Millisecond)
	tel.CountEvent(ctx, "slack", "deferred")
	unreg, err := tel.ObserveGauges(func(context.Context) (map[string]int64, error) {
		return map[string]int64{"pending": 7, "dead": 1}, nil
	}, func() map[string]int64 { return map[string]int64{"slack": 2} })
	require.NoError(t, err)
	defer func() { require.NoError(t, unreg()) }()

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	require.Len(t, rm.ScopeMetrics, 1)
	got := map[string]metricdata.Metrics{}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		got[m.Name] = m
	}
	ok := attribute.NewSet(AttrService.String("slack"), AttrOutcome.String("succeeded"))
	sum := got[MetricEvents].Data.(metricdata.Sum[int64])
	counts := map[attribute.Set]int64{}
	for _, dp := range sum.DataPoints {
		counts[dp.Attributes] = dp.Value
	}
	assert.Equal(t, int64(2), counts[ok])
	assert.Equal(t, int64(1), counts[attribute.NewSet(AttrService.String("slack"), AttrOutcome.String("deferred"))])
	hist := got[MetricDeliveryDuration].Data.(metricdata.Histogram[float64])
	for _, dp := range hist.DataPoints {
		if dp.Attributes.Equals(&ok) {
			assert.Equal(t, uint64(2), dp.Count)
			assert.InDelta(t, 60, dp.Sum, 1e-9)
		}
	}
	depth := got[MetricQueueDepth].Data.(metricdata.Gauge[int64])
	byStatus := map[string]int64{}
	for _, dp := range depth.DataPoints {
		v, _ := dp.Attributes.Value(AttrStatus)
		byStatus[v.AsString()] = dp.Value
	}
	assert.Equal(t, map[string]int64{"pending": 7, "dead": 1}, byStatus)
	br := got[MetricBreakerState].Data.(metricdata.Gauge[int64])
	require.Len(t, br.DataPoints, 1)
	assert.Equal(t, int64(2), br.DataPoints[0].Value)
}

func TestStartUnderAndBreakerValue(t *testing.T) {
	t.Parallel()
	tel, rec, _ := setup(t)
	_, root := tel.Start(t.Context(), SpanProcess)
	parent := root.SpanContext()
	_, d := tel.StartUnder(context.Background(), parent, SpanDeliver, AttrRetryCount.Int(0))
	End(d, nil)
	_, orphan := tel.StartUnder(t.Context(), trace.SpanContext{}, SpanDeliver)
	End(orphan, nil)
	End(root, nil)
	spans := rec.Ended()
	require.Len(t, spans, 3)
	assert.Equal(t, parent.SpanID(), spans[0].Parent().SpanID())
	assert.Equal(t, parent.TraceID(), spans[0].SpanContext().TraceID())
	assert.False(t, spans[1].Parent().IsValid(), "no parent: a root span")

	for state, want := range map[string]int64{"closed": 0, "half-open": 1, "open": 2, "bogus": 0} {
		assert.Equal(t, want, BreakerValue(state), state)
	}
}

func TestChildOnlyUnderRecordingSpans(t *testing.T) {
	t.Parallel()
	tel, rec, _ := setup(t)
	ctx, root := tel.Start(t.Context(), SpanProcess)
	_, c := tel.Child(ctx, SpanPersist)
	End(c, nil)
	End(root, nil)
	_, orphan := tel.Child(t.Context(), SpanPersist)
	assert.False(t, orphan.IsRecording())
	End(orphan, errors.New("ignored"))
	spans := rec.Ended()
	require.Len(t, spans, 2)
	assert.Equal(t, SpanPersist, spans[0].Name())
	assert.Equal(t, root.SpanContext().SpanID(), spans[0].Parent().SpanID())
}

// BenchmarkChildUntraced is the cost of a step span when the request is not traced (the one
// allocation is the attribute list).
func BenchmarkChildUntraced(b *testing.B) {
	tel, err := New(sdktrace.NewTracerProvider(), sdkmetric.NewMeterProvider())
	require.NoError(b, err)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, s := tel.Child(ctx, SpanValidate, AttrOperation.String("input"))
		End(s, nil)
	}
}

func TestRecordAddsAFinishedChild(t *testing.T) {
	t.Parallel()
	tel, rec, _ := setup(t)
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tel.Record(t.Context(), SpanValidate, start, start.Add(time.Millisecond), nil) // no parent: nothing
	ctx, root := tel.Start(t.Context(), SpanProcess)
	tel.Record(ctx, SpanTransform, start, start.Add(3*time.Millisecond), errors.New("mapping failed"), AttrOperation.String("mapping"))
	End(root, nil)
	spans := rec.Ended()
	require.Len(t, spans, 2)
	s := spans[0]
	assert.Equal(t, SpanTransform, s.Name())
	assert.Equal(t, root.SpanContext().SpanID(), s.Parent().SpanID())
	assert.Equal(t, start, s.StartTime())
	assert.Equal(t, 3*time.Millisecond, s.EndTime().Sub(s.StartTime()))
	assert.Equal(t, codes.Error, s.Status().Code)
	assert.Contains(t, s.Attributes(), AttrOperation.String("mapping"))
}

// BenchmarkRecordDelivery is the per-delivery cost of the metrics, with a reader and with
// none (the instruments report themselves disabled and nothing is built).
func BenchmarkRecordDelivery(b *testing.B) {
	for _, withReader := range []bool{true, false} {
		b.Run(map[bool]string{true: "reader", false: "no-reader"}[withReader], func(b *testing.B) {
			var opts []sdkmetric.Option
			if withReader {
				opts = append(opts, sdkmetric.WithReader(sdkmetric.NewManualReader()))
			}
			tel, err := New(sdktrace.NewTracerProvider(), sdkmetric.NewMeterProvider(opts...))
			require.NoError(b, err)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				tel.RecordDelivery(ctx, "slack", "succeeded", 20*time.Millisecond)
			}
		})
	}
}
