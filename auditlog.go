package hub

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/ehg/hub/store"
)

// Limits of [AuditQuery].
const (
	// AuditPageDefault is the page size of ListAudit when AuditQuery.Limit is 0.
	AuditPageDefault = 100
	// AuditPageMax is the largest page ListAudit returns.
	AuditPageMax = 1000
)

// AuditQuery selects audit entries for ListAudit. Zero fields match everything.
type AuditQuery struct {
	// EntityType ("service", "event" ...), EntityID and Actor narrow the entries.
	EntityType string
	EntityID   string
	Actor      string
	// From and To bound the creation time to [From, To).
	From, To time.Time
	// Cursor continues a listing: pass AuditPage.NextCursor of the previous page with the
	// same query. Empty starts at the oldest entry.
	Cursor string
	// Limit is the page size: 0 means AuditPageDefault; at most AuditPageMax.
	Limit int
}

// AuditPage is one page of ListAudit.
type AuditPage struct {
	// Entries are oldest first.
	Entries []*store.AuditEntry
	// NextCursor continues the listing; "" when this page is the last.
	NextCursor string
}

// ListAudit returns one page of the audit log entries matching q, oldest first. The log is
// append-only, so a cursor stays valid while entries are added: they appear on later pages.
// Errors: ErrInvalidInput (negative limit, malformed cursor); store errors; ErrClosed.
func (h *Hub) ListAudit(ctx context.Context, q AuditQuery) (*AuditPage, error) {
	if err := h.guard(ctx, call{method: "ListAudit", perms: perms(PermReadAudit)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	switch {
	case q.Limit < 0:
		return nil, fmt.Errorf("%w: audit page limit %d is negative", ErrInvalidInput, q.Limit)
	case q.Limit == 0:
		q.Limit = AuditPageDefault
	case q.Limit > AuditPageMax:
		q.Limit = AuditPageMax
	}
	off := 0
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		n, perr := strconv.Atoi(string(b))
		if err != nil || perr != nil || n < 0 {
			return nil, fmt.Errorf("%w: malformed audit cursor", ErrInvalidInput)
		}
		off = n
	}
	entries, err := h.st.ListAudit(ctx, store.AuditFilter{EntityType: q.EntityType, EntityID: q.EntityID, Actor: q.Actor,
		From: q.From, To: q.To, Page: store.Page{Limit: q.Limit + 1, Offset: off}})
	if err != nil {
		return nil, mapStoreErr(err)
	}
	page := &AuditPage{Entries: entries}
	if len(entries) > q.Limit {
		page.Entries = entries[:q.Limit]
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(off + q.Limit)))
	}
	return page, nil
}
