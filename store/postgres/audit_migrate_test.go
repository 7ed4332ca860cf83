package postgres

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/audit"
	"github.com/ehg/hub/store"
)

// TestMigration0007ChainsLegacyAudit: entries written before the audit chain existed are
// numbered in their old order and chained by the migration; new entries continue the
// chain, it verifies, and the trigger refuses every other change.
func TestMigration0007ChainsLegacyAudit(t *testing.T) {
	t.Parallel()
	testURL(t)
	ctx := t.Context()
	pool := shared.get(t)
	schema := newSchema(t)
	o, err := Options{Schema: schema}.withDefaults()
	require.NoError(t, err)
	before := fstest.MapFS{}
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() >= "0007" { // 0007 and later arrive with the store
			continue
		}
		b, err := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
		require.NoError(t, err)
		before["migrations/"+e.Name()] = &fstest.MapFile{Data: b}
	}
	_, err = migrate(ctx, pool, o, before)
	require.NoError(t, err)
	q := strings.NewReplacer("{s}", `"`+schema+`"`)
	for _, stmt := range []string{
		`INSERT INTO {s}.audit_log (id, actor, action, entity_type, entity_id, before, after, created_at)
			VALUES ('00000000-0000-4000-8000-000000000002', 'bob', 'service.configure', 'service', 's1', '{"a": 1.50}', '{"a": 2}', '2026-01-01 00:00:02+00')`,
		`INSERT INTO {s}.audit_log (id, actor, action, entity_type, entity_id, after, created_at)
			VALUES ('00000000-0000-4000-8000-000000000001', 'alice', 'service.register', 'service', 's1', '{"b": [1e2], "a": 1}', '2026-01-01 00:00:01+00')`,
	} {
		_, err := pool.Exec(ctx, q.Replace(stmt))
		require.NoError(t, err)
	}
	s, err := New(context.Background(), pool, Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	_, err = s.AppendAudit(ctx, &store.AuditEntry{Actor: "carol", Action: "service.configure", EntityType: "service", EntityID: "s1"})
	require.NoError(t, err)
	es, err := s.ListAudit(ctx, store.AuditFilter{})
	require.NoError(t, err)
	require.Len(t, es, 3)
	assert.Equal(t, []string{"alice", "bob", "carol"}, []string{es[0].Actor, es[1].Actor, es[2].Actor})
	assert.Equal(t, []int64{1, 2, 3}, []int64{es[0].Seq, es[1].Seq, es[2].Seq})
	rep, err := audit.VerifyStore(ctx, s, audit.Range{}, nil)
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep.Problems)

	for _, stmt := range []string{
		`UPDATE {s}.audit_log SET actor = 'mallory' WHERE seq = 1`,
		`UPDATE {s}.audit_log SET hash = NULL WHERE seq = 1`,
		`DELETE FROM {s}.audit_log WHERE seq = 3`,
	} {
		_, err := pool.Exec(ctx, q.Replace(stmt))
		require.ErrorContains(t, err, "append-only", stmt)
	}
	_, err = pool.Exec(ctx, q.Replace(`INSERT INTO {s}.audit_log (id, actor, action, entity_type, created_at) VALUES ('00000000-0000-4000-8000-000000000009', 'm', 'x', 'service', now())`))
	require.ErrorContains(t, err, "chained")
}
