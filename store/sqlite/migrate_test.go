package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/sqlite"
)

type migrationRow struct {
	Version   int
	Name      string
	AppliedAt int64
}

func migrationRows(t *testing.T, path string) []migrationRow {
	t.Helper()
	db, err := sql.Open(sqlite.DriverName, sqlite.DSN(path, sqlite.Options{}))
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	require.NoError(t, err)
	defer rows.Close()
	var out []migrationRow
	for rows.Next() {
		var r migrationRow
		require.NoError(t, rows.Scan(&r.Version, &r.Name, &r.AppliedAt))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	ms, err := sqlite.Migrations()
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	latest := ms[len(ms)-1].Version

	t.Run("fresh database to latest, then no-op", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "hub.db")
		clk := newClock()
		s, err := sqlite.Open(ctx, path, sqlite.Options{Now: clk.Now})
		require.NoError(t, err)
		v, err := s.SchemaVersion(ctx)
		require.NoError(t, err)
		assert.Equal(t, latest, v)
		before := migrationRows(t, path)
		require.Len(t, before, len(ms))
		assert.Equal(t, clk.Now().UnixMicro(), before[0].AppliedAt, "recorded with the store's clock")

		clk.Advance(1e9)
		require.NoError(t, s.Migrate(ctx))
		require.NoError(t, s.Close())
		s, err = sqlite.Open(ctx, path, sqlite.Options{Now: clk.Now})
		require.NoError(t, err)
		require.NoError(t, s.Close())
		assert.Equal(t, before, migrationRows(t, path), "re-running changes nothing")
	})

	t.Run("concurrent migrators", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "hub.db")
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		stores := make([]*sqlite.Store, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				// Each Open has its own pools, as separate processes would.
				stores[i], errs[i] = sqlite.Open(ctx, path, sqlite.Options{})
			})
		}
		close(start)
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i], "migrator %d", i)
			require.NoError(t, stores[i].Close())
		}
		rows := migrationRows(t, path)
		require.Len(t, rows, len(ms), "each migration recorded once")
		for i, r := range rows {
			assert.Equal(t, ms[i].Version, r.Version)
		}
	})

	t.Run("newer database refused", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "hub.db")
		s, err := sqlite.Open(ctx, path, sqlite.Options{})
		require.NoError(t, err)
		require.NoError(t, s.Close())

		db, err := sql.Open(sqlite.DriverName, sqlite.DSN(path, sqlite.Options{}))
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		_, err = db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)`, latest+1)
		require.NoError(t, err)

		_, err = sqlite.Open(ctx, path, sqlite.Options{})
		var tooNew *sqlite.SchemaTooNewError
		require.ErrorAs(t, err, &tooNew)
		assert.Equal(t, latest+1, tooNew.Database)
		assert.Equal(t, latest, tooNew.Supported)
		assert.ErrorIs(t, err, sqlite.ErrSchemaTooNew)

		_, err = sqlite.New(ctx, db, sqlite.Options{})
		assert.True(t, errors.Is(err, sqlite.ErrSchemaTooNew), "New refuses too: %v", err)
	})
}

func TestNewOnCallerDB(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hub.db")
	db, err := sql.Open(sqlite.DriverName, sqlite.DSN(path, sqlite.Options{}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	s, err := sqlite.New(ctx, db, sqlite.Options{})
	require.NoError(t, err)
	svc := newService(t, s, "github")
	got, err := s.GetServiceByName(ctx, "github")
	require.NoError(t, err)
	assert.Equal(t, svc, got)
	require.NoError(t, s.Close())
	require.NoError(t, db.PingContext(ctx), "Close leaves the caller's database open")
	_, err = s.GetService(ctx, svc.ID)
	require.ErrorIs(t, err, store.ErrClosed)

	var mode string
	require.NoError(t, db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
	assert.Equal(t, "wal", mode)
}

func TestOpenRejectsMemory(t *testing.T) {
	t.Parallel()
	_, err := sqlite.Open(t.Context(), ":memory:", sqlite.Options{})
	require.ErrorIs(t, err, store.ErrInvalidArgument)
}

func TestOpenAwkwardPath(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars&x=1")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, "hub db.sqlite")
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = os.Stat(path)
	require.NoError(t, err, "the file is created at exactly the given path")
}

// TestOpenNewFileTogether opens one new file from several stores at once, round after
// round: each Open switches the file to WAL and migrates it while the others do the same,
// which SQLite answers with SQLITE_BUSY without waiting on busy_timeout. Every Open must
// succeed (hub processes restarted together on one file must all start).
func TestOpenNewFileTogether(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const rounds, n = 10, 5
	for round := range rounds {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("hub-%d.db", round))
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				s, err := sqlite.Open(ctx, path, sqlite.Options{})
				if err == nil {
					_, err = s.SchemaVersion(ctx)
					err = errors.Join(err, s.Close())
				}
				errs[i] = err
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "round %d, opener %d", round, i)
		}
	}
}

// TestMigration0002KeepsRollups migrates a database written at version 1: the rebuilt
// integration_analytics keeps its rows and their uptime, the new columns start empty.
func TestMigration0002KeepsRollups(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hub.db")
	ms, err := sqlite.Migrations()
	require.NoError(t, err)
	db, err := sql.Open(sqlite.DriverName, sqlite.DSN(path, sqlite.Options{}))
	require.NoError(t, err)
	for _, q := range []string{
		ms[0].SQL,
		`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`,
		`INSERT INTO schema_migrations VALUES (1, 'init', 0)`,
		`INSERT INTO integration_services (id, name, category, connector_kind, created_at, updated_at)
			VALUES ('0b5d6c1e-1d7a-4a53-9a51-5d1c2d3e4f50', 'github', 'development', 'http', 0, 0)`,
		`INSERT INTO integration_analytics (id, service_id, service_name, period, period_start,
			total_events, successes, failures, uptime_percent, created_at, updated_at)
			VALUES ('4a1c1f0e-6b7d-4c8e-9f00-112233445566', '0b5d6c1e-1d7a-4a53-9a51-5d1c2d3e4f50',
			'github', 'hour', 3600000000, 10, 9, 1, 87.5, 0, 0)`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	v, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Equal(t, ms[len(ms)-1].Version, v)
	rs, err := s.ListAnalytics(ctx, store.AnalyticsFilter{})
	require.NoError(t, err)
	require.Len(t, rs, 1)
	assert.Equal(t, "4a1c1f0e-6b7d-4c8e-9f00-112233445566", rs[0].ID)
	assert.EqualValues(t, 10, rs[0].TotalEvents)
	require.NotNil(t, rs[0].UptimePercent)
	assert.InDelta(t, 87.5, *rs[0].UptimePercent, 1e-9)
	assert.Empty(t, rs[0].PerformanceTrends)
	sv, err := s.GetServiceByName(ctx, "github")
	require.NoError(t, err)
	assert.Nil(t, sv.LastHealthCheck)
	// The rebuilt table still refuses a second row for the same service, period and start.
	dup := rs[0].Clone()
	dup.ID = ""
	require.NoError(t, s.UpsertAnalytics(ctx, []*store.AnalyticsRollup{dup}))
	rs, err = s.ListAnalytics(ctx, store.AnalyticsFilter{})
	require.NoError(t, err)
	assert.Len(t, rs, 1)
}
