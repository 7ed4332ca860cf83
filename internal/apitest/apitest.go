// Package apitest checks, in tests, that what the management API (package hubhttp) answers
// its clients matches the OpenAPI document it serves.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/hubhttp/apiv1"
)

// RegisterDecoders teaches the response validator of kin-openapi (package-wide) the media
// types of the API beyond JSON: problem details, a Server-Sent Events message's data line
// (JSON) and JSON Lines (the audit export). Call it once from TestMain, before any test.
func RegisterDecoders() {
	openapi3filter.RegisterBodyDecoder(apiv1.ProblemContentType, openapi3filter.JSONBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.JSONBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/jsonl", jsonLinesDecoder)
}

// jsonLinesDecoder decodes a JSON Lines body for validation: every line must be JSON, and
// the first is validated against the documented line schema.
func jsonLinesDecoder(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	dec := json.NewDecoder(body)
	var first any
	for i := 0; ; i++ {
		var v any
		if err := dec.Decode(&v); errors.Is(err, io.EOF) {
			return first, nil
		} else if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if i == 0 {
			first = v
		}
	}
}

// Validating wraps x, the hubhttp handler, so that every API response it serves to any
// client (the console in a browser, hubctl) is validated against the OpenAPI document x
// serves at /api/v1/openapi.json; the live stream passes through (hubhttp's API tests
// validate its messages). Mismatches fail t when the test ends: call Validating before
// starting the server, so the check runs after the server is closed.
func Validating(t testing.TB, x http.Handler) http.Handler {
	t.Helper()
	rec := httptest.NewRecorder()
	x.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	require.Equal(t, 200, rec.Code)
	doc, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes())
	require.NoError(t, err)
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	var (
		mu       sync.Mutex
		problems []string
		n        int
	)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Error(p)
		}
		t.Logf("%d API responses to the clients validated against the document", n)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/api/v1/stream" || r.URL.Path == "/api/v1/openapi.json" {
			x.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		x.ServeHTTP(rec, r)
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())

		vreq := r.Clone(context.WithoutCancel(r.Context()))
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		vreq.URL = &u
		var msg string
		if route, params, err := router.FindRoute(vreq); err != nil {
			if rec.Code != 404 && rec.Code != 405 {
				msg = fmt.Sprintf("%s %s: no operation, answered %d", r.Method, r.URL.Path, rec.Code)
			}
		} else if err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route},
			Status:                 rec.Code,
			Header:                 rec.Header(),
			Body:                   io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}); err != nil {
			msg = fmt.Sprintf("%s %s -> %d does not match the OpenAPI document: %v: %s", r.Method, r.URL.Path, rec.Code, err, rec.Body.Bytes())
		}
		mu.Lock()
		defer mu.Unlock()
		n++
		if msg != "" {
			problems = append(problems, msg)
		}
	})
}
