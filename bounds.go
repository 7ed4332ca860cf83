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
		return ctx, noStop
	}
	if ctx.Done() == nil {
		// ctx is never cancelled (the usual case for a service's own calls): the hub's close
		// is the only end, so its context serves, with ctx's values. One allocation instead
		// of a cancel context and its close hook (seven).
		return closeOnly{Context: ctx, closing: h.closing}, noStop
	}
	ctx, cancel := context.WithCancelCause(ctx)
	after := context.AfterFunc(h.closing, func() { cancel(ErrClosed) })
	return ctx, func() {
		after()
		cancel(nil)
	}
}

func noStop() {}

// closeOnly is a context with the values of Context that ends when closing does (with its
// error and cause): for a Context that never ends by itself.
type closeOnly struct {
	context.Context
	closing context.Context
}

func (c closeOnly) Done() <-chan struct{} { return c.closing.Done() }

func (c closeOnly) Err() error { return c.closing.Err() }

// Value looks in Context first, then in closing, through which context.Cause finds the
// close's cause (ErrClosed).
func (c closeOnly) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.closing.Value(key)
}
