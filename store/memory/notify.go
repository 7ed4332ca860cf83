package memory

import (
	"context"
	"fmt"
	"sync"
)

// notifier fans coalesced wake-ups out to the channels handed out by Notifications.
type notifier struct {
	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

// signal wakes every subscriber without blocking: a subscriber that has not drained its
// previous wake-up keeps just that one.
func (n *notifier) signal() {
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
	return ch
}

func (n *notifier) unsubscribe(ch chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.subs, ch)
	close(ch)
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
