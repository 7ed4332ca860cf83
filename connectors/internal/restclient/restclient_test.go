package restclient_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/internal/restclient"
	"github.com/ehg/hub/resilience"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := restclient.NewGate(func() time.Time { return now })
	require.NoError(t, g.Check("op", "a"))
	g.Block("a", now.Add(2*time.Second))
	g.Block("a", now.Add(time.Second)) // earlier: ignored
	err := g.Check("op", "a")
	require.ErrorIs(t, err, connectors.ErrRateLimited)
	require.ErrorIs(t, err, restclient.ErrHeldBack)
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 2*time.Second, ce.RetryAfter())
	assert.Equal(t, resilience.ClassRejected, resilience.Classify(err), "nothing was sent: the engine defers without counting an attempt")
	var rej *resilience.RejectedError
	require.ErrorAs(t, err, &rej)
	assert.Equal(t, 2*time.Second, rej.RetryAfter())
	require.NoError(t, g.Check("op", "b"), "other keys are open")
	g.Block(restclient.GlobalKey, now.Add(3*time.Second))
	require.ErrorIs(t, g.Check("op", "b"), restclient.ErrHeldBack, "the global key holds back every key")
	now = now.Add(3 * time.Second)
	require.NoError(t, g.Check("op", "a"))
	require.NoError(t, g.Check("op", "b"))
}

// TestRefreshOn401: a token the remote rejects is invalidated and the call retried once
// with a refreshed token.
func TestRefreshOn401(t *testing.T) {
	t.Parallel()
	var tokenHits, apiHits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		tokenHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "fresh", "token_type": "bearer", "expires_in": 3600, "refresh_token": "rt2"})
	})
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		apiHits.Add(1)
		if r.Header.Get("Authorization") != "Bearer fresh" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tokens := restclient.NewRefreshCache(restclient.RefreshFlow{TokenURL: srv.URL + "/token", ClientID: "id", ClientSecret: "s",
		RefreshToken: "rt", AccessToken: "stale"}, srv.Client(), nil)
	cl := &restclient.Client{HTTP: srv.Client(), Tokens: tokens, Authorize: restclient.BearerFrom(tokens),
		Classify: func(op string, res *connectors.HTTPResult) *connectors.Error {
			return connectors.StatusError(op, res, "", "", time.Now())
		}}
	_, err := cl.Do(t.Context(), &restclient.Call{Op: "t", Method: http.MethodGet, URL: srv.URL + "/api"})
	require.NoError(t, err)
	assert.EqualValues(t, 1, tokenHits.Load())
	assert.EqualValues(t, 2, apiHits.Load())
}
