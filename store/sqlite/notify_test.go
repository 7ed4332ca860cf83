package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func TestNotifications(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	svc := newService(t, s, "github")
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := s.Notifications(ctx)
	require.NoError(t, err)

	// Two inserts coalesce into one pending wake-up.
	for range 2 {
		_, _, err = s.InsertEvent(t.Context(), &store.Event{ServiceID: svc.ID, ServiceName: svc.Name})
		require.NoError(t, err)
	}
	select {
	case _, ok := <-ch:
		require.True(t, ok)
	case <-time.After(5 * time.Second):
		t.Fatal("no notification after insert")
	}
	select {
	case <-ch:
		t.Fatal("notifications were not coalesced")
	default:
	}

	// A released lease wakes workers too.
	_, err = s.ClaimEvents(t.Context(), store.ClaimParams{Owner: "w", Limit: 10, Lease: time.Second})
	require.NoError(t, err)
	clk.Advance(time.Minute)
	n, err := s.ReleaseExpiredLeases(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification after release")
	}

	cancel()
	select {
	case _, ok := <-ch:
		assert.False(t, ok, "closed when ctx ends")
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed after cancel")
	}

	// Close closes the remaining channels and refuses new ones.
	other, err := s.Notifications(t.Context())
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, ok := <-other
	assert.False(t, ok)
	_, err = s.Notifications(t.Context())
	require.ErrorIs(t, err, store.ErrClosed)
	_, err = s.GetEvent(t.Context(), svc.ID)
	require.ErrorIs(t, err, store.ErrClosed)
}
