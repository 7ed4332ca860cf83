package postgres

import (
	"context"
	"testing"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/storetest"
)

// pgTamperer edits audit_log with plain SQL after disabling its triggers, as an attacker
// who owns the table would.
type pgTamperer struct{ s *Store }

func (tt pgTamperer) exec(ctx context.Context, q string, args ...any) error {
	if _, err := tt.s.pool.Exec(ctx, tt.s.schemaSQL(`ALTER TABLE {s}.audit_log DISABLE TRIGGER USER`)); err != nil {
		return err
	}
	_, err := tt.s.pool.Exec(ctx, tt.s.schemaSQL(q), args...)
	return err
}

func (tt pgTamperer) SetAuditActor(ctx context.Context, seq int64, actor string) error {
	return tt.exec(ctx, `UPDATE {s}.audit_log SET actor = $1 WHERE seq = $2`, actor, seq)
}

func (tt pgTamperer) DeleteAudit(ctx context.Context, from, to int64) error {
	return tt.exec(ctx, `DELETE FROM {s}.audit_log WHERE seq BETWEEN $1 AND $2`, from, to)
}

func (tt pgTamperer) InsertAudit(ctx context.Context, e *store.AuditEntry) error {
	if err := tt.exec(ctx, `UPDATE {s}.audit_log SET seq = seq + 1000000 WHERE seq >= $1`, e.Seq); err != nil {
		return err
	}
	if err := tt.exec(ctx, `UPDATE {s}.audit_log SET seq = seq - 999999 WHERE seq > 1000000`); err != nil {
		return err
	}
	return tt.exec(ctx, `INSERT INTO {s}.audit_log (`+auditCols+`) VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6, $7, $8, $9)`,
		e.ID, e.Actor, e.Action, e.EntityType, e.EntityID, store.Timestamp(e.CreatedAt), e.Seq, e.PrevHash, e.Hash)
}

func (tt pgTamperer) SwapAudit(ctx context.Context, a, b int64) error {
	if err := tt.exec(ctx, `UPDATE {s}.audit_log SET seq = 1000000 WHERE seq = $1`, a); err != nil {
		return err
	}
	if err := tt.exec(ctx, `UPDATE {s}.audit_log SET seq = $1 WHERE seq = $2`, a, b); err != nil {
		return err
	}
	return tt.exec(ctx, `UPDATE {s}.audit_log SET seq = $1 WHERE seq = 1000000`, b)
}

// TestAuditTamper runs the tamper cases with plain SQL on the schema, triggers disabled.
func TestAuditTamper(t *testing.T) {
	t.Parallel()
	testURL(t)
	storetest.RunAuditTamper(t, func(t *testing.T) (store.Store, storetest.AuditTamperer) {
		s := newTestStore(t, nil)
		return s, pgTamperer{s}
	})
}
