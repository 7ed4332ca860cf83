package hub_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// canaries are unique credentials of every kind a service can hold. Each has characters
// that percent-, JSON- and base64-encoding change, so every encoded form differs from the
// raw one.
type canaries struct {
	bearer, user, pass, apiKey, webhookToken, refresh, clientSecret string
	// issued at run time by the token endpoint
	access, rotated string
}

func newCanaries() canaries {
	r := func(kind string) string {
		var b [6]byte
		_, _ = rand.Read(b[:])
		return "cnry" + kind + hex.EncodeToString(b[:])
	}
	return canaries{
		bearer: r("bearer") + "+/=", user: r("user"), pass: r("pass") + "&%<",
		apiKey: r("apikey") + "+?", webhookToken: r("webhook") + "X9", refresh: r("refresh") + "/+",
		clientSecret: r("csecret") + "=&", access: r("access") + "+/", rotated: r("rotated") + "/",
	}
}

// forms are every encoding of every canary the test searches for, by name.
func (c canaries) forms() map[string]string {
	out := map[string]string{}
	add := func(name, v string) {
		js, _ := json.Marshal(v)
		out[name+" raw"] = v
		out[name+" query-escaped"] = url.QueryEscape(v)
		out[name+" path-escaped"] = url.PathEscape(v)
		out[name+" JSON-escaped"] = string(js[1 : len(js)-1])
		out[name+" Go-quoted"] = strconv.Quote(v)[1 : len(strconv.Quote(v))-1]
		out[name+" base64"] = base64.StdEncoding.EncodeToString([]byte(v))
		out[name+" base64url"] = base64.RawURLEncoding.EncodeToString([]byte(v))
	}
	add("bearer", c.bearer)
	add("basic user", c.user)
	add("basic password", c.pass)
	add("api key", c.apiKey)
	add("webhook path token", c.webhookToken)
	add("refresh token", c.refresh)
	add("client secret", c.clientSecret)
	add("access token", c.access)
	add("rotated refresh token", c.rotated)
	out["basic credential"] = base64.StdEncoding.EncodeToString([]byte(c.user + ":" + c.pass))
	out["oauth client credential"] = base64.StdEncoding.EncodeToString([]byte(url.QueryEscape("cnry-client") + ":" + url.QueryEscape(c.clientSecret)))
	return out
}

// count returns how many of the canaries are in the set, by kind.
func (c canaries) count() int {
	return len([]string{c.bearer, c.user, c.pass, c.apiKey, c.webhookToken, c.refresh, c.clientSecret, c.access, c.rotated})
}

// canaryRemote answers every API call with the whole request echoed back (method, URL,
// headers, body), with status 401 or 500 in turn; its token endpoint issues the canary
// access token and a rotated refresh token. It records every request it received in full
// (seen), so the test can check the credentials did reach it and so could leak back.
func canaryRemote(t *testing.T, c canaries, seen *lockedBuffer) *httptest.Server {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(seen, "%s %s\n", r.Method, r.URL.String())
		_ = r.Header.Write(seen)
		_, _ = seen.Write(append(body, '\n'))
		if r.URL.Path == "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": c.access, "refresh_token": c.rotated, "token_type": "Bearer", "expires_in": 3600})
			return
		}
		var echo bytes.Buffer
		fmt.Fprintf(&echo, "%s %s\n", r.Method, r.URL.String())
		_ = r.Header.Write(&echo)
		echo.Write(body)
		status := http.StatusUnauthorized
		if n.Add(1)%2 == 0 {
			status = http.StatusInternalServerError
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo", r.Header.Get("Authorization")+r.Header.Get("X-Api-Key"))
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": "denied", "message": echo.String(), "echo": echo.String()})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// lockedBuffer collects log output written from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCanaryCredentialsNeverLeak puts unique canary credentials (bearer, basic, API-key
// header, a secret webhook URL path, an OAuth refresh token and the access token it yields)
// through failing deliveries whose remote echoes the request, TestIntegration, health,
// analytics, escalation, retries and breaker transitions, with debug logging and tracing
// on, then searches the logs, every error and result, the spans and the whole database for
// every form of every canary.
func TestCanaryCredentialsNeverLeak(t *testing.T) {
	t.Parallel()
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			var (
				st     store.Store
				dbFile string
				schema string
			)
			switch sk.name {
			case "sqlite":
				dbFile = filepath.Join(t.TempDir(), "hub.db")
				st = openSQLite(t, dbFile)
			case "postgres":
				schema = newSchema(t)
				st = openPostgres(t, schema)
			default:
				st = sk.open(t)
			}
			c := newCanaries()
			seen := &lockedBuffer{}
			remote := canaryRemote(t, c, seen)
			logs := &lockedBuffer{}
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			key := make([]byte, 32)
			_, _ = rand.Read(key)
			h := hubtest.New(t, st, hub.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
				hub.WithTracerProvider(tp), hub.WithSecretKey(key))

			breaker := json.RawMessage(`{"failure_threshold": 2, "recovery_timeout": "50ms"}`)
			retry := json.RawMessage(`{"initial_backoff":"5ms","max_backoff":"10ms","inline_retries":0,"timeout":"5s","max_retries":2}`)
			services := map[string]hub.IntegrationConfig{
				"bearer":  {Connector: "http", BaseURL: remote.URL + "/api", Auth: json.RawMessage(fmt.Sprintf(`{"type":"bearer","token":%q}`, c.bearer))},
				"basic":   {Connector: "http", BaseURL: remote.URL + "/api", Auth: json.RawMessage(fmt.Sprintf(`{"type":"basic","username":%q,"password":%q}`, c.user, c.pass))},
				"apikey":  {Connector: "http", BaseURL: remote.URL + "/api", Auth: json.RawMessage(fmt.Sprintf(`{"type":"api_key","key":%q,"header":"X-Api-Key"}`, c.apiKey))},
				"webhook": {Connector: "slack", BaseURL: remote.URL, Auth: json.RawMessage(fmt.Sprintf(`{"webhook_url":%q}`, remote.URL+"/services/T0CANARY/B0CANARY/"+c.webhookToken))},
				"oauth": {Connector: "http", BaseURL: remote.URL + "/api", Auth: json.RawMessage(fmt.Sprintf(
					`{"type":"oauth2_refresh_token","token_url":%q,"client_id":"cnry-client","client_secret":%q,"refresh_token":%q}`,
					remote.URL+"/oauth/token", c.clientSecret, c.refresh))},
			}
			var haystack strings.Builder
			record := func(what string, v any, err error) {
				b, _ := json.Marshal(v)
				fmt.Fprintf(&haystack, "\n== %s\n%+v\n%v\n%s\n", what, v, v, b)
				if err != nil {
					eb, _ := json.Marshal(err)
					fmt.Fprintf(&haystack, "error: %+v\n%v\n%s\n%#v\n", err, err, eb, err.Error())
				}
			}
			ctx := t.Context()
			var eventIDs []string
			for name, cfg := range services {
				cfg.Name = "canary-" + name
				cfg.CircuitBreaker, cfg.Retry, cfg.RateLimits = breaker, retry, json.RawMessage(hubtest.Unlimited)
				reg, err := h.RegisterIntegration(ctx, cfg)
				require.NoError(t, err, name)
				record("register "+name, reg, err)
				for i := range 4 {
					res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: cfg.Name, Payload: json.RawMessage(`{"text":"hello","n":` + strconv.Itoa(i) + `}`), Mode: hub.Sync})
					record("process "+name, res, err)
					if res != nil {
						eventIDs = append(eventIDs, res.EventID)
					}
					time.Sleep(60 * time.Millisecond) // let the breaker go half-open and close or open again
				}
				tr, err := h.TestIntegration(ctx, cfg.Name, hub.TestData{Payload: json.RawMessage(`{"text":"probe"}`)})
				record("test "+name, tr, err)
				esc, err := h.EscalateIntegrationIssue(ctx, hub.IntegrationIssue{Service: cfg.Name, Severity: hub.SeverityHigh, Summary: "canary"})
				record("escalate "+name, esc, err)
				rec, err := h.TriggerRecoveryAction(ctx, hub.RecoveryPlan{Service: cfg.Name, Actions: []hub.RecoveryAction{hub.ActionResetBreaker, hub.ActionRetryFailed}})
				record("recover "+name, rec, err)
			}
			for _, id := range eventIDs {
				rr, err := h.RetryFailedIntegration(ctx, id)
				record("retry "+id, rr, err)
			}
			time.Sleep(200 * time.Millisecond) // retries and probes run
			health, err := h.GetIntegrationHealth(ctx, "")
			record("health", health, err)
			an, err := h.GetIntegrationAnalytics(ctx, hub.AnalyticsQuery{Period: store.PeriodHour, Range: hub.TimeRange{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)}})
			record("analytics", an, err)
			perf, err := h.GetPerformanceMetrics(ctx, hub.TimeRange{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
			record("performance", perf, err)
			audit, err := h.ListAudit(ctx, hub.AuditQuery{Limit: hub.AuditPageMax})
			record("audit", audit, err)
			events, err := st.ListEvents(ctx, store.EventFilter{Page: store.Page{Limit: store.MaxPageLimit}})
			require.NoError(t, err)
			record("stored events", events, nil)
			require.NotEmpty(t, events)
			failed, codes := 0, map[int]int{}
			for _, ev := range events {
				if len(ev.ErrorDetails) > 0 {
					failed++
				}
				codes[ev.ResponseCode]++
			}
			require.Positive(t, failed, "deliveries failed with the echo")
			require.Positive(t, codes[http.StatusUnauthorized], "deliveries failed with 401: %v", codes)
			require.Positive(t, codes[http.StatusInternalServerError], "deliveries failed with 500: %v", codes)
			// The breakers of the failing services went open and were probed half-open, with
			// debug logging on, so their transition lines are among the logs searched.
			require.Contains(t, logs.String(), "resilience: circuit breaker open", "breaker transitions logged")
			require.Contains(t, logs.String(), "resilience: circuit breaker half-open", "breaker transitions logged")
			require.Contains(t, logs.String(), `"level":"DEBUG"`, "debug logging on")
			// A breaker line names the service and the endpoint's host only (the webhook
			// service's endpoint has the secret in its path; the others a path under /api).
			breakerLines := 0
			for _, line := range strings.Split(logs.String(), "\n") {
				var rec map[string]any
				if json.Unmarshal([]byte(line), &rec) != nil {
					continue
				}
				if msg, _ := rec["msg"].(string); strings.HasPrefix(msg, "resilience: circuit breaker") {
					breakerLines++
					svc, _ := rec["service"].(string)
					require.True(t, strings.HasPrefix(svc, "canary-"), "a breaker line names the service: %s", line)
					require.Equal(t, remote.URL, rec["host"], "a breaker line names the endpoint's host, no path: %s", line)
				}
			}
			require.Positive(t, breakerLines, "breakers changed state")
			// Sanity: every credential did reach the remote (in the form its scheme sends), so
			// the echoed answers carried them back to the hub.
			for what, v := range map[string]string{
				"bearer": "Bearer " + c.bearer, "basic": "Basic " + base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.pass)),
				"api key": c.apiKey, "webhook path": url.PathEscape(c.webhookToken), "refresh token": url.QueryEscape(c.refresh),
				"access token": "Bearer " + c.access, "rotated refresh token": url.QueryEscape(c.rotated),
			} {
				require.Contains(t, seen.String(), v, "the remote received the %s canary", what)
			}
			require.NoError(t, tp.ForceFlush(ctx))
			spans := exp.GetSpans()
			require.NotEmpty(t, spans)

			sources := map[string]string{
				"logs":               logs.String(),
				"errors and results": haystack.String(),
				"spans":              fmt.Sprintf("%+v", spans),
			}
			switch {
			case dbFile != "":
				// SQLite: the file bytes, with the write-ahead log
				var all []byte
				for _, suffix := range []string{"", "-wal", "-shm"} {
					b, err := os.ReadFile(dbFile + suffix)
					if err == nil {
						all = append(all, b...)
					}
				}
				require.NotEmpty(t, all)
				sources["database (SQLite file and WAL bytes)"] = string(all)
			case schema != "":
				sources["database (PostgreSQL tables as text)"] = dumpPostgres(t, schema)
				if d, ok := pgDump(t, schema); ok {
					sources["database (pg_dump)"] = d
				}
			}
			// Sanity: the remote did receive the credentials (so an echo could leak them).
			require.Contains(t, logs.String()+haystack.String(), "REDACTED", "something was redacted")
			hits := 0
			var sizes []string
			for src, text := range sources {
				sizes = append(sizes, fmt.Sprintf("%s %d bytes", src, len(text)))
				for form, v := range c.forms() {
					if n := strings.Count(text, v); n > 0 {
						hits += n
						t.Errorf("%s: %d hit(s) of %s %q", src, n, form, v)
					}
				}
			}
			t.Logf("canary search (%s): %d forms of %d canaries in %d sources (%s), %d events (response codes %v), %d spans, %d breaker transition lines: %d hits",
				sk.name, len(c.forms()), c.count(), len(sources), strings.Join(sizes, ", "), len(events), codes, len(spans), breakerLines, hits)
		})
	}
}

// dumpPostgres returns every row of every table of schema as text.
func dumpPostgres(t *testing.T, schema string) string {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), postgresURL(t))
	require.NoError(t, err)
	defer pool.Close()
	rows, err := pool.Query(t.Context(), `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, schema)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		tables = append(tables, n)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, tables)
	var b strings.Builder
	for _, tb := range tables {
		rows, err := pool.Query(t.Context(), fmt.Sprintf(`SELECT t::text FROM %q.%q t`, schema, tb))
		require.NoError(t, err)
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			b.WriteString(tb + ": " + s + "\n")
		}
		require.NoError(t, rows.Err())
	}
	return b.String()
}

// pgDump returns pg_dump's data of schema when the tool is installed and can talk to the
// server.
func pgDump(t *testing.T, schema string) (string, bool) {
	path, err := exec.LookPath("pg_dump")
	if err != nil {
		return "", false
	}
	out, err := exec.CommandContext(t.Context(), path, "--data-only", "--schema="+schema, postgresURL(t)).Output()
	if err != nil {
		t.Logf("pg_dump not used: %v", err)
		return "", false
	}
	return string(out), true
}
