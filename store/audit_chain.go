package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AuditGenesisHash is the PrevHash of the first entry of an audit chain: 64 zeros.
const AuditGenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// AuditHashVersion names the canonical encoding [AuditEntryHash] hashes. It is the first
// field of the encoding, so a future encoding cannot collide with this one.
const AuditHashVersion = "hub.audit.v1"

// AuditCanonical returns the canonical encoding of an audit entry, the bytes whose SHA-256
// is its Hash. It is a sequence of netstrings — for each field, its length in bytes in
// decimal, a colon, the bytes, a comma — of these fields in this order:
//
//	AuditHashVersion ("hub.audit.v1")
//	Seq               decimal, no sign or leading zeros
//	PrevHash          64 lowercase hex digits
//	ID, Actor, Action, EntityType, EntityID   as stored (UTF-8)
//	CreatedAt         UTC, RFC 3339 with exactly six fractional digits: 2006-01-02T15:04:05.000000Z
//	Before, After     canonical JSON, or empty when absent or JSON null
//
// Canonical JSON is the value re-encoded without insignificant space: object members sorted
// by key (bytewise UTF-8), strings escaped as Go's encoding/json does with HTML escaping off,
// numbers with an integral value of magnitude below 2^63 written as decimal integers and all
// others as the shortest decimal that round-trips a float64 (strconv 'g', -1). Stores that reformat JSON
// (PostgreSQL's jsonb reorders keys, drops spaces, writes 1e2 as 100) therefore hash the same.
// CreatedAt is hashed at [Precision], as stores keep it.
func AuditCanonical(a *AuditEntry) ([]byte, error) {
	before, err := CanonicalJSON(a.Before)
	if err != nil {
		return nil, fmt.Errorf("%w: audit before: %v", ErrInvalidArgument, err)
	}
	after, err := CanonicalJSON(a.After)
	if err != nil {
		return nil, fmt.Errorf("%w: audit after: %v", ErrInvalidArgument, err)
	}
	var b bytes.Buffer
	for _, f := range [][]byte{
		[]byte(AuditHashVersion),
		[]byte(strconv.FormatInt(a.Seq, 10)),
		[]byte(a.PrevHash),
		[]byte(a.ID), []byte(a.Actor), []byte(a.Action), []byte(a.EntityType), []byte(a.EntityID),
		[]byte(Timestamp(a.CreatedAt).Format("2006-01-02T15:04:05.000000Z")),
		before, after,
	} {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.Write(f)
		b.WriteByte(',')
	}
	return b.Bytes(), nil
}

// AuditEntryHash returns the lowercase hex SHA-256 of a's canonical encoding
// ([AuditCanonical]); Hash itself is not part of it.
func AuditEntryHash(a *AuditEntry) (string, error) {
	enc, err := AuditCanonical(a)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(enc)
	return hex.EncodeToString(sum[:]), nil
}

// ChainAudit makes a the entry after the head (headSeq, headHash; 0 and "" for an empty
// chain): it sets Seq, PrevHash and Hash. ID and CreatedAt must be set already, at the
// precision the store keeps. Stores call it inside the serialised append.
func ChainAudit(a *AuditEntry, headSeq int64, headHash string) error {
	if headHash == "" {
		headHash = AuditGenesisHash
	}
	a.Seq, a.PrevHash = headSeq+1, headHash
	h, err := AuditEntryHash(a)
	if err != nil {
		return err
	}
	a.Hash = h
	return nil
}

// CanonicalJSON returns doc re-encoded canonically (see [AuditCanonical]); nil for an absent
// document or JSON null.
func CanonicalJSON(doc json.RawMessage) ([]byte, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errInvalidJSON
	}
	if v == nil {
		return nil, nil
	}
	var b bytes.Buffer
	if err := canonicalValue(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func canonicalValue(b *bytes.Buffer, v any) error {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case json.Number:
		if n, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			b.WriteString(strconv.FormatInt(n, 10))
			return nil
		}
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil && !isRangeErr(err) {
			return err
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("number %s out of range", t)
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			b.WriteString(strconv.FormatInt(int64(f), 10))
			return nil
		}
		b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	case string:
		writeJSONString(b, t)
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := canonicalValue(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			if err := canonicalValue(b, t[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("unexpected JSON value %T", v)
	}
	return nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Truncate(b.Len() - 1)
}

// AuditCheckpoint is a signed statement of an audit chain's head: the chain had Size
// entries (Seq 1 to Size) and the entry at Seq Size had Hash. Note is the signed note text
// (golang.org/x/mod/sumdb/note format) the hub's key produced; package audit builds and
// verifies it.
type AuditCheckpoint struct {
	Size      int64     `json:"size"`
	Hash      string    `json:"hash"`
	Note      string    `json:"note"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks the size, the hash's form and that a note is present.
func (c *AuditCheckpoint) Validate() error {
	switch {
	case c.Size <= 0:
		return invalid("audit checkpoint size %d must be positive", c.Size)
	case !isHexHash(c.Hash):
		return invalid("audit checkpoint hash %q is not 64 lowercase hex digits", c.Hash)
	case strings.TrimSpace(c.Note) == "":
		return invalid("audit checkpoint note is empty")
	}
	return nil
}

func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// AuditCheckpointStore is the optional capability of keeping signed audit checkpoints
// (table audit_checkpoints, append-only like the log). Find it with a type assertion.
type AuditCheckpointStore interface {
	// AddAuditCheckpoint stores c after c.Validate, stamping CreatedAt. A checkpoint of the
	// same size exists already: the call does nothing and returns nil when its hash is the
	// same, ErrConflict when it differs.
	AddAuditCheckpoint(ctx context.Context, c *AuditCheckpoint) error
	// ListAuditCheckpoints returns the checkpoints whose Size is in [fromSize, toSize]
	// (toSize 0: no upper bound), smallest first, at most page.Limit.
	ListAuditCheckpoints(ctx context.Context, fromSize, toSize int64, page Page) ([]*AuditCheckpoint, error)
	// LatestAuditCheckpoint returns the checkpoint of the largest Size, or ErrNotFound.
	LatestAuditCheckpoint(ctx context.Context) (*AuditCheckpoint, error)
	// AuditHead returns the newest entry of the chain (the largest Seq), or ErrNotFound
	// when the log is empty.
	AuditHead(ctx context.Context) (*AuditEntry, error)
}

// AuditRetentionStore is the optional capability of shortening the audit log from its
// start, and only below a signed retention horizon (table audit_horizons, append-only):
// a checkpoint, signed with the hub's audit key, of the entry at seq Size, which becomes
// the trusted anchor of the chain once the entries at or below it are gone. Entries above
// the latest horizon cannot be deleted (the SQL stores refuse it at the database too).
// Find it with a type assertion.
type AuditRetentionStore interface {
	AuditCheckpointStore
	// AddAuditHorizon stores h after h.Validate, stamping CreatedAt. The entry at seq
	// h.Size must be stored with hash h.Hash and must not be the head (an entry after it
	// exists), else ErrInvalidArgument. A horizon of the same size exists already: the call
	// does nothing and returns nil when its hash is the same, ErrConflict when it differs.
	// The store does not verify the signature: verification does (package audit).
	AddAuditHorizon(ctx context.Context, h *AuditCheckpoint) error
	// LatestAuditHorizon returns the horizon of the largest Size, or ErrNotFound.
	LatestAuditHorizon(ctx context.Context) (*AuditCheckpoint, error)
	// DeleteAuditToHorizon deletes at most limit (positive, else ErrInvalidArgument) of the
	// oldest entries whose Seq is at or below the latest horizon's Size, in one short
	// transaction, and returns how many it deleted (0: none is left; also 0 without a
	// horizon).
	DeleteAuditToHorizon(ctx context.Context, limit int) (int64, error)
}
