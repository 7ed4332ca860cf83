package hubtest

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Faults makes a Sink misbehave. Probabilities are in [0, 1] and drawn per request from a
// generator seeded with Seed, so a run is reproducible up to scheduling.
type Faults struct {
	// P500 is the chance of answering 500.
	P500 float64
	// PTimeout is the chance of stalling for Stall before answering 504 — longer than the
	// caller's attempt timeout, so the caller sees a timeout.
	PTimeout float64
	Stall    time.Duration
	// P429 is the chance of answering 429 with Retry-After: RetryAfter (whole seconds,
	// rounded up; "1" when RetryAfter is below a second and RetryAfterMS is false).
	P429       float64
	RetryAfter time.Duration
	// ThrottleEvery, when positive, opens a throttle window after every ThrottleEvery
	// successful deliveries: for RetryAfter, every request is answered 429 with
	// Retry-After, as a remote whose quota ran out would.
	ThrottleEvery int
	Seed          uint64
}

// Sink is an HTTP endpoint standing in for a remote service. It accepts every request
// (200 with {"ok":true}) unless told to fail, and counts successful deliveries by their
// Idempotency-Key header (requests without one, such as health probes, are answered but
// not counted as deliveries). Safe for concurrent use.
type Sink struct {
	// URL is the sink's base URL.
	URL string

	srv *httptest.Server

	mu             sync.Mutex
	delivered      map[string]int
	order          []string
	bodies         map[string][]byte
	faults         Faults
	rng            *rand.Rand
	status         int // fail every request with this status when non-zero
	throttledUntil time.Time
	sinceThrottle  int
	windows        int
	firstInWindow  bool
	inflight       map[string]int

	requests                atomic.Int64
	failures                atomic.Int64
	r429                    atomic.Int64
	r429After               atomic.Int64
	timeouts                atomic.Int64
	delay                   atomic.Int64 // per-request handling delay in ns
	concurrent              atomic.Int64
	duplicatesWhileInflight atomic.Int64
}

// NewSink starts a sink and closes it when the test ends.
func NewSink(tb testing.TB) *Sink {
	tb.Helper()
	s := &Sink{delivered: map[string]int{}, bodies: map[string][]byte{}, inflight: map[string]int{}, rng: rand.New(rand.NewPCG(1, 2))}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// SetFaults replaces the random faults.
func (s *Sink) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
}

// FailWith makes every request answer status (0 restores normal service).
func (s *Sink) FailWith(status int) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

// SetDelay makes every request take d before it is answered.
func (s *Sink) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	key := r.Header.Get("Idempotency-Key")
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	if key != "" {
		if s.inflight[key] > 0 {
			s.duplicatesWhileInflight.Add(1)
		}
		s.inflight[key]++
	}
	status := s.status
	f := s.faults
	throttled := time.Now().Before(s.throttledUntil)
	first := false
	if throttled && s.firstInWindow {
		first, s.firstInWindow = true, false
	}
	var roll float64
	if f.P500+f.PTimeout+f.P429 > 0 {
		roll = s.rng.Float64()
	}
	s.mu.Unlock()
	defer func() {
		if key != "" {
			s.mu.Lock()
			s.inflight[key]--
			s.mu.Unlock()
		}
	}()
	if d := time.Duration(s.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return // the caller gave up: not a delivery
		}
	}
	switch {
	case throttled:
		s.failures.Add(1)
		s.r429.Add(1)
		if !first {
			s.r429After.Add(1)
		}
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		w.WriteHeader(http.StatusTooManyRequests)
		return
	case status != 0:
		s.failures.Add(1)
		if status == http.StatusTooManyRequests {
			s.r429.Add(1)
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
		return
	case roll < f.P500:
		s.failures.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		return
	case roll < f.P500+f.PTimeout:
		s.failures.Add(1)
		s.timeouts.Add(1)
		select {
		case <-r.Context().Done():
		case <-time.After(f.Stall):
		}
		w.WriteHeader(http.StatusGatewayTimeout)
		return
	case roll < f.P500+f.PTimeout+f.P429:
		s.failures.Add(1)
		s.r429.Add(1)
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	s.mu.Lock()
	if f.ThrottleEvery > 0 {
		s.sinceThrottle++
		if s.sinceThrottle >= f.ThrottleEvery {
			s.sinceThrottle = 0
			s.windows++
			s.throttledUntil = time.Now().Add(f.RetryAfter)
			s.firstInWindow = true
		}
	}
	if key != "" { // probes (a connector's Check) carry no key and are not deliveries
		s.delivered[key]++
		s.order = append(s.order, key)
		if _, ok := s.bodies[key]; !ok {
			s.bodies[key] = body
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

// Delivered returns how many times the key was delivered successfully.
func (s *Sink) Delivered(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered[key]
}

// Order returns the idempotency keys of successful deliveries in the order they arrived.
func (s *Sink) Order() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order...)
}

// Body returns the first body delivered with the key.
func (s *Sink) Body(key string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies[key]
}

// Counts returns a copy of the successful deliveries by idempotency key.
func (s *Sink) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.delivered))
	for k, v := range s.delivered {
		out[k] = v
	}
	return out
}

// Unique returns how many distinct keys were delivered.
func (s *Sink) Unique() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.delivered)
}

// Total returns the number of successful deliveries.
func (s *Sink) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.delivered {
		n += v
	}
	return n
}

// Requests returns how many requests arrived, probes included.
func (s *Sink) Requests() int64 { return s.requests.Load() }

// Failures returns how many requests were answered with an error status.
func (s *Sink) Failures() int64 { return s.failures.Load() }

// RateLimited returns how many requests were answered 429.
func (s *Sink) RateLimited() int64 { return s.r429.Load() }

// Timeouts returns how many requests were stalled to provoke a caller timeout.
func (s *Sink) Timeouts() int64 { return s.timeouts.Load() }

// ThrottleWindows returns how many throttle windows opened, and RateLimitedAfterFirst how
// many 429s were answered in a window after its first one (what a well-behaved client keeps
// small by pausing on the first).
func (s *Sink) ThrottleWindows() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.windows
}

// RateLimitedAfterFirst: see ThrottleWindows.
func (s *Sink) RateLimitedAfterFirst() int64 { return s.r429After.Load() }

// ConcurrentDuplicates counts requests that arrived while another request with the same
// idempotency key was still being handled (a double delivery under a held lease would
// show here).
func (s *Sink) ConcurrentDuplicates() int64 { return s.duplicatesWhileInflight.Load() }
