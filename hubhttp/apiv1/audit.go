package apiv1

import "encoding/json"

// AuditExportLine is one line of GET /audit/export (JSON Lines, package audit's format): the
// header first (format, the checkpoints' verifier key, the anchor the first entry follows),
// then every entry in chain order, then the signed checkpoints. Verify it offline with
// audit.VerifyExport and the hub's public key.
type AuditExportLine struct {
	Type       string          `json:"type" enum:"header,entry,checkpoint"`
	Format     string          `json:"format,omitempty"`
	Key        string          `json:"key,omitempty" doc:"the checkpoints' public key (note verifier key)"`
	AnchorSeq  int64           `json:"anchor_seq,omitempty"`
	AnchorHash string          `json:"anchor_hash,omitempty"`
	Entry      json.RawMessage `json:"entry,omitempty" doc:"an audit entry with seq, prev_hash and hash"`
	Checkpoint json.RawMessage `json:"checkpoint,omitempty" doc:"size, hash and the signed note"`
}
