package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func regionCases() []testCase {
	return []testCase{
		{"ClaimInRegions", testRegionClaim},
		{"RegionReadAtClaim", testRegionReadAtClaim},
		{"RegionClaimInvalid", testRegionClaimInvalid},
		{"ConcurrentRegionClaimers", testRegionConcurrent},
		{"CancelServiceEvents", testCancelServiceEvents},
	}
}

// regions returns the store's RegionClaimer, skipping the case when it has none.
func (b *bundle) regions(t *testing.T) store.RegionClaimer {
	t.Helper()
	rc, ok := b.st.(store.RegionClaimer)
	if !ok {
		t.Skip("the store does not implement store.RegionClaimer (optional)")
	}
	return rc
}

// regionService creates an active service pinned to region ("" for none).
func (b *bundle) regionService(t *testing.T, name, region string) *store.Service {
	t.Helper()
	sv := newService(name)
	sv.DataRegion = region
	got, err := b.st.CreateService(b.ctx, sv)
	require.NoError(t, err)
	require.Equal(t, region, got.DataRegion)
	return got
}

func (b *bundle) claimIn(t *testing.T, owner string, n int, regions ...string) []*store.Event {
	t.Helper()
	evs, err := b.regions(t).ClaimEventsInRegions(b.ctx, store.RegionClaimParams{
		ClaimParams: store.ClaimParams{Owner: owner, Limit: n, Lease: time.Minute}, Regions: regions})
	require.NoError(t, err)
	return evs
}

func testRegionClaim(t *testing.T, b *bundle) {
	b.regions(t)
	eu, us, none := b.regionService(t, "eu-crm", "eu"), b.regionService(t, "us-crm", "us"), b.regionService(t, "global", "")
	byRegion := map[string][]string{}
	for i := range 3 {
		for _, sv := range []*store.Service{eu, us, none} {
			e := newEvent(sv)
			if i == 2 {
				e.PriorityLevel = store.PriorityHigh // claimed first within its region
			}
			byRegion[sv.DataRegion] = append(byRegion[sv.DataRegion], b.insert(t, e).ID)
			b.clock.Advance(time.Second)
		}
	}
	inOrder := func(evIDs []string) []string { // high priority last inserted, first claimed
		return append([]string{evIDs[2]}, evIDs[:2]...)
	}
	got := b.claimIn(t, "eu-hub", 10, "eu")
	assert.Equal(t, inOrder(byRegion["eu"]), ids(got), "only eu events, in claim order")
	for _, e := range got {
		assert.Equal(t, eu.ID, e.ServiceID)
		assert.Equal(t, store.StatusProcessing, e.Status)
		assert.Equal(t, "eu-hub", e.LeaseOwner)
	}
	assert.Empty(t, b.claimIn(t, "eu-hub", 10, "eu", "ap"))
	got = b.claimIn(t, "plain-hub", 10, "")
	assert.Equal(t, inOrder(byRegion[""]), ids(got), "\"\" takes the services without a region")

	// Exclusions still apply within the regions.
	rc := b.regions(t)
	got, err := rc.ClaimEventsInRegions(b.ctx, store.RegionClaimParams{
		ClaimParams: store.ClaimParams{Owner: "us-hub", Limit: 10, Lease: time.Minute, ExcludeServiceIDs: []string{us.ID}},
		Regions:     []string{"us"}})
	require.NoError(t, err)
	assert.Empty(t, got)
	got = b.claimIn(t, "us-hub", 2, "us", "eu")
	assert.Equal(t, inOrder(byRegion["us"])[:2], ids(got), "limit holds")
	got = b.claimIn(t, "us-hub", 2, "us", "eu")
	assert.Equal(t, inOrder(byRegion["us"])[2:], ids(got))
	assert.Empty(t, b.claim(t, "any", 10, time.Minute), "nothing left for anyone")
}

func testRegionReadAtClaim(t *testing.T, b *bundle) {
	b.regions(t)
	sv := b.regionService(t, "crm", "us")
	ev := b.insert(t, newEvent(sv))
	assert.Empty(t, b.claimIn(t, "eu-hub", 10, "eu"))
	sv.DataRegion = "eu"
	_, err := b.st.UpdateService(b.ctx, sv)
	require.NoError(t, err)
	assert.Empty(t, b.claimIn(t, "us-hub", 10, "us"), "queued events follow their service to its new region")
	assert.Equal(t, []string{ev.ID}, ids(b.claimIn(t, "eu-hub", 10, "eu")))
}

func testRegionClaimInvalid(t *testing.T, b *bundle) {
	rc := b.regions(t)
	sv := b.regionService(t, "crm", "eu")
	ev := b.insert(t, newEvent(sv))
	ok := store.ClaimParams{Owner: "h", Limit: 1, Lease: time.Minute}
	for name, p := range map[string]store.RegionClaimParams{
		"no regions":  {ClaimParams: ok},
		"malformed":   {ClaimParams: ok, Regions: []string{"EU West"}},
		"no owner":    {ClaimParams: store.ClaimParams{Limit: 1, Lease: time.Minute}, Regions: []string{"eu"}},
		"zero limit":  {ClaimParams: store.ClaimParams{Owner: "h", Lease: time.Minute}, Regions: []string{"eu"}},
		"zero lease":  {ClaimParams: store.ClaimParams{Owner: "h", Limit: 1}, Regions: []string{"eu"}},
		"bad exclude": {ClaimParams: store.ClaimParams{Owner: "h", Limit: 1, Lease: time.Minute, ExcludeServiceIDs: []string{"x"}}, Regions: []string{"eu"}},
	} {
		_, err := rc.ClaimEventsInRegions(b.ctx, p)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	assert.Equal(t, store.StatusPending, b.get(t, ev.ID).Status)
	bad := newService("x")
	bad.DataRegion = "Europe!"
	_, err := b.st.CreateService(b.ctx, bad)
	assert.ErrorIs(t, err, store.ErrInvalidArgument, "a malformed region is refused")
}

// testRegionConcurrent has claimers of two regions share one backlog: none gets an event
// of the other region, and no event is claimed twice.
func testRegionConcurrent(t *testing.T, b *bundle) {
	b.regions(t)
	eu, us := b.regionService(t, "eu-crm", "eu"), b.regionService(t, "us-crm", "us")
	const n = 300
	batch := make([]*store.Event, 0, n)
	for i := range n {
		sv := eu
		if i%3 == 0 {
			sv = us
		}
		batch = append(batch, newEvent(sv))
	}
	_, err := b.st.InsertEvents(b.ctx, batch)
	require.NoError(t, err)
	var (
		mu   sync.Mutex
		seen = map[string]string{}
		wg   sync.WaitGroup
	)
	rc := b.regions(t)
	for w := range 6 {
		region, want := "eu", eu.ID
		if w%2 == 1 {
			region, want = "us", us.ID
		}
		wg.Go(func() {
			for {
				var evs []*store.Event
				err := retryBusy(func() error {
					var err error
					evs, err = rc.ClaimEventsInRegions(b.ctx, store.RegionClaimParams{
						ClaimParams: store.ClaimParams{Owner: region, Limit: 8, Lease: time.Minute}, Regions: []string{region}})
					return err
				})
				if !assert.NoError(t, err) || len(evs) == 0 {
					return
				}
				mu.Lock()
				for _, e := range evs {
					assert.Equal(t, want, e.ServiceID, "a %s claimer got another region's event", region)
					_, dup := seen[e.ID]
					assert.False(t, dup, "event %s claimed twice", e.ID)
					seen[e.ID] = region
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Len(t, seen, n)
}

func testCancelServiceEvents(t *testing.T, b *bundle) {
	ec, ok := b.st.(store.EventCanceller)
	if !ok {
		t.Skip("the store does not implement store.EventCanceller (optional)")
	}
	sv, other := b.service(t, "gone"), b.service(t, "stays")
	inflight := b.eventIn(t, sv, store.StatusProcessing)
	done := b.eventIn(t, sv, store.StatusSucceeded)
	retrying := b.eventIn(t, sv, store.StatusRetrying)
	var queued []string
	for range 5 {
		queued = append(queued, b.insert(t, newEvent(sv)).ID)
	}
	keep := b.insert(t, newEvent(other))
	b.clock.Advance(time.Second)
	var got []int
	for {
		n, err := ec.CancelEvents(b.ctx, store.CancelEventsParams{ServiceID: sv.ID, Limit: 4})
		require.NoError(t, err)
		got = append(got, n)
		if n == 0 {
			break
		}
	}
	assert.Equal(t, []int{4, 2, 0}, got, "five pending and one retrying, in batches")
	for _, id := range append(queued, retrying.ID) {
		ev := b.get(t, id)
		assert.Equal(t, store.StatusCancelled, ev.Status)
		assert.Equal(t, b.now(), ev.UpdatedAt)
	}
	assert.Equal(t, store.StatusProcessing, b.get(t, inflight.ID).Status, "in flight: left to finish")
	assert.Equal(t, store.StatusSucceeded, b.get(t, done.ID).Status)
	assert.Equal(t, store.StatusPending, b.get(t, keep.ID).Status, "another service's queue is untouched")
	evs := b.claim(t, "w", 10, time.Minute)
	assert.Equal(t, []string{keep.ID}, ids(evs))
	for name, p := range map[string]store.CancelEventsParams{
		"bad service": {ServiceID: "x", Limit: 1},
		"zero limit":  {ServiceID: sv.ID},
		"too many":    {ServiceID: sv.ID, Limit: store.MaxPageLimit + 1},
	} {
		_, err := ec.CancelEvents(b.ctx, p)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
}
