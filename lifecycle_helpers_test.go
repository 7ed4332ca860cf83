package hub_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
	"github.com/ehg/hub/store/postgres"
	"github.com/ehg/hub/store/sqlite"
)

// lifecycleStore is a store of one backend opened with a test clock, and where its bytes
// live, for the tests that search them.
type lifecycleStore struct {
	kind   string
	st     store.Store
	path   string // SQLite: the database file
	schema string // PostgreSQL: the schema
	url    string // PostgreSQL: the server
}

// openLifecycleStore opens a fresh store of kind ("memory", "sqlite", "postgres") reading
// time from now; it is closed when the test ends.
func openLifecycleStore(t *testing.T, kind string, now func() time.Time) *lifecycleStore {
	t.Helper()
	ls := &lifecycleStore{kind: kind}
	switch kind {
	case "memory":
		ls.st = memory.New(memory.Options{Now: now})
	case "sqlite":
		ls.path = filepath.Join(t.TempDir(), "hub.db")
		st, err := sqlite.Open(context.Background(), ls.path, sqlite.Options{Now: now})
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		ls.st = st
	case "postgres":
		ls.url, ls.schema = postgresURL(t), newSchema(t)
		st, err := postgres.Open(context.Background(), ls.url, postgres.Options{Schema: ls.schema, Now: now})
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		ls.st = st
	default:
		t.Fatalf("unknown store kind %q", kind)
	}
	return ls
}

// reopen opens a second store on the same database (another process would), sharing now.
func (ls *lifecycleStore) reopen(t *testing.T, now func() time.Time) store.Store {
	t.Helper()
	switch ls.kind {
	case "sqlite":
		st, err := sqlite.Open(context.Background(), ls.path, sqlite.Options{Now: now})
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	case "postgres":
		st, err := postgres.Open(context.Background(), ls.url, postgres.Options{Schema: ls.schema, Now: now})
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	return ls.st // the memory store lives in this process
}

// dump returns the bytes of the database as they can be read from outside the hub: the
// SQLite file with its WAL, a pg_dump of the PostgreSQL schema. The memory store has no
// bytes outside the process: dump returns nil, and the tests search its records instead.
func (ls *lifecycleStore) dump(t *testing.T) []byte {
	t.Helper()
	switch ls.kind {
	case "sqlite":
		var out []byte
		for _, p := range []string{ls.path, ls.path + "-wal"} {
			b, err := os.ReadFile(p)
			if os.IsNotExist(err) {
				continue
			}
			require.NoError(t, err)
			out = append(out, b...)
		}
		return out
	case "postgres":
		pgDump, err := exec.LookPath("pg_dump")
		require.NoError(t, err, "pg_dump is needed to inspect the PostgreSQL store")
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(pgDump, "--dbname", ls.url, "--schema", ls.schema, "--data-only", "--no-owner")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), "pg_dump: %s", stderr.String())
		require.NotZero(t, stdout.Len())
		return stdout.Bytes()
	}
	return nil
}

// allEventBytes renders every stored event as JSON (for the memory store, whose bytes are
// only its records).
func allEventBytes(t *testing.T, st store.Store) []byte {
	t.Helper()
	var out []byte
	for off := 0; ; off += store.MaxPageLimit {
		evs, err := st.ListEvents(context.Background(), store.EventFilter{Page: store.Page{Limit: store.MaxPageLimit, Offset: off}})
		require.NoError(t, err)
		for _, e := range evs {
			out = append(out, e.PayloadIn...)
			out = append(out, e.PayloadOut...)
			out = append(out, e.CanonicalMapping...)
			out = append(out, e.ErrorDetails...)
		}
		if len(evs) < store.MaxPageLimit {
			return out
		}
	}
}

// countEvents counts the stored events matching f.
func countEvents(t *testing.T, st store.Store, f store.EventFilter) int64 {
	t.Helper()
	counts, err := st.CountEventsByStatus(context.Background(), f)
	require.NoError(t, err)
	var n int64
	for _, c := range counts {
		n += c
	}
	return n
}
