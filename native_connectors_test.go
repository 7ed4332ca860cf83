package hub_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// TestNativeConnectorBucketThroughHub delivers through the built-in "discord" connector
// to a webhook whose bucket holds one message per 300 ms: every event is delivered, no
// request arrives before the bucket's X-RateLimit-Reset-After has passed, and the waits
// are not counted as failed attempts.
func TestNativeConnectorBucketThroughHub(t *testing.T) {
	t.Parallel()
	const resetAfter = 300 * time.Millisecond
	var (
		mu       sync.Mutex
		arrivals []time.Time
		early    int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if n := len(arrivals); n > 0 && now.Sub(arrivals[n-1]) < resetAfter {
			early++ // Discord would answer 429 here
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"message":"You are being rate limited.","retry_after":0.3,"global":false}`))
			return
		}
		arrivals = append(arrivals, now)
		w.Header().Set("X-RateLimit-Bucket", "abcd1234")
		w.Header().Set("X-RateLimit-Limit", "1")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset-After", strconv.FormatFloat(resetAfter.Seconds(), 'f', 3, 64))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"11000000000000000` + strconv.Itoa(len(arrivals)) + `","channel_id":"555"}`))
	}))
	t.Cleanup(srv.Close)
	h := hubtest.New(t, nil)
	register(t, h, "alerts", srv.URL+"/api/v10", func(c *hub.IntegrationConfig) {
		c.Connector = "discord"
		c.Auth = json.RawMessage(`{"webhook_id":"123456789012345678","webhook_token":"tok-SECRET"}`)
		c.ConnectorOptions = json.RawMessage(`{"username":"Integration Hub"}`)
	})
	var ids []string
	for i := range 3 {
		res, err := h.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "alerts", Mode: hub.Async,
			Payload: json.RawMessage(`{"title":"Disk full ` + strconv.Itoa(i) + `","status":"todo","priority":"high"}`)})
		require.NoError(t, err)
		ids = append(ids, res.EventID)
	}
	eventually(t, 20*time.Second, func() bool {
		for _, id := range ids {
			if statusOf(t, h.Store(), id) != store.StatusSucceeded {
				return false
			}
		}
		return true
	}, "every event delivered")
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, arrivals, 3)
	assert.Zero(t, early, "no request before the bucket reset")
	for _, id := range ids {
		ev, err := h.Store().GetEvent(t.Context(), id)
		require.NoError(t, err)
		assert.Zero(t, ev.RetryCount, "waiting for the bucket is not a failed attempt")
		assert.NotContains(t, string(ev.ErrorDetails), "tok-SECRET")
	}
}
