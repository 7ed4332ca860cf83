package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ehg/hub/store"
)

// errInvalidOption reports a bad Options field or constructor argument. It matches
// store.ErrInvalidArgument.
var errInvalidOption = fmt.Errorf("%w: postgres: invalid option", store.ErrInvalidArgument)

// PostgreSQL error codes the store maps to sentinels.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeNotNullViolation     = "23502"
	codeCheckViolation       = "23514"
	codeInvalidText          = "22P02"
	codeNumericOutOfRange    = "22003"
	codeStringTooLong        = "22001"
	codeDatetimeOverflow     = "22008"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeLockNotAvailable     = "55P03"
	// codeUntranslatable and codeNotInRepertoire: text PostgreSQL cannot hold (a NUL
	// character decoded from "\u0000" into a jsonb column); codeProgramLimit: a value over
	// an implementation limit (a jsonb number or document too large).
	codeUntranslatable  = "22P05"
	codeNotInRepertoire = "22021"
	codeProgramLimit    = "54000"
)

// mapError is the one place where pgx and PostgreSQL errors become store sentinels:
//
//	pgx.ErrNoRows                                  -> store.ErrNotFound
//	23505 unique_violation                         -> store.ErrConflict
//	40001 serialization, 40P01 deadlock, 55P03 lock -> store.ErrBusy
//	23502, 23503, 23514, 22P02, 22003, 22001, 22008 -> store.ErrInvalidArgument
//
// The original error stays in the chain (errors.As finds the *pgconn.PgError, errors.Is
// finds context errors). Errors already carrying a store sentinel, nil, and everything else
// are returned unchanged.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{store.ErrNotFound, store.ErrConflict, store.ErrBusy,
		store.ErrInvalidArgument, store.ErrInvalidTransition, store.ErrLeaseLost, store.ErrClosed} {
		if errors.Is(err, s) {
			return err
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case codeUniqueViolation:
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case codeSerializationFailure, codeDeadlockDetected, codeLockNotAvailable:
			return fmt.Errorf("%w: %w", store.ErrBusy, err)
		case codeNotNullViolation, codeForeignKeyViolation, codeCheckViolation, codeInvalidText,
			codeNumericOutOfRange, codeStringTooLong, codeDatetimeOverflow, codeUntranslatable,
			codeNotInRepertoire, codeProgramLimit:
			return fmt.Errorf("%w: %w", store.ErrInvalidArgument, err)
		}
	}
	return err
}
