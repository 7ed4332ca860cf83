package hub_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
)

// TestSalesforceInstanceURLSurvivesRestart: a Salesforce service logs in at the login host,
// whose token response names the org's instance_url (and, as Salesforce does, no expiry).
// The hub persists the token; a new hub on the same store uses the persisted token and
// still calls the instance, not the login host: the instance_url is kept with the token.
func TestSalesforceInstanceURLSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var apiCalls, loginAPICalls, tokenCalls atomic.Int64
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/services/data/v62.0/sobjects/Case/" || r.Header.Get("Authorization") != "Bearer 00Dxx!at-1" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`[{"errorCode":"INVALID_SESSION_ID","message":"Session expired or invalid"}]`))
			return
		}
		apiCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"500xx000000001AAA","success":true,"errors":[]}`))
	}))
	t.Cleanup(inst.Close)
	login := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/services/oauth2/token" {
			tokenCalls.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"00Dxx!at-1","instance_url":"` + inst.URL + `","id":"https://login.salesforce.com/id/00Dxx/005xx",
				"token_type":"Bearer","issued_at":"1764072000000","signature":"c2lnbmF0dXJl"}`))
			return
		}
		loginAPICalls.Add(1)
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`))
	}))
	t.Cleanup(login.Close)
	key := testSecretKey(t)
	path := filepath.Join(t.TempDir(), "hub.db")

	for run := 1; run <= 2; run++ {
		h := hubtest.New(t, openSQLite(t, path), hub.WithSecretKey(key))
		if run == 1 {
			register(t, h, "crm", login.URL, func(c *hub.IntegrationConfig) {
				c.Connector = "salesforce"
				c.Auth = json.RawMessage(`{"flow":"refresh_token","client_id":"cid","client_secret":"cs","refresh_token":"5Aep-refresh"}`)
				c.ConnectorOptions = json.RawMessage(`{"sobject":"Case"}`)
			})
		}
		res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "crm", Payload: json.RawMessage(`{"Subject":"run"}`)})
		require.NoError(t, err, "run %d", run)
		assert.Equal(t, "succeeded", string(res.Status), "run %d", run)
		require.NoError(t, h.Close(ctx))
	}
	assert.EqualValues(t, 2, apiCalls.Load(), "both runs called the instance")
	assert.Zero(t, loginAPICalls.Load(), "no API call went to the login host")
	assert.EqualValues(t, 1, tokenCalls.Load(), "the second hub used the persisted token")
}
