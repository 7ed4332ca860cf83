package memory

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// notifier fans coalesced wake-ups out to the channels handed out by Notifications and
// the functions registered by NotifyFunc. Writers signal after every insert, so signal
// takes no lock unless a channel is subscribed.
type notifier struct {
	mu    sync.Mutex
	subs  map[chan struct{}]struct{}
	chans atomic.Int32 // len(subs)
	funcs map[*func()]struct{}
	// calls is what signal calls: the functions of funcs, rebuilt under mu on each change.
	calls atomic.Pointer[[]func()]
}

// signal wakes every subscriber without blocking: a subscriber that has not drained its
// previous wake-up keeps just that one.
func (n *notifier) signal() {
	if fs := n.calls.Load(); fs != nil {
		for _, f := range *fs {
			f()
		}
	}
	if n.chans.Load() == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (n *notifier) subscribe() chan struct{} {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.subs == nil {
		n.subs = map[chan struct{}]struct{}{}
	}
	n.subs[ch] = struct{}{}
	n.chans.Store(int32(len(n.subs))) //nolint:gosec // a handful of subscribers
	return ch
}

func (n *notifier) unsubscribe(ch chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.subs, ch)
	n.chans.Store(int32(len(n.subs))) //nolint:gosec // a handful of subscribers
	close(ch)
}

// register adds f to the functions signal calls and returns the function that removes it.
func (n *notifier) register(f func()) (remove func()) {
	key := &f
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.funcs == nil {
		n.funcs = map[*func()]struct{}{}
	}
	n.funcs[key] = struct{}{}
	n.publishLocked()
	return func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.funcs, key)
		n.publishLocked()
	}
}

// publishLocked rebuilds calls from funcs. The caller holds n.mu.
func (n *notifier) publishLocked() {
	if len(n.funcs) == 0 {
		n.calls.Store(nil)
		return
	}
	fs := make([]func(), 0, len(n.funcs))
	for f := range n.funcs {
		fs = append(fs, *f)
	}
	n.calls.Store(&fs)
}

// Notifications implements [store.Notifier]: the channel receives a value, coalesced,
// after events are inserted, requeued, released from expired leases or failed with a
// retry that is already due. It is closed when ctx ends; one goroutine per call waits for
// that. The memory store notifies only its own process.
func (s *Store) Notifications(ctx context.Context) (<-chan struct{}, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: notifications: %w", err)
	}
	ch := s.notify.subscribe()
	go func() {
		<-ctx.Done()
		s.notify.unsubscribe(ch)
	}()
	return ch, nil
}

// NotifyFunc is [Store.Notifications] for a subscriber that only wakes something up: f is
// called, by the writing goroutine once its write is done, whenever Notifications would
// send, until ctx ends (a call that had begun may still come shortly after). No goroutine
// is handed a value, so a busy writer does not wake one per write. f must be fast, must
// not block and must not call the store.
func (s *Store) NotifyFunc(ctx context.Context, f func()) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: notifications: %w", err)
	}
	remove := s.notify.register(f)
	context.AfterFunc(ctx, remove)
	return nil
}
