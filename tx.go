package hub

import (
	"context"
	"fmt"

	"github.com/ehg/hub/internal/telemetry"
	"github.com/ehg/hub/store"
)

// ProcessIntegrationEventTx accepts an event inside the caller's own database transaction
// (the transactional outbox): the event is checked, mapped and validated as by
// ProcessIntegrationEvent, then inserted through tx, so it exists if and only if the
// caller commits tx. A service thus writes its own rows and the event announcing them
// atomically. The hub never commits or rolls back tx. Delivery starts after the commit:
// on PostgreSQL the insert sends a NOTIFY that is delivered on commit and wakes the hubs
// listening on the schema; on SQLite the workers find the event on their next poll
// (Config.PollInterval). ev.Mode is ignored: the call never waits for a delivery.
//
// tx is a pgx.Tx for the PostgreSQL store (on the store's database, from any pool), and a
// *sql.Tx for the SQLite store on the store's database file (open the caller's *sql.DB with
// sqlite.DSN so its transactions begin IMMEDIATE; while it is open the store's own writes
// wait for it, so keep it short). See store.TxInserter and each store's InsertEventTx.
//
// The result describes the event as inserted (status pending; Duplicate when the
// idempotency key matched an event already visible to tx). It is only true once tx
// commits: after a rollback the event never existed.
//
// Errors (nothing inserted): those of ProcessIntegrationEvent before storing
// (ErrInvalidInput, ErrUnknownService, *ContractViolationError, ErrTransform, ErrExpired,
// ErrBusy, ErrClosed, ErrForbidden: it needs PermProcess as ProcessIntegrationEvent does);
// ErrNotSupported when the store does not implement
// store.TxInserter (the in-memory store); ErrInvalidInput when tx is not the store's kind
// of transaction or is on another database. After a store error roll tx back: PostgreSQL
// aborts a transaction on any failed statement.
func (h *Hub) ProcessIntegrationEventTx(ctx context.Context, tx any, ev EventData) (*ProcessingResult, error) {
	if err := h.guard(ctx, processCall("ProcessIntegrationEventTx", ev.Service, ev)); err != nil {
		return nil, err
	}
	ctx, span := h.tel.Start(ctx, telemetry.SpanProcess)
	if span.IsRecording() {
		span.SetAttributes(telemetry.AttrService.String(ev.Service), telemetry.AttrOperation.String(ev.Operation))
	}
	res, err := h.processEventTx(ctx, tx, ev)
	endProcessSpan(span, res, err)
	return res, err
}

func (h *Hub) processEventTx(ctx context.Context, tx any, in EventData) (*ProcessingResult, error) {
	if h.closed.Load() {
		return nil, ErrClosed
	}
	ti, ok := h.st.(store.TxInserter)
	if !ok {
		return nil, fmt.Errorf("%w: accepting an event in the caller's transaction needs store.TxInserter (the SQLite and PostgreSQL stores)", ErrNotSupported)
	}
	if tx == nil {
		return nil, fmt.Errorf("%w: the transaction is nil", ErrInvalidInput)
	}
	in.Mode = Async
	_, ev, doc, err := h.newEvent(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := h.admit(ctx, 1); err != nil {
		return nil, err
	}
	pctx, ps := h.tel.Child(ctx, telemetry.SpanPersist)
	stored, created, err := ti.InsertEventTx(pctx, tx, ev)
	telemetry.End(ps, err)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	res := acceptedResult(stored, !created, doc.rule)
	if created {
		h.noteAccepted(1)
	}
	return res, nil
}
