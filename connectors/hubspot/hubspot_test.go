package hubspot_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/connectortest"
	"github.com/ehg/hub/connectors/hubspot"
	"github.com/ehg/hub/connectors/internal/fakeclock"
	"github.com/ehg/hub/connectors/internal/restclient"
)

const (
	token        = "pat-na1-SECRET-PRIVATE-APP-TOKEN"
	clientSecret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
	refreshToken = "na1-REFRESH-SECRET"
	webhookURL   = "https://hooks.example.com/hubspot?portal=62515&name=a%3Ab"
)

// fake is an httptest server reproducing HubSpot CRM v3: bearer auth with
// INVALID_AUTHENTICATION errors, contacts with unique emails (409 CONFLICT), batch
// create/update/upsert with 207 Multi-Status for partly failed batches, "after"
// paging, and the X-HubSpot-RateLimit-* headers on every response.
type fake struct {
	mu         sync.Mutex
	records    []map[string]any
	hits       atomic.Int32
	remaining  int    // X-HubSpot-RateLimit-Remaining to report; -1 omits the headers
	daily      int    // X-HubSpot-RateLimit-Daily-Remaining; -1 omits
	secondly   int    // X-HubSpot-RateLimit-Secondly-Remaining; -1 omits
	throttle   string // non-empty: answer 429 with this policyName
	retryAfter string
	bearer     string
}

func newFake(n int) *fake {
	f := &fake{remaining: 99, daily: -1, secondly: -1, bearer: token}
	for i := 1; i <= n; i++ {
		f.records = append(f.records, map[string]any{"id": strconv.Itoa(i), "properties": map[string]any{"email": fmt.Sprintf("c%d@example.com", i)}})
	}
	return f
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func hsError(w http.ResponseWriter, status int, category, msg string) {
	writeJSON(w, status, map[string]any{"status": "error", "message": msg, "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24", "category": category})
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.remaining >= 0 {
		w.Header().Set("X-HubSpot-RateLimit-Max", "100")
		w.Header().Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(f.remaining))
		w.Header().Set("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
	}
	if f.daily >= 0 {
		w.Header().Set("X-HubSpot-RateLimit-Daily", "250000")
		w.Header().Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(f.daily))
	}
	if f.secondly >= 0 {
		w.Header().Set("X-HubSpot-RateLimit-Secondly", "10")
		w.Header().Set("X-HubSpot-RateLimit-Secondly-Remaining", strconv.Itoa(f.secondly))
	}
	if r.Header.Get("Authorization") != "Bearer "+f.bearer {
		hsError(w, 401, "INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports OAuth 2.0 authentication")
		return
	}
	if f.throttle != "" {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		writeJSON(w, 429, map[string]any{"status": "error", "message": "You have reached your " + strings.ToLower(f.throttle) + " limit.",
			"errorType": "RATE_LIMIT", "correlationId": "x", "policyName": f.throttle})
		return
	}
	var body struct {
		Properties map[string]any `json:"properties"`
		Inputs     []struct {
			ID         string         `json:"id"`
			IDProperty string         `json:"idProperty"`
			Properties map[string]any `json:"properties"`
		} `json:"inputs"`
		After string `json:"after"`
		Limit int    `json:"limit"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/crm/v3/objects/contacts":
		email, _ := body.Properties["email"].(string)
		if email == "" {
			hsError(w, 400, "VALIDATION_ERROR", "Property values were not valid: email is required")
			return
		}
		for _, rec := range f.records {
			if rec["properties"].(map[string]any)["email"] == email {
				hsError(w, 409, "CONFLICT", "Contact already exists. Existing ID: "+rec["id"].(string))
				return
			}
		}
		rec := map[string]any{"id": strconv.Itoa(len(f.records) + 1), "properties": body.Properties}
		f.records = append(f.records, rec)
		writeJSON(w, 201, rec)
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/crm/v3/objects/contacts/"):
		writeJSON(w, 200, map[string]any{"id": strings.TrimPrefix(r.URL.Path, "/crm/v3/objects/contacts/"), "properties": body.Properties})
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/crm/v3/objects/contacts/batch/"):
		var results, errs []map[string]any
		for i, in := range body.Inputs {
			if email, _ := in.Properties["email"].(string); r.URL.Path == "/crm/v3/objects/contacts/batch/create" && email == "" {
				errs = append(errs, map[string]any{"status": "error", "category": "VALIDATION_ERROR", "message": fmt.Sprintf("input %d: email is required", i)})
				continue
			}
			id := in.ID
			if r.URL.Path != "/crm/v3/objects/contacts/batch/update" {
				id = strconv.Itoa(1000 + i)
			}
			results = append(results, map[string]any{"id": id, "properties": in.Properties})
		}
		doc := map[string]any{"status": "COMPLETE", "results": results}
		status := 201
		if strings.HasSuffix(r.URL.Path, "/upsert") || strings.HasSuffix(r.URL.Path, "/update") {
			status = 200
		}
		if len(errs) > 0 {
			doc["errors"], doc["numErrors"], status = errs, len(errs), http.StatusMultiStatus
		}
		writeJSON(w, status, doc)
	case r.Method == http.MethodGet && r.URL.Path == "/crm/v3/objects/contacts",
		r.Method == http.MethodPost && r.URL.Path == "/crm/v3/objects/contacts/search":
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		after := r.URL.Query().Get("after")
		if r.Method == http.MethodPost {
			limit, after = body.Limit, body.After
		}
		start, _ := strconv.Atoi(after)
		end := min(start+limit, len(f.records))
		doc := map[string]any{"results": f.records[start:end]}
		if end < len(f.records) {
			doc["paging"] = map[string]any{"next": map[string]any{"after": strconv.Itoa(end), "link": "https://api.hubapi.com/crm/v3/objects/contacts?after=" + strconv.Itoa(end)}}
		}
		writeJSON(w, 200, doc)
	default:
		hsError(w, 404, "OBJECT_NOT_FOUND", "resource not found")
	}
}

func start(t *testing.T, f *fake, clk *fakeclock.Clock, opts string) (*hubspot.Connector, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := hubspot.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Now: clk.Now,
		Auth: json.RawMessage(`{"token":"` + token + `","webhook_secret":"` + clientSecret + `"}`), Options: json.RawMessage(opts)})
	require.NoError(t, err)
	return c, srv
}

func TestConformance(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, func(t *testing.T, cfg connectors.Config) connectors.Connector {
		cfg.Auth = json.RawMessage(`{"token":"` + token + `","webhook_secret":"` + clientSecret + `"}`)
		c, err := hubspot.New(cfg)
		require.NoError(t, err)
		return c
	}, connectortest.Features{
		Secrets: []string{token, clientSecret},
		Request: func() *connectors.Request {
			return &connectors.Request{Body: json.RawMessage(`{"email":"a@example.com"}`)}
		},
		Success: func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 201, map[string]any{"id": "1", "properties": map[string]any{}, "results": []any{}})
		},
	})
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]connectors.Config{
		"no credentials": {Auth: json.RawMessage(`{}`)},
		"oauth no id":    {Auth: json.RawMessage(`{"refresh_token":"r"}`)},
		"bad op":         {Auth: json.RawMessage(`{"token":"t"}`), Options: json.RawMessage(`{"default_operation":"delete"}`)},
		"bad tz":         {Auth: json.RawMessage(`{"token":"t"}`), Options: json.RawMessage(`{"time_zone":"Mars/Olympus"}`)},
		"bad token url":  {Auth: json.RawMessage(`{"refresh_token":"r","client_id":"i","client_secret":"s","token_url":"x"}`)},
		"unknown field":  {Auth: json.RawMessage(`{"api_key":"t"}`)},
	} {
		_, err := hubspot.New(cfg)
		require.ErrorIs(t, err, connectors.ErrInvalidConfig, name)
	}
	c, err := hubspot.New(connectors.Config{Auth: json.RawMessage(`{"token":"t"}`)})
	require.NoError(t, err)
	assert.Equal(t, hubspot.DefaultBaseURL, c.Info().BaseURL)
	assert.Equal(t, hubspot.OpCreate, c.Info().DefaultOperation)
}

// TestWriteOperations: create from a flat payload, update, and the three batch
// operations, including a 207 Multi-Status answer.
func TestWriteOperations(t *testing.T) {
	t.Parallel()
	f := newFake(0)
	c, _ := start(t, f, fakeclock.New(), `{"id_property":"email"}`)
	ctx := t.Context()

	resp, err := c.Invoke(ctx, &connectors.Request{Body: json.RawMessage(`{"email":"jchen@example.com","firstname":"Jo","company":{"name":"nested, not a property"}}`), IdempotencyKey: "evt-1"})
	require.NoError(t, err)
	assert.Equal(t, "1", resp.RemoteID)
	assert.Equal(t, 201, resp.StatusCode)
	assert.Equal(t, map[string]any{"email": "jchen@example.com", "firstname": "Jo"}, f.records[0]["properties"])

	_, err = c.Invoke(ctx, &connectors.Request{Body: json.RawMessage(`{"properties":{"email":"jchen@example.com"}}`)})
	require.ErrorIs(t, err, connectors.ErrPermanent, "409 CONFLICT")
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "CONFLICT", ce.Code)

	resp, err = c.Invoke(ctx, &connectors.Request{Operation: hubspot.OpUpdate, Params: map[string]string{"id": "1"}, Body: json.RawMessage(`{"lastname":"Chen"}`)})
	require.NoError(t, err)
	assert.Equal(t, "1", resp.RemoteID)

	resp, err = c.Invoke(ctx, &connectors.Request{Operation: hubspot.OpBatchCreate, Body: json.RawMessage(`[{"email":"a@example.com"},{"properties":{"email":"b@example.com"}}]`)})
	require.NoError(t, err)
	assert.Equal(t, "1000,1001", resp.RemoteID)
	resp, err = c.Invoke(ctx, &connectors.Request{Operation: hubspot.OpBatchUpsert, Body: json.RawMessage(`{"inputs":[{"properties":{"email":"a@example.com","firstname":"A"}}]}`)})
	require.NoError(t, err)
	assert.Equal(t, "1000", resp.RemoteID)
	resp, err = c.Invoke(ctx, &connectors.Request{Operation: hubspot.OpBatchUpdate, Body: json.RawMessage(`{"inputs":[{"id":"1","properties":{"firstname":"B"}}]}`)})
	require.NoError(t, err)
	assert.Equal(t, "1", resp.RemoteID)

	_, err = c.Invoke(ctx, &connectors.Request{Operation: hubspot.OpBatchCreate, Body: json.RawMessage(`[{"email":"c@example.com"},{"firstname":"no email"}]`)})
	require.ErrorIs(t, err, connectors.ErrPermanent, "a partly failed batch is not retried whole")
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, http.StatusMultiStatus, ce.StatusCode)
	assert.Equal(t, "VALIDATION_ERROR", ce.Code)

	too := make([]string, hubspot.MaxBatchInputs+1)
	for i := range too {
		too[i] = `{"email":"x"}`
	}
	for name, req := range map[string]*connectors.Request{
		"too many":      {Operation: hubspot.OpBatchCreate, Body: json.RawMessage("[" + strings.Join(too, ",") + "]")},
		"empty batch":   {Operation: hubspot.OpBatchCreate, Body: json.RawMessage(`{"inputs":[]}`)},
		"update no id":  {Operation: hubspot.OpUpdate, Body: json.RawMessage(`{"firstname":"x"}`)},
		"batch no id":   {Operation: hubspot.OpBatchUpdate, Body: json.RawMessage(`[{"firstname":"x"}]`)},
		"upsert no key": {Operation: hubspot.OpBatchUpsert, Body: json.RawMessage(`[{"firstname":"x"}]`)},
		"not object":    {Body: json.RawMessage(`[1]`)},
		"bad type":      {Params: map[string]string{"object_type": "../x"}, Body: json.RawMessage(`{}`)},
		"unknown":       {Operation: "merge"},
	} {
		_, err := c.Invoke(ctx, req)
		require.ErrorIs(t, err, connectors.ErrBadRequest, name)
	}
}

func TestListToTheEnd(t *testing.T) {
	t.Parallel()
	f := newFake(250)
	c, _ := start(t, f, fakeclock.New(), `{"properties":["email"]}`)
	for _, since := range []time.Time{{}, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} {
		var ids []string
		cursor, pages := "", 0
		for {
			p, err := c.List(t.Context(), &connectors.ListRequest{Cursor: cursor, Since: since})
			require.NoError(t, err)
			pages++
			for _, it := range p.Items {
				var rec struct{ ID string }
				require.NoError(t, json.Unmarshal(it, &rec))
				ids = append(ids, rec.ID)
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		assert.Len(t, ids, 250)
		assert.Equal(t, "250", ids[249])
		assert.Equal(t, 3, pages, "100 per page")
	}
	_, err := c.List(t.Context(), &connectors.ListRequest{Operation: "list_deals"})
	require.ErrorIs(t, err, connectors.ErrBadRequest)
}

// TestRateLimitSignals: each documented signal keeps the next request from being sent
// before the window resets, and lets it through afterwards.
func TestRateLimitSignals(t *testing.T) {
	t.Parallel()
	nyMidnight := time.Date(2025, 11, 26, 5, 0, 0, 0, time.UTC) // midnight in New York
	tests := []struct {
		name  string
		setup func(f *fake)
		wait  time.Duration // from the fixed clock to the reset
		err   bool          // the first call fails (429)
		code  string
	}{
		{"burst remaining 0", func(f *fake) { f.remaining = 0 }, 10 * time.Second, false, ""},
		{"secondly remaining 0", func(f *fake) { f.secondly = 0 }, time.Second, false, ""},
		{"daily remaining 0", func(f *fake) { f.daily = 0 }, nyMidnight.Sub(fakeclock.New().Now()), false, ""},
		{"429 ten-secondly, no Retry-After", func(f *fake) { f.throttle = "TEN_SECONDLY_ROLLING" }, 10 * time.Second, true, "TEN_SECONDLY_ROLLING"},
		{"429 with Retry-After", func(f *fake) { f.throttle, f.retryAfter = "TEN_SECONDLY_ROLLING", "3" }, 3 * time.Second, true, "TEN_SECONDLY_ROLLING"},
		{"429 daily", func(f *fake) { f.throttle = "DAILY" }, nyMidnight.Sub(fakeclock.New().Now()), true, "DAILY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(1)
			tt.setup(f)
			clk := fakeclock.New()
			c, _ := start(t, f, clk, `{"time_zone":"America/New_York"}`)
			_, err := c.List(t.Context(), &connectors.ListRequest{})
			if tt.err {
				require.ErrorIs(t, err, connectors.ErrRateLimited)
				var ce *connectors.Error
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tt.wait, ce.RetryAfter())
				assert.Equal(t, tt.code, ce.Code)
			} else {
				require.NoError(t, err)
			}
			assert.EqualValues(t, 1, f.hits.Load())
			f.mu.Lock()
			f.remaining, f.daily, f.secondly, f.throttle = 50, -1, -1, ""
			f.mu.Unlock()
			clk.Advance(tt.wait - time.Millisecond)
			_, err = c.List(t.Context(), &connectors.ListRequest{})
			require.ErrorIs(t, err, restclient.ErrHeldBack)
			var ce *connectors.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, time.Millisecond, ce.RetryAfter())
			assert.EqualValues(t, 1, f.hits.Load(), "no request before the reset")
			clk.Advance(time.Millisecond)
			_, err = c.List(t.Context(), &connectors.ListRequest{})
			require.NoError(t, err)
			assert.EqualValues(t, 2, f.hits.Load())
		})
	}
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status   int
		category string
		class    error
	}{
		{401, "INVALID_AUTHENTICATION", connectors.ErrAuth},
		{403, "MISSING_SCOPES", connectors.ErrAuth},
		{400, "VALIDATION_ERROR", connectors.ErrPermanent},
		{404, "OBJECT_NOT_FOUND", connectors.ErrPermanent},
		{502, "", connectors.ErrTransient},
		{503, "", connectors.ErrTransient},
		{504, "", connectors.ErrTransient},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hsError(w, tt.status, tt.category, "failed for "+token)
		}))
		c, err := hubspot.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Auth: json.RawMessage(`{"token":"` + token + `"}`)})
		require.NoError(t, err)
		_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"email":"x@example.com"}`)})
		srv.Close()
		require.ErrorIs(t, err, tt.class, tt.status)
		var ce *connectors.Error
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, tt.category, ce.Code)
		assert.NotContains(t, err.Error(), token)
	}
}

// TestOAuthRefresh: an OAuth app's access token is refreshed at /oauth/v1/token with
// the client credentials in the form, once, when the API rejects it.
func TestOAuthRefresh(t *testing.T) {
	t.Parallel()
	f := newFake(1)
	f.bearer = "fresh-access"
	var tokenHits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/v1/token", func(w http.ResponseWriter, r *http.Request) {
		tokenHits.Add(1)
		require.NoError(t, r.ParseForm())
		if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != refreshToken ||
			r.PostForm.Get("client_id") != "app-id" || r.PostForm.Get("client_secret") != clientSecret {
			writeJSON(w, 400, map[string]any{"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"})
			return
		}
		writeJSON(w, 200, map[string]any{"token_type": "bearer", "refresh_token": refreshToken, "access_token": "fresh-access", "expires_in": 1800})
	})
	mux.Handle("/", f)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := hubspot.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(),
		Auth: json.RawMessage(`{"client_id":"app-id","client_secret":"` + clientSecret + `","refresh_token":"` + refreshToken + `","access_token":"expired-access"}`)})
	require.NoError(t, err)
	_, err = c.List(t.Context(), &connectors.ListRequest{})
	require.NoError(t, err)
	require.NoError(t, c.Check(t.Context()))
	assert.EqualValues(t, 1, tokenHits.Load())
	assert.EqualValues(t, 3, f.hits.Load(), "the stale token was tried once")
}

func sign(ts string, body []byte) http.Header {
	h := http.Header{}
	h.Set("X-HubSpot-Signature-v3", hubspot.SignV3([]byte(clientSecret), http.MethodPost, webhookURL, body, ts))
	h.Set("X-HubSpot-Request-Timestamp", ts)
	return h
}

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	body := []byte(`[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1764072000000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]`)
	ts := "1764072000000" // 2025-11-25T12:00:00Z
	// Computed independently (openssl dgst -sha256 -hmac ... | base64) over
	// "POST" + the URL with %3A decoded + body + timestamp.
	const vector = "iNpVp3N3qRPBMGoFBiMoBd5AFgOrfbxYZ3yD7ErUjec="
	assert.Equal(t, vector, hubspot.SignV3([]byte(clientSecret), "POST", webhookURL, body, ts))

	clk := fakeclock.New()
	c, _ := start(t, newFake(0), clk, `{"webhook_url":"`+webhookURL+`"}`)
	h := http.Header{"X-Hubspot-Signature-V3": {vector}, "X-Hubspot-Request-Timestamp": {ts}}
	ev, err := c.VerifyWebhook(h, body)
	require.NoError(t, err)
	assert.Equal(t, "contact.creation", ev.Event)
	assert.Equal(t, "1", ev.DeliveryID)
	assert.Equal(t, clk.Now(), ev.Timestamp)

	tampered := []byte(strings.Replace(string(body), `"objectId":123`, `"objectId":124`, 1))
	_, err = c.VerifyWebhook(h, tampered)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "tampered body")
	for name, hdr := range map[string]http.Header{
		"missing signature": {"X-Hubspot-Request-Timestamp": {ts}},
		"missing timestamp": {"X-Hubspot-Signature-V3": {vector}},
		"timestamp changed": {"X-Hubspot-Signature-V3": {vector}, "X-Hubspot-Request-Timestamp": {"1764072000001"}},
		"not base64":        {"X-Hubspot-Signature-V3": {"%%%"}, "X-Hubspot-Request-Timestamp": {ts}},
		"seconds timestamp": {"X-Hubspot-Signature-V3": {vector}, "X-Hubspot-Request-Timestamp": {"17640720.5"}},
	} {
		_, err := c.VerifyWebhook(hdr, body)
		require.ErrorIs(t, err, connectors.ErrInvalidSignature, name)
	}
	_, err = hubspot.VerifySignatureV3([]byte(clientSecret), http.MethodPost, "https://other.example.com/hubspot", h, body, clk.Now())
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "signed for another URL")

	old := strconv.FormatInt(clk.Now().Add(-hubspot.ReplayWindow-time.Second).UnixMilli(), 10)
	_, err = c.VerifyWebhook(sign(old, body), body)
	require.ErrorIs(t, err, connectors.ErrStaleWebhook, "stale")
	future := strconv.FormatInt(clk.Now().Add(hubspot.ReplayWindow+time.Second).UnixMilli(), 10)
	_, err = c.VerifyWebhook(sign(future, body), body)
	require.ErrorIs(t, err, connectors.ErrStaleWebhook, "from the future")
	recent := strconv.FormatInt(clk.Now().Add(-hubspot.ReplayWindow+time.Second).UnixMilli(), 10)
	_, err = c.VerifyWebhook(sign(recent, body), body)
	require.NoError(t, err)

	_, err = hubspot.VerifySignatureV3(nil, http.MethodPost, webhookURL, h, body, clk.Now())
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "no secret rejects everything")
	noURL, _ := start(t, newFake(0), clk, `{}`)
	_, err = noURL.VerifyWebhook(h, body)
	require.ErrorIs(t, err, connectors.ErrInvalidSignature, "no webhook_url configured")
}

func FuzzVerifyWebhook(f *testing.F) {
	f.Add([]byte(`[{"eventId":1}]`), "abc=", "1764072000000")
	now := time.UnixMilli(1764072000000)
	f.Fuzz(func(t *testing.T, body []byte, sig, ts string) {
		h := http.Header{"X-Hubspot-Signature-V3": {sig}, "X-Hubspot-Request-Timestamp": {ts}}
		if _, err := hubspot.VerifySignatureV3([]byte(clientSecret), "POST", webhookURL, h, body, now); err == nil {
			require.Equal(t, hubspot.SignV3([]byte(clientSecret), "POST", webhookURL, body, ts), sig)
		}
		h.Set("X-Hubspot-Request-Timestamp", "1764072000000")
		h.Set("X-Hubspot-Signature-V3", hubspot.SignV3([]byte(clientSecret), "POST", webhookURL, body, "1764072000000"))
		_, err := hubspot.VerifySignatureV3([]byte(clientSecret), "POST", webhookURL, h, body, now)
		require.NoError(t, err)
	})
}
