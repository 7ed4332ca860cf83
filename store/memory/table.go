package memory

import (
	"encoding/hex"
	"iter"

	"github.com/ehg/hub/store"
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
// pointer-free slabs. A deleted entry is zeroed and its slot reused by a later event, so a
// table under retention stays as large as the events it keeps. The owner's mutex guards it.
type eventTable struct {
	chunks [][]entry
	n      int // slots in use or freed
	byID   map[uuidKey]uint32
	slab   []byte
	free   []uint32 // freed slots, reused first
	// spare is the next chunk, allocated and its pages written once outside the owner's
	// lock (prepareSpare), so that inserts do not take the page faults of fresh memory
	// while holding it; preparing is set while one is being made.
	spare     []entry
	preparing bool
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
	if n := len(t.free); n > 0 {
		i := t.free[n-1]
		t.free = t.free[:n-1]
		t.byID[k] = i
		return t.at(int(i))
	}
	if t.n%chunkSize == 0 {
		c := t.spare
		if c == nil {
			c = make([]entry, chunkSize)
		}
		t.spare = nil
		t.chunks = append(t.chunks, c)
	}
	t.byID[k] = uint32(t.n) //nolint:gosec // a memory store holds far fewer than 2^32 events
	e := t.at(t.n)
	t.n++
	return e
}

// needSpare reports, once until setSpare, whether the caller is to make the next chunk
// (newChunk, without the lock): the last chunk is half used and no freed slot waits. The
// owner's mutex guards it.
func (t *eventTable) needSpare() bool {
	if t.spare != nil || t.preparing || len(t.free) > 0 || t.n%chunkSize < chunkSize/2 {
		return false
	}
	t.preparing = true
	return true
}

// setSpare installs the chunk made after needSpare. The owner's mutex guards it.
func (t *eventTable) setSpare(c []entry) {
	t.preparing, t.spare = false, c
}

// newChunk returns a chunk of entries whose memory has been written once: fresh memory
// costs a page fault at its first write, which is better taken outside the store's lock.
func newChunk() []entry {
	c := make([]entry, chunkSize)
	for i := range c {
		c[i].idx = -1
	}
	return c
}

// remove deletes the entry with the key: its JSON bytes are overwritten with zeros (so no
// copy of a deleted payload stays in the process's memory), the entry is zeroed and its
// slot freed. The entry must not be queued or leased.
func (t *eventTable) remove(k uuidKey) {
	i, ok := t.byID[k]
	if !ok {
		return
	}
	delete(t.byID, k)
	e := t.at(int(i))
	wipeDocs(&e.ev)
	*e = entry{}
	t.free = append(t.free, i)
}

// len returns the number of stored events.
func (t *eventTable) len() int { return len(t.byID) }

// all yields every stored entry (in slot order, which is insertion order until slots are
// reused).
func (t *eventTable) all() iter.Seq[*entry] {
	return func(yield func(*entry) bool) {
		for i := range t.n {
			e := t.at(i)
			if e.ev.ID == "" { // a freed slot
				continue
			}
			if !yield(e) {
				return
			}
		}
	}
}

// wipeDocs overwrites the bytes of ev's JSON columns with zeros. Claims hand these bytes
// out without copying, so it is called only for events that are neither queued nor leased
// (deletion, erasure), whose claim holders are done with them.
func wipeDocs(ev *store.Event) {
	clear(ev.PayloadIn)
	clear(ev.PayloadOut)
	clear(ev.TransformationApplied)
	clear(ev.CanonicalMapping)
	clear(ev.ErrorDetails)
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
