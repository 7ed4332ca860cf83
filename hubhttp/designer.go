package hubhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/ehg/hub"
	"github.com/ehg/hub/contract"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/transform"
)

// The integration designer's endpoints: compile, preview and suggest mappings; validate
// documents and compare schemas. A mapping being edited is the subject of these calls, not
// an error of them: its problems are reported in the 200 response.

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

type compileParams struct {
	Body apiv1.CompileRequest `body:""`
}

func (x *Handler) compileMapping(ctx context.Context, p *compileParams) (*apiv1.CompileResult, error) {
	// the designer's endpoints are pure work, but the hub decides who may use them
	if err := x.hub.Authorize(ctx, hub.PermTransform); err != nil {
		return nil, err
	}
	rules, errs := compileDiagnostics(p.Body.Mapping)
	if rules == nil {
		return &apiv1.CompileResult{OK: false, Errors: errs}, nil
	}
	res := &apiv1.CompileResult{OK: len(errs) == 0, Errors: errs}
	for _, f := range rules.Fields {
		res.Targets = append(res.Targets, f.Target)
	}
	return res, nil
}

// compileDiagnostics parses a mapping and compiles each field on its own, so that every
// field that does not compile is reported, not only the first. rules is nil when the
// document does not parse.
func compileDiagnostics(doc json.RawMessage) (*transform.Rules, []apiv1.MappingError) {
	if absent(doc) {
		return nil, []apiv1.MappingError{{Message: "the mapping is empty"}}
	}
	rules, err := transform.Parse(doc)
	if err != nil {
		return nil, []apiv1.MappingError{{Message: err.Error()}}
	}
	var errs []apiv1.MappingError
	for _, f := range rules.Fields {
		one := transform.Rules{Fields: []transform.Field{f}, Tables: rules.Tables}
		if _, err := transform.Compile(one); err != nil {
			errs = append(errs, mappingError(err, f.Target))
		}
	}
	if len(errs) == 0 {
		if _, err := transform.Compile(rules); err != nil { // whole-document problems (duplicate or nested targets)
			errs = append(errs, mappingError(err, ""))
		}
	}
	return &rules, errs
}

func mappingError(err error, target string) apiv1.MappingError {
	var ce *transform.CompileError
	var fe *transform.FieldError
	switch {
	case errors.As(err, &ce):
		return apiv1.MappingError{Target: ce.Target, Expr: ce.Expr, Line: ce.Line, Column: ce.Column, Message: ce.Msg}
	case errors.As(err, &fe):
		return apiv1.MappingError{Target: fe.Target, Expr: fe.Expr, Line: fe.Line, Column: fe.Column, Message: fe.Msg}
	}
	return apiv1.MappingError{Target: target, Message: err.Error()}
}

type previewParams struct {
	Body apiv1.PreviewRequest `body:""`
}

func (x *Handler) previewMapping(ctx context.Context, p *previewParams) (*apiv1.PreviewResult, error) {
	if err := x.hub.Authorize(ctx, hub.PermTransform); err != nil {
		return nil, err
	}
	b := p.Body
	sample, err := decodeObject("sample", b.Sample)
	if err != nil {
		return nil, err
	}
	ref, err := x.targetContract(ctx, b.Contract, b.Service)
	if err != nil {
		return nil, err
	}
	res := &apiv1.PreviewResult{OK: true}
	if ref != nil {
		res.Contract = &apiv1.ContractRef{Name: ref.Name, Version: ref.Version}
	}
	rules, errs := compileDiagnostics(b.Mapping)
	if len(errs) > 0 {
		res.OK, res.Errors = false, errs
		return res, nil
	}
	out, err := x.hub.TransformData(ctx, sample, *rules)
	var fe *transform.FieldError
	switch {
	case errors.As(err, &fe):
		res.OK, res.Errors = false, []apiv1.MappingError{mappingError(fe, "")}
		return res, nil
	case errors.Is(err, hub.ErrTransform):
		res.OK, res.Errors = false, []apiv1.MappingError{{Message: err.Error()}}
		return res, nil
	case err != nil:
		return nil, err
	}
	if res.Output, err = json.Marshal(out); err != nil {
		return nil, fmt.Errorf("%w: the mapping's output is not JSON: %w", hub.ErrTransform, err)
	}
	if ref == nil {
		return res, nil
	}
	vr, err := x.hub.ValidateDataContract(ctx, []byte(res.Output), contract.Contract{Name: ref.Name, Version: ref.Version, Schema: ref.Schema})
	if err != nil {
		return nil, err
	}
	if !vr.Valid {
		res.OK = false
		res.Violations = contractViolations(vr.Violations)
	}
	return res, nil
}

// targetContract returns the contract given, or the canonical contract of the service
// named, or nil when neither is.
func (x *Handler) targetContract(ctx context.Context, c *apiv1.ContractRef, service string) (*apiv1.ContractRef, error) {
	switch {
	case c != nil:
		if absent(c.Schema) {
			return nil, fmt.Errorf("%w: contract.schema is required", hub.ErrInvalidInput)
		}
		if c.Name == "" {
			c.Name = "draft"
		}
		if c.Version == "" {
			c.Version = "0.0.0"
		}
		return c, nil
	case service != "":
		si, err := x.hub.GetService(ctx, service)
		if err != nil {
			return nil, err
		}
		if si.Contract == nil {
			return nil, nil
		}
		return contractRef(si.Contract), nil
	}
	return nil, nil
}

func contractViolations(vs []contract.Violation) []apiv1.Violation {
	out := make([]apiv1.Violation, 0, len(vs))
	for _, v := range vs {
		out = append(out, apiv1.Violation{Path: v.InstancePath, Keyword: v.Keyword, SchemaPath: v.SchemaPath, Message: v.Message})
	}
	return out
}

type suggestParams struct {
	Body apiv1.SuggestRequest `body:""`
}

func (x *Handler) suggestMapping(ctx context.Context, p *suggestParams) (*apiv1.SuggestResult, error) {
	if err := x.hub.Authorize(ctx, hub.PermTransform); err != nil {
		return nil, err
	}
	b := p.Body
	sample, err := decodeObject("sample", b.Sample)
	if err != nil {
		return nil, err
	}
	schema := b.Schema
	if absent(schema) {
		ref, err := x.targetContract(ctx, nil, b.Service)
		if err != nil {
			return nil, err
		}
		if ref == nil {
			return nil, fmt.Errorf("%w: give a target schema, or a service with a canonical contract", hub.ErrInvalidInput)
		}
		schema = ref.Schema
	}
	sugs, err := transform.Suggest(ctx, sample, schema)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %w", hub.ErrInvalidInput, err)
	}
	out := &apiv1.SuggestResult{Suggestions: []apiv1.Suggestion{}}
	var mapping bytes.Buffer
	mapping.WriteByte('{')
	first := true
	for _, s := range sugs {
		out.Suggestions = append(out.Suggestions, apiv1.Suggestion{Target: s.Target, Expr: s.Expr, Confidence: s.Confidence, Reason: s.Reason})
		if s.Expr == "" {
			continue
		}
		if !first {
			mapping.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(s.Target)
		v, _ := json.Marshal(s.Expr)
		mapping.Write(k)
		mapping.WriteByte(':')
		mapping.Write(v)
	}
	mapping.WriteByte('}')
	var pretty bytes.Buffer
	_ = json.Indent(&pretty, mapping.Bytes(), "", "  ")
	out.Mapping = pretty.Bytes()
	return out, nil
}

type validateParams struct {
	Body apiv1.ValidateRequest `body:""`
}

func (x *Handler) validateContract(ctx context.Context, p *validateParams) (*apiv1.ValidateResult, error) {
	b := p.Body
	if absent(b.Document) {
		return nil, fmt.Errorf("%w: document is required", hub.ErrInvalidInput)
	}
	ref, err := x.targetContract(ctx, b.Contract, b.Service)
	if err != nil {
		return nil, err
	}
	if ref == nil {
		return nil, fmt.Errorf("%w: give a contract, or a service with a canonical contract", hub.ErrInvalidInput)
	}
	vr, err := x.hub.ValidateDataContract(ctx, []byte(b.Document), contract.Contract{Name: ref.Name, Version: ref.Version, Schema: ref.Schema})
	if err != nil {
		return nil, err
	}
	out := &apiv1.ValidateResult{Contract: vr.Contract, Version: vr.Version, Valid: vr.Valid}
	if len(vr.Violations) > 0 {
		out.Violations = contractViolations(vr.Violations)
	}
	return out, nil
}

type compatParams struct {
	Body apiv1.CompatibilityRequest `body:""`
}

func (x *Handler) compatibility(ctx context.Context, p *compatParams) (*apiv1.Compatibility, error) {
	if err := x.hub.Authorize(ctx, hub.PermTransform); err != nil {
		return nil, err
	}
	b := p.Body
	if absent(b.OldSchema) || absent(b.NewSchema) {
		return nil, fmt.Errorf("%w: old_schema and new_schema are required", hub.ErrInvalidInput)
	}
	c, err := contract.Compare(b.OldSchema, b.NewSchema)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", hub.ErrInvalidInput, err)
	}
	out := &apiv1.Compatibility{Backward: c.Backward}
	for _, ch := range c.Changes {
		out.Changes = append(out.Changes, apiv1.SchemaChange{Path: ch.Path, Kind: string(ch.Kind), Breaking: ch.Breaking, Message: ch.Message})
	}
	slices.SortStableFunc(out.Changes, func(a, b apiv1.SchemaChange) int {
		if a.Path < b.Path {
			return -1
		}
		if a.Path > b.Path {
			return 1
		}
		return 0
	})
	return out, nil
}

// absent reports whether a JSON member was left out or null.
func absent(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}
