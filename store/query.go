package store

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// EventQuerier is the optional capability of paging through events with a keyset cursor:
// each page starts strictly after the (created_at, id) of the last event of the page
// before, so a listing neither repeats nor skips an event when events are inserted or
// deleted meanwhile (created_at and id never change). Offsets (EventStore.ListEvents) shift
// under concurrent inserts; keysets do not. Find it with a type assertion.
type EventQuerier interface {
	// QueryEvents returns up to q.Limit events matching q, ordered by created_at then id
	// (ascending, or descending when q.Descending), starting strictly after q.After when it
	// is set. A page shorter than the limit does not mean the end: events created later may
	// follow; a caller that wants them asks again with the last key. Filters apply to the
	// events as they are when each page is read: an event whose status changes between two
	// pages may appear in both queries' ranges only once (the cursor has passed it) but may
	// enter or leave a status filter. Errors: ErrInvalidArgument for a malformed query
	// (see EventQuery.Validate).
	QueryEvents(ctx context.Context, q EventQuery) ([]*Event, error)
}

// EventQuery selects a page of events for EventQuerier.QueryEvents. Zero fields match
// everything.
type EventQuery struct {
	// ServiceID narrows to one service (its UUID).
	ServiceID string
	// Statuses narrows to events in one of these statuses.
	Statuses []EventStatus
	// CreatedFrom and CreatedTo bound created_at to [CreatedFrom, CreatedTo).
	CreatedFrom, CreatedTo time.Time
	// SubjectKey narrows to the events of one data subject (Event.SubjectKey, the keyed
	// hash the hub writes).
	SubjectKey string
	// After, when set, starts the page strictly after this key in the query's order.
	After EventKey
	// Descending orders newest first (created_at desc, id desc).
	Descending bool
	// Limit is the most events returned: 0 means DefaultPageLimit, above MaxPageLimit it is
	// reduced to it; negative is ErrInvalidArgument.
	Limit int
}

// EventKey is the position of an event in the keyset order: its created_at (at store
// precision) and id. The zero key means "from the start".
type EventKey struct {
	CreatedAt time.Time
	ID        string
}

// IsZero reports whether k is the zero key.
func (k EventKey) IsZero() bool { return k.CreatedAt.IsZero() && k.ID == "" }

// KeyOf returns the keyset position of e.
func KeyOf(e *Event) EventKey { return EventKey{CreatedAt: e.CreatedAt, ID: e.ID} }

// Compare orders keys as QueryEvents does in ascending order: by created_at, then by id.
// Ids compare as their canonical lowercase strings, which is also their UUID byte order.
func (k EventKey) Compare(o EventKey) int {
	if c := k.CreatedAt.Compare(o.CreatedAt); c != 0 {
		return c
	}
	switch {
	case k.ID < o.ID:
		return -1
	case k.ID > o.ID:
		return 1
	}
	return 0
}

// Validate checks the ids, statuses, subject key, cursor and limit.
func (q *EventQuery) Validate() error {
	if q.ServiceID != "" {
		if err := checkUUID("service", q.ServiceID); err != nil {
			return err
		}
	}
	for _, s := range q.Statuses {
		if !s.Valid() {
			return invalid("unknown event status %q", s)
		}
	}
	if err := checkSubjectKey(q.SubjectKey); err != nil {
		return err
	}
	if !q.After.IsZero() {
		if q.After.CreatedAt.IsZero() || q.After.ID == "" {
			return invalid("an event cursor needs both created_at and id")
		}
		if err := checkUUID("cursor event", q.After.ID); err != nil {
			return err
		}
	}
	if q.Limit < 0 {
		return invalid("limit %d is negative", q.Limit)
	}
	return nil
}

// Normalize returns q validated, with its times at store precision, its cursor's id in
// canonical lowercase form and its limit defaulted and capped, or ErrInvalidArgument.
func (q EventQuery) Normalize() (EventQuery, error) {
	if err := q.Validate(); err != nil {
		return q, err
	}
	if !q.CreatedFrom.IsZero() {
		q.CreatedFrom = Timestamp(q.CreatedFrom)
	}
	if !q.CreatedTo.IsZero() {
		q.CreatedTo = Timestamp(q.CreatedTo)
	}
	if !q.After.IsZero() {
		q.After.CreatedAt = Timestamp(q.After.CreatedAt)
		q.After.ID = canonicalUUID(q.After.ID)
	}
	if q.ServiceID != "" {
		q.ServiceID = canonicalUUID(q.ServiceID)
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultPageLimit
	case q.Limit > MaxPageLimit:
		q.Limit = MaxPageLimit
	}
	return q, nil
}

// canonicalUUID returns a valid UUID in canonical lowercase form.
func canonicalUUID(id string) string {
	u, err := uuid.Parse(id)
	if err != nil {
		return id
	}
	return u.String()
}
