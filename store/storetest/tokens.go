package storetest

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func tokenCases() []testCase {
	return []testCase{
		{"SaveGetDelete", testTokenSave},
		{"UpdatesSerialise", testTokenSerialise},
	}
}

func tokenStore(t *testing.T, b *bundle) store.TokenStore {
	t.Helper()
	ts, ok := b.st.(store.TokenStore)
	if !ok {
		t.Skip("the store does not persist OAuth tokens (store.TokenStore)")
	}
	return ts
}

func testTokenSave(t *testing.T, b *bundle) {
	ts := tokenStore(t, b)
	sv := b.service(t, "crm")
	_, err := ts.GetOAuthToken(b.ctx, sv.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	got, err := ts.UpdateOAuthToken(b.ctx, sv.ID, func(cur *store.OAuthToken) (json.RawMessage, error) {
		assert.Nil(t, cur, "no token yet")
		return json.RawMessage(`{"sealed":"v2.k.one"}`), nil
	})
	require.NoError(t, err)
	assert.Equal(t, int64(1), got.Version)
	assert.Equal(t, sv.ID, got.ServiceID)
	assert.Equal(t, b.now(), got.UpdatedAt)
	b.clock.Advance(time.Minute)
	got, err = ts.UpdateOAuthToken(b.ctx, sv.ID, func(cur *store.OAuthToken) (json.RawMessage, error) {
		require.NotNil(t, cur)
		assert.JSONEq(t, `{"sealed":"v2.k.one"}`, string(cur.Sealed))
		return json.RawMessage(`{"sealed":"v2.k.two"}`), nil
	})
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Version)
	read, err := ts.GetOAuthToken(b.ctx, sv.ID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"sealed":"v2.k.two"}`, string(read.Sealed))
	assert.Equal(t, int64(2), read.Version)
	assert.Equal(t, b.now(), read.UpdatedAt)

	// fn returning nil keeps the token; fn's error saves nothing
	same, err := ts.UpdateOAuthToken(b.ctx, sv.ID, func(*store.OAuthToken) (json.RawMessage, error) { return nil, nil })
	require.NoError(t, err)
	assert.Equal(t, int64(2), same.Version)
	boom := errors.New("token endpoint down")
	_, err = ts.UpdateOAuthToken(b.ctx, sv.ID, func(*store.OAuthToken) (json.RawMessage, error) {
		return json.RawMessage(`{"sealed":"v2.k.lost"}`), boom
	})
	require.ErrorIs(t, err, boom)
	read, err = ts.GetOAuthToken(b.ctx, sv.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(2), read.Version)

	_, err = ts.UpdateOAuthToken(b.ctx, newID(), func(*store.OAuthToken) (json.RawMessage, error) { return json.RawMessage(`{}`), nil })
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = ts.UpdateOAuthToken(b.ctx, sv.ID, func(*store.OAuthToken) (json.RawMessage, error) { return json.RawMessage(`{`), nil })
	require.ErrorIs(t, err, store.ErrInvalidArgument)
	_, err = ts.GetOAuthToken(b.ctx, "nope")
	require.ErrorIs(t, err, store.ErrInvalidArgument)

	require.NoError(t, ts.DeleteOAuthToken(b.ctx, sv.ID))
	_, err = ts.GetOAuthToken(b.ctx, sv.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, ts.DeleteOAuthToken(b.ctx, sv.ID), "deleting nothing is fine")
}

// testTokenSerialise: concurrent updates of one service run one at a time, each seeing the
// token the one before saved, so none is lost.
func testTokenSerialise(t *testing.T, b *bundle) {
	ts := tokenStore(t, b)
	sv := b.service(t, "crm")
	const n = 20
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		inside  int
		overlap bool
	)
	for range n {
		wg.Go(func() {
			_, err := ts.UpdateOAuthToken(b.ctx, sv.ID, func(cur *store.OAuthToken) (json.RawMessage, error) {
				mu.Lock()
				inside++
				overlap = overlap || inside > 1
				mu.Unlock()
				time.Sleep(time.Millisecond)
				var count int
				if cur != nil {
					var doc struct{ N int }
					if err := json.Unmarshal(cur.Sealed, &doc); err != nil {
						return nil, err
					}
					count = doc.N
				}
				mu.Lock()
				inside--
				mu.Unlock()
				return json.Marshal(map[string]int{"n": count + 1})
			})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.False(t, overlap, "updates of one service never overlap")
	read, err := ts.GetOAuthToken(b.ctx, sv.ID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"n":20}`, string(read.Sealed))
	assert.Equal(t, int64(n), read.Version)
}
