package hub_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"

	"github.com/ehg/hub"
	"github.com/ehg/hub/audit"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/sqlite"
	"github.com/ehg/hub/store/storetest"
)

// Sizes of TestRetentionAudit: audit entries per simulated day, days, and the audit age.
const (
	auditPerDay  = 40
	auditDays    = 20
	auditAgeDays = 7
)

// TestRetentionAudit checks audit retention on each store with a fake clock: 40 audit
// entries a day over 20 simulated days under a 7-day audit age. After each daily run
// every entry older than the age is gone and every younger one kept (the log stays
// bounded), and VerifyAudit holds from the start; at the end it holds for a range too, an
// export verifies offline with the hub's key, the compliance report shows the audit policy
// and what it removed, a hub with another key finds the horizon not signed by it, and the
// SQL stores refuse a plain DELETE of an entry above the horizon.
func TestRetentionAudit(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"memory", "sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			day0 := time.Date(2026, time.March, 2, 0, 0, 0, 0, time.UTC)
			clk := storetest.NewClock(day0)
			ls := openLifecycleStore(t, kind, clk.Now)
			skey, vkey, err := note.GenerateKey(rand.Reader, "hub-audit")
			require.NoError(t, err)
			age := auditAgeDays * 24 * time.Hour
			h, err := hub.New(ls.st, hub.WithClock(clk.Now), hub.WithCleanup(-1, 25), hub.WithAuditKey(skey),
				hub.WithAuditCheckpointInterval(-1), hub.WithRetention(hub.RetentionPolicy{Audit: age}))
			require.NoError(t, err)
			t.Cleanup(func() { _ = h.Close(context.Background()) })

			var written []*store.AuditEntry
			var removed int64
			var horizon int64
			for day := range auditDays {
				for i := range auditPerDay {
					e, err := ls.st.AppendAudit(ctx, &store.AuditEntry{Actor: "alice", Action: "service.configure",
						EntityType: "service", EntityID: fmt.Sprintf("s%d-%d", day, i)})
					require.NoError(t, err)
					written = append(written, e)
					clk.Advance(24 * time.Hour / auditPerDay)
				}
				_, err := h.CheckpointAudit(ctx)
				require.NoError(t, err)
				rep, err := h.RunRetention(ctx)
				require.NoError(t, err)
				require.Empty(t, rep.AuditSkipped)
				removed += rep.AuditEntries
				require.GreaterOrEqual(t, rep.AuditHorizon, horizon, "the horizon only moves forward")
				horizon = rep.AuditHorizon

				cutoff := clk.Now().Add(-age)
				left := allAudit(t, ls.st)
				present := make(map[string]bool, len(left))
				for _, e := range left {
					present[e.ID] = true
				}
				for _, e := range written {
					require.Equal(t, !e.CreatedAt.Before(cutoff), present[e.ID],
						"day %d: entry %d created %s, cut-off %s", day+1, e.Seq, e.CreatedAt, cutoff)
				}
				require.LessOrEqual(t, len(left), (auditAgeDays+1)*(auditPerDay+4), "the log stays bounded")
				vrep, err := h.VerifyAudit(ctx, time.Time{}, time.Time{})
				require.NoError(t, err, "day %d", day+1)
				require.Equal(t, int64(len(left)), vrep.Entries)
				require.Equal(t, horizon, vrep.HorizonSeq)
				t.Logf("%s day %2d: %3d audit entries kept, %3d removed (horizon at seq %d)", kind, day+1, len(left), rep.AuditEntries, rep.AuditHorizon)
			}
			require.Positive(t, horizon)
			require.Equal(t, int64((auditDays-auditAgeDays)*auditPerDay), countOlder(written, clk.Now().Add(-age)))

			// a range inside the kept part, and one reaching back past the horizon
			now := clk.Now()
			for _, from := range []time.Time{now.Add(-3 * 24 * time.Hour), day0} {
				vrep, err := h.VerifyAudit(ctx, from, now.Add(-24*time.Hour))
				require.NoError(t, err, "from %s", from)
				require.Positive(t, vrep.Entries)
			}

			var buf bytes.Buffer
			n, err := h.ExportAudit(ctx, &buf, time.Time{}, time.Time{})
			require.NoError(t, err)
			verifier, err := audit.ParseVerifierKey(vkey)
			require.NoError(t, err)
			erep, err := audit.VerifyExport(&buf, verifier)
			require.NoError(t, err)
			require.True(t, erep.OK, "%+v", erep.Problems)
			require.Equal(t, n, erep.Entries)
			require.Equal(t, horizon, erep.HorizonSeq)

			crep, err := h.ComplianceReport(ctx, day0, clk.Now().Add(time.Second)) // [from, to): the last run is at now
			require.NoError(t, err)
			assert.Contains(t, crep.Retention.InForce, hub.RetentionRule{Table: "audit_log", Keep: age.String()})
			assert.Positive(t, crep.Retention.Removed["audit_log"], "the kept runs' removals")
			assert.Equal(t, horizon, crep.Retention.AuditHorizon)

			// a hub with another key does not trust the horizon: the removed entries are missing
			otherKey, _, err := note.GenerateKey(rand.Reader, "hub-audit")
			require.NoError(t, err)
			other, err := hub.New(ls.st, hub.WithClock(clk.Now), hub.WithCleanup(-1, 25), hub.WithAuditKey(otherKey),
				hub.WithAuditCheckpointInterval(-1))
			require.NoError(t, err)
			t.Cleanup(func() { _ = other.Close(context.Background()) })
			_, err = other.VerifyAudit(ctx, time.Time{}, time.Time{})
			require.ErrorIs(t, err, hub.ErrAuditTampered)
			var p *audit.Problem
			require.ErrorAs(t, err, &p)
			assert.Equal(t, audit.Missing, p.Kind)
			assert.Equal(t, int64(1), p.Seq)
			assert.Equal(t, horizon, p.ToSeq)

			// the database refuses deleting an entry above the horizon
			switch kind {
			case "sqlite":
				db, err := sql.Open(sqlite.DriverName, sqlite.DSN(ls.path, sqlite.Options{}))
				require.NoError(t, err)
				defer db.Close()
				_, err = db.ExecContext(ctx, `DELETE FROM audit_log WHERE seq = ?`, horizon+1)
				require.ErrorContains(t, err, "append-only")
			case "postgres":
				pool, err := pgxpool.New(ctx, ls.url)
				require.NoError(t, err)
				defer pool.Close()
				_, err = pool.Exec(ctx, `DELETE FROM `+pgx.Identifier{ls.schema, "audit_log"}.Sanitize()+` WHERE seq = $1`, horizon+1)
				require.ErrorContains(t, err, "append-only")
			}
			_, err = h.VerifyAudit(ctx, time.Time{}, time.Time{})
			require.NoError(t, err)
			t.Logf("%s: %d audit entries written over %d days, %d removed under a %d-day age, horizon at seq %d; verification holds",
				kind, len(written), auditDays, removed, auditAgeDays, horizon)
		})
	}
}

// TestRetentionAuditOff checks that audit entries are kept without an audit age, and that
// with one but no audit key the audit part is skipped and reported.
func TestRetentionAuditOff(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"memory", "sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			clk := storetest.NewClock(time.Date(2026, time.March, 2, 0, 0, 0, 0, time.UTC))
			ls := openLifecycleStore(t, kind, clk.Now)
			skey, _, err := note.GenerateKey(rand.Reader, "hub-audit")
			require.NoError(t, err)
			keyed, err := hub.New(ls.st, hub.WithClock(clk.Now), hub.WithCleanup(-1, 25), hub.WithAuditKey(skey),
				hub.WithAuditCheckpointInterval(-1),
				hub.WithRetention(hub.RetentionPolicy{Events: map[store.EventStatus]time.Duration{store.StatusSucceeded: time.Hour}}))
			require.NoError(t, err)
			t.Cleanup(func() { _ = keyed.Close(context.Background()) })
			keyless, err := hub.New(ls.st, hub.WithClock(clk.Now), hub.WithCleanup(-1, 25),
				hub.WithRetention(hub.RetentionPolicy{Audit: time.Hour}))
			require.NoError(t, err)
			t.Cleanup(func() { _ = keyless.Close(context.Background()) })
			for i := range 50 {
				_, err := ls.st.AppendAudit(ctx, &store.AuditEntry{Actor: "alice", Action: "service.configure",
					EntityType: "service", EntityID: fmt.Sprint("s", i)})
				require.NoError(t, err)
			}
			clk.Advance(48 * time.Hour)
			before := len(allAudit(t, ls.st))
			rep, err := keyed.RunRetention(ctx)
			require.NoError(t, err)
			assert.Zero(t, rep.AuditEntries, "no audit age: nothing removed")
			rep, err = keyless.RunRetention(ctx)
			require.NoError(t, err)
			assert.Zero(t, rep.AuditEntries)
			assert.Contains(t, rep.AuditSkipped, "audit key")
			after := allAudit(t, ls.st)
			assert.Equal(t, before+2, len(after), "only the two runs' start entries were added")
			assert.Equal(t, int64(1), after[0].Seq)
			t.Logf("%s: %d audit entries kept without an audit age; keyless hub: %s", kind, len(after), rep.AuditSkipped)
		})
	}
}

// allAudit returns every audit entry of st in seq order.
func allAudit(t *testing.T, st store.Store) []*store.AuditEntry {
	t.Helper()
	var out []*store.AuditEntry
	for off := 0; ; off += store.MaxPageLimit {
		es, err := st.ListAudit(t.Context(), store.AuditFilter{Page: store.Page{Limit: store.MaxPageLimit, Offset: off}})
		require.NoError(t, err)
		out = append(out, es...)
		if len(es) < store.MaxPageLimit {
			return out
		}
	}
}

// countOlder counts the entries created before cutoff.
func countOlder(es []*store.AuditEntry, cutoff time.Time) int64 {
	var n int64
	for _, e := range es {
		if e.CreatedAt.Before(cutoff) {
			n++
		}
	}
	return n
}
