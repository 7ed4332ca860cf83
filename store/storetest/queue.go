package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func queueCases(opts Options) []testCase {
	return []testCase{
		{"ClaimOrder", testClaimOrder},
		{"ClaimOrderAcrossServices", testClaimOrderAcrossServices},
		{"ClaimSetsLease", testClaimSetsLease},
		{"ClaimLimit", testClaimLimit},
		{"ClaimInvalid", testClaimInvalid},
		{"NextAttemptAtHonoured", testNextAttemptAt},
		{"ExpiresAtHonoured", testExpiresAt},
		{"ExcludeServiceIDs", testExcludeServices},
		{"CompleteRecordsResponse", testComplete},
		{"CompleteMasked", testCompleteMasked},
		{"CompleteFencing", testCompleteFencing},
		{"CompleteAfterLeaseRanOut", testCompleteAfterLeaseRanOut},
		{"FailRetrying", testFailRetrying},
		{"FailTerminal", testFailTerminal},
		{"FailKeepRetryCount", testFailKeepRetryCount},
		{"FailInvalid", testFailInvalid},
		{"FailFencing", testFailFencing},
		{"CallRecorded", testCallRecorded},
		{"ExtendLease", testExtendLease},
		{"ReleaseExpiredLeases", testReleaseExpiredLeases},
		{"LeaseLostAfterRelease", testLeaseLostAfterRelease},
		{"ConcurrentClaimers", func(t *testing.T, b *bundle) { testConcurrentClaimers(t, b, opts) }},
		{"ConcurrentLeaseExpiry", func(t *testing.T, b *bundle) { testConcurrentLeaseExpiry(t, b, opts) }},
		{"Notifications", testNotifications},
	}
}

func testClaimOrder(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	type spec struct {
		name     string
		id       int
		offset   time.Duration
		priority store.Priority
		chairman bool
	}
	specs := []spec{
		{"normal-old-id2", 2, 0, store.PriorityNormal, false},
		{"low-old", 3, 0, store.PriorityLow, false},
		{"critical", 4, time.Second, store.PriorityCritical, false},
		{"high", 5, 2 * time.Second, store.PriorityHigh, false},
		{"chairman-normal", 6, 3 * time.Second, store.PriorityNormal, true},
		{"chairman-low", 7, 4 * time.Second, store.PriorityLow, true},
		{"normal-old-id1", 1, 0, store.PriorityNormal, false},
		{"normal-new", 8, 5 * time.Second, store.PriorityNormal, false},
		{"chairman-low-older", 9, 3 * time.Second, store.PriorityLow, true},
	}
	names := map[string]string{}
	for _, s := range specs {
		b.clock.Set(start.Add(s.offset))
		e := newEvent(sv)
		e.ID = fixedID(s.id)
		e.PriorityLevel = s.priority
		e.ChairmanOverride = s.chairman
		b.insert(t, e)
		names[e.ID] = s.name
	}
	b.clock.Set(start.Add(time.Minute))
	var got []string
	for _, n := range []int{3, 1, 10} {
		for _, e := range b.claim(t, "w", n, time.Minute) {
			got = append(got, names[e.ID])
		}
	}
	assert.Equal(t, []string{
		"chairman-normal", "chairman-low-older", "chairman-low", // override first, then priority, then age
		"critical", "high",
		"normal-old-id1", "normal-old-id2", "normal-new", // same created_at: lower id first
		"low-old",
	}, got)
}

func testClaimOrderAcrossServices(t *testing.T, b *bundle) {
	a := b.service(t, "a")
	c := b.service(t, "c")
	// Interleaved services, one second apart; the fifth is high priority. The claim order is
	// global, not per service: the high one, then the others oldest first.
	var evs []string
	for i, sv := range []*store.Service{c, a, c, a, a, c} {
		b.clock.Set(start.Add(time.Duration(i) * time.Second))
		e := newEvent(sv)
		if i == 4 {
			e.PriorityLevel = store.PriorityHigh
		}
		evs = append(evs, b.insert(t, e).ID)
	}
	want := []string{evs[4], evs[0], evs[1], evs[2], evs[3], evs[5]}
	b.clock.Set(start.Add(time.Minute))
	var got []string
	for range 3 {
		got = append(got, ids(b.claim(t, "w", 2, time.Minute))...)
	}
	assert.Equal(t, want, got)
}

func testClaimSetsLease(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	in := b.insert(t, newEvent(sv))
	b.clock.Advance(3 * time.Second)
	evs := b.claim(t, "worker-7", 5, 30*time.Second)
	require.Len(t, evs, 1)
	want := in.Clone()
	want.Status = store.StatusProcessing
	want.LeaseOwner = "worker-7"
	want.LeaseUntil = ptr(at(33 * time.Second))
	want.UpdatedAt = at(3 * time.Second)
	assertEventEqual(t, want, evs[0])
	assertEventEqual(t, want, b.get(t, in.ID))
	assert.Empty(t, b.claim(t, "worker-8", 5, time.Minute), "a leased event is not claimed again")
}

func testClaimLimit(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	assert.Empty(t, b.claim(t, "w", 10, time.Minute), "an empty queue")
	var all []string
	for range 7 {
		all = append(all, b.insert(t, newEvent(sv)).ID)
		b.clock.Advance(time.Millisecond)
	}
	assert.Equal(t, all[:3], ids(b.claim(t, "w", 3, time.Minute)))
	assert.Equal(t, all[3:], ids(b.claim(t, "w", 100, time.Minute)))
	assert.Empty(t, b.claim(t, "w", 1, time.Minute))
}

func testClaimInvalid(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	b.insert(t, newEvent(sv))
	for name, p := range map[string]store.ClaimParams{
		"no owner":       {Limit: 1, Lease: time.Minute},
		"zero limit":     {Owner: "w", Lease: time.Minute},
		"negative limit": {Owner: "w", Limit: -1, Lease: time.Minute},
		"zero lease":     {Owner: "w", Limit: 1},
		"negative lease": {Owner: "w", Limit: 1, Lease: -time.Second},
		"bad exclude":    {Owner: "w", Limit: 1, Lease: time.Minute, ExcludeServiceIDs: []string{"github"}},
	} {
		_, err := b.st.ClaimEvents(b.ctx, p)
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	assert.Len(t, b.claim(t, "w", 1, time.Minute), 1, "nothing was claimed by the invalid calls")
}

func testNextAttemptAt(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	later := newEvent(sv)
	later.NextAttemptAt = start.Add(10 * time.Second)
	later.PriorityLevel = store.PriorityCritical
	l := b.insert(t, later)
	now := b.insert(t, newEvent(sv))
	assert.Equal(t, []string{now.ID}, ids(b.claim(t, "w", 10, time.Minute)))
	b.clock.Set(start.Add(10*time.Second - time.Microsecond))
	assert.Empty(t, b.claim(t, "w", 10, time.Minute), "not due yet")
	b.clock.Set(start.Add(10 * time.Second))
	assert.Equal(t, []string{l.ID}, ids(b.claim(t, "w", 10, time.Minute)), "due at next_attempt_at")
}

func testExpiresAt(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	mk := func(exp time.Duration, p store.Priority) *store.Event {
		e := newEvent(sv)
		e.ExpiresAt = ptr(start.Add(exp))
		e.PriorityLevel = p
		return b.insert(t, e)
	}
	soon := mk(5*time.Second, store.PriorityCritical)
	later := mk(time.Hour, store.PriorityHigh)
	never := b.insert(t, newEvent(sv))
	retry := mk(5*time.Second, store.PriorityLow)
	c := b.claimOne(t, "w", soon)
	b.fail(t, store.FailParams{ID: c.ID, Owner: "w", Status: store.StatusRetrying, NextAttemptAt: start.Add(2 * time.Second)})

	b.clock.Set(start.Add(5 * time.Second)) // soon (retrying) and retry (pending) expire: expires_at <= now
	got := ids(b.claim(t, "w", 10, time.Minute))
	assert.Equal(t, []string{later.ID, never.ID}, got, "expired events are never claimed")

	n, err := b.st.ExpireEvents(b.ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	for _, id := range []string{soon.ID, retry.ID} {
		e := b.get(t, id)
		assert.Equal(t, store.StatusExpired, e.Status)
		require.NotNil(t, e.CompletedAt)
		assert.Equal(t, b.now(), *e.CompletedAt)
		assert.Equal(t, b.now(), e.UpdatedAt)
	}
	n, err = b.st.ExpireEvents(b.ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, n)
}

func testExcludeServices(t *testing.T, b *bundle) {
	gh := b.service(t, "github")
	sl := b.service(t, "slack")
	sf := b.service(t, "salesforce")
	g := newEvent(gh)
	g.PriorityLevel = store.PriorityCritical
	ge := b.insert(t, g)
	se := b.insert(t, newEvent(sl))
	fe := b.insert(t, newEvent(sf))
	evs, err := b.st.ClaimEvents(b.ctx, store.ClaimParams{Owner: "w", Limit: 10, Lease: time.Minute,
		ExcludeServiceIDs: []string{gh.ID, sf.ID}})
	require.NoError(t, err)
	assert.Equal(t, []string{se.ID}, ids(evs))
	assert.Equal(t, store.StatusPending, b.get(t, ge.ID).Status)
	evs, err = b.st.ClaimEvents(b.ctx, store.ClaimParams{Owner: "w", Limit: 10, Lease: time.Minute,
		ExcludeServiceIDs: []string{newID()}})
	require.NoError(t, err)
	assert.Equal(t, []string{ge.ID, fe.ID}, ids(evs))
}

func testComplete(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	e := newEvent(sv)
	e.IdempotencyKey = "k"
	in := b.insert(t, e)
	c := b.claimOne(t, "w", in)
	b.clock.Advance(1500 * time.Millisecond)
	lost, err := b.st.CompleteEvents(b.ctx, []store.CompleteParams{{
		ID: c.ID, Owner: "w", ResponseCode: 201, ResponseTimeMS: 1499, PayloadOut: json.RawMessage(`{"id":7}`),
	}})
	require.NoError(t, err)
	assert.Empty(t, lost)
	want := in.Clone()
	want.Status = store.StatusSucceeded
	want.ResponseCode = 201
	want.ResponseTimeMS = 1499
	want.PayloadOut = json.RawMessage(`{"id":7}`)
	want.CompletedAt = ptr(b.now())
	want.UpdatedAt = b.now()
	assertEventEqual(t, want, b.get(t, in.ID))

	lost, err = b.st.CompleteEvents(b.ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, lost)
	for name, p := range map[string]store.CompleteParams{
		"bad id":      {ID: "x", Owner: "w"},
		"no owner":    {ID: in.ID},
		"bad payload": {ID: in.ID, Owner: "w", PayloadOut: json.RawMessage(`{`)},
	} {
		_, err := b.st.CompleteEvents(b.ctx, []store.CompleteParams{p})
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
}

// testCompleteMasked completes an event with its personal fields masked: the documents are
// replaced in the same change, and the data volume keeps the size as received.
func testCompleteMasked(t *testing.T, b *bundle) {
	sv := b.service(t, "crm")
	e := newEvent(sv)
	e.PayloadIn = json.RawMessage(`{"email":"ann@example.com","plan":"pro"}`)
	e.CanonicalMapping = json.RawMessage(`{"contact":"ann@example.com"}`)
	in := b.insert(t, e)
	other := b.insert(t, newEvent(sv))
	evs := b.claim(t, "w", 2, time.Minute)
	require.Len(t, evs, 2)
	lost, err := b.st.CompleteEvents(b.ctx, []store.CompleteParams{
		{ID: in.ID, Owner: "w", ResponseCode: 200, PayloadOut: json.RawMessage(`{"to":"[masked]"}`),
			MaskedPayloadIn: json.RawMessage(`{"email":"[masked]","plan":"pro"}`),
			MaskedCanonical: json.RawMessage(`{"contact":"[masked]"}`)},
		{ID: other.ID, Owner: "w", ResponseCode: 200},
	})
	require.NoError(t, err)
	require.Empty(t, lost)
	got := b.get(t, in.ID)
	assert.JSONEq(t, `{"email":"[masked]","plan":"pro"}`, string(got.PayloadIn))
	assert.JSONEq(t, `{"contact":"[masked]"}`, string(got.CanonicalMapping))
	assert.JSONEq(t, `{"to":"[masked]"}`, string(got.PayloadOut))
	assert.Equal(t, store.StatusSucceeded, got.Status)
	assert.JSONEq(t, `{"i":0}`, string(b.get(t, other.ID).PayloadIn), "without masked documents nothing is replaced")
	stats, err := b.st.EventStats(b.ctx, store.StatsParams{})
	require.NoError(t, err)
	require.Len(t, stats, 1)
	assert.Equal(t, int64(len(e.PayloadIn)+len(`{"i":0}`)), stats[0].PayloadBytes, "data volume as received")

	third := b.insert(t, newEvent(sv))
	c := b.claimOne(t, "w", third)
	for name, p := range map[string]store.CompleteParams{
		"bad masked payload":   {ID: c.ID, Owner: "w", MaskedPayloadIn: json.RawMessage(`{`)},
		"bad masked canonical": {ID: c.ID, Owner: "w", MaskedCanonical: json.RawMessage(`x`)},
	} {
		_, err := b.st.CompleteEvents(b.ctx, []store.CompleteParams{p})
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	assert.Equal(t, store.StatusProcessing, b.get(t, c.ID).Status)
}

func testCompleteFencing(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	var evs []*store.Event
	for range 4 {
		evs = append(evs, b.insert(t, newEvent(sv)))
		b.clock.Advance(time.Millisecond)
	}
	pending := b.insert(t, newEvent(sv))
	b.claim(t, "a", 2, time.Minute) // evs[0], evs[1]
	b.claim(t, "b", 2, time.Minute) // evs[2], evs[3]
	before := b.get(t, evs[2].ID)
	missing := newID()
	lost, err := b.st.CompleteEvents(b.ctx, []store.CompleteParams{
		{ID: evs[0].ID, Owner: "a", ResponseCode: 200},
		{ID: evs[2].ID, Owner: "a", ResponseCode: 200}, // b holds it
		{ID: missing, Owner: "a"},
		{ID: evs[1].ID, Owner: "a", ResponseCode: 200},
		{ID: evs[0].ID, Owner: "a", ResponseCode: 204}, // already completed in this batch
		{ID: pending.ID, Owner: "a"},                   // not processing
	})
	require.NoError(t, err)
	assert.Equal(t, []string{evs[2].ID, missing, evs[0].ID, pending.ID}, lost, "lost ids in input order")
	assert.Equal(t, store.StatusSucceeded, b.get(t, evs[0].ID).Status)
	assert.Equal(t, 200, b.get(t, evs[0].ID).ResponseCode, "the repeat did not apply")
	assert.Equal(t, store.StatusSucceeded, b.get(t, evs[1].ID).Status)
	assertEventEqual(t, before, b.get(t, evs[2].ID), "another owner's event is untouched")
	assert.Equal(t, store.StatusPending, b.get(t, pending.ID).Status)
}

func testCompleteAfterLeaseRanOut(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	e := b.insert(t, newEvent(sv))
	b.claim(t, "w", 1, time.Minute)
	b.clock.Advance(5 * time.Minute)
	// Ran out but nobody released it: the holder may still finish.
	b.complete(t, e.ID, "w", 300000)
	assert.Equal(t, store.StatusSucceeded, b.get(t, e.ID).Status)
	n, err := b.st.ReleaseExpiredLeases(b.ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, n)
}

func testFailRetrying(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	in := b.insert(t, newEvent(sv))
	b.claim(t, "w", 1, time.Minute)
	b.clock.Advance(time.Second)
	next := start.Add(30 * time.Second)
	b.fail(t, store.FailParams{ID: in.ID, Owner: "w", Status: store.StatusRetrying, NextAttemptAt: next,
		ResponseCode: 503, ResponseTimeMS: 80, PayloadOut: json.RawMessage(`{"error":"down"}`),
		ErrorDetails: json.RawMessage(`{"class":"transient"}`)})
	want := in.Clone()
	want.Status = store.StatusRetrying
	want.RetryCount = 1
	want.NextAttemptAt = at(30 * time.Second)
	want.ResponseCode = 503
	want.ResponseTimeMS = 80
	want.PayloadOut = json.RawMessage(`{"error":"down"}`)
	want.ErrorDetails = json.RawMessage(`{"class":"transient"}`)
	want.UpdatedAt = b.now()
	assertEventEqual(t, want, b.get(t, in.ID))

	assert.Empty(t, b.claim(t, "w", 1, time.Minute), "not before next_attempt_at")
	b.clock.Set(next)
	c := b.claimOne(t, "w2", in)
	assert.Equal(t, 1, c.RetryCount)
	b.fail(t, store.FailParams{ID: in.ID, Owner: "w2", Status: store.StatusRetrying, NextAttemptAt: next})
	assert.Equal(t, 2, b.get(t, in.ID).RetryCount)
	b.claimOne(t, "w3", in) // due at once: next_attempt_at is in the past
}

func testFailTerminal(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	for _, st := range []store.EventStatus{store.StatusFailed, store.StatusDead, store.StatusExpired} {
		in := b.insert(t, newEvent(sv))
		b.claimOne(t, "w", in)
		b.clock.Advance(time.Second)
		b.fail(t, store.FailParams{ID: in.ID, Owner: "w", Status: st, ResponseCode: 400,
			ErrorDetails: json.RawMessage(`{"reason":"bad"}`)})
		got := b.get(t, in.ID)
		assert.Equal(t, st, got.Status)
		assert.Equal(t, 1, got.RetryCount)
		assert.Equal(t, 400, got.ResponseCode)
		require.NotNil(t, got.CompletedAt, st)
		assert.Equal(t, b.now(), *got.CompletedAt)
		assert.Equal(t, in.NextAttemptAt, got.NextAttemptAt, "next_attempt_at is left alone")
		assert.Empty(t, got.LeaseOwner)
		assert.Nil(t, got.LeaseUntil)
		assert.JSONEq(t, `{"reason":"bad"}`, string(got.ErrorDetails))
	}
	assert.Empty(t, b.claim(t, "w", 10, time.Minute))
}

func testFailKeepRetryCount(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	in := b.insert(t, newEvent(sv))
	b.claimOne(t, "w", in)
	b.fail(t, store.FailParams{ID: in.ID, Owner: "w", Status: store.StatusRetrying, NextAttemptAt: start, KeepRetryCount: true, ResponseCode: 429})
	got := b.get(t, in.ID)
	assert.Equal(t, 0, got.RetryCount)
	assert.Equal(t, store.StatusRetrying, got.Status)
	b.claimOne(t, "w", in)
	b.fail(t, store.FailParams{ID: in.ID, Owner: "w", Status: store.StatusFailed, KeepRetryCount: true})
	assert.Equal(t, 0, b.get(t, in.ID).RetryCount)
}

func testFailInvalid(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	first := b.insert(t, newEvent(sv))
	b.clock.Advance(time.Millisecond)
	second := b.insert(t, newEvent(sv))
	b.claim(t, "w", 2, time.Minute)
	ok := store.FailParams{ID: first.ID, Owner: "w", Status: store.StatusFailed}
	for name, p := range map[string]store.FailParams{
		"succeeded":         {ID: second.ID, Owner: "w", Status: store.StatusSucceeded},
		"pending":           {ID: second.ID, Owner: "w", Status: store.StatusPending},
		"empty status":      {ID: second.ID, Owner: "w"},
		"retrying, no next": {ID: second.ID, Owner: "w", Status: store.StatusRetrying},
		"bad error details": {ID: second.ID, Owner: "w", Status: store.StatusFailed, ErrorDetails: json.RawMessage(`nope`)},
		"bad payload":       {ID: second.ID, Owner: "w", Status: store.StatusFailed, PayloadOut: json.RawMessage(`{"a"`)},
		"no owner":          {ID: second.ID, Status: store.StatusFailed},
		"bad id":            {ID: "nope", Owner: "w", Status: store.StatusFailed},
		"unknown status":    {ID: second.ID, Owner: "w", Status: "gone"},
	} {
		_, err := b.st.FailEvents(b.ctx, []store.FailParams{ok, p})
		assert.ErrorIs(t, err, store.ErrInvalidArgument, name)
	}
	assert.Equal(t, store.StatusProcessing, b.get(t, first.ID).Status, "an invalid batch changes nothing")
	lost, err := b.st.FailEvents(b.ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, lost)
}

func testFailFencing(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	a := b.insert(t, newEvent(sv))
	b.clock.Advance(time.Millisecond)
	c := b.insert(t, newEvent(sv))
	b.claim(t, "w1", 1, time.Minute)
	b.claim(t, "w2", 1, time.Minute)
	lost, err := b.st.FailEvents(b.ctx, []store.FailParams{
		{ID: c.ID, Owner: "w1", Status: store.StatusDead},
		{ID: a.ID, Owner: "w1", Status: store.StatusRetrying, NextAttemptAt: start.Add(time.Minute)},
		{ID: a.ID, Owner: "w1", Status: store.StatusDead},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{c.ID, a.ID}, lost)
	assert.Equal(t, store.StatusProcessing, b.get(t, c.ID).Status)
	assert.Equal(t, "w2", b.get(t, c.ID).LeaseOwner)
	got := b.get(t, a.ID)
	assert.Equal(t, store.StatusRetrying, got.Status)
	assert.Equal(t, 1, got.RetryCount)
}

func testExtendLease(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	a := b.insert(t, newEvent(sv))
	b.clock.Advance(time.Millisecond)
	c := b.insert(t, newEvent(sv))
	b.clock.Advance(time.Millisecond)
	pending := b.insert(t, newEvent(sv))
	b.claim(t, "w1", 1, time.Minute)
	b.claim(t, "w2", 1, time.Minute)
	b.clock.Advance(50 * time.Second)
	missing := newID()
	lost, err := b.st.ExtendLease(b.ctx, "w1", []string{a.ID, c.ID, missing}, 2*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{c.ID, missing}, lost)
	got := b.get(t, a.ID)
	require.NotNil(t, got.LeaseUntil)
	assert.Equal(t, b.now().Add(2*time.Minute), *got.LeaseUntil)
	assert.Equal(t, "w1", got.LeaseOwner)
	assert.Equal(t, store.Timestamp(start).Add(2*time.Millisecond+time.Minute), *b.get(t, c.ID).LeaseUntil, "not extended")

	// At the old expiry only w2's event is released; the extended lease holds.
	b.clock.Advance(15 * time.Second)
	n, err := b.st.ReleaseExpiredLeases(b.ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, store.StatusProcessing, b.get(t, a.ID).Status)
	assert.Equal(t, store.StatusPending, b.get(t, c.ID).Status)

	lost, err = b.st.ExtendLease(b.ctx, "w2", []string{c.ID, pending.ID}, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{c.ID, pending.ID}, lost, "released and pending events are not extended")
	lost, err = b.st.ExtendLease(b.ctx, "w1", nil, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, lost)
	for name, call := range map[string]func() error{
		"no owner":   func() error { _, err := b.st.ExtendLease(b.ctx, "", []string{a.ID}, time.Minute); return err },
		"zero lease": func() error { _, err := b.st.ExtendLease(b.ctx, "w1", []string{a.ID}, 0); return err },
		"bad id":     func() error { _, err := b.st.ExtendLease(b.ctx, "w1", []string{"x"}, time.Minute); return err },
	} {
		assert.ErrorIs(t, call(), store.ErrInvalidArgument, name)
	}
}

func testReleaseExpiredLeases(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	fresh := b.insert(t, newEvent(sv))
	b.clock.Advance(time.Millisecond)
	retried := b.insert(t, newEvent(sv))
	b.clock.Advance(time.Millisecond)
	long := b.insert(t, newEvent(sv))
	b.claimOne(t, "w", fresh)
	b.claimOne(t, "w", retried)
	b.fail(t, store.FailParams{ID: retried.ID, Owner: "w", Status: store.StatusRetrying, NextAttemptAt: b.clock.Now()})
	b.claimOne(t, "w", retried)
	evs, err := b.st.ClaimEvents(b.ctx, store.ClaimParams{Owner: "w", Limit: 1, Lease: time.Hour})
	require.NoError(t, err)
	require.Equal(t, []string{long.ID}, ids(evs))

	n, err := b.st.ReleaseExpiredLeases(b.ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, n, "no lease ran out")
	b.clock.Advance(time.Minute - time.Microsecond)
	n, err = b.st.ReleaseExpiredLeases(b.ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, n, "one microsecond before lease_until")
	b.clock.Advance(time.Microsecond)
	n, err = b.st.ReleaseExpiredLeases(b.ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "lease_until <= now")

	got := b.get(t, fresh.ID)
	assert.Equal(t, store.StatusPending, got.Status, "never failed: pending")
	assert.Equal(t, b.now(), got.NextAttemptAt)
	assert.Equal(t, b.now(), got.UpdatedAt)
	assert.Empty(t, got.LeaseOwner)
	assert.Nil(t, got.LeaseUntil)
	got = b.get(t, retried.ID)
	assert.Equal(t, store.StatusRetrying, got.Status, "failed before: retrying")
	assert.Equal(t, 1, got.RetryCount)
	assert.Equal(t, store.StatusProcessing, b.get(t, long.ID).Status)

	assert.Equal(t, []string{fresh.ID, retried.ID}, ids(b.claim(t, "w2", 10, time.Minute)))
}

func testLeaseLostAfterRelease(t *testing.T, b *bundle) {
	sv := b.service(t, "github")
	in := b.insert(t, newEvent(sv))
	b.claim(t, "a", 1, time.Minute)
	b.clock.Advance(time.Minute)
	n, err := b.st.ReleaseExpiredLeases(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	// a's late result is fenced off, before and after b claims the event.
	lost, err := b.st.CompleteEvents(b.ctx, []store.CompleteParams{{ID: in.ID, Owner: "a", ResponseCode: 200}})
	require.NoError(t, err)
	assert.Equal(t, []string{in.ID}, lost)
	b.claimOne(t, "b", in)
	lost, err = b.st.CompleteEvents(b.ctx, []store.CompleteParams{{ID: in.ID, Owner: "a", ResponseCode: 200}})
	require.NoError(t, err)
	assert.Equal(t, []string{in.ID}, lost)
	lost, err = b.st.FailEvents(b.ctx, []store.FailParams{{ID: in.ID, Owner: "a", Status: store.StatusDead}})
	require.NoError(t, err)
	assert.Equal(t, []string{in.ID}, lost)
	lost, err = b.st.ExtendLease(b.ctx, "a", []string{in.ID}, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, []string{in.ID}, lost)
	got := b.get(t, in.ID)
	assert.Equal(t, store.StatusProcessing, got.Status)
	assert.Equal(t, "b", got.LeaseOwner)
	b.complete(t, in.ID, "b", 20)
	assert.Equal(t, 20, int(b.get(t, in.ID).ResponseTimeMS))
}

// testConcurrentClaimers has many goroutines claim and complete the same queue at once:
// every event must be claimed exactly once (the leases are long enough never to run out)
// and end succeeded.
func testConcurrentClaimers(t *testing.T, b *bundle, opts Options) {
	n, workers := opts.ConcurrentEvents, opts.ConcurrentClaimers
	gh := b.service(t, "github")
	sl := b.service(t, "slack")
	const batch = 500
	for i := 0; i < n; i += batch {
		evs := make([]*store.Event, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			sv := gh
			if j%3 == 0 {
				sv = sl
			}
			e := newEvent(sv)
			e.PriorityLevel = store.Priorities()[j%4]
			evs = append(evs, e)
		}
		_, err := b.st.InsertEvents(b.ctx, evs)
		require.NoError(t, err)
	}

	claimed := make([]map[string]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		claimed[w] = map[string]int{}
		wg.Go(func() {
			owner := fmt.Sprintf("worker-%d", w)
			for {
				var evs []*store.Event
				err := retryBusy(func() (err error) {
					evs, err = b.st.ClaimEvents(b.ctx, store.ClaimParams{Owner: owner, Limit: 25, Lease: time.Hour})
					return err
				})
				if !assert.NoError(t, err) || len(evs) == 0 {
					return
				}
				done := make([]store.CompleteParams, len(evs))
				for i, e := range evs {
					claimed[w][e.ID]++
					assert.Equal(t, owner, e.LeaseOwner)
					assert.Equal(t, store.StatusProcessing, e.Status)
					done[i] = store.CompleteParams{ID: e.ID, Owner: owner, ResponseCode: 200, ResponseTimeMS: 1}
				}
				var lost []string
				err = retryBusy(func() (err error) {
					lost, err = b.st.CompleteEvents(b.ctx, done)
					return err
				})
				if !assert.NoError(t, err) || !assert.Empty(t, lost) {
					return
				}
			}
		})
	}
	wg.Wait()
	total := map[string]int{}
	for _, m := range claimed {
		for id, k := range m {
			total[id] += k
		}
	}
	assert.Len(t, total, n, "every event claimed")
	for id, k := range total {
		if k != 1 {
			t.Errorf("event %s claimed %d times", id, k)
		}
	}
	counts, err := b.st.CountEventsByStatus(b.ctx, store.EventFilter{})
	require.NoError(t, err)
	assert.Equal(t, map[store.EventStatus]int64{store.StatusSucceeded: int64(n)}, counts)
}

func testNotifications(t *testing.T, b *bundle) {
	nt, ok := b.st.(store.Notifier)
	if !ok {
		t.Skip("the store does not implement store.Notifier (optional)")
	}
	sv := b.service(t, "github")
	ctx, cancel := context.WithCancel(b.ctx)
	ch, err := nt.Notifications(ctx)
	require.NoError(t, err)
	wait := func(what string) {
		t.Helper()
		select {
		case _, ok := <-ch:
			require.True(t, ok, "channel closed early")
		case <-time.After(10 * time.Second):
			t.Fatalf("no notification after %s", what)
		}
	}
	// Notifications coalesce: several inserts leave at least one wake-up.
	e := b.insert(t, newEvent(sv))
	b.insert(t, newEvent(sv))
	wait("insert")
	b.claim(t, "w", 2, time.Minute)
	b.fail(t, store.FailParams{ID: e.ID, Owner: "w", Status: store.StatusDead})
	drain(ch)
	_, err = b.st.RequeueEvent(b.ctx, e.ID, true)
	require.NoError(t, err)
	wait("requeue")
	drain(ch)
	b.clock.Advance(time.Hour)
	n, err := b.st.ReleaseExpiredLeases(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	wait("release")
	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the channel was not closed after ctx ended")
		}
	}
}

// drain empties a coalesced notification channel without blocking, waiting briefly for
// notifications a store delivers asynchronously.
func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}
