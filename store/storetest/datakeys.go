package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func dataKeyCases() []testCase {
	return []testCase{
		{"Lifecycle", testDataKeyLifecycle},
		{"CreateRace", testDataKeyCreateRace},
	}
}

func dataKeyStore(t *testing.T, b *bundle) store.DataKeyStore {
	t.Helper()
	ds, ok := b.st.(store.DataKeyStore)
	if !ok {
		t.Skip("the store keeps no data keys (store.DataKeyStore)")
	}
	return ds
}

// testDataKeyLifecycle creates, reads, re-wraps, lists and destroys data keys, and checks
// what each refuses.
func testDataKeyLifecycle(t *testing.T, b *bundle) {
	ds := dataKeyStore(t, b)
	k, err := ds.CreateDataKey(b.ctx, &store.DataKey{Owner: "crm", KeyID: "kek-1", Wrapped: []byte{1, 2, 3}})
	require.NoError(t, err)
	require.NotEmpty(t, k.ID)
	assert.Equal(t, "kek-1", k.KeyID)
	assert.Equal(t, []byte{1, 2, 3}, k.Wrapped)
	assert.Nil(t, k.DestroyedAt)

	// a second create for the same owner returns the live key and stores nothing
	again, err := ds.CreateDataKey(b.ctx, &store.DataKey{Owner: "crm", KeyID: "kek-1", Wrapped: []byte{9}})
	require.NoError(t, err)
	assert.Equal(t, k.ID, again.ID)
	assert.Equal(t, []byte{1, 2, 3}, again.Wrapped)

	other, err := ds.CreateDataKey(b.ctx, &store.DataKey{ID: newID(), Owner: "erp", KeyID: "kek-1", Wrapped: []byte{4}})
	require.NoError(t, err)
	got, err := ds.GetDataKey(b.ctx, k.ID)
	require.NoError(t, err)
	assert.Equal(t, k.Wrapped, got.Wrapped)
	live, err := ds.LiveDataKey(b.ctx, "erp")
	require.NoError(t, err)
	assert.Equal(t, other.ID, live.ID)
	_, err = ds.LiveDataKey(b.ctx, "nobody")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = ds.GetDataKey(b.ctx, newID())
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = ds.GetDataKey(b.ctx, "nope")
	require.ErrorIs(t, err, store.ErrInvalidArgument)

	b.clock.Advance(time.Minute)
	require.NoError(t, ds.RewrapDataKey(b.ctx, k.ID, "kek-1", "kek-2", []byte{7, 7}))
	got, err = ds.GetDataKey(b.ctx, k.ID)
	require.NoError(t, err)
	assert.Equal(t, "kek-2", got.KeyID)
	assert.Equal(t, []byte{7, 7}, got.Wrapped)
	assert.True(t, got.UpdatedAt.After(got.CreatedAt))
	require.ErrorIs(t, ds.RewrapDataKey(b.ctx, k.ID, "kek-1", "kek-3", []byte{8}), store.ErrConflict, "re-wrapped meanwhile")
	require.ErrorIs(t, ds.RewrapDataKey(b.ctx, newID(), "kek-1", "kek-3", []byte{8}), store.ErrNotFound)
	require.ErrorIs(t, ds.RewrapDataKey(b.ctx, k.ID, "kek-2", "kek-3", nil), store.ErrInvalidArgument)

	list, err := ds.ListDataKeys(b.ctx, "", store.Page{})
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Less(t, list[0].ID, list[1].ID, "ordered by id")
	rest, err := ds.ListDataKeys(b.ctx, list[0].ID, store.Page{})
	require.NoError(t, err)
	require.Len(t, rest, 1, "listed after the given id")
	assert.Equal(t, list[1].ID, rest[0].ID)
	_, err = ds.ListDataKeys(b.ctx, "not-a-uuid", store.Page{})
	require.ErrorIs(t, err, store.ErrInvalidArgument)

	dead, err := ds.DestroyDataKey(b.ctx, "crm")
	require.NoError(t, err)
	assert.Equal(t, k.ID, dead.ID)
	require.NotNil(t, dead.DestroyedAt)
	assert.Empty(t, dead.Wrapped)
	got, err = ds.GetDataKey(b.ctx, k.ID)
	require.NoError(t, err, "the tombstone stays")
	assert.Empty(t, got.Wrapped, "the wrapped key is erased")
	require.NotNil(t, got.DestroyedAt)
	_, err = ds.LiveDataKey(b.ctx, "crm")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = ds.DestroyDataKey(b.ctx, "crm")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, ds.RewrapDataKey(b.ctx, k.ID, "kek-2", "kek-3", []byte{8}), store.ErrConflict, "a destroyed key is not re-wrapped")
	list, err = ds.ListDataKeys(b.ctx, "", store.Page{})
	require.NoError(t, err)
	require.Len(t, list, 1, "only live keys are listed")

	// after destruction the owner gets a new key
	fresh, err := ds.CreateDataKey(b.ctx, &store.DataKey{Owner: "crm", KeyID: "kek-2", Wrapped: []byte{5}})
	require.NoError(t, err)
	assert.NotEqual(t, k.ID, fresh.ID)

	for _, bad := range []*store.DataKey{{KeyID: "k", Wrapped: []byte{1}}, {Owner: "o", Wrapped: []byte{1}}, {Owner: "o", KeyID: "k"}} {
		_, err := ds.CreateDataKey(b.ctx, bad)
		require.ErrorIs(t, err, store.ErrInvalidArgument)
	}
}

// testDataKeyCreateRace creates one owner's key from many goroutines: all get the same.
func testDataKeyCreateRace(t *testing.T, b *bundle) {
	ds := dataKeyStore(t, b)
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := ds.CreateDataKey(b.ctx, &store.DataKey{Owner: "race", KeyID: "kek", Wrapped: []byte{byte(i + 1)}})
			if assert.NoError(t, err) {
				ids[i] = k.ID
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		assert.Equal(t, ids[0], id)
	}
}
