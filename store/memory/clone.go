package memory

import (
	"encoding/json"
	"time"

	"github.com/ehg/hub/internal/ids"
	"github.com/ehg/hub/store"
)

// Time slots of an event: its pointer fields point into an array of these, so a copy costs
// one allocation for the struct and its times, and one for all its JSON bytes.
const (
	slotCompleted = iota
	slotExpires
	slotLease
	nSlots
)

// eventBox is a returned copy of an event with the times its pointers refer to; eventBox1
// serves copies with a single time pointer (a claimed event's lease), and a copy without
// one is a bare store.Event. The smaller boxes matter: every allocated byte is also work for
// the garbage collector, which scans the whole store.
type eventBox struct {
	ev    store.Event
	slots [nSlots]time.Time
}

type eventBox1 struct {
	ev   store.Event
	slot [1]time.Time
}

// cloneEvent returns a deep copy of src that shares no memory with it, in two allocations
// (store.Event.Clone needs up to nine).
func cloneEvent(src *store.Event) *store.Event { return boxEvent(src, nil) }

// shareEvent returns a copy of src whose JSON columns are those of docs, not copied (empty
// ones nil): the copy's times and fields are its own, its documents are shared and must not
// be written to. One allocation.
func shareEvent(src, docs *store.Event) *store.Event { return boxEvent(src, docs) }

// boxEvent copies src into a box sized for its time pointers, its JSON columns copied
// (docs nil) or shared with docs.
func boxEvent(src, docs *store.Event) *store.Event {
	n := 0
	for _, p := range [...]*time.Time{src.CompletedAt, src.ExpiresAt, src.LeaseUntil} {
		if p != nil {
			n++
		}
	}
	var dst *store.Event
	switch n {
	case 0:
		dst = new(store.Event)
		copyEvent(dst, src, nil, nil, docs)
	case 1:
		b := new(eventBox1)
		copyEvent(&b.ev, src, nil, nil, docs)
		switch {
		case src.CompletedAt != nil:
			b.slot[0] = *src.CompletedAt
			b.ev.CompletedAt = &b.slot[0]
		case src.ExpiresAt != nil:
			b.slot[0] = *src.ExpiresAt
			b.ev.ExpiresAt = &b.slot[0]
		default:
			b.slot[0] = *src.LeaseUntil
			b.ev.LeaseUntil = &b.slot[0]
		}
		dst = &b.ev
	default:
		b := new(eventBox)
		copyEvent(&b.ev, src, &b.slots, nil, docs)
		dst = &b.ev
	}
	return dst
}

// rawLen is the total length of an event's JSON columns.
func rawLen(e *store.Event) int {
	return len(e.PayloadIn) + len(e.PayloadOut) + len(e.TransformationApplied) +
		len(e.CanonicalMapping) + len(e.ErrorDetails)
}

// copyEvent makes dst a copy of src whose time pointers point into slots (with nil slots
// the caller sets them) and whose JSON columns are, with docs nil, copied into one buffer
// (each capped, so appending to one cannot overwrite the next) or, with docs set, docs's
// own (shared, empty ones nil). buf, when not nil, is an empty slice with capacity
// rawLen(src) to copy the JSON into; nil means a new allocation.
func copyEvent(dst, src *store.Event, slots *[nSlots]time.Time, buf []byte, docs *store.Event) {
	*dst = *src
	if docs != nil {
		dst.PayloadIn, dst.PayloadOut = orNil(docs.PayloadIn), orNil(docs.PayloadOut)
		dst.TransformationApplied, dst.CanonicalMapping = orNil(docs.TransformationApplied), orNil(docs.CanonicalMapping)
		dst.ErrorDetails = orNil(docs.ErrorDetails)
		setSlots(dst, src, slots)
		return
	}
	if n := rawLen(src); buf == nil && n > 0 {
		buf = make([]byte, 0, n)
	}
	dst.PayloadIn, buf = carve(buf, src.PayloadIn)
	dst.PayloadOut, buf = carve(buf, src.PayloadOut)
	dst.TransformationApplied, buf = carve(buf, src.TransformationApplied)
	dst.CanonicalMapping, buf = carve(buf, src.CanonicalMapping)
	dst.ErrorDetails, _ = carve(buf, src.ErrorDetails)
	setSlots(dst, src, slots)
}

// setSlots points dst's times at copies of src's in slots, or clears them with nil slots.
func setSlots(dst, src *store.Event, slots *[nSlots]time.Time) {
	if slots == nil {
		dst.CompletedAt, dst.ExpiresAt, dst.LeaseUntil = nil, nil, nil
		return
	}
	dst.CompletedAt = slot(slots, slotCompleted, src.CompletedAt)
	dst.ExpiresAt = slot(slots, slotExpires, src.ExpiresAt)
	dst.LeaseUntil = slot(slots, slotLease, src.LeaseUntil)
}

// carve appends v to buf and returns the appended part, capped at its length; empty values
// become nil, as store.Event.Clone makes them.
func carve(buf []byte, v json.RawMessage) (json.RawMessage, []byte) {
	if len(v) == 0 {
		return nil, buf
	}
	start := len(buf)
	buf = append(buf, v...)
	return json.RawMessage(buf[start:len(buf):len(buf)]), buf
}

// orNil returns v, or nil when it is empty (as store.Event.Clone makes empty values).
func orNil(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return nil
	}
	return v
}

// sameBytes reports whether a and b are the same non-empty memory (the same slice, as when
// a caller hands back a document the store gave it).
func sameBytes(a, b []byte) bool {
	return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0]
}

func slot(slots *[nSlots]time.Time, i int, t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	slots[i] = *t
	return &slots[i]
}

// newID returns a new random (version 4) UUID as text and as the table's key.
func newID() (string, uuidKey) {
	u := ids.Random()
	return ids.Format(u), uuidKey(u)
}
