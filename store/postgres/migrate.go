package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrSchemaTooNew reports that the database schema was migrated by a newer version of this
// package than the running one. Nothing was changed; upgrade the binary (or point it at
// another schema). [*SchemaVersionError] carries the versions and matches it with errors.Is.
var ErrSchemaTooNew = errors.New("postgres: database schema is newer than this build")

// SchemaVersionError is returned by [Migrate], [Open] and [New] when the schema holds a
// migration version this build does not know. It matches [ErrSchemaTooNew].
type SchemaVersionError struct {
	// Schema is the database schema inspected.
	Schema string
	// Database is the highest version recorded in the schema's migrations table.
	Database int
	// Latest is the highest version this build embeds.
	Latest int
}

// Error describes both versions.
func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("postgres: schema %q is at migration version %d, newer than this build's latest %d; refusing to use it",
		e.Schema, e.Database, e.Latest)
}

// Is reports whether target is [ErrSchemaTooNew].
func (e *SchemaVersionError) Is(target error) bool { return target == ErrSchemaTooNew }

// migration is one embedded, versioned SQL file: migrations/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations parses the embedded files in version order. A malformed file name is a
// build defect, reported as an error rather than a panic.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: read embedded migrations: %w", err)
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("postgres: migration file %q is not named NNNN_name.sql", e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("postgres: migrations %q and %q share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(fsys, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("postgres: read migration %q: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// LatestVersion returns the highest migration version embedded in this build.
func LatestVersion() int {
	ms, err := loadMigrations(migrationFiles)
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// MigrateResult says what [Migrate] did.
type MigrateResult struct {
	// From is the schema version found (0 for a fresh schema), To the version left.
	From, To int
	// Applied lists the versions applied by this call, in order; empty when the schema
	// was already up to date.
	Applied []int
}

// Migrate brings the schema named by opts.Schema (DefaultSchema when empty) up to this
// build's latest version: it creates the schema and its migrations table when missing and
// applies, in one transaction, every embedded migration not yet recorded. It holds a
// transaction-scoped advisory lock keyed by the schema name meanwhile, so processes starting
// at once apply each migration exactly once and the others then find nothing to do.
// Re-running it is a no-op. It refuses (with a [*SchemaVersionError]) a schema migrated by a
// newer build. Only opts.Schema, opts.MigrateTo and opts.Now are used. Safe for concurrent
// use.
func Migrate(ctx context.Context, pool *pgxpool.Pool, opts Options) (MigrateResult, error) {
	if pool == nil {
		return MigrateResult{}, fmt.Errorf("%w: postgres: nil pool", errInvalidOption)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return MigrateResult{}, err
	}
	return migrate(ctx, pool, o, migrationFiles)
}

func migrate(ctx context.Context, pool *pgxpool.Pool, o Options, fsys fs.FS) (res MigrateResult, err error) {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return res, err
	}
	latest := 0
	if len(ms) > 0 {
		latest = ms[len(ms)-1].version
	}
	schema := pgx.Identifier{o.Schema}.Sanitize()

	tx, err := pool.Begin(ctx)
	if err != nil {
		return res, mapError(fmt.Errorf("postgres: migrate: begin: %w", err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if _, err = tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", advisoryKey(o.Schema)); err != nil {
		return res, mapError(fmt.Errorf("postgres: migrate: advisory lock: %w", err))
	}
	if _, err = tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
		return res, mapError(fmt.Errorf("postgres: migrate: create schema %s: %w", schema, err))
	}
	if _, err = tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+schema+`.schema_migrations (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL)`); err != nil {
		return res, mapError(fmt.Errorf("postgres: migrate: create migrations table: %w", err))
	}
	// Every embedded version not recorded is applied, in version order: numbers may skip
	// (each area of the schema owns its numbers), so a lower number can arrive after a
	// higher one was applied.
	var recorded []int32
	if err = tx.QueryRow(ctx, "SELECT coalesce(array_agg(version), '{}') FROM "+schema+".schema_migrations").Scan(&recorded); err != nil {
		return res, mapError(fmt.Errorf("postgres: migrate: read version: %w", err))
	}
	applied, current := map[int]bool{}, 0
	for _, v := range recorded {
		applied[int(v)], current = true, max(current, int(v))
	}
	res.From, res.To = current, current
	if current > latest {
		err = &SchemaVersionError{Schema: o.Schema, Database: current, Latest: latest}
		return res, err
	}
	for _, m := range ms {
		if applied[m.version] || (o.MigrateTo > 0 && m.version > o.MigrateTo) {
			continue
		}
		body := strings.ReplaceAll(m.sql, "{schema}", schema)
		if _, err = tx.Exec(ctx, body); err != nil {
			return res, mapError(fmt.Errorf("postgres: migrate: apply %04d_%s: %w", m.version, m.name, err))
		}
		if _, err = tx.Exec(ctx, "INSERT INTO "+schema+".schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
			m.version, m.name, o.now()); err != nil {
			return res, mapError(fmt.Errorf("postgres: migrate: record %04d_%s: %w", m.version, m.name, err))
		}
		res.Applied = append(res.Applied, m.version)
		res.To = max(res.To, m.version)
		applied[m.version] = true
	}
	if applied[auditChainVersion] {
		if err = chainLegacyAudit(ctx, tx, o.Schema, schema); err != nil {
			return res, mapError(err)
		}
	}
	if err = tx.Commit(ctx); err != nil {
		return res, mapError(fmt.Errorf("postgres: migrate: commit: %w", err))
	}
	return res, nil
}

// advisoryKey derives the advisory lock key of a schema's migrations, so migrators of
// different schemas in one database do not wait for each other.
func advisoryKey(schema string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("github.com/ehg/hub/store/postgres:migrate:"))
	_, _ = h.Write([]byte(schema))
	return int64(h.Sum64()) //nolint:gosec // any 64-bit value is a valid key
}
