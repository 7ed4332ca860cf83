package postgres

import (
	"errors"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := shared.get(t)
	schema := newSchema(t)
	opts := Options{Schema: schema}
	latest := LatestVersion()
	require.GreaterOrEqual(t, latest, 1)
	all, err := loadMigrations(migrationFiles)
	require.NoError(t, err)

	// Fresh schema -> latest.
	res, err := Migrate(ctx, pool, opts)
	require.NoError(t, err)
	assert.Equal(t, 0, res.From)
	assert.Equal(t, latest, res.To)
	assert.Len(t, res.Applied, len(all))
	var recorded int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema}.Sanitize()+".schema_migrations").Scan(&recorded))
	assert.Equal(t, len(all), recorded)

	// Re-run: no-op.
	res, err = Migrate(ctx, pool, opts)
	require.NoError(t, err)
	assert.Equal(t, MigrateResult{From: latest, To: latest}, res)

	// A store opens on the migrated schema.
	s, err := New(ctx, pool, opts)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = s.GetService(ctx, testServiceID)
	assert.ErrorIs(t, err, store.ErrClosed)

	// A schema migrated by a newer build is refused, by Migrate and by New.
	_, err = pool.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema}.Sanitize()+
		".schema_migrations (version, name, applied_at) VALUES ($1, 'future', now())", latest+1)
	require.NoError(t, err)
	_, err = Migrate(ctx, pool, opts)
	require.ErrorIs(t, err, ErrSchemaTooNew)
	var ve *SchemaVersionError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, SchemaVersionError{Schema: schema, Database: latest + 1, Latest: latest}, *ve)
	_, err = New(ctx, pool, opts)
	assert.ErrorIs(t, err, ErrSchemaTooNew)
}

func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	schema := newSchema(t)
	const migrators = 4
	var (
		wg      sync.WaitGroup
		results [migrators]MigrateResult
		errs    [migrators]error
	)
	for i := range migrators {
		// Separate pools, as separate processes would have.
		pool := testPool(t, 2)
		wg.Go(func() { results[i], errs[i] = Migrate(ctx, pool, Options{Schema: schema}) })
	}
	wg.Wait()
	all, err := loadMigrations(migrationFiles)
	require.NoError(t, err)
	applied := 0
	for i := range migrators {
		require.NoError(t, errs[i])
		assert.Equal(t, LatestVersion(), results[i].To)
		applied += len(results[i].Applied)
	}
	assert.Equal(t, len(all), applied, "each migration applied exactly once")
}

func TestMigrateIncremental(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := shared.get(t)
	schema := newSchema(t)
	o, err := Options{Schema: schema}.withDefaults()
	require.NoError(t, err)
	v1 := fstest.MapFS{"migrations/0001_a.sql": {Data: []byte("CREATE TABLE {schema}.a (x int)")}}
	v2 := fstest.MapFS{
		"migrations/0001_a.sql": v1["migrations/0001_a.sql"],
		"migrations/0002_b.sql": {Data: []byte("ALTER TABLE {schema}.a ADD COLUMN y int; CREATE TABLE {schema}.b (x int)")},
	}
	res, err := migrate(ctx, pool, o, v1)
	require.NoError(t, err)
	assert.Equal(t, []int{1}, res.Applied)
	res, err = migrate(ctx, pool, o, v2)
	require.NoError(t, err)
	assert.Equal(t, MigrateResult{From: 1, To: 2, Applied: []int{2}}, res)
	_, err = migrate(ctx, pool, o, v1)
	assert.ErrorIs(t, err, ErrSchemaTooNew, "v1 build against a v2 schema")

	// Numbers may skip, and a lower number landing after a higher one is still applied.
	v5 := fstest.MapFS{
		"migrations/0001_a.sql": v1["migrations/0001_a.sql"],
		"migrations/0002_b.sql": v2["migrations/0002_b.sql"],
		"migrations/0005_e.sql": {Data: []byte("CREATE TABLE {schema}.e (x int)")},
	}
	res, err = migrate(ctx, pool, o, v5)
	require.NoError(t, err)
	assert.Equal(t, MigrateResult{From: 2, To: 5, Applied: []int{5}}, res)
	v5["migrations/0004_d.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE {schema}.d (x int)")}
	res, err = migrate(ctx, pool, o, v5)
	require.NoError(t, err)
	assert.Equal(t, MigrateResult{From: 5, To: 5, Applied: []int{4}}, res)

	// A failing migration leaves nothing behind: the runner is one transaction.
	bad := fstest.MapFS{
		"migrations/0001_a.sql": v1["migrations/0001_a.sql"],
		"migrations/0002_b.sql": v2["migrations/0002_b.sql"],
		"migrations/0003_c.sql": {Data: []byte("CREATE TABLE {schema}.c (x int); SELECT * FROM {schema}.missing")},
	}
	_, err = migrate(ctx, pool, o, bad)
	require.Error(t, err)
	var exists bool
	require.NoError(t, pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", schema+".c").Scan(&exists))
	assert.False(t, exists)
}

func TestLoadMigrationsRejectsBadNames(t *testing.T) {
	t.Parallel()
	for name, fsys := range map[string]fstest.MapFS{
		"no number": {"migrations/init.sql": {Data: []byte("")}},
		"duplicate": {"migrations/0001_a.sql": {}, "migrations/0001_b.sql": {}},
		"zero":      {"migrations/0000_a.sql": {}},
	} {
		_, err := loadMigrations(fsys)
		assert.Error(t, err, name)
	}
	ms, err := loadMigrations(migrationFiles)
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	assert.Equal(t, 1, ms[0].version)
	for i := 1; i < len(ms); i++ {
		assert.Less(t, ms[i-1].version, ms[i].version, "versions ascend")
	}
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	for _, schema := range []string{"1abc", "a-b", `x"y`, "a b", string(make([]byte, 64))} {
		_, err := Options{Schema: schema}.withDefaults()
		assert.ErrorIs(t, err, store.ErrInvalidArgument, schema)
	}
	_, err := Options{ListenRetry: -1}.withDefaults()
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
	_, err = Options{NotifyInterval: -1}.withDefaults()
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
	o, err := Options{}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, DefaultSchema, o.Schema)
	assert.Equal(t, DefaultListenRetry, o.ListenRetry)
	assert.Equal(t, DefaultNotifyInterval, o.NotifyInterval)
	_, err = New(t.Context(), nil, Options{})
	assert.True(t, errors.Is(err, store.ErrInvalidArgument))
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	schema := newSchema(t)
	s, err := Open(ctx, testURL(t), Options{Schema: schema})
	require.NoError(t, err)
	assert.Equal(t, schema, s.Schema())
	assert.Equal(t, schema, s.Channel())
	sv, err := s.CreateService(ctx, &store.Service{Name: "svc", Category: store.CategoryOther, ConnectorKind: "http"})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	_, err = s.GetService(ctx, sv.ID)
	require.ErrorIs(t, err, store.ErrClosed)

	_, err = Open(ctx, "postgres://%zz", Options{Schema: schema})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
	_, err = Open(ctx, testURL(t), Options{Schema: "bad schema"})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
}
