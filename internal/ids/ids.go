// Package ids hands out random (version 4) UUIDs for records the hub creates at a high
// rate (events), reading the system's random source in blocks rather than once per id.
package ids

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
)

// block is how many ids one read of the random source serves.
const block = 256

// gen is one block of random bytes and how far it is used.
type gen struct {
	buf [16 * block]byte
	off int
}

// gens holds blocks for the callers: one per processor while they are busy, so concurrent
// callers do not queue on one lock.
var gens = sync.Pool{New: func() any { return new(gen) }}

// New returns a new random UUID in canonical form (lowercase, hyphenated), as
// uuid.NewString does. It is safe for concurrent use.
func New() string { return Format(Random()) }

// Random returns the 16 bytes of a new random (version 4, RFC 4122 variant) UUID. It is
// safe for concurrent use.
func Random() [16]byte {
	var u [16]byte
	g := gens.Get().(*gen)
	if g.off == 0 {
		// crypto/rand.Read never returns an error (it panics on an unusable system source).
		_, _ = rand.Read(g.buf[:])
	}
	copy(u[:], g.buf[g.off:g.off+16])
	clear(g.buf[g.off : g.off+16]) // handed out: not kept
	g.off = (g.off + 16) % len(g.buf)
	gens.Put(g)
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

// Format returns the canonical text of the UUID u (lowercase, hyphenated).
func Format(u [16]byte) string {
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
