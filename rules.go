package hub

import (
	"context"
	"encoding/json"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/transform"
)

// ruleSide is the document a rule reads (source) or writes (target): a contract with its
// schema, when the service names one.
type ruleSide struct {
	contract *contractKey
	schema   json.RawMessage
}

// ruleSides are the source and target of a rule.
type ruleSides struct{ source, target ruleSide }

// mappingSides: the mapping reads the event (the input contract's document, when set) and
// writes the canonical document (the service's contract, when set).
func mappingSides(m serviceMeta, src sources) ruleSides {
	return ruleSides{source: ruleSide{m.InputContract, src.inputSchema}, target: ruleSide{m.Contract, src.canonSchema}}
}

// deliverySides: the delivery mapping reads the canonical document; what it writes is the
// connector's request, which no contract describes.
func deliverySides(m serviceMeta, src sources) ruleSides {
	return ruleSides{source: ruleSide{m.Contract, src.canonSchema}}
}

// document is how a side is stored in source_schema or target_schema: the contract's name
// and version with its schema; nil when the side has no contract.
func (s ruleSide) document() json.RawMessage {
	if s.contract == nil {
		return nil
	}
	return mustJSON(struct {
		Name    string          `json:"name"`
		Version string          `json:"version"`
		Schema  json.RawMessage `json:"schema"`
	}{s.contract.Name, s.contract.Version, compact(s.schema)})
}

// ref is "name@version", "" without a contract.
func (s ruleSide) ref() string {
	if s.contract == nil {
		return ""
	}
	return s.contract.Name + "@" + s.contract.Version
}

// validationRules is the rule's validation_rules column: what the hub checks around the
// rule — the contract its input must satisfy, the one its output must satisfy, and the
// size and nesting limits applied to the payload — as it was when the version was stored.
func (h *Hub) validationRules(sides ruleSides) json.RawMessage {
	return mustJSON(struct {
		SourceContract  string `json:"source_contract,omitempty"`
		TargetContract  string `json:"target_contract,omitempty"`
		MaxPayloadBytes int    `json:"max_payload_bytes"`
		MaxPayloadDepth int    `json:"max_payload_depth"`
	}{sides.source.ref(), sides.target.ref(), h.cfg.MaxPayloadBytes, h.cfg.MaxPayloadDepth})
}

// storeRule stores a mapping as rule version k and makes it the active one. The record says
// what the rule is: source_schema and target_schema hold the contracts (name, version and
// schema) it reads and writes, when known; validation_rules the checks around it; and
// is_bidirectional whether the mapping declares an inverse.
func (h *Hub) storeRule(ctx context.Context, serviceID string, k *ruleKey, logic json.RawMessage, sides ruleSides) error {
	if k == nil {
		return nil
	}
	r := &store.TransformationRule{Name: k.Name, Version: k.Version, ServiceID: serviceID, TransformationLogic: compact(logic),
		SourceSchema: sides.source.document(), TargetSchema: sides.target.document(),
		ValidationRules: h.validationRules(sides), IsBidirectional: bidirectional(logic)}
	if _, err := h.st.CreateRule(ctx, r); err != nil {
		return mapStoreErr(err)
	}
	if _, err := h.st.ActivateRule(ctx, k.Name, k.Version); err != nil {
		return mapStoreErr(err)
	}
	return nil
}

// bidirectional reports whether a mapping document declares an inverse. The document has
// been compiled already, so a parse failure cannot happen here; it reads as false.
func bidirectional(logic json.RawMessage) bool {
	r, err := transform.Parse(logic)
	return err == nil && r.IsBidirectional()
}
