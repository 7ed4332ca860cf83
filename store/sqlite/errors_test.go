package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

// driverError provokes a real driver error with the statement stmt on a scratch database.
func driverError(t *testing.T, stmt string) error {
	t.Helper()
	db, err := sql.Open(DriverName, DSN(filepath.Join(t.TempDir(), "e.db"), Options{}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.ExecContext(t.Context(), `CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT UNIQUE, c INTEGER CHECK (c > 0), n TEXT NOT NULL DEFAULT '')`)
	require.NoError(t, err)
	_, err = db.ExecContext(t.Context(), `INSERT INTO t (id, u, c) VALUES (1, 'a', 1)`)
	require.NoError(t, err)
	_, err = db.ExecContext(t.Context(), stmt)
	require.Error(t, err)
	return err
}

func TestMapError(t *testing.T) {
	t.Parallel()
	busy := func(t *testing.T) error {
		path := filepath.Join(t.TempDir(), "busy.db")
		a, err := sql.Open(DriverName, dsn(path, Options{BusyTimeout: time.Millisecond}.withDefaults(), connShared))
		require.NoError(t, err)
		t.Cleanup(func() { _ = a.Close() })
		b, err := sql.Open(DriverName, dsn(path, Options{BusyTimeout: time.Millisecond}.withDefaults(), connShared))
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		_, err = a.ExecContext(t.Context(), `CREATE TABLE t (x INTEGER)`)
		require.NoError(t, err)
		conn, err := a.Conn(t.Context())
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		_, err = conn.ExecContext(t.Context(), `BEGIN IMMEDIATE`)
		require.NoError(t, err)
		t.Cleanup(func() { _, _ = conn.ExecContext(context.Background(), `ROLLBACK`) })
		_, err = b.ExecContext(t.Context(), `INSERT INTO t VALUES (1)`)
		require.Error(t, err)
		return err
	}
	for _, tc := range []struct {
		name string
		err  func(t *testing.T) error
		want error
	}{
		{"no rows", func(*testing.T) error { return sql.ErrNoRows }, store.ErrNotFound},
		{"wrapped no rows", func(*testing.T) error { return fmt.Errorf("x: %w", sql.ErrNoRows) }, store.ErrNotFound},
		{"unique", func(t *testing.T) error { return driverError(t, `INSERT INTO t (id, u, c) VALUES (2, 'a', 1)`) }, store.ErrConflict},
		{"primary key", func(t *testing.T) error { return driverError(t, `INSERT INTO t (id, u, c) VALUES (1, 'b', 1)`) }, store.ErrConflict},
		{"check", func(t *testing.T) error { return driverError(t, `INSERT INTO t (id, u, c) VALUES (3, 'c', 0)`) }, store.ErrInvalidArgument},
		{"not null", func(t *testing.T) error {
			return driverError(t, `INSERT INTO t (id, u, c, n) VALUES (3, 'c', 1, NULL)`)
		}, store.ErrInvalidArgument},
		{"busy", busy, store.ErrBusy},
		{"already mapped", func(*testing.T) error { return fmt.Errorf("op: %w", store.ErrLeaseLost) }, store.ErrLeaseLost},
		{"context", func(*testing.T) error { return context.Canceled }, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := tc.err(t)
			got := mapError(in)
			require.ErrorIs(t, got, tc.want)
			require.ErrorIs(t, got, in, "the driver error stays in the chain")
		})
	}
	t.Run("nil", func(t *testing.T) {
		t.Parallel()
		assert.NoError(t, mapError(nil))
	})
	t.Run("other errors pass through", func(t *testing.T) {
		t.Parallel()
		in := driverError(t, `SELECT * FROM missing_table`)
		got := mapError(in)
		assert.Same(t, in, got)
		for _, s := range []error{store.ErrNotFound, store.ErrConflict, store.ErrInvalidArgument, store.ErrBusy} {
			assert.False(t, errors.Is(got, s), "mapped to %v", s)
		}
	})
}
