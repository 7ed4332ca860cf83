package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ehg/hub/store"
)

// The writer runs every write of a Store through one connection, in transactions started
// with BEGIN IMMEDIATE, and commits concurrent writes together (group commit): the caller
// that finds no transaction running leads one, and runs in it every write queued meanwhile,
// each inside its own SAVEPOINT, so a write that fails is rolled back alone and the others
// commit. A commit costs about as much for one write as for a hundred, so many goroutines
// inserting single events share the cost.
//
// A write's context is honoured until its turn comes: a caller whose ctx ends while it is
// queued gets ctx.Err() and its write never runs. Once it runs, it runs to the end with
// ctx's values but not its cancellation, because interrupting a statement would roll back
// the whole shared transaction.

// maxGroup caps the writes committed together, bounding a leader's transaction.
const maxGroup = 128

// writeFunc is the body of a write: it runs inside the transaction on q, and its error
// rolls back its own changes only.
type writeFunc func(ctx context.Context, q *txConn) error

const (
	opQueued int32 = iota
	opRunning
	opCancelled
)

// writeOp is one queued write.
type writeOp struct {
	ctx context.Context
	fn  writeFunc
	// raw runs fn alone on the writer connection outside any transaction (VACUUM, which
	// cannot run inside one).
	raw   bool
	state atomic.Int32
	// done receives the write's result, or lead when the caller is to lead the next group
	// (its own write then runs first).
	done chan opResult
}

type opResult struct {
	err  error
	lead bool
}

// writer is the queue of pending writes and who leads.
type writer struct {
	mu      sync.Mutex
	idle    sync.Cond // signalled when leading becomes false; L is &mu
	pending []*writeOp
	leading bool
	// conn is the pinned writer connection with its cached statements (Open only), used by
	// the leader alone; nil until the first write and after it was discarded.
	conn *txConn
}

// txConn is the connection of a write transaction. Statements of the hot paths are
// prepared once per connection through stmt: kept while the connection is pinned (Open),
// closed with the transaction otherwise (New, where the caller's pool owns connections).
type txConn struct {
	*sql.Conn
	pinned bool
	stmts  map[string]*sql.Stmt
}

// stmt returns query prepared on the connection. The caller must not close it.
func (c *txConn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.stmts == nil {
		c.stmts = make(map[string]*sql.Stmt)
	}
	c.stmts[query] = st
	return st, nil
}

// exec runs a prepared (cached) statement.
func (c *txConn) exec(ctx context.Context, query string) error {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx)
	return err
}

// close closes the statements and returns the connection to its pool, or discards it
// from the pool when bad.
func (c *txConn) close(bad bool) {
	for _, st := range c.stmts {
		_ = st.Close()
	}
	c.stmts = nil
	if bad {
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
	}
	_ = c.Conn.Close()
}

// write runs fn in a write transaction and returns its error (mapped to the store
// sentinels), or the commit's.
func (s *Store) write(ctx context.Context, fn writeFunc) error {
	return s.enqueue(ctx, &writeOp{ctx: ctx, fn: fn, done: make(chan opResult, 1)})
}

// writeRaw runs fn on the writer connection, in its turn among the writes but alone and
// outside any transaction: fn manages its own statements (VACUUM).
func (s *Store) writeRaw(ctx context.Context, fn writeFunc) error {
	return s.enqueue(ctx, &writeOp{ctx: ctx, fn: fn, raw: true, done: make(chan opResult, 1)})
}

// enqueue queues op, leads when no write runs, and returns op's result.
func (s *Store) enqueue(ctx context.Context, op *writeOp) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	s.wr.mu.Lock()
	if s.checkOpen() != nil {
		// Close has drained the queue: nothing would run this write.
		s.wr.mu.Unlock()
		return store.ErrClosed
	}
	lead := !s.wr.leading
	if lead {
		s.wr.leading = true
		op.state.Store(opRunning)
	} else {
		s.wr.pending = append(s.wr.pending, op)
	}
	s.wr.mu.Unlock()
	if !lead {
		select {
		case r := <-op.done:
			if !r.lead {
				return r.err
			}
		case <-ctx.Done():
			if op.state.CompareAndSwap(opQueued, opCancelled) {
				return ctx.Err()
			}
			// Already taken into a group: wait for its result.
			r := <-op.done
			if !r.lead {
				return r.err
			}
		}
	}
	s.lead(op)
	return (<-op.done).err
}

// lead runs one group of writes, own (already marked running) first, then hands the lead
// to the next queued writer or, with none, gives it up. The hand-over happens even if a
// write panics, so the queue never stalls.
func (s *Store) lead(own *writeOp) {
	defer s.handOver()
	if own.raw {
		s.runRaw(own)
		return
	}
	// Let the goroutines that are ready to run queue their writes first (the callers the
	// previous group just answered, on their way back with their next write): one yield
	// of the processor, no wait when nobody else is runnable. Groups get larger under load
	// (2.5 writes per transaction become 6 in BenchmarkQueueHubLoad), and a transaction
	// costs about as much for one write as for several: it writes again the same index
	// pages, page 1 and the WAL frame headers.
	runtime.Gosched()
	s.wr.mu.Lock()
	group := s.take([]*writeOp{own})
	s.wr.mu.Unlock()
	s.runGroup(group)
}

// runRaw runs a raw write alone on the writer connection and delivers its result.
func (s *Store) runRaw(op *writeOp) {
	err := s.checkOpen()
	if err == nil {
		ctx := context.WithoutCancel(op.ctx)
		var conn *txConn
		if conn, err = s.writerConn(ctx); err == nil {
			if s.perTx != "" {
				_, err = conn.ExecContext(ctx, s.perTx)
			}
			if err == nil {
				err = op.fn(ctx, conn)
			}
			if !conn.pinned {
				conn.close(false)
			}
		}
	}
	op.done <- opResult{err: mapError(err)}
}

// handOver makes the first queued writer the leader, or ends the lead when none waits.
func (s *Store) handOver() {
	s.wr.mu.Lock()
	var next *writeOp
	for len(s.wr.pending) > 0 && next == nil {
		op := s.wr.pending[0]
		s.wr.pending[0] = nil
		s.wr.pending = s.wr.pending[1:]
		if op.state.CompareAndSwap(opQueued, opRunning) {
			next = op
		}
	}
	if next == nil {
		s.wr.leading = false
		s.wr.idle.Broadcast()
	}
	s.wr.mu.Unlock()
	if next != nil {
		next.done <- opResult{lead: true}
	}
}

// take appends to group the queued writes (up to maxGroup in all), marking them running
// and dropping the cancelled ones. The caller holds s.wr.mu.
func (s *Store) take(group []*writeOp) []*writeOp {
	n := 0
	for _, op := range s.wr.pending {
		if len(group) >= maxGroup || op.raw {
			break // a raw write leads a turn of its own
		}
		n++
		if op.state.CompareAndSwap(opQueued, opRunning) {
			group = append(group, op)
		}
	}
	rest := copy(s.wr.pending, s.wr.pending[n:])
	clear(s.wr.pending[rest:])
	s.wr.pending = s.wr.pending[:rest]
	return group
}

// runGroup runs the writes of group in one IMMEDIATE transaction and delivers each result,
// also when a write panics (the panic then goes on).
func (s *Store) runGroup(group []*writeOp) {
	errs := make([]error, len(group))
	var fatal error
	defer func() {
		r := recover()
		if r != nil {
			fatal = fmt.Errorf("sqlite: write abandoned: a write of its transaction panicked: %v", r)
		}
		for i, op := range group {
			err := errs[i]
			if fatal != nil {
				err = fatal
			}
			op.done <- opResult{err: mapError(err)}
		}
		if r != nil {
			panic(r)
		}
	}()
	fatal = s.runTx(group, errs)
}

// runTx is the transaction of runGroup. It returns an error that fails every write of the
// group (nothing committed), or nil with each write's own error in errs.
func (s *Store) runTx(group []*writeOp, errs []error) (fatal error) {
	if err := s.checkOpen(); err != nil {
		return err
	}
	// The transaction belongs to the whole group: no single caller's cancellation may end
	// it. busy_timeout bounds the wait for another process's lock.
	ctx := context.WithoutCancel(group[0].ctx)
	conn, err := s.writerConn(ctx)
	if err != nil {
		return err
	}
	begun, committed := false, false
	defer func() {
		// Roll back whatever did not commit. A failed ROLLBACK means SQLite already ended
		// the transaction or the connection is unusable; either way the connection is
		// discarded rather than returned to the pool in an unknown state.
		bad := false
		if begun && !committed {
			_, err := conn.ExecContext(ctx, "ROLLBACK")
			bad = err != nil
		}
		if bad || !conn.pinned {
			conn.close(bad)
			if conn.pinned {
				s.wr.conn = nil
			}
		}
	}()
	if s.perTx != "" {
		if _, err := conn.ExecContext(ctx, s.perTx); err != nil {
			return err
		}
	}
	// Counted as begun before it runs: a BEGIN that failed late may still have taken
	// effect, and a needless ROLLBACK only costs the connection.
	begun = true
	if err := conn.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	if len(group) == 1 {
		// Alone: the transaction is the write's, no savepoint needed.
		op := group[0]
		if err := op.fn(context.WithoutCancel(op.ctx), conn); err != nil {
			return err
		}
	} else {
		for i, op := range group {
			if err := s.runSavepoint(conn, op, &errs[i]); err != nil {
				return err
			}
		}
	}
	if err := conn.exec(ctx, "COMMIT"); err != nil {
		return err
	}
	committed = true
	if s.ckWake != nil {
		select {
		case s.ckWake <- struct{}{}:
		default:
		}
	}
	return nil
}

// writerConn returns the connection for a group: the pinned one (Open), acquired when
// missing, or a new one from the pool (New). Only the leader calls it.
func (s *Store) writerConn(ctx context.Context) (*txConn, error) {
	if s.wr.conn != nil {
		return s.wr.conn, nil
	}
	c, err := s.w.Conn(ctx)
	if err != nil {
		return nil, err
	}
	conn := &txConn{Conn: c, pinned: s.owned}
	if conn.pinned {
		s.wr.conn = conn
	}
	return conn, nil
}

// closeWriter fails the queued writes with store.ErrClosed, waits for a running group to
// finish, stops any new one, and releases the pinned connection. Close calls it after
// marking the store closed.
func (s *Store) closeWriter() {
	s.wr.mu.Lock()
	for _, op := range s.wr.pending {
		if op.state.CompareAndSwap(opQueued, opRunning) {
			op.done <- opResult{err: store.ErrClosed}
		}
	}
	clear(s.wr.pending)
	s.wr.pending = nil
	for s.wr.leading {
		s.wr.idle.Wait()
	}
	s.wr.leading = true // for good: write refuses to queue once the store is closed
	conn := s.wr.conn
	s.wr.conn = nil
	s.wr.mu.Unlock()
	if conn != nil {
		conn.close(false)
	}
}

// runSavepoint runs one write of a group inside a savepoint, recording its error in
// *opErr and rolling back to the savepoint on failure. It returns an error only when the
// transaction itself is lost.
func (s *Store) runSavepoint(conn *txConn, op *writeOp, opErr *error) error {
	ctx := context.WithoutCancel(op.ctx)
	if err := conn.exec(ctx, "SAVEPOINT write"); err != nil {
		return err
	}
	if err := op.fn(ctx, conn); err != nil {
		*opErr = err
		if _, err := conn.ExecContext(ctx, "ROLLBACK TO write"); err != nil {
			return fmt.Errorf("sqlite: roll back a failed write (%v): %w", *opErr, err)
		}
	}
	return conn.exec(ctx, "RELEASE write")
}
