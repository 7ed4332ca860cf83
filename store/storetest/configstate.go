package storetest

import (
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func configStateCases() []testCase {
	return []testCase{
		{"EmptyAndSwap", testConfigStateSwap},
		{"Stale", testConfigStateStale},
		{"Invalid", testConfigStateInvalid},
		{"ConcurrentSwaps", testConfigStateConcurrent},
	}
}

// configState returns the store's ConfigStateStore, skipping the case when it has none.
func (b *bundle) configState(t *testing.T) store.ConfigStateStore {
	t.Helper()
	cs, ok := b.st.(store.ConfigStateStore)
	if !ok {
		t.Skip("the store does not implement store.ConfigStateStore (optional)")
	}
	return cs
}

func testConfigStateSwap(t *testing.T, b *bundle) {
	cs := b.configState(t)
	st, err := cs.GetConfigState(b.ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Revision)
	assert.Empty(t, st.Document)
	assert.True(t, st.UpdatedAt.IsZero())

	// the document is kept byte for byte: member order and spacing matter to an export
	doc := json.RawMessage(`{"version":1,"services":[{"name":"b","connector":"http"},{"name":"a"}], "z": 1}`)
	got, err := cs.SwapConfigState(b.ctx, store.SwapConfigStateParams{Revision: 0, Document: doc, Fingerprint: "fp1", Actor: "alice"})
	require.NoError(t, err)
	assert.Equal(t, int64(1), got.Revision)
	assert.Equal(t, b.now(), got.UpdatedAt)
	b.clock.Advance(time.Minute)

	st, err = cs.GetConfigState(b.ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(1), st.Revision)
	assert.Equal(t, string(doc), string(st.Document))
	assert.Equal(t, "fp1", st.Fingerprint)
	assert.Equal(t, "alice", st.Actor)
	assert.Equal(t, got.UpdatedAt, st.UpdatedAt)

	next, err := cs.SwapConfigState(b.ctx, store.SwapConfigStateParams{Revision: 1, Document: json.RawMessage(`{"version":1}`), Fingerprint: "fp2", Actor: "bob"})
	require.NoError(t, err)
	assert.Equal(t, int64(2), next.Revision)
	assert.Equal(t, b.now(), next.UpdatedAt)
	st, err = cs.GetConfigState(b.ctx)
	require.NoError(t, err)
	assert.Equal(t, `{"version":1}`, string(st.Document))
	assert.Equal(t, "bob", st.Actor)
}

func testConfigStateStale(t *testing.T, b *bundle) {
	cs := b.configState(t)
	_, err := cs.SwapConfigState(b.ctx, store.SwapConfigStateParams{Revision: 0, Document: json.RawMessage(`{"v":1}`), Fingerprint: "fp1"})
	require.NoError(t, err)
	for _, rev := range []int64{0, 2, 7} {
		_, err = cs.SwapConfigState(b.ctx, store.SwapConfigStateParams{Revision: rev, Document: json.RawMessage(`{"v":2}`), Fingerprint: "fp2"})
		require.ErrorIs(t, err, store.ErrConflict, "revision %d", rev)
	}
	st, err := cs.GetConfigState(b.ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(1), st.Revision)
	assert.Equal(t, `{"v":1}`, string(st.Document))
	assert.Equal(t, "fp1", st.Fingerprint)
}

func testConfigStateInvalid(t *testing.T, b *bundle) {
	cs := b.configState(t)
	for name, p := range map[string]store.SwapConfigStateParams{
		"negative revision": {Revision: -1},
		"not JSON":          {Document: json.RawMessage(`{"a":`)},
	} {
		_, err := cs.SwapConfigState(b.ctx, p)
		require.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	st, err := cs.GetConfigState(b.ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Revision)
}

// testConfigStateConcurrent swaps from the same revision at once: exactly one wins.
func testConfigStateConcurrent(t *testing.T, b *bundle) {
	cs := b.configState(t)
	_, err := cs.SwapConfigState(b.ctx, store.SwapConfigStateParams{Revision: 0, Document: json.RawMessage(`{}`)})
	require.NoError(t, err)
	const writers = 8
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		wins     int
		stale    int
		failures []error
	)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := retryBusy(func() error {
				_, err := cs.SwapConfigState(b.ctx, store.SwapConfigStateParams{Revision: 1, Document: json.RawMessage(`{"writer":` + strconv.Itoa(i) + `}`)})
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrConflict):
				stale++
			default:
				failures = append(failures, err)
			}
		}()
	}
	wg.Wait()
	require.Empty(t, failures)
	assert.Equal(t, 1, wins)
	assert.Equal(t, writers-1, stale)
	st, err := cs.GetConfigState(b.ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(2), st.Revision)
}
