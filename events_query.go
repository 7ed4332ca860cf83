package hub

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ehg/hub/internal/privacy"
	"github.com/ehg/hub/store"
)

// Events finds events again: by id, by listing, and by waiting for an outcome.
type Events interface {
	// GetEvent returns the event with the id. Errors: ErrInvalidInput, ErrNotFound.
	GetEvent(ctx context.Context, id string) (*store.Event, error)
	// ListEvents returns a page of the events matching q with a cursor for the next one;
	// see [EventQuery] and [EventPage].
	ListEvents(ctx context.Context, q EventQuery) (*EventPage, error)
	// WaitEvent returns the event once it reaches a terminal status, or the context's
	// error.
	WaitEvent(ctx context.Context, id string) (*store.Event, error)
}

// EventQuery selects events for ListEvents. Zero fields match everything.
type EventQuery struct {
	// Service narrows to one service, by name or ID.
	Service string
	// Status narrows to events in any of these statuses, e.g. failed and dead for the dead
	// letters.
	Status []store.EventStatus
	// Since and Until bound the events' creation time to [Since, Until).
	Since, Until time.Time
	// Subject narrows to the events of one data subject: the identifier held in the field
	// its contract marks "x-subject" (matched as EraseSubject matches it). It needs the
	// subject index key (Config.SecretKey or Config.SubjectKey).
	Subject string
	// Cursor continues a listing: the NextCursor of the previous page of the same query.
	// Empty starts from the oldest event (the newest with NewestFirst).
	Cursor string
	// Limit is the most events a page holds: 0 means DefaultEventPageLimit; values above
	// MaxEventPageLimit are reduced to it.
	Limit int
	// NewestFirst lists the newest events first.
	NewestFirst bool
}

// Page limits of ListEvents.
const (
	DefaultEventPageLimit = store.DefaultPageLimit
	MaxEventPageLimit     = store.MaxPageLimit
)

// EventPage is one page of ListEvents.
type EventPage struct {
	// Events are in creation order (created_at, then id), oldest first unless the query
	// asked for NewestFirst.
	Events []*store.Event
	// NextCursor continues after the last event of this page (with an empty page it is the
	// query's own cursor). Listing again with it later also returns the events created
	// since, so a caller can follow the stream of new events.
	NextCursor string
	// More is true when the page is full: more events may follow right away.
	More bool
}

// GetEvent returns the event with the id, with every column (payloads as stored: personal
// fields of delivered events are masked, see the package documentation).
//
// It needs PermRead when authorization is on.
//
// Errors: ErrInvalidInput (not a UUID), ErrNotFound, ErrClosed, ErrForbidden, store errors.
func (h *Hub) GetEvent(ctx context.Context, id string) (*store.Event, error) {
	if err := h.guard(ctx, call{method: "GetEvent", perms: perms(PermRead)}); err != nil {
		return nil, err
	}
	return h.getEvent(ctx, id)
}

func (h *Hub) getEvent(ctx context.Context, id string) (*store.Event, error) {
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if !isUUID(id) {
		return nil, fmt.Errorf("%w: event id %q is not a UUID", ErrInvalidInput, id)
	}
	ev, err := h.st.GetEvent(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, kindf(ErrNotFound, err, "hub: event %s not found", id)
		}
		return nil, mapStoreErr(err)
	}
	return ev, nil
}

// ListEvents returns one page of the events matching q, in creation order, with a cursor
// for the next page. Pages are keyset pages over (created_at, id): following NextCursor
// returns every event that existed when the listing began exactly once, whatever is
// inserted or deleted meanwhile; filters apply to the events as they are when each page is
// read (an event whose status changes may enter or leave a Status filter). An event
// accepted in a caller's transaction (ProcessIntegrationEventTx) takes its created_at when
// it is inserted but appears when the transaction commits: a listing whose cursor has
// passed that time by then does not return it; a new listing does.
//
// Errors: ErrInvalidInput (unknown status, malformed cursor, negative limit, a cursor of
// the other order), ErrUnknownService, *ConfigError (Subject without a subject index key),
// ErrNotSupported (the store does not implement store.EventQuerier), ErrClosed,
// ErrForbidden (it needs PermRead), store errors.
func (h *Hub) ListEvents(ctx context.Context, q EventQuery) (*EventPage, error) {
	if err := h.guard(ctx, call{method: "ListEvents", service: q.Service, perms: perms(PermRead)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	qr, ok := h.st.(store.EventQuerier)
	if !ok {
		return nil, fmt.Errorf("%w: listing events needs store.EventQuerier", ErrNotSupported)
	}
	sq := store.EventQuery{
		Statuses: q.Status, CreatedFrom: q.Since, CreatedTo: q.Until, Limit: q.Limit, Descending: q.NewestFirst,
	}
	if q.Limit < 0 {
		return nil, fmt.Errorf("%w: limit %d is negative", ErrInvalidInput, q.Limit)
	}
	for _, s := range q.Status {
		if !s.Valid() {
			return nil, fmt.Errorf("%w: unknown event status %q", ErrInvalidInput, s)
		}
	}
	if q.Cursor != "" {
		k, desc, err := decodeEventCursor(q.Cursor)
		if err != nil {
			return nil, err
		}
		if desc != q.NewestFirst {
			return nil, fmt.Errorf("%w: the cursor belongs to a listing in the other order", ErrInvalidInput)
		}
		sq.After = k
	}
	if q.Service != "" {
		svc, err := h.loadService(ctx, q.Service)
		if err != nil {
			return nil, err
		}
		sq.ServiceID = svc.ID
	}
	if q.Subject != "" {
		if h.subjectKey == nil {
			return nil, configErr("Config.SecretKey", "listing a subject's events needs the subject index key (Config.SecretKey or Config.SubjectKey)", nil)
		}
		if strings.TrimSpace(q.Subject) == "" {
			return nil, fmt.Errorf("%w: the subject identifier is blank", ErrInvalidInput)
		}
		sq.SubjectKey = privacy.SubjectKey(h.subjectKey, q.Subject)
	}
	evs, err := qr.QueryEvents(ctx, sq)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	limit := q.Limit
	if limit == 0 {
		limit = DefaultEventPageLimit
	}
	page := &EventPage{Events: evs, NextCursor: q.Cursor, More: len(evs) >= min(limit, MaxEventPageLimit)}
	if len(evs) > 0 {
		page.NextCursor = encodeEventCursor(store.KeyOf(evs[len(evs)-1]), q.NewestFirst)
	}
	return page, nil
}

// The cursor is opaque to callers: base64url of "v1.<a|d>.<created_at unix µs>.<id>".
const eventCursorVersion = "v1"

func encodeEventCursor(k store.EventKey, desc bool) string {
	dir := "a"
	if desc {
		dir = "d"
	}
	raw := eventCursorVersion + "." + dir + "." + strconv.FormatInt(k.CreatedAt.UnixMicro(), 10) + "." + k.ID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeEventCursor(c string) (store.EventKey, bool, error) {
	bad := func(why string) (store.EventKey, bool, error) {
		return store.EventKey{}, false, fmt.Errorf("%w: malformed event cursor: %s", ErrInvalidInput, why)
	}
	if len(c) > 256 {
		return bad("too long")
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return bad("not base64url")
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 4 || parts[0] != eventCursorVersion || (parts[1] != "a" && parts[1] != "d") {
		return bad("unknown form")
	}
	us, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || us <= 0 {
		return bad("bad time")
	}
	if !isUUID(parts[3]) {
		return bad("bad id")
	}
	return store.EventKey{CreatedAt: time.UnixMicro(us).UTC(), ID: parts[3]}, parts[1] == "d", nil
}

// Waiting for an event polls the store with a backoff between these bounds; outcomes
// this hub's own workers record end the wait at once.
const (
	waitPollMin = 5 * time.Millisecond
	waitPollMax = 500 * time.Millisecond
)

// WaitEvent waits until the event reaches a terminal status (succeeded, failed, dead,
// expired or cancelled) and returns it. A retrying event is not terminal: WaitEvent waits
// through its retries. Outcomes recorded by this hub's workers end the wait at once;
// deliveries by other hubs sharing the store are seen by polling the store, with a backoff
// from 5 ms to 500 ms.
//
// Errors: ErrInvalidInput (not a UUID), ErrNotFound (no such event, also when it is
// deleted while waited for), ErrClosed (the hub closed while waiting), the context's error
// (wrapped; the event goes on), ErrForbidden (it needs PermRead), store errors.
func (h *Hub) WaitEvent(ctx context.Context, id string) (*store.Event, error) {
	if err := h.guard(ctx, call{method: "WaitEvent", perms: perms(PermRead)}); err != nil {
		return nil, err
	}
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if !isUUID(id) {
		return nil, fmt.Errorf("%w: event id %q is not a UUID", ErrInvalidInput, id)
	}
	wait := waitPollMin
	for {
		// Watch before reading, so an outcome recorded in between is not missed.
		watch, stop := h.eng.Watch(id)
		ev, err := h.getEvent(ctx, id)
		if err != nil || ev.Status.Terminal() {
			stop()
			return ev, err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			err = fmt.Errorf("hub: waiting for event %s (%s): %w", id, ev.Status, ctx.Err())
		case <-h.done:
			err = fmt.Errorf("%w while waiting for event %s", ErrClosed, id)
		case <-watch:
			wait = waitPollMin
		case <-timer.C:
			wait = min(2*wait, waitPollMax)
		}
		timer.Stop()
		stop()
		if err != nil {
			return nil, err
		}
	}
}
