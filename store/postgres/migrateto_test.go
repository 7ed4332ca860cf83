package postgres

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMigrateTo stops at a version, as the previous build of a rolling deploy would have
// left the schema, and a later Open without it applies the rest.
func TestMigrateTo(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := shared.get(t)
	schema := newSchema(t)
	all, err := loadMigrations(migrationFiles)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(all), 2)
	prev := all[len(all)-2].version

	res, err := Migrate(ctx, pool, Options{Schema: schema, MigrateTo: prev})
	require.NoError(t, err)
	assert.Equal(t, prev, res.To)
	assert.Len(t, res.Applied, len(all)-1)

	s, err := New(ctx, pool, Options{Schema: schema, MigrateTo: prev})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	res, err = Migrate(ctx, pool, Options{Schema: schema})
	require.NoError(t, err)
	assert.Equal(t, MigrateResult{From: prev, To: LatestVersion(), Applied: []int{LatestVersion()}}, res)

	_, err = Migrate(ctx, pool, Options{Schema: schema, MigrateTo: -1})
	require.Error(t, err)
}
