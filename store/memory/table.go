package memory

import (
	"encoding/hex"
	"iter"
)

// uuidKey is an event id as the table indexes it: the 16 bytes of the UUID.
type uuidKey [16]byte

// keyOf returns the key of a canonical (lowercase, hyphenated) UUID.
func keyOf(id string) uuidKey {
	var k uuidKey
	var hexdigits [32]byte
	n := 0
	for i := 0; i < len(id); i++ {
		if id[i] != '-' {
			hexdigits[n] = id[i]
			n++
		}
	}
	// The id was validated as canonical: decoding cannot fail.
	_, _ = hex.Decode(k[:], hexdigits[:])
	return k
}

const (
	// chunkSize is how many entries one allocation holds.
	chunkSize = 1024
	// slabSize is the size of the byte slabs the JSON columns of stored events are carved
	// from; larger values get an allocation of their own.
	slabSize = 64 << 10
)

// eventTable stores the events. Entries live in fixed-size chunks, so storing an event
// costs no allocation of its own and entries never move (heaps and the lease list point at
// them); the id index is a map whose keys and values hold no pointers, so growing it moves
// plain bytes and the garbage collector never scans it. JSON columns are carved from
// pointer-free slabs. The owner's mutex guards it.
type eventTable struct {
	chunks [][]entry
	n      int
	byID   map[uuidKey]uint32
	slab   []byte
}

func newEventTable() eventTable { return eventTable{byID: map[uuidKey]uint32{}} }

// get returns the entry with the key, or nil.
func (t *eventTable) get(k uuidKey) *entry {
	i, ok := t.byID[k]
	if !ok {
		return nil
	}
	return t.at(int(i))
}

func (t *eventTable) at(i int) *entry { return &t.chunks[i/chunkSize][i%chunkSize] }

// add returns a new, zero entry indexed under k.
func (t *eventTable) add(k uuidKey) *entry {
	if t.n%chunkSize == 0 {
		t.chunks = append(t.chunks, make([]entry, chunkSize))
	}
	t.byID[k] = uint32(t.n) //nolint:gosec // a memory store holds far fewer than 2^32 events
	e := t.at(t.n)
	t.n++
	return e
}

// all yields every entry in insertion order.
func (t *eventTable) all() iter.Seq[*entry] {
	return func(yield func(*entry) bool) {
		for i := range t.n {
			if !yield(t.at(i)) {
				return
			}
		}
	}
}

// bytes returns an empty slice with capacity n for a stored event's JSON columns.
func (t *eventTable) bytes(n int) []byte {
	if n == 0 {
		return nil
	}
	if n > slabSize/16 {
		return make([]byte, 0, n)
	}
	if len(t.slab)+n > cap(t.slab) {
		t.slab = make([]byte, 0, slabSize)
	}
	start := len(t.slab)
	t.slab = t.slab[:start+n]
	return t.slab[start : start : start+n]
}
