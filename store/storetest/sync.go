package storetest

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func syncCases() []testCase {
	return []testCase{
		{"PutGetListDelete", testSyncPut},
		{"ClaimLeaseAndResume", testSyncClaim},
		{"ProgressFencedByOwner", testSyncFence},
		{"FailedAttemptRetriesLater", testSyncFailed},
		{"ConcurrentClaimersOneHolder", testSyncConcurrent},
		{"Invalid", testSyncInvalid},
	}
}

// syncs returns the store's SyncStore, skipping the case when it has none.
func (b *bundle) syncs(t *testing.T) store.SyncStore {
	t.Helper()
	ss, ok := b.st.(store.SyncStore)
	if !ok {
		t.Skip("the store does not implement store.SyncStore (optional)")
	}
	return ss
}

func testSyncPut(t *testing.T, b *bundle) {
	ss := b.syncs(t)
	sv, sv2 := b.service(t, "pulled"), b.service(t, "pulled2")
	got, err := ss.PutSyncSchedule(b.ctx, &store.SyncSchedule{ServiceID: sv.ID, Interval: time.Minute,
		Operation: "list", Params: json.RawMessage(`{"state": "open"}`), PageSize: 50, IDField: "id",
		VersionField: "updated_at", Enabled: true})
	require.NoError(t, err)
	assert.Equal(t, sv.ID, got.ServiceID)
	assert.Equal(t, time.Minute, got.Interval)
	assert.Equal(t, b.now(), got.NextRunAt, "a new schedule is due now")
	assert.JSONEq(t, `{"state":"open"}`, string(got.Params))
	assert.Equal(t, 50, got.PageSize)
	assert.True(t, got.Enabled)
	assert.Empty(t, got.Cursor)
	assert.Nil(t, got.HighWater)
	again, err := ss.GetSyncSchedule(b.ctx, sv.ID)
	require.NoError(t, err)
	assert.Equal(t, got, again)

	// Changing the settings keeps the progress and, unless given, next_run_at.
	claimed, err := ss.ClaimSyncSchedule(b.ctx, store.ClaimSyncParams{Owner: "a", Lease: time.Minute})
	require.NoError(t, err)
	_, err = ss.SaveSyncProgress(b.ctx, store.SyncProgress{ServiceID: sv.ID, Owner: "a", Cursor: "c1", Records: 3, Lease: time.Minute})
	require.NoError(t, err)
	b.clock.Advance(time.Second)
	changed, err := ss.PutSyncSchedule(b.ctx, &store.SyncSchedule{ServiceID: sv.ID, Interval: time.Hour, Enabled: true})
	require.NoError(t, err)
	assert.Equal(t, time.Hour, changed.Interval)
	assert.Equal(t, "c1", changed.Cursor)
	assert.Equal(t, int64(3), changed.Records)
	assert.Equal(t, "a", changed.Owner)
	assert.Equal(t, claimed.NextRunAt, changed.NextRunAt)
	assert.Nil(t, changed.Params)

	_, err = ss.PutSyncSchedule(b.ctx, &store.SyncSchedule{ServiceID: sv2.ID, Interval: time.Second, NextRunAt: at(time.Hour)})
	require.NoError(t, err)
	list, err := ss.ListSyncSchedules(b.ctx, store.Page{})
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Less(t, list[0].ServiceID, list[1].ServiceID)

	require.NoError(t, ss.DeleteSyncSchedule(b.ctx, sv2.ID))
	_, err = ss.GetSyncSchedule(b.ctx, sv2.ID)
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.ErrorIs(t, ss.DeleteSyncSchedule(b.ctx, sv2.ID), store.ErrNotFound)
}

func testSyncClaim(t *testing.T, b *bundle) {
	ss := b.syncs(t)
	sv := b.service(t, "pulled")
	_, err := ss.PutSyncSchedule(b.ctx, &store.SyncSchedule{ServiceID: sv.ID, Interval: time.Minute, Enabled: true})
	require.NoError(t, err)
	got, err := ss.ClaimSyncSchedule(b.ctx, store.ClaimSyncParams{Owner: "a", Lease: 10 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, "a", got.Owner)
	assert.Equal(t, b.now().Add(10*time.Second), *got.LeaseUntil)
	runStart := b.now()
	assert.Equal(t, runStart, *got.RunStartedAt)
	_, err = ss.ClaimSyncSchedule(b.ctx, store.ClaimSyncParams{Owner: "b", Lease: 10 * time.Second})
	assert.ErrorIs(t, err, store.ErrNotFound, "held")

	b.clock.Advance(time.Second)
	got, err = ss.SaveSyncProgress(b.ctx, store.SyncProgress{ServiceID: sv.ID, Owner: "a", Cursor: "p2", Records: 10, Lease: 10 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, "p2", got.Cursor)
	assert.Equal(t, b.now().Add(10*time.Second), *got.LeaseUntil)

	// a dies: once its lease runs out b takes over at the saved cursor, same run
	b.clock.Advance(11 * time.Second)
	got, err = ss.ClaimSyncSchedule(b.ctx, store.ClaimSyncParams{Owner: "b", Lease: 10 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, "b", got.Owner)
	assert.Equal(t, "p2", got.Cursor)
	assert.Equal(t, runStart, *got.RunStartedAt)
	_, err = ss.SaveSyncProgress(b.ctx, store.SyncProgress{ServiceID: sv.ID, Owner: "a", Cursor: "p3", Lease: time.Second})
	assert.ErrorIs(t, err, store.ErrLeaseLost, "a lost the lease")

	got, err = ss.SaveSyncProgress(b.ctx, store.SyncProgress{ServiceID: sv.ID, Owner: "b", Records: 5, Done: true})
	require.NoError(t, err)
	assert.Empty(t, got.Cursor)
	assert.Empty(t, got.Owner)
	assert.Nil(t, got.LeaseUntil)
	assert.Nil(t, got.RunStartedAt)
	require.NotNil(t, got.HighWater)
	assert.Equal(t, runStart, *got.HighWater)
	assert.Equal(t, b.now(), *got.LastRunAt)
	assert.Equal(t, b.now().Add(time.Minute), got.NextRunAt)
	assert.Equal(t, int64(15), got.Records)

	_, err = ss.ClaimSyncSchedule(b.ctx, store.ClaimSyncParams{Owner: "b", Lease: time.Second})
	assert.ErrorIs(t, err, store.ErrNotFound, "not due yet")
	b.clock.Advance(time.Minute)
	got, err = ss.ClaimSyncSchedule(b.ctx, store.ClaimSyncParams{Owner: "b", Lease: time.Second})
	require.NoError(t, err)
	assert.Equal(t, b.now(), *got.RunStartedAt, "a new run")
	assert.Empty(t, got.Cursor)

	// disabled schedules are not claimed
	b.clock.Advance(time.Hour)
	_, err = ss.PutSyncSchedule(b.ctx, &store.SyncSchedule{ServiceID: sv.ID, Interval: time.Minute, Enabled: false})
	require.NoError(t, err)
	_, err = ss.ClaimSyncSchedule(b.ctx, store.ClaimSyncParams{Owner: "c", Lease: time.Second})
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testSyncFence(t *testing.T, b *bundle) {
	ss := b.syncs(t)
	sv := b.service(t, "pulled")
	_, err := ss.SaveSyncProgress(b.ctx, store.SyncProgress{ServiceID: sv.ID, Owner: "a", Done: true})
	assert.ErrorIs(t, err, store.ErrLeaseLost, "no schedule")
	_, err = ss.PutSyncSchedule(b.ctx, &store.SyncSchedule{ServiceID: sv.ID, Interval: time.Minute, Enabled: true})
	require.NoError(t, err)
	_, err = ss.SaveSyncProgress(b.ctx, store.SyncProgress{ServiceID: sv.ID, Owner: "a", Done: true})
	assert.ErrorIs(t, err, store.ErrLeaseLost, "not claimed")
	_, err = ss.ClaimSyncSchedule(b.ctx, store.ClaimSyncParams{Owner: "a", Lease: time.Second})
	require.NoError(t, err)
	_, err = ss.SaveSyncProgress(b.ctx, store.SyncProgress{ServiceID: sv.ID, Owner: "b", Cursor: "x", Lease: time.Second})
	assert.ErrorIs(t, err, store.ErrLeaseLost, "another owner")
	got, err := ss.GetSyncSchedule(b.ctx, sv.ID)
	require.NoError(t, err)
	assert.Empty(t, got.Cursor)
}

func testSyncFailed(t *testing.T, b *bundle) {
	ss := b.syncs(t)
	sv := b.service(t, "pulled")
	_, err := ss.PutSyncSchedule(b.ctx, &store.SyncSchedule{ServiceID: sv.ID, Interval: time.Minute, Enabled: true})
	require.NoError(t, err)
	_, err = ss.ClaimSyncSchedule(b.ctx, store.ClaimSyncParams{Owner: "a", Lease: time.Minute})
	require.NoError(t, err)
	got, err := ss.SaveSyncProgress(b.ctx, store.SyncProgress{ServiceID: sv.ID, Owner: "a", Cursor: "p4", Records: 2,
		Error: "remote: 503", RetryAt: at(30 * time.Second)})
	require.NoError(t, err)
	assert.Equal(t, "remote: 503", got.LastError)
	assert.Equal(t, "p4", got.Cursor)
	assert.Empty(t, got.Owner)
	assert.NotNil(t, got.RunStartedAt, "the run goes on at the next attempt")
	_, err = ss.ClaimSyncSchedule(b.ctx, store.ClaimSyncParams{Owner: "a", Lease: time.Minute})
	assert.ErrorIs(t, err, store.ErrNotFound, "before the retry time")
	b.clock.Advance(30 * time.Second)
	got, err = ss.ClaimSyncSchedule(b.ctx, store.ClaimSyncParams{Owner: "b", Lease: time.Minute})
	require.NoError(t, err)
	assert.Equal(t, "p4", got.Cursor)
	assert.Equal(t, start.Truncate(store.Precision), got.RunStartedAt.Truncate(store.Precision))
}

func testSyncConcurrent(t *testing.T, b *bundle) {
	ss := b.syncs(t)
	const services = 4
	for i := range services {
		sv := b.service(t, "pulled-"+string(rune('a'+i)))
		_, err := ss.PutSyncSchedule(b.ctx, &store.SyncSchedule{ServiceID: sv.ID, Interval: time.Minute, Enabled: true})
		require.NoError(t, err)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		holders = map[string]string{}
		claims  atomic.Int64
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := "hub-" + string(rune('0'+w))
			for range 4 {
				got, err := ss.ClaimSyncSchedule(b.ctx, store.ClaimSyncParams{Owner: owner, Lease: time.Hour})
				if err != nil {
					assert.ErrorIs(t, err, store.ErrNotFound)
					continue
				}
				claims.Add(1)
				mu.Lock()
				if prev, ok := holders[got.ServiceID]; ok {
					t.Errorf("service %s claimed by %s while %s holds it", got.ServiceID, owner, prev)
				}
				holders[got.ServiceID] = owner
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(services), claims.Load())
}

func testSyncInvalid(t *testing.T, b *bundle) {
	ss := b.syncs(t)
	sv := b.service(t, "pulled")
	for name, s := range map[string]*store.SyncSchedule{
		"service":  {ServiceID: "x", Interval: time.Minute},
		"interval": {ServiceID: sv.ID},
		"page":     {ServiceID: sv.ID, Interval: time.Minute, PageSize: -1},
		"params":   {ServiceID: sv.ID, Interval: time.Minute, Params: json.RawMessage(`{`)},
	} {
		_, err := ss.PutSyncSchedule(b.ctx, s)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	_, err := ss.ClaimSyncSchedule(b.ctx, store.ClaimSyncParams{Lease: time.Second})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
	_, err = ss.SaveSyncProgress(b.ctx, store.SyncProgress{ServiceID: sv.ID, Owner: "a"})
	assert.ErrorIs(t, err, store.ErrInvalidArgument, "no lease")
	_, err = ss.GetSyncSchedule(b.ctx, sv.ID)
	assert.ErrorIs(t, err, store.ErrNotFound)
}
