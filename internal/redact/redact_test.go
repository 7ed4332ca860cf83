package redact_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ehg/hub/internal/redact"
)

// secret has characters that every encoding changes.
const secret = "s3cr3t+/=&?% <tok>\"é"

func TestFormsAreRedacted(t *testing.T) {
	t.Parallel()
	r := redact.New()
	r.AddDocument([]byte(`{"type":"basic","username":"me@example.com","password":` + strconv.Quote(secret) + `,
		"webhook_url":"https://hooks.example.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX?sig=abcdefghijkl"}`))
	js, _ := json.Marshal(secret)
	cases := []struct{ name, text string }{
		{"raw", secret},
		{"query", url.QueryEscape(secret)},
		{"path", url.PathEscape(secret)},
		{"json", string(js[1 : len(js)-1])},
		{"go", strconv.Quote(secret)},
		{"base64", base64.StdEncoding.EncodeToString([]byte(secret))},
		{"basic", "Basic " + base64.StdEncoding.EncodeToString([]byte("me@example.com:"+secret))},
		{"form pair", base64.StdEncoding.EncodeToString([]byte(url.QueryEscape("me@example.com") + ":" + url.QueryEscape(secret)))},
		{"webhook url", "https://hooks.example.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"},
		{"webhook path", "POST /services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"},
		{"webhook token", "token XXXXXXXXXXXXXXXXXXXXXXXX"},
		{"query value", "sig=abcdefghijkl"},
		{"lower escapes", strings.ToLower(url.QueryEscape(secret))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			text := "echo: " + c.text + " end"
			out := r.String(text)
			require.Contains(t, out, redact.Redacted)
			require.NotContains(t, out, "XXXXXXXXXXXXXXXXXXXXXXXX")
			require.NotContains(t, out, "s3cr3t")
		})
	}
	// structural values stay readable
	require.Equal(t, "basic auth", r.String("basic auth"))
}

func TestShortValuesAreNotSecrets(t *testing.T) {
	t.Parallel()
	r := redact.New()
	r.AddSecret("abc", "")
	require.Zero(t, r.Len())
	require.Equal(t, "abc", r.String("abc"))
}

func TestErrorKeepsChain(t *testing.T) {
	t.Parallel()
	r := redact.New()
	r.AddSecret("tok-123456")
	base := errors.New("remote said: bad token tok-123456")
	err := r.Error(fmt.Errorf("call: %w", base))
	require.ErrorIs(t, err, base)
	for _, verb := range []string{"%v", "%+v", "%s", "%q"} {
		require.NotContains(t, fmt.Sprintf(verb, err), "tok-123456", verb)
	}
	b, _ := json.Marshal(err)
	require.NotContains(t, string(b), "tok-123456")
	clean := errors.New("fine")
	require.Same(t, clean, r.Error(clean))
	require.NoError(t, r.Error(nil))
}

func TestHandler(t *testing.T) {
	t.Parallel()
	r := redact.New()
	r.AddSecret("tok-123456")
	var buf bytes.Buffer
	log := slog.New(redact.NewHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), r))
	log = log.With("pre", "tok-123456").WithGroup("g")
	log.Debug("sent tok-123456", "s", "Bearer tok-123456", "err", errors.New("x tok-123456"),
		"any", map[string]string{"k": "tok-123456"}, slog.Group("inner", "v", "tok-123456"), "b", []byte("tok-123456"))
	require.NotContains(t, buf.String(), "tok-123456")
	require.Equal(t, 6, strings.Count(buf.String(), redact.Redacted), buf.String())
	require.NotContains(t, buf.String(), base64.StdEncoding.EncodeToString([]byte("tok-123456")), "bytes are redacted before encoding")
}

func TestTracerProvider(t *testing.T) {
	t.Parallel()
	r := redact.New()
	r.AddSecret("tok-123456")
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tr := redact.TracerProvider(tp, r).Tracer("t")
	ctx, span := tr.Start(t.Context(), "op tok-123456", traceStartAttr("a", "tok-123456"))
	span.SetAttributes(attribute.String("b", "x tok-123456"), attribute.StringSlice("c", []string{"tok-123456"}))
	span.RecordError(errors.New("failed tok-123456"))
	span.AddEvent("ev tok-123456")
	span.SetStatus(codes.Error, "status tok-123456")
	_, child := tr.Start(ctx, "child")
	child.End()
	span.End()
	require.NoError(t, tp.ForceFlush(context.Background()))
	spans := exp.GetSpans()
	require.Len(t, spans, 2)
	dump := fmt.Sprintf("%+v", spans)
	require.NotContains(t, dump, "tok-123456")
	require.Equal(t, spans[1].SpanContext.SpanID(), spans[0].Parent.SpanID(), "the context carries the span")
}

func TestObserve(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/token" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"at-runtime-0001","refresh_token":"rt-rotated-0002","token_type":"bearer"}`)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	r := redact.New()
	client := &http.Client{Transport: redact.Observe(r, http.DefaultTransport)}
	resp, err := client.PostForm(srv.URL+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt-0000"}})
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Contains(t, string(body), "at-runtime-0001", "the caller reads the whole body")
	require.Equal(t, redact.Redacted, r.String("at-runtime-0001"))
	require.Equal(t, redact.Redacted, r.String("rt-rotated-0002"))

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api", nil)
	req.Header.Set("Authorization", "Token hdr-value-0003")
	resp, err = client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, redact.Redacted, r.String("hdr-value-0003"))
}

func traceStartAttr(k, v string) traceOpt { return traceWithAttr(attribute.String(k, v)) }

type traceOpt = trace.SpanStartEventOption

func traceWithAttr(kv attribute.KeyValue) traceOpt { return trace.WithAttributes(kv) }
