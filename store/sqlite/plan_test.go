package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClaimUsesDueIndex checks that the claim walks integration_events_due_idx in claim
// order (no sort, no table scan), with and without excluded services and regions.
func TestClaimUsesDueIndex(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "hub.db"), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	for name, q := range map[string]string{"all": claimAllSQL, "exclude": claimExcludeSQL, "regions": claimRegionsSQL} {
		args := []any{"w", int64(2), int64(1), 10}
		if name != "all" {
			args = append(args, `["00000000-0000-0000-0000-000000000000"]`)
		}
		if name == "regions" {
			args = append(args, `["eu"]`)
		}
		// On a reader: the writer's single connection is pinned by the store.
		rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
		require.NoError(t, err)
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
			plan = append(plan, detail)
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		text := strings.Join(plan, "\n")
		assert.Contains(t, text, "integration_events_due_idx", name)
		assert.NotContains(t, text, "TEMP B-TREE", "%s: the index gives the order:\n%s", name, text)
		assert.NotContains(t, plan, "SCAN integration_events", "%s: no table scan", name)
		assert.Contains(t, text, "SCAN integration_events USING COVERING INDEX integration_events_due_idx", name)
		t.Logf("%s:\n%s", name, text)
	}
}

// TestConnectionSettings checks the pragmas every connection of an opened store gets.
func TestConnectionSettings(t *testing.T) {
	t.Parallel()
	for _, durable := range []bool{false, true} {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "hub.db"), Options{Durable: durable, BusyTimeout: 1234 * time.Millisecond})
		require.NoError(t, err)
		type queryRower interface {
			QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
		}
		check := func(name string, db queryRower) {
			var mode string
			var fk, sync, busy, queryOnly, secure int
			ctx := t.Context()
			require.NoError(t, db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
			require.NoError(t, db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk))
			require.NoError(t, db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync))
			require.NoError(t, db.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy))
			require.NoError(t, db.QueryRowContext(ctx, `PRAGMA query_only`).Scan(&queryOnly))
			require.NoError(t, db.QueryRowContext(ctx, `PRAGMA secure_delete`).Scan(&secure))
			assert.Equal(t, 2, secure, "%s: deleted and replaced content is overwritten (FAST)", name)
			assert.Equal(t, "wal", mode, name)
			assert.Equal(t, 1, fk, name)
			assert.Equal(t, 1234, busy, name)
			wantSync := 1 // NORMAL
			if durable {
				wantSync = 2 // FULL
			}
			assert.Equal(t, wantSync, sync, name)
			assert.Equal(t, name == "reader", queryOnly == 1, name)
		}
		check("reader", s.r)
		require.NoError(t, s.write(t.Context(), func(_ context.Context, q *txConn) error {
			check("writer", q)
			return nil
		}))
		require.NoError(t, s.Close())
	}
}
