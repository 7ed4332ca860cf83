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
