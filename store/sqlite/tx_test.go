package sqlite_test

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/sqlite"
)

// TestInsertEventTxOtherDatabase: a transaction on another database file is refused, and
// nothing is written to either.
func TestInsertEventTxOtherDatabase(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, filepath.Join(dir, "hub.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	other, err := sqlite.Open(ctx, filepath.Join(dir, "other.db"), sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, other.Close())

	sv, err := s.CreateService(ctx, &store.Service{Name: "svc", Category: store.CategoryOther, ConnectorKind: "http", IsActive: true})
	require.NoError(t, err)
	db, err := sql.Open(sqlite.DriverName, sqlite.DSN(filepath.Join(dir, "other.db"), sqlite.Options{}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck // rolled back below
	_, _, err = s.InsertEventTx(ctx, tx, &store.Event{ServiceID: sv.ID, ServiceName: sv.Name, PayloadIn: json.RawMessage(`{}`)})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
	require.NoError(t, tx.Rollback())
}
