package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/sqlite"
	"github.com/ehg/hub/store/storetest"
)

// sqlTamperer edits audit_log over its own connection to the file, dropping the
// append-only triggers first, as an attacker with the file would.
type sqlTamperer struct{ db *sql.DB }

func (tt sqlTamperer) exec(ctx context.Context, stmts ...string) error {
	for _, q := range append([]string{
		`DROP TRIGGER IF EXISTS audit_log_no_update`, `DROP TRIGGER IF EXISTS audit_log_no_delete`,
	}, stmts...) {
		if _, err := tt.db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (tt sqlTamperer) SetAuditActor(ctx context.Context, seq int64, actor string) error {
	if err := tt.exec(ctx); err != nil {
		return err
	}
	_, err := tt.db.ExecContext(ctx, `UPDATE audit_log SET actor = ? WHERE seq = ?`, actor, seq)
	return err
}

func (tt sqlTamperer) DeleteAudit(ctx context.Context, from, to int64) error {
	if err := tt.exec(ctx); err != nil {
		return err
	}
	_, err := tt.db.ExecContext(ctx, `DELETE FROM audit_log WHERE seq BETWEEN ? AND ?`, from, to)
	return err
}

func (tt sqlTamperer) InsertAudit(ctx context.Context, e *store.AuditEntry) error {
	if err := tt.exec(ctx); err != nil {
		return err
	}
	if _, err := tt.db.ExecContext(ctx, `UPDATE audit_log SET seq = seq + 1000000 WHERE seq >= ?`, e.Seq); err != nil {
		return err
	}
	if _, err := tt.db.ExecContext(ctx, `UPDATE audit_log SET seq = seq - 999999 WHERE seq > 1000000`); err != nil {
		return err
	}
	_, err := tt.db.ExecContext(ctx, `INSERT INTO audit_log (id, actor, action, entity_type, entity_id, before, after, created_at, seq, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?)`, e.ID, e.Actor, e.Action, e.EntityType, e.EntityID,
		store.Timestamp(e.CreatedAt).UnixMicro(), e.Seq, e.PrevHash, e.Hash)
	return err
}

func (tt sqlTamperer) SwapAudit(ctx context.Context, a, b int64) error {
	if err := tt.exec(ctx); err != nil {
		return err
	}
	for _, q := range [][]any{{`UPDATE audit_log SET seq = 1000000 WHERE seq = ?`, a}, {`UPDATE audit_log SET seq = ? WHERE seq = ?`, a, b},
		{`UPDATE audit_log SET seq = ? WHERE seq = 1000000`, b}} {
		if _, err := tt.db.ExecContext(ctx, q[0].(string), q[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// TestAuditTamper runs the tamper cases with an attacker's connection to the database file.
func TestAuditTamper(t *testing.T) {
	t.Parallel()
	storetest.RunAuditTamper(t, func(t *testing.T) (store.Store, storetest.AuditTamperer) {
		path := filepath.Join(t.TempDir(), "hub.db")
		s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		db, err := sql.Open(sqlite.DriverName, sqlite.DSN(path, sqlite.Options{}))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, db.Close()) })
		return s, sqlTamperer{db}
	})
}
