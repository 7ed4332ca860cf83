package connectortest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ehg/hub/connectors"
)

// Deadlines of the suite's blocking steps. A connector that overruns one fails the test with
// a message naming the step, instead of hanging until the test binary's timeout.
const (
	// StepTimeout bounds one call into the connector (Invoke, Check, List) that the scripted
	// server answers at once, and the wait for a batch of concurrent calls.
	StepTimeout = 30 * time.Second
	// CancelGrace bounds how long a call may keep running after its context is done.
	CancelGrace = 5 * time.Second
)

// within runs fn, one call into the connector named by what, and returns its results. It
// fails the test when the call has not returned StepTimeout after it started or CancelGrace
// after ctx ended, and reports a panic of the call as a failure of the test. A call that
// overran keeps running in the background until the connector gives up; the suite's servers
// release their held requests when the test ends.
func within[T any](t *testing.T, ctx context.Context, what string, fn func() (T, error)) (T, error) {
	t.Helper()
	type result struct {
		v     T
		err   error
		panic any
	}
	ch := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			r.panic = recover()
			ch <- r
		}()
		r.v, r.err = fn()
	}()
	step := time.NewTimer(StepTimeout)
	defer step.Stop()
	var grace <-chan time.Time
	ended := ctx.Done()
	for {
		select {
		case r := <-ch:
			if r.panic != nil {
				t.Fatalf("connector %s panicked: %v", what, r.panic)
			}
			return r.v, r.err
		case <-step.C:
			t.Fatalf("connector %s did not return within %s", what, StepTimeout)
		case <-ended:
			ended = nil
			g := time.NewTimer(CancelGrace)
			defer g.Stop()
			grace = g.C
		case <-grace:
			t.Fatalf("connector ignored context cancellation for %s (%s still running after %v)", CancelGrace, what, context.Cause(ctx))
		}
	}
}

// invoke, check and list are the connector's calls, each under within.
func invoke(t *testing.T, ctx context.Context, c connectors.Connector, r *connectors.Request) (*connectors.Response, error) {
	t.Helper()
	return within(t, ctx, "Invoke", func() (*connectors.Response, error) { return c.Invoke(ctx, r) })
}

func check(t *testing.T, ctx context.Context, c connectors.Connector) error {
	t.Helper()
	_, err := within(t, ctx, "Check", func() (struct{}, error) { return struct{}{}, c.Check(ctx) })
	return err
}

func list(t *testing.T, ctx context.Context, l connectors.Lister, r *connectors.ListRequest) (*connectors.Page, error) {
	t.Helper()
	return within(t, ctx, "List", func() (*connectors.Page, error) { return l.List(ctx, r) })
}

// waitAll waits for wg, failing the test with what when it takes longer than StepTimeout.
func waitAll(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	_, _ = within(t, context.Background(), what, func() (struct{}, error) {
		wg.Wait()
		return struct{}{}, nil
	})
}
