package resilience_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/resilience"
)

// endpointServer is an httptest server that can be taken down (503) and brought back.
type endpointServer struct {
	*httptest.Server
	down atomic.Bool
	hits atomic.Int32
}

func newEndpointServer(t *testing.T) *endpointServer {
	s := &endpointServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		if s.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

func TestFailover(t *testing.T) {
	t.Parallel()
	primary, backup := newEndpointServer(t), newEndpointServer(t)
	cfg := testConfig()
	cfg.CircuitBreaker.FailureThreshold = 2
	cfg.CircuitBreaker.RecoveryTimeout = resilience.Duration(300 * time.Millisecond)
	p := newPolicy(t, cfg, resilience.Options{Name: "crm", Endpoints: []string{primary.URL, backup.URL}})
	rec := &recorder{}
	defer p.OnStateChange(rec.add)()
	clock := newVirtualClock()

	call := func() (string, error) {
		var used string
		_, err := resilience.Execute(t.Context(), p, func(ctx context.Context, endpoint string) (*httpResult, error) {
			used = endpoint
			return get(ctx, primary.Client(), clock, endpoint)
		})
		return used, err
	}

	// Healthy: everything goes to the primary.
	for range 3 {
		ep, err := call()
		require.NoError(t, err)
		assert.Equal(t, primary.URL, ep)
	}
	assert.Zero(t, backup.hits.Load())

	// Primary down: its failure comes back until its breaker opens; the failure that opens it
	// moves on to the backup at once.
	primary.down.Store(true)
	_, err := call()
	var ae *apiError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusServiceUnavailable, ae.status)
	ep, err := call()
	require.NoError(t, err)
	assert.Equal(t, backup.URL, ep)
	primaryBreaker, err := p.Breaker(primary.URL)
	require.NoError(t, err)
	assert.Equal(t, resilience.StateOpen, primaryBreaker.State())
	hitsWhileOpen := primary.hits.Load()
	for range 5 {
		ep, err := call()
		require.NoError(t, err)
		assert.Equal(t, backup.URL, ep)
	}
	assert.Equal(t, hitsWhileOpen, primary.hits.Load(), "no traffic to an open primary")
	assert.True(t, p.Allows(), "the backup still accepts calls")

	// Still down at the probe: the probe fails, the call itself falls over to the backup.
	require.Eventually(t, primaryBreaker.Permits, 2*time.Second, time.Millisecond)
	ep, err = call()
	require.NoError(t, err)
	assert.Equal(t, backup.URL, ep)
	assert.Equal(t, hitsWhileOpen+1, primary.hits.Load(), "one probe reached the primary")
	assert.Equal(t, resilience.StateOpen, primaryBreaker.State())

	// Primary back: after the recovery timeout the probe succeeds and traffic returns.
	primary.down.Store(false)
	require.Eventually(t, primaryBreaker.Permits, 2*time.Second, time.Millisecond)
	backupHits := backup.hits.Load()
	for range 3 {
		ep, err := call()
		require.NoError(t, err)
		assert.Equal(t, primary.URL, ep)
	}
	assert.Equal(t, resilience.StateClosed, primaryBreaker.State())
	assert.Equal(t, backupHits, backup.hits.Load())

	rec.mu.Lock()
	defer rec.mu.Unlock()
	var primaryTransitions []string
	for _, e := range rec.events {
		if e.Endpoint == primary.URL {
			primaryTransitions = append(primaryTransitions, e.From.String()+"->"+e.To.String())
		}
	}
	assert.Equal(t, []string{"closed->open", "open->half-open", "half-open->open", "open->half-open", "half-open->closed"}, primaryTransitions)
}

func TestAllEndpointsOpen(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.CircuitBreaker.FailureThreshold = 1
	cfg.CircuitBreaker.RecoveryTimeout = resilience.Duration(time.Minute)
	p := newPolicy(t, cfg, resilience.Options{Endpoints: []string{"a", "b"}})
	var calls atomic.Int32
	fail := counting(&calls, func() error { return &transientErr{500} })

	// a fails and opens, the call moves on to b, which fails and opens too: b's error returns.
	_, err := resilience.Execute(t.Context(), p, fail)
	require.ErrorAs(t, err, new(*transientErr))
	assert.Equal(t, int32(2), calls.Load())

	_, err = resilience.Execute(t.Context(), p, fail)
	var rej *resilience.RejectedError
	require.ErrorAs(t, err, &rej)
	require.ErrorIs(t, err, resilience.ErrCircuitOpen)
	assert.InDelta(t, float64(time.Minute), float64(rej.Wait), float64(time.Second))
	assert.Equal(t, int32(2), calls.Load())
	assert.False(t, p.Allows())
	assert.InDelta(t, float64(time.Minute), float64(p.Ready()), float64(time.Second))
	assert.Equal(t, rej.Wait, p.NextBackoff(1, err))
}

func TestStatus(t *testing.T) {
	t.Parallel()
	clock := newVirtualClock()
	cfg := testConfig()
	cfg.CircuitBreaker.FailureThreshold = 1
	cfg.CircuitBreaker.RecoveryTimeout = resilience.Duration(time.Minute)
	p := newPolicy(t, cfg, resilience.Options{Name: "erp", Clock: clock, Endpoints: []string{"a", "b"}})
	var calls atomic.Int32
	_, err := resilience.Execute(t.Context(), p, func(_ context.Context, endpoint string) (int, error) {
		calls.Add(1)
		if endpoint == "a" {
			return 0, &transientErr{500}
		}
		return 1, nil
	})
	require.NoError(t, err)
	p.Observe(http.StatusOK, http.Header{"X-Ratelimit-Limit": {"50"}, "X-Ratelimit-Remaining": {"20"}})
	p.Breakers()[1].ForceOpen()

	s := p.Status()
	assert.Equal(t, "erp", s.Service)
	require.Len(t, s.Endpoints, 2)
	assert.Equal(t, resilience.StateOpen, s.Endpoints[0].State)
	assert.False(t, s.Endpoints[0].Forced)
	assert.Positive(t, s.Endpoints[0].RemainingDelay)
	assert.Equal(t, uint(1), s.Endpoints[0].Metrics.Failures)
	assert.Equal(t, resilience.StateOpen, s.Endpoints[1].State)
	assert.True(t, s.Endpoints[1].Forced)
	assert.Equal(t, 50, s.Headroom.Limit)
	assert.Equal(t, 20, s.Headroom.Remaining)
	assert.Positive(t, s.Ready)
}

// TestLogsNameHostOnly: breaker transitions log the service and the endpoint's host, never
// the path or query, which hold the credential of incoming webhook URLs.
func TestLogsNameHostOnly(t *testing.T) {
	t.Parallel()
	const secret = "XyZ-webhook-secret-0042"
	var buf syncBuffer
	eps := []string{"https://hooks.example.com/services/T0/B0/" + secret, "https://backup.example.com/hook?token=" + secret}
	p := newPolicy(t, testConfig(), resilience.Options{Name: "alerts", Endpoints: eps, Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	p.ForceOpen()
	p.ForceClose()
	_, err := resilience.Execute(t.Context(), p, func(context.Context, string) (int, error) { return 0, nil })
	require.NoError(t, err)
	out := buf.String()
	require.Contains(t, out, "host=https://hooks.example.com")
	require.Contains(t, out, "host=https://backup.example.com")
	require.NotContains(t, out, secret)
	rej := &resilience.RejectedError{Reason: resilience.ErrCircuitOpen, Endpoint: eps[0]}
	require.NotContains(t, rej.Error(), secret)
	require.Equal(t, "https://hooks.example.com", resilience.Host(eps[0]))
	require.Equal(t, "(unparsable endpoint)", resilience.Host("::"))
	require.Empty(t, resilience.Host(""))
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
