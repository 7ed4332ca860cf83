package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// hubTag marks every request a hub sends with the hub's name, so a remote can tell which
// hub delivered.
type hubTag struct {
	name string
	next http.RoundTripper
}

func (h hubTag) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-Hub", h.name)
	return h.next.RoundTrip(r)
}

// deliveryLog records which hub delivered each idempotency key.
type deliveryLog struct {
	mu sync.Mutex
	by map[string][]string
}

func (d *deliveryLog) handler(w http.ResponseWriter, r *http.Request) {
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		d.mu.Lock()
		d.by[key] = append(d.by[key], r.Header.Get("X-Test-Hub"))
		d.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func (d *deliveryLog) hubs(key string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.by[key]...)
}

// TestRegionPinning runs two hubs on one PostgreSQL store, one pinned to "eu" and one to
// "us" (and the services without a region). Events of services in both regions are accepted
// through both hubs; every event is delivered, and delivered by a hub of its service's
// region. A service moved to another region takes its queued events with it.
func TestRegionPinning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := newSchema(t)
	var key [hub.SecretKeySize]byte
	copy(key[:], "region-test-secret-key-32-bytes!")
	open := func(name string, regions ...string) *hub.Hub {
		st := openPostgres(t, schema)
		client := &http.Client{Timeout: 10 * time.Second, Transport: hubTag{name: name, next: http.DefaultTransport}}
		return hubtest.New(t, st, hub.WithSecretKey(key[:]), hub.WithRegions(regions...), hub.WithHTTPClient(client),
			hub.WithInstanceID(name))
	}
	eu, us := open("eu-hub", "eu"), open("us-hub", "us", "")
	log := &deliveryLog{by: map[string][]string{}}
	remote := httptest.NewServer(http.HandlerFunc(log.handler))
	t.Cleanup(remote.Close)
	region := map[string]string{"crm-eu": "eu", "crm-us": "us", "crm-global": ""}
	for name, r := range region {
		register(t, eu, name, remote.URL, func(c *hub.IntegrationConfig) { c.DataRegion = r })
	}
	want := map[string]string{"eu": "eu-hub", "us": "us-hub", "": "us-hub"}

	const perService = 200
	keys := map[string]string{} // idempotency key -> service
	for i := range perService {
		for name := range region {
			via := eu
			if i%2 == 1 {
				via = us
			}
			k := fmt.Sprintf("%s-%d", name, i)
			_, err := via.ProcessIntegrationEvent(ctx, hub.EventData{Service: name, Mode: hub.Async, IdempotencyKey: k,
				Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
			require.NoError(t, err)
			keys[k] = name
		}
	}
	eventually(t, 60*time.Second, func() bool {
		return countEvents(t, eu.Store(), store.EventFilter{Statuses: []store.EventStatus{store.StatusSucceeded}}) == int64(len(keys))
	}, "every event delivered")
	byHub := map[string]int{}
	for k, name := range keys {
		hubs := log.hubs(k)
		require.NotEmpty(t, hubs, "event %s delivered", k)
		for _, h := range hubs {
			require.Equalf(t, want[region[name]], h, "event %s of %s (region %q) delivered by %s", k, name, region[name], h)
			byHub[h]++
		}
	}
	t.Logf("regions: %d events, deliveries by hub %v", len(keys), byHub)
	assert.Equal(t, perService, byHub["eu-hub"])
	assert.Equal(t, 2*perService, byHub["us-hub"])

	// Moving a service to another region moves its queued events.
	_, err := us.ConfigureService(ctx, "crm-us", hub.ServiceConfig{Active: ptr(false)})
	require.NoError(t, err)
	for i := range 20 {
		_, err := us.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm-us", Mode: hub.Async,
			IdempotencyKey: fmt.Sprintf("moved-%d", i), Payload: json.RawMessage(`{"moved":true}`)})
		require.NoError(t, err)
	}
	_, err = us.ConfigureService(ctx, "crm-us", hub.ServiceConfig{DataRegion: ptr("eu"), Active: ptr(true)})
	require.NoError(t, err)
	eventually(t, 60*time.Second, func() bool {
		for i := range 20 {
			if len(log.hubs(fmt.Sprintf("moved-%d", i))) == 0 {
				return false
			}
		}
		return true
	}, "the moved events are delivered")
	for i := range 20 {
		assert.Equal(t, []string{"eu-hub"}, log.hubs(fmt.Sprintf("moved-%d", i)), "delivered in its new region")
	}
}
