package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ehg/hub/internal/privacy"
	"github.com/ehg/hub/store"
)

// ErasureResult reports an erasure request.
type ErasureResult struct {
	// RequestID identifies the stored request (store.SubjectRequest).
	RequestID string `json:"request_id"`
	// Status is completed, or running when the call ended first (the hub finishes it).
	Status store.SubjectRequestStatus `json:"status"`
	// Records counts the events whose personal data was erased.
	Records     int64      `json:"records"`
	RequestedAt time.Time  `json:"requested_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
}

// SubjectExport is everything the hub holds about one data subject: every event indexed
// under the subject, with all its columns and documents. Encode it with encoding/json (or
// use JSON) to hand it to the subject.
type SubjectExport struct {
	// RequestID identifies the stored access request.
	RequestID   string    `json:"request_id"`
	GeneratedAt time.Time `json:"generated_at"`
	// Events are the subject's events, oldest first.
	Events []*store.Event `json:"events"`
}

// JSON returns the export as indented JSON.
func (e *SubjectExport) JSON() ([]byte, error) { return json.MarshalIndent(e, "", "  ") }

// subjectStore returns the store's SubjectStore and the subject's index key.
func (h *Hub) subjectStore(subject string) (store.SubjectStore, string, error) {
	ss, ok := h.st.(store.SubjectStore)
	if !ok {
		return nil, "", fmt.Errorf("%w: data-subject requests need store.SubjectStore", ErrNotSupported)
	}
	if h.subjectKey == nil {
		return nil, "", configErr("Config.SecretKey", "data-subject requests need the subject index key (Config.SecretKey or Config.SubjectKey)", nil)
	}
	if strings.TrimSpace(subject) == "" {
		return nil, "", fmt.Errorf("%w: the subject identifier is empty", ErrInvalidInput)
	}
	return ss, privacy.SubjectKey(h.subjectKey, subject), nil
}

// EraseSubject erases the personal data of a data subject (the right to erasure): every
// stored event whose contract's "x-subject" field held subject (compared case-insensitively,
// ignoring surrounding space) has the values its contracts mark personal replaced with
// "[erased]" in payload_in, canonical_mapping, payload_out and error_details, and every
// other occurrence of those values in the same documents too. Queued events of the subject
// are cancelled (they must not be delivered); events in flight are erased once their
// attempt ends. The events themselves remain, so delivery figures stay true, and follow
// retention. Finally the store purges its copies of the old rows (store.Purger: the SQLite
// WAL, PostgreSQL dead rows).
//
// The request is stored first (store.SubjectRequest, holding the keyed hash of the subject,
// never the identifier) and worked through in batches of Config.CleanupBatch events. It is
// idempotent and survives restarts: when ctx ends or the hub stops midway, the result says
// running and this hub, or another on the same store, finishes it in the background. The
// audit log records the request and its completion with the number of events erased,
// never the subject. The hub's own logs, spans and error details never held the values (see
// the package documentation on personal data), so nothing else needs erasing.
//
// Errors: ErrInvalidInput (empty subject); *ConfigError when no subject key is configured;
// ErrNotSupported without store.SubjectStore; ErrClosed; the context's error (the result is
// then set, status running); store errors.
func (h *Hub) EraseSubject(ctx context.Context, subject string) (*ErasureResult, error) {
	if err := h.guard(ctx, deletionCall("EraseSubject", "", PermErase, proposedChange{Subject: subject})); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	ss, key, err := h.subjectStore(subject)
	if err != nil {
		return nil, err
	}
	now := h.cfg.Clock()
	id := uuid.NewString()
	// the entry first: no erasure is requested (and later resumed) without it
	intent, err := h.auditIntent(ctx, "", "subject.erasure.request", "subject_request", id, map[string]any{"request_id": id})
	if err != nil {
		return nil, err
	}
	req, err := ss.CreateSubjectRequest(ctx, &store.SubjectRequest{
		ID: id, Kind: store.RequestErasure, SubjectKey: key, Status: store.RequestRunning, Actor: actorIn(ctx, ""),
		Owner: h.cfg.InstanceID, LeaseUntil: ptrTime(now.Add(h.cfg.Lease)),
	})
	if err != nil {
		h.auditAborted(ctx, intent, err)
		return nil, mapStoreErr(err)
	}
	req, err = h.runErasure(ctx, ss, req)
	return erasureResult(req), err
}

func erasureResult(r *store.SubjectRequest) *ErasureResult {
	return &ErasureResult{RequestID: r.ID, Status: r.Status, Records: r.Records, RequestedAt: r.RequestedAt, CompletedAt: r.CompletedAt}
}

func ptrTime(t time.Time) *time.Time { return &t }

// inflightWait is how long an erasure waits before revisiting the subject's events that
// were in flight.
const inflightWait = 50 * time.Millisecond

// runErasure works on an erasure request this hub holds until it completes, the lease is
// lost (another hub took it over) or ctx ends. It returns the request as last stored.
func (h *Hub) runErasure(ctx context.Context, ss store.SubjectStore, req *store.SubjectRequest) (*store.SubjectRequest, error) {
	for {
		busy, err := h.erasePass(ctx, ss, req)
		if err != nil {
			return req, err
		}
		if !busy {
			break
		}
		select {
		case <-ctx.Done():
			return req, ctx.Err()
		case <-h.done:
			return req, ErrClosed
		case <-time.After(inflightWait):
		}
	}
	if pg, ok := h.st.(store.Purger); ok {
		if err := pg.Purge(ctx); err != nil {
			if errors.Is(err, store.ErrBusy) || ctx.Err() != nil {
				return req, mapStoreErr(err) // still running: a later round purges
			}
			req.Status, req.Error = store.RequestFailed, "purging the store's copies failed: "+err.Error()
			req.SubjectKey, req.LeaseUntil = "", ptrTime(h.cfg.Clock())
			if stored, uerr := ss.UpdateSubjectRequest(context.WithoutCancel(ctx), req); uerr == nil {
				req = stored
			}
			h.auditData(ctx, req.Actor, "subject.erasure.failed", "subject_request", req.ID,
				map[string]any{"request_id": req.ID, "records": req.Records})
			return req, mapStoreErr(err)
		}
	}
	now := h.cfg.Clock()
	req.Status, req.SubjectKey, req.CompletedAt, req.LeaseUntil = store.RequestCompleted, "", &now, &now
	stored, err := ss.UpdateSubjectRequest(context.WithoutCancel(ctx), req)
	if err != nil {
		return req, mapStoreErr(err)
	}
	h.auditData(ctx, req.Actor, "subject.erasure.complete", "subject_request", req.ID,
		map[string]any{"request_id": req.ID, "records": stored.Records})
	h.log.Info("hub: erasure completed", slog.String("request", req.ID), slog.Int64("records", stored.Records))
	return stored, nil
}

// erasePass erases, in batches, every event still indexed under the request's subject.
// Each batch counts towards the request and renews its lease in the store's transaction,
// so the count stays exact across crashes, and a hub that lost the request
// (ErrLeaseLost) erases nothing more. busy is true when some events were in flight (or
// changed meanwhile) and need another pass. req is refreshed from the store.
func (h *Hub) erasePass(ctx context.Context, ss store.SubjectStore, req *store.SubjectRequest) (busy bool, err error) {
	defer func() {
		if cur, gerr := ss.GetSubjectRequest(context.WithoutCancel(ctx), req.ID); gerr == nil {
			*req = *cur
		}
	}()
	after := ""
	for {
		evs, err := ss.ListSubjectEvents(ctx, store.SubjectEventsParams{SubjectKey: req.SubjectKey, AfterID: after, Limit: h.cfg.CleanupBatch})
		if err != nil {
			return busy, mapStoreErr(err)
		}
		if len(evs) == 0 {
			return busy, nil
		}
		b := store.EraseBatch{RequestID: req.ID, Owner: req.Owner, LeaseUntil: h.cfg.Clock().Add(h.cfg.Lease),
			Events: make([]store.EraseParams, 0, len(evs))}
		for _, ev := range evs {
			b.Events = append(b.Events, h.eraseEvent(ctx, ev))
		}
		skipped, err := ss.EraseEvents(ctx, b)
		if err != nil {
			return busy, mapStoreErr(err) // ErrLeaseLost: another hub has taken it over
		}
		busy = busy || len(skipped) > 0
		if len(evs) < h.cfg.CleanupBatch {
			return busy, nil
		}
		after = evs[len(evs)-1].ID
	}
}

// eraseEvent returns the erased documents of ev. When the service's contracts cannot be
// read or no longer mark personal fields (the event was indexed under an older version),
// or a document cannot be decoded, every document is replaced whole: erasure must never
// keep data because its shape is unknown.
func (h *Hub) eraseEvent(ctx context.Context, ev *store.Event) store.EraseParams {
	pd, err := h.personalFor(ctx, ev.ServiceID)
	if err == nil && !pd.any() {
		err = fmt.Errorf("the contracts of service %s no longer mark personal fields", ev.ServiceID)
	}
	if err == nil {
		var p store.EraseParams
		if p, _, err = pd.erase(ev); err == nil {
			return p
		}
	}
	h.log.Warn("hub: erasing whole documents of an event whose personal fields are unknown",
		slog.String("event", ev.ID), slog.Any("error", err))
	whole := json.RawMessage(`"` + privacy.Erased + `"`)
	p := store.EraseParams{ID: ev.ID, UpdatedAt: ev.UpdatedAt}
	for _, d := range []struct {
		src json.RawMessage
		dst *json.RawMessage
	}{{ev.PayloadIn, &p.PayloadIn}, {ev.PayloadOut, &p.PayloadOut}, {ev.CanonicalMapping, &p.CanonicalMapping}, {ev.ErrorDetails, &p.ErrorDetails}} {
		if len(d.src) > 0 {
			*d.dst = whole
		}
	}
	return p
}

// resumeErasures takes over the erasure requests left running by a hub that stopped or
// crashed (their lease ran out) and finishes them, one after the other.
func (h *Hub) resumeErasures(ctx context.Context) error {
	ss, ok := h.st.(store.SubjectStore)
	if !ok {
		return nil
	}
	for ctx.Err() == nil && !h.closed.Load() {
		req, err := ss.ClaimSubjectRequest(ctx, h.cfg.InstanceID, h.cfg.Lease)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return mapStoreErr(err)
		}
		h.log.Info("hub: resuming an erasure", slog.String("request", req.ID), slog.Int64("records", req.Records))
		if _, err := h.runErasure(ctx, ss, req); err != nil {
			return err
		}
	}
	return nil
}

// ExportSubject returns everything the hub holds about a data subject (the right of
// access): every stored event indexed under subject (see EraseSubject), with its documents.
// The access request is stored (kind access, with the number of events, not the subject)
// and audited. With authorization on the caller needs PermExport; with approvals requiring
// ChangeDataAccess the call returns an *ApprovalRequiredError (the subject sealed in the
// stored request, hidden from the approvers' listing), and the export is made when another
// person approves it.
//
// Errors: as EraseSubject's; ErrApprovalRequired.
func (h *Hub) ExportSubject(ctx context.Context, subject string) (*SubjectExport, error) {
	if err := h.guard(ctx, call{method: "ExportSubject", perms: perms(PermExport),
		propose: func(context.Context) (*proposal, error) {
			return &proposal{kinds: []ChangeKind{ChangeDataAccess}, change: proposedChange{Method: "ExportSubject", Subject: subject}}, nil
		}}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	ss, key, err := h.subjectStore(subject)
	if err != nil {
		return nil, err
	}
	out := &SubjectExport{GeneratedAt: h.cfg.Clock(), Events: []*store.Event{}}
	after := ""
	for {
		evs, err := ss.ListSubjectEvents(ctx, store.SubjectEventsParams{SubjectKey: key, AfterID: after, Limit: store.MaxPageLimit})
		if err != nil {
			return nil, mapStoreErr(err)
		}
		out.Events = append(out.Events, evs...)
		if len(evs) < store.MaxPageLimit {
			break
		}
		after = evs[len(evs)-1].ID
	}
	sortEvents(out.Events)
	now := h.cfg.Clock()
	req, err := ss.CreateSubjectRequest(ctx, &store.SubjectRequest{Kind: store.RequestAccess, Status: store.RequestCompleted,
		Actor: actorIn(ctx, ""), Records: int64(len(out.Events)), RequestedAt: out.GeneratedAt, CompletedAt: &now})
	if err != nil {
		return nil, mapStoreErr(err)
	}
	out.RequestID = req.ID
	h.auditData(ctx, req.Actor, "subject.access", "subject_request", req.ID,
		map[string]any{"request_id": req.ID, "records": req.Records})
	return out, nil
}

// sortEvents orders events oldest first (created_at, then id).
func sortEvents(evs []*store.Event) {
	slices.SortFunc(evs, func(a, b *store.Event) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
