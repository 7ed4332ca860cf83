package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/ehg/hub/store"

	sqlite "modernc.org/sqlite"
)

// DriverName is the database/sql driver name of modernc.org/sqlite, which this package uses.
const DriverName = "sqlite"

// Defaults of [Options].
const (
	// DefaultBusyTimeout is how long a connection waits for another connection's lock
	// (SQLite's busy_timeout) before an operation fails with store.ErrBusy.
	DefaultBusyTimeout = 10 * time.Second
	// DefaultMaxReaders is the minimum size of the read pool Open creates; it grows to
	// GOMAXPROCS on machines with more processors.
	DefaultMaxReaders = 4
)

// Options configure a [Store]. The zero value is valid.
type Options struct {
	// Now is the clock used for every time the store writes or compares (claims, leases,
	// expiry, created_at...). SQLite's own clock is never used. Nil means time.Now.
	Now func() time.Time
	// BusyTimeout is SQLite's busy_timeout: how long a statement waits for a lock held by
	// another connection or process. It also bounds how long Open keeps retrying the setup
	// of a connection (pragmas, the switch to WAL) and Migrate the migration transaction
	// when the file is busy in ways busy_timeout does not cover. Zero means
	// DefaultBusyTimeout.
	BusyTimeout time.Duration
	// MaxReaders caps the read pool of a store built by Open. Zero means the larger of
	// DefaultMaxReaders and GOMAXPROCS. New ignores it: the caller sizes its own pool.
	MaxReaders int
	// Durable sets synchronous=FULL: every commit is flushed to disk before it returns, so
	// committed events survive a power failure or an OS crash. The default, false, is
	// synchronous=NORMAL: commits survive a crash of the process (the WAL is written before
	// COMMIT returns) but the last ones may be lost if the machine itself fails; it is about
	// a third faster. New ignores it: the caller's DSN decides (see DSN).
	Durable bool
	// Logger receives migration messages. Nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if o.MaxReaders <= 0 {
		o.MaxReaders = max(DefaultMaxReaders, runtime.GOMAXPROCS(0))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Store is the SQLite implementation of [store.Store] and [store.Notifier].
//
// Writes go through a single writer: one connection, each write transaction started with
// BEGIN IMMEDIATE so it takes SQLite's write lock before it reads and can never fail
// half-way with SQLITE_BUSY; concurrent writes are committed together, each in its own
// savepoint (see the package documentation). Readers run alongside on their own
// connections (WAL). Several processes may share one database file; they serialise on the
// write lock, waiting up to Options.BusyTimeout. A Store is safe for concurrent use by many
// goroutines.
type Store struct {
	r, w   *sql.DB
	owned  bool // Open created r and w, and Close closes them
	perTx  string
	busy   time.Duration // Options.BusyTimeout
	now    func() time.Time
	log    *slog.Logger
	wr     writer
	notify notifier
	// tokenLocks serialises OAuth token refreshes per service in this process.
	tokenLocks tokenLocks

	// ck is the connection of the background checkpointer (Open only, nil otherwise),
	// ckWake its signal after each commit and ckDone closed when it has stopped.
	ck     *sql.DB
	ckWake chan struct{}
	ckDone chan struct{}
	// ckMu is held by the checkpointer while it checkpoints and by Purge while it
	// truncates the WAL: a checkpoint running on another connection would make Purge's
	// fail with SQLITE_BUSY (the checkpoint lock is not waited for).
	ckMu sync.Mutex

	closeOnce sync.Once
	closed    chan struct{}
}

// DSN returns the data source name of a database file for modernc.org/sqlite with the
// settings this package relies on, applied by the driver on every new connection: WAL,
// busy_timeout (opts.BusyTimeout), foreign_keys, synchronous (NORMAL, or FULL when
// opts.Durable), secure_delete=FAST (deleted content inside pages being written is
// overwritten with zeros) and transactions that begin IMMEDIATE. Use it to open the *sql.DB given to
// [New]: sql.Open(sqlite.DriverName, sqlite.DSN(path, sqlite.Options{})). Relative paths are
// made absolute.
func DSN(path string, opts Options) string {
	return dsn(path, opts.withDefaults(), connShared)
}

// Connection roles of dsn: a connection of the caller's pool (DSN, New), the reader pool or
// the writer of a Store built by Open.
const (
	connShared = iota
	connRead
	connWrite
)

func dsn(path string, opts Options, role int) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	q := url.Values{}
	sync := "NORMAL"
	if opts.Durable {
		sync = "FULL"
	}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous("+sync+")")
	// Deleted and replaced content is overwritten with zeros where that costs no extra
	// write (inside pages that are written anyway); an erasure rebuilds the file (Purge) for
	// the rest.
	q.Add("_pragma", "secure_delete(FAST)")
	q.Set("_txlock", "immediate")
	switch role {
	case connRead:
		q.Add("_pragma", "query_only(1)")
	case connWrite:
		// The writer connection of a Store built by Open:
		//   - temp_store=MEMORY: the statement journal of each statement and savepoint of a
		//     group commit is kept in memory, not in a temporary file created, written and
		//     deleted per transaction (Purge switches to a file for VACUUM's copy);
		//   - cache_size: 16 MiB of page cache, so the leaves of the events' indexes stay
		//     cached as the table grows instead of being read back from the WAL or the file;
		//   - wal_autocheckpoint: a checkpoint after 8,000 WAL frames (32 MiB) instead of
		//     1,000, so the index pages every commit rewrites are copied to the database
		//     once per checkpoint, not once per thousand frames.
		// None of them changes what a commit guarantees (synchronous is as above).
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Add("_pragma", "cache_size(-16384)")
		q.Add("_pragma", "wal_autocheckpoint(8000)")
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// Open opens (creating when missing) the SQLite database file at path, applies pending
// migrations and returns a Store that owns its connections: a writer pool of one
// connection and a read pool, each connection configured by the driver as it is opened
// (see [DSN]). In-memory databases are not supported by Open; open one yourself and use New.
//
// Errors: a *[SchemaTooNewError] when the file was migrated by a newer version of this
// package; store.ErrBusy when another process held the write lock past BusyTimeout; I/O
// errors from the driver.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("%w: sqlite: Open needs a database file path, got %q", store.ErrInvalidArgument, path)
	}
	opts = opts.withDefaults()
	w, err := openPool(dsn(path, opts, connWrite), opts.BusyTimeout)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	r, err := openPool(dsn(path, opts, connRead), opts.BusyTimeout)
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(opts.MaxReaders)
	r.SetMaxIdleConns(opts.MaxReaders)
	s := newStore(r, w, opts, true)
	if err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	ck, err := openPool(dsn(path, opts, connShared), opts.BusyTimeout)
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ck.SetMaxOpenConns(1)
	ck.SetMaxIdleConns(1)
	ck.SetConnMaxIdleTime(0)
	ck.SetConnMaxLifetime(0)
	s.ck, s.ckWake, s.ckDone = ck, make(chan struct{}, 1), make(chan struct{})
	go s.checkpointer()
	return s, nil
}

// New returns a Store over db, a database the caller opened with the "sqlite" driver of
// modernc.org/sqlite and keeps ownership of (Close does not close it). It applies pending
// migrations first.
//
// New cannot configure the caller's connections as they open, so it sets journal_mode=WAL
// once (a persistent property of the file) and, on the connection of every write
// transaction, busy_timeout, foreign_keys and secure_delete before it begins the
// transaction IMMEDIATE.
// Reads use whatever the connections were opened with: open db with [DSN] to have every
// connection configured. Writes of this Store are serialised in-process whatever the pool
// size. db must not be an in-memory database shared by a pool of several connections unless
// its DSN makes them share one database (e.g. "file::memory:?cache=shared").
func New(ctx context.Context, db *sql.DB, opts Options) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: sqlite: New needs a *sql.DB", store.ErrInvalidArgument)
	}
	opts = opts.withDefaults()
	s := newStore(db, db, opts, false)
	s.perTx = "PRAGMA busy_timeout = " + strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10) +
		"; PRAGMA foreign_keys = ON; PRAGMA secure_delete = FAST"
	if _, err := retryBusy(ctx, opts.BusyTimeout, func() (sql.Result, error) {
		return db.ExecContext(ctx, "PRAGMA journal_mode = WAL")
	}); err != nil {
		return nil, fmt.Errorf("sqlite: set journal_mode: %w", mapError(err))
	}
	if err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// openPool returns a connection pool on dsn whose connections retry their setup while the
// file is busy (see busyConnector).
func openPool(dsn string, busyTimeout time.Duration) (*sql.DB, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(busyConnector{Connector: c, timeout: busyTimeout}), nil
}

func newStore(r, w *sql.DB, opts Options, owned bool) *Store {
	s := &Store{
		r:      r,
		w:      w,
		owned:  owned,
		busy:   opts.BusyTimeout,
		now:    opts.Now,
		log:    opts.Logger,
		closed: make(chan struct{}),
	}
	s.wr.idle.L = &s.wr.mu
	return s
}

// Close closes the notification channels, fails the writes still queued with
// store.ErrClosed, waits for the write transaction in progress (if any) to end and, for a
// Store built by Open, closes its connection pools. Operations started after Close return
// store.ErrClosed. Calling it again does nothing.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		s.notify.closeAll()
		s.closeWriter()
		if s.ckDone != nil {
			<-s.ckDone
		}
		if s.ck != nil {
			err = s.ck.Close()
		}
		if s.owned {
			err = errors.Join(err, s.w.Close(), s.r.Close())
		}
	})
	return err
}

// nowTS is the store's clock as stored: UTC, microseconds.
func (s *Store) nowTS() time.Time { return store.Timestamp(s.now()) }

// begin is the entry check of every operation: the context's error when ctx is done,
// store.ErrClosed after Close.
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.checkOpen()
}

func (s *Store) checkOpen() error {
	select {
	case <-s.closed:
		return store.ErrClosed
	default:
		return nil
	}
}

// querier is what both the read pool and a write transaction offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// read runs fn in a read transaction on a reader connection, so several queries see one
// snapshot.
func (s *Store) read(ctx context.Context, fn func(q querier) error) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return mapError(err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return mapError(err)
	}
	return mapError(tx.Commit())
}

// readDB returns the read pool for single-statement reads, or ErrClosed.
func (s *Store) readDB() (*sql.DB, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	return s.r, nil
}

// Interface guards.
var (
	_ store.Store                 = (*Store)(nil)
	_ store.Notifier              = (*Store)(nil)
	_ store.ServiceHealthRecorder = (*Store)(nil)
)

// checkpointEvery is how long the checkpointer lets commits accumulate before it copies
// them to the database.
const checkpointEvery = 100 * time.Millisecond

// checkpointer copies committed WAL frames to the database file (a PASSIVE checkpoint, which
// never waits for or blocks readers and writers) on its own connection, at most every
// checkpointEvery while writes are committed, so the writer's transactions do not pay for
// it. The writer's own autocheckpoint (wal_autocheckpoint, see dsn) remains: when the WAL
// reaches its size, the writer checkpoints what is left, which lets the next transaction
// start the WAL again from its beginning.
func (s *Store) checkpointer() {
	defer close(s.ckDone)
	t := time.NewTimer(checkpointEvery)
	t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-s.ckWake:
		}
		t.Reset(checkpointEvery)
		select {
		case <-s.closed:
			t.Stop()
			return
		case <-t.C:
		}
		// An error (the file busy with another checkpoint, an I/O error) leaves the work to
		// the next round or to the writer's autocheckpoint.
		s.ckMu.Lock()
		_, _ = s.ck.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		s.ckMu.Unlock()
	}
}
