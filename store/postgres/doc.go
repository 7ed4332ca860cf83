// Package postgres is the PostgreSQL implementation of [store.Store], built on pgx v5 and
// its connection pool. Many processes may share one database: the queue is the
// coordination engine, with no broker of its own.
//
// # Opening
//
// [Open] connects from a URL and owns the pool; [New] uses a pool the caller opened (and
// keeps owning). Both apply the embedded migrations first (see [Migrate]). Every table lives
// in one schema, [Options.Schema] ("hub" by default), so environments and tests sharing a
// database stay apart.
//
// # Schema and migrations
//
// PostgreSQL 13 or later is required (gen_random_uuid is built in from 13); on 14 and later
// event payloads are TOAST-compressed with lz4 when the server supports it.
//
// The tables mirror the store records: JSON columns are JSONB, times TIMESTAMPTZ (written at
// microsecond precision, in UTC), ids UUIDs with gen_random_uuid() defaults, and every
// enumeration is a CHECK constraint. Events carry a generated priority_rank column, and a
// partial index over pending and retrying events, in claim order, serves the claim.
// Migrations are SQL files embedded in the binary, applied in one transaction under an
// advisory lock and recorded in the schema's schema_migrations table; a schema migrated by
// a newer build is refused with a [*SchemaVersionError] ([ErrSchemaTooNew]).
//
// # The queue
//
// ClaimEvents is a single UPDATE over a SELECT … FOR UPDATE SKIP LOCKED LIMIT n, so
// concurrent claimers in any number of processes take disjoint events without waiting for
// each other. InsertEvents is one multi-row INSERT … ON CONFLICT DO NOTHING over unnest'ed
// arrays; CompleteEvents, FailEvents and ExtendLease are one UPDATE … FROM unnest per call,
// fenced by the lease owner. The hot path therefore costs one round trip per batch, not per
// event.
//
// # Notifications
//
// After a write commits that may have made events claimable (insert, requeue, released
// lease, retry due at once), the store NOTIFYs the channel named after the schema, at most
// once per [Options.NotifyInterval] and outside the writing transaction: PostgreSQL
// serialises the commits of notifying transactions, and notifying inside every insert cut
// concurrent single-event inserts about five-fold in our measurements.
// [Store.Notifications] listens on a dedicated connection, coalesces, and reconnects when
// that connection dies. Notifications only cut latency: workers keep polling, which finds
// everything.
//
// # Time
//
// The store never uses the database clock: [Options.Now] supplies every time it writes or
// compares, passed as a query parameter, so tests can move time.
//
// # Errors
//
// Driver errors become store sentinels in one place: no rows is store.ErrNotFound, unique
// violations store.ErrConflict, serialization failures, deadlocks and lock timeouts
// store.ErrBusy, constraint and conversion failures store.ErrInvalidArgument.
//
// # Testing
//
// The tests run when HUB_TEST_POSTGRES_URL names a database (each test uses a fresh schema
// and drops it) and skip otherwise:
//
//	HUB_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test ./store/postgres/
package postgres
