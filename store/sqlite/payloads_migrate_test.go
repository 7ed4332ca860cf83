package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/sqlite"
)

// TestMigration0016MovesPayloads: events written before the documents had their own table
// keep them, read through the store and through the integration_event_records view; a
// claim and a completion of a moved event leave its documents alone, and deleting the event
// deletes them.
func TestMigration0016MovesPayloads(t *testing.T) {
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
		if m.Version >= 16 {
			continue
		}
		_, err := db.ExecContext(ctx, m.SQL)
		require.NoError(t, err, m.Name)
		_, err = db.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?, 0)`, m.Version, m.Name)
		require.NoError(t, err)
	}
	const (
		withDocs = "00000000-0000-4000-8000-000000000001"
		noDocs   = "00000000-0000-4000-8000-000000000002"
		svc      = "00000000-0000-4000-8000-0000000000aa"
	)
	now := time.Now().UnixMicro()
	for _, q := range []struct {
		id, in, transformation, canonical any
	}{
		{withDocs, `{"issue":1}`, `{"rule":"r"}`, `{"title":"t"}`},
		{noDocs, nil, nil, nil},
	} {
		_, err := db.ExecContext(ctx, `INSERT INTO integration_events (id, service_id, service_name,
			payload_in, payload_in_bytes, transformation_applied, canonical_mapping, priority_level,
			priority_rank, created_at, updated_at, next_attempt_at)
			VALUES (?, ?, 'github', ?, 11, ?, ?, 'normal', 2, ?, ?, ?)`,
			q.id, svc, q.in, q.transformation, q.canonical, now, now, now)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	e, err := s.GetEvent(ctx, withDocs)
	require.NoError(t, err)
	assert.JSONEq(t, `{"issue":1}`, string(e.PayloadIn))
	assert.JSONEq(t, `{"rule":"r"}`, string(e.TransformationApplied))
	assert.JSONEq(t, `{"title":"t"}`, string(e.CanonicalMapping))
	e, err = s.GetEvent(ctx, noDocs)
	require.NoError(t, err)
	assert.Empty(t, e.PayloadIn)
	assert.Empty(t, e.CanonicalMapping)

	claimed, err := s.ClaimEvents(ctx, store.ClaimParams{Owner: "w", Limit: 10, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, claimed, 2)
	for _, c := range claimed {
		if c.ID == withDocs {
			assert.JSONEq(t, `{"issue":1}`, string(c.PayloadIn), "the claim returns the documents")
		}
	}
	lost, err := s.CompleteEvents(ctx, []store.CompleteParams{
		{ID: withDocs, Owner: "w", ResponseCode: 200, PayloadOut: []byte(`{"ok":true}`)},
		{ID: noDocs, Owner: "w", ResponseCode: 200, MaskedPayloadIn: []byte(`{"masked":true}`)},
	})
	require.NoError(t, err)
	require.Empty(t, lost)

	db, err = sql.Open(sqlite.DriverName, sqlite.DSN(path, sqlite.Options{}))
	require.NoError(t, err)
	defer db.Close()
	var in, out, status string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT payload_in, payload_out, status FROM integration_event_records
		WHERE id = ?`, withDocs).Scan(&in, &out, &status))
	assert.JSONEq(t, `{"issue":1}`, in)
	assert.JSONEq(t, `{"ok":true}`, out)
	assert.Equal(t, "succeeded", status)
	require.NoError(t, db.QueryRowContext(ctx, `SELECT payload_in FROM integration_event_records WHERE id = ?`, noDocs).Scan(&in))
	assert.JSONEq(t, `{"masked":true}`, in, "a masked completion stores the masked document")

	_, err = db.ExecContext(ctx, `DELETE FROM integration_events WHERE id = ?`, withDocs)
	require.NoError(t, err)
	var left int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM integration_event_payloads WHERE event_id = ?`, withDocs).Scan(&left))
	assert.Zero(t, left, "deleting an event deletes its documents")
}
