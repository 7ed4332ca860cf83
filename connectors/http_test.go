package connectors_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
)

func TestParseBaseURL(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "ftp://x", "/relative", "http://", "https://u:p@host", "https://h/?q=1", "://"} {
		_, err := connectors.ParseBaseURL(bad)
		require.ErrorIs(t, err, connectors.ErrInvalidConfig, bad)
		assert.NotContains(t, err.Error(), ":p@", "credentials quoted")
	}
	b, err := connectors.ParseBaseURL("https://ghe.example.com/api/v3/")
	require.NoError(t, err)
	assert.Equal(t, "https://ghe.example.com/api/v3", b.String())
	assert.Equal(t, "https://ghe.example.com/api/v3/repos/o/r?a=1", b.Join("repos/o/r", url.Values{"a": {"1"}}))
	assert.False(t, b.IsZero())
	assert.True(t, connectors.BaseURL{}.IsZero())

	got, err := b.Resolve("/api/v3/next?page=2")
	require.NoError(t, err)
	assert.Equal(t, "https://ghe.example.com/api/v3/next?page=2", got)
	_, err = b.Resolve("https://evil.example.net/steal")
	require.ErrorIs(t, err, connectors.ErrForeignURL)
	_, err = b.Resolve("http://ghe.example.com/downgrade")
	require.ErrorIs(t, err, connectors.ErrForeignURL)
}

func TestNewJSONRequest(t *testing.T) {
	t.Parallel()
	req, err := connectors.NewJSONRequest(t.Context(), "op", http.MethodPost, "http://127.0.0.1/x", []byte(`{"a":1}`),
		http.Header{"Authorization": {"Bearer stolen"}, "X-Extra": {"v"}}, "key-1", "hub/1")
	require.NoError(t, err)
	assert.Empty(t, req.Header.Get("Authorization"))
	assert.Equal(t, "v", req.Header.Get("X-Extra"))
	assert.Equal(t, "key-1", req.Header.Get(connectors.IdempotencyKeyHeader))
	assert.Equal(t, "hub/1", req.Header.Get("User-Agent"))
	assert.Contains(t, req.Header.Get("Content-Type"), "application/json")

	_, err = connectors.NewJSONRequest(t.Context(), "op", http.MethodPost, "http://127.0.0.1/x", []byte(`{nope`), nil, "", "")
	require.ErrorIs(t, err, connectors.ErrBadRequest)
	require.ErrorIs(t, err, connectors.ErrPermanent)
}

func TestDoBoundsBodyAndClassifies(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(strings.Repeat("x", 2048)))
		case "/chunked":
			for range 4 {
				_, _ = w.Write([]byte(strings.Repeat("y", 512)))
				w.(http.Flusher).Flush()
			}
		case "/hang":
			<-r.Context().Done()
		default:
			_, _ = w.Write([]byte(`{"ok":true}`))
		}
	}))
	t.Cleanup(srv.Close)
	do := func(ctx context.Context, path string) (*connectors.HTTPResult, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		return connectors.Do(ctx, srv.Client(), "test.op", req, 1024)
	}
	res, err := do(t.Context(), "/ok")
	require.NoError(t, err)
	assert.True(t, res.OK())
	assert.JSONEq(t, `{"ok":true}`, string(res.Body))

	for _, p := range []string{"/big", "/chunked"} {
		_, err = do(t.Context(), p)
		require.ErrorIs(t, err, connectors.ErrResponseTooLarge, p)
		require.ErrorIs(t, err, connectors.ErrPermanent, p)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err = do(ctx, "/hang")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var ce *connectors.Error
	assert.NotErrorAs(t, err, &ce, "context errors are not remote failures")
}

func TestTransportErrorRefusedDropsURL(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/hooks/T0/B0/SECRETPATH", nil)
	require.NoError(t, err)
	_, err = connectors.Do(t.Context(), nil, "test.op", req, 0)
	require.ErrorIs(t, err, connectors.ErrTransient)
	assert.NotContains(t, err.Error(), "SECRETPATH")
}

func TestSafeHeader(t *testing.T) {
	t.Parallel()
	h := http.Header{"Set-Cookie": {"sid=SECRET"}, "X-Ratelimit-Remaining": {"0"}}
	safe := connectors.SafeHeader(h)
	assert.Empty(t, safe.Get("Set-Cookie"))
	assert.Equal(t, "0", safe.Get("X-Ratelimit-Remaining"))
	assert.Equal(t, "sid=SECRET", h.Get("Set-Cookie"), "the original is not modified")
	plain := http.Header{"A": {"b"}}
	e := connectors.StatusError("op", &connectors.HTTPResult{StatusCode: 500, Header: h}, "", "", time.Now())
	assert.Empty(t, e.Header.Get("Set-Cookie"))
	assert.Equal(t, plain, connectors.SafeHeader(plain))
}

func TestCheckCursor(t *testing.T) {
	t.Parallel()
	require.NoError(t, connectors.CheckCursor("op", "", ""))
	require.NoError(t, connectors.CheckCursor("op", "", "a"))
	require.NoError(t, connectors.CheckCursor("op", "a", "b"))
	require.NoError(t, connectors.CheckCursor("op", "a", ""))
	err := connectors.CheckCursor("op", "a", "a")
	require.ErrorIs(t, err, connectors.ErrStuckCursor)
	require.ErrorIs(t, err, connectors.ErrPermanent)
}
