package postgres

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func TestQueueRoundTrip(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := newTestStore(t, clk.Now)
	ctx := t.Context()

	low := newEvent("low")
	low.PriorityLevel = store.PriorityLow
	crit := newEvent("crit")
	crit.PriorityLevel = store.PriorityCritical
	over := newEvent("")
	over.ChairmanOverride = true
	over.PriorityLevel = store.PriorityLow
	res, err := s.InsertEvents(ctx, []*store.Event{low, crit, over, newEvent("low")})
	require.NoError(t, err)
	require.Len(t, res, 4)
	assert.True(t, res[0].Created)
	assert.True(t, res[1].Created)
	assert.True(t, res[2].Created)
	assert.False(t, res[3].Created)
	assert.Equal(t, res[0].Event.ID, res[3].Event.ID)
	assert.Equal(t, store.StatusPending, res[0].Event.Status)
	assert.Equal(t, store.MethodPost, res[0].Event.RequestMethod)
	assert.Equal(t, clk.Now(), res[0].Event.CreatedAt)
	assert.Equal(t, clk.Now(), res[0].Event.NextAttemptAt)
	assert.JSONEq(t, `{"n":1}`, string(res[0].Event.PayloadIn))

	// A second insert of an existing key returns the stored event.
	again, created, err := s.InsertEvent(ctx, newEvent("crit"))
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, res[1].Event.ID, again.ID)

	claimed, err := s.ClaimEvents(ctx, store.ClaimParams{Owner: "w1", Limit: 10, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, claimed, 3)
	assert.Equal(t, []string{res[2].Event.ID, res[1].Event.ID, res[0].Event.ID},
		[]string{claimed[0].ID, claimed[1].ID, claimed[2].ID}, "override, then critical, then low")
	for _, e := range claimed {
		assert.Equal(t, store.StatusProcessing, e.Status)
		assert.Equal(t, "w1", e.LeaseOwner)
		require.NotNil(t, e.LeaseUntil)
		assert.Equal(t, clk.Now().Add(time.Minute), *e.LeaseUntil)
	}

	lost, err := s.CompleteEvents(ctx, []store.CompleteParams{
		{ID: claimed[0].ID, Owner: "w1", ResponseCode: 200, ResponseTimeMS: 12, PayloadOut: json.RawMessage(`{"ok":true}`)},
		{ID: claimed[1].ID, Owner: "intruder", ResponseCode: 200},
		{ID: claimed[0].ID, Owner: "w1", ResponseCode: 200},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{claimed[1].ID, claimed[0].ID}, lost)

	done, err := s.GetEvent(ctx, claimed[0].ID)
	require.NoError(t, err)
	assert.Equal(t, store.StatusSucceeded, done.Status)
	assert.Equal(t, 200, done.ResponseCode)
	assert.Equal(t, int64(12), done.ResponseTimeMS)
	assert.JSONEq(t, `{"ok":true}`, string(done.PayloadOut))
	assert.Empty(t, done.LeaseOwner)
	assert.Nil(t, done.LeaseUntil)
	require.NotNil(t, done.CompletedAt)

	next := clk.Now().Add(time.Hour)
	lost, err = s.FailEvents(ctx, []store.FailParams{
		{ID: claimed[1].ID, Owner: "w1", Status: store.StatusRetrying, NextAttemptAt: next, ResponseCode: 503},
		{ID: claimed[2].ID, Owner: "w1", Status: store.StatusDead, ErrorDetails: json.RawMessage(`{"e":"x"}`)},
	})
	require.NoError(t, err)
	assert.Empty(t, lost)
	retrying, err := s.GetEvent(ctx, claimed[1].ID)
	require.NoError(t, err)
	assert.Equal(t, store.StatusRetrying, retrying.Status)
	assert.Equal(t, 1, retrying.RetryCount)
	assert.Equal(t, next, retrying.NextAttemptAt)
	assert.Nil(t, retrying.CompletedAt)

	// Not due yet.
	none, err := s.ClaimEvents(ctx, store.ClaimParams{Owner: "w2", Limit: 10, Lease: time.Minute})
	require.NoError(t, err)
	assert.Empty(t, none)

	requeued, err := s.RequeueEvent(ctx, claimed[2].ID, true)
	require.NoError(t, err)
	assert.Equal(t, store.StatusPending, requeued.Status)
	_, err = s.RequeueEvent(ctx, claimed[0].ID, true)
	assert.ErrorIs(t, err, store.ErrInvalidTransition)

	_, err = s.FailEvents(ctx, []store.FailParams{{ID: claimed[1].ID, Owner: "w1", Status: store.StatusPending}})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
	_, err = s.ClaimEvents(ctx, store.ClaimParams{Owner: "", Limit: 1, Lease: time.Second})
	assert.ErrorIs(t, err, store.ErrInvalidArgument)
	_, err = s.GetEvent(ctx, "8a1f0b2c-0000-4000-8000-000000000000")
	assert.ErrorIs(t, err, store.ErrNotFound)
}
