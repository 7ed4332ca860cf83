package hub

import (
	"context"
)

// untilClose returns ctx, cancelled also (with cause ErrClosed) when the hub closes, for
// running mappings: a runaway mapping observes its context at every loop iteration (see
// transform.ErrInterrupted), so a deadline or Close stops it. Without mappings (mapped
// false) ctx is returned as is. Call stop when done.
func (h *Hub) untilClose(ctx context.Context, mapped bool) (_ context.Context, stop func()) {
	if !mapped {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	after := context.AfterFunc(h.closing, func() { cancel(ErrClosed) })
	return ctx, func() {
		after()
		cancel(nil)
	}
}
