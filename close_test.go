package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// TestCloseLeavesNoHalfWrittenState closes hubs with deliveries in flight: with time to
// finish they are recorded; past the shutdown deadline they are cancelled and released.
// Either way no event is left processing, and a new hub delivers the rest exactly once.
func TestCloseLeavesNoHalfWrittenState(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		shutdown time.Duration
		delay    time.Duration
	}{
		{"in-flight deliveries finish", 5 * time.Second, 200 * time.Millisecond},
		{"deadline cancels the rest", 50 * time.Millisecond, 3 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := memoryStore(t)
			sink := hubtest.NewSink(t)
			sink.SetDelay(tt.delay)
			h, err := hub.New(st, append(hubtest.Fast(), hub.WithWorkers(2), hub.WithShutdownTimeout(tt.shutdown))...)
			require.NoError(t, err)
			require.NoError(t, h.Start(t.Context()))
			register(t, h, "slow", sink.URL, func(c *hub.IntegrationConfig) {
				c.Retry = json.RawMessage(`{"initial_backoff":"5ms","inline_retries":0,"timeout":"10s"}`)
			})
			const n = 10
			for i := range n {
				_, err := h.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "slow", Payload: json.RawMessage(`{}`), IdempotencyKey: fmt.Sprintf("c-%d", i), Mode: hub.Async})
				require.NoError(t, err)
			}
			eventually(t, 5*time.Second, func() bool { return sink.Requests() >= 2 }, "deliveries in flight")
			start := time.Now()
			err = h.Close(context.Background())
			if tt.shutdown < tt.delay {
				require.Error(t, err, "Close reports the cancelled deliveries")
			} else {
				require.NoError(t, err)
			}
			assert.Less(t, time.Since(start), tt.shutdown+2*time.Second)
			_, err = h.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "slow", Payload: json.RawMessage(`{}`)})
			require.ErrorIs(t, err, hub.ErrClosed)

			c, err := st.CountEventsByStatus(t.Context(), store.EventFilter{})
			require.NoError(t, err)
			assert.Zero(t, c[store.StatusProcessing], "nothing left half-done: %v", c)
			assert.EqualValues(t, n, c[store.StatusSucceeded]+c[store.StatusPending]+c[store.StatusRetrying], "%v", c)
			if tt.shutdown > tt.delay {
				assert.EqualValues(t, sink.Total(), c[store.StatusSucceeded], "finished deliveries are recorded")
			}

			sink.SetDelay(0)
			next := hubtest.New(t, st, hub.WithSecretKey(make([]byte, hub.SecretKeySize)))
			_ = next
			eventually(t, 10*time.Second, func() bool {
				c, err := st.CountEventsByStatus(t.Context(), store.EventFilter{})
				return err == nil && c[store.StatusSucceeded] == n
			}, "a new hub delivers the rest")
			for i := range n {
				assert.LessOrEqual(t, sink.Delivered(fmt.Sprintf("c-%d", i)), 1, "delivered once")
			}
		})
	}
}
