package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ehg/hub/store"
)

// InsertEventTx implements [store.TxInserter]. tx must be a *sql.Tx of the
// modernc.org/sqlite driver on the store's database file — opened by the caller on its own
// *sql.DB (open it with [DSN], so that its transactions begin IMMEDIATE and take the write
// lock before they read), or on the *sql.DB given to [New]. The store checks that the
// transaction's main database is its own file and refuses another with
// store.ErrInvalidArgument.
//
// SQLite has one writer at a time: while the caller's transaction holds the write lock,
// the store's own writes (claims, outcomes) wait for it, up to the busy timeout, so keep
// such transactions short, and do not call other writing methods of the store from inside
// one (they would wait for the transaction that waits for them, until the busy timeout).
// A *sql.DB given to New must allow more than one connection for the same reason. SQLite
// cannot signal another connection's commit: the workers of the store find the event on
// their next poll.
func (s *Store) InsertEventTx(ctx context.Context, tx any, e *store.Event) (*store.Event, bool, error) {
	if err := s.begin(ctx); err != nil {
		return nil, false, err
	}
	t, ok := tx.(*sql.Tx)
	if !ok || t == nil {
		return nil, false, fmt.Errorf("%w: sqlite: insert event in transaction: the transaction is a %T, want a *sql.Tx", store.ErrInvalidArgument, tx)
	}
	c, err := prepareEvent(e, s.nowTS(), store.DocumentsChecked(ctx))
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: insert event in transaction: %w", err)
	}
	if err := s.sameDatabase(ctx, t); err != nil {
		return nil, false, err
	}
	byKey, err := t.PrepareContext(ctx, eventByKeySQL)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: insert event in transaction: %w", mapError(err))
	}
	defer byKey.Close()
	insert, err := t.PrepareContext(ctx, insertEventSQL)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: insert event in transaction: %w", mapError(err))
	}
	defer insert.Close()
	payloads, err := t.PrepareContext(ctx, insertPayloadsSQL)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: insert event in transaction: %w", mapError(err))
	}
	defer payloads.Close()
	r, err := (&eventInserter{byKey: byKey, insert: insert, payloads: payloads}).add(ctx, c)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: insert event in transaction: %w", mapError(err))
	}
	return r.Event, r.Created, nil
}

// sameDatabase checks that t's main database is the store's file.
func (s *Store) sameDatabase(ctx context.Context, t *sql.Tx) error {
	db, err := s.readDB()
	if err != nil {
		return err
	}
	own, err := mainFile(ctx, db.QueryContext)
	if err != nil {
		return fmt.Errorf("sqlite: insert event in transaction: the store's database: %w", mapError(err))
	}
	theirs, err := mainFile(ctx, t.QueryContext)
	if err != nil {
		return fmt.Errorf("sqlite: insert event in transaction: the transaction's database: %w", mapError(err))
	}
	if own != theirs {
		return fmt.Errorf("%w: sqlite: insert event in transaction: the transaction is on another database file than the store", store.ErrInvalidArgument)
	}
	return nil
}

// mainFile returns the file of the main database of a connection ("" for an in-memory
// database).
func mainFile(ctx context.Context, query func(context.Context, string, ...any) (*sql.Rows, error)) (string, error) {
	rows, err := query(ctx, "PRAGMA database_list")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			seq        int
			name, file string
		)
		if err := rows.Scan(&seq, &name, &file); err != nil {
			return "", err
		}
		if name == "main" {
			return file, rows.Close()
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%w: no main database", store.ErrInvalidArgument)
}

var _ store.TxInserter = (*Store)(nil)
