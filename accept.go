package hub

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
)

// maxAcceptGroup caps the events one group commit of accepts inserts.
const maxAcceptGroup = 256

// maxAcceptLeaders is how many groups may commit at once: a database commits concurrent
// transactions in parallel (and flushes their WAL together), so a caller waits only for a
// free slot, not for the group before it.
const maxAcceptLeaders = 4

// acceptGroup commits concurrent single-event accepts together (group commit): a caller that
// finds fewer than maxAcceptLeaders inserts running leads one at once, and inserts with its
// own event every event queued meanwhile (up to maxAcceptGroup) in one InsertEvents, so one
// transaction and one durable commit serve them all; callers that arrive while every slot
// is busy queue for the next group, whose leader is the first of them. A caller without
// concurrency therefore inserts at once, as before; under concurrency a group's window is
// the time until a running commit ends.
// Every caller is answered only after the group's InsertEvents returned, so a success means
// its event is durable. Errors stay per event: InsertEvents stores all or nothing, so when it
// fails for a group, each event is inserted again alone and gets its own outcome.
//
// A queued caller whose context ends before its group is taken gets the context's error and
// its event is not inserted; once taken, its event is inserted whatever its context does, and
// the group runs with the leader's context values but not its cancellation.
//
// The in-memory store commits nothing, so there each accept inserts directly (mem), handing
// the event and its documents over (memory.Store.AdoptEvent: no copy).
type acceptGroup struct {
	st  store.Store
	mem *memory.Store
	// leaders is how many groups may commit at once (maxAcceptLeaders).
	leaders int

	mu      sync.Mutex
	leading int // groups committing now, at most leaders
	pending []*acceptOp
}

const (
	acceptQueued int32 = iota
	acceptTaken
	acceptCancelled
)

// acceptOp is one caller's event.
type acceptOp struct {
	ctx   context.Context
	ev    *store.Event
	state atomic.Int32
	// done receives the insert's outcome, or lead when the caller is to lead the next
	// group (its own event then goes first).
	done chan acceptResult
}

type acceptResult struct {
	ev      *store.Event
	created bool
	err     error
	lead    bool
}

func newAcceptGroup(st store.Store) *acceptGroup {
	mem, _ := st.(*memory.Store)
	return &acceptGroup{st: st, mem: mem, leaders: maxAcceptLeaders}
}

// insert stores ev as store.EventStore.InsertEvent does, committed together with the
// events of concurrent callers. ev's documents are the hub's own (the pipeline produced and
// checked them: store.CheckedDocuments) and ev is handed over: the caller must not change
// it or its documents afterwards (the memory store keeps them as they are).
func (g *acceptGroup) insert(ctx context.Context, ev *store.Event) (*store.Event, bool, error) {
	if g.mem != nil {
		return g.mem.AdoptEvent(ctx, ev)
	}
	ctx = store.CheckedDocuments(ctx)
	op := &acceptOp{ctx: ctx, ev: ev, done: make(chan acceptResult, 1)}
	g.mu.Lock()
	lead := g.leading < g.leaders
	if lead {
		g.leading++
		op.state.Store(acceptTaken)
	} else {
		g.pending = append(g.pending, op)
	}
	g.mu.Unlock()
	if !lead {
		var r acceptResult
		select {
		case r = <-op.done:
		case <-ctx.Done():
			if op.state.CompareAndSwap(acceptQueued, acceptCancelled) {
				return nil, false, ctx.Err()
			}
			r = <-op.done // already taken into a group: its outcome follows
		}
		if !r.lead {
			return r.ev, r.created, r.err
		}
	}
	g.lead(op)
	r := <-op.done
	return r.ev, r.created, r.err
}

// lead runs one group, own event first, then hands the lead to the next queued caller or,
// with none, gives it up; also when the store panics, so the queue never stalls.
func (g *acceptGroup) lead(own *acceptOp) {
	defer g.handOver()
	g.mu.Lock()
	group := g.take([]*acceptOp{own})
	g.mu.Unlock()
	g.run(group)
}

// take appends to group the queued callers (up to maxAcceptGroup in all), marking them
// taken and dropping the cancelled ones. The caller holds g.mu.
func (g *acceptGroup) take(group []*acceptOp) []*acceptOp {
	n := 0
	for _, op := range g.pending {
		if len(group) >= maxAcceptGroup {
			break
		}
		n++
		if op.state.CompareAndSwap(acceptQueued, acceptTaken) {
			group = append(group, op)
		}
	}
	rest := copy(g.pending, g.pending[n:])
	clear(g.pending[rest:])
	g.pending = g.pending[:rest]
	return group
}

// handOver makes the first queued caller the next leader, or ends leading.
func (g *acceptGroup) handOver() {
	g.mu.Lock()
	var next *acceptOp
	for len(g.pending) > 0 && next == nil {
		op := g.pending[0]
		g.pending[0] = nil
		g.pending = g.pending[1:]
		if op.state.CompareAndSwap(acceptQueued, acceptTaken) {
			next = op
		}
	}
	if next == nil {
		g.leading--
	}
	g.mu.Unlock()
	if next != nil {
		next.done <- acceptResult{lead: true}
	}
}

// run inserts the group's events and answers every caller, also when the store panics (the
// panic then goes on).
func (g *acceptGroup) run(group []*acceptOp) {
	answered := 0
	defer func() {
		if r := recover(); r != nil {
			for _, op := range group[answered:] {
				op.done <- acceptResult{err: fmt.Errorf("hub: storing the event failed: the store panicked in a group commit: %v", r)}
			}
			panic(r)
		}
	}()
	answer := func(op *acceptOp, ev *store.Event, created bool, err error) {
		op.done <- acceptResult{ev: ev, created: created, err: err}
		answered++
	}
	if len(group) == 1 {
		op := group[0]
		ev, created, err := g.st.InsertEvent(op.ctx, op.ev)
		answer(op, ev, created, err)
		return
	}
	evs := make([]*store.Event, len(group))
	for i, op := range group {
		evs[i] = op.ev
	}
	res, err := g.st.InsertEvents(context.WithoutCancel(group[0].ctx), evs)
	if err == nil && len(res) == len(group) {
		for i, op := range group {
			answer(op, res[i].Event, res[i].Created, nil)
		}
		return
	}
	// Each event alone, so that only a bad one fails. The group's insert may have stored
	// some or all of them before it failed (a store can commit and then fail reading back):
	// an event found under the ID the hub gave it is the caller's own, stored.
	for _, op := range group {
		ctx := context.WithoutCancel(op.ctx)
		ev, created, err := g.st.InsertEvent(ctx, op.ev)
		switch {
		case op.ev.ID == "":
		case err == nil && !created && ev.ID == op.ev.ID:
			created = true // its idempotency key found the event the group stored
		case err != nil:
			if got, gerr := g.st.GetEvent(ctx, op.ev.ID); gerr == nil && got.ServiceID == op.ev.ServiceID {
				ev, created, err = got, true, nil
			}
		}
		answer(op, ev, created, err)
	}
}
