package httpconn_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/httpconn"
)

// FuzzResponses feeds arbitrary statuses, rate-limit headers and bodies to the
// connector: it must never panic and must fail only with classified errors.
func FuzzResponses(f *testing.F) {
	f.Add(200, "", `{"items":[1,2],"next":{"a":1},"a":{"b":[1]}}`)
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
	c, err := httpconn.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Options: json.RawMessage(`{"operations":{"deliver":{"remote_id_field":"a.b"},"list":{"method":"GET","pagination":{"type":"cursor","items_field":"items","cursor_param":"c","cursor_field":"next"}}}}`)})
	require.NoError(f, err)
	reqs := []*connectors.Request{{Body: json.RawMessage(`{"x":1}`)}}
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
