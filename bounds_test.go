package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/transform"
)

// runawayMapping never ends on its own within any reasonable time: 2·10⁸ comparisons. The
// inner count is compared with len(xs), not with a constant, so expr's optimizer cannot turn
// it into an any() that stops at the first match.
const runawayMapping = `{"n": "count(xs, count(xs, # >= 0) == len(xs))"}`

func runawayPayload() json.RawMessage {
	var b strings.Builder
	b.WriteString(`{"xs":[`)
	for i := range 14000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, i)
	}
	b.WriteString(`]}`)
	return json.RawMessage(b.String())
}

// TestRunawayMappingStops: a mapping that would run for minutes stops with a typed error
// when the caller's deadline passes, and when the hub closes.
func TestRunawayMappingStops(t *testing.T) {
	t.Parallel()
	payload := runawayPayload()
	for _, how := range []string{"deadline", "close"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			register(t, b.hub, "runaway", b.sink.URL, func(c *hub.IntegrationConfig) { c.Mapping = json.RawMessage(runawayMapping) })
			ctx := t.Context()
			const after = 50 * time.Millisecond
			if how == "deadline" {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, after)
				defer cancel()
			} else {
				time.AfterFunc(after, func() { _ = b.hub.Close(context.Background()) })
			}
			start := time.Now()
			_, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "runaway", Payload: payload, Mode: hub.Async})
			took := time.Since(start)
			t.Logf("%s: stopped after %v (%v past the %v trigger): %v", how, took, max(took-after, 0), after, err)
			if how == "close" {
				// interrupted in a loop, or before a field when Close came before the mapping ran
				require.ErrorIs(t, err, hub.ErrTransform)
				require.ErrorIs(t, err, hub.ErrClosed)
				require.True(t, errors.Is(err, transform.ErrInterrupted) || errors.Is(err, context.Canceled), "%v", err)
			} else {
				// the caller's own deadline: the hub returns the context's error
				require.ErrorIs(t, err, context.DeadlineExceeded)
			}
			require.Less(t, took, time.Minute, "the mapping was not stopped")
			require.False(t, errors.Is(err, hub.ErrInvalidInput))
		})
	}
}
