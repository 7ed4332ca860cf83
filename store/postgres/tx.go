package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ehg/hub/store"
)

// InsertEventTx implements [store.TxInserter]. tx must be a pgx.Tx (from a pgx.Conn or a
// pgxpool.Pool, the store's own pool or the caller's) on the database of the store; the
// store's tables are named with their schema, so the connection's search_path does not
// matter. Besides the row, the transaction sends a NOTIFY on the store's channel, which
// PostgreSQL delivers only when the transaction commits: hubs listening on the schema
// claim the event right after the commit, and nothing is announced on a rollback.
//
// Inside the caller's transaction the insert waits for a concurrent uncommitted insert of
// the same idempotency key to end, as any unique index does.
func (s *Store) InsertEventTx(ctx context.Context, tx any, e *store.Event) (*store.Event, bool, error) {
	if err := s.check(); err != nil {
		return nil, false, err
	}
	t, ok := tx.(pgx.Tx)
	if !ok || t == nil {
		return nil, false, fmt.Errorf("%w: postgres: insert event in transaction: the transaction is a %T, want a pgx.Tx", store.ErrInvalidArgument, tx)
	}
	if e == nil {
		return nil, false, fmt.Errorf("%w: postgres: insert event in transaction: nil event", store.ErrInvalidArgument)
	}
	if err := e.Validate(); err != nil {
		return nil, false, fmt.Errorf("postgres: insert event in transaction: %w", err)
	}
	if e.Status != "" && e.Status != store.StatusPending {
		return nil, false, fmt.Errorf("%w: postgres: insert event in transaction: a new event must be pending, not %q", store.ErrInvalidArgument, e.Status)
	}
	id := canonical(e.ID)
	if id == "" {
		var err error
		if id, err = newID(); err != nil {
			return nil, false, err
		}
	}
	now := s.now()
	ev := newStored(e, id, now)
	var batch insertBatch
	batch.add(ev)
	var got string
	err := t.QueryRow(ctx, s.q.insertEvents, batch.args(now)...).Scan(&got)
	switch {
	case err == nil:
		if _, err := t.Exec(ctx, "SELECT pg_notify($1, '')", s.channel); err != nil {
			return nil, false, mapError(fmt.Errorf("postgres: insert event in transaction: notify: %w", err))
		}
		return ev, true, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, false, mapError(fmt.Errorf("postgres: insert event in transaction: %w", err))
	}
	// The key exists: return the stored event (visible to this transaction).
	existing, err := scanEvent(t.QueryRow(ctx, s.q.getEventByKey, ev.ServiceID, ev.IdempotencyKey))
	if err != nil {
		return nil, false, mapError(fmt.Errorf("postgres: insert event in transaction: fetch existing: %w", err))
	}
	return existing, false, nil
}

var _ store.TxInserter = (*Store)(nil)
