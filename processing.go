package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/ehg/hub/contract"
	"github.com/ehg/hub/internal/engine"
	"github.com/ehg/hub/internal/ids"
	"github.com/ehg/hub/internal/pipeline"
	"github.com/ehg/hub/internal/telemetry"
	"github.com/ehg/hub/resilience"
	"github.com/ehg/hub/store"
)

// ProcessIntegrationEvent runs an event through the lifecycle: check the input (size,
// nesting, JSON), resolve the service, validate the input contract, apply the mapping
// (recording rule and version), validate the canonical contract, apply the delivery
// mapping, store the event (the idempotency key dedupes), then wait for the first delivery
// attempt (Sync) or return at once (Async). When a Sync call returns, the attempt's
// outcome is already counted in the OpenTelemetry metrics and the live health figures.
//
// Errors with a nil result (nothing stored): ErrInvalidInput (empty service or payload,
// malformed JSON, over Config.MaxPayloadBytes or Config.MaxPayloadDepth, unknown priority,
// bad venture id), ErrUnknownService, *ContractViolationError (ErrContractViolation) with
// every violation, ErrTransform, ErrExpired (expires_at already past), ErrBusy (async
// backpressure or a busy store), ErrClosed, ErrNotStarted (sync on a hub not started).
//
// Errors with a result (the event is stored and will be delivered as its Status says):
// ErrDeliveryFailed (the sync attempt failed; Status is retrying, failed or dead),
// ErrCircuitOpen (the breaker is open: the event waits), ErrServiceDisabled (the service is
// inactive: the event waits), and the context's error when ctx ended while waiting.
func (h *Hub) ProcessIntegrationEvent(ctx context.Context, in EventData) (*ProcessingResult, error) {
	if err := h.guard(ctx, processCall("ProcessIntegrationEvent", in.Service, in)); err != nil {
		return nil, err
	}
	ctx, span := h.tel.Start(ctx, telemetry.SpanProcess)
	if span.IsRecording() {
		span.SetAttributes(telemetry.AttrService.String(in.Service), telemetry.AttrOperation.String(in.Operation))
	}
	res, err := h.processEvent(ctx, in)
	endProcessSpan(span, res, err)
	return res, err
}

// processEvent is ProcessIntegrationEvent inside its hub.process_event span.
func (h *Hub) processEvent(ctx context.Context, in EventData) (*ProcessingResult, error) {
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if in.Mode == Sync && !h.eng.Running() {
		return nil, fmt.Errorf("%w: synchronous delivery needs Start (use Async to only queue)", ErrNotStarted)
	}
	rt, ev, doc, err := h.newEvent(ctx, in)
	if err != nil {
		return nil, err
	}
	if in.Mode == Async {
		if err := h.admit(ctx, 1); err != nil {
			return nil, err
		}
	}
	var (
		watch <-chan engine.Outcome
		stop  = func() {}
	)
	if in.Mode == Sync {
		watch, stop = h.eng.Watch(ev.ID)
	}
	defer stop()
	if sc := trace.SpanContextFromContext(ctx); in.Mode == Sync && sc.IsValid() {
		// the worker's hub.deliver span joins this trace
		h.spans.put(ev.ID, sc)
		defer h.spans.drop(ev.ID)
	}
	pctx, ps := h.tel.Child(ctx, telemetry.SpanPersist)
	// The pipeline produced every document of ev (checked, compacted, encoded); ev is
	// handed over. Concurrent accepts share one commit (accept.go).
	stored, created, err := h.accepts.insert(pctx, ev)
	telemetry.End(ps, err)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	res := acceptedResult(stored, !created, doc.rule)
	if !created {
		return res, nil
	}
	h.noteAccepted(1)
	h.eng.Wake()
	if in.Mode == Async {
		return res, nil
	}
	switch {
	case !rt.svc.IsActive:
		return res, fmt.Errorf("%w: %q: the event is stored and waits until the service is enabled", ErrServiceDisabled, rt.svc.Name)
	case rt.policy.Ready() > 0 && !in.ChairmanOverride:
		return res, fmt.Errorf("%w: %q: the event is stored and waits %s for the breaker to let a probe through", ErrCircuitOpen, rt.svc.Name, rt.policy.Ready().Round(time.Millisecond))
	}
	return h.await(ctx, res, watch)
}

// await waits for the first attempt of the event in res: told by this hub's engine, or
// seen in the store when another hub delivered it.
func (h *Hub) await(ctx context.Context, res *ProcessingResult, watch <-chan engine.Outcome) (*ProcessingResult, error) {
	poll := time.NewTicker(min(h.cfg.PollInterval, 250*time.Millisecond))
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("hub: waiting for delivery of event %s: %w", res.EventID, ctx.Err())
		case <-h.done:
			return res, fmt.Errorf("%w while waiting for delivery of event %s (it stays queued)", ErrClosed, res.EventID)
		case o := <-watch:
			if o.Lost {
				continue
			}
			res.Status, res.ResponseCode, res.ResponseTime = o.Status, o.ResponseCode, o.Latency
			res.RetryCount, res.NextAttemptAt, res.Error = o.RetryCount, o.NextAttemptAt, o.ErrorText
			switch {
			case o.Status == store.StatusSucceeded:
				return res, nil
			case o.Class == resilience.ClassRejected && errors.Is(o.Err, resilience.ErrCircuitOpen):
				return res, fmt.Errorf("%w: %s: the event waits for the breaker", ErrCircuitOpen, res.ServiceName)
			case o.Class == resilience.ClassRejected || o.Class == resilience.ClassCanceled:
				// nothing reached the service; the event is due again shortly
				var stop func()
				watch, stop = h.eng.Watch(res.EventID)
				defer stop()
				continue
			case o.Status == store.StatusExpired:
				return res, fmt.Errorf("%w: event %s", ErrExpired, res.EventID)
			default:
				return res, withDestination(fmt.Errorf("%w: event %s is %s: %s", ErrDeliveryFailed, res.EventID, o.Status, o.ErrorText), o.Err)
			}
		case <-poll.C:
			ev, err := h.st.GetEvent(ctx, res.EventID)
			if err != nil {
				continue
			}
			if ev.Status == store.StatusPending || ev.Status == store.StatusProcessing ||
				(ev.Status == store.StatusRetrying && ev.RetryCount == 0) {
				continue
			}
			r := resultOf(ev, res.Duplicate)
			r.RuleName, r.RuleVersion = res.RuleName, res.RuleVersion
			switch ev.Status {
			case store.StatusSucceeded:
				return r, nil
			case store.StatusExpired:
				return r, fmt.Errorf("%w: event %s", ErrExpired, r.EventID)
			default:
				return r, fmt.Errorf("%w: event %s is %s: %s", ErrDeliveryFailed, r.EventID, ev.Status, r.Error)
			}
		}
	}
}

// ProcessIntegrationEvents accepts many events at once, asynchronously: each is checked,
// mapped and validated as by ProcessIntegrationEvent, then all are stored in one store
// transaction (where the store allows) and queued. Mode is ignored. Results are in the
// order of evs; a duplicate key returns the earlier event with Duplicate set (also within
// evs: the first one wins).
//
// Errors (nothing stored): those of ProcessIntegrationEvent for the first bad event,
// wrapped with its index, e.g. "hub: event 3: hub: contract violation: ..."; ErrBusy when
// the batch would exceed Config.MaxQueuedEvents; ErrClosed.
func (h *Hub) ProcessIntegrationEvents(ctx context.Context, evs []EventData) ([]*ProcessingResult, error) {
	if err := h.guard(ctx, processCall("ProcessIntegrationEvents", "", evs...)); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if len(evs) == 0 {
		return nil, nil
	}
	batch := make([]*store.Event, len(evs))
	rules := make([]ruleKey, len(evs))
	for i, in := range evs {
		in.Mode = Async
		_, ev, doc, err := h.newEvent(ctx, in)
		if err != nil {
			return nil, within(err, "event %d", i)
		}
		batch[i], rules[i] = ev, doc.rule
	}
	if err := h.admit(ctx, len(evs)); err != nil {
		return nil, err
	}
	var ins []store.InsertResult
	var err error
	if mem := h.accepts.mem; mem != nil {
		ins, err = mem.AdoptEvents(ctx, batch) // the documents are the pipeline's: no copy
	} else {
		ins, err = h.st.InsertEvents(store.CheckedDocuments(ctx), batch)
	}
	if err != nil {
		return nil, mapStoreErr(err)
	}
	out := make([]*ProcessingResult, len(ins))
	created := 0
	for i, r := range ins {
		out[i] = acceptedResult(r.Event, !r.Created, rules[i])
		if r.Created {
			created++
		}
	}
	h.noteAccepted(created)
	h.eng.Wake()
	return out, nil
}

// newEvent checks in, resolves its service, runs contracts and mappings, and builds the
// event record to insert.
func (h *Hub) newEvent(ctx context.Context, in EventData) (*runtime, *store.Event, *prepared, error) {
	if in.Mode != Sync && in.Mode != Async {
		return nil, nil, nil, fmt.Errorf("%w: unknown delivery mode %d", ErrInvalidInput, in.Mode)
	}
	if in.Priority == "" {
		in.Priority = store.PriorityNormal
	}
	if !in.Priority.Valid() {
		return nil, nil, nil, fmt.Errorf("%w: unknown priority %q", ErrInvalidInput, in.Priority)
	}
	if in.VentureID != "" && !isUUID(in.VentureID) {
		return nil, nil, nil, fmt.Errorf("%w: venture id %q is not a UUID", ErrInvalidInput, in.VentureID)
	}
	if len(in.IdempotencyKey) > 512 {
		return nil, nil, nil, fmt.Errorf("%w: idempotency key longer than 512 bytes", ErrInvalidInput)
	}
	now := h.cfg.Clock()
	if in.ExpiresAt != nil && !now.Before(*in.ExpiresAt) {
		return nil, nil, nil, fmt.Errorf("%w: expires_at %s is not after now", ErrExpired, in.ExpiresAt.UTC().Format(time.RFC3339Nano))
	}
	rt, err := h.runtimeFor(ctx, in.Service)
	if err != nil {
		return nil, nil, nil, err
	}
	if rt.meta.Removed != nil {
		return nil, nil, nil, fmt.Errorf("%w: %q was removed and accepts no events", ErrUnknownService, in.Service)
	}
	doc, err := h.run(ctx, rt, in.Payload)
	if err != nil {
		return nil, nil, nil, err
	}
	ev := &store.Event{
		ID:                    ids.New(),
		VentureID:             in.VentureID,
		ServiceID:             rt.svc.ID,
		ServiceName:           rt.svc.Name,
		ServiceType:           rt.svc.ConnectorKind,
		Operation:             in.Operation,
		EndpointURL:           rt.svc.BaseURL,
		RequestMethod:         store.MethodPost,
		PayloadIn:             doc.payloadIn,
		TransformationApplied: doc.applied,
		MaxRetries:            rt.policy.MaxRetries(),
		PriorityLevel:         in.Priority,
		ChairmanOverride:      in.ChairmanOverride,
		ExpiresAt:             in.ExpiresAt,
		IdempotencyKey:        in.IdempotencyKey,
	}
	// Each document is stored once: canonical_mapping only when a mapping made it (else it
	// is payload_in), payload_out only when a delivery mapping made it (else it is the
	// canonical document). The engine delivers the first of payload_out, canonical_mapping
	// and payload_in that is set.
	if rt.mapping != nil {
		ev.CanonicalMapping = doc.canonical
	}
	if rt.delivery != nil {
		ev.PayloadOut = doc.delivery
	}
	ev.SubjectKey = h.subjectKeyOf(rt, ev)
	return rt, ev, doc, nil
}

// prepared is an event payload after contracts and mappings.
type prepared struct {
	payloadIn json.RawMessage
	canonical json.RawMessage
	delivery  json.RawMessage
	applied   json.RawMessage
	rule      ruleKey
}

// run puts payload through the service's compiled pipeline (payload checks, input
// contract, mapping, canonical contract, delivery mapping) and maps its failures to the
// hub's errors.
func (h *Hub) run(ctx context.Context, rt *runtime, payload json.RawMessage) (*prepared, error) {
	start := time.Now()
	rctx, stop := h.untilClose(ctx, rt.mapping != nil || rt.delivery != nil)
	res, err := rt.pipe.Run(rctx, payload)
	stop()
	var herr error
	if err != nil {
		herr = h.pipelineErr(ctx, rt, err)
	}
	h.pipelineSpans(ctx, rt, start, err, herr)
	if err != nil {
		return nil, herr
	}
	p := &prepared{payloadIn: res.PayloadIn, canonical: res.Canonical, delivery: res.Delivery, applied: res.Applied}
	if rt.mapping != nil {
		p.rule = rt.mapping.key
	}
	return p, nil
}

func (h *Hub) pipelineErr(ctx context.Context, rt *runtime, err error) error {
	var pe *pipeline.Error
	if !errors.As(err, &pe) {
		return err
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return ctx.Err()
	}
	var ve *contract.ValidationError
	switch pe.Stage {
	case pipeline.StagePayload, pipeline.StageSize:
		return fmt.Errorf("%w: %w", ErrInvalidInput, pe)
	case pipeline.StageInput, pipeline.StageCanonical:
		c, stage := rt.input, "input"
		if pe.Stage == pipeline.StageCanonical {
			c, stage = rt.canon, "canonical"
		}
		if errors.As(pe.Err, &ve) {
			return rt.personal.maskViolations(violationError(stage, c.key.Name, c.key.Version, ve))
		}
		if errors.Is(pe.Err, contract.ErrBadInput) {
			return kindf(ErrInvalidInput, pe, "%s: %s document for contract %s@%s: %v", ErrInvalidInput, stage, c.key.Name, c.key.Version, pe.Err)
		}
		return fmt.Errorf("hub: validating against %s@%s: %w", c.key.Name, c.key.Version, pe)
	case pipeline.StageMapping:
		// The transform package's errors name the rules and version; the hub adds only its kind.
		if errors.Is(pe, pipeline.ErrNotObject) {
			return kindf(ErrInvalidInput, pe, "%s: mapping %s v%d reads a JSON object; the payload is another JSON value", ErrInvalidInput, rt.mapping.key.Name, rt.mapping.key.Version)
		}
		return fmt.Errorf("%w: %w", ErrTransform, pe)
	case pipeline.StageDelivery:
		return fmt.Errorf("%w: %w", ErrTransform, pe)
	}
	return fmt.Errorf("hub: event pipeline: %w", pe)
}

// checkPayload enforces presence, size, JSON well-formedness, UTF-8 and nesting depth, with
// the checks and limits ProcessIntegrationEvent applies.
func (h *Hub) checkPayload(p json.RawMessage) error {
	if err := pipeline.CheckPayload(p, h.cfg.MaxPayloadBytes, h.cfg.MaxPayloadDepth); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return nil
}

func compact(p json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, p); err != nil {
		return append(json.RawMessage(nil), p...)
	}
	return b.Bytes()
}

// deliveryDoc returns the first document that is set.
func deliveryDoc(docs ...json.RawMessage) json.RawMessage {
	for _, d := range docs {
		if len(d) > 0 {
			return d
		}
	}
	return nil
}

func isUUID(s string) bool { return uuid.Validate(s) == nil }

// admit applies the async backpressure limit.
func (h *Hub) admit(ctx context.Context, n int) error {
	if h.cfg.MaxQueuedEvents == 0 {
		return nil
	}
	h.depthMu.Lock()
	defer h.depthMu.Unlock()
	now := time.Now()
	if now.Sub(h.depthAt) > min(h.cfg.PollInterval, time.Second) || h.depth+int64(n) > int64(h.cfg.MaxQueuedEvents) {
		counts, err := h.st.CountEventsByStatus(ctx, store.EventFilter{
			Statuses: []store.EventStatus{store.StatusPending, store.StatusRetrying, store.StatusProcessing},
		})
		if err != nil {
			return mapStoreErr(err)
		}
		var n int64
		for _, c := range counts {
			n += c
		}
		h.depth, h.depthAt = n, now
	}
	if h.depth+int64(n) > int64(h.cfg.MaxQueuedEvents) {
		return fmt.Errorf("%w: %d events are waiting for delivery (limit %d)", ErrBusy, h.depth, h.cfg.MaxQueuedEvents)
	}
	return nil
}

func (h *Hub) noteAccepted(n int) {
	if h.cfg.MaxQueuedEvents == 0 {
		return
	}
	h.depthMu.Lock()
	h.depth += int64(n)
	h.depthMu.Unlock()
}

// resultOf describes a stored event.
func resultOf(ev *store.Event, dup bool) *ProcessingResult {
	r := describe(ev, dup)
	if len(ev.TransformationApplied) > 0 {
		var a struct {
			Name    string `json:"name"`
			Version int    `json:"version"`
		}
		if json.Unmarshal(ev.TransformationApplied, &a) == nil {
			r.RuleName, r.RuleVersion = a.Name, a.Version
		}
	}
	return r
}

// acceptedResult is resultOf for an event just accepted with the mapping rule applied to
// it: the rule is known, its transformation_applied record need not be decoded.
func acceptedResult(ev *store.Event, dup bool, rule ruleKey) *ProcessingResult {
	r := describe(ev, dup)
	r.RuleName, r.RuleVersion = rule.Name, rule.Version
	return r
}

// describe is resultOf without the rule.
func describe(ev *store.Event, dup bool) *ProcessingResult {
	r := &ProcessingResult{
		EventID:       ev.ID,
		ServiceID:     ev.ServiceID,
		ServiceName:   ev.ServiceName,
		Status:        ev.Status,
		Duplicate:     dup,
		Canonical:     deliveryDoc(nil, ev.CanonicalMapping, ev.PayloadIn),
		ResponseCode:  ev.ResponseCode,
		ResponseTime:  time.Duration(ev.ResponseTimeMS) * time.Millisecond,
		RetryCount:    ev.RetryCount,
		NextAttemptAt: ev.NextAttemptAt,
	}
	if len(ev.ErrorDetails) > 0 {
		var d struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(ev.ErrorDetails, &d) == nil {
			r.Error = d.Error
		}
	}
	return r
}
