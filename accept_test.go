package hub

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
	"github.com/ehg/hub/store/memory"
)

// gateStore is a memory store (not recognised as one, so accepts are grouped) whose first
// single insert waits for release, and which refuses events named "bad" as a database
// refuses a bad row: a batch holding one fails whole.
type gateStore struct {
	store.Store
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	batches []int // sizes of the InsertEvents calls
}

func (s *gateStore) InsertEvent(ctx context.Context, e *store.Event) (*store.Event, bool, error) {
	s.once.Do(func() { <-s.release })
	if e.ServiceName == "bad" {
		return nil, false, store.ErrInvalidArgument
	}
	return s.Store.InsertEvent(ctx, e)
}

func (s *gateStore) InsertEvents(ctx context.Context, es []*store.Event) ([]store.InsertResult, error) {
	s.mu.Lock()
	s.batches = append(s.batches, len(es))
	s.mu.Unlock()
	for _, e := range es {
		if e.ServiceName == "bad" {
			return nil, store.ErrInvalidArgument
		}
	}
	return s.Store.InsertEvents(ctx, es)
}

func (g *acceptGroup) queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// TestAcceptGroupCommitsTogether: callers arriving while an insert runs are inserted
// together in the next group, each answered with its own event; a bad event fails its own
// caller only; a caller whose context ends while queued is not inserted.
func TestAcceptGroupCommitsTogether(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	mem := memory.New(memory.Options{})
	svc, err := mem.CreateService(ctx, &store.Service{Name: "s", Category: store.CategoryOther, ConnectorKind: "http"})
	require.NoError(t, err)
	st := &gateStore{Store: mem, release: make(chan struct{})}
	g := newAcceptGroup(st)
	require.Nil(t, g.mem)
	g.leaders = 1 // one group at a time, so the grouping is deterministic

	type outcome struct {
		ev      *store.Event
		created bool
		err     error
	}
	names := []string{"first", "a", "b", "bad", "c", "a-dup"}
	outs := make([]outcome, len(names))
	var wg sync.WaitGroup
	start := func(i int, ctx context.Context) {
		wg.Go(func() {
			name := names[i]
			key := name
			if name == "a-dup" {
				name, key = "a", "a" // the same idempotency key as "a": one event
			}
			ev, created, err := g.insert(ctx, &store.Event{ServiceID: svc.ID, ServiceName: name, IdempotencyKey: key, PayloadIn: []byte(`{}`)})
			outs[i] = outcome{ev, created, err}
		})
	}
	start(0, ctx) // leads, and waits in the store
	require.Eventually(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.leading == 1 }, 5*time.Second, time.Millisecond)
	for i := 1; i < len(names); i++ {
		start(i, ctx)
		require.Eventually(t, func() bool { return g.queued() == i }, 5*time.Second, time.Millisecond)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancelled := make(chan error, 1)
	wg.Go(func() {
		_, _, err := g.insert(cctx, &store.Event{ServiceID: svc.ID, ServiceName: "late", IdempotencyKey: "late", PayloadIn: []byte(`{}`)})
		cancelled <- err
	})
	require.Eventually(t, func() bool { return g.queued() == len(names) }, 5*time.Second, time.Millisecond)
	cancel()
	assert.ErrorIs(t, <-cancelled, context.Canceled, "a caller whose context ends while queued is answered at once")
	close(st.release)
	wg.Wait()

	assert.Equal(t, []int{len(names) - 1}, st.batches, "the queued callers shared one InsertEvents")
	ids := map[string]bool{}
	for i, name := range names {
		o := outs[i]
		if name == "bad" {
			assert.ErrorIs(t, o.err, store.ErrInvalidArgument, "the bad event fails its own caller")
			continue
		}
		require.NoError(t, o.err, name)
		if name == "a-dup" {
			assert.False(t, o.created)
			assert.Equal(t, outs[1].ev.ID, o.ev.ID, "a duplicate key gets the first event")
			continue
		}
		assert.True(t, o.created, name)
		assert.Equal(t, name, o.ev.ServiceName)
		ids[o.ev.ID] = true
	}
	assert.Len(t, ids, 4)
	n, err := mem.CountEventsByStatus(ctx, store.EventFilter{})
	require.NoError(t, err)
	assert.Equal(t, int64(4), n[store.StatusPending], "first, a, b and c are stored; bad and late are not")
	_, err = mem.GetEventByIdempotencyKey(ctx, svc.ID, "late")
	assert.True(t, errors.Is(err, store.ErrNotFound))
	g.mu.Lock()
	assert.Zero(t, g.leading, "the lead is given up when nothing waits")
	g.mu.Unlock()
}

// commitThenFail stores a batch and then reports an error, as a database can when it
// commits the insert and fails reading the rows back.
type commitThenFail struct {
	store.Store
	release chan struct{}
	once    sync.Once
}

func (s *commitThenFail) InsertEvent(ctx context.Context, e *store.Event) (*store.Event, bool, error) {
	s.once.Do(func() { <-s.release })
	return s.Store.InsertEvent(ctx, e)
}

func (s *commitThenFail) InsertEvents(ctx context.Context, es []*store.Event) ([]store.InsertResult, error) {
	if _, err := s.Store.InsertEvents(ctx, es); err != nil {
		return nil, err
	}
	return nil, store.ErrBusy
}

// TestAcceptGroupStoredThenFailed: when a group's insert stored the events and then
// failed, each caller is told its event was created (not a conflict, not a duplicate).
func TestAcceptGroupStoredThenFailed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	mem := memory.New(memory.Options{})
	svc, err := mem.CreateService(ctx, &store.Service{Name: "s", Category: store.CategoryOther, ConnectorKind: "http"})
	require.NoError(t, err)
	st := &commitThenFail{Store: mem, release: make(chan struct{})}
	g := newAcceptGroup(st)
	g.leaders = 1

	keys := []string{"first", "keyed", ""} // "" has no idempotency key
	type outcome struct {
		ev      *store.Event
		created bool
		err     error
	}
	outs := make([]outcome, len(keys))
	ids := make([]string, len(keys))
	var wg sync.WaitGroup
	for i, key := range keys {
		ids[i] = uuid.NewString()
		wg.Go(func() {
			ev, created, err := g.insert(ctx, &store.Event{ID: ids[i], ServiceID: svc.ID, ServiceName: "s", IdempotencyKey: key, PayloadIn: []byte(`{}`)})
			outs[i] = outcome{ev, created, err}
		})
		if i == 0 { // leads, and waits in the store: the others form one group
			require.Eventually(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.leading == 1 }, 5*time.Second, time.Millisecond)
		} else {
			require.Eventually(t, func() bool { return g.queued() == i }, 5*time.Second, time.Millisecond)
		}
	}
	close(st.release)
	wg.Wait()
	for i, o := range outs {
		require.NoError(t, o.err, keys[i])
		assert.True(t, o.created, keys[i])
		assert.Equal(t, ids[i], o.ev.ID, keys[i])
	}
	n, err := mem.CountEventsByStatus(ctx, store.EventFilter{})
	require.NoError(t, err)
	assert.Equal(t, int64(3), n[store.StatusPending])
}
