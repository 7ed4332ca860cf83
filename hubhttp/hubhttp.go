// Package hubhttp is the hub's management HTTP API and web console in one http.Handler that
// a host service mounts: JSON endpoints under /api/v1 (services, events, health, metrics,
// analytics, escalations, recovery, audit, approvals, mappings, contracts, text commands), a
// Server-Sent Events stream of live changes at /api/v1/stream, the OpenAPI 3.1 document at
// /api/v1/openapi.json, and the console's pages and files (embedded; no network needed) at
// every other path.
//
// The handler is a client of the hub's Go API: each endpoint calls exported methods of
// *hub.Hub, so the console, cmd/hubctl and an embedding service see the same behaviour and
// errors. Every request of the API is authenticated by Options.Authenticate (bearer tokens
// by default, see BearerTokens), and runs with the caller in its context; the hub, not this
// package, decides what the caller may do. Errors are RFC 9457 problem details (see
// apiv1.Problem).
//
// Mount it at the root, or under a prefix with http.StripPrefix:
//
//	h, err := hubhttp.New(theHub, hubhttp.Options{Authenticate: hubhttp.BearerTokens(tokens)})
//	mux.Handle("/hub/", http.StripPrefix("/hub", h))
//
// The console uses relative URLs, so it works under any prefix ending in a slash. It sends
// the token as a bearer header (never a cookie), so there is no cross-site request forgery
// to defend, and the handler sets no CORS headers: other origins cannot call it from a
// browser with the user's credentials.
package hubhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/hubhttp/internal/apiendpoint"
)

// Defaults of [Options].
const (
	// MaxBodyBytesDefault bounds a request body.
	MaxBodyBytesDefault = 4 << 20
	// StreamBufferDefault is how many stream events the handler keeps for clients that
	// resume with Last-Event-ID.
	StreamBufferDefault = 1024
)

// Options configure the handler.
type Options struct {
	// Authenticate identifies the caller of every API request. Required: use
	// BearerTokens for static tokens, or plug in the platform's own (sessions, OIDC ...).
	Authenticate AuthenticateFunc
	// Logger receives request failures (never credentials). Default (nil): discard.
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body. Default MaxBodyBytesDefault.
	MaxBodyBytes int64
	// StreamBuffer is how many recent stream events are kept for resuming clients.
	// Default StreamBufferDefault.
	StreamBuffer int
	// Title names the hub in the console's header. Default "Integration Hub".
	Title string
}

// Handler serves the management API and the console. It is safe for concurrent use. Close
// stops its background stream feed; it also stops by itself when the hub closes.
type Handler struct {
	hub       *hub.Hub
	opts      Options
	mux       *http.ServeMux
	endpoints []*apiendpoint.Endpoint
	env       *apiendpoint.Env
	openapi   []byte
	stream    *broker
	static    http.Handler
	index     []byte

	closeOnce sync.Once
}

// New returns the handler for h. Errors: a missing Authenticate or hub, or a bad option.
func New(h *hub.Hub, opts Options) (*Handler, error) {
	switch {
	case h == nil:
		return nil, errors.New("hubhttp: the hub is nil")
	case opts.Authenticate == nil:
		return nil, errors.New("hubhttp: Options.Authenticate is required (for example hubhttp.BearerTokens)")
	case opts.MaxBodyBytes < 0:
		return nil, errors.New("hubhttp: Options.MaxBodyBytes must not be negative")
	case opts.StreamBuffer < 0:
		return nil, errors.New("hubhttp: Options.StreamBuffer must not be negative")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = MaxBodyBytesDefault
	}
	if opts.StreamBuffer == 0 {
		opts.StreamBuffer = StreamBufferDefault
	}
	if opts.Title == "" {
		opts.Title = "Integration Hub"
	}
	x := &Handler{hub: h, opts: opts, mux: http.NewServeMux()}
	x.env = &apiendpoint.Env{Authenticate: x.authenticate, Problem: problemOf, Logger: opts.Logger, MaxBody: opts.MaxBodyBytes}
	x.stream = newBroker(h, opts.StreamBuffer, opts.Logger)
	x.endpoints = x.routes()
	for _, e := range x.endpoints {
		x.mux.Handle(e.Pattern(), e.Handler(x.env))
	}
	doc := apiendpoint.OpenAPI(apiendpoint.Info{Title: "Integration Hub management API", Version: "1",
		Description: "The hub's management API. Errors are RFC 9457 problem details; live changes stream from /api/v1/stream."}, x.endpoints)
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("hubhttp: encoding the OpenAPI document: %w", err)
	}
	x.openapi = b
	x.mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(x.openapi)
	})
	x.mux.HandleFunc("/api/", x.notFound)
	if err := x.initConsole(); err != nil {
		return nil, err
	}
	x.mux.Handle("/", x.consoleHandler())
	return x, nil
}

// OpenAPI returns the OpenAPI 3.1 document the handler serves at /api/v1/openapi.json.
func (x *Handler) OpenAPI() []byte { return append([]byte(nil), x.openapi...) }

// ServeHTTP serves the API and the console.
func (x *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
	if strings.HasPrefix(r.URL.Path, "/api/") {
		hd.Set("Cache-Control", "no-store")
	}
	x.mux.ServeHTTP(w, r)
}

// Close stops the background feed of the live stream and ends open streams. The handler
// keeps serving the API. Idempotent.
func (x *Handler) Close() {
	x.closeOnce.Do(x.stream.close)
}

// notFound answers unknown API paths: 405 when the path exists with other methods, else
// 404, as problem details.
func (x *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := x.mux.Handler(probe); pattern != "" && pattern != "/api/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		apiendpoint.WriteProblem(w, r, apiv1.NewProblem(http.StatusMethodNotAllowed, apiv1.CodeMethodNotAllowed, "Method not allowed",
			fmt.Sprintf("%s is not allowed here; allowed: %s", r.Method, strings.Join(allow, ", "))))
		return
	}
	apiendpoint.WriteProblem(w, r, apiv1.NewProblem(http.StatusNotFound, apiv1.CodeNotFound, "Not found", "no API endpoint at "+r.URL.Path))
}

// subFS returns the embedded directory dir.
func subFS(fsys fs.FS, dir string) fs.FS {
	s, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return s
}

var _ http.Handler = (*Handler)(nil)

// ctxKey keys the caller in a request context.
type ctxKey struct{}

func callerOf(ctx context.Context) Principal {
	p, _ := ctx.Value(ctxKey{}).(Principal)
	return p
}
