package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/audit"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/sqlite"
)

// TestMigration0007ChainsLegacyAudit: entries written before the audit chain existed are
// numbered in their old order and chained when the store opens; new entries continue the
// chain, and it verifies.
func TestMigration0007ChainsLegacyAudit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hub.db")
	ms, err := sqlite.Migrations()
	require.NoError(t, err)
	db, err := sql.Open(sqlite.DriverName, sqlite.DSN(path, sqlite.Options{}))
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`)
	require.NoError(t, err)
	for _, m := range ms {
		if m.Version >= 7 {
			continue
		}
		_, err := db.ExecContext(ctx, m.SQL)
		require.NoError(t, err, m.Name)
		_, err = db.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?, 0)`, m.Version, m.Name)
		require.NoError(t, err)
	}
	for _, q := range []string{
		`INSERT INTO audit_log (id, actor, action, entity_type, entity_id, before, after, created_at)
			VALUES ('00000000-0000-4000-8000-000000000002', 'bob', 'service.configure', 'service', 's1', '{"a": 1}', '{"a": 2}', 2000)`,
		`INSERT INTO audit_log (id, actor, action, entity_type, entity_id, before, after, created_at)
			VALUES ('00000000-0000-4000-8000-000000000001', 'alice', 'service.register', 'service', 's1', NULL, '{"a": 1}', 1000)`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	_, err = s.AppendAudit(ctx, &store.AuditEntry{Actor: "carol", Action: "service.configure", EntityType: "service", EntityID: "s1"})
	require.NoError(t, err)
	es, err := s.ListAudit(ctx, store.AuditFilter{})
	require.NoError(t, err)
	require.Len(t, es, 3)
	assert.Equal(t, []string{"alice", "bob", "carol"}, []string{es[0].Actor, es[1].Actor, es[2].Actor}, "legacy entries in their old order")
	assert.Equal(t, []int64{1, 2, 3}, []int64{es[0].Seq, es[1].Seq, es[2].Seq})
	rep, err := audit.VerifyStore(ctx, s, audit.Range{}, nil)
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep.Problems)

	// the triggers still refuse any other change to a chained entry
	db, err = sql.Open(sqlite.DriverName, sqlite.DSN(path, sqlite.Options{}))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(ctx, `UPDATE audit_log SET actor = 'mallory' WHERE seq = 1`)
	require.ErrorContains(t, err, "append-only")
	_, err = db.ExecContext(ctx, `UPDATE audit_log SET hash = NULL WHERE seq = 1`)
	require.ErrorContains(t, err, "append-only")
	_, err = db.ExecContext(ctx, `DELETE FROM audit_log WHERE seq = 3`)
	require.ErrorContains(t, err, "append-only")
	_, err = db.ExecContext(ctx, `INSERT INTO audit_log (id, actor, action, entity_type, created_at) VALUES ('00000000-0000-4000-8000-000000000009', 'm', 'x', 'service', 0)`)
	require.ErrorContains(t, err, "chained")
}
