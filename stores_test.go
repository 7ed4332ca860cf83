package hub_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
	"github.com/ehg/hub/store/postgres"
	"github.com/ehg/hub/store/sqlite"
)

const postgresEnv = "HUB_TEST_POSTGRES_URL"

// storeKind opens a fresh store of one backend for a test.
type storeKind struct {
	name string
	open func(t *testing.T) store.Store
}

func allStores() []storeKind {
	return []storeKind{
		{"memory", func(t *testing.T) store.Store { return memory.New(memory.Options{}) }},
		{"sqlite", func(t *testing.T) store.Store { return openSQLite(t, filepath.Join(t.TempDir(), "hub.db")) }},
		{"postgres", func(t *testing.T) store.Store { return openPostgres(t, newSchema(t)) }},
	}
}

func openSQLite(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func postgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(postgresEnv)
	if u == "" {
		t.Skipf("%s is not set: skipping the PostgreSQL variant (.ci/run sets it)", postgresEnv)
	}
	return u
}

// newSchema returns a fresh schema name and drops the schema when the test ends.
func newSchema(t testing.TB) string {
	t.Helper()
	u := postgresURL(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "hubtest_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		pool, err := pgxpool.New(context.Background(), u)
		if err != nil {
			return
		}
		defer pool.Close()
		_, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
	})
	return schema
}

func openPostgres(t testing.TB, schema string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), postgresURL(t), postgres.Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}
