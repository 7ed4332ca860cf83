package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The writer of a Store built by Open keeps its temporary data in memory, with a larger
// page cache and checkpoint interval; Purge's VACUUM builds its copy in a file and leaves the
// setting as it was; readers keep SQLite's defaults.
func TestWriterPragmas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "hub.db"), Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	check := func(name string, want int) {
		t.Helper()
		var got int
		require.NoError(t, s.writeRaw(ctx, func(ctx context.Context, q *txConn) error {
			return q.QueryRowContext(ctx, "PRAGMA "+name).Scan(&got)
		}))
		require.Equal(t, want, got, name)
	}
	check("temp_store", 2)
	check("cache_size", -16384)
	check("wal_autocheckpoint", 8000)
	require.NoError(t, s.Purge(ctx))
	check("temp_store", 2)
	var temp int
	require.NoError(t, s.r.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&temp))
	require.Equal(t, 0, temp, "readers keep the default")
}
