package salesforce_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/salesforce"
)

// FuzzResponses feeds arbitrary response bodies and statuses to every operation:
// the connector must never panic and must fail only with classified errors.
func FuzzResponses(f *testing.F) {
	f.Add(200, `{"compositeResponse":[{"body":[{"errorCode":"X"}],"httpStatusCode":400}]}`)
	f.Add(200, `{"totalSize":1,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/next","records":[{}]}`)
	f.Add(401, `[{"errorCode":"INVALID_SESSION_ID"}]`)
	f.Add(201, `{"id":5}`)
	f.Add(403, `[]`)
	var status atomic.Int32
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte(body.Load().(string)))
	}))
	f.Cleanup(srv.Close)
	c, err := salesforce.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(),
		Auth: json.RawMessage(`{"flow":"static","access_token":"tok"}`), Options: json.RawMessage(`{"sobject":"Case","query":"SELECT Id FROM Case"}`)})
	require.NoError(f, err)
	reqs := []*connectors.Request{
		{Body: json.RawMessage(`{"Subject":"x"}`)},
		{Operation: salesforce.OpQuery},
		{Operation: salesforce.OpComposite, Body: json.RawMessage(`{"compositeRequest":[{"method":"GET","url":"/x","referenceId":"a"}]}`)},
		{Operation: salesforce.OpGet, Params: map[string]string{"id": "1"}},
	}
	f.Fuzz(func(t *testing.T, st int, b string) {
		if st < 200 || st > 599 {
			return
		}
		status.Store(int32(st))
		body.Store(b)
		for _, r := range reqs {
			_, err := c.Invoke(t.Context(), r)
			if err != nil {
				var ce *connectors.Error
				require.True(t, errors.As(err, &ce), "unclassified error %v", err)
			}
		}
		if _, err := c.List(t.Context(), &connectors.ListRequest{}); err != nil {
			var ce *connectors.Error
			require.True(t, errors.As(err, &ce), "unclassified error %v", err)
		}
	})
}
