package redact

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// TracerProvider wraps tp so that the spans of its tracers are redacted with r: string
// attributes (at start and later), recorded errors, status descriptions, event names and
// attributes, and span names.
func TracerProvider(tp trace.TracerProvider, r *Redactor) trace.TracerProvider {
	return &tracerProvider{TracerProvider: tp, r: r}
}

type tracerProvider struct {
	trace.TracerProvider
	r *Redactor
}

// Tracer returns a redacting tracer.
func (p *tracerProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return &tracer{Tracer: p.TracerProvider.Tracer(name, opts...), r: p.r}
}

type tracer struct {
	trace.Tracer
	r *Redactor
}

// Start starts a span of the wrapped tracer and returns it redacting (also in the context).
func (t *tracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	ctx, span := t.Tracer.Start(ctx, t.r.String(name), opts...)
	if !span.IsRecording() {
		return ctx, span
	}
	s := &redSpan{Span: span, r: t.r}
	cfg := trace.NewSpanStartConfig(opts...)
	if attrs := cfg.Attributes(); len(attrs) > 0 {
		if red, changed := s.attrs(attrs); changed {
			span.SetAttributes(red...) // the same keys: the redacted values replace the others
		}
	}
	return trace.ContextWithSpan(ctx, s), s
}

// redSpan redacts what is recorded on the wrapped span.
type redSpan struct {
	trace.Span
	r *Redactor
}

func (s *redSpan) attrs(in []attribute.KeyValue) ([]attribute.KeyValue, bool) {
	out := make([]attribute.KeyValue, len(in))
	changed := false
	for i, kv := range in {
		out[i] = kv
		switch kv.Value.Type() {
		case attribute.STRING:
			if red := s.r.String(kv.Value.AsString()); red != kv.Value.AsString() {
				out[i] = kv.Key.String(red)
				changed = true
			}
		case attribute.STRINGSLICE:
			vs := kv.Value.AsStringSlice()
			red := make([]string, len(vs))
			for j, v := range vs {
				red[j] = s.r.String(v)
				if red[j] != v {
					changed = true
				}
			}
			out[i] = kv.Key.StringSlice(red)
		}
	}
	return out, changed
}

// SetAttributes sets the attributes redacted.
func (s *redSpan) SetAttributes(kv ...attribute.KeyValue) {
	red, _ := s.attrs(kv)
	s.Span.SetAttributes(red...)
}

// RecordError records err with a redacted text, and any event attributes redacted.
func (s *redSpan) RecordError(err error, opts ...trace.EventOption) {
	s.Span.RecordError(s.r.Error(err), s.eventOpts(opts)...)
}

// SetStatus sets the status with a redacted description.
func (s *redSpan) SetStatus(code codes.Code, description string) {
	s.Span.SetStatus(code, s.r.String(description))
}

// AddEvent adds the event with a redacted name and attributes.
func (s *redSpan) AddEvent(name string, opts ...trace.EventOption) {
	s.Span.AddEvent(s.r.String(name), s.eventOpts(opts)...)
}

// SetName renames the span, redacted.
func (s *redSpan) SetName(name string) { s.Span.SetName(s.r.String(name)) }

func (s *redSpan) eventOpts(opts []trace.EventOption) []trace.EventOption {
	cfg := trace.NewEventConfig(opts...)
	attrs := cfg.Attributes()
	if len(attrs) == 0 {
		return opts
	}
	red, changed := s.attrs(attrs)
	if !changed {
		return opts
	}
	out := []trace.EventOption{trace.WithAttributes(red...), trace.WithTimestamp(cfg.Timestamp())}
	if cfg.StackTrace() {
		out = append(out, trace.WithStackTrace(true))
	}
	return out
}
