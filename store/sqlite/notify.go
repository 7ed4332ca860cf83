package sqlite

import (
	"context"
	"sync"

	"github.com/ehg/hub/store"
)

// notifier fans a coalesced wake-up out to the channels of Notifications. It only reaches
// this process: SQLite has no cross-process signal, so workers of other processes sharing
// the file find events by polling, as the store.Notifier contract requires them to anyway.
type notifier struct {
	mu     sync.Mutex
	subs   map[chan struct{}]struct{}
	closed bool
}

func (n *notifier) subscribe() (chan struct{}, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, false
	}
	if n.subs == nil {
		n.subs = make(map[chan struct{}]struct{})
	}
	ch := make(chan struct{}, 1)
	n.subs[ch] = struct{}{}
	return ch, true
}

func (n *notifier) unsubscribe(ch chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.subs[ch]; ok {
		delete(n.subs, ch)
		close(ch)
	}
}

// wake sends to every subscriber without blocking; a pending value already says "look".
func (n *notifier) wake() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (n *notifier) closeAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	for ch := range n.subs {
		delete(n.subs, ch)
		close(ch)
	}
}

// Notifications returns a channel that receives a value, coalesced, after this Store
// inserted, requeued or released events or scheduled a retry, that is whenever events may
// have become claimable. Only this Store's own writes are seen (other processes sharing the
// file are not), so workers must still poll. The channel is closed when ctx ends or the
// Store is closed. It returns store.ErrClosed after Close.
func (s *Store) Notifications(ctx context.Context) (<-chan struct{}, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ch, ok := s.notify.subscribe()
	if !ok {
		return nil, store.ErrClosed
	}
	context.AfterFunc(ctx, func() { s.notify.unsubscribe(ch) })
	return ch, nil
}
