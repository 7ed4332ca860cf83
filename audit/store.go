package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ehg/hub/store"
)

// pageSize is how many entries or checkpoints one store read returns.
const pageSize = 1000

// Range selects the entries a verification or export covers. The zero value covers the
// whole log.
type Range struct {
	// From and To bound the entries' creation time to [From, To); zero is unbounded. The
	// range runs from the first entry (in seq order) created at or after From to the last
	// created before To.
	From, To time.Time
}

// seqRange resolves r to the seqs it covers: [first, last] (last 0: up to the head), and the
// anchor entry before first. empty reports that no entry is in range.
func seqRange(ctx context.Context, st store.AuditStore, r Range) (first, last int64, anchor *store.AuditEntry, empty bool, err error) {
	first = 1
	if !r.From.IsZero() || !r.To.IsZero() {
		es, err := st.ListAudit(ctx, store.AuditFilter{From: r.From, To: r.To, Page: store.Page{Limit: 1}})
		if err != nil {
			return 0, 0, nil, false, fmt.Errorf("audit: read log: %w", err)
		}
		if len(es) == 0 {
			return 0, 0, nil, true, nil
		}
		first = es[0].Seq
	}
	if !r.To.IsZero() {
		// the last entry created before To: the first at or after To, minus one
		es, err := st.ListAudit(ctx, store.AuditFilter{From: r.To, FromSeq: first, Page: store.Page{Limit: 1}})
		if err != nil {
			return 0, 0, nil, false, fmt.Errorf("audit: read log: %w", err)
		}
		if len(es) > 0 {
			last = es[0].Seq - 1
		}
	}
	if first > 1 {
		es, err := st.ListAudit(ctx, store.AuditFilter{ToSeq: first - 1, FromSeq: first - 1, Page: store.Page{Limit: 1}})
		if err != nil {
			return 0, 0, nil, false, fmt.Errorf("audit: read log: %w", err)
		}
		if len(es) > 0 {
			anchor = es[0]
		}
	}
	return first, last, anchor, false, nil
}

// horizonAt returns the latest signed retention horizon of st when the range starting at
// first begins at or before the entry after it (the entries up to it are removed, so the
// range must be anchored at it), and first moved past it; nil when the store keeps no
// horizon or the range starts later.
func horizonAt(ctx context.Context, st store.AuditStore, first int64) (*store.AuditCheckpoint, int64, error) {
	rs, ok := st.(store.AuditRetentionStore)
	if !ok {
		return nil, first, nil
	}
	h, err := rs.LatestAuditHorizon(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, first, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("audit: read retention horizon: %w", err)
	}
	if first > h.Size+1 {
		return nil, first, nil
	}
	return h, h.Size + 1, nil
}

// eachEntry calls fn with the entries of seqs [first, last] (last 0: all), in seq order.
func eachEntry(ctx context.Context, st store.AuditStore, first, last int64, fn func(*store.AuditEntry) error) error {
	for off := 0; ; off += pageSize {
		es, err := st.ListAudit(ctx, store.AuditFilter{FromSeq: first, ToSeq: last, Page: store.Page{Limit: pageSize, Offset: off}})
		if err != nil {
			return fmt.Errorf("audit: read log: %w", err)
		}
		for _, e := range es {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(es) < pageSize {
			return nil
		}
	}
}

// eachCheckpoint calls fn with the stored checkpoints of sizes [first, last] (last 0: all).
func eachCheckpoint(ctx context.Context, st store.AuditStore, first, last int64, fn func(*store.AuditCheckpoint) error) error {
	cs, ok := st.(store.AuditCheckpointStore)
	if !ok {
		return nil
	}
	for off := 0; ; off += pageSize {
		page, err := cs.ListAuditCheckpoints(ctx, first, last, store.Page{Limit: pageSize, Offset: off})
		if err != nil {
			return fmt.Errorf("audit: read checkpoints: %w", err)
		}
		for _, c := range page {
			if err := fn(c); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			return nil
		}
	}
}

// VerifyStore verifies the entries of st in r against their chain and the stored
// checkpoints (verified with key; nil skips them). The entry before the range, if any, is
// the anchor and trusted as stored; when retention removed the entries before the range
// (store.AuditRetentionStore) the anchor is the signed retention horizon instead, verified
// with key (see [NewHorizonVerifier]). The returned error is a store error; what the
// verification found is in the report (Report.Err returns the first problem).
func VerifyStore(ctx context.Context, st store.AuditStore, r Range, key note.Verifier) (*Report, error) {
	start := time.Now()
	first, last, anchor, empty, err := seqRange(ctx, st, r)
	if err != nil {
		return nil, err
	}
	if empty {
		return &Report{OK: true, Duration: time.Since(start)}, nil
	}
	h, first, err := horizonAt(ctx, st, first)
	if err != nil {
		return nil, err
	}
	var v *Verifier
	switch {
	case h != nil:
		v = NewHorizonVerifier(h, key)
	case anchor != nil:
		v = NewVerifier(anchor.Seq, anchor.Hash, key)
	default:
		v = NewVerifier(first-1, "", key)
	}
	v.started = start
	if err := eachEntry(ctx, st, first, last, func(e *store.AuditEntry) error { v.Add(e); return nil }); err != nil {
		return nil, err
	}
	if err := eachCheckpoint(ctx, st, first, last, func(c *store.AuditCheckpoint) error { v.AddCheckpoint(c); return nil }); err != nil {
		return nil, err
	}
	return v.Finish(), nil
}

// ExportFormat names the export's format, in its header line.
const ExportFormat = "hub.audit.export.v1"

// Line is one line of an export (JSON Lines). The first line is the header (Type "header":
// Format, Key, AnchorSeq, AnchorHash), then every entry in seq order (Type "entry"), then
// every checkpoint in size order (Type "checkpoint").
type Line struct {
	Type string `json:"type"`
	// Header fields: the export's format, the verifier key (note text form) its checkpoints
	// are signed with, and the anchor the first entry follows (0 and the genesis hash when
	// the export starts at the first entry).
	Format     string `json:"format,omitempty"`
	Key        string `json:"key,omitempty"`
	AnchorSeq  int64  `json:"anchor_seq,omitempty"`
	AnchorHash string `json:"anchor_hash,omitempty"`
	// Horizon is the signed retention horizon the export is anchored at (AnchorSeq and
	// AnchorHash are its Size and Hash), when retention removed the entries before it.
	Horizon *store.AuditCheckpoint `json:"horizon,omitempty"`

	Entry      *store.AuditEntry      `json:"entry,omitempty"`
	Checkpoint *store.AuditCheckpoint `json:"checkpoint,omitempty"`
}

// Export writes the entries of st in r and the checkpoints covering them to w as JSON
// Lines (see [Line]). When retention removed the entries before the range, the header
// carries the signed retention horizon as the anchor, so [VerifyExport] checks it. vkey, the public key of the checkpoints, goes into the header for
// reference: a verifier must get the key it trusts from elsewhere. It returns how many
// entries it wrote.
func Export(ctx context.Context, st store.AuditStore, r Range, vkey string, w io.Writer) (int64, error) {
	first, last, anchor, empty, err := seqRange(ctx, st, r)
	if err != nil {
		return 0, err
	}
	var h *store.AuditCheckpoint
	if !empty {
		if h, first, err = horizonAt(ctx, st, first); err != nil {
			return 0, err
		}
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	head := Line{Type: "header", Format: ExportFormat, Key: vkey, AnchorSeq: max(first-1, 0), AnchorHash: store.AuditGenesisHash}
	switch {
	case h != nil:
		head.AnchorSeq, head.AnchorHash, head.Horizon = h.Size, h.Hash, h
	case anchor != nil:
		head.AnchorSeq, head.AnchorHash = anchor.Seq, anchor.Hash
	}
	if err := enc.Encode(head); err != nil {
		return 0, fmt.Errorf("audit: export: %w", err)
	}
	var n, lastSeq int64
	if !empty {
		err = eachEntry(ctx, st, first, last, func(e *store.AuditEntry) error {
			n++
			lastSeq = e.Seq
			return enc.Encode(Line{Type: "entry", Entry: e})
		})
		if err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
		if last == 0 {
			last = lastSeq
		}
		// every checkpoint from the range's start on: those beyond its end show entries
		// deleted from the head
		if err := eachCheckpoint(ctx, st, first, 0, func(c *store.AuditCheckpoint) error {
			if r.To.IsZero() || c.Size <= last {
				return enc.Encode(Line{Type: "checkpoint", Checkpoint: c})
			}
			return nil
		}); err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("audit: export: %w", err)
	}
	return n, nil
}

// ErrBadExport: an export cannot be read (not JSON Lines, no header, unknown format).
var ErrBadExport = errors.New("audit: malformed export")

// VerifyExport verifies an export read from r, offline: no store or hub is needed, only the
// verifier of the key the checkpoints were signed with (from [ParseVerifierKey]; nil checks the
// chain only). extra are checkpoints kept elsewhere (for example from an earlier export or
// a witness): they are checked like the exported ones, so deleting the newest entries and
// their checkpoints together is still detected. The error is ErrBadExport or a read error;
// what the verification found is in the report.
func VerifyExport(r io.Reader, key note.Verifier, extra ...*store.AuditCheckpoint) (*Report, error) {
	start := time.Now()
	dec := json.NewDecoder(bufio.NewReader(r))
	var head Line
	if err := dec.Decode(&head); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrBadExport, err)
	}
	if head.Type != "header" || head.Format != ExportFormat {
		return nil, fmt.Errorf("%w: first line is not a %s header", ErrBadExport, ExportFormat)
	}
	var v *Verifier
	switch {
	case head.Horizon == nil:
		v = NewVerifier(head.AnchorSeq, head.AnchorHash, key)
	case head.Horizon.Size != head.AnchorSeq || head.Horizon.Hash != head.AnchorHash:
		return nil, fmt.Errorf("%w: the header's anchor is not its retention horizon", ErrBadExport)
	default:
		v = NewHorizonVerifier(head.Horizon, key)
	}
	v.started = start
	for line := 2; ; line++ {
		var l Line
		err := dec.Decode(&l)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrBadExport, line, err)
		}
		switch {
		case l.Type == "entry" && l.Entry != nil:
			v.Add(l.Entry)
		case l.Type == "checkpoint" && l.Checkpoint != nil:
			v.AddCheckpoint(l.Checkpoint)
		default:
			return nil, fmt.Errorf("%w: line %d: unexpected %q line", ErrBadExport, line, l.Type)
		}
	}
	for _, c := range extra {
		v.AddCheckpoint(c)
	}
	return v.Finish(), nil
}
