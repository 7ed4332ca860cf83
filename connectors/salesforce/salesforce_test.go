package salesforce_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/connectortest"
	"github.com/ehg/hub/connectors/salesforce"
)

const (
	clientSecret = "sf-CLIENT-SECRET"
	refreshToken = "sf-REFRESH-TOKEN"
	staticToken  = "00Dxx0000000001!STATIC-SECRET"
	dataPath     = "/services/data/v62.0"
)

func authJSON(t *testing.T, a salesforce.Auth) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(a)
	require.NoError(t, err)
	return b
}

func staticConnector(t *testing.T, srv *httptest.Server, opts string) *salesforce.Connector {
	t.Helper()
	c, err := salesforce.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(),
		Auth: authJSON(t, salesforce.Auth{Flow: salesforce.FlowStatic, AccessToken: staticToken}), Options: json.RawMessage(opts)})
	require.NoError(t, err)
	return c
}

func TestConformance(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, func(t *testing.T, cfg connectors.Config) connectors.Connector {
		cfg.Auth = authJSON(t, salesforce.Auth{Flow: salesforce.FlowStatic, AccessToken: staticToken})
		cfg.Options = json.RawMessage(`{"sobject":"Case","query":"SELECT Id FROM Case"}`)
		c, err := salesforce.New(cfg)
		require.NoError(t, err)
		return c
	}, connectortest.Features{Secrets: []string{staticToken}})
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]connectors.Config{
		"no base":         {Auth: json.RawMessage(`{"flow":"static","access_token":"x"}`)},
		"no flow":         {BaseURL: "https://x.my.salesforce.com", Auth: json.RawMessage(`{}`)},
		"static no tok":   {BaseURL: "https://x.my.salesforce.com", Auth: json.RawMessage(`{"flow":"static"}`)},
		"cc no secret":    {BaseURL: "https://x.my.salesforce.com", Auth: json.RawMessage(`{"flow":"client_credentials","client_id":"a"}`)},
		"rt no client":    {BaseURL: "https://x.my.salesforce.com", Auth: json.RawMessage(`{"flow":"refresh_token","refresh_token":"r"}`)},
		"rt bad auth url": {BaseURL: "https://x.my.salesforce.com", Auth: json.RawMessage(`{"flow":"refresh_token","client_id":"a","auth_url":"authorize"}`)},
		"bad token url":   {BaseURL: "https://x.my.salesforce.com", Auth: json.RawMessage(`{"flow":"client_credentials","client_id":"a","client_secret":"b","token_url":"nope"}`)},
		"bad version":     {BaseURL: "https://x.my.salesforce.com", Auth: json.RawMessage(`{"flow":"static","access_token":"x"}`), Options: json.RawMessage(`{"api_version":"latest"}`)},
		"bad default op":  {BaseURL: "https://x.my.salesforce.com", Auth: json.RawMessage(`{"flow":"static","access_token":"x"}`), Options: json.RawMessage(`{"default_operation":"merge"}`)},
	} {
		_, err := salesforce.New(cfg)
		require.ErrorIs(t, err, connectors.ErrInvalidConfig, name)
	}
	c, err := salesforce.New(connectors.Config{BaseURL: "https://x.my.salesforce.com", Auth: json.RawMessage(`{"flow":"static","access_token":"x"}`),
		Options: json.RawMessage(`{"api_version":"v59.0"}`)})
	require.NoError(t, err)
	assert.Equal(t, salesforce.OpCreate, c.Info().DefaultOperation)
}

// tokenServer fakes /services/oauth2/token. Salesforce's response has no expires_in.
type tokenServer struct {
	hits   atomic.Int32
	delay  time.Duration
	issued atomic.Value // string: the currently valid access token
	// instance is the instance_url the token response names; "" names the token
	// server itself, as a My Domain login does.
	instance string
}

func (ts *tokenServer) handle(t *testing.T, grant string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := ts.hits.Add(1)
		require.NoError(t, r.ParseForm())
		assert.Equal(t, grant, r.PostForm.Get("grant_type"))
		assert.Equal(t, "cid", r.PostForm.Get("client_id"))
		if r.PostForm.Get("client_secret") != clientSecret || (grant == "refresh_token" && r.PostForm.Get("refresh_token") != refreshToken) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"expired access/refresh token ` + refreshToken + `"}`))
			return
		}
		time.Sleep(ts.delay) // widen the window in which concurrent callers pile up
		tok := fmt.Sprintf("00Dxx!fresh-%d", n)
		ts.issued.Store(tok)
		w.Header().Set("Content-Type", "application/json")
		instance := ts.instance
		if instance == "" {
			instance = "http://" + r.Host
		}
		_, _ = fmt.Fprintf(w, `{"access_token":%q,"instance_url":%q,"id":"https://login.salesforce.com/id/00D/005","token_type":"Bearer","issued_at":"1764072000000","signature":"abc"}`, tok, instance)
	}
}

// apiHandler accepts only the token the token server issued last, like an org whose
// sessions were revoked.
func (ts *tokenServer) apiHandler(apiHits *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		apiHits.Add(1)
		cur, _ := ts.issued.Load().(string)
		if cur == "" || r.Header.Get("Authorization") != "Bearer "+cur {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`))
			return
		}
		w.Header().Set("Sforce-Limit-Info", "api-usage=18/5000")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"500xx000000001AAA","success":true,"errors":[]}`))
	}
}

func runConcurrent(t *testing.T, c *salesforce.Connector, n int) {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"Subject":"x"}`)})
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestTokenFetchedOnceForFiftyGoroutines: 50 deliveries start with an expired token;
// the token endpoint is hit once.
func TestTokenFetchedOnceForFiftyGoroutines(t *testing.T) {
	t.Parallel()
	ts := &tokenServer{delay: 20 * time.Millisecond}
	var apiHits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/oauth2/token", ts.handle(t, "refresh_token"))
	mux.HandleFunc(dataPath+"/sobjects/Case/", ts.apiHandler(&apiHits))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := salesforce.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Options: json.RawMessage(`{"sobject":"Case"}`),
		Auth: authJSON(t, salesforce.Auth{Flow: salesforce.FlowRefreshToken, ClientID: "cid", ClientSecret: clientSecret, RefreshToken: refreshToken,
			AccessToken: "00Dxx!expired", ExpiresAt: time.Now().Add(-time.Hour)})})
	require.NoError(t, err)
	runConcurrent(t, c, 50)
	assert.EqualValues(t, 1, ts.hits.Load(), "token endpoint hits")
	assert.EqualValues(t, 50, apiHits.Load(), "no request was sent with the expired token")
	li, ok := c.LimitInfo()
	require.True(t, ok)
	assert.Equal(t, salesforce.LimitInfo{Used: 18, Max: 5000}, li)
	assert.Equal(t, 4982, li.Remaining())
}

// TestInvalidSessionRefreshesOnce: 50 deliveries use a token the org has revoked
// (Salesforce tokens carry no expiry); all get INVALID_SESSION_ID, one refresh
// follows, and every delivery is retried once and succeeds.
func TestInvalidSessionRefreshesOnce(t *testing.T) {
	t.Parallel()
	ts := &tokenServer{delay: 20 * time.Millisecond}
	var apiHits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/oauth2/token", ts.handle(t, "client_credentials"))
	mux.HandleFunc(dataPath+"/sobjects/Case/", ts.apiHandler(&apiHits))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := salesforce.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Options: json.RawMessage(`{"sobject":"Case"}`),
		Auth: authJSON(t, salesforce.Auth{Flow: salesforce.FlowClientCredentials, ClientID: "cid", ClientSecret: clientSecret, AccessToken: "00Dxx!revoked"})})
	require.NoError(t, err)
	runConcurrent(t, c, 50)
	assert.EqualValues(t, 1, ts.hits.Load(), "token endpoint hits")
	// Every delivery succeeded; those that started before the refresh were rejected
	// once and retried, later ones went straight through with the fresh token.
	assert.Greater(t, apiHits.Load(), int32(50))
	assert.LessOrEqual(t, apiHits.Load(), int32(100))
}

func TestInvalidSessionPersistsIsAuth(t *testing.T) {
	t.Parallel()
	ts := &tokenServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/oauth2/token", ts.handle(t, "client_credentials"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := salesforce.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Options: json.RawMessage(`{"sobject":"Case"}`),
		Auth: authJSON(t, salesforce.Auth{Flow: salesforce.FlowClientCredentials, ClientID: "cid", ClientSecret: clientSecret})})
	require.NoError(t, err)
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, connectors.ErrAuth)
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "INVALID_SESSION_ID", ce.Code)
	assert.EqualValues(t, 2, ts.hits.Load(), "initial fetch plus exactly one refresh")
	assert.NotContains(t, err.Error(), "fresh-")
}

func TestTokenEndpointFailure(t *testing.T) {
	t.Parallel()
	ts := &tokenServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/oauth2/token", ts.handle(t, "refresh_token"))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := salesforce.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Options: json.RawMessage(`{"sobject":"Case"}`),
		Auth: authJSON(t, salesforce.Auth{Flow: salesforce.FlowRefreshToken, ClientID: "cid", ClientSecret: "wrong-" + clientSecret, RefreshToken: refreshToken})})
	require.NoError(t, err)
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, connectors.ErrAuth)
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "invalid_grant", ce.Code)
	assert.NotContains(t, err.Error(), refreshToken)
	assert.NotContains(t, err.Error(), clientSecret)
}

func TestRecordOperations(t *testing.T) {
	t.Parallel()
	type call struct{ method, path, body string }
	var (
		mu    sync.Mutex
		calls []call
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "Bearer "+staticToken, r.Header.Get("Authorization"))
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, call{r.Method, r.URL.EscapedPath(), string(b)})
		mu.Unlock()
		switch {
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"500xx000000001AAA","success":true,"errors":[]}`))
		case r.Method == http.MethodGet:
			_, _ = w.Write([]byte(`{"attributes":{"type":"Case"},"Id":"500xx000000001AAA","Subject":"Disk full"}`))
		case r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "External_Id__c/new"):
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"500xx000000002AAA","success":true,"errors":[],"created":true}`))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(srv.Close)
	c := staticConnector(t, srv, `{"sobject":"Case","external_id_field":"External_Id__c",
		"field_map":{"Subject":"title","Description":"description","External_Id__c":"id","Priority":"priority"}}`)
	workItem := `{"id":"github:acme/pay#1","title":"Disk full","description":"d","priority":"high","labels":["x"]}`

	resp, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(workItem)})
	require.NoError(t, err)
	assert.Equal(t, "500xx000000001AAA", resp.RemoteID)
	resp, err = c.Invoke(t.Context(), &connectors.Request{Operation: salesforce.OpGet, Params: map[string]string{"id": "500xx000000001AAA"}})
	require.NoError(t, err)
	assert.Equal(t, "500xx000000001AAA", resp.RemoteID)
	_, err = c.Invoke(t.Context(), &connectors.Request{Operation: salesforce.OpUpdate, Params: map[string]string{"id": "500xx000000001AAA"}, Body: json.RawMessage(`{"title":"Disk fuller"}`)})
	require.NoError(t, err)
	resp, err = c.Invoke(t.Context(), &connectors.Request{Operation: salesforce.OpUpsert, Body: json.RawMessage(`{"id":"new","title":"t"}`)})
	require.NoError(t, err)
	assert.Equal(t, "500xx000000002AAA", resp.RemoteID)
	_, err = c.Invoke(t.Context(), &connectors.Request{Operation: salesforce.OpUpsert, Params: map[string]string{"external_id": "a/b", "sobject": "Account"}, Body: json.RawMessage(`{"title":"t"}`)})
	require.NoError(t, err)
	_, err = c.Invoke(t.Context(), &connectors.Request{Operation: salesforce.OpDelete, Params: map[string]string{"id": "500xx000000001AAA"}})
	require.NoError(t, err)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, calls, 6)
	assert.Equal(t, "POST", calls[0].method)
	assert.Equal(t, dataPath+"/sobjects/Case/", calls[0].path)
	assert.JSONEq(t, `{"Subject":"Disk full","Description":"d","External_Id__c":"github:acme/pay#1","Priority":"high"}`, calls[0].body)
	assert.Equal(t, call{"GET", dataPath + "/sobjects/Case/500xx000000001AAA", ""}, calls[1])
	assert.Equal(t, "PATCH", calls[2].method)
	assert.JSONEq(t, `{"Subject":"Disk fuller"}`, calls[2].body)
	assert.Equal(t, dataPath+"/sobjects/Case/External_Id__c/new", calls[3].path)
	assert.JSONEq(t, `{"Subject":"t"}`, calls[3].body, "the external id goes in the URL, not the body")
	assert.Equal(t, dataPath+"/sobjects/Account/External_Id__c/a%2Fb", calls[4].path)
	assert.Equal(t, call{"DELETE", dataPath + "/sobjects/Case/500xx000000001AAA", ""}, calls[5])

	for name, req := range map[string]*connectors.Request{
		"get without id":      {Operation: salesforce.OpGet},
		"upsert without id":   {Operation: salesforce.OpUpsert, Body: json.RawMessage(`{"title":"x"}`)},
		"not an object":       {Body: json.RawMessage(`[]`)},
		"unknown operation":   {Operation: "merge"},
		"composite no subs":   {Operation: salesforce.OpComposite, Body: json.RawMessage(`{}`)},
		"query without SOQL":  {Operation: salesforce.OpQuery},
		"sobject not allowed": {Params: map[string]string{"sobject": ""}, Operation: salesforce.OpCreate, Body: json.RawMessage(`{}`)},
	} {
		if name == "sobject not allowed" {
			noType := staticConnector(t, srv, `{}`)
			_, err = noType.Invoke(t.Context(), req)
		} else {
			_, err = c.Invoke(t.Context(), req)
		}
		require.ErrorIs(t, err, connectors.ErrBadRequest, name)
	}
}

func TestQueryFollowsNextRecordsURL(t *testing.T) {
	t.Parallel()
	const soql = "SELECT Id FROM Case WHERE Status = 'New'"
	mux := http.NewServeMux()
	mux.HandleFunc(dataPath+"/query", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, soql, r.URL.Query().Get("q"))
		_, _ = w.Write([]byte(`{"totalSize":5,"done":false,"nextRecordsUrl":"` + dataPath + `/query/01gxx-2000","records":[{"Id":"1"},{"Id":"2"}]}`))
	})
	mux.HandleFunc(dataPath+"/query/01gxx-2000", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"totalSize":5,"done":false,"nextRecordsUrl":"` + dataPath + `/query/01gxx-4000","records":[{"Id":"3"},{"Id":"4"}]}`))
	})
	mux.HandleFunc(dataPath+"/query/01gxx-4000", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"totalSize":5,"done":true,"records":[{"Id":"5"}]}`))
	})
	mux.HandleFunc(dataPath+"/query/evil", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"totalSize":1,"done":false,"nextRecordsUrl":"https://attacker.example/q","records":[]}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := staticConnector(t, srv, `{"query":"`+strings.ReplaceAll(soql, `'`, `'`)+`"}`)

	resp, err := c.Invoke(t.Context(), &connectors.Request{Operation: salesforce.OpQuery, Params: map[string]string{"q": soql}})
	require.NoError(t, err)
	var all struct {
		TotalSize int
		Done      bool
		Records   []struct {
			ID string `json:"Id"`
		}
	}
	require.NoError(t, json.Unmarshal(resp.Body, &all))
	assert.Equal(t, 5, all.TotalSize)
	assert.True(t, all.Done)
	require.Len(t, all.Records, 5)
	assert.Equal(t, "5", all.Records[4].ID)

	var ids []string
	cursor := ""
	for i := 0; ; i++ {
		require.Less(t, i, 5)
		p, err := c.List(t.Context(), &connectors.ListRequest{Cursor: cursor})
		require.NoError(t, err)
		for _, it := range p.Items {
			var rec struct {
				ID string `json:"Id"`
			}
			require.NoError(t, json.Unmarshal(it, &rec))
			ids = append(ids, rec.ID)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	assert.Equal(t, []string{"1", "2", "3", "4", "5"}, ids)

	p, err := c.List(t.Context(), &connectors.ListRequest{Cursor: dataPath + "/query/evil"})
	require.NoError(t, err)
	_, err = c.List(t.Context(), &connectors.ListRequest{Cursor: p.NextCursor})
	require.ErrorIs(t, err, connectors.ErrForeignURL)

	small, err := salesforce.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), MaxResponseBytes: 200,
		Auth: authJSON(t, salesforce.Auth{Flow: salesforce.FlowStatic, AccessToken: staticToken})})
	require.NoError(t, err)
	_, err = small.Invoke(t.Context(), &connectors.Request{Operation: salesforce.OpQuery, Params: map[string]string{"q": soql}})
	require.ErrorIs(t, err, connectors.ErrResponseTooLarge, "aggregated pages obey the bound")
}

func TestComposite(t *testing.T) {
	t.Parallel()
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, dataPath+"/composite", r.URL.Path)
		var body struct {
			AllOrNone        bool             `json:"allOrNone"`
			CompositeRequest []map[string]any `json:"compositeRequest"`
		}
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		assert.True(t, body.AllOrNone)
		assert.Len(t, body.CompositeRequest, 2)
		if fail.Load() {
			_, _ = w.Write([]byte(`{"compositeResponse":[
				{"body":[{"errorCode":"PROCESSING_HALTED","message":"The transaction was rolled back since another operation in the same transaction failed."}],"httpHeaders":{},"httpStatusCode":400,"referenceId":"refAccount"},
				{"body":[{"message":"duplicate value found: External_Id__c","errorCode":"DUPLICATE_VALUE","fields":[]}],"httpHeaders":{},"httpStatusCode":400,"referenceId":"refContact"}]}`))
			return
		}
		_, _ = w.Write([]byte(`{"compositeResponse":[
			{"body":{"id":"001xx000003DGb2AAG","success":true,"errors":[]},"httpHeaders":{"Location":"/services/data/v62.0/sobjects/Account/001xx000003DGb2AAG"},"httpStatusCode":201,"referenceId":"refAccount"},
			{"body":{"id":"003xx000004TmiQAAS","success":true,"errors":[]},"httpHeaders":{},"httpStatusCode":201,"referenceId":"refContact"}]}`))
	}))
	t.Cleanup(srv.Close)
	c := staticConnector(t, srv, `{"all_or_none":true}`)
	req := &connectors.Request{Operation: salesforce.OpComposite, Body: json.RawMessage(`{"compositeRequest":[
		{"method":"POST","url":"/services/data/v62.0/sobjects/Account","referenceId":"refAccount","body":{"Name":"Acme"}},
		{"method":"POST","url":"/services/data/v62.0/sobjects/Contact","referenceId":"refContact","body":{"LastName":"Lovelace","AccountId":"@{refAccount.id}"}}]}`)}
	resp, err := c.Invoke(t.Context(), req)
	require.NoError(t, err)
	assert.Equal(t, "001xx000003DGb2AAG", resp.RemoteID)

	fail.Store(true)
	_, err = c.Invoke(t.Context(), req)
	require.ErrorIs(t, err, connectors.ErrPermanent)
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "DUPLICATE_VALUE", ce.Code, "the real failure, not the rollback notice")
	assert.Contains(t, ce.Message, "refContact")
}

func TestErrorCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		code   string
		want   error
	}{
		{403, "REQUEST_LIMIT_EXCEEDED", connectors.ErrRateLimited},
		{400, "UNABLE_TO_LOCK_ROW", connectors.ErrTransient},
		{503, "SERVER_UNAVAILABLE", connectors.ErrTransient},
		{401, "INVALID_SESSION_ID", connectors.ErrAuth},
		{403, "INSUFFICIENT_ACCESS_OR_READONLY", connectors.ErrAuth},
		{400, "INVALID_FIELD", connectors.ErrPermanent},
		{400, "MALFORMED_QUERY", connectors.ErrPermanent},
		{400, "REQUIRED_FIELD_MISSING", connectors.ErrPermanent},
		{404, "NOT_FOUND", connectors.ErrPermanent},
		{500, "UNKNOWN_EXCEPTION", connectors.ErrTransient},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Sforce-Limit-Info", "api-usage=5000/5000")
				w.WriteHeader(tt.status)
				_, _ = fmt.Fprintf(w, `[{"message":"m for %s","errorCode":%q,"fields":[]}]`, staticToken, tt.code)
			}))
			t.Cleanup(srv.Close)
			c := staticConnector(t, srv, `{"sobject":"Case"}`)
			_, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{}`)})
			require.ErrorIs(t, err, tt.want)
			var ce *connectors.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.code, ce.Code)
			assert.NotContains(t, err.Error(), staticToken)
			li, ok := salesforce.ParseLimitInfo(ce.Header)
			require.True(t, ok, "Sforce-Limit-Info is available on errors")
			assert.Equal(t, 0, li.Remaining())
		})
	}
}

func TestParseLimitInfo(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]salesforce.LimitInfo{
		"api-usage=18/5000":                                      {Used: 18, Max: 5000},
		"api-usage=10018/100000; api-bursts=1/750":               {Used: 10018, Max: 100000},
		"per-app-api-usage=17/250(appName=x); api-usage=25/5000": {Used: 25, Max: 5000},
	} {
		got, ok := salesforce.ParseLimitInfo(http.Header{"Sforce-Limit-Info": {v}})
		require.True(t, ok, v)
		assert.Equal(t, want, got, v)
	}
	for _, v := range []string{"", "api-usage=x/5", "per-app-api-usage=17/250"} {
		_, ok := salesforce.ParseLimitInfo(http.Header{"Sforce-Limit-Info": {v}})
		assert.False(t, ok, v)
	}
}

func TestCheckUsesLimits(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != dataPath+"/limits" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(`{"DailyApiRequests":{"Max":5000,"Remaining":4982}}`))
	}))
	t.Cleanup(srv.Close)
	require.NoError(t, staticConnector(t, srv, `{}`).Check(t.Context()))
}

// TestInstanceURLFromTokenResponse: with base_url https://login.salesforce.com the token
// response's instance_url names the org's host; every API call (create, query with its
// nextRecordsUrl, Check) goes there and none to the login host.
func TestInstanceURLFromTokenResponse(t *testing.T) {
	t.Parallel()
	ts := &tokenServer{}
	var apiHits atomic.Int32
	instMux := http.NewServeMux()
	instMux.HandleFunc(dataPath+"/sobjects/Case/", ts.apiHandler(&apiHits))
	instMux.HandleFunc("GET "+dataPath+"/query", func(w http.ResponseWriter, r *http.Request) {
		apiHits.Add(1)
		_, _ = w.Write([]byte(`{"totalSize":2,"done":false,"nextRecordsUrl":"` + dataPath + `/query/01gxx-1","records":[{"Id":"a"}]}`))
	})
	instMux.HandleFunc("GET "+dataPath+"/query/01gxx-1", func(w http.ResponseWriter, r *http.Request) {
		apiHits.Add(1)
		_, _ = w.Write([]byte(`{"totalSize":2,"done":true,"records":[{"Id":"b"}]}`))
	})
	instMux.HandleFunc("GET "+dataPath+"/limits", func(w http.ResponseWriter, r *http.Request) {
		apiHits.Add(1)
		_, _ = w.Write([]byte(`{}`))
	})
	inst := httptest.NewServer(instMux)
	t.Cleanup(inst.Close)
	ts.instance = inst.URL
	var loginDataHits atomic.Int32
	loginMux := http.NewServeMux()
	loginMux.HandleFunc("POST /services/oauth2/token", ts.handle(t, "client_credentials"))
	loginMux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		loginDataHits.Add(1)
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`))
	})
	login := httptest.NewServer(loginMux)
	t.Cleanup(login.Close)

	c, err := salesforce.New(connectors.Config{BaseURL: login.URL, HTTPClient: login.Client(), Options: json.RawMessage(`{"sobject":"Case"}`),
		Auth: authJSON(t, salesforce.Auth{Flow: salesforce.FlowClientCredentials, ClientID: "cid", ClientSecret: clientSecret})})
	require.NoError(t, err)
	resp, err := c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"Subject":"x"}`)})
	require.NoError(t, err)
	assert.Equal(t, "500xx000000001AAA", resp.RemoteID)
	resp, err = c.Invoke(t.Context(), &connectors.Request{Operation: salesforce.OpQuery, Params: map[string]string{"q": "SELECT Id FROM Case"}})
	require.NoError(t, err)
	var all struct{ Records []map[string]string }
	require.NoError(t, json.Unmarshal(resp.Body, &all))
	assert.Equal(t, []map[string]string{{"Id": "a"}, {"Id": "b"}}, all.Records)
	page, err := c.List(t.Context(), &connectors.ListRequest{Params: map[string]string{"q": "SELECT Id FROM Case"}})
	require.NoError(t, err)
	page, err = c.List(t.Context(), &connectors.ListRequest{Cursor: page.NextCursor})
	require.NoError(t, err)
	assert.Empty(t, page.NextCursor)
	require.NoError(t, c.Check(t.Context()))
	assert.EqualValues(t, 6, apiHits.Load(), "every API call reached the instance")
	assert.Zero(t, loginDataHits.Load(), "no API call went to the login host")
	assert.EqualValues(t, 1, ts.hits.Load())

	// An instance_url that is not an absolute http(s) URL is refused, not followed.
	bad := &tokenServer{instance: "javascript:alert(1)"}
	badMux := http.NewServeMux()
	badMux.HandleFunc("POST /services/oauth2/token", bad.handle(t, "client_credentials"))
	badSrv := httptest.NewServer(badMux)
	t.Cleanup(badSrv.Close)
	c, err = salesforce.New(connectors.Config{BaseURL: badSrv.URL, HTTPClient: badSrv.Client(), Options: json.RawMessage(`{"sobject":"Case"}`),
		Auth: authJSON(t, salesforce.Auth{Flow: salesforce.FlowClientCredentials, ClientID: "cid", ClientSecret: clientSecret})})
	require.NoError(t, err)
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, connectors.ErrAuth)
	assert.NotContains(t, err.Error(), "fresh-")
}
