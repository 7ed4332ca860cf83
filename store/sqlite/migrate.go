package sqlite

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one embedded schema change: migrations/NNNN_name.sql, applied in Version
// order and recorded in the schema_migrations table.
type Migration struct {
	// Version is the NNNN prefix of the file name: positive and unique. Numbers may skip
	// (each area of the schema owns its numbers); a database gets every embedded migration
	// it has not recorded, in version order.
	Version int
	// Name is the rest of the file name, without .sql.
	Name string
	// SQL is the script, run whole in the migration transaction.
	SQL string
}

// Migrations returns the embedded migrations in version order. It fails only if the
// embedded files are malformed (a build defect).
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: read embedded migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("sqlite: embedded migration %q is not named NNNN_name.sql", name)
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", name))
		if err != nil {
			return nil, fmt.Errorf("sqlite: read embedded migration %q: %w", name, err)
		}
		ms = append(ms, Migration{Version: v, Name: rest, SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("sqlite: embedded migrations %q and %q share version %d", ms[i-1].Name, ms[i].Name, ms[i].Version)
		}
	}
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`

// Migrate applies the embedded migrations the database lacks, all in one IMMEDIATE
// transaction, and records each in schema_migrations. Running it on an up-to-date database
// changes nothing. Concurrent migrators, in this process or others, serialise on SQLite's
// write lock: the second finds the work done; a migrator that finds the file busy beyond
// what busy_timeout covers tries again until Options.BusyTimeout has passed. It returns a *[SchemaTooNewError] when the
// database records a version newer than this build knows, and changes nothing then. Open
// and New call it; it is safe to call again.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].Version
	// The whole transaction is retried while the file is busy: a connection of a pool the
	// caller opened (New) may meet another process's WAL switch or recovery as it is set up.
	_, err = retryBusy(ctx, s.busy, func() (struct{}, error) { return struct{}{}, s.migrate(ctx, ms, latest) })
	return err
}

func (s *Store) migrate(ctx context.Context, ms []Migration, latest int) error {
	return s.write(ctx, func(ctx context.Context, q *txConn) error {
		if _, err := q.ExecContext(ctx, createMigrationsTable); err != nil {
			return fmt.Errorf("sqlite: create schema_migrations: %w", err)
		}
		applied, current, err := appliedVersions(ctx, q)
		if err != nil {
			return err
		}
		if current > latest {
			return &SchemaTooNewError{Database: current, Supported: latest}
		}
		for _, m := range ms {
			if applied[m.Version] {
				continue
			}
			if _, err := q.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("sqlite: apply migration %d (%s): %w", m.Version, m.Name, err)
			}
			if _, err := q.ExecContext(ctx,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, s.nowTS().UnixMicro()); err != nil {
				return fmt.Errorf("sqlite: record migration %d: %w", m.Version, err)
			}
			s.log.InfoContext(ctx, "sqlite: applied migration", "version", m.Version, "name", m.Name)
		}
		return chainLegacyAudit(ctx, q)
	})
}

// appliedVersions reads the recorded migration versions and the highest of them.
func appliedVersions(ctx context.Context, q *txConn) (map[int]bool, int, error) {
	rows, err := q.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: read schema version: %w", err)
	}
	defer rows.Close()
	applied, current := map[int]bool{}, 0
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, 0, fmt.Errorf("sqlite: read schema version: %w", err)
		}
		applied[v], current = true, max(current, v)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("sqlite: read schema version: %w", err)
	}
	return applied, current, nil
}

// SchemaVersion returns the highest migration version recorded in the database (0 when
// none has run).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	db, err := s.readDB()
	if err != nil {
		return 0, err
	}
	var v int
	err = db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, mapError(err)
}
