package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ehg/hub/store"
)

// jsonArg returns v as a JSONB argument: SQL NULL when empty.
func jsonArg(v json.RawMessage) any {
	if len(v) == 0 {
		return nil
	}
	return v
}

// jsonOut returns a scanned JSONB value as a RawMessage: nil for SQL NULL.
func jsonOut(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return json.RawMessage(b)
}

// textArg returns s as a nullable text argument: SQL NULL when empty.
func textArg(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// timeArg returns t as the store keeps it, or SQL NULL when nil.
func timeArg(t *time.Time) pgtype.Timestamptz {
	if t == nil {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: store.Timestamp(*t), Valid: true}
}

// timeOut converts a scanned nullable timestamp to a *time.Time in UTC.
func timeOut(t pgtype.Timestamptz) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// strOut converts a scanned nullable text or uuid to a string ("" for NULL).
func strOut(s pgtype.Text) string {
	if !s.Valid {
		return ""
	}
	return s.String
}

// checkID returns ErrInvalidArgument unless id is a UUID.
func checkID(kind, id string) error {
	if uuid.Validate(id) != nil {
		return fmt.Errorf("%w: %s id %q is not a UUID", store.ErrInvalidArgument, kind, id)
	}
	return nil
}

// checkIDs checks every id with checkID.
func checkIDs(kind string, ids []string) error {
	for _, id := range ids {
		if err := checkID(kind, id); err != nil {
			return err
		}
	}
	return nil
}

// checkJSON returns ErrInvalidArgument when v is set but not well-formed JSON.
func checkJSON(what string, v json.RawMessage) error {
	if len(v) > 0 && !json.Valid(v) {
		return fmt.Errorf("%w: %s is not well-formed JSON", store.ErrInvalidArgument, what)
	}
	return nil
}

// newID returns a fresh random (version 4) UUID, as gen_random_uuid() would.
func newID() (string, error) {
	u, err := uuid.NewRandom()
	if err != nil {
		return "", fmt.Errorf("postgres: generate id: %w", err)
	}
	return u.String(), nil
}

// normPage normalises a page, wrapping the error with what was listed.
func normPage(what string, p store.Page) (store.Page, error) {
	n, err := p.Normalize()
	if err != nil {
		return n, fmt.Errorf("postgres: list %s: %w", what, err)
	}
	return n, nil
}

// canonical returns a UUID in its canonical lowercase form, or id unchanged when it is not
// a UUID (validation reports that elsewhere).
func canonical(id string) string {
	u, err := uuid.Parse(id)
	if err != nil {
		return id
	}
	return u.String()
}
