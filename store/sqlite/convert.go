package sqlite

import (
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/ehg/hub/store"
)

// Times are stored as INTEGER unix microseconds in UTC, so SQL compares and orders them
// as numbers, and a time read back equals store.Timestamp of the time written.

func micros(t time.Time) int64 { return store.Timestamp(t).UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// microsArg is nil for a nil or zero time, else its micros.
func microsArg(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return micros(*t)
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func timePtrOf(t time.Time) *time.Time { return &t }

// jsonArg stores an empty JSON value as NULL and anything else as TEXT.
func jsonArg(v json.RawMessage) any {
	if len(v) == 0 {
		return nil
	}
	return string(v)
}

// textArg stores an empty string as NULL.
func textArg(v string) any {
	if v == "" {
		return nil
	}
	return v
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// rawDest scans a nullable TEXT column into a json.RawMessage (nil for NULL).
func rawDest(v *json.RawMessage) *[]byte { return (*[]byte)(v) }

// where collects the conditions and arguments of a dynamic WHERE clause.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// in adds "col IN (?, ?, ...)" for vals (nothing when empty).
func (w *where) in(col string, vals []string) {
	if len(vals) == 0 {
		return
	}
	var b strings.Builder
	b.WriteString(col)
	b.WriteString(" IN (")
	for i, v := range vals {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('?')
		w.args = append(w.args, v)
	}
	b.WriteByte(')')
	w.conds = append(w.conds, b.String())
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// page returns " LIMIT ? OFFSET ?" and appends its arguments, after normalising p.
func (w *where) page(p store.Page) (string, error) {
	p, err := p.Normalize()
	if err != nil {
		return "", err
	}
	w.args = append(w.args, p.Limit, p.Offset)
	return " LIMIT ? OFFSET ?", nil
}

// statusStrings validates statuses and returns them as strings.
func statusStrings(ss []store.EventStatus) ([]string, error) {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !s.Valid() {
			return nil, invalidf("unknown event status %q", s)
		}
		out = append(out, string(s))
	}
	return out, nil
}

type scanner interface {
	Scan(dest ...any) error
}
