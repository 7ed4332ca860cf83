package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/ehg/hub/store"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SchemaTooNewError reports a database migrated by a newer version of this package than the
// running one: its schema may not be what this code expects, so the store refuses to use it.
type SchemaTooNewError struct {
	// Database is the highest migration version recorded in the database.
	Database int
	// Supported is the highest migration version this package knows.
	Supported int
}

// Error describes the mismatch.
func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("sqlite: database schema version %d is newer than this build supports (%d); upgrade the hub",
		e.Database, e.Supported)
}

// ErrSchemaTooNew matches a *SchemaTooNewError with errors.Is.
var ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this build")

// Is reports whether target is ErrSchemaTooNew.
func (e *SchemaTooNewError) Is(target error) bool { return target == ErrSchemaTooNew }

// mapError is the one place driver errors become store sentinels: no rows is
// store.ErrNotFound, a UNIQUE or PRIMARY KEY violation store.ErrConflict, another constraint
// (CHECK, NOT NULL, foreign key) store.ErrInvalidArgument, and SQLITE_BUSY or SQLITE_LOCKED
// store.ErrBusy. The driver error stays in the chain (errors.As still finds *sqlite.Error).
// Errors already carrying a store sentinel, context errors and nil pass through unchanged.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	for _, sentinel := range []error{store.ErrNotFound, store.ErrConflict, store.ErrInvalidArgument,
		store.ErrBusy, store.ErrInvalidTransition, store.ErrLeaseLost, store.ErrClosed, ErrSchemaTooNew} {
		if errors.Is(err, sentinel) {
			return err
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	if errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("%w: %w", store.ErrClosed, err)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch code := se.Code(); code {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	default:
		switch code & 0xff {
		case sqlite3.SQLITE_CONSTRAINT:
			return fmt.Errorf("%w: %w", store.ErrInvalidArgument, err)
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%w: %w", store.ErrBusy, err)
		}
	}
	return err
}

// invalidf returns store.ErrInvalidArgument wrapped with a formatted detail.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: sqlite: "+format, append([]any{store.ErrInvalidArgument}, args...)...)
}
