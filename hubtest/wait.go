package hubtest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
)

// DefaultWait bounds WaitForStatus: long enough for a busy machine running tests under
// the race detector, short enough that a test that will never see the status fails.
const DefaultWait = 30 * time.Second

// WaitForStatus waits until the event id has one of the statuses want (any terminal
// status when want is empty) and returns it. It fails the test when DefaultWait passes,
// when the event reaches a terminal status that is not wanted (it will not change by
// itself), or on a lookup error. It polls h.GetEvent with a short backoff; with a fake
// clock, move the clock yourself for retries to become due.
func WaitForStatus(tb testing.TB, h hub.Events, id string, want ...store.EventStatus) *store.Event {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultWait)
	defer cancel()
	wait := time.Millisecond
	var last *store.Event
	for {
		ev, err := h.GetEvent(ctx, id)
		switch {
		case err != nil && !errors.Is(err, ctx.Err()):
			tb.Fatalf("hubtest: event %s: %v", id, err)
		case err == nil:
			last = ev
			if (len(want) == 0 && ev.Status.Terminal()) || slices.Contains(want, ev.Status) {
				return ev
			}
			if ev.Status.Terminal() {
				tb.Fatalf("hubtest: event %s ended %s (error %s), want %v", id, ev.Status, ev.ErrorDetails, want)
			}
		}
		select {
		case <-ctx.Done():
			status := store.EventStatus("unknown")
			if last != nil {
				status = last.Status
			}
			tb.Fatalf("hubtest: event %s still %s after %v, want %v", id, status, DefaultWait, want)
			return nil
		case <-time.After(wait):
			wait = min(2*wait, 50*time.Millisecond)
		}
	}
}

// Clock is a fake clock shared by a store and a hub, so that the times the hub decides
// (expiry, backoff, health windows) and those the store compares (due events, leases)
// agree. It is safe for concurrent use; create it with NewClock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t until moved; the zero t means a fixed instant,
// 2026-03-02 10:00 UTC.
func NewClock(t time.Time) *Clock {
	if t.IsZero() {
		t = time.Date(2026, time.March, 2, 10, 0, 0, 0, time.UTC)
	}
	return &Clock{t: t}
}

// Now returns the clock's time. Pass the method value (c.Now) to the store's options.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d (backward when d is negative) and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// WithClock returns the hub option that makes the hub read c. Give the store the same
// clock (memory.Options.Now, sqlite.Options.Now, postgres.Options.Now: c.Now), or use
// NewWithClock.
func WithClock(c *Clock) hub.Option { return hub.WithClock(c.Now) }

// NewWithClock returns a started hub (as New) reading c, on st, or, when st is nil, on a
// new in-memory store reading c too. st, when given, must have been built with c.Now as
// its clock.
func NewWithClock(tb testing.TB, c *Clock, st store.Store, opts ...hub.Option) *hub.Hub {
	tb.Helper()
	if st == nil {
		st = memory.New(memory.Options{Now: c.Now})
	}
	return New(tb, st, append([]hub.Option{WithClock(c)}, opts...)...)
}
