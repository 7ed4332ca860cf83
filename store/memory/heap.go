package memory

import (
	"strings"
	"time"

	"github.com/ehg/hub/store"
)

// entry is one stored event with its queue bookkeeping. The event's time pointers point
// into slots; the stored event is never handed out, only copies of it.
type entry struct {
	ev           store.Event
	slots        [nSlots]time.Time
	rank         int   // ev.PriorityLevel.Rank(), cached for the claim order
	payloadBytes int64 // len(payload_in) as inserted: the data volume
	q            *serviceQueue
	in           heapKind // the heap holding the entry, or none
	idx          int      // its index in that heap
	// prev and next link the processing entries (Store.leased), so releasing expired
	// leases scans only them and claims and completions touch no map.
	prev, next *entry
}

// setTime sets the time pointer of slot i (slotCompleted, ...) to t.
func (e *entry) setTime(i int, t time.Time) *time.Time {
	e.slots[i] = t
	return &e.slots[i]
}

// leaseList is an intrusive doubly linked list of the processing entries.
type leaseList struct{ root entry }

func (l *leaseList) init() { l.root.prev, l.root.next = &l.root, &l.root }

func (l *leaseList) push(e *entry) {
	last := l.root.prev
	e.prev, e.next = last, &l.root
	last.next = e
	l.root.prev = e
}

func (l *leaseList) remove(e *entry) {
	if e.prev == nil {
		return
	}
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

type heapKind int8

const (
	inNone heapKind = iota
	inReady
	inWaiting
)

// claimBefore reports whether a is claimed before b: chairman override first, then higher
// priority, then older, then lower id.
func claimBefore(a, b *entry) bool {
	if a.ev.ChairmanOverride != b.ev.ChairmanOverride {
		return a.ev.ChairmanOverride
	}
	if a.rank != b.rank {
		return a.rank > b.rank
	}
	if c := a.ev.CreatedAt.Compare(b.ev.CreatedAt); c != 0 {
		return c < 0
	}
	return strings.Compare(a.ev.ID, b.ev.ID) < 0
}

// dueBefore orders waiting events by next_attempt_at, then claim order.
func dueBefore(a, b *entry) bool {
	if c := a.ev.NextAttemptAt.Compare(b.ev.NextAttemptAt); c != 0 {
		return c < 0
	}
	return claimBefore(a, b)
}

// entryHeap is a binary min-heap of entries under less, tracking each entry's index so an
// entry can be removed from the middle (cancel, expire).
type entryHeap struct {
	items []*entry
	kind  heapKind
	less  func(a, b *entry) bool
}

func (h *entryHeap) len() int { return len(h.items) }

func (h *entryHeap) push(e *entry) {
	e.in, e.idx = h.kind, len(h.items)
	h.items = append(h.items, e)
	h.up(e.idx)
}

func (h *entryHeap) pop() *entry { return h.remove(0) }

func (h *entryHeap) remove(i int) *entry {
	n := len(h.items) - 1
	e := h.items[i]
	if i != n {
		h.swap(i, n)
	}
	h.items[n] = nil
	h.items = h.items[:n]
	if i < n && !h.down(i) {
		h.up(i)
	}
	e.in, e.idx = inNone, -1
	return e
}

func (h *entryHeap) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].idx = i
	h.items[j].idx = j
}

func (h *entryHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(h.items[j], h.items[i]) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h *entryHeap) down(i0 int) bool {
	i, n := i0, len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h.less(h.items[r], h.items[l]) {
			j = r
		}
		if !h.less(h.items[j], h.items[i]) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}

// serviceQueue holds one service's claimable events, ready (due, in claim order) and
// waiting (next_attempt_at in the future), and the index of all its events by idempotency
// key.
type serviceQueue struct {
	id      string
	ready   entryHeap
	waiting entryHeap
	keys    map[string]*entry
}

func newServiceQueue(id string) *serviceQueue {
	return &serviceQueue{
		id:      id,
		keys:    map[string]*entry{},
		ready:   entryHeap{kind: inReady, less: claimBefore},
		waiting: entryHeap{kind: inWaiting, less: dueBefore},
	}
}

// add queues a pending or retrying entry.
func (q *serviceQueue) add(e *entry, now time.Time) {
	e.q = q
	if e.ev.NextAttemptAt.After(now) {
		q.waiting.push(e)
	} else {
		q.ready.push(e)
	}
}

// drop takes e out of whichever heap holds it.
func (q *serviceQueue) drop(e *entry) {
	switch e.in {
	case inReady:
		q.ready.remove(e.idx)
	case inWaiting:
		q.waiting.remove(e.idx)
	}
}

// promote moves the waiting entries that are due at now to ready.
func (q *serviceQueue) promote(now time.Time) {
	for q.waiting.len() > 0 && !q.waiting.items[0].ev.NextAttemptAt.After(now) {
		q.ready.push(q.waiting.pop())
	}
}

// queueHeap orders service queues by their first ready entry, to merge them in a claim.
type queueHeap []*serviceQueue

func (h queueHeap) less(i, j int) bool { return claimBefore(h[i].ready.items[0], h[j].ready.items[0]) }

func (h queueHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h queueHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

// popFront removes the first queue.
func (h *queueHeap) popFront() {
	old := *h
	n := len(old) - 1
	old[0] = old[n]
	old[n] = nil
	*h = old[:n]
	h.down(0)
}
