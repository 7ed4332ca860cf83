package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ehg/hub/contract"
)

// compiledContract is a contract version compiled once, at registration or first use.
type compiledContract struct {
	key contractKey
	c   *contract.Compiled
}

// compileContract compiles (and caches in the hub's contract registry) the contract k with
// its schema. Errors are *ConfigError naming field.
func (h *Hub) compileContract(ctx context.Context, field string, k *contractKey, schema json.RawMessage) (*compiledContract, error) {
	if k == nil {
		return nil, nil
	}
	c := contract.Contract{Name: k.Name, Version: k.Version, Schema: schema}
	if cur, err := h.contracts.Get(k.Name, k.Version); err == nil {
		if jsonEqual(cur.Contract().Schema, schema) {
			return &compiledContract{key: *k, c: cur}, nil
		}
		return nil, configErr(field, fmt.Sprintf("contract %s@%s is already known with a different schema; publish a new version", k.Name, k.Version), contract.ErrVersionExists)
	}
	comp, err := h.contracts.Register(ctx, c)
	if err != nil {
		return nil, configErr(field, "", err)
	}
	return &compiledContract{key: *k, c: comp}, nil
}

// check validates doc; a violation is a *ContractViolationError with every violation, an
// unreadable document ErrInvalidInput.
func (c *compiledContract) check(_ context.Context, stage string, doc json.RawMessage) error {
	_, err := c.c.ValidateJSON(doc)
	if err == nil {
		return nil
	}
	var ve *contract.ValidationError
	if errors.As(err, &ve) {
		return violationError(stage, c.key.Name, c.key.Version, ve)
	}
	if errors.Is(err, contract.ErrBadInput) {
		return fmt.Errorf("%w: %s document for contract %s@%s: %w", ErrInvalidInput, stage, c.key.Name, c.key.Version, err)
	}
	return fmt.Errorf("hub: validating against %s@%s: %w", c.key.Name, c.key.Version, err)
}

func violationError(stage, name, version string, ve *contract.ValidationError) *ContractViolationError {
	e := &ContractViolationError{Stage: stage, Contract: name, Version: version, Err: ve}
	for _, v := range ve.Violations {
		e.Violations = append(e.Violations, Violation{Path: v.InstancePath, Keyword: v.Keyword, SchemaPath: v.SchemaPath, Message: v.Message})
	}
	return e
}

// ValidateDataContract validates data against c. data may be raw JSON ([]byte,
// json.RawMessage) or a decoded value. A contract registered earlier under the same name and
// version with the same schema is reused; otherwise c is compiled for this call.
//
// A non-conforming value is not an error: the result lists the violations (Valid false).
// Errors: *ConfigError (ErrInvalidConfig) for a contract that does not compile or reuses a
// known version with another schema; ErrInvalidInput for data that is not a usable JSON
// document (too large, too deep, invalid UTF-8, duplicate keys); the context's error.
func (h *Hub) ValidateDataContract(ctx context.Context, data any, c contract.Contract) (*contract.Result, error) {
	if err := h.guard(ctx, call{method: "ValidateDataContract", perms: perms(PermTransform)}); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	comp, err := h.contracts.Get(c.Name, c.Version)
	if err != nil || !jsonEqual(comp.Contract().Schema, c.Schema) {
		if comp, err = h.contracts.Compile(ctx, c); err != nil {
			return nil, configErr("contract.Contract", "", err)
		}
	}
	if raw, ok := data.(json.RawMessage); ok {
		data = []byte(raw)
	}
	if b, ok := data.([]byte); ok {
		if len(b) > h.cfg.MaxPayloadBytes {
			return nil, fmt.Errorf("%w: document is %d bytes, over the %d-byte limit", ErrInvalidInput, len(b), h.cfg.MaxPayloadBytes)
		}
	}
	res, err := comp.Validate(data)
	var ve *contract.ValidationError
	switch {
	case err == nil || errors.As(err, &ve):
		return res, nil
	case errors.Is(err, contract.ErrBadInput):
		return nil, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	default:
		return nil, err
	}
}
