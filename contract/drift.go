package contract

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// DriftKind classifies a difference between observed payloads and their contract.
type DriftKind string

// Drift kinds.
const (
	// DriftUndeclared: payloads carry a field the contract does not declare (neither in
	// properties, patternProperties nor an additionalProperties schema).
	DriftUndeclared DriftKind = "undeclared-field"
	// DriftMissingRequired: payloads lack a field the contract requires.
	DriftMissingRequired DriftKind = "missing-required"
	// DriftTypeMismatch: payloads carry a field with a JSON type the contract does not allow.
	DriftTypeMismatch DriftKind = "type-mismatch"
)

// Finding is one kind of drift at one path, aggregated over the observed payloads.
type Finding struct {
	// Kind classifies the finding.
	Kind DriftKind `json:"kind"`
	// Path is the JSON Pointer of the field; array elements are written "*", so
	// "/labels/*/name" covers every label.
	Path string `json:"path"`
	// Count is the number of payloads in which the finding was seen.
	Count int64 `json:"count"`
	// FirstSeen and LastSeen are the observation times of the first and last such payload.
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	// Expected lists the allowed JSON types, for type mismatches.
	Expected []string `json:"expected,omitempty"`
	// Observed counts the JSON types seen at Path ("integer" for whole numbers), for
	// undeclared fields and type mismatches.
	Observed map[string]int64 `json:"observed,omitempty"`
}

// DriftReport summarises what an [Observer] has seen.
type DriftReport struct {
	// Contract and Version identify the observed contract.
	Contract string `json:"contract"`
	Version  string `json:"version"`
	// Samples is the number of payloads observed; Findings counts are out of it.
	Samples int64 `json:"samples"`
	// Findings lists every finding, ordered by path then kind.
	Findings []Finding `json:"findings,omitempty"`
	// Dropped counts observations of new findings discarded because the Observer already
	// held its maximum number of findings.
	Dropped int64 `json:"dropped,omitempty"`
}

// ObserverOption configures an [Observer].
type ObserverOption func(*Observer)

// WithClock sets the time source for FirstSeen/LastSeen (default time.Now).
func WithClock(now func() time.Time) ObserverOption { return func(o *Observer) { o.now = now } }

// DefaultMaxFindings is the default bound on distinct findings an Observer keeps.
const DefaultMaxFindings = 1024

// WithMaxFindings bounds the distinct (kind, path) findings an Observer keeps, so payloads
// with ever-new keys cannot grow it without limit (default DefaultMaxFindings). Findings
// beyond the bound are counted in DriftReport.Dropped.
func WithMaxFindings(n int) ObserverOption {
	return func(o *Observer) {
		if n > 0 {
			o.maxFindings = n
		}
	}
}

// Observer watches payloads of one contract and aggregates how they drift from it. It is
// safe for concurrent use; memory grows with the number of distinct drifting paths, not
// with the number of payloads.
type Observer struct {
	c    *Compiled
	now  func() time.Time
	root string // location prefix of the contract's own document

	maxFindings int

	mu       sync.Mutex
	samples  int64
	dropped  int64
	findings map[findingKey]*findingState
}

type findingKey struct {
	kind DriftKind
	path string
}

type findingState struct {
	Finding
	schemaPtr string // pointer into the contract document: object (undeclared, missing) or field (type)
	field     string // undeclared/missing property name
	shape     *shape // inferred shape of undeclared values
}

// NewObserver returns an Observer for the compiled contract c.
func NewObserver(c *Compiled, opts ...ObserverOption) *Observer {
	o := &Observer{c: c, now: time.Now, maxFindings: DefaultMaxFindings, findings: map[findingKey]*findingState{}}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	o.root = strings.TrimSuffix(c.schema.Location, "#")
	return o
}

// Observe records one payload (any form Validate accepts). It returns an *InputError for
// input that is not a usable document; drift itself is never an error.
func (o *Observer) Observe(v any) error {
	doc, err := prepare(v, o.c.limits)
	if err != nil {
		return err
	}
	var seen []obs
	o.walk(o.c.schema, doc, "", &seen, 0)
	now := o.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.samples++
	counted := map[findingKey]bool{}
	for _, s := range seen {
		k := findingKey{s.kind, s.path}
		st := o.findings[k]
		if st == nil {
			if len(o.findings) >= o.maxFindings {
				o.dropped++
				continue
			}
			st = &findingState{Finding: Finding{Kind: s.kind, Path: s.path, FirstSeen: now, Expected: s.expected}, schemaPtr: s.schemaPtr, field: s.field}
			o.findings[k] = st
		}
		if !counted[k] {
			counted[k] = true
			st.Count++
			st.LastSeen = now
		}
		if s.kind != DriftMissingRequired {
			if st.Observed == nil {
				st.Observed = map[string]int64{}
			}
			st.Observed[jsonTypeOf(s.value)]++
		}
		if s.kind == DriftUndeclared {
			if st.shape == nil {
				st.shape = &shape{}
			}
			st.shape.add(s.value)
		}
	}
	return nil
}

// ObserveJSON decodes data strictly and observes it.
func (o *Observer) ObserveJSON(data []byte) error {
	doc, err := Decode(data, o.c.limits)
	if err != nil {
		return err
	}
	return o.Observe(doc)
}

// Report returns a snapshot of the findings so far.
func (o *Observer) Report() *DriftReport {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := &DriftReport{Contract: o.c.c.Name, Version: o.c.c.Version, Samples: o.samples, Dropped: o.dropped}
	for _, st := range o.findings {
		f := st.Finding
		f.Expected = slices.Clone(f.Expected)
		if f.Observed != nil {
			m := make(map[string]int64, len(f.Observed))
			for k, v := range f.Observed {
				m[k] = v
			}
			f.Observed = m
		}
		r.Findings = append(r.Findings, f)
	}
	slices.SortFunc(r.Findings, func(a, b Finding) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(string(a.Kind), string(b.Kind))
	})
	return r
}

type obs struct {
	kind      DriftKind
	path      string
	schemaPtr string
	field     string
	value     any
	expected  []string
}

// view is the merged effect of a schema and the schemas it applies in place ($ref, allOf).
type view struct {
	types      []string
	props      map[string]*jsonschema.Schema
	required   []string
	patterns   []*jsonschema.Schema
	patternRes []func(string) bool
	additional *jsonschema.Schema
	items      *jsonschema.Schema
	prefix     []*jsonschema.Schema
	ptr        string // own-document pointer of the schema holding properties/type, "" if none
	ptrOK      bool
}

func (o *Observer) ownPointer(s *jsonschema.Schema) (string, bool) {
	rest, ok := strings.CutPrefix(s.Location, o.root+"#")
	if !ok {
		return "", false
	}
	if p, err := url.PathUnescape(rest); err == nil {
		rest = p
	}
	return rest, true
}

func (o *Observer) merge(s *jsonschema.Schema, v *view, depth int, top bool) {
	if s == nil || depth > 16 {
		return
	}
	if top {
		v.ptr, v.ptrOK = o.ownPointer(s)
	}
	if len(s.Types) > 0 && v.types == nil {
		v.types = s.Types
	}
	for n, p := range s.Properties {
		if v.props == nil {
			v.props = map[string]*jsonschema.Schema{}
		}
		if _, ok := v.props[n]; !ok {
			v.props[n] = p
		}
	}
	v.required = append(v.required, s.Required...)
	for re, p := range s.PatternProperties {
		v.patterns = append(v.patterns, p)
		v.patternRes = append(v.patternRes, re.MatchString)
	}
	if a, ok := s.AdditionalProperties.(*jsonschema.Schema); ok && v.additional == nil {
		v.additional = a
	}
	if v.items == nil {
		switch it := s.Items.(type) {
		case *jsonschema.Schema:
			v.items = it
		case []*jsonschema.Schema:
			v.prefix = it
			if a, ok := s.AdditionalItems.(*jsonschema.Schema); ok {
				v.items = a
			}
		}
		if s.Items2020 != nil {
			v.items = s.Items2020
		}
		if len(s.PrefixItems) > 0 {
			v.prefix = s.PrefixItems
		}
	}
	o.merge(s.Ref, v, depth+1, false)
	o.merge(s.DynamicRef, v, depth+1, false)
	o.merge(s.RecursiveRef, v, depth+1, false)
	for _, a := range s.AllOf {
		o.merge(a, v, depth+1, false)
	}
}

func typeAllowed(types []string, t string) bool {
	for _, x := range types {
		if x == t || (x == "number" && t == "integer") {
			return true
		}
	}
	return false
}

func (o *Observer) walk(s *jsonschema.Schema, v any, path string, out *[]obs, depth int) {
	if s == nil || depth > 64 {
		return
	}
	var vw view
	o.merge(s, &vw, 0, true)
	t := jsonTypeOf(v)
	if len(vw.types) > 0 && !typeAllowed(vw.types, t) {
		*out = append(*out, obs{kind: DriftTypeMismatch, path: path, value: v, expected: vw.types, schemaPtr: ptrIf(vw)})
		return
	}
	switch val := v.(type) {
	case map[string]any:
		for _, r := range vw.required {
			if _, ok := val[r]; !ok {
				*out = append(*out, obs{kind: DriftMissingRequired, path: joinPointer(path, r), field: r, schemaPtr: ptrIf(vw)})
			}
		}
		for k, e := range val {
			p := joinPointer(path, k)
			if ps, ok := vw.props[k]; ok {
				o.walk(ps, e, p, out, depth+1)
				continue
			}
			matched := false
			for i, re := range vw.patternRes {
				if re(k) {
					matched = true
					o.walk(vw.patterns[i], e, p, out, depth+1)
				}
			}
			if matched {
				continue
			}
			if vw.additional != nil && vw.additional.Always == nil {
				o.walk(vw.additional, e, p, out, depth+1)
				continue
			}
			*out = append(*out, obs{kind: DriftUndeclared, path: p, field: k, value: e, schemaPtr: ptrIf(vw)})
		}
	case []any:
		for i, e := range val {
			if i < len(vw.prefix) {
				o.walk(vw.prefix[i], e, path+"/"+fmt.Sprint(i), out, depth+1)
			} else if vw.items != nil {
				o.walk(vw.items, e, path+"/*", out, depth+1)
			}
		}
	}
}

// ptrIf returns the own-document pointer of a view, or "!" when it is not in the document.
func ptrIf(v view) string {
	if !v.ptrOK {
		return "!"
	}
	return v.ptr
}

// Proposal is a suggested next version of a contract, inferred from observed drift.
type Proposal struct {
	// Contract is the proposed definition (same name, new version, amended schema).
	Contract Contract `json:"contract"`
	// Compatibility compares the current version with the proposal.
	Compatibility *Compatibility `json:"compatibility"`
	// Applied describes each amendment made; Skipped each finding that could not be
	// applied automatically (for example drift under a $ref to another document).
	Applied []string `json:"applied,omitempty"`
	Skipped []string `json:"skipped,omitempty"`
}

// Propose infers the next version of the contract from the findings so far: undeclared
// fields are added as optional properties with the schema inferred from their values,
// type mismatches widen the field's "type", and required fields found missing become
// optional. version is the new version; "" means the next minor version (or the next
// major if the amendments turn out to break compatibility). Errors: ErrInvalidContract for
// a bad version.
func (o *Observer) Propose(version string) (*Proposal, error) {
	o.mu.Lock()
	states := make([]*findingState, 0, len(o.findings))
	for _, st := range o.findings {
		cp := *st
		if st.shape != nil {
			cp.shape = st.shape.clone()
		}
		states = append(states, &cp)
	}
	o.mu.Unlock()
	slices.SortFunc(states, func(a, b *findingState) int { return strings.Compare(a.Path, b.Path) })

	doc := deepCopy(o.c.doc)
	p := &Proposal{}
	for _, st := range states {
		if st.schemaPtr == "!" {
			p.Skipped = append(p.Skipped, fmt.Sprintf("%s %s: declared in another document or through $ref", st.Kind, st.Path))
			continue
		}
		node, ok := lookup(doc, st.schemaPtr).(map[string]any)
		if !ok {
			p.Skipped = append(p.Skipped, fmt.Sprintf("%s %s: schema location %q is not an object schema", st.Kind, st.Path, st.schemaPtr))
			continue
		}
		switch st.Kind {
		case DriftUndeclared:
			props, _ := node["properties"].(map[string]any)
			if props == nil {
				props = map[string]any{}
				node["properties"] = props
			}
			props[st.field] = st.shape.schema()
			p.Applied = append(p.Applied, fmt.Sprintf("declared optional property %s (seen in %d of %d payloads)", st.Path, st.Count, o.samples))
		case DriftTypeMismatch:
			types := typeList(node["type"])
			if len(types) == 0 {
				p.Skipped = append(p.Skipped, fmt.Sprintf("%s %s: type declared through $ref or allOf", st.Kind, st.Path))
				continue
			}
			for t := range st.Observed {
				if !typeAllowed(types, t) {
					types = append(types, t)
				}
			}
			slices.Sort(types)
			node["type"] = toAnyStrings(types)
			p.Applied = append(p.Applied, fmt.Sprintf("widened the type of %s to %s", st.Path, strings.Join(types, ", ")))
		case DriftMissingRequired:
			req, ok := node["required"].([]any)
			if !ok {
				p.Skipped = append(p.Skipped, fmt.Sprintf("%s %s: required through $ref or allOf", st.Kind, st.Path))
				continue
			}
			kept := req[:0:0]
			for _, r := range req {
				if r != st.field {
					kept = append(kept, r)
				}
			}
			node["required"] = kept
			p.Applied = append(p.Applied, fmt.Sprintf("made %s optional (missing in %d of %d payloads)", st.Path, st.Count, o.samples))
		}
	}
	schema, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	cmp := compareDocs(o.c.doc, doc)
	cur := o.c.semver
	if version == "" {
		next := semver{major: cur.major, minor: cur.minor + 1}
		if !cmp.Backward {
			next = semver{major: cur.major + 1}
		}
		version = next.String()
	} else if _, ok := parseVersion(version); !ok {
		return nil, invalidContract("version %q is not MAJOR.MINOR.PATCH", version)
	}
	p.Contract = Contract{Name: o.c.c.Name, Version: version, Schema: schema}
	p.Compatibility = cmp
	return p, nil
}

func typeList(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func toAnyStrings(ss []string) any {
	if len(ss) == 1 {
		return ss[0]
	}
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// maxShapeProps bounds the properties inferred per object, against ever-new keys.
const maxShapeProps = 256

// shape accumulates what a set of sample values look like, to infer a schema.
type shape struct {
	count    int64
	types    map[string]int64
	objects  int64
	props    map[string]*shape
	items    *shape
	dateTime bool // every string sample is an RFC 3339 date-time
	strings  int64
}

func (s *shape) add(v any) {
	s.count++
	if s.types == nil {
		s.types = map[string]int64{}
	}
	t := jsonTypeOf(v)
	s.types[t]++
	switch val := v.(type) {
	case map[string]any:
		s.objects++
		if s.props == nil {
			s.props = map[string]*shape{}
		}
		for k, e := range val {
			ps := s.props[k]
			if ps == nil {
				if len(s.props) >= maxShapeProps {
					continue
				}
				ps = &shape{}
				s.props[k] = ps
			}
			ps.add(e)
		}
	case []any:
		if s.items == nil {
			s.items = &shape{}
		}
		for _, e := range val {
			s.items.add(e)
		}
	case string:
		_, err := time.Parse(time.RFC3339, val)
		if s.strings == 0 {
			s.dateTime = err == nil
		} else {
			s.dateTime = s.dateTime && err == nil
		}
		s.strings++
	}
}

func (s *shape) clone() *shape {
	if s == nil {
		return nil
	}
	c := *s
	c.types = map[string]int64{}
	for k, v := range s.types {
		c.types[k] = v
	}
	if s.props != nil {
		c.props = map[string]*shape{}
		for k, v := range s.props {
			c.props[k] = v.clone()
		}
	}
	c.items = s.items.clone()
	return &c
}

// schema renders the inferred schema: the union of the types seen ("integer" folded into
// "number" when both appear), properties present in every object sample required.
func (s *shape) schema() map[string]any {
	out := map[string]any{}
	if s == nil || s.count == 0 {
		return out
	}
	var types []string
	for t := range s.types {
		types = append(types, t)
	}
	if slices.Contains(types, "number") && slices.Contains(types, "integer") {
		types = slices.DeleteFunc(types, func(t string) bool { return t == "integer" })
	}
	slices.Sort(types)
	out["type"] = toAnyStrings(types)
	if s.props != nil {
		props := map[string]any{}
		var req []any
		for _, k := range sortedKeys(s.props) {
			props[k] = s.props[k].schema()
			if s.props[k].count == s.objects {
				req = append(req, k)
			}
		}
		out["properties"] = props
		if len(req) > 0 {
			out["required"] = req
		}
	}
	if s.items != nil && s.items.count > 0 {
		out["items"] = s.items.schema()
	}
	if s.strings > 0 && s.dateTime && len(types) == 1 {
		out["format"] = "date-time"
	}
	return out
}

// InferSchema infers a JSON Schema (draft 2020-12) describing every sample: the types
// seen at each path, object properties (required when present in every sample), array
// items, and "format": "date-time" for strings that all are RFC 3339. Samples may be in
// any form Validate accepts. Errors: an *InputError for an unusable sample, or
// ErrBadInput when there are no samples.
func InferSchema(samples ...any) (json.RawMessage, error) {
	if len(samples) == 0 {
		return nil, fmt.Errorf("%w: no samples to infer a schema from", ErrBadInput)
	}
	var s shape
	for _, v := range samples {
		doc, err := prepare(v, Limits{})
		if err != nil {
			return nil, err
		}
		s.add(doc)
	}
	out := s.schema()
	out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	return json.Marshal(out)
}
