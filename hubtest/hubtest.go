// Package hubtest helps test code that embeds the Integration Hub: a hub on the in-memory
// store that stops with the test, and Sink, an HTTP endpoint standing in for a remote
// service that counts deliveries by idempotency key and can fail on demand (fixed status,
// random 5xx, timeouts, 429 with Retry-After).
package hubtest

import (
	"context"
	"crypto/rand"
	"net/netip"
	"testing"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/store"
)

// Fast returns options for tests: 4 workers, 10 ms polling, 100 ms maintenance, a 10 s lease,
// a random secret key, a short shutdown, and loopback destinations allowed (AllowLoopback) so
// the hub reaches local stand-ins. Later options override them.
func Fast() []hub.Option {
	key := make([]byte, hub.SecretKeySize)
	_, _ = rand.Read(key)
	return []hub.Option{
		hub.WithWorkers(4),
		hub.WithPollInterval(10 * time.Millisecond),
		hub.WithMaintenanceInterval(100 * time.Millisecond),
		hub.WithLease(10 * time.Second),
		hub.WithSecretKey(key),
		hub.WithShutdownTimeout(5 * time.Second),
		AllowLoopback(),
	}
}

// New returns a started hub on st (the in-memory store when nil) with Fast options followed
// by opts. It fails the test on error and closes the hub when the test ends.
func New(tb testing.TB, st store.Store, opts ...hub.Option) *hub.Hub {
	tb.Helper()
	h, err := hub.New(st, append(Fast(), opts...)...)
	if err != nil {
		tb.Fatalf("hubtest: new hub: %v", err)
	}
	if err := h.Start(context.Background()); err != nil {
		tb.Fatalf("hubtest: start hub: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			tb.Errorf("hubtest: close hub: %v", err)
		}
	})
	return h
}

// FastRetry is a retry_config for tests: 5 ms initial backoff growing to 50 ms, no inline
// retries, 30 s attempt timeout — long enough that a healthy call is never timed out (and
// so delivered twice) on a machine busy with other work.
const FastRetry = `{"initial_backoff":"5ms","max_backoff":"50ms","multiplier":2,"jitter":0.2,"inline_retries":0,"timeout":"30s"}`

// Unlimited is a rate_limits document without ceilings, for throughput tests.
const Unlimited = `{"requests_per_minute":0,"adaptive":true,"max_concurrent":0}`

// Loopback returns the loopback prefixes, 127.0.0.0/8 and ::1/128, where httptest servers
// and Sink listen.
func Loopback() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// AllowLoopback opens the hub's destination guard to loopback addresses, so that it
// delivers to local stand-ins (httptest servers, Sink). Fast includes it; add it when
// building a hub with hub.New directly for tests. Production hubs never need it.
func AllowLoopback() hub.Option { return hub.WithAllowedNetworks(Loopback()...) }
