package oauthtoken

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/ehg/hub/connectors"
)

func TestCacheFetchesOnceUnderConcurrency(t *testing.T) {
	t.Parallel()
	var fetches atomic.Int32
	release := make(chan struct{})
	c := New(func(ctx context.Context, prev *oauth2.Token) (*oauth2.Token, error) {
		fetches.Add(1)
		<-release
		require.Equal(t, "r1", prev.RefreshToken)
		return &oauth2.Token{AccessToken: "new", Expiry: time.Now().Add(time.Hour)}, nil
	}, &oauth2.Token{AccessToken: "old", RefreshToken: "r1", Expiry: time.Now().Add(-time.Minute)}, nil)

	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := c.Token(t.Context())
			assert.NoError(t, err)
			assert.Equal(t, "new", tok.AccessToken)
			assert.Equal(t, "r1", tok.RefreshToken, "refresh token retained")
		}()
	}
	time.Sleep(10 * time.Millisecond)
	close(release)
	wg.Wait()
	assert.EqualValues(t, 1, fetches.Load())

	c.Invalidate("someone-else")
	_, _ = c.Token(t.Context())
	assert.EqualValues(t, 1, fetches.Load(), "invalidating another token keeps the cache")
}

func TestCacheInvalidateAndWaitCancel(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	block := make(chan struct{})
	c := New(func(ctx context.Context, _ *oauth2.Token) (*oauth2.Token, error) {
		if n.Add(1) == 2 {
			<-block
		}
		return &oauth2.Token{AccessToken: "t" + string(rune('0'+n.Load()))}, nil
	}, nil, nil)
	tok, err := c.Token(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "t1", tok.AccessToken)
	c.Invalidate("t1")

	go func() { _, _ = c.Token(context.Background()) }() // second fetch, blocked
	require.Eventually(t, func() bool { return n.Load() == 2 }, time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err = c.Token(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	close(block)
}

func TestClassifyError(t *testing.T) {
	t.Parallel()
	re := &oauth2.RetrieveError{
		Response:         &http.Response{StatusCode: 400, Header: http.Header{}},
		ErrorCode:        "invalid_grant",
		ErrorDescription: "bad refresh token SECRET-RT",
	}
	err := ClassifyError(t.Context(), "sf.token", re, "SECRET-RT")
	require.ErrorIs(t, err, connectors.ErrAuth)
	assert.NotContains(t, err.Error(), "SECRET-RT")

	re.Response = &http.Response{StatusCode: 503, Header: http.Header{"Retry-After": {"2"}}}
	err = ClassifyError(t.Context(), "sf.token", re)
	require.ErrorIs(t, err, connectors.ErrTransient)
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 2*time.Second, ce.RetryAfter())

	require.ErrorIs(t, ClassifyError(t.Context(), "op", ErrNoAccessToken), connectors.ErrAuth)
	require.ErrorIs(t, ClassifyError(t.Context(), "op", errors.New("eof")), connectors.ErrTransient)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, ClassifyError(ctx, "op", errors.New("x")), context.Canceled)
}
