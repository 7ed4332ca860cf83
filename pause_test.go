package hub_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
)

// listGate is a memory store whose ListServices, once armed, reads the services and then
// waits to be released before answering: what the hub's background refresh then installs
// is older than any change made meanwhile.
type listGate struct {
	*memory.Store
	mu      sync.Mutex
	armed   bool
	listed  chan struct{}
	release chan struct{}
}

func (g *listGate) ListServices(ctx context.Context, f store.ServiceFilter) ([]*store.Service, error) {
	page, err := g.Store.ListServices(ctx, f)
	if !calledFrom("refreshServices") {
		return page, err // the cleaner lists services too, holding the removal lock
	}
	g.mu.Lock()
	armed, listed, release := g.armed, g.listed, g.release
	g.armed = false
	g.mu.Unlock()
	if armed {
		close(listed)
		select {
		case <-release:
		case <-ctx.Done(): // the hub closes
		}
	}
	return page, err
}

// calledFrom reports whether a function whose name ends with fn is on the caller's stack.
func calledFrom(fn string) bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, "."+fn) {
			return true
		}
		if !more {
			return false
		}
	}
}

// TestRefreshKeepsNewerLocalChange: a service disabled while the background refresh is
// reading the service list stays disabled: the refresh does not put back the enabled
// version it read, so nothing queued behind the pause is delivered.
func TestRefreshKeepsNewerLocalChange(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	g := &listGate{Store: memory.New(memory.Options{}), listed: make(chan struct{}), release: make(chan struct{})}
	h := hubtest.New(t, g, hub.WithMaintenanceInterval(time.Second))
	sink := hubtest.NewSink(t)
	register(t, h, "paused", sink.URL, nil)

	g.mu.Lock()
	g.armed = true
	listed, release := g.listed, g.release
	g.mu.Unlock()
	select {
	case <-listed: // the refresh holds the enabled version
	case <-time.After(time.Minute):
		t.Fatal("the background refresh did not list the services")
	}
	off := false
	_, err := h.ConfigureService(ctx, "paused", hub.ServiceConfig{Active: &off})
	require.NoError(t, err)
	close(release)

	// the next refresh starts only after this one has installed what it read
	g.mu.Lock()
	g.armed, g.listed, g.release = true, make(chan struct{}), make(chan struct{})
	listed, release = g.listed, g.release
	g.mu.Unlock()
	select {
	case <-listed:
	case <-time.After(time.Minute):
		t.Fatal("the background refresh did not run again")
	}
	for range 3 {
		_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "paused", Payload: json.RawMessage(`{"n":1}`), Mode: hub.Async})
		require.NoError(t, err)
	}
	// a hub that took the stale version back would deliver these at once
	time.Sleep(300 * time.Millisecond)
	close(release)
	require.Zero(t, sink.Total(), "the disabled service received calls")
	res, err := h.RemoveService(ctx, "paused", hub.RemoveOptions{Reason: "test"})
	require.NoError(t, err)
	require.Equal(t, 3, res.Cancelled)
}

// claimGate is a memory store whose ClaimEvents, once armed, waits to be released after it
// is called and before it reads the queue: the services to skip it was given are then older
// than what happens meanwhile.
type claimGate struct {
	*memory.Store
	mu      sync.Mutex
	armed   bool
	called  chan struct{}
	release chan struct{}
	claimed chan struct{} // closed when the held claim has taken its events
}

func (g *claimGate) ClaimEvents(ctx context.Context, p store.ClaimParams) ([]*store.Event, error) {
	g.mu.Lock()
	armed := g.armed
	g.armed = false
	g.mu.Unlock()
	if armed {
		close(g.called)
		select {
		case <-g.release:
		case <-ctx.Done():
		}
	}
	evs, err := g.Store.ClaimEvents(ctx, p)
	if armed {
		close(g.claimed)
	}
	return evs, err
}

// TestClaimRacingDisableSendsNothing: events claimed by a claim that started before their
// service was disabled are not sent; they wait, unattempted, and are delivered once the
// service is enabled again.
func TestClaimRacingDisableSendsNothing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	g := &claimGate{Store: memory.New(memory.Options{}), called: make(chan struct{}), release: make(chan struct{}),
		claimed: make(chan struct{})}
	h := hubtest.New(t, g, hub.WithPollInterval(10*time.Millisecond))
	sink := hubtest.NewSink(t)
	register(t, h, "paused", sink.URL, nil)

	g.mu.Lock()
	g.armed = true
	g.mu.Unlock()
	select {
	case <-g.called: // a claim is under way, skipping nothing
	case <-time.After(time.Minute):
		t.Fatal("the hub did not claim")
	}
	off := false
	_, err := h.ConfigureService(ctx, "paused", hub.ServiceConfig{Active: &off})
	require.NoError(t, err)
	ids := make([]string, 3)
	for i := range ids {
		res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "paused", Payload: json.RawMessage(`{"n":1}`), Mode: hub.Async})
		require.NoError(t, err)
		ids[i] = res.EventID
	}
	close(g.release)
	select {
	case <-g.claimed: // the claim took the three events
	case <-time.After(time.Minute):
		t.Fatal("the held claim did not finish")
	}
	eventually(t, time.Minute, func() bool {
		for _, id := range ids {
			ev, err := h.Store().GetEvent(ctx, id)
			if err != nil || ev.Status == store.StatusProcessing {
				return false
			}
		}
		return true
	}, "the claimed events are back in the queue")
	require.Zero(t, sink.Total(), "the disabled service received calls")
	for _, id := range ids {
		ev, err := h.Store().GetEvent(ctx, id)
		require.NoError(t, err)
		require.Zero(t, ev.RetryCount, "no attempt is counted")
	}

	on := true
	_, err = h.ConfigureService(ctx, "paused", hub.ServiceConfig{Active: &on})
	require.NoError(t, err)
	eventually(t, time.Minute, func() bool { return sink.Unique() == 3 }, "delivered once enabled")
}

// TestRefreshDoesNotRestoreRemovedService: a service removed while the background refresh
// is reading the service list stays removed: the refresh does not cache the version it read,
// so events for the removed name are refused.
func TestRefreshDoesNotRestoreRemovedService(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	g := &listGate{Store: memory.New(memory.Options{}), listed: make(chan struct{}), release: make(chan struct{})}
	h := hubtest.New(t, g, hub.WithMaintenanceInterval(time.Second))
	sink := hubtest.NewSink(t)
	register(t, h, "leaving", sink.URL, nil)

	g.mu.Lock()
	g.armed = true
	listed, release := g.listed, g.release
	g.mu.Unlock()
	select {
	case <-listed: // the refresh holds the service as it was before the removal
	case <-time.After(time.Minute):
		t.Fatal("the background refresh did not list the services")
	}
	res, err := h.RemoveService(ctx, "leaving", hub.RemoveOptions{Reason: "test"})
	require.NoError(t, err)
	require.True(t, res.CredentialsDestroyed)
	close(release)

	g.mu.Lock()
	g.armed, g.listed, g.release = true, make(chan struct{}), make(chan struct{})
	listed, release = g.listed, g.release
	g.mu.Unlock()
	select {
	case <-listed: // the first refresh has finished
	case <-time.After(time.Minute):
		t.Fatal("the background refresh did not run again")
	}
	_, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "leaving", Payload: json.RawMessage(`{"n":1}`), Mode: hub.Async})
	close(release)
	require.ErrorIs(t, err, hub.ErrUnknownService)
	require.Zero(t, sink.Total())
}
