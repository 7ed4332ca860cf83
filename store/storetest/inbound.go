package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func inboundCases() []testCase {
	return []testCase{
		{"DirectionDefaultsToOutbound", testInboundDefaultDirection},
		{"FanOutInOneInsert", testInboundFanOut},
		{"DuplicateInboundKeepsChildren", testInboundDuplicate},
		{"DerivedEventsPaged", testInboundPaged},
		{"Invalid", testInboundInvalid},
	}
}

// derived returns the store's DerivedEventStore, skipping the case when it has none.
func (b *bundle) derived(t *testing.T) store.DerivedEventStore {
	t.Helper()
	ds, ok := b.st.(store.DerivedEventStore)
	if !ok {
		t.Skip("the store does not implement store.DerivedEventStore (optional)")
	}
	return ds
}

func testInboundDefaultDirection(t *testing.T, b *bundle) {
	sv := b.service(t, "out")
	got := b.insert(t, newEvent(sv))
	assert.Equal(t, store.DirectionOutbound, got.Direction)
	assert.Equal(t, store.DirectionOutbound, b.get(t, got.ID).Direction)
	assert.Empty(t, got.SourceEventID)
}

// fanOut is one inbound event of src and one derived event per destination, inserted in one
// call.
func (b *bundle) fanOut(t *testing.T, src *store.Service, key string, dests ...*store.Service) []store.InsertResult {
	t.Helper()
	in := newEvent(src)
	in.ID = newID()
	in.Direction = store.DirectionInbound
	in.IdempotencyKey = key
	batch := []*store.Event{in}
	for _, d := range dests {
		c := newEvent(d)
		c.SourceEventID = in.ID
		c.IdempotencyKey = "route:" + in.ID
		batch = append(batch, c)
	}
	res, err := b.st.InsertEvents(b.ctx, batch)
	require.NoError(t, err)
	return res
}

func testInboundFanOut(t *testing.T, b *bundle) {
	ds := b.derived(t)
	src, d1, d2 := b.service(t, "src"), b.service(t, "d1"), b.service(t, "d2")
	res := b.fanOut(t, src, "delivery-1", d1, d2)
	require.Len(t, res, 3)
	in := b.get(t, res[0].Event.ID)
	assert.Equal(t, store.DirectionInbound, in.Direction)
	assert.Empty(t, in.SourceEventID)
	kids, err := ds.ListDerivedEvents(b.ctx, in.ID, store.Page{})
	require.NoError(t, err)
	require.Len(t, kids, 2)
	for i, k := range kids {
		assert.Equal(t, in.ID, k.SourceEventID)
		assert.Equal(t, store.DirectionOutbound, k.Direction)
		assert.Equal(t, store.StatusPending, k.Status)
		assertEventEqual(t, b.get(t, k.ID), k)
		assert.Contains(t, []string{d1.ID, d2.ID}, kids[i].ServiceID)
	}
	assert.NotEqual(t, kids[0].ServiceID, kids[1].ServiceID)
	// an event with no derived events has an empty list
	none, err := ds.ListDerivedEvents(b.ctx, kids[0].ID, store.Page{})
	require.NoError(t, err)
	assert.Empty(t, none)
	none, err = ds.ListDerivedEvents(b.ctx, newID(), store.Page{})
	require.NoError(t, err)
	assert.Empty(t, none)
}

func testInboundDuplicate(t *testing.T, b *bundle) {
	ds := b.derived(t)
	src, d1 := b.service(t, "src"), b.service(t, "d1")
	first := b.fanOut(t, src, "delivery-1", d1)
	require.True(t, first[0].Created)
	// The provider retries: the inbound key exists, so the inbound event is the first one;
	// its new derived events (keyed by the new inbound id) would be orphans, which is why
	// the hub looks the key up before building a fan-out. The store only guarantees the
	// inbound event is not stored twice.
	again, _, err := b.st.InsertEvent(b.ctx, &store.Event{ServiceID: src.ID, ServiceName: src.Name,
		Direction: store.DirectionInbound, IdempotencyKey: "delivery-1", PayloadIn: []byte(`{}`)})
	require.NoError(t, err)
	assert.Equal(t, first[0].Event.ID, again.ID)
	kids, err := ds.ListDerivedEvents(b.ctx, first[0].Event.ID, store.Page{})
	require.NoError(t, err)
	assert.Len(t, kids, 1)
}

func testInboundPaged(t *testing.T, b *bundle) {
	ds := b.derived(t)
	src, d := b.service(t, "src"), b.service(t, "d")
	in := b.insert(t, &store.Event{ServiceID: src.ID, ServiceName: src.Name, Direction: store.DirectionInbound})
	var want []string
	for range 5 {
		c := newEvent(d)
		c.SourceEventID = in.ID
		want = append(want, b.insert(t, c).ID)
		b.clock.Advance(time.Millisecond)
	}
	var got []string
	for off := 0; off < 5; off += 2 {
		page, err := ds.ListDerivedEvents(b.ctx, in.ID, store.Page{Limit: 2, Offset: off})
		require.NoError(t, err)
		got = append(got, ids(page)...)
	}
	assert.Equal(t, want, got)
}

func testInboundInvalid(t *testing.T, b *bundle) {
	ds := b.derived(t)
	sv := b.service(t, "src")
	for name, e := range map[string]*store.Event{
		"direction": {ServiceID: sv.ID, ServiceName: sv.Name, Direction: "sideways"},
		"source":    {ServiceID: sv.ID, ServiceName: sv.Name, SourceEventID: "not-a-uuid"},
	} {
		_, _, err := b.st.InsertEvent(b.ctx, e)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	_, err := ds.ListDerivedEvents(b.ctx, "nope", store.Page{})
	assert.True(t, errors.Is(err, store.ErrInvalidArgument), "%v", err)
}
