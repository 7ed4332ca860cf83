package storetest

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func subjectCases() []testCase {
	return []testCase{
		{"ListSubjectEvents", testSubjectList},
		{"EraseEvents", testSubjectErase},
		{"EraseFencedAndSkipped", testSubjectEraseFenced},
		{"EraseInvalid", testSubjectEraseInvalid},
		{"EraseCountsTowardsRequest", testSubjectEraseCounted},
		{"Requests", testSubjectRequests},
		{"RequestLeases", testSubjectRequestLeases},
		{"ConcurrentRequestClaims", testSubjectRequestConcurrentClaims},
		{"PurgeAfterErase", testPurge},
	}
}

// subjects returns the store's SubjectStore, skipping the case when it has none.
func (b *bundle) subjects(t *testing.T) store.SubjectStore {
	t.Helper()
	ss, ok := b.st.(store.SubjectStore)
	if !ok {
		t.Skip("the store does not implement store.SubjectStore (optional)")
	}
	return ss
}

// subjectEvent stores a pending event of sv with the subject key and a personal payload.
func (b *bundle) subjectEvent(t *testing.T, sv *store.Service, key, email string) *store.Event {
	t.Helper()
	e := newEvent(sv)
	e.SubjectKey = key
	e.PayloadIn = json.RawMessage(`{"email":"` + email + `","n":1}`)
	e.CanonicalMapping = json.RawMessage(`{"contact":{"email":"` + email + `"}}`)
	return b.insert(t, e)
}

func testSubjectList(t *testing.T, b *bundle) {
	ss := b.subjects(t)
	sv := b.service(t, "crm")
	var want []string
	for i := range 7 {
		want = append(want, b.subjectEvent(t, sv, "key-a", "a@example.com").ID)
		if i%2 == 0 {
			b.subjectEvent(t, sv, "key-b", "b@example.com")
		}
		b.insert(t, newEvent(sv)) // no subject
	}
	slices.Sort(want)
	var got []string
	after := ""
	for {
		page, err := ss.ListSubjectEvents(b.ctx, store.SubjectEventsParams{SubjectKey: "key-a", AfterID: after, Limit: 3})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 3)
		for _, e := range page {
			assert.Equal(t, "key-a", e.SubjectKey)
			got = append(got, e.ID)
		}
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1].ID
	}
	assert.Equal(t, want, got, "every event of the subject, in id order, once")
	none, err := ss.ListSubjectEvents(b.ctx, store.SubjectEventsParams{SubjectKey: "key-z"})
	require.NoError(t, err)
	assert.Empty(t, none)
	for name, p := range map[string]store.SubjectEventsParams{
		"no key":         {},
		"bad cursor":     {SubjectKey: "k", AfterID: "x"},
		"negative limit": {SubjectKey: "k", Limit: -1},
		"control byte":   {SubjectKey: "k\n"},
	} {
		_, err := ss.ListSubjectEvents(b.ctx, p)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
}

// erased returns the erase parameters that replace e's documents with fixed masked ones.
func erased(e *store.Event) store.EraseParams {
	return store.EraseParams{
		ID: e.ID, UpdatedAt: e.UpdatedAt,
		PayloadIn:        json.RawMessage(`{"email":"[erased]","n":1}`),
		CanonicalMapping: json.RawMessage(`{"contact":{"email":"[erased]"}}`),
		ErrorDetails:     json.RawMessage(`{"error":"[erased]"}`),
	}
}

func testSubjectErase(t *testing.T, b *bundle) {
	ss := b.subjects(t)
	sv := b.service(t, "crm")
	// A delivered event keeps its status and updated_at; a queued one is cancelled.
	e := newEvent(sv)
	e.SubjectKey, e.ChairmanOverride = "key-a", true
	e.PayloadIn = json.RawMessage(`{"email":"a@example.com"}`)
	done := b.insert(t, e)
	c := b.claimOne(t, "w", done)
	lost, err := b.st.CompleteEvents(b.ctx, []store.CompleteParams{{ID: c.ID, Owner: "w", ResponseCode: 200,
		PayloadOut: json.RawMessage(`{"to":"a@example.com"}`)}})
	require.NoError(t, err)
	require.Empty(t, lost)
	done = b.get(t, done.ID)
	queued := b.subjectEvent(t, sv, "key-a", "a@example.com")
	other := b.subjectEvent(t, sv, "key-b", "b@example.com")
	b.clock.Advance(time.Minute)

	pd, pq := erased(done), erased(queued)
	pd.PayloadOut = json.RawMessage(`{"to":"[erased]"}`)
	skipped, err := ss.EraseEvents(b.ctx, store.EraseBatch{Events: []store.EraseParams{pd, pq}})
	require.NoError(t, err)
	assert.Empty(t, skipped)

	want := done.Clone()
	want.PayloadIn, want.PayloadOut = pd.PayloadIn, pd.PayloadOut
	want.CanonicalMapping, want.ErrorDetails = pd.CanonicalMapping, pd.ErrorDetails
	want.SubjectKey = ""
	assertEventEqual(t, want, b.get(t, done.ID), "documents replaced, subject cleared, status and updated_at kept")

	want = queued.Clone()
	want.PayloadIn, want.CanonicalMapping, want.ErrorDetails = pq.PayloadIn, pq.CanonicalMapping, pq.ErrorDetails
	want.SubjectKey = ""
	want.Status = store.StatusCancelled
	want.UpdatedAt = b.now()
	assertEventEqual(t, want, b.get(t, queued.ID), "a queued event is cancelled: it must not be delivered")

	assertEventEqual(t, other, b.get(t, other.ID), "another subject's event is untouched")
	left, err := ss.ListSubjectEvents(b.ctx, store.SubjectEventsParams{SubjectKey: "key-a"})
	require.NoError(t, err)
	assert.Empty(t, left, "erased events leave the subject index")
	evs := b.claim(t, "w", 10, time.Minute)
	assert.Equal(t, []string{other.ID}, ids(evs), "the cancelled event is not claimed")

	// Erasing again (a resumed job) and erasing a vanished event are harmless.
	pd.UpdatedAt = b.get(t, done.ID).UpdatedAt
	gone := pd
	gone.ID = newID()
	skipped, err = ss.EraseEvents(b.ctx, store.EraseBatch{Events: []store.EraseParams{pd, gone}})
	require.NoError(t, err)
	assert.Empty(t, skipped)
	skipped, err = ss.EraseEvents(b.ctx, store.EraseBatch{})
	require.NoError(t, err)
	assert.Empty(t, skipped)
}

func testSubjectEraseFenced(t *testing.T, b *bundle) {
	ss := b.subjects(t)
	sv := b.service(t, "crm")
	e := newEvent(sv)
	e.SubjectKey, e.ChairmanOverride = "key-a", true
	inflight := b.insert(t, e)
	stale := b.subjectEvent(t, sv, "key-a", "a@example.com")
	c := b.claimOne(t, "w", inflight)
	staleRead := stale.Clone()
	b.clock.Advance(time.Second)
	_, err := b.st.CancelEvent(b.ctx, stale.ID) // changed after the eraser read it
	require.NoError(t, err)
	fresh := b.subjectEvent(t, sv, "key-a", "a@example.com")

	skipped, err := ss.EraseEvents(b.ctx, store.EraseBatch{Events: []store.EraseParams{erased(c), erased(staleRead), erased(fresh)}})
	require.NoError(t, err)
	assert.Equal(t, []string{c.ID, stale.ID}, skipped, "in flight, and changed since read")
	assert.Equal(t, "key-a", b.get(t, c.ID).SubjectKey)
	assert.Equal(t, store.StatusProcessing, b.get(t, c.ID).Status)
	assert.Equal(t, "key-a", b.get(t, stale.ID).SubjectKey)
	assert.Empty(t, b.get(t, fresh.ID).SubjectKey)

	// Once delivered, the in-flight event can be erased.
	b.complete(t, c.ID, "w", 3)
	skipped, err = ss.EraseEvents(b.ctx, store.EraseBatch{Events: []store.EraseParams{erased(b.get(t, c.ID)), erased(b.get(t, stale.ID))}})
	require.NoError(t, err)
	assert.Empty(t, skipped)
	left, err := ss.ListSubjectEvents(b.ctx, store.SubjectEventsParams{SubjectKey: "key-a"})
	require.NoError(t, err)
	assert.Empty(t, left)
}

func testSubjectEraseInvalid(t *testing.T, b *bundle) {
	ss := b.subjects(t)
	sv := b.service(t, "crm")
	ev := b.subjectEvent(t, sv, "key-a", "a@example.com")
	good := erased(ev)
	for name, mut := range map[string]func(p *store.EraseParams){
		"bad id":       func(p *store.EraseParams) { p.ID = "x" },
		"zero fence":   func(p *store.EraseParams) { p.UpdatedAt = time.Time{} },
		"bad payload":  func(p *store.EraseParams) { p.PayloadIn = json.RawMessage(`{`) },
		"bad output":   func(p *store.EraseParams) { p.PayloadOut = json.RawMessage(`nope`) },
		"bad mapping":  func(p *store.EraseParams) { p.CanonicalMapping = json.RawMessage(`[`) },
		"bad details":  func(p *store.EraseParams) { p.ErrorDetails = json.RawMessage(`}`) },
		"second wrong": nil,
	} {
		bad := good
		if mut != nil {
			mut(&bad)
			_, err := ss.EraseEvents(b.ctx, store.EraseBatch{Events: []store.EraseParams{bad}})
			assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
			continue
		}
		bad.ID = "y"
		_, err := ss.EraseEvents(b.ctx, store.EraseBatch{Events: []store.EraseParams{good, bad}})
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	assertEventEqual(t, ev, b.get(t, ev.ID), "nothing erased by a refused batch")
}

// testSubjectEraseCounted erases batches on behalf of a request: the request's records grow
// by the events changed, in the same transaction, and only its holder may do it.
func testSubjectEraseCounted(t *testing.T, b *bundle) {
	ss := b.subjects(t)
	sv := b.service(t, "crm")
	req, err := ss.CreateSubjectRequest(b.ctx, &store.SubjectRequest{Kind: store.RequestErasure, SubjectKey: "key-a",
		Status: store.RequestRunning, Actor: "dpo", Owner: "hub-1", LeaseUntil: ptr(b.now().Add(time.Minute))})
	require.NoError(t, err)
	e1, e2 := b.subjectEvent(t, sv, "key-a", "a@example.com"), b.subjectEvent(t, sv, "key-a", "a@example.com")
	stale := erased(e2)
	stale.UpdatedAt = stale.UpdatedAt.Add(-time.Second)
	b.clock.Advance(time.Second)
	lease := b.now().Add(time.Minute)
	skipped, err := ss.EraseEvents(b.ctx, store.EraseBatch{RequestID: req.ID, Owner: "hub-1", LeaseUntil: lease,
		Events: []store.EraseParams{erased(e1), stale}})
	require.NoError(t, err)
	assert.Equal(t, []string{e2.ID}, skipped)
	got, err := ss.GetSubjectRequest(b.ctx, req.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(1), got.Records, "only the event changed counts")
	assert.Equal(t, lease, *got.LeaseUntil, "the lease is renewed")
	assert.Equal(t, b.now(), got.UpdatedAt)

	_, err = ss.EraseEvents(b.ctx, store.EraseBatch{RequestID: req.ID, Owner: "hub-2", LeaseUntil: lease,
		Events: []store.EraseParams{erased(e2)}})
	require.ErrorIs(t, err, store.ErrLeaseLost)
	assert.Equal(t, "key-a", b.get(t, e2.ID).SubjectKey, "a batch of a lost lease erases nothing")
	_, err = ss.EraseEvents(b.ctx, store.EraseBatch{RequestID: newID(), Owner: "hub-1", LeaseUntil: lease,
		Events: []store.EraseParams{erased(e2)}})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = ss.EraseEvents(b.ctx, store.EraseBatch{RequestID: req.ID, Events: []store.EraseParams{erased(e2)}})
	require.ErrorIs(t, err, store.ErrInvalidArgument, "a request batch needs its owner and lease")
	skipped, err = ss.EraseEvents(b.ctx, store.EraseBatch{RequestID: req.ID, Owner: "hub-1", LeaseUntil: lease,
		Events: []store.EraseParams{erased(e2), erased(e2)}})
	require.NoError(t, err)
	assert.Empty(t, skipped)
	got, err = ss.GetSubjectRequest(b.ctx, req.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Records, "an event given twice counts once")
}

// testPurge erases and purges on an idle store: Purge succeeds, may run again, and leaves
// the live rows as they are.
func testPurge(t *testing.T, b *bundle) {
	ss := b.subjects(t)
	pg, ok := b.st.(store.Purger)
	if !ok {
		t.Skip("the store does not implement store.Purger (optional: it keeps no copies of changed rows)")
	}
	sv := b.service(t, "crm")
	ev := b.subjectEvent(t, sv, "key-a", "a@example.com")
	other := b.subjectEvent(t, sv, "key-b", "b@example.com")
	skipped, err := ss.EraseEvents(b.ctx, store.EraseBatch{Events: []store.EraseParams{erased(ev)}})
	require.NoError(t, err)
	require.Empty(t, skipped)
	require.NoError(t, pg.Purge(b.ctx))
	require.NoError(t, pg.Purge(b.ctx), "purging again is harmless")
	assert.JSONEq(t, `{"email":"[erased]","n":1}`, string(b.get(t, ev.ID).PayloadIn))
	assertEventEqual(t, other, b.get(t, other.ID))
}

func testSubjectRequests(t *testing.T, b *bundle) {
	ss := b.subjects(t)
	in := &store.SubjectRequest{Kind: store.RequestErasure, SubjectKey: "key-a", Status: store.RequestRunning,
		Actor: "dpo", Owner: "hub-1", LeaseUntil: ptr(b.now().Add(time.Minute))}
	got, err := ss.CreateSubjectRequest(b.ctx, in)
	require.NoError(t, err)
	require.NotEmpty(t, got.ID)
	want := in.Clone()
	want.ID, want.RequestedAt, want.UpdatedAt = got.ID, b.now(), b.now()
	assert.Equal(t, want, got)
	read, err := ss.GetSubjectRequest(b.ctx, got.ID)
	require.NoError(t, err)
	assert.Equal(t, want, read)

	b.clock.Advance(time.Second)
	up := read.Clone()
	up.Records, up.Status, up.SubjectKey = 42, store.RequestCompleted, ""
	up.CompletedAt, up.LeaseUntil = ptr(b.now()), ptr(b.now()) // the holder (hub-1) finishes
	done, err := ss.UpdateSubjectRequest(b.ctx, up)
	require.NoError(t, err)
	want = up.Clone()
	want.UpdatedAt = b.now()
	assert.Equal(t, want, done)
	read, err = ss.GetSubjectRequest(b.ctx, got.ID)
	require.NoError(t, err)
	assert.Equal(t, want, read)

	access, err := ss.CreateSubjectRequest(b.ctx, &store.SubjectRequest{Kind: store.RequestAccess,
		Status: store.RequestCompleted, Actor: "dpo", Records: 3, CompletedAt: ptr(b.now())})
	require.NoError(t, err)
	b.clock.Advance(time.Hour)
	later, err := ss.CreateSubjectRequest(b.ctx, &store.SubjectRequest{Kind: store.RequestErasure,
		Status: store.RequestFailed, Actor: "ops", Error: "store closed"})
	require.NoError(t, err)
	list := func(f store.SubjectRequestFilter) []string {
		rs, err := ss.ListSubjectRequests(b.ctx, f)
		require.NoError(t, err)
		out := []string{}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	assert.Equal(t, []string{got.ID, access.ID, later.ID}, list(store.SubjectRequestFilter{}))
	assert.Equal(t, []string{access.ID}, list(store.SubjectRequestFilter{Kind: store.RequestAccess}))
	assert.Equal(t, []string{later.ID}, list(store.SubjectRequestFilter{Status: store.RequestFailed}))
	assert.Equal(t, []string{got.ID, access.ID}, list(store.SubjectRequestFilter{To: b.now()}))
	assert.Equal(t, []string{later.ID}, list(store.SubjectRequestFilter{From: b.now()}))
	assert.Equal(t, []string{access.ID}, list(store.SubjectRequestFilter{Page: store.Page{Limit: 1, Offset: 1}}))

	_, err = ss.GetSubjectRequest(b.ctx, newID())
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = ss.CreateSubjectRequest(b.ctx, &store.SubjectRequest{ID: got.ID, Kind: store.RequestAccess,
		Status: store.RequestRunning, Actor: "x"})
	require.ErrorIs(t, err, store.ErrConflict)
	for name, r := range map[string]*store.SubjectRequest{
		"kind":       {Kind: "forget", Status: store.RequestRunning, Actor: "x"},
		"status":     {Kind: store.RequestAccess, Status: "maybe", Actor: "x"},
		"actor":      {Kind: store.RequestAccess, Status: store.RequestRunning},
		"records":    {Kind: store.RequestAccess, Status: store.RequestRunning, Actor: "x", Records: -1},
		"half lease": {Kind: store.RequestAccess, Status: store.RequestRunning, Actor: "x", Owner: "h"},
		"id":         {ID: "x", Kind: store.RequestAccess, Status: store.RequestRunning, Actor: "x"},
	} {
		_, err := ss.CreateSubjectRequest(b.ctx, r)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
}

func testSubjectRequestLeases(t *testing.T, b *bundle) {
	ss := b.subjects(t)
	_, err := ss.ClaimSubjectRequest(b.ctx, "hub-2", time.Minute)
	require.ErrorIs(t, err, store.ErrNotFound, "nothing to claim")
	held, err := ss.CreateSubjectRequest(b.ctx, &store.SubjectRequest{Kind: store.RequestErasure, SubjectKey: "k1",
		Status: store.RequestRunning, Actor: "dpo", Owner: "hub-1", LeaseUntil: ptr(b.now().Add(time.Minute))})
	require.NoError(t, err)
	b.clock.Advance(time.Second)
	free, err := ss.CreateSubjectRequest(b.ctx, &store.SubjectRequest{Kind: store.RequestErasure, SubjectKey: "k2",
		Status: store.RequestRunning, Actor: "dpo"})
	require.NoError(t, err)
	_, err = ss.CreateSubjectRequest(b.ctx, &store.SubjectRequest{Kind: store.RequestAccess, Status: store.RequestRunning, Actor: "dpo"})
	require.NoError(t, err) // access requests are never claimed
	_, err = ss.CreateSubjectRequest(b.ctx, &store.SubjectRequest{Kind: store.RequestErasure, Status: store.RequestCompleted, Actor: "dpo"})
	require.NoError(t, err) // nor finished ones

	got, err := ss.ClaimSubjectRequest(b.ctx, "hub-2", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, free.ID, got.ID, "the lease of the first one holds")
	assert.Equal(t, "hub-2", got.Owner)
	assert.Equal(t, b.now().Add(time.Minute), *got.LeaseUntil)
	_, err = ss.ClaimSubjectRequest(b.ctx, "hub-2", time.Minute)
	require.ErrorIs(t, err, store.ErrNotFound)

	// Only the holder updates; a lost lease is ErrLeaseLost and changes nothing.
	up := held.Clone()
	up.Owner, up.Records = "hub-2", 5
	_, err = ss.UpdateSubjectRequest(b.ctx, up)
	require.ErrorIs(t, err, store.ErrLeaseLost)
	missing := up.Clone()
	missing.ID = newID()
	_, err = ss.UpdateSubjectRequest(b.ctx, missing)
	require.ErrorIs(t, err, store.ErrNotFound)
	read, err := ss.GetSubjectRequest(b.ctx, held.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(0), read.Records)

	// When the first lease runs out, another hub takes the request over.
	b.clock.Advance(2 * time.Minute)
	got, err = ss.ClaimSubjectRequest(b.ctx, "hub-3", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, held.ID, got.ID, "oldest first")
	up = got.Clone()
	up.Records = 9
	stored, err := ss.UpdateSubjectRequest(b.ctx, up)
	require.NoError(t, err)
	assert.Equal(t, int64(9), stored.Records)
	old := held.Clone()
	_, err = ss.UpdateSubjectRequest(b.ctx, old)
	require.ErrorIs(t, err, store.ErrLeaseLost, "hub-1 lost it")
	for name, f := range map[string]func() error{
		"no owner":   func() error { _, err := ss.ClaimSubjectRequest(b.ctx, "", time.Minute); return err },
		"zero lease": func() error { _, err := ss.ClaimSubjectRequest(b.ctx, "h", 0); return err },
		"bad id": func() error {
			_, err := ss.GetSubjectRequest(b.ctx, "x")
			return err
		},
	} {
		assert.ErrorIs(t, f(), store.ErrInvalidArgument, name)
	}
}

func testSubjectRequestConcurrentClaims(t *testing.T, b *bundle) {
	ss := b.subjects(t)
	const n = 5
	for range n {
		_, err := ss.CreateSubjectRequest(b.ctx, &store.SubjectRequest{Kind: store.RequestErasure, SubjectKey: "k",
			Status: store.RequestRunning, Actor: "dpo"})
		require.NoError(t, err)
	}
	var (
		mu  sync.Mutex
		got = map[string]string{}
		wg  sync.WaitGroup
	)
	for w := range 8 {
		owner := "hub-" + string(rune('a'+w))
		wg.Go(func() {
			for {
				var r *store.SubjectRequest
				err := retryBusy(func() error {
					var err error
					r, err = ss.ClaimSubjectRequest(b.ctx, owner, time.Minute)
					return err
				})
				if err != nil {
					assert.ErrorIs(t, err, store.ErrNotFound)
					return
				}
				mu.Lock()
				prev, dup := got[r.ID]
				got[r.ID] = owner
				mu.Unlock()
				assert.False(t, dup, "request %s claimed by %s and %s", r.ID, prev, owner)
			}
		})
	}
	wg.Wait()
	assert.Len(t, got, n)
}
