package memory

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"

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

// eventBox is a returned copy of an event with the times its pointers refer to.
type eventBox struct {
	ev    store.Event
	slots [nSlots]time.Time
}

// cloneEvent returns a deep copy of src that shares no memory with it, in two allocations
// (store.Event.Clone needs up to nine).
func cloneEvent(src *store.Event) *store.Event {
	b := new(eventBox)
	copyEvent(&b.ev, src, &b.slots)
	return &b.ev
}

// copyEvent makes dst a deep copy of src whose JSON columns share one new buffer (each
// capped, so appending to one cannot overwrite the next) and whose time pointers point
// into slots.
func copyEvent(dst, src *store.Event, slots *[nSlots]time.Time) {
	*dst = *src
	n := len(src.PayloadIn) + len(src.PayloadOut) + len(src.TransformationApplied) +
		len(src.CanonicalMapping) + len(src.ErrorDetails)
	var buf []byte
	if n > 0 {
		buf = make([]byte, 0, n)
	}
	dst.PayloadIn, buf = carve(buf, src.PayloadIn)
	dst.PayloadOut, buf = carve(buf, src.PayloadOut)
	dst.TransformationApplied, buf = carve(buf, src.TransformationApplied)
	dst.CanonicalMapping, buf = carve(buf, src.CanonicalMapping)
	dst.ErrorDetails, _ = carve(buf, src.ErrorDetails)
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

func slot(slots *[nSlots]time.Time, i int, t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	slots[i] = *t
	return &slots[i]
}

// idGen hands out random (version 4) UUIDs, reading the system's random source in blocks
// rather than once per id. It is safe for concurrent use.
type idGen struct {
	mu  sync.Mutex
	buf [16 * 256]byte
	off int
}

func (g *idGen) newID() string {
	var u [16]byte
	g.mu.Lock()
	if g.off == 0 {
		// crypto/rand.Read never returns an error (it panics on an unusable system source).
		_, _ = rand.Read(g.buf[:])
	}
	copy(u[:], g.buf[g.off:g.off+16])
	g.off = (g.off + 16) % len(g.buf)
	g.mu.Unlock()
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}
