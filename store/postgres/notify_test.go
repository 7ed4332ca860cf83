package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

// waitSignal fails the test unless ch delivers within the timeout.
func waitSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		require.True(t, ok, "%s: channel closed", what)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no notification", what)
	}
}

// drain empties ch without blocking.
func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// listenerPID returns the backend pid of the store's listener, or 0 when there is none.
func listenerPID(t *testing.T, s *Store) int {
	t.Helper()
	var pid int
	err := s.pool.QueryRow(t.Context(), `SELECT coalesce(max(pid), 0) FROM pg_stat_activity
		WHERE application_name = $1`, listenerAppName+" "+s.Schema()).Scan(&pid)
	require.NoError(t, err)
	return pid
}

func TestNotifications(t *testing.T) {
	t.Parallel()
	clk := newClock()
	schema := newSchema(t)
	s, err := New(t.Context(), shared.get(t), Options{Schema: schema, Now: clk.Now, ListenRetry: 10 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := s.Notifications(ctx)
	require.NoError(t, err)

	// An insert here wakes the listener.
	_, _, err = s.InsertEvent(t.Context(), newEvent("a"))
	require.NoError(t, err)
	waitSignal(t, ch, "insert")

	// So does an insert by another process (another pool) sharing the schema.
	other, err := New(t.Context(), testPool(t, 1), Options{Schema: schema, Now: clk.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })
	b, _, err := other.InsertEvent(t.Context(), newEvent("b"))
	require.NoError(t, err)
	waitSignal(t, ch, "insert by another process")

	// Claims and completions do not notify; a released lease does.
	_, err = s.ClaimEvents(t.Context(), store.ClaimParams{Owner: "w", Limit: 10, Lease: time.Second})
	require.NoError(t, err)
	lost, err := s.CompleteEvents(t.Context(), []store.CompleteParams{{ID: b.ID, Owner: "w"}})
	require.NoError(t, err)
	require.Empty(t, lost)
	time.Sleep(50 * time.Millisecond)
	select {
	case <-ch:
		t.Fatal("claim or completion notified")
	default:
	}
	clk.Advance(time.Second)
	n, err := s.ReleaseExpiredLeases(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	waitSignal(t, ch, "released lease")

	// A retry due at once notifies; one due later does not.
	got, err := s.ClaimEvents(t.Context(), store.ClaimParams{Owner: "w", Limit: 10, Lease: time.Second})
	require.NoError(t, err)
	require.Len(t, got, 1)
	time.Sleep(50 * time.Millisecond)
	drain(ch)
	lost, err = s.FailEvents(t.Context(), []store.FailParams{{ID: got[0].ID, Owner: "w", Status: store.StatusRetrying, NextAttemptAt: clk.Now().Add(time.Hour)}})
	require.NoError(t, err)
	require.Empty(t, lost)
	time.Sleep(50 * time.Millisecond)
	select {
	case <-ch:
		t.Fatal("a retry due later notified")
	default:
	}
	clk.Advance(time.Hour)
	got, err = s.ClaimEvents(t.Context(), store.ClaimParams{Owner: "w", Limit: 10, Lease: time.Second})
	require.NoError(t, err)
	require.Len(t, got, 1)
	lost, err = s.FailEvents(t.Context(), []store.FailParams{{ID: got[0].ID, Owner: "w", Status: store.StatusRetrying, NextAttemptAt: clk.Now(), KeepRetryCount: true}})
	require.NoError(t, err)
	require.Empty(t, lost)
	waitSignal(t, ch, "retry due now")

	// The listener survives its connection being killed: it reconnects, signals once
	// (notifications may have been missed), and receives notifications again.
	pid := listenerPID(t, s)
	require.NotZero(t, pid)
	_, err = s.pool.Exec(t.Context(), "SELECT pg_terminate_backend($1)", pid)
	require.NoError(t, err)
	waitSignal(t, ch, "reconnected")
	require.Eventually(t, func() bool { p := listenerPID(t, s); return p != 0 && p != pid },
		10*time.Second, 10*time.Millisecond)
	drain(ch)
	_, _, err = s.InsertEvent(t.Context(), newEvent("c"))
	require.NoError(t, err)
	waitSignal(t, ch, "insert after reconnect")

	// The channel closes when ctx ends.
	cancel()
	for range ch {
	}

	// ... and when the store closes.
	ch2, err := s.Notifications(t.Context())
	require.NoError(t, err)
	require.NoError(t, s.Close())
	for range ch2 {
	}
	_, err = s.Notifications(t.Context())
	assert.ErrorIs(t, err, store.ErrClosed)
}
