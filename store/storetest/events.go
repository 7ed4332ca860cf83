package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func eventCases() []testCase {
	return []testCase{
		{"InsertDefaults", testEventInsertDefaults},
		{"InsertKeepsFields", testEventInsertKeepsFields},
		{"InsertOnlyPending", testEventInsertOnlyPending},
		{"InsertInvalid", testEventInsertInvalid},
		{"IdempotentInsert", testEventIdempotent},
		{"IdempotentBatch", testEventIdempotentBatch},
		{"BatchAllOrNothing", testEventBatchAtomic},
		{"GetMissing", testEventGetMissing},
		{"ListFiltersAndPages", testEventList},
		{"Cancel", testEventCancel},
		{"Requeue", testEventRequeue},
		{"RequeueMany", testEventRequeueMany},
		{"CopyInCopyOut", testEventCopies},
		{"DefaultAndMaxPageLimit", testEventPageLimits},
		{"ConcurrentIdempotentInsert", testConcurrentIdempotentInsert},
	}
}

func testEventInsertDefaults(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	in := newEvent(sv)
	in.LeaseOwner = "someone"          // cleared
	in.LeaseUntil = ptr(at(time.Hour)) // cleared
	got, created, err := b.st.InsertEvent(b.ctx, in)
	require.NoError(t, err)
	require.True(t, created)
	require.NotEmpty(t, got.ID)
	want := &store.Event{
		ID: got.ID, ServiceID: sv.ID, ServiceName: "github", PayloadIn: in.PayloadIn,
		RequestMethod: store.MethodPost, Status: store.StatusPending, MaxRetries: 3,
		PriorityLevel: store.PriorityNormal, CreatedAt: b.now(), UpdatedAt: b.now(),
		NextAttemptAt: b.now(),
	}
	assertEventEqual(t, want, got)
	assertEventEqual(t, want, b.get(t, got.ID))

	other := b.insert(t, newEvent(sv))
	assert.NotEqual(t, got.ID, other.ID, "ids are unique")
}

func testEventInsertKeepsFields(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	in := &store.Event{
		ID:                    newID(),
		VentureID:             newID(),
		ServiceID:             sv.ID,
		ServiceName:           sv.Name,
		ServiceType:           "development",
		Operation:             "create_issue",
		EndpointURL:           "https://api.github.com/repos/ehg/hub/issues",
		RequestMethod:         store.MethodPatch,
		PayloadIn:             json.RawMessage(`{"title":"bug","labels":["a","b"],"n":12.5}`),
		TransformationApplied: json.RawMessage(`{"rule":"gh-issue","version":3}`),
		CanonicalMapping:      json.RawMessage(`{"kind":"work_item"}`),
		Status:                store.StatusPending,
		MaxRetries:            7,
		PriorityLevel:         store.PriorityCritical,
		ChairmanOverride:      true,
		ExpiresAt:             ptr(start.Add(2 * time.Hour)),
		IdempotencyKey:        "delivery-42",
		NextAttemptAt:         start.Add(90 * time.Second),
		SubjectKey:            "4c2f0d5b9a1e7c3f",
	}
	got := b.insert(t, in)
	want := in.Clone()
	want.CreatedAt, want.UpdatedAt = b.now(), b.now()
	want.ExpiresAt = ptr(at(2 * time.Hour))
	want.NextAttemptAt = at(90 * time.Second)
	assertEventEqual(t, want, got)
	assertEventEqual(t, want, b.get(t, in.ID))
	byKey, err := b.st.GetEventByIdempotencyKey(b.ctx, sv.ID, "delivery-42")
	require.NoError(t, err)
	assertEventEqual(t, want, byKey)
}

func testEventInsertOnlyPending(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	for _, st := range store.EventStatuses() {
		ev := newEvent(sv)
		ev.Status = st
		got, created, err := b.st.InsertEvent(b.ctx, ev)
		if st == store.StatusPending {
			require.NoError(t, err)
			assert.True(t, created)
			assert.Equal(t, store.StatusPending, got.Status)
			continue
		}
		assert.ErrorIs(t, err, store.ErrInvalidArgument, "status %s", st)
	}
	n, err := b.st.CountEventsByStatus(b.ctx, store.EventFilter{})
	require.NoError(t, err)
	assert.Equal(t, map[store.EventStatus]int64{store.StatusPending: 1}, n)
}

func testEventInsertInvalid(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	cases := map[string]func(e *store.Event){
		"bad id":           func(e *store.Event) { e.ID = "x" },
		"bad venture":      func(e *store.Event) { e.VentureID = "venture-1" },
		"no service id":    func(e *store.Event) { e.ServiceID = "" },
		"bad service id":   func(e *store.Event) { e.ServiceID = "github" },
		"no service name":  func(e *store.Event) { e.ServiceName = "" },
		"bad method":       func(e *store.Event) { e.RequestMethod = "FETCH" },
		"bad priority":     func(e *store.Event) { e.PriorityLevel = "urgent" },
		"bad status":       func(e *store.Event) { e.Status = "done" },
		"negative max":     func(e *store.Event) { e.MaxRetries = -1 },
		"negative retries": func(e *store.Event) { e.RetryCount = -1 },
		"bad payload":      func(e *store.Event) { e.PayloadIn = json.RawMessage(`{`) },
		"bad mapping":      func(e *store.Event) { e.CanonicalMapping = json.RawMessage(`[1,`) },
	}
	for name, mutate := range cases {
		ev := newEvent(sv)
		mutate(ev)
		_, _, err := b.st.InsertEvent(b.ctx, ev)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	_, _, err := b.st.InsertEvent(b.ctx, nil)
	assert.ErrorIs(t, err, store.ErrInvalidArgument, "nil event")
	list, err := b.st.ListEvents(b.ctx, store.EventFilter{})
	require.NoError(t, err)
	assert.Empty(t, list)
}

func testEventIdempotent(t *testing.T, b *bundle) {
	gh := b.service(t, "github")
	sl := b.service(t, "slack")
	in := newEvent(gh)
	in.IdempotencyKey = "k1"
	first := b.insert(t, in)

	b.clock.Advance(time.Minute)
	again := newEvent(gh)
	again.IdempotencyKey = "k1"
	again.PayloadIn = json.RawMessage(`{"i":2}`)
	again.PriorityLevel = store.PriorityCritical
	got, created, err := b.st.InsertEvent(b.ctx, again)
	require.NoError(t, err)
	assert.False(t, created)
	assertEventEqual(t, first, got, "the existing event, unchanged")
	assertEventEqual(t, first, b.get(t, first.ID))

	// Keys are per service, and an empty key never deduplicates.
	other := newEvent(sl)
	other.IdempotencyKey = "k1"
	o := b.insert(t, other)
	assert.NotEqual(t, first.ID, o.ID)
	b.insert(t, newEvent(gh))
	b.insert(t, newEvent(gh))

	byKey, err := b.st.GetEventByIdempotencyKey(b.ctx, sl.ID, "k1")
	require.NoError(t, err)
	assert.Equal(t, o.ID, byKey.ID)
	_, err = b.st.GetEventByIdempotencyKey(b.ctx, gh.ID, "k2")
	assert.ErrorIs(t, err, store.ErrNotFound)

	// The key holds whatever the event's status.
	ev := b.claimOne(t, "w", first)
	b.complete(t, ev.ID, "w", 10)
	_, created, err = b.st.InsertEvent(b.ctx, again)
	require.NoError(t, err)
	assert.False(t, created)
	n, err := b.st.CountEventsByStatus(b.ctx, store.EventFilter{})
	require.NoError(t, err)
	assert.Equal(t, map[store.EventStatus]int64{store.StatusSucceeded: 1, store.StatusPending: 3}, n)
}

func testEventIdempotentBatch(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	existing := newEvent(sv)
	existing.IdempotencyKey = "old"
	old := b.insert(t, existing)
	b.clock.Advance(time.Second)

	mk := func(key, payload string) *store.Event {
		e := newEvent(sv)
		e.IdempotencyKey = key
		e.PayloadIn = json.RawMessage(payload)
		return e
	}
	batch := []*store.Event{
		mk("a", `{"i":1}`),
		mk("old", `{"i":2}`),
		mk("a", `{"i":3}`), // duplicate within the batch: resolves to the first
		mk("", `{"i":4}`),
		mk("b", `{"i":5}`),
		mk("", `{"i":6}`),
	}
	res, err := b.st.InsertEvents(b.ctx, batch)
	require.NoError(t, err)
	require.Len(t, res, len(batch))
	created := []bool{}
	for _, r := range res {
		created = append(created, r.Created)
	}
	assert.Equal(t, []bool{true, false, false, true, true, true}, created)
	assertEventEqual(t, old, res[1].Event)
	assert.Equal(t, res[0].Event.ID, res[2].Event.ID)
	assert.JSONEq(t, `{"i":1}`, string(res[2].Event.PayloadIn), "the first of the batch wins")
	for _, i := range []int{0, 3, 4, 5} {
		assert.JSONEq(t, string(batch[i].PayloadIn), string(res[i].Event.PayloadIn), "result %d in input order", i)
		assert.Equal(t, b.now(), res[i].Event.CreatedAt)
		assertEventEqual(t, res[i].Event, b.get(t, res[i].Event.ID))
	}
	list, err := b.st.ListEvents(b.ctx, store.EventFilter{})
	require.NoError(t, err)
	assert.Len(t, list, 5)

	// Results share no memory: not with each other (the duplicate's event is a copy), nor
	// with the store.
	res[0].Event.PayloadIn[2] = 'X'
	res[0].Event.Status = store.StatusDead
	assert.JSONEq(t, `{"i":1}`, string(res[2].Event.PayloadIn))
	assert.Equal(t, store.StatusPending, res[2].Event.Status)
	assert.JSONEq(t, `{"i":1}`, string(b.get(t, res[0].Event.ID).PayloadIn))

	// Re-running the whole batch creates nothing.
	res2, err := b.st.InsertEvents(b.ctx, batch[:3])
	require.NoError(t, err)
	for i, r := range res2 {
		assert.False(t, r.Created, i)
		assert.Equal(t, res[i].Event.ID, r.Event.ID, i)
	}
	res3, err := b.st.InsertEvents(b.ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, res3)
}

func testEventBatchAtomic(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	good := newEvent(sv)
	good.IdempotencyKey = "good"
	bad := newEvent(sv)
	bad.PriorityLevel = "urgent"
	_, err := b.st.InsertEvents(b.ctx, []*store.Event{good, newEvent(sv), bad})
	require.ErrorIs(t, err, store.ErrInvalidArgument)
	_, err = b.st.InsertEvents(b.ctx, []*store.Event{good, nil})
	require.ErrorIs(t, err, store.ErrInvalidArgument)

	// An explicit id that exists is a conflict, and the batch stores nothing.
	first := b.insert(t, newEvent(sv))
	clash := newEvent(sv)
	clash.ID = first.ID
	_, err = b.st.InsertEvents(b.ctx, []*store.Event{good, clash})
	require.ErrorIs(t, err, store.ErrConflict)
	twin := newEvent(sv)
	twin.ID = newID()
	twin2 := newEvent(sv)
	twin2.ID = twin.ID
	_, err = b.st.InsertEvents(b.ctx, []*store.Event{twin, twin2})
	require.ErrorIs(t, err, store.ErrConflict)

	list, err := b.st.ListEvents(b.ctx, store.EventFilter{})
	require.NoError(t, err)
	assert.Equal(t, []string{first.ID}, ids(list), "no failed batch stored anything")
	_, err = b.st.GetEventByIdempotencyKey(b.ctx, sv.ID, "good")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testEventGetMissing(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	b.insert(t, newEvent(sv))
	_, err := b.st.GetEvent(b.ctx, newID())
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = b.st.GetEvent(b.ctx, "42")
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
	_, err = b.st.GetEventByIdempotencyKey(b.ctx, newID(), "k")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testEventList(t *testing.T, b *bundle) {
	gh := b.service(t, "github")
	sl := b.service(t, "slack")
	// Created at start+0 (two, ordered by id), +1m, +2m, +3m.
	e0b := newEvent(gh)
	e0b.ID = fixedID(2)
	e0a := newEvent(sl)
	e0a.ID = fixedID(1)
	r, err := b.st.InsertEvents(b.ctx, []*store.Event{e0b, e0a})
	require.NoError(t, err)
	b.clock.Advance(time.Minute)
	e1 := b.insert(t, newEvent(gh))
	b.clock.Advance(time.Minute)
	e2 := b.insert(t, newEvent(sl))
	b.clock.Advance(time.Minute)
	e3 := b.insert(t, newEvent(gh))
	require.Equal(t, fixedID(2), r[0].Event.ID)

	// Move e0a (claimed first: same time, lower id) to processing, then succeeded.
	ev := b.claimOne(t, "w", r[1].Event)
	b.complete(t, ev.ID, "w", 5)
	_, err = b.st.CancelEvent(b.ctx, e2.ID)
	require.NoError(t, err)

	list := func(f store.EventFilter) []string {
		t.Helper()
		evs, err := b.st.ListEvents(b.ctx, f)
		require.NoError(t, err)
		return ids(evs)
	}
	all := []string{fixedID(1), fixedID(2), e1.ID, e2.ID, e3.ID}
	assert.Equal(t, all, list(store.EventFilter{}))
	assert.Equal(t, []string{fixedID(2), e1.ID, e3.ID}, list(store.EventFilter{ServiceID: gh.ID}))
	assert.Equal(t, []string{fixedID(2), e1.ID, e3.ID}, list(store.EventFilter{Statuses: []store.EventStatus{store.StatusPending}}))
	assert.Equal(t, []string{fixedID(1), e2.ID},
		list(store.EventFilter{Statuses: []store.EventStatus{store.StatusSucceeded, store.StatusCancelled}}))
	assert.Equal(t, []string{e1.ID, e2.ID}, list(store.EventFilter{CreatedFrom: start.Add(time.Minute), CreatedTo: start.Add(3 * time.Minute)}))
	assert.Equal(t, []string{e3.ID}, list(store.EventFilter{CreatedFrom: start.Add(150 * time.Second)}))
	assert.Equal(t, []string{fixedID(1), fixedID(2)}, list(store.EventFilter{CreatedTo: start.Add(time.Second)}))
	assert.Equal(t, []string{e2.ID}, list(store.EventFilter{ServiceID: sl.ID, CreatedFrom: start.Add(time.Second)}))
	assert.Equal(t, all[:2], list(store.EventFilter{Page: store.Page{Limit: 2}}))
	assert.Equal(t, all[2:4], list(store.EventFilter{Page: store.Page{Limit: 2, Offset: 2}}))
	assert.Equal(t, all[4:], list(store.EventFilter{Page: store.Page{Limit: 2, Offset: 4}}))
	assert.Empty(t, list(store.EventFilter{ServiceID: newID()}))

	for name, f := range map[string]store.EventFilter{
		"bad status":   {Statuses: []store.EventStatus{"done"}},
		"bad service":  {ServiceID: "github"},
		"negative pag": {Page: store.Page{Limit: -5}},
	} {
		_, err := b.st.ListEvents(b.ctx, f)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
}

func testEventCancel(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	pending := b.insert(t, newEvent(sv))
	b.clock.Advance(time.Second)
	got, err := b.st.CancelEvent(b.ctx, pending.ID)
	require.NoError(t, err)
	assert.Equal(t, store.StatusCancelled, got.Status)
	assert.Equal(t, b.now(), got.UpdatedAt)
	assertEventEqual(t, got, b.get(t, pending.ID))

	_, err = b.st.CancelEvent(b.ctx, pending.ID)
	requireTransitionError(t, err, pending.ID, store.StatusCancelled, store.StatusCancelled)
	_, err = b.st.CancelEvent(b.ctx, newID())
	assert.ErrorIs(t, err, store.ErrNotFound)

	// A cancelled event is never claimed.
	assert.Empty(t, b.claim(t, "w", 10, time.Minute))
}

func testEventRequeue(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	a := b.insert(t, newEvent(sv))
	ca := b.claimOne(t, "w", a)
	b.fail(t, store.FailParams{ID: ca.ID, Owner: "w", Status: store.StatusFailed, ResponseCode: 422})
	c := b.insert(t, newEvent(sv))
	cc := b.claimOne(t, "w", c)
	b.fail(t, store.FailParams{ID: cc.ID, Owner: "w", Status: store.StatusDead})

	b.clock.Advance(time.Hour)
	got, err := b.st.RequeueEvent(b.ctx, a.ID, false)
	require.NoError(t, err)
	assert.Equal(t, store.StatusPending, got.Status)
	assert.Equal(t, 1, got.RetryCount, "kept")
	assert.Nil(t, got.CompletedAt)
	assert.Equal(t, b.now(), got.NextAttemptAt)
	assert.Equal(t, b.now(), got.UpdatedAt)
	assert.Empty(t, got.LeaseOwner)
	assert.Nil(t, got.LeaseUntil)
	assertEventEqual(t, got, b.get(t, a.ID))

	got, err = b.st.RequeueEvent(b.ctx, c.ID, true)
	require.NoError(t, err)
	assert.Equal(t, store.StatusPending, got.Status)
	assert.Equal(t, 0, got.RetryCount, "reset")

	// Both are claimable again.
	assert.ElementsMatch(t, []string{a.ID, c.ID}, ids(b.claim(t, "w2", 10, time.Minute)))

	for _, id := range []string{a.ID, b.insert(t, newEvent(sv)).ID} {
		from := b.get(t, id).Status
		_, err = b.st.RequeueEvent(b.ctx, id, true)
		requireTransitionError(t, err, id, from, store.StatusPending)
	}
	_, err = b.st.RequeueEvent(b.ctx, newID(), true)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testEventRequeueMany(t *testing.T, b *bundle) {
	gh := b.service(t, "github")
	sl := b.service(t, "slack")
	// One failed and one dead per service, created at +0 (github) and +1h (slack).
	settle := func(sv *store.Service, st store.EventStatus) *store.Event {
		e := b.insert(t, newEvent(sv))
		c := b.claimOne(t, "w", e)
		b.fail(t, store.FailParams{ID: c.ID, Owner: "w", Status: st})
		return e
	}
	ghFailed, ghDead := settle(gh, store.StatusFailed), settle(gh, store.StatusDead)
	b.clock.Advance(time.Hour)
	slFailed, slDead := settle(sl, store.StatusFailed), settle(sl, store.StatusDead)
	pending := b.insert(t, newEvent(gh))

	_, err := b.st.RequeueEvents(b.ctx, store.RequeueFilter{Statuses: []store.EventStatus{store.StatusSucceeded}})
	require.ErrorIs(t, err, store.ErrInvalidArgument)

	n, err := b.st.RequeueEvents(b.ctx, store.RequeueFilter{ServiceID: gh.ID, Statuses: []store.EventStatus{store.StatusDead}})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	got := b.get(t, ghDead.ID)
	assert.Equal(t, store.StatusPending, got.Status)
	assert.Equal(t, 0, got.RetryCount)
	assert.Equal(t, store.StatusFailed, b.get(t, ghFailed.ID).Status)

	n, err = b.st.RequeueEvents(b.ctx, store.RequeueFilter{Since: start.Add(time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, store.StatusPending, b.get(t, slFailed.ID).Status)
	assert.Equal(t, store.StatusPending, b.get(t, slDead.ID).Status)
	assert.Equal(t, store.StatusFailed, b.get(t, ghFailed.ID).Status)

	n, err = b.st.RequeueEvents(b.ctx, store.RequeueFilter{})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, store.StatusPending, b.get(t, ghFailed.ID).Status)
	assert.Equal(t, store.StatusPending, b.get(t, pending.ID).Status)
	n, err = b.st.RequeueEvents(b.ctx, store.RequeueFilter{})
	require.NoError(t, err)
	assert.Equal(t, 0, n)
}

func testEventCopies(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	in := newEvent(sv)
	in.PayloadIn = json.RawMessage(`{"abc":1}`)
	in.ExpiresAt = ptr(start.Add(time.Hour))
	got := b.insert(t, in)
	want := normEvent(t, got)

	in.PayloadIn[2] = 'X'
	*in.ExpiresAt = start.Add(time.Minute)
	got.PayloadIn[2] = 'Y'
	*got.ExpiresAt = start.Add(time.Minute)
	got.Status = store.StatusDead
	assert.Equal(t, want, normEvent(t, b.get(t, want.ID)))

	claimed := b.claim(t, "w", 1, time.Minute)
	require.Len(t, claimed, 1)
	*claimed[0].LeaseUntil = start.Add(time.Hour)
	claimed[0].LeaseOwner = "thief"
	stored := b.get(t, want.ID)
	assert.Equal(t, at(time.Minute), *stored.LeaseUntil)
	assert.Equal(t, "w", stored.LeaseOwner)

	out := json.RawMessage(`{"ok":true}`)
	lost, err := b.st.CompleteEvents(b.ctx, []store.CompleteParams{{ID: want.ID, Owner: "w", PayloadOut: out}})
	require.NoError(t, err)
	require.Empty(t, lost)
	out[2] = 'X'
	assert.JSONEq(t, `{"ok":true}`, string(b.get(t, want.ID).PayloadOut))

	list, err := b.st.ListEvents(b.ctx, store.EventFilter{})
	require.NoError(t, err)
	list[0].PayloadOut[2] = 'Z'
	assert.JSONEq(t, `{"ok":true}`, string(b.get(t, want.ID).PayloadOut))
}

func testEventPageLimits(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	evs := make([]*store.Event, store.DefaultPageLimit+1)
	for i := range evs {
		evs[i] = newEvent(sv)
	}
	_, err := b.st.InsertEvents(b.ctx, evs)
	require.NoError(t, err)
	count := func(p store.Page) int {
		t.Helper()
		list, err := b.st.ListEvents(b.ctx, store.EventFilter{Page: p})
		require.NoError(t, err)
		return len(list)
	}
	assert.Equal(t, store.DefaultPageLimit, count(store.Page{}), "limit 0 means the default")
	assert.Equal(t, store.DefaultPageLimit+1, count(store.Page{Limit: store.MaxPageLimit + 1}), "above the maximum is reduced to it")
	assert.Equal(t, 1, count(store.Page{Offset: store.DefaultPageLimit}))
}
