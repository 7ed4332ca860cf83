package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/sqlite"
	"github.com/ehg/hub/store/storetest"
)

// TestConformance runs the store conformance suite on stores built by Open, each case on
// its own database file in t.TempDir() with the suite's clock.
func TestConformance(t *testing.T) {
	t.Parallel()
	opts := storetest.Options{BeginTx: beginCallerTx}
	if raceEnabled {
		// The same case at a tenth of the size: under the race detector SQLite's translated
		// C runs about twenty times slower, and 10,000 events would take minutes.
		opts.ConcurrentEvents = storetest.ShortConcurrentEvents
	}
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) store.Store {
		path := filepath.Join(t.TempDir(), "hub.db")
		s, err := sqlite.Open(t.Context(), path, sqlite.Options{Now: now})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		storePaths.Store(s, path)
		t.Cleanup(func() { storePaths.Delete(s) })
		return s
	}, opts)
}

// TestConformanceNew runs the suite on stores built by New over a *sql.DB the test opened
// itself with DSN and a pool of several connections, the path a caller who chooses its own
// pool takes. The concurrent-claimers case runs at its short size: TestConformance runs it
// in full.
func TestConformanceNew(t *testing.T) {
	t.Parallel()
	opts := storetest.Options{ConcurrentEvents: storetest.ShortConcurrentEvents, BeginTx: beginCallerTx}
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) store.Store {
		path := filepath.Join(t.TempDir(), "hub.db")
		db, err := sql.Open(sqlite.DriverName, sqlite.DSN(path, sqlite.Options{}))
		require.NoError(t, err)
		db.SetMaxOpenConns(4)
		t.Cleanup(func() { require.NoError(t, db.Close()) })
		s, err := sqlite.New(t.Context(), db, sqlite.Options{Now: now})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		storePaths.Store(s, path)
		t.Cleanup(func() { storePaths.Delete(s) })
		return s
	}, opts)
}

// storePaths maps each store the factories built to its database file, for beginCallerTx.
var storePaths sync.Map

// beginCallerTx opens the caller's own *sql.DB on the store's file, as a service writing
// its rows and an event in one transaction does, and begins a transaction (IMMEDIATE, by
// DSN).
func beginCallerTx(t *testing.T, st store.Store) storetest.Tx {
	t.Helper()
	path, ok := storePaths.Load(st)
	require.True(t, ok, "the store was not built by this file's factory")
	db, err := sql.Open(sqlite.DriverName, sqlite.DSN(path.(string), sqlite.Options{}))
	require.NoError(t, err)
	tx, err := db.BeginTx(t.Context(), nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = tx.Rollback()
		require.NoError(t, db.Close())
	})
	return storetest.Tx{Tx: tx, Commit: tx.Commit, Rollback: tx.Rollback}
}
