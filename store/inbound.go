package store

import (
	"context"

	"github.com/google/uuid"
)

// EventDirection says which way an [Event] travels.
type EventDirection string

// Event directions.
const (
	// DirectionOutbound: the hub delivers the event to its service through the service's
	// connector. It is the default: stores return it for an event inserted without one.
	DirectionOutbound EventDirection = "outbound"
	// DirectionInbound: the event came from its service (a verified webhook or a record a
	// sync pulled). The hub acknowledges it instead of delivering it; the events a route
	// derives from it are outbound events naming it in SourceEventID.
	DirectionInbound EventDirection = "inbound"
)

// Valid reports whether d is one of the defined directions.
func (d EventDirection) Valid() bool { return d == DirectionOutbound || d == DirectionInbound }

// checkInbound validates the direction and the source event id of e.
func (e *Event) checkInbound() error {
	switch {
	case e.Direction != "" && !e.Direction.Valid():
		return invalid("event direction %q is unknown", e.Direction)
	case e.SourceEventID != "" && uuid.Validate(e.SourceEventID) != nil:
		return invalid("event source_event_id %q is not a UUID", e.SourceEventID)
	case e.SourceEventID != "" && e.SourceEventID == e.ID:
		return invalid("event %s names itself as its source", e.ID)
	}
	return nil
}

// DerivedEventStore is the optional capability of finding the events derived from an
// inbound event (a route's fan-out). Every store that keeps Event.SourceEventID implements
// it; find it with a type assertion:
//
//	if ds, ok := st.(store.DerivedEventStore); ok { ... }
//
// The fan-out itself needs no capability: the hub stores an inbound event and its derived
// events with one InsertEvents call, which is one transaction, so either all exist or none.
type DerivedEventStore interface {
	// ListDerivedEvents returns the events whose source_event_id is sourceID, oldest first
	// (created_at, then id), paged by p. An unknown or malformed sourceID is an empty list
	// for a well-formed UUID and ErrInvalidArgument otherwise.
	ListDerivedEvents(ctx context.Context, sourceID string, p Page) ([]*Event, error)
}
