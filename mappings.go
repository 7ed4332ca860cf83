package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ehg/hub/transform"
)

// compiledRule is a mapping version compiled once, when its service is registered or first
// used.
type compiledRule struct {
	key  ruleKey
	prog *transform.Program
}

// compileRule parses and compiles the mapping document of rule k. Errors are *ConfigError
// naming field, wrapping the transform package's *CompileError (line and column).
func (h *Hub) compileRule(field string, k *ruleKey, doc json.RawMessage) (*compiledRule, error) {
	if k == nil {
		return nil, nil
	}
	rules, err := transform.Parse(doc)
	if err != nil {
		return nil, configErr(field, "mapping is not a valid rules document", err)
	}
	rules.Name, rules.Version = k.Name, k.Version
	prog, err := transform.Compile(rules)
	if err != nil {
		return nil, configErr(field, "mapping does not compile", err)
	}
	return &compiledRule{key: *k, prog: prog}, nil
}

// apply runs the mapping over a JSON object and returns the output JSON and the
// transformation_applied record. Errors: ErrInvalidInput for a payload that is not an
// object, ErrTransform (with the transform package's *FieldError) when a field fails.
func (r *compiledRule) apply(ctx context.Context, in json.RawMessage) (out, applied json.RawMessage, err error) {
	m, err := decodeObject(in)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: mapping %s v%d: %w", ErrInvalidInput, r.key.Name, r.key.Version, err)
	}
	res, a, err := r.prog.Apply(ctx, m)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%w: %w", ErrTransform, err) // the *FieldError names the rules
	}
	out, err = json.Marshal(res)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: mapping %s v%d produced a value that is not JSON: %w", ErrTransform, r.key.Name, r.key.Version, err)
	}
	applied, err = json.Marshal(a)
	if err != nil {
		return nil, nil, fmt.Errorf("hub: encoding transformation record: %w", err)
	}
	return out, applied, nil
}

func decodeObject(in []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("the payload must be a JSON object: %w", err)
	}
	if m == nil {
		return nil, errors.New("the payload must be a JSON object, not null")
	}
	return m, nil
}

// transformCacheSize is how many compiled rules TransformData keeps (by content).
const transformCacheSize = 128

// TransformData compiles rules and applies them to data: raw JSON ([]byte,
// json.RawMessage) or a decoded object (map[string]any). It returns the output object.
// Compiled rules are kept by content (the last transformCacheSize distinct ones), so
// calling it again with the same rules does not compile them again.
//
// Errors: *ConfigError (ErrInvalidConfig) when rules do not compile; ErrInvalidInput when
// data is not a JSON object or is over Config.MaxPayloadBytes; ErrTransform (with the
// transform package's *FieldError naming target and expression) when a field fails; the
// context's error.
func (h *Hub) TransformData(ctx context.Context, data any, rules transform.Rules) (any, error) {
	if err := h.guard(ctx, call{method: "TransformData", perms: perms(PermTransform)}); err != nil {
		return nil, err
	}
	prog, err := h.progs.Compile(rules)
	if err != nil {
		return nil, configErr("transform.Rules", "", err)
	}
	var in map[string]any
	switch v := data.(type) {
	case json.RawMessage:
		data = []byte(v)
	}
	switch v := data.(type) {
	case []byte:
		if err := h.checkPayload(v); err != nil {
			return nil, err
		}
		if in, err = decodeObject(v); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidInput, err)
		}
	case map[string]any:
		in = v
	case nil:
		return nil, fmt.Errorf("%w: data is nil", ErrInvalidInput)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%w: data is not representable as JSON: %w", ErrInvalidInput, err)
		}
		if in, err = decodeObject(b); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidInput, err)
		}
	}
	ctx, stop := h.untilClose(ctx, true)
	defer stop()
	out, _, err := prog.Apply(ctx, in)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrTransform, err)
	}
	return out, nil
}
