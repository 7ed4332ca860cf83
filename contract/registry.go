package contract

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// Draft selects the JSON Schema specification used for a schema without "$schema".
type Draft int

// Supported drafts. The zero value, DraftDefault, means Draft202012.
const (
	// DraftDefault selects the package default, draft 2020-12.
	DraftDefault Draft = iota
	// Draft4 is JSON Schema draft-04.
	Draft4
	// Draft6 is JSON Schema draft-06.
	Draft6
	// Draft7 is JSON Schema draft-07.
	Draft7
	// Draft201909 is JSON Schema 2019-09.
	Draft201909
	// Draft202012 is JSON Schema 2020-12.
	Draft202012
)

func (d Draft) v5() *jsonschema.Draft {
	switch d {
	case Draft4:
		return jsonschema.Draft4
	case Draft6:
		return jsonschema.Draft6
	case Draft7:
		return jsonschema.Draft7
	case Draft201909:
		return jsonschema.Draft2019
	}
	return jsonschema.Draft2020
}

// Loader fetches a schema document that a "$ref" names and the registry does not hold.
// It returns the document's bytes, or an error (wrap ErrNotFound when the URI is unknown).
// The registry never uses the network by itself: without a Loader such refs fail to compile.
// A Loader is called only during Register and Compile, with their context, and may be
// called from several goroutines.
type Loader func(ctx context.Context, uri string) ([]byte, error)

// FormatFunc reports whether s is valid for a string "format". Non-string instances are
// never passed to it (the specification says formats ignore them).
type FormatFunc func(s string) bool

type config struct {
	draft        Draft
	assertFormat bool
	limits       Limits
	loader       Loader
	logger       *slog.Logger
	formats      map[string]FormatFunc
}

// Option configures a [Registry].
type Option func(*config)

// WithDefaultDraft sets the draft for schemas without "$schema" (default 2020-12).
func WithDefaultDraft(d Draft) Option { return func(c *config) { c.draft = d } }

// WithFormatAssertion switches "format" between an assertion (true, the default: a value
// that is not a valid date-time, email, uri, uuid, ... is a violation) and an annotation
// only (false, the 2019-09/2020-12 specification default; it applies to every draft).
func WithFormatAssertion(on bool) Option { return func(c *config) { c.assertFormat = on } }

// WithLimits sets the input limits applied to raw documents and Go values (default: the
// zero Limits, meaning DefaultMaxBytes and DefaultMaxDepth). Schemas are held to them too.
func WithLimits(l Limits) Option { return func(c *config) { c.limits = l } }

// WithLoader sets the loader for "$ref"s outside the registry (default: none, such refs
// fail). Refs to registered contracts ("contract:NAME/VERSION" or a registered schema's
// absolute "$id") never reach the loader.
func WithLoader(l Loader) Option { return func(c *config) { c.loader = l } }

// WithLogger sets the logger for registrations and forced incompatible changes (default:
// discard).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithFormat registers or replaces the checker for a "format" name, in addition to the
// built-in ones (which are stricter than jsonschema v5's for hostname, email, date-time,
// ipv4, uri, regex and others).
func WithFormat(name string, check FormatFunc) Option {
	return func(c *config) {
		if c.formats == nil {
			c.formats = map[string]FormatFunc{}
		}
		c.formats[name] = check
	}
}

// Registry holds compiled contracts by name and version. Schemas are compiled once, at
// registration, and cached; lookups are lock-light and every method is safe for concurrent
// use. Create one per hub with [NewRegistry]; there is no global registry.
type Registry struct {
	cfg   config
	regMu sync.Mutex // serialises Register so compatibility is checked against a stable set

	mu     sync.RWMutex
	byName map[string][]*Compiled // ascending semver
	byID   map[string]*Compiled   // absolute "$id" -> latest registered contract with it
}

// NewRegistry returns an empty registry configured by opts.
func NewRegistry(opts ...Option) *Registry {
	cfg := config{assertFormat: true}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	return &Registry{cfg: cfg, byName: map[string][]*Compiled{}, byID: map[string]*Compiled{}}
}

// RegisterOption modifies one [Registry.Register] call.
type RegisterOption func(*registerOptions)

type registerOptions struct{ force bool }

// Force registers the version even if it breaks backward compatibility with another
// version of the same major. The breaking changes are logged at warn level.
func Force() RegisterOption { return func(o *registerOptions) { o.force = true } }

// Register compiles c and adds it to the registry, returning the compiled contract.
//
// Registering the same name and version again with an identical schema returns the
// existing contract; with a different schema it fails with ErrVersionExists. If another
// version of the same major exists, the new one must be backward compatible with its
// predecessor (and its successor with it) — otherwise Register returns an
// *IncompatibleError (ErrIncompatible) unless [Force] is given. Errors: ErrInvalidContract
// for a bad name or version, *SchemaError (also ErrInvalidContract, and the *InputError
// kind for a malformed document) for a schema that does not compile. ctx is passed to the
// Loader and checked before compiling.
func (r *Registry) Register(ctx context.Context, c Contract, opts ...RegisterOption) (*Compiled, error) {
	var ro registerOptions
	for _, o := range opts {
		if o != nil {
			o(&ro)
		}
	}
	if !validName(c.Name) {
		return nil, invalidContract("name %q must be 1-128 characters of [A-Za-z0-9._-] starting with a letter or digit", c.Name)
	}
	ver, ok := parseVersion(c.Version)
	if !ok {
		return nil, invalidContract("%s: version %q is not MAJOR.MINOR.PATCH", c.Name, c.Version)
	}
	c.Version = ver.String()

	r.regMu.Lock()
	defer r.regMu.Unlock()

	if existing, err := r.Get(c.Name, c.Version); err == nil {
		doc, derr := Decode(c.Schema, r.cfg.limits)
		if derr == nil && reflect.DeepEqual(doc, existing.doc) {
			return existing, nil
		}
		return nil, fmt.Errorf("%w: %s@%s", ErrVersionExists, c.Name, c.Version)
	}

	comp, err := r.compile(ctx, c)
	if err != nil {
		return nil, err
	}
	comp.semver = ver

	prev, next := r.neighbours(c.Name, ver)
	for _, pair := range [][2]*Compiled{{prev, comp}, {comp, next}} {
		if pair[0] == nil || pair[1] == nil {
			continue
		}
		rep := compareDocs(pair[0].doc, pair[1].doc)
		if rep.Backward {
			continue
		}
		ie := &IncompatibleError{Contract: c.Name, Old: pair[0].c.Version, New: pair[1].c.Version, Report: rep}
		if !ro.force {
			return nil, ie
		}
		r.cfg.logger.WarnContext(ctx, "contract: forced incompatible registration", "contract", c.Name, "version", c.Version, "error", ie.Error())
	}

	r.mu.Lock()
	vs := r.byName[c.Name]
	i, _ := slices.BinarySearchFunc(vs, ver, func(e *Compiled, v semver) int { return e.semver.compare(v) })
	r.byName[c.Name] = slices.Insert(vs, i, comp)
	if id := comp.id; id != "" {
		if cur, ok := r.byID[id]; !ok || cur.c.Name != c.Name || cur.semver.compare(ver) < 0 {
			r.byID[id] = comp
		}
	}
	r.mu.Unlock()
	r.cfg.logger.InfoContext(ctx, "contract: registered", "contract", c.Name, "version", c.Version)
	return comp, nil
}

// neighbours returns the closest registered versions below and above v with v's major.
func (r *Registry) neighbours(name string, v semver) (prev, next *Compiled) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, e := range r.byName[name] {
		if e.semver.major != v.major {
			continue
		}
		switch c := e.semver.compare(v); {
		case c < 0:
			prev = e
		case c > 0 && next == nil:
			next = e
		}
	}
	return prev, next
}

// Compile compiles c without registering it; "$ref"s resolve through the registry and its
// Loader as for Register. Use it to validate against an ad-hoc contract; the result is not
// cached, so keep it rather than calling Compile per value. Errors are as for Register.
func (r *Registry) Compile(ctx context.Context, c Contract) (*Compiled, error) {
	if !validName(c.Name) {
		return nil, invalidContract("name %q must be 1-128 characters of [A-Za-z0-9._-] starting with a letter or digit", c.Name)
	}
	ver, ok := parseVersion(c.Version)
	if !ok {
		return nil, invalidContract("%s: version %q is not MAJOR.MINOR.PATCH", c.Name, c.Version)
	}
	c.Version = ver.String()
	comp, err := r.compile(ctx, c)
	if err != nil {
		return nil, err
	}
	comp.semver = ver
	return comp, nil
}

// Check reports how c compares with the registered version of the same major that would
// precede it (or, if none, the latest version of any major), without registering it.
// It returns a report with Backward true and no changes when there is nothing to compare.
// Errors: ErrInvalidContract for an unusable contract.
func (r *Registry) Check(c Contract) (*Compatibility, error) {
	ver, ok := parseVersion(c.Version)
	if !ok {
		return nil, invalidContract("%s: version %q is not MAJOR.MINOR.PATCH", c.Name, c.Version)
	}
	doc, err := Decode(c.Schema, r.cfg.limits)
	if err != nil {
		return nil, &SchemaError{Contract: c.Name, Version: c.Version, Err: err}
	}
	prev, _ := r.neighbours(c.Name, ver)
	if prev == nil {
		if l, err := r.Latest(c.Name); err == nil {
			prev = l
		}
	}
	if prev == nil {
		return &Compatibility{Backward: true}, nil
	}
	return compareDocs(prev.doc, doc), nil
}

// Resolve returns the compiled form of c, the way a caller holding only a Contract value
// (for example the hub's ValidateDataContract) needs it, compiling at most once:
//
//   - with no Schema, it returns the registered version (the latest when Version is "");
//   - with a Schema, it returns the registered version if that schema is the registered
//     one, registers c if the version is new (subject to the compatibility rules of
//     Register), and fails with ErrVersionExists if the version holds another schema.
//
// Errors: ErrNotFound, ErrVersionExists, and those of Register.
func (r *Registry) Resolve(ctx context.Context, c Contract) (*Compiled, error) {
	if len(c.Schema) == 0 {
		return r.Get(c.Name, c.Version)
	}
	if existing, err := r.Get(c.Name, c.Version); err == nil {
		if bytes.Equal(existing.c.Schema, c.Schema) {
			return existing, nil
		}
		doc, derr := Decode(c.Schema, r.cfg.limits)
		if derr == nil && reflect.DeepEqual(doc, existing.doc) {
			return existing, nil
		}
		if c.Version != "" {
			return nil, fmt.Errorf("%w: %s@%s", ErrVersionExists, c.Name, c.Version)
		}
	}
	return r.Register(ctx, c)
}

// Get returns the contract registered under name and version (MAJOR.MINOR.PATCH; an empty
// version means the latest). It fails with ErrNotFound.
func (r *Registry) Get(name, version string) (*Compiled, error) {
	if version == "" {
		return r.Latest(name)
	}
	v, ok := parseVersion(version)
	if !ok {
		return nil, fmt.Errorf("%w: %s@%s (version is not MAJOR.MINOR.PATCH)", ErrNotFound, name, version)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	vs := r.byName[name]
	if i, found := slices.BinarySearchFunc(vs, v, func(e *Compiled, v semver) int { return e.semver.compare(v) }); found {
		return vs[i], nil
	}
	return nil, fmt.Errorf("%w: %s@%s", ErrNotFound, name, version)
}

// Latest returns the highest version registered under name, or ErrNotFound. Pre-release
// versions count only when no release exists.
func (r *Registry) Latest(name string) (*Compiled, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	vs := r.byName[name]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].semver.pre == "" {
			return vs[i], nil
		}
	}
	if len(vs) > 0 {
		return vs[len(vs)-1], nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
}

// Versions lists the versions registered under name in ascending semver order (nil when
// there are none).
func (r *Registry) Versions(name string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	vs := r.byName[name]
	if len(vs) == 0 {
		return nil
	}
	out := make([]string, len(vs))
	for i, e := range vs {
		out[i] = e.c.Version
	}
	return out
}

// Names lists the registered contract names in lexical order.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.byName))
	for n := range r.byName {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func (r *Registry) compile(ctx context.Context, c Contract) (*Compiled, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	schemaErr := func(err error) error { return &SchemaError{Contract: c.Name, Version: c.Version, Err: err} }
	c.Schema = slices.Clone(c.Schema) // the caller may reuse its buffer
	doc, err := Decode(c.Schema, r.cfg.limits)
	if err != nil {
		return nil, schemaErr(err)
	}
	comp := jsonschema.NewCompiler()
	comp.Draft = r.cfg.draft.v5()
	comp.AssertFormat = r.cfg.assertFormat
	if r.cfg.assertFormat {
		for name, f := range builtinFormats() {
			comp.Formats[name] = wrapFormat(f)
		}
		for name, f := range r.cfg.formats {
			comp.Formats[name] = wrapFormat(f)
		}
	} else {
		// jsonschema v5 asserts formats for drafts before 2019-09 and for any schema
		// without "$schema"; an annotation-only registry overrides every checker.
		for name := range jsonschema.Formats {
			comp.Formats[name] = annotationOnly
		}
		for name := range builtinFormats() {
			comp.Formats[name] = annotationOnly
		}
		for name := range r.cfg.formats {
			comp.Formats[name] = annotationOnly
		}
	}
	comp.RegisterExtension("empty-enum", nil, emptyEnum{})
	comp.LoadURL = func(uri string) (io.ReadCloser, error) {
		b, err := r.load(ctx, uri)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	base := c.Ref()
	if err := comp.AddResource(base, bytes.NewReader(c.Schema)); err != nil {
		return nil, schemaErr(err)
	}
	sch, err := comp.Compile(base)
	if err != nil {
		return nil, schemaErr(err)
	}
	out := newCompiled(c, doc, sch, r.cfg.limits)
	var formats map[string]func(any) bool
	if r.cfg.assertFormat {
		formats = make(map[string]func(any) bool, len(jsonschema.Formats)+len(comp.Formats))
		for name, f := range jsonschema.Formats {
			formats[name] = f
		}
		for name, f := range comp.Formats {
			formats[name] = f
		}
	}
	out.fast = buildFast(sch, formats)
	if m, ok := doc.(map[string]any); ok {
		if id, ok := m["$id"].(string); ok && strings.Contains(id, ":") {
			out.id = strings.TrimSuffix(id, "#")
		}
	}
	return out, nil
}

// load resolves a "$ref" target: registered contracts first, then the Loader.
func (r *Registry) load(ctx context.Context, uri string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(uri, refScheme); ok {
		rest = strings.TrimLeft(rest, "/")
		name, version, _ := strings.Cut(rest, "/")
		comp, err := r.Get(name, version)
		if err != nil {
			return nil, err
		}
		return comp.c.Schema, nil
	}
	r.mu.RLock()
	comp := r.byID[uri]
	r.mu.RUnlock()
	if comp != nil {
		return comp.c.Schema, nil
	}
	if r.cfg.loader == nil {
		return nil, fmt.Errorf("%w: %s (not a registered contract, and the registry has no Loader)", ErrNotFound, uri)
	}
	return r.cfg.loader(ctx, uri)
}

func annotationOnly(any) bool { return true }

func wrapFormat(f FormatFunc) func(any) bool {
	return func(v any) bool {
		s, ok := v.(string)
		return !ok || f(s)
	}
}
