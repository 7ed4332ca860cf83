package store

import "context"

// TxInserter is the optional capability of inserting an event inside a transaction the
// caller opened on the store's database, so that the event exists if and only if the
// caller's transaction commits (the transactional outbox): a service writes its own rows
// and the event that announces them atomically. Find it with a type assertion.
//
// The transaction's type depends on the store: a pgx.Tx for store/postgres, a *sql.Tx for
// store/sqlite (each package documents what it accepts and how the transaction must be
// opened). The in-memory store has no transactions of its callers and does not implement
// it.
type TxInserter interface {
	// InsertEventTx inserts e inside tx as InsertEvent does (validation, defaults,
	// idempotency on (service, idempotency_key): an existing event is returned with
	// created false). Nothing is visible to other connections, and no worker can claim the
	// event, until the caller commits tx; a rollback leaves no trace. Workers find the event
	// after the commit: on their next poll, or sooner where the store can signal the
	// commit. The store never commits or rolls back tx. Errors: ErrInvalidArgument for an
	// invalid event or a transaction of an unsupported type or on another database; the
	// errors of InsertEvent. After an error the caller's transaction may be unusable
	// (PostgreSQL aborts it on any failed statement): roll it back.
	InsertEventTx(ctx context.Context, tx any, e *Event) (ev *Event, created bool, err error)
}
