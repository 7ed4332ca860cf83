package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ehg/hub/audit"
	"github.com/ehg/hub/store"
)

// AuditCheckpointIntervalDefault is the default of Config.AuditCheckpointInterval.
const AuditCheckpointIntervalDefault = 10 * time.Second

// AuditKeyName is the name of the checkpoint key the hub derives from Config.SecretKey.
const AuditKeyName = "hub-audit"

// ErrAuditTampered is what VerifyAudit's error matches with errors.Is when the audit log
// is not the one the hubs wrote; errors.As with *audit.Problem names the entry.
var ErrAuditTampered = audit.ErrTampered

// ErrAuditUnavailable: the audit entry of an action could not be written, so the action
// was not carried out (the audit log fails closed). It wraps the store's error.
var ErrAuditUnavailable = errors.New("hub: the audit log cannot be written; the action was not carried out")

// AuditReport is the result of VerifyAudit: the entries read, the checkpoints checked and
// every problem found, each naming its entry.
type AuditReport = audit.Report

// WithAuditKey sets the private key that signs the audit chain's checkpoints, in the
// golang.org/x/mod/sumdb/note form "PRIVATE+KEY+name+hash+data" (note.GenerateKey makes one;
// audit.DeriveKey derives one). Without it the hub derives the key from Config.SecretKey.
func WithAuditKey(skey string) Option {
	return func(c *Config) error {
		if _, err := note.NewSigner(skey); err != nil {
			return configErr("Config.AuditKey", "not a note signing key", err)
		}
		c.AuditKey = skey
		return nil
	}
}

// WithAuditCheckpointInterval sets how often the hub signs a checkpoint of the audit chain's
// head when it has moved; negative signs only on CheckpointAudit, ExportAudit and Close.
func WithAuditCheckpointInterval(d time.Duration) Option {
	return func(c *Config) error { c.AuditCheckpointInterval = d; return nil }
}

// auditChain is the hub's signing state of the audit chain.
type auditChain struct {
	signer note.Signer   // nil: no key, no checkpoints
	key    note.Verifier // the signer's verifier
	vkey   string        // its text form
	mu     sync.Mutex    // one checkpoint at a time from this hub
}

// initAuditChain sets up the checkpoint key: Config.AuditKey, else derived from SecretKey.
func (h *Hub) initAuditChain() error {
	h.chain = &auditChain{}
	skey := h.cfg.AuditKey
	if skey == "" && h.cfg.SecretKey != nil {
		var err error
		if skey, _, err = audit.DeriveKey(AuditKeyName, h.cfg.SecretKey); err != nil {
			return configErr("Config.SecretKey", "the audit key cannot be derived", err)
		}
	}
	if skey == "" {
		return nil
	}
	signer, err := audit.ParseSignerKey(skey)
	if err != nil {
		return configErr("Config.AuditKey", "not a note signing key", err)
	}
	pub, err := audit.VerifierKeyOf(skey)
	if err != nil {
		return configErr("Config.AuditKey", "not a note signing key", err)
	}
	h.chain.signer, h.chain.vkey = signer, pub
	if h.chain.key, err = audit.ParseVerifierKey(pub); err != nil {
		return configErr("Config.AuditKey", "not a note signing key", err)
	}
	if h.cfg.AuditCheckpointInterval == 0 {
		h.cfg.AuditCheckpointInterval = AuditCheckpointIntervalDefault
	}
	return nil
}

// startAuditChain runs the background checkpointer.
func (h *Hub) startAuditChain(bg context.Context) {
	if h.chain.signer == nil || h.cfg.AuditCheckpointInterval < 0 {
		return
	}
	if _, ok := h.st.(store.AuditCheckpointStore); !ok {
		return
	}
	h.bgWG.Add(1)
	go func() {
		defer h.bgWG.Done()
		t := time.NewTicker(h.cfg.AuditCheckpointInterval)
		defer t.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-t.C:
				if _, err := h.checkpointAudit(bg); err != nil && bg.Err() == nil {
					h.log.Warn("hub: signing an audit checkpoint failed", "error", err)
				}
			}
		}
	}()
}

// closeAuditChain signs a last checkpoint as the hub closes.
func (h *Hub) closeAuditChain(ctx context.Context) {
	if h.chain == nil || h.chain.signer == nil {
		return
	}
	if _, ok := h.st.(store.AuditCheckpointStore); !ok {
		return
	}
	if _, err := h.checkpointAudit(context.WithoutCancel(ctx)); err != nil {
		h.log.Warn("hub: signing the closing audit checkpoint failed", "error", err)
	}
}

// AuditVerifierKey returns the public key of the audit checkpoints in note text form
// ("name+hash+data"), for audit.ParseVerifierKey and offline verification of an export;
// "" when the hub has no audit key (neither Config.AuditKey nor Config.SecretKey).
func (h *Hub) AuditVerifierKey() string { return h.chain.vkey }

// CheckpointAudit signs a checkpoint of the audit chain's current head with the hub's
// audit key and stores it, unless the newest stored checkpoint covers the head already; it
// returns the newest checkpoint (nil when the log is empty). The hub also does this every
// Config.AuditCheckpointInterval and when it closes. Entries appended after the newest
// checkpoint can be removed without VerifyAudit noticing; those before it cannot.
//
// Errors: ErrForbidden (authorization on, no audit.read permission); ErrNotSupported (the
// store keeps no checkpoints, or the hub has no audit key); store errors; ErrClosed.
func (h *Hub) CheckpointAudit(ctx context.Context) (*store.AuditCheckpoint, error) {
	if err := h.guard(ctx, call{method: "CheckpointAudit", perms: perms(PermReadAudit)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	return h.checkpointAudit(ctx)
}

func (h *Hub) checkpointAudit(ctx context.Context) (*store.AuditCheckpoint, error) {
	cs, ok := h.st.(store.AuditCheckpointStore)
	if !ok {
		return nil, fmt.Errorf("%w: audit checkpoints (store.AuditCheckpointStore)", ErrNotSupported)
	}
	if h.chain.signer == nil {
		return nil, fmt.Errorf("%w: audit checkpoints need an audit key (Config.AuditKey or Config.SecretKey)", ErrNotSupported)
	}
	h.chain.mu.Lock()
	defer h.chain.mu.Unlock()
	head, err := cs.AuditHead(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, mapStoreErr(err)
	}
	latest, err := cs.LatestAuditCheckpoint(ctx)
	switch {
	case err == nil && latest.Size >= head.Seq:
		return latest, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return nil, mapStoreErr(err)
	}
	c, err := audit.SignCheckpoint(h.chain.signer, head.Seq, head.Hash)
	if err != nil {
		return nil, err
	}
	if err := cs.AddAuditCheckpoint(ctx, c); err != nil {
		return nil, mapStoreErr(err)
	}
	return c, nil
}

// VerifyAudit recomputes the audit chain of the entries created in [from, to) (zero:
// unbounded) and checks it against the stored checkpoints signed with the hub's audit key.
// The report lists what it found, in seq order, each problem naming its entry: an altered
// entry, an inserted one, missing ones, entries stored out of order, and newest entries
// deleted after a checkpoint covered them. When it found any, err is the first (a
// *audit.Problem; errors.Is(err, ErrAuditTampered)) and the report is returned with it.
// The entry just before the range is trusted as stored; verify from the start to check
// everything.
//
// Other errors: ErrForbidden (authorization on, no audit.read permission); store errors;
// ErrClosed.
func (h *Hub) VerifyAudit(ctx context.Context, from, to time.Time) (*AuditReport, error) {
	if err := h.guard(ctx, call{method: "VerifyAudit", perms: perms(PermReadAudit)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	rep, err := audit.VerifyStore(ctx, h.st, audit.Range{From: from, To: to}, h.chain.key)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	if rep.OK {
		h.log.Info("hub: audit log verified", "entries", rep.Entries, "checkpoints", rep.Checkpoints, "duration", rep.Duration)
	} else {
		h.log.Error("hub: audit log verification found problems", "problems", rep.ProblemCount, "first", rep.Err())
	}
	return rep, rep.Err()
}

// ExportAudit writes the audit entries created in [from, to) (zero: unbounded), with their
// chain and the signed checkpoints, to w as JSON Lines (see audit.Line), after signing a
// checkpoint of the current head. audit.VerifyExport verifies the export offline with
// AuditVerifierKey's key. It returns how many entries it wrote.
//
// Errors: ErrForbidden (authorization on, no audit.read permission); store errors; write
// errors; ErrClosed.
func (h *Hub) ExportAudit(ctx context.Context, w io.Writer, from, to time.Time) (int64, error) {
	if err := h.guard(ctx, call{method: "ExportAudit", perms: perms(PermReadAudit)}); err != nil {
		return 0, err
	}
	if h.closed.Load() {
		return 0, ErrClosed
	}
	if h.chain.signer != nil {
		if _, err := h.checkpointAudit(ctx); err != nil && !errors.Is(err, ErrNotSupported) {
			return 0, err
		}
	}
	n, err := audit.Export(ctx, h.st, audit.Range{From: from, To: to}, h.chain.vkey, w)
	if err != nil {
		return n, mapStoreErr(err)
	}
	return n, nil
}

// appendAudit writes an audit entry. The hub writes the entry of an action before it
// carries the action out (intent first): when the entry cannot be written the action does
// not happen and the caller gets ErrAuditUnavailable. A crash between the entry and the
// action leaves an entry for an action that did not complete, never an action without its
// entry; an action that fails after its entry is followed by an "<action>.aborted" entry
// (see auditAborted).
func (h *Hub) appendAudit(ctx context.Context, e *store.AuditEntry) (*store.AuditEntry, error) {
	out, err := h.st.AppendAudit(context.WithoutCancel(ctx), e)
	if err != nil {
		h.log.Error("hub: appending audit entry failed; the action is refused", "action", e.Action, "entity", e.EntityID, "error", err)
		return nil, fmt.Errorf("%w: %w", ErrAuditUnavailable, mapStoreErr(err))
	}
	return out, nil
}

// auditAborted records that the action of intent failed after its entry was written.
func (h *Hub) auditAborted(ctx context.Context, intent *store.AuditEntry, cause error) {
	_, err := h.st.AppendAudit(context.WithoutCancel(ctx), &store.AuditEntry{
		Actor: intent.Actor, Action: intent.Action + ".aborted", EntityType: intent.EntityType, EntityID: intent.EntityID,
		After: mustJSON(map[string]any{"intent": intent.ID, "intent_seq": intent.Seq, "error": cause.Error()}),
	})
	if err != nil {
		h.log.Error("hub: appending audit entry failed", "action", intent.Action+".aborted", "entity", intent.EntityID, "error", err)
	}
}
