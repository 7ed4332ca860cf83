// Package apiendpoint is the typed endpoint layer of the management API: each endpoint is a
// function from a request struct to a response struct; the layer decodes path, query and
// header parameters and the JSON body into the request, encodes the response, turns errors
// into RFC 9457 problem details, and describes every endpoint in the OpenAPI document from
// the same types, so the document cannot drift from the code.
package apiendpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ehg/hub/hubhttp/apiv1"
)

// Meta describes an endpoint for routing and for the OpenAPI document.
type Meta struct {
	// Method and Path route the endpoint; Path uses {name} for path parameters.
	Method, Path string
	// OperationID, Summary, Description and Tag document it.
	OperationID string
	Summary     string
	Description string
	Tag         string
	// Status is the success status (default 200).
	Status int
	// Public endpoints need no authentication.
	Public bool
	// ContentType, for raw endpoints, is the media type of the success body.
	ContentType string
}

// Env is what every endpoint of one handler shares.
type Env struct {
	// Authenticate returns the context the call runs with (carrying the principal), or an
	// error that becomes 401.
	Authenticate func(r *http.Request) (context.Context, error)
	// Problem maps an error of a call to a problem document.
	Problem func(error) *apiv1.Problem
	Logger  *slog.Logger
	// MaxBody bounds request bodies.
	MaxBody int64
}

// Endpoint is one operation of the API.
type Endpoint struct {
	Meta
	req, resp reflect.Type
	serve     func(env *Env, w http.ResponseWriter, r *http.Request, ctx context.Context)
}

// NoContent is the response type of endpoints that answer 204 with no body.
type NoContent struct{}

// New returns the endpoint running fn. Req is a struct whose fields are filled from the
// request: `path:"name"`, `query:"name"` and `header:"Name"` fields from those parameters
// (strings, integers, booleans, time.Time in RFC 3339 and string slices from repeated or
// comma-separated values); the JSON body fills the field tagged `body:""` when there is
// one, else every other field (unknown members are refused). Resp is encoded as JSON with Meta.Status.
func New[Req, Resp any](m Meta, fn func(ctx context.Context, req *Req) (*Resp, error)) *Endpoint {
	if m.Status == 0 {
		m.Status = http.StatusOK
	}
	e := &Endpoint{Meta: m, req: reflect.TypeFor[Req](), resp: reflect.TypeFor[Resp]()}
	e.serve = func(env *Env, w http.ResponseWriter, r *http.Request, ctx context.Context) {
		req := new(Req)
		if p := decode(env, r, reflect.ValueOf(req).Elem()); p != nil {
			WriteProblem(w, r, p)
			return
		}
		resp, err := fn(ctx, req)
		if err != nil {
			WriteError(env, w, r, err)
			return
		}
		if _, ok := any(resp).(*NoContent); ok {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		WriteJSON(w, m.Status, resp)
	}
	return e
}

// Raw returns an endpoint served by fn as it is (streams, exports); Resp documents the
// success body of Meta.ContentType, Req its parameters.
func Raw[Req, Resp any](m Meta, fn func(w http.ResponseWriter, r *http.Request, ctx context.Context)) *Endpoint {
	if m.Status == 0 {
		m.Status = http.StatusOK
	}
	return &Endpoint{Meta: m, req: reflect.TypeFor[Req](), resp: reflect.TypeFor[Resp](),
		serve: func(_ *Env, w http.ResponseWriter, r *http.Request, ctx context.Context) { fn(w, r, ctx) }}
}

// Pattern is the net/http ServeMux pattern of the endpoint.
func (e *Endpoint) Pattern() string { return e.Method + " " + e.Path }

// Handler returns the endpoint as an http.Handler in env: authentication, decoding, the
// call, encoding.
func (e *Endpoint) Handler(env *Env) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !e.Public {
			var err error
			if ctx, err = env.Authenticate(r); err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="hub"`)
				WriteProblem(w, r, apiv1.NewProblem(http.StatusUnauthorized, apiv1.CodeUnauthenticated, "Unauthenticated", err.Error()))
				return
			}
		}
		e.serve(env, w, r, ctx)
	})
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, "encoding the response failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// WriteProblem writes p (its Instance set to the request path when empty).
func WriteProblem(w http.ResponseWriter, r *http.Request, p *apiv1.Problem) {
	if p.Instance == "" && r != nil {
		p.Instance = r.URL.Path
	}
	if p.Status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", apiv1.ProblemContentType)
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(b, '\n'))
}

// WriteError maps err with env.Problem and writes it; internal errors are logged with
// their text and answered without it.
func WriteError(env *Env, w http.ResponseWriter, r *http.Request, err error) {
	p := env.Problem(err)
	if p.Status >= 500 && p.Code != apiv1.CodeBusy && p.Code != apiv1.CodeUnavailable && p.Code != apiv1.CodeCircuitOpen {
		env.Logger.Error("hubhttp: request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
	}
	WriteProblem(w, r, p)
}

func decode(env *Env, r *http.Request, v reflect.Value) *apiv1.Problem {
	t := v.Type()
	hasBody := false
	target := v // what the JSON body decodes into: the request, or its `body` field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		var raw []string
		var name, where string
		switch {
		case f.Tag.Get("path") != "":
			name, where = f.Tag.Get("path"), "path"
			if s := r.PathValue(name); s != "" {
				raw = []string{s}
			}
		case f.Tag.Get("query") != "":
			name, where = f.Tag.Get("query"), "query"
			raw = r.URL.Query()[name]
		case f.Tag.Get("header") != "":
			name, where = f.Tag.Get("header"), "header"
			raw = r.Header.Values(name)
		case hasTag(f, "body"):
			hasBody, target = true, v.Field(i)
			continue
		default:
			if _, _, ok := jsonName(f); ok {
				hasBody = true
			}
			continue
		}
		if len(raw) == 0 {
			continue
		}
		if err := setParam(v.Field(i), raw); err != nil {
			return apiv1.NewProblem(http.StatusBadRequest, apiv1.CodeInvalidParameter, "Invalid parameter",
				fmt.Sprintf("%s parameter %q: %v", where, name, err))
		}
	}
	if !hasBody || r.Body == nil {
		return nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, env.MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return apiv1.NewProblem(http.StatusRequestEntityTooLarge, apiv1.CodeTooLarge, "Request body too large",
				fmt.Sprintf("the body is over %d bytes", env.MaxBody))
		}
		return apiv1.NewProblem(http.StatusBadRequest, apiv1.CodeMalformedJSON, "Unreadable body", err.Error())
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return apiv1.NewProblem(http.StatusUnsupportedMediaType, apiv1.CodeUnsupportedMedia, "Unsupported media type",
				fmt.Sprintf("the body must be application/json, not %q", ct))
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target.Addr().Interface()); err != nil {
		return apiv1.NewProblem(http.StatusBadRequest, apiv1.CodeMalformedJSON, "Malformed JSON body", describeJSONError(err))
	}
	if dec.More() {
		return apiv1.NewProblem(http.StatusBadRequest, apiv1.CodeMalformedJSON, "Malformed JSON body", "the body holds more than one JSON value")
	}
	return nil
}

func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		return fmt.Sprintf("member %q must be %s, not %s", te.Field, te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the body ends in the middle of a JSON value"
	}
	return err.Error()
}

func setParam(f reflect.Value, raw []string) error {
	if f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String {
		var vals []string
		for _, r := range raw {
			for p := range strings.SplitSeq(r, ",") {
				if p = strings.TrimSpace(p); p != "" {
					vals = append(vals, p)
				}
			}
		}
		s := reflect.MakeSlice(f.Type(), len(vals), len(vals))
		for i, p := range vals {
			s.Index(i).SetString(p)
		}
		f.Set(s)
		return nil
	}
	s := raw[len(raw)-1]
	if f.Type() == timeType {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("%q is not an RFC 3339 time", s)
		}
		f.Set(reflect.ValueOf(t))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		f.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not a boolean", s)
		}
		f.SetBool(b)
	default:
		return fmt.Errorf("unsupported parameter type %s", f.Type())
	}
	return nil
}

func hasTag(f reflect.StructField, key string) bool {
	_, ok := f.Tag.Lookup(key)
	return ok
}
