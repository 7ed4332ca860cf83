package github_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/github"
)

// FuzzResponses feeds arbitrary statuses, rate-limit headers and bodies to the
// connector: it must never panic and must fail only with classified errors.
func FuzzResponses(f *testing.F) {
	f.Add(200, "", `{"message":"x","documentation_url":"https://docs.github.com/rest#secondary-rate-limits"}`)
	f.Add(403, "0", `{}`)
	f.Add(429, "", `[1,2]`)
	f.Add(200, "", `null`)
	var status atomic.Int32
	var remaining, body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := remaining.Load().(string); v != "" {
			w.Header().Set("X-RateLimit-Remaining", v)
			w.Header().Set("Retry-After", v)
		}
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte(body.Load().(string)))
	}))
	f.Cleanup(srv.Close)
	c, err := github.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Auth: json.RawMessage(`{"token":"t"}`), Options: json.RawMessage(`{"owner":"o","repo":"r"}`)})
	require.NoError(f, err)
	reqs := []*connectors.Request{{Body: json.RawMessage(`{"title":"x"}`)}, {Operation: github.OpComment, Params: map[string]string{"number": "1"}, Body: json.RawMessage(`{"body":"x"}`)}}
	f.Fuzz(func(t *testing.T, st int, rem, b string) {
		if st < 200 || st > 599 {
			return
		}
		status.Store(int32(st))
		remaining.Store(rem)
		body.Store(b)
		check := func(err error) {
			if err != nil {
				var ce *connectors.Error
				require.True(t, errors.As(err, &ce), "unclassified error %v", err)
			}
		}
		for _, r := range reqs {
			_, err := c.Invoke(t.Context(), r)
			check(err)
		}
		_, err := c.List(t.Context(), &connectors.ListRequest{})
		check(err)
	})
}
