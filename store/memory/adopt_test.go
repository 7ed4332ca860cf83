package memory

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

// TestAdoptEvents: adopted documents are kept as they are (the same bytes), the result of
// a stored event is the event passed in, in its stored form, and a duplicate key leaves
// the passed event alone and returns the earlier one.
func TestAdoptEvents(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := New(Options{})
	svc, err := st.CreateService(ctx, &store.Service{Name: "s", Category: store.CategoryOther, ConnectorKind: "http"})
	require.NoError(t, err)
	doc := []byte(`{"a":1}`)
	exp := time.Now().Add(time.Hour)
	in := &store.Event{ID: uuid.NewString(), ServiceID: svc.ID, ServiceName: "s", PayloadIn: doc, IdempotencyKey: "k", ExpiresAt: &exp}
	got, created, err := st.AdoptEvent(ctx, in)
	require.NoError(t, err)
	require.True(t, created)
	assert.Same(t, in, got, "the event passed in is the result")
	assert.Equal(t, store.StatusPending, got.Status)
	assert.False(t, got.CreatedAt.IsZero())
	require.NotNil(t, got.ExpiresAt)
	assert.NotSame(t, &exp, got.ExpiresAt, "expires_at is a copy of the stored time")
	assert.True(t, got.ExpiresAt.Equal(store.Timestamp(exp)))

	st.mu.RLock()
	stored := st.events.get(keyOf(in.ID))
	assert.True(t, sameBytes(stored.ev.PayloadIn, doc), "the store keeps the adopted bytes")
	st.mu.RUnlock()

	dup := &store.Event{ServiceID: svc.ID, ServiceName: "s", PayloadIn: []byte(`{"b":2}`), IdempotencyKey: "k"}
	res, err := st.AdoptEvents(ctx, []*store.Event{dup})
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.False(t, res[0].Created)
	assert.Equal(t, in.ID, res[0].Event.ID)
	assert.Empty(t, dup.ID, "a duplicate is left as it was")

	// Deleting the event wipes the adopted bytes, as it wipes the store's own copies.
	st.mu.Lock()
	stored.q.drop(stored)
	st.events.remove(keyOf(in.ID))
	st.mu.Unlock()
	assert.Equal(t, make([]byte, len(doc)), doc)
}

// TestNotifyFunc: a registered function is called after inserts until its context ends.
func TestNotifyFunc(t *testing.T) {
	t.Parallel()
	st := New(Options{})
	svc, err := st.CreateService(t.Context(), &store.Service{Name: "s", Category: store.CategoryOther, ConnectorKind: "http"})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	var calls atomic.Int32
	require.NoError(t, st.NotifyFunc(ctx, func() { calls.Add(1) }))
	insert := func() {
		_, _, err := st.InsertEvent(t.Context(), &store.Event{ServiceID: svc.ID, ServiceName: "s", PayloadIn: []byte(`{}`)})
		require.NoError(t, err)
	}
	insert()
	assert.Equal(t, int32(1), calls.Load())
	cancel()
	require.Eventually(t, func() bool { insert(); return calls.Load() <= 2 && st.notify.calls.Load() == nil }, 5*time.Second, time.Millisecond)
	n := calls.Load()
	insert()
	assert.Equal(t, n, calls.Load(), "not called once its context ended")
	assert.Error(t, st.NotifyFunc(ctx, func() {}), "an ended context")
}
