package sqlite_test

import (
	"database/sql"
	"path/filepath"
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
	opts := storetest.Options{}
	if raceEnabled {
		// The same case at a tenth of the size: under the race detector SQLite's translated
		// C runs about twenty times slower, and 10,000 events would take minutes.
		opts.ConcurrentEvents = storetest.ShortConcurrentEvents
	}
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) store.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hub.db"), sqlite.Options{Now: now})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	}, opts)
}

// TestConformanceNew runs the suite on stores built by New over a *sql.DB the test opened
// itself with DSN and a pool of several connections, the path a caller who chooses its own
// pool takes. The concurrent-claimers case runs at its short size: TestConformance runs it
// in full.
func TestConformanceNew(t *testing.T) {
	t.Parallel()
	opts := storetest.Options{ConcurrentEvents: storetest.ShortConcurrentEvents}
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) store.Store {
		db, err := sql.Open(sqlite.DriverName, sqlite.DSN(filepath.Join(t.TempDir(), "hub.db"), sqlite.Options{}))
		require.NoError(t, err)
		db.SetMaxOpenConns(4)
		t.Cleanup(func() { require.NoError(t, db.Close()) })
		s, err := sqlite.New(t.Context(), db, sqlite.Options{Now: now})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	}, opts)
}
