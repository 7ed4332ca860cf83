package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ehg/hub/internal/engine"
	"github.com/ehg/hub/internal/jsonproj"
	"github.com/ehg/hub/internal/privacy"
	"github.com/ehg/hub/store"
)

// Personal data in contracts.
//
// A service's contracts may mark fields personal ("x-pii": true or a category such as
// "email", "phone", "name") and one field as the data subject ("x-subject": true). The
// hub then:
//   - indexes every stored event by the keyed hash of its subject (Event.SubjectKey), so
//     EraseSubject and ExportSubject find the subject's events and the index itself holds
//     no personal data;
//   - keeps the event's personal values out of error details, logs and span attributes
//     (they are replaced by "[masked]" wherever a remote or a validator echoes them);
//   - with Config.MaskDelivered, stores delivered events with those fields masked.

// personalData is what one service's contracts mark personal.
type personalData struct {
	// canon marks the canonical document (canonical_mapping, or payload_in when the
	// service has no mapping); input marks payload_in when an input contract applies.
	canon, input *privacy.Fields
	// mapped is true when canonical_mapping holds the canonical document.
	mapped bool
	// subject is where the subject's identifier is read: "canonical", "input" or "".
	subject string
	// subjectProj decodes only the subject field of that document.
	subjectProj *jsonproj.Projection
}

// any reports whether anything is marked personal.
func (p personalData) any() bool { return !p.canon.Empty() || !p.input.Empty() }

// personalOf reads the personal-data annotations of a service's contracts. A subject
// field needs the subject key (Config.SubjectKey or SecretKey).
func (h *Hub) personalOf(src sources, mapped bool) (personalData, error) {
	p := personalData{mapped: mapped}
	var err error
	if len(src.canonSchema) > 0 {
		if p.canon, err = privacy.FromSchema(src.canonSchema); err != nil {
			return p, configErr("IntegrationConfig.Contract", "personal-data annotations", err)
		}
	}
	if len(src.inputSchema) > 0 {
		if p.input, err = privacy.FromSchema(src.inputSchema); err != nil {
			return p, configErr("IntegrationConfig.InputContract", "personal-data annotations", err)
		}
	}
	var path []string
	switch {
	case p.canon.HasSubject():
		p.subject, path = "canonical", p.canon.SubjectPath()
	case p.input.HasSubject():
		p.subject, path = "input", p.input.SubjectPath()
	default:
		return p, nil
	}
	if h.subjectKey == nil {
		return p, configErr("Config.SecretKey", `a contract marks a data subject ("x-subject"): the subject index needs Config.SecretKey or Config.SubjectKey`, nil)
	}
	p.subjectProj = jsonproj.All()
	if dotted := strings.Join(path, "."); !strings.ContainsAny(strings.Join(path, ""), ".[]") {
		if proj, err := jsonproj.New(dotted); err == nil {
			p.subjectProj = proj
		}
	}
	return p, nil
}

// describeFields renders personal fields as a report lists them: "path" or
// "path=category".
func describeFields(f *privacy.Fields) []string {
	var out []string
	for _, fl := range f.List() {
		s := fl.String()
		if fl.Category != "" {
			s += "=" + fl.Category
		}
		out = append(out, s)
	}
	return out
}

// subjectOf returns the dotted path of the subject field, or "".
func subjectOf(f *privacy.Fields) string {
	if !f.HasSubject() {
		return ""
	}
	return strings.Join(f.SubjectPath(), ".")
}

// canonicalDoc returns the document of ev the canonical contract describes.
func (p personalData) canonicalDoc(ev *store.Event) json.RawMessage {
	if p.mapped && len(ev.CanonicalMapping) > 0 {
		return ev.CanonicalMapping
	}
	return ev.PayloadIn
}

// subjectKey returns the subject-index key of an event about to be stored, or "".
func (h *Hub) subjectKeyOf(rt *runtime, ev *store.Event) string {
	p := rt.personal
	if p.subject == "" || h.subjectKey == nil {
		return ""
	}
	doc, fields := ev.PayloadIn, p.input
	if p.subject == "canonical" {
		doc, fields = p.canonicalDoc(ev), p.canon
	}
	m, err := p.subjectProj.Decode(doc, jsonproj.Options{UseNumber: true})
	if err != nil {
		return "" // the pipeline accepted the document: this does not happen
	}
	subject, ok := fields.Subject(m)
	if !ok {
		return ""
	}
	return privacy.SubjectKey(h.subjectKey, subject)
}

// values returns the personal values of ev, longest first: those at the personal paths of
// the canonical document and of the input document.
func (p personalData) values(ev *store.Event) []string {
	if !p.any() {
		return nil
	}
	var lists [][]string
	if !p.canon.Empty() {
		if doc, err := privacy.Decode(p.canonicalDoc(ev)); err == nil {
			lists = append(lists, p.canon.Values(doc))
		}
	}
	if !p.input.Empty() && len(ev.PayloadIn) > 0 {
		if doc, err := privacy.Decode(ev.PayloadIn); err == nil {
			lists = append(lists, p.input.Values(doc))
		}
	}
	return privacy.MergeValues(lists...)
}

// scrubErr returns err with the event's personal values masked in its text (the chain is
// kept for errors.Is/As), or err itself when the service marks nothing personal.
func (p personalData) scrubErr(ev *store.Event, err error) error {
	if err == nil || !p.any() {
		return err
	}
	vals := p.values(ev)
	msg := err.Error()
	if s := privacy.ScrubText(msg, vals, privacy.Masked); s != msg {
		return &scrubbedError{msg: s, err: err}
	}
	return err
}

// maskViolations withholds, in a copy of cv, the messages of violations located at or
// under a field the contract marks personal: such a message may quote the value.
func (p personalData) maskViolations(cv *ContractViolationError) *ContractViolationError {
	fields := p.canon
	if cv.Stage == "input" {
		fields = p.input
	}
	if fields.Empty() {
		return cv
	}
	c := *cv
	c.Violations = append([]Violation(nil), cv.Violations...)
	for i, v := range c.Violations {
		if fields.Covers(v.Path) {
			c.Violations[i].Message = fmt.Sprintf("the value of a personal field fails %q (value withheld)", v.Keyword)
		}
	}
	return &c
}

// erase returns ev's documents with the subject's personal data removed: the personal
// paths of the documents whose contract is known replaced with privacy.Erased, and every
// personal value found there replaced wherever else it occurs (payload_out, error details,
// a payload_in the canonical contract does not describe).
func (p personalData) erase(ev *store.Event) (store.EraseParams, int, error) {
	return p.mask(ev, privacy.Erased)
}

func (p personalData) mask(ev *store.Event, token string) (store.EraseParams, int, error) {
	out := store.EraseParams{ID: ev.ID, UpdatedAt: ev.UpdatedAt}
	vals := p.values(ev)
	total := 0
	doc := func(raw json.RawMessage, fields ...*privacy.Fields) (json.RawMessage, error) {
		if len(raw) == 0 {
			return nil, nil
		}
		v, err := privacy.Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("hub: event %s: %w", ev.ID, err)
		}
		for _, f := range fields {
			total += f.Mask(v, token)
		}
		v, n := privacy.ScrubDoc(v, vals, token)
		total += n
		return privacy.Encode(v)
	}
	var err error
	inFields := []*privacy.Fields{p.input}
	if !p.mapped {
		inFields = append(inFields, p.canon) // payload_in is the canonical document
	}
	if out.PayloadIn, err = doc(ev.PayloadIn, inFields...); err != nil {
		return out, 0, err
	}
	if out.CanonicalMapping, err = doc(ev.CanonicalMapping, p.canon); err != nil {
		return out, 0, err
	}
	if out.PayloadOut, err = doc(ev.PayloadOut); err != nil {
		return out, 0, err
	}
	if out.ErrorDetails, err = doc(ev.ErrorDetails); err != nil {
		return out, 0, err
	}
	return out, total, nil
}

// MaskDelivered implements engine.Masker: with Config.MaskDelivered, a delivered event's
// documents are stored with their personal values masked.
func (e engineTarget) MaskDelivered(ev *store.Event) (payloadIn, canonical, payloadOut json.RawMessage) {
	if !e.h.cfg.MaskDelivered || !e.rt.personal.any() {
		return nil, nil, nil
	}
	m, n, err := e.rt.personal.mask(ev, privacy.Masked)
	if err != nil || n == 0 {
		if err != nil {
			e.h.log.Warn("hub: masking a delivered event failed; it is stored as received",
				slog.String("event", ev.ID), slog.Any("error", err))
		}
		return nil, nil, nil
	}
	return m.PayloadIn, m.CanonicalMapping, m.PayloadOut
}

// personalFor returns what the contracts of a service mark personal: from its runtime when
// this hub has one, else from its stored contracts (a removed service has no runtime).
func (h *Hub) personalFor(ctx context.Context, serviceID string) (personalData, error) {
	h.mu.RLock()
	rt := h.byID[serviceID]
	h.mu.RUnlock()
	if rt != nil {
		return rt.personal, nil
	}
	svc, err := h.st.GetService(ctx, serviceID)
	if err != nil {
		return personalData{}, mapStoreErr(err)
	}
	meta, err := parseMeta(svc.SchemaMappings)
	if err != nil {
		return personalData{}, configErr("schema_mappings", "stored service metadata is unreadable", err)
	}
	src, err := h.loadSources(ctx, meta)
	if err != nil {
		return personalData{}, err
	}
	return h.personalOf(src, meta.Mapping != nil)
}

// logOutcome writes one delivery outcome at debug level. Its error text is the engine's
// scrubbed one: no secret, no personal value.
func (h *Hub) logOutcome(o engine.Outcome) {
	if !h.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{slog.String("event", o.EventID), slog.String("service_id", o.ServiceID),
		slog.String("status", string(o.Status)), slog.Int("retry_count", o.RetryCount),
		slog.Duration("latency", o.Latency)}
	if o.ResponseCode != 0 {
		attrs = append(attrs, slog.Int("response_code", o.ResponseCode))
	}
	if o.ErrorText != "" {
		attrs = append(attrs, slog.String("error", o.ErrorText))
	}
	h.log.LogAttrs(context.Background(), slog.LevelDebug, "hub: delivery outcome", attrs...)
}
