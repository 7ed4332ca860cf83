package connectortest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
)

// Factory builds the connector under test. cfg arrives with BaseURL (the scripted
// server), HTTPClient and MaxResponseBytes set; the factory adds the connector's Auth
// and Options and must fail the test (not return nil) when it cannot build one.
type Factory func(t *testing.T, cfg connectors.Config) connectors.Connector

// Features describes the connector's vendor to the suite. The zero value suits a
// plain JSON REST connector.
type Features struct {
	// Secrets lists every credential the factory configured (tokens, passwords,
	// client secrets). No error text may contain one of them.
	Secrets []string
	// Request returns the request sent by the Invoke checks; nil sends the default
	// operation with the body {"text":"conformance"}. The suite sets IdempotencyKey.
	Request func() *connectors.Request
	// Success writes the vendor's success response for any request (Invoke, Check
	// and List); nil writes 200 with {"ok":true,"id":"1"}.
	Success http.HandlerFunc
	// IdempotencyHeader is the request header expected to carry the idempotency
	// key; "" means connectors.IdempotencyKeyHeader.
	IdempotencyHeader string
}

// LimitBytes is the Config.MaxResponseBytes the suite configures; its success
// responses stay well under it and the oversized one is four times larger.
const LimitBytes = 4096

const idempotencyKey = "conformance-idem-7f3a"

// Run runs the conformance suite as subtests of t. Subtests run in parallel.
func Run(t *testing.T, newConn Factory, f Features) {
	t.Helper()
	s := &suite{newConn: newConn, f: f}
	if s.f.Success == nil {
		s.f.Success = func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true,"id":"1"}`))
		}
	}
	if s.f.IdempotencyHeader == "" {
		s.f.IdempotencyHeader = connectors.IdempotencyKeyHeader
	}
	t.Run("Info", s.testInfo)
	t.Run("NilRequest", s.testNilRequest)
	t.Run("Success", s.testSuccess)
	t.Run("StatusClasses", s.testStatusClasses)
	t.Run("ConnectionRefused", s.testRefused)
	t.Run("ConnectionReset", s.testReset)
	t.Run("Cancel", s.testCancel)
	t.Run("Deadline", s.testDeadline)
	t.Run("IdempotencyKey", s.testIdempotencyKey)
	t.Run("BodyLimit", s.testBodyLimit)
	t.Run("Check", s.testCheck)
	t.Run("Concurrent", s.testConcurrent)
	// The Lister checks belong to connectors that list; for the others there is nothing to
	// check (not a skipped test).
	if probe, _ := s.start(t, s.f.Success); isLister(probe) {
		t.Run("Lister", s.testLister)
	}
}

type suite struct {
	newConn Factory
	f       Features
}

// start serves h on a loopback httptest server and builds the connector against it.
func (s *suite) start(t *testing.T, h http.HandlerFunc) (connectors.Connector, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return s.build(t, srv.URL, srv.Client()), srv
}

func (s *suite) build(t *testing.T, baseURL string, client *http.Client) connectors.Connector {
	t.Helper()
	c := s.newConn(t, connectors.Config{
		Name:             "conformance",
		BaseURL:          baseURL,
		HTTPClient:       client,
		MaxResponseBytes: LimitBytes,
	})
	require.NotNil(t, c, "factory returned a nil connector")
	return c
}

func (s *suite) request() *connectors.Request {
	var r *connectors.Request
	if s.f.Request != nil {
		r = s.f.Request()
	} else {
		r = &connectors.Request{Body: json.RawMessage(`{"text":"conformance"}`)}
	}
	r.IdempotencyKey = idempotencyKey
	return r
}

// errorHandler answers every request with status and a JSON body that echoes the
// request's credentials, so connectors that quote vendor messages must redact them.
func errorHandler(status int, header http.Header) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, vs := range header {
			w.Header()[k] = vs
		}
		echo := "request " + r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery + " authorization=" + r.Header.Get("Authorization")
		body, _ := json.Marshal(map[string]any{
			"ok":      false,
			"error":   "conformance_error",
			"message": echo,
		})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

func (s *suite) noSecrets(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	text := err.Error()
	for _, sec := range s.f.Secrets {
		if sec != "" {
			assert.NotContains(t, text, sec, "error text contains a configured secret")
		}
	}
}

func (s *suite) testInfo(t *testing.T) {
	t.Parallel()
	c, _ := s.start(t, s.f.Success)
	info := c.Info()
	assert.NotEmpty(t, info.Kind, "Info().Kind")
	assert.NotEmpty(t, info.DefaultOperation, "Info().DefaultOperation: the hub invokes events without naming an operation")
	for _, sec := range s.f.Secrets {
		if sec != "" {
			assert.NotContains(t, info.BaseURL, sec)
		}
	}
}

func (s *suite) testNilRequest(t *testing.T) {
	t.Parallel()
	c, _ := s.start(t, s.f.Success)
	_, err := invoke(t, t.Context(), c, nil)
	require.ErrorIs(t, err, connectors.ErrBadRequest)
	require.ErrorIs(t, err, connectors.ErrPermanent)
}

func (s *suite) testSuccess(t *testing.T) {
	t.Parallel()
	c, _ := s.start(t, s.f.Success)
	resp, err := invoke(t, t.Context(), c, s.request())
	require.NoError(t, err)
	require.NotNil(t, resp)
	assert.GreaterOrEqual(t, resp.StatusCode, 200)
	assert.Less(t, resp.StatusCode, 300)
}

func (s *suite) testStatusClasses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status    int
		sentinel  error
		permanent bool
		header    http.Header
		delay     time.Duration
	}{
		{status: 500, sentinel: connectors.ErrTransient},
		{status: 502, sentinel: connectors.ErrTransient},
		{status: 503, sentinel: connectors.ErrTransient},
		{status: 504, sentinel: connectors.ErrTransient},
		{status: 408, sentinel: connectors.ErrTransient},
		{status: 400, sentinel: connectors.ErrPermanent, permanent: true},
		{status: 404, sentinel: connectors.ErrPermanent, permanent: true},
		{status: 409, sentinel: connectors.ErrPermanent, permanent: true},
		{status: 422, sentinel: connectors.ErrPermanent, permanent: true},
		{status: 401, sentinel: connectors.ErrAuth, permanent: true},
		{status: 403, sentinel: connectors.ErrAuth, permanent: true},
		{status: 429, sentinel: connectors.ErrRateLimited, header: http.Header{"Retry-After": {"7"}}, delay: 7 * time.Second},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			t.Parallel()
			c, _ := s.start(t, errorHandler(tc.status, tc.header))
			_, err := invoke(t, t.Context(), c, s.request())
			require.Error(t, err)
			s.noSecrets(t, err)
			require.ErrorIs(t, err, tc.sentinel)
			var ce *connectors.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.status, ce.StatusCode)
			assert.Equal(t, tc.permanent, ce.Permanent(), "Permanent()")
			assert.Equal(t, !tc.permanent, ce.Retryable(), "Retryable()")
			assert.Equal(t, tc.status == 429, ce.RateLimited(), "RateLimited()")
			if tc.delay > 0 {
				assert.Equal(t, tc.delay, ce.RetryAfter())
			}
		})
	}
}

func (s *suite) testRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c := s.build(t, "http://"+addr, &http.Client{})
	_, err = invoke(t, t.Context(), c, s.request())
	require.ErrorIs(t, err, connectors.ErrTransient)
	s.noSecrets(t, err)
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.True(t, ce.Retryable())
}

func (s *suite) testReset(t *testing.T) {
	t.Parallel()
	c, _ := s.start(t, func(w http.ResponseWriter, _ *http.Request) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "cannot hijack", http.StatusInternalServerError)
			return
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			return
		}
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0) // close with RST
		}
		_ = conn.Close()
	})
	_, err := invoke(t, t.Context(), c, s.request())
	require.ErrorIs(t, err, connectors.ErrTransient)
	s.noSecrets(t, err)
}

// startHolding starts a server whose handler blocks each request until the client
// goes away or the test ends, reporting arrival on arrived (when not nil).
func (s *suite) startHolding(t *testing.T, arrived chan<- struct{}) connectors.Connector {
	done := make(chan struct{})
	c, _ := s.start(t, func(_ http.ResponseWriter, r *http.Request) {
		if arrived != nil {
			select {
			case arrived <- struct{}{}:
			default:
			}
		}
		select {
		case <-r.Context().Done():
		case <-done:
		}
	})
	// Registered after start, so it runs before the server's Close waits for handlers.
	t.Cleanup(func() { close(done) })
	return c
}

func (s *suite) testCancel(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	c := s.startHolding(t, arrived)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
		}
		cancel()
	}()
	_, err := invoke(t, ctx, c, s.request())
	require.ErrorIs(t, err, context.Canceled)
	s.noSecrets(t, err)
}

func (s *suite) testDeadline(t *testing.T) {
	t.Parallel()
	c := s.startHolding(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := invoke(t, ctx, c, s.request())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	s.noSecrets(t, err)
}

func (s *suite) testIdempotencyKey(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		seen []string
	)
	c, _ := s.start(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get(s.f.IdempotencyHeader))
		mu.Unlock()
		s.f.Success(w, r)
	})
	_, err := invoke(t, t.Context(), c, s.request())
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, seen)
	assert.Equal(t, idempotencyKey, seen[len(seen)-1], "idempotency key not forwarded in %s", s.f.IdempotencyHeader)
}

func (s *suite) testBodyLimit(t *testing.T) {
	t.Parallel()
	big := `{"ok":true,"id":"1","padding":"` + strings.Repeat("x", 4*LimitBytes) + `"}`
	c, _ := s.start(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(big))
	})
	_, err := invoke(t, t.Context(), c, s.request())
	require.ErrorIs(t, err, connectors.ErrResponseTooLarge)
	s.noSecrets(t, err)
}

func (s *suite) testCheck(t *testing.T) {
	t.Parallel()
	t.Run("ok", func(t *testing.T) {
		t.Parallel()
		c, _ := s.start(t, s.f.Success)
		require.NoError(t, check(t, t.Context(), c))
	})
	for status, sentinel := range map[int]error{401: connectors.ErrAuth, 503: connectors.ErrTransient} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			c, _ := s.start(t, errorHandler(status, nil))
			err := check(t, t.Context(), c)
			require.ErrorIs(t, err, sentinel)
			s.noSecrets(t, err)
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		c := s.startHolding(t, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, check(t, ctx, c), context.DeadlineExceeded)
	})
}

func (s *suite) testConcurrent(t *testing.T) {
	t.Parallel()
	c, _ := s.start(t, s.f.Success)
	const n = 16
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := invoke(t, t.Context(), c, s.request())
			errs <- err
		}()
	}
	waitAll(t, &wg, fmt.Sprintf("%d concurrent Invoke calls", n))
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func isLister(c connectors.Connector) bool {
	_, ok := c.(connectors.Lister)
	return ok
}

func (s *suite) testLister(t *testing.T) {
	t.Parallel()
	t.Run("503", func(t *testing.T) {
		t.Parallel()
		c, _ := s.start(t, errorHandler(503, nil))
		_, err := list(t, t.Context(), c.(connectors.Lister), &connectors.ListRequest{})
		require.ErrorIs(t, err, connectors.ErrTransient)
		s.noSecrets(t, err)
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		c := s.startHolding(t, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := list(t, ctx, c.(connectors.Lister), &connectors.ListRequest{})
		require.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	})
}
