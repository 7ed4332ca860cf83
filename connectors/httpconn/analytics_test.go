package httpconn_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/httpconn"
)

func loadExample(t *testing.T, file, baseURL string, client *http.Client) *httpconn.Connector {
	t.Helper()
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	var cfg connectors.Config
	require.NoError(t, json.Unmarshal(raw, &cfg))
	cfg.BaseURL = baseURL
	cfg.HTTPClient = client
	c, err := httpconn.New(cfg)
	require.NoError(t, err)
	return c
}

// events builds a payload of n analytics events in the vendor's event shape.
func events(n int, event func(i int) string) json.RawMessage {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = event(i)
	}
	return json.RawMessage(`{"client_id":"555.777","events":[` + strings.Join(parts, ",") + `]}`)
}

// recorder collects the bodies a fake received.
type recorder struct {
	mu     sync.Mutex
	bodies []json.RawMessage
}

func (r *recorder) add(b json.RawMessage) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, b)
	return len(r.bodies)
}

func (r *recorder) all() []json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]json.RawMessage(nil), r.bodies...)
}

// TestGA4MeasurementProtocol drives testdata/ga4.json against a fake of the
// Measurement Protocol: api_secret and measurement_id in the query, at most 25 events
// and 130 kB per request, and 204 No Content for every request (the endpoint does not
// report validation errors).
func TestGA4MeasurementProtocol(t *testing.T) {
	t.Parallel()
	var rec recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/mp/collect", r.URL.Path)
		assert.Equal(t, "G-REPLACE00", r.URL.Query().Get("measurement_id"))
		assert.Equal(t, "REPLACE-WITH-API-SECRET", r.URL.Query().Get("api_secret"))
		var body struct {
			ClientID string            `json:"client_id"`
			Events   []json.RawMessage `json:"events"`
		}
		raw := json.RawMessage{}
		require.NoError(t, json.NewDecoder(r.Body).Decode(&raw))
		require.NoError(t, json.Unmarshal(raw, &body))
		assert.Equal(t, "555.777", body.ClientID)
		assert.LessOrEqual(t, len(body.Events), 25)
		assert.LessOrEqual(t, len(raw), 130000)
		rec.add(raw)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	c := loadExample(t, "testdata/ga4.json", srv.URL, srv.Client())
	resp, err := c.Invoke(t.Context(), &connectors.Request{Body: events(60, func(i int) string {
		return fmt.Sprintf(`{"name":"purchase","params":{"transaction_id":"T%d","value":%d,"currency":"EUR"}}`, i, i)
	})})
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	bodies := rec.all()
	require.Len(t, bodies, 3, "60 events in requests of 25, 25 and 10")
	var last struct{ Events []json.RawMessage }
	require.NoError(t, json.Unmarshal(bodies[2], &last))
	assert.Len(t, last.Events, 10)
	assert.Contains(t, string(bodies[2]), `"transaction_id":"T59"`)

	big := events(2, func(i int) string { return `{"name":"x","params":{"blob":"` + strings.Repeat("x", 70000) + `"}}` })
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: big})
	require.ErrorIs(t, err, connectors.ErrBadRequest, "a request over 130 kB is refused")
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"client_id":"1","events":"purchase"}`)})
	require.ErrorIs(t, err, connectors.ErrBadRequest)
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"client_id":"1","events":[]}`)})
	require.ErrorIs(t, err, connectors.ErrBadRequest)
	assert.Len(t, rec.all(), 3, "nothing sent for refused deliveries")
}

// TestMixpanelImport drives testdata/mixpanel.json against a fake of /import: basic
// auth with a service account, strict=1 and project_id, a JSON array of at most 2000
// events, {"code":200,"num_records_imported":N,"status":"OK"} on success and 400
// with failed_records when some events fail validation.
func TestMixpanelImport(t *testing.T) {
	t.Parallel()
	var rec recorder
	user, pass := "hub-service-account.REPLACE.mp-service-account", "REPLACE-WITH-SERVICE-ACCOUNT-SECRET"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)) {
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"code":401,"error":"Invalid credentials","status":"Unauthorized"}`))
			return
		}
		assert.Equal(t, "1", r.URL.Query().Get("strict"))
		assert.Equal(t, "REPLACE-PROJECT-ID", r.URL.Query().Get("project_id"))
		var evs []map[string]any
		require.NoError(t, json.NewDecoder(r.Body).Decode(&evs))
		assert.LessOrEqual(t, len(evs), 2000)
		b, _ := json.Marshal(evs)
		n := rec.add(b)
		for i, e := range evs {
			if p, _ := e["properties"].(map[string]any); p["time"] == nil {
				w.WriteHeader(400)
				_, _ = fmt.Fprintf(w, `{"code":400,"error":"some data points in the request failed validation","status":"Bad Request","num_records_imported":%d,"failed_records":[{"index":%d,"insert_id":"x","field":"properties.time","message":"'properties.time' is invalid"}]}`, len(evs)-1, i)
				return
			}
		}
		if n == 99 {
			w.WriteHeader(503)
			return
		}
		_, _ = fmt.Fprintf(w, `{"code":200,"num_records_imported":%d,"status":"OK"}`, len(evs))
	}))
	t.Cleanup(srv.Close)
	c := loadExample(t, "testdata/mixpanel.json", srv.URL, srv.Client())
	ev := func(i int) string {
		return fmt.Sprintf(`{"event":"Signup","properties":{"time":1764072000000,"distinct_id":"u%d","$insert_id":"ins-%d"}}`, i, i)
	}
	_, err := c.Invoke(t.Context(), &connectors.Request{Body: events(4500, ev)})
	require.NoError(t, err)
	bodies := rec.all()
	require.Len(t, bodies, 3, "4500 events in requests of 2000, 2000 and 500")
	var lastBatch []any
	require.NoError(t, json.Unmarshal(bodies[2], &lastBatch))
	assert.Len(t, lastBatch, 500)

	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{"events":[{"event":"Signup","properties":{"distinct_id":"u"}}]}`)})
	require.ErrorIs(t, err, connectors.ErrPermanent, "strict validation failure")

	bad := loadExample(t, "testdata/mixpanel.json", srv.URL, srv.Client())
	cfg, err := os.ReadFile("testdata/mixpanel.json")
	require.NoError(t, err)
	wrong := strings.Replace(string(cfg), pass, "wrong", 1)
	var wc connectors.Config
	require.NoError(t, json.Unmarshal([]byte(wrong), &wc))
	wc.BaseURL, wc.HTTPClient = srv.URL, srv.Client()
	bad, err = httpconn.New(wc)
	require.NoError(t, err)
	_, err = bad.Invoke(t.Context(), &connectors.Request{Body: events(1, ev)})
	require.ErrorIs(t, err, connectors.ErrAuth)
}

// TestAmplitudeHTTPV2 drives testdata/amplitude.json against a fake of
// /2/httpapi: the API key in the body, at most 2000 events and 1 MB per request, 200
// {"code":200,"events_ingested":N}, 400 for a missing field, 413 for a payload too
// large and 429 when a device exceeds its events per second; a failure after an
// accepted request says how many were accepted.
func TestAmplitudeHTTPV2(t *testing.T) {
	t.Parallel()
	var rec recorder
	var mu sync.Mutex
	throttleAt := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		var body struct {
			APIKey string           `json:"api_key"`
			Events []map[string]any `json:"events"`
		}
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		if body.APIKey != "REPLACE-WITH-API-KEY" {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"code":400,"error":"Invalid API key: ` + body.APIKey + `"}`))
			return
		}
		assert.LessOrEqual(t, len(body.Events), 2000)
		b, _ := json.Marshal(body.Events)
		n := rec.add(b)
		mu.Lock()
		at := throttleAt
		mu.Unlock()
		if n == at {
			w.WriteHeader(429)
			_, _ = w.Write([]byte(`{"code":429,"error":"Too many requests for some devices and users","eps_threshold":30,"throttled_devices":{"d1":31}}`))
			return
		}
		_, _ = fmt.Fprintf(w, `{"code":200,"events_ingested":%d,"payload_size_bytes":%d,"server_upload_time":1764072000000}`, len(body.Events), r.ContentLength)
	}))
	t.Cleanup(srv.Close)
	c := loadExample(t, "testdata/amplitude.json", srv.URL, srv.Client())
	ev := func(i int) string {
		return fmt.Sprintf(`{"event_type":"watch","device_id":"d%d","insert_id":"i-%d","time":1764072000000}`, i%7, i)
	}
	_, err := c.Invoke(t.Context(), &connectors.Request{Body: events(2001, ev)})
	require.NoError(t, err)
	require.Len(t, rec.all(), 2, "2001 events in requests of 2000 and 1")

	mu.Lock()
	throttleAt = 4 // the second request of the next delivery
	mu.Unlock()
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: events(2500, ev)})
	require.ErrorIs(t, err, connectors.ErrRateLimited)
	var ce *connectors.Error
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, ce.Message, "batch request 2 of 2 failed after 1 were accepted")

	huge := events(3, func(i int) string {
		return `{"event_type":"x","device_id":"d","event_properties":{"b":"` + strings.Repeat("y", 400000) + `"}}`
	})
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: huge})
	require.ErrorIs(t, err, connectors.ErrBadRequest, "over 1 MB is refused before sending")
	assert.Len(t, rec.all(), 4)

	raw, err := os.ReadFile("testdata/amplitude.json")
	require.NoError(t, err)
	var wc connectors.Config
	require.NoError(t, json.Unmarshal([]byte(strings.Replace(string(raw), "REPLACE-WITH-API-KEY", "wrong-key-SECRET", 1)), &wc))
	wc.BaseURL, wc.HTTPClient = srv.URL, srv.Client()
	wrong, err := httpconn.New(wc)
	require.NoError(t, err)
	_, err = wrong.Invoke(t.Context(), &connectors.Request{Body: events(1, ev)})
	require.ErrorIs(t, err, connectors.ErrPermanent)
	assert.NotContains(t, err.Error(), "wrong-key-SECRET", "the echoed key is redacted")
}

func TestBatchConfig(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]string{
		"negative": `{"operations":{"deliver":{"batch":{"max_items":-1}}}}`,
	} {
		_, err := httpconn.New(connectors.Config{BaseURL: "https://x.example", Options: json.RawMessage(opts)})
		require.ErrorIs(t, err, connectors.ErrInvalidConfig, name)
	}
	_, err := httpconn.New(connectors.Config{BaseURL: "https://x.example", Auth: json.RawMessage(`{"type":"api_key","key":"k","header":"X","body_field":"api_key"}`)})
	require.ErrorIs(t, err, connectors.ErrInvalidConfig)
}

// TestBasicCredentialNotEchoed: a remote that echoes the Authorization header in its
// error body does not leak the encoded basic credential through the error.
func TestBasicCredentialNotEchoed(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		_, _ = fmt.Fprintf(w, `{"error":"bad credentials in %s"}`, r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	c, err := httpconn.New(connectors.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Auth: json.RawMessage(`{"type":"basic","username":"svc","password":"pw-SECRET"}`)})
	require.NoError(t, err)
	_, err = c.Invoke(t.Context(), &connectors.Request{Body: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, connectors.ErrAuth)
	assert.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString([]byte("svc:pw-SECRET")))
}
