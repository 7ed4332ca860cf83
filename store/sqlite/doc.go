// Package sqlite is the SQLite implementation of [store.Store], on modernc.org/sqlite (pure
// Go, no cgo).
//
// # Opening
//
// [Open] takes a file path and owns its connections: one writer connection and a pool of
// readers, each configured by the driver as it is opened (WAL, busy_timeout, foreign_keys,
// synchronous=NORMAL; readers query_only). [New] takes a *sql.DB the caller opened with the
// "sqlite" driver, so the caller chooses the pool; open it with [DSN] to get the same
// per-connection settings. Both apply the embedded migrations ([Store.Migrate]) and refuse a
// database migrated by a newer build with a *[SchemaTooNewError].
//
// # Transactions
//
// Every write runs in a transaction started with BEGIN IMMEDIATE on the single writer, so a
// transaction that reads before it writes already holds SQLite's write lock and cannot fail
// with SQLITE_BUSY half-way; writers of other processes wait for the lock up to
// [Options.BusyTimeout] and then get store.ErrBusy. Readers never wait for writers (WAL).
//
// Concurrent writes are committed together (group commit): the writes queued while a
// transaction runs go into the next one, each in its own SAVEPOINT, so each is still atomic
// and isolated (a failed write is rolled back alone) while many single-event inserts share
// one commit. A write's context is honoured while it waits for its turn; once it runs, it
// runs to its end, because interrupting a statement would roll back the shared transaction.
//
// # Storage
//
// Times are INTEGER unix microseconds (UTC), so SQL orders and compares them; JSON columns
// are TEXT checked with json_valid; enumerations are CHECK constraints; tables are STRICT.
// The clock is [Options.Now]: SQLite's clock is never used. An event's documents that never
// change with its state (payload_in, transformation_applied, canonical_mapping) live in
// integration_event_payloads, one row per event keyed by event_id, so the updates of the
// queue (claim, lease extension, completion, retry) rewrite a short row and not the payload's
// overflow pages; the view integration_event_records joins them back into the event's full
// record for reading with SQL.
//
// # Aggregates
//
// The statistics are computed by SQLite, not by loading rows into Go: counts and sums with
// GROUP BY; percentiles as percentile_cont, from the values ranked with row_number() and
// interpolated linearly with the same floating-point operations as store.Percentile (they
// agree exactly); the standard deviation from the sum and the sum of squares.
//
// # Queue
//
// [Store.ClaimEvents] is one UPDATE … WHERE id IN (SELECT … ORDER BY … LIMIT n) RETURNING,
// served by a partial index over the due events in claim order; completions and failures
// are batched in one transaction with one prepared statement, fenced by the lease owner.
// [Store.Notifications] wakes workers of this process only: SQLite has no cross-process
// signal, so other processes find events by polling.
package sqlite
