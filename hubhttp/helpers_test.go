package hubhttp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/internal/apitest"
)

// Tokens of the test principals.
const (
	tokChair    = "tok-chairman"
	tokAdmin    = "tok-admin"
	tokOperator = "tok-operator"
	tokViewer   = "tok-viewer"
	// tokNobody authenticates a principal holding no role: a governed hub refuses it
	// everything.
	tokNobody = "tok-nobody"
)

var testPrincipals = map[string]hubhttp.Principal{
	tokChair:    {ID: "chair", Roles: []string{"chairman"}},
	tokAdmin:    {ID: "alice", Roles: []string{"admin"}},
	tokOperator: {ID: "oscar", Roles: []string{"operator"}},
	tokViewer:   {ID: "vera", Roles: []string{"viewer"}},
	tokNobody:   {ID: "nina"},
}

// covered is the suite's ledger: per operation of the document, the kinds of answers the
// tests received (each validated against the document first). TestMain checks it: every
// operation must have been called successfully and refused without credentials, and,
// where they apply, refused for lack of a permission, refused a malformed JSON body,
// answered 404 for an unknown id and followed through a second page.
var covered = struct {
	sync.Mutex
	ops map[string]*opCoverage
}{ops: map[string]*opCoverage{}}

// opCoverage is what the suite exercised of one operation.
type opCoverage struct {
	success, unauthenticated, forbidden, malformedJSON, unknownID, nextPage bool
}

// record notes the validated answer status (with its problem code) to a request of op.
func record(op string, req *http.Request, status int, code string) {
	covered.Lock()
	defer covered.Unlock()
	c := covered.ops[op]
	if c == nil {
		c = &opCoverage{}
		covered.ops[op] = c
	}
	switch {
	case status < 300:
		c.success = true
		if q := req.URL.Query(); q.Get("cursor") != "" || (q.Get("offset") != "" && q.Get("offset") != "0") {
			c.nextPage = true
		}
	case status == http.StatusUnauthorized && code == apiv1.CodeUnauthenticated:
		c.unauthenticated = true
	case status == http.StatusForbidden && code == apiv1.CodeForbidden:
		c.forbidden = true
	case status == http.StatusBadRequest && code == apiv1.CodeMalformedJSON:
		c.malformedJSON = true
	case status == http.StatusNotFound && code == apiv1.CodeNotFound:
		c.unknownID = true
	}
}

func TestMain(m *testing.M) {
	apitest.RegisterDecoders()
	code := m.Run()
	if code == 0 && !testing.Short() && os.Getenv("HUBHTTP_SKIP_COVERAGE") == "" && runAll() {
		code = checkCoverage()
	}
	if code == 0 {
		if err := goleak.Find(
			goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		); err != nil {
			println("goleak:", err.Error())
			code = 1
		}
	}
	os.Exit(code)
}

// runAll reports whether the whole suite ran (no -run filter), so coverage is meaningful.
func runAll() bool {
	for _, a := range os.Args {
		if strings.HasPrefix(a, "-test.run") {
			return false
		}
	}
	return true
}

// checkCoverage fails the run when an operation of the document lacks a kind of test:
// every operation must be called successfully and without credentials; one taking a JSON
// body with a malformed body; one with path parameters with an unknown id; one with a
// cursor or offset parameter through a second page; and every operation but those open to every
// authenticated caller (openToAll) by a caller lacking its permission.
func checkCoverage() int {
	docCache.Lock()
	raw := docCache.raw
	docCache.Unlock()
	if raw == nil {
		return 0
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		println("coverage: loading the document:", err.Error())
		return 1
	}
	covered.Lock()
	defer covered.Unlock()
	var missing []string
	n := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			n++
			c := covered.ops[op.OperationID]
			if c == nil {
				c = &opCoverage{}
			}
			name := method + " " + path + " (" + op.OperationID + ")"
			need := func(ok bool, what string) {
				if !ok {
					missing = append(missing, name+": "+what)
				}
			}
			need(c.success, "no successful call")
			need(c.unauthenticated, "no call without credentials (401)")
			need(c.forbidden || openToAll[op.OperationID], "no call lacking the permission (403)")
			need(c.malformedJSON || op.RequestBody == nil, "no malformed JSON body (400)")
			need(c.unknownID || !strings.Contains(path, "{"), "no unknown id (404)")
			paged := false
			for _, p := range op.Parameters {
				paged = paged || (p.Value != nil && p.Value.In == "query" && (p.Value.Name == "cursor" || p.Value.Name == "offset"))
			}
			need(c.nextPage || !paged, "no second page (cursor or offset) followed")
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		println("endpoints missing a kind of test:\n  " + strings.Join(missing, "\n  "))
		return 1
	}
	println(fmt.Sprintf("coverage: all %d operations of the document called successfully, without credentials, "+
		"without the permission, with malformed JSON, with unknown ids and through pages where they apply", n))
	return 0
}

type apiBundle struct {
	hub     *hub.Hub
	handler *hubhttp.Handler
	srv     *httptest.Server
	sink    *hubtest.Sink
	doc     *openapi3.T
	router  routers.Router
}

// setupAPI starts a hub with a sink service named "sink", the handler over it and a test
// server, and loads the served OpenAPI document.
func setupAPI(t *testing.T, opts ...hub.Option) *apiBundle {
	t.Helper()
	h := hubtest.New(t, nil, opts...)
	x, err := hubhttp.New(h, hubhttp.Options{Authenticate: hubhttp.BearerTokens(testPrincipals)})
	require.NoError(t, err)
	srv := httptest.NewServer(x)
	t.Cleanup(func() {
		x.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	b := &apiBundle{hub: h, handler: x, srv: srv, sink: hubtest.NewSink(t)}
	b.doc, b.router = loadDoc(t, srv.URL)
	registerSink(t, h, "sink", b.sink.URL)
	return b
}

var docCache struct {
	sync.Mutex
	raw []byte
}

func loadDoc(t *testing.T, base string) (*openapi3.T, routers.Router) {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/openapi.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()), "the served OpenAPI document is invalid")
	r, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	docCache.Lock()
	docCache.raw = raw
	docCache.Unlock()
	return doc, r
}

func registerSink(t testing.TB, h *hub.Hub, name, url string) *hub.Registration {
	t.Helper()
	reg, err := h.RegisterIntegration(context.Background(), hub.IntegrationConfig{
		Name: name, Connector: "http", BaseURL: url,
		Retry:          json.RawMessage(hubtest.FastRetry),
		RateLimits:     json.RawMessage(hubtest.Unlimited),
		CircuitBreaker: json.RawMessage(`{"failure_threshold": 1000, "recovery_timeout": "100ms"}`),
	})
	require.NoError(t, err)
	return reg
}

// result is a validated response.
type result struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *result) decode(t *testing.T, v any) {
	t.Helper()
	reflect.ValueOf(v).Elem().SetZero()
	require.NoError(t, json.Unmarshal(r.Body, v), "body: %s", r.Body)
}

func (r *result) problem(t *testing.T) *apiv1.Problem {
	t.Helper()
	require.Equal(t, apiv1.ProblemContentType, r.Header.Get("Content-Type"), "body: %s", r.Body)
	var p apiv1.Problem
	r.decode(t, &p)
	require.Equal(t, r.Status, p.Status)
	require.Equal(t, apiv1.ProblemTypePrefix+p.Code, p.Type)
	return &p
}

// call sends a request with the bearer token (none when empty) and a raw body, and
// validates the response against the served OpenAPI document.
func (b *apiBundle) call(t *testing.T, method, path, token string, body []byte) *result {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, b.srv.URL+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return b.do(t, req)
}

// do sends req as it is and validates the response against the served OpenAPI document.
// Requests whose path is under a prefix the handler is mounted at (see
// TestMountedUnderPrefix) are validated as the handler saw them, with strip removed.
func (b *apiBundle) do(t *testing.T, req *http.Request, strip ...string) *result {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	res := &result{Status: resp.StatusCode, Header: resp.Header, Body: raw}
	vreq := req
	if len(strip) > 0 {
		vreq = req.Clone(req.Context())
		u := *req.URL
		u.Host = strings.TrimPrefix(b.srv.URL, "http://")
		u.Path = strings.TrimPrefix(u.Path, strip[0])
		vreq.URL = &u
	}
	b.validate(t, vreq, res)
	return res
}

// validate checks a response against the operation the request matches.
func (b *apiBundle) validate(t *testing.T, req *http.Request, res *result) {
	t.Helper()
	route, params, err := b.router.FindRoute(req)
	if err != nil {
		// no operation: only the handler's own 404/405 problems are allowed
		require.Contains(t, []int{404, 405}, res.Status, "unrouted %s %s answered %d", req.Method, req.URL.Path, res.Status)
		require.Equal(t, apiv1.ProblemContentType, res.Header.Get("Content-Type"))
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.Status,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(res.Body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), in),
		"%s %s -> %d does not match the OpenAPI document: %s", req.Method, req.URL.Path, res.Status, res.Body)
	code := ""
	if res.Header.Get("Content-Type") == apiv1.ProblemContentType {
		var p apiv1.Problem
		if json.Unmarshal(res.Body, &p) == nil {
			code = p.Code
		}
	}
	record(route.Operation.OperationID, req, res.Status, code)
}

// json is a shortcut for calls with a JSON value as body.
func (b *apiBundle) json(t *testing.T, method, path, token string, v any) *result {
	t.Helper()
	var body []byte
	if v != nil {
		var err error
		body, err = json.Marshal(v)
		require.NoError(t, err)
	}
	return b.call(t, method, path, token, body)
}

// sseMessage is one Server-Sent Events message.
type sseMessage struct {
	ID, Event string
	Data      []byte
}

// openStream opens GET /api/v1/stream with query and lastID and returns its messages,
// each validated against the document, until the test ends.
func (b *apiBundle) openStream(t *testing.T, query, lastID string) <-chan sseMessage {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, "GET", b.srv.URL+"/api/v1/stream"+query, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tokOperator)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	out := make(chan sseMessage, 1024)
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	go func() {
		defer close(done)
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var m sseMessage
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if m.Data != nil {
					out <- m
				}
				m = sseMessage{}
			case strings.HasPrefix(line, "id: "):
				m.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				m.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				m.Data = []byte(line[6:])
			}
		}
	}()
	// validate every message's data as the stream operation's body
	validated := make(chan sseMessage, 1024)
	go func() {
		defer close(validated)
		for m := range out {
			vreq, _ := http.NewRequest("GET", b.srv.URL+"/api/v1/stream", nil)
			res := &result{Status: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: m.Data}
			route, params, err := b.router.FindRoute(vreq)
			if err == nil {
				in := &openapi3filter.ResponseValidationInput{
					RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route},
					Status:                 200, Header: res.Header, Body: io.NopCloser(bytes.NewReader(m.Data)),
				}
				if verr := openapi3filter.ValidateResponse(context.Background(), in); verr != nil {
					t.Errorf("stream message does not match the document: %v: %s", verr, m.Data)
				}
				record("stream", vreq, 200, "")
			}
			validated <- m
		}
	}()
	return validated
}

// waitFloor is the shortest bound waitMessage waits for a message.
const waitFloor = 30 * time.Second

// waitMessage returns the first message accepted by match, failing after d.
func waitMessage(t *testing.T, ch <-chan sseMessage, d time.Duration, match func(apiv1.StreamEvent) bool) (sseMessage, apiv1.StreamEvent) {
	t.Helper()
	// d bounds a hang, it does not time the hub: on a saturated machine a message can take
	// far longer than the caller's estimate, so the bound is never below waitFloor.
	d = max(d, waitFloor)
	timeout := time.After(d)
	for {
		select {
		case m, ok := <-ch:
			require.True(t, ok, "stream ended")
			var ev apiv1.StreamEvent
			require.NoError(t, json.Unmarshal(m.Data, &ev))
			if match(ev) {
				return m, ev
			}
		case <-timeout:
			t.Fatalf("no matching stream message within %v", d)
		}
	}
}
