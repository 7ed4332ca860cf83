package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ehg/hub/store"
)

// Defaults of [Options].
const (
	// DefaultSchema is the schema holding the hub's tables when Options.Schema is empty.
	DefaultSchema = "hub"
	// DefaultListenRetry is the first delay before a dead notification listener reconnects;
	// the delay doubles up to MaxListenRetry while reconnecting fails.
	DefaultListenRetry = 100 * time.Millisecond
	// MaxListenRetry caps the listener's reconnection delay.
	MaxListenRetry = 5 * time.Second
	// DefaultNotifyInterval is the shortest time between two notifications one store sends
	// when Options.NotifyInterval is zero.
	DefaultNotifyInterval = 5 * time.Millisecond
)

// schemaName restricts schema names to plain identifiers (they also name the NOTIFY channel).
var schemaName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Options configure a [Store]. The zero value is usable.
type Options struct {
	// Schema is the PostgreSQL schema holding every table; DefaultSchema ("hub") when empty.
	// It must be a plain identifier (letters, digits, underscore; at most 63 bytes). The
	// NOTIFY channel carries the same name.
	Schema string
	// Now is the clock used for every time the store writes or compares; time.Now when nil.
	// Its results are kept in UTC at microsecond precision (store.Timestamp).
	Now func() time.Time
	// Logger receives the listener's reconnection messages; nil discards them.
	Logger *slog.Logger
	// ListenRetry is the first delay before a dead notification listener reconnects;
	// DefaultListenRetry when zero. Negative is invalid.
	ListenRetry time.Duration
	// NotifyInterval is the shortest time between two NOTIFYs this store sends (after
	// inserts, requeues, released leases and retries); changes within it are announced by
	// one notification at its end. DefaultNotifyInterval when zero; negative is invalid.
	// PostgreSQL serialises notifying commits, so notifications are sent on their own,
	// never inside the writing transaction.
	NotifyInterval time.Duration
	// MigrateTo, when positive, stops the migrations at that version: the later ones are
	// left for a later Open (or Migrate) without it. A rolling deploy runs the new build's
	// forward-compatible migrations while the previous build still serves; see
	// docs/deploys.md. Zero applies every migration of this build.
	MigrateTo int
}

// withDefaults validates o and fills its defaults.
func (o Options) withDefaults() (Options, error) {
	if o.Schema == "" {
		o.Schema = DefaultSchema
	}
	if !schemaName.MatchString(o.Schema) {
		return o, fmt.Errorf("%w: Schema %q is not a plain identifier of at most 63 bytes", errInvalidOption, o.Schema)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ListenRetry < 0 {
		return o, fmt.Errorf("%w: ListenRetry %v is negative", errInvalidOption, o.ListenRetry)
	}
	if o.ListenRetry == 0 {
		o.ListenRetry = DefaultListenRetry
	}
	if o.NotifyInterval < 0 {
		return o, fmt.Errorf("%w: NotifyInterval %v is negative", errInvalidOption, o.NotifyInterval)
	}
	if o.NotifyInterval == 0 {
		o.NotifyInterval = DefaultNotifyInterval
	}
	if o.MigrateTo < 0 {
		return o, fmt.Errorf("%w: MigrateTo %d is negative", errInvalidOption, o.MigrateTo)
	}
	return o, nil
}

// now reads the clock as the store keeps times.
func (o Options) now() time.Time { return store.Timestamp(o.Now()) }

// Store is the PostgreSQL [store.Store]. It is safe for concurrent use by many goroutines,
// and by many processes sharing the database. Create it with [Open] or [New]; call Close
// when done.
type Store struct {
	pool    *pgxpool.Pool
	ownPool bool
	opts    Options
	q       queries
	channel string

	closed atomic.Bool
	// mu orders Close against listeners registering in wg.
	mu sync.Mutex
	// done ends the notifier and the listeners on Close; wg waits for them.
	done   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// poke asks the notifier goroutine to NOTIFY (capacity 1: requests coalesce).
	poke chan struct{}
}

// Open connects to the database at url (a PostgreSQL URL or keyword/value DSN accepted by
// pgxpool.ParseConfig, so pool settings such as pool_max_conns come from it), applies the
// migrations, and returns a Store owning the pool: Close closes it. Each
// [Store.Notifications] call adds one connection outside the pool. Errors: ErrInvalidArgument for a bad URL or option, *SchemaVersionError when
// the schema is newer than this build, or the connection error.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if _, err := opts.withDefaults(); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%w: postgres: parse URL: %w", store.ErrInvalidArgument, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open pool: %w", err)
	}
	s, err := New(ctx, pool, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownPool = true
	return s, nil
}

// New returns a Store over a pool the caller opened and keeps owning (Close leaves it
// open), after applying the migrations. Errors are those of [Open].
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: nil pool", errInvalidOption)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, err := migrate(ctx, pool, o, migrationFiles); err != nil {
		return nil, err
	}
	done, cancel := context.WithCancel(context.Background())
	s := &Store{
		pool:    pool,
		opts:    o,
		q:       buildQueries(pgx.Identifier{o.Schema}.Sanitize()),
		channel: o.Schema,
		done:    done,
		cancel:  cancel,
		poke:    make(chan struct{}, 1),
	}
	s.wg.Add(1)
	go s.notifier()
	return s, nil
}

// Schema returns the schema holding the store's tables.
func (s *Store) Schema() string { return s.opts.Schema }

// Pool returns the connection pool the store uses.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close stops the notifier and the notification listeners and, when the store was created by [Open], closes
// its pool. Later calls return store.ErrClosed; Close itself is idempotent and returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	already := s.closed.Swap(true)
	s.mu.Unlock()
	if already {
		return nil
	}
	s.cancel()
	s.wg.Wait()
	if s.ownPool {
		s.pool.Close()
	}
	return nil
}

// check returns store.ErrClosed after Close.
func (s *Store) check() error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

// now reads the store's clock.
func (s *Store) now() time.Time { return s.opts.now() }

// queries holds the SQL texts with the schema substituted, built once per store.
type queries struct {
	insertService, getServiceByID, getServiceByName, updateService, listServices string
	recordServiceHealth                                                          string

	insertEvents, insertEventsPlain, selectEventsByKeys, getEvent, getEventByKey, listEvents string
	cancelEvent, requeueEvent, requeueEvents, eventStatus                                    string

	claim, complete, fail, extend, release, expire string
	claimRegions, completeMasked                   string

	deleteEvents, deleteMetrics, deleteAnalytics, subjectEvents, erase, cancelEvents string

	insertRequest, getRequest, requestOwner, countRequest, updateRequest, claimRequest, listRequests string

	countByStatus, eventStats, eventVolume string

	insertRule, getRule, getActiveRule, listRules, lockRules, deactivateRules, activateRule string

	insertContract, getContract, listContracts string

	insertMetric, listMetrics string

	upsertAnalytics, listAnalytics string

	insertAudit, listAudit string
}

func buildQueries(schema string) queries {
	r := strings.NewReplacer("{s}", schema)
	q := queries{
		insertService:    sqlInsertService,
		getServiceByID:   sqlGetServiceByID,
		getServiceByName: sqlGetServiceByName,
		updateService:    sqlUpdateService,
		listServices:     sqlListServices,

		recordServiceHealth: sqlRecordServiceHealth,

		insertEvents:       sqlInsertEvents,
		insertEventsPlain:  strings.Replace(sqlInsertEvents, sqlInsertEventsConflict, "", 1),
		selectEventsByKeys: sqlSelectEventsByKeys,
		getEvent:           sqlGetEvent,
		getEventByKey:      sqlGetEventByKey,
		listEvents:         sqlListEvents,
		cancelEvent:        sqlCancelEvent,
		requeueEvent:       sqlRequeueEvent,
		requeueEvents:      sqlRequeueEvents,
		eventStatus:        sqlEventStatus,

		claim:    sqlClaim,
		complete: sqlComplete,
		fail:     sqlFail,
		extend:   sqlExtend,
		release:  sqlRelease,
		expire:   sqlExpire,

		claimRegions:   sqlClaimRegions,
		completeMasked: sqlCompleteMasked,

		deleteEvents:    sqlDeleteEvents,
		deleteMetrics:   sqlDeleteMetrics,
		deleteAnalytics: sqlDeleteAnalytics,
		subjectEvents:   sqlSubjectEvents,
		erase:           sqlErase,
		cancelEvents:    sqlCancelEvents,

		insertRequest: sqlInsertRequest,
		getRequest:    sqlGetRequest,
		requestOwner:  sqlRequestOwner,
		countRequest:  sqlCountRequest,
		updateRequest: sqlUpdateRequest,
		claimRequest:  sqlClaimRequest,
		listRequests:  sqlListRequests,

		countByStatus: sqlCountByStatus,
		eventStats:    sqlEventStats,
		eventVolume:   sqlEventVolume,

		insertRule:      sqlInsertRule,
		getRule:         sqlGetRule,
		getActiveRule:   sqlGetActiveRule,
		listRules:       sqlListRules,
		lockRules:       sqlLockRules,
		deactivateRules: sqlDeactivateRules,
		activateRule:    sqlActivateRule,

		insertContract: sqlInsertContract,
		getContract:    sqlGetContract,
		listContracts:  sqlListContracts,

		insertMetric: sqlInsertMetric,
		listMetrics:  sqlListMetrics,

		upsertAnalytics: sqlUpsertAnalytics,
		listAnalytics:   sqlListAnalytics,

		insertAudit: sqlInsertAudit,
		listAudit:   sqlListAudit,
	}
	for _, p := range []*string{
		&q.insertService, &q.getServiceByID, &q.getServiceByName, &q.updateService, &q.listServices,
		&q.recordServiceHealth,
		&q.insertEvents, &q.insertEventsPlain, &q.selectEventsByKeys, &q.getEvent, &q.getEventByKey, &q.listEvents,
		&q.cancelEvent, &q.requeueEvent, &q.requeueEvents, &q.eventStatus,
		&q.claim, &q.complete, &q.fail, &q.extend, &q.release, &q.expire,
		&q.claimRegions, &q.completeMasked,
		&q.deleteEvents, &q.deleteMetrics, &q.deleteAnalytics, &q.subjectEvents, &q.erase, &q.cancelEvents,
		&q.insertRequest, &q.getRequest, &q.requestOwner, &q.countRequest, &q.updateRequest, &q.claimRequest, &q.listRequests,
		&q.countByStatus, &q.eventStats, &q.eventVolume,
		&q.insertRule, &q.getRule, &q.getActiveRule, &q.listRules, &q.lockRules, &q.deactivateRules, &q.activateRule,
		&q.insertContract, &q.getContract, &q.listContracts,
		&q.insertMetric, &q.listMetrics,
		&q.upsertAnalytics, &q.listAnalytics,
		&q.insertAudit, &q.listAudit,
	} {
		*p = r.Replace(*p)
	}
	return q
}

// where accumulates the conditions and arguments of a dynamic WHERE clause.
type where struct {
	conds []string
	args  []any
}

// arg appends an argument and returns its placeholder.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return fmt.Sprintf("$%d", len(w.args))
}

// add appends a condition.
func (w *where) add(cond string) { w.conds = append(w.conds, cond) }

// sql returns " WHERE a AND b", or "" without conditions.
func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// page appends LIMIT and OFFSET placeholders for a normalised page.
func (w *where) page(p store.Page) string {
	return " LIMIT " + w.arg(p.Limit) + " OFFSET " + w.arg(p.Offset)
}
