package connectors

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// IdempotencyKeyHeader is the request header connectors use to forward
// [Request.IdempotencyKey] when the remote has no native mechanism (IETF
// draft-ietf-httpapi-idempotency-key-header). Remotes that do not know it ignore it.
const IdempotencyKeyHeader = "Idempotency-Key"

// BaseURL is a parsed, validated base URL. The zero value is unusable; build one
// with [ParseBaseURL]. It is immutable and safe for concurrent use.
type BaseURL struct {
	u *url.URL
}

// ParseBaseURL parses raw as an absolute http or https URL with a host. A trailing
// slash is dropped. Query strings and fragments are rejected, since they would be
// silently lost. Errors wrap [ErrInvalidConfig] and name the field as "base_url".
func ParseBaseURL(raw string) (BaseURL, error) {
	if raw == "" {
		return BaseURL{}, fmt.Errorf("%w: base_url is required", ErrInvalidConfig)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return BaseURL{}, fmt.Errorf("%w: base_url is not a URL", ErrInvalidConfig)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return BaseURL{}, fmt.Errorf("%w: base_url scheme must be http or https, got %q", ErrInvalidConfig, u.Scheme)
	}
	if u.Host == "" {
		return BaseURL{}, fmt.Errorf("%w: base_url has no host", ErrInvalidConfig)
	}
	if u.User != nil {
		return BaseURL{}, fmt.Errorf("%w: base_url must not embed credentials; use auth", ErrInvalidConfig)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return BaseURL{}, fmt.Errorf("%w: base_url must not have a query or fragment", ErrInvalidConfig)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return BaseURL{u: u}, nil
}

// String returns the base URL without a trailing slash.
func (b BaseURL) String() string {
	if b.u == nil {
		return ""
	}
	return b.u.String()
}

// IsZero reports whether b was not built by ParseBaseURL.
func (b BaseURL) IsZero() bool { return b.u == nil }

// Join appends path (already escaped: callers url.PathEscape each segment they
// build, with or without a leading slash) to
// the base path and adds query. For a base of https://ghe.example.com/api/v3, Join
// ("/repos/o/r") is https://ghe.example.com/api/v3/repos/o/r.
func (b BaseURL) Join(path string, query url.Values) string {
	u := *b.u
	if path != "" && !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	escaped := b.u.EscapedPath() + path
	if unescaped, err := url.PathUnescape(escaped); err == nil {
		u.Path, u.RawPath = unescaped, escaped
	} else {
		u.Path, u.RawPath = b.u.Path+path, ""
	}
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	return u.String()
}

// Resolve resolves ref, a URL the remote handed out (a Link header, Salesforce's
// nextRecordsUrl), against the base as RFC 3986 does. It returns an error wrapping
// [ErrForeignURL] when the result's scheme or host differ from the base's, so that
// credentials are never sent to a host the caller did not configure.
func (b BaseURL) Resolve(ref string) (string, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("%w: remote supplied an unparsable URL", ErrBadRequest)
	}
	u := b.u.ResolveReference(r)
	if u.Scheme != b.u.Scheme || !strings.EqualFold(u.Host, b.u.Host) {
		return "", fmt.Errorf("%w: %s://%s", ErrForeignURL, u.Scheme, u.Host)
	}
	return u.String(), nil
}

// NewJSONRequest builds an HTTP request bound to ctx with body as its JSON payload
// (no body when body is empty), Accept and Content-Type set to JSON, the extra
// headers copied (except Authorization, which connectors set themselves), the
// idempotency key forwarded in [IdempotencyKeyHeader] and userAgent set when not
// empty. It returns an [*Error] of ClassPermanent wrapping [ErrBadRequest] when body
// is not valid JSON.
func NewJSONRequest(ctx context.Context, op, method, rawURL string, body []byte, extra http.Header, idempotencyKey, userAgent string) (*http.Request, error) {
	var rd io.Reader
	if len(body) > 0 {
		if !json.Valid(body) {
			return nil, BadRequest(op, "body is not valid JSON")
		}
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return nil, BadRequest(op, "cannot build request: invalid method or URL")
	}
	for k, vs := range extra {
		if http.CanonicalHeaderKey(k) == "Authorization" {
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Accept", "application/json")
	if rd != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if idempotencyKey != "" {
		req.Header.Set(IdempotencyKeyHeader, idempotencyKey)
	}
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	return req, nil
}

// BadRequest returns an [*Error] of ClassPermanent for op wrapping [ErrBadRequest]
// with the given detail.
func BadRequest(op, detail string) *Error {
	return &Error{Class: ClassPermanent, Op: op, Err: fmt.Errorf("%w: %s", ErrBadRequest, detail)}
}

// HTTPResult is a response whose body has been read in full (within the bound) and
// closed.
type HTTPResult struct {
	// StatusCode is the HTTP status code.
	StatusCode int
	// Header holds the response headers.
	Header http.Header
	// Body is the response body.
	Body []byte
}

// OK reports whether the status is 2xx.
func (r *HTTPResult) OK() bool { return r.StatusCode >= 200 && r.StatusCode <= 299 }

// Do sends req with client (http.DefaultClient when nil) and reads at most maxBytes
// of the response body ([DefaultMaxResponseBytes] when maxBytes <= 0). It does not
// judge the status code: connectors call [StatusError] or their vendor's rules.
//
// Errors: the context's error (wrapped with op) when ctx is done; an [*Error] of
// ClassPermanent wrapping [ErrResponseTooLarge] when the body exceeds the bound; an
// [*Error] from [TransportError] for network failures.
func Do(ctx context.Context, client *http.Client, op string, req *http.Request, maxBytes int64) (*HTTPResult, error) {
	if client == nil {
		client = http.DefaultClient
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxResponseBytes
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, TransportError(ctx, op, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.ContentLength > maxBytes {
		return nil, tooLarge(op, resp, maxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, TransportError(ctx, op, err)
	}
	if int64(len(body)) > maxBytes {
		return nil, tooLarge(op, resp, maxBytes)
	}
	return &HTTPResult{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

func tooLarge(op string, resp *http.Response, limit int64) *Error {
	return &Error{
		Class:      ClassPermanent,
		Op:         op,
		StatusCode: resp.StatusCode,
		Header:     SafeHeader(resp.Header),
		Err:        fmt.Errorf("%w (%d bytes)", ErrResponseTooLarge, limit),
	}
}

// TransportError classifies err, returned while sending a request or reading its
// response, for op.
//
// When ctx is done it returns ctx.Err() wrapped with op, so errors.Is(err,
// context.Canceled) and errors.Is(err, context.DeadlineExceeded) hold and no retry
// policy mistakes it for a remote failure. Otherwise it returns an [*Error]: class
// ClassPermanent for TLS certificate failures (configuration problems) and for errors in the
// chain whose Permanent method reports true (such as a destination the hub's guard refuses),
// ClassTransient for everything else (refused, reset, EOF, timeouts, DNS). The *url.Error layer,
// whose text contains the request URL (which may carry a token, as Slack incoming
// webhook URLs do), is removed.
func TransportError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("connectors: %s: %w", op, ctxErr)
	}
	var uerr *url.Error
	for errors.As(err, &uerr) {
		err = uerr.Err
	}
	class := ClassTransient
	var (
		unknownAuth *x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		certInvalid x509.CertificateInvalidError
		verifyErr   *tls.CertificateVerificationError
		permanent   interface{ Permanent() bool }
	)
	if errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &certInvalid) || errors.As(err, &verifyErr) ||
		(errors.As(err, &permanent) && permanent.Permanent()) {
		class = ClassPermanent
	}
	return &Error{Class: class, Op: op, Err: err}
}

// StatusError builds the [*Error] for a non-2xx result: the class from
// [ClassForStatus], the delay from [ParseRetryAfter] (relative to now), the headers
// (through [SafeHeader]), and the vendor code and message given by the caller (message is redacted of
// secrets).
func StatusError(op string, res *HTTPResult, code, message string, now time.Time, secrets ...string) *Error {
	return &Error{
		Class:      ClassForStatus(res.StatusCode),
		Op:         op,
		StatusCode: res.StatusCode,
		Code:       Redact(code, secrets...),
		Message:    Redact(message, secrets...),
		RetryDelay: ParseRetryAfter(res.Header, now),
		Header:     SafeHeader(res.Header),
	}
}

// SafeHeader returns h without Set-Cookie, the one response header that can carry a
// credential (a session cookie), for keeping in an [*Error]. It copies h only when
// it has to remove something.
func SafeHeader(h http.Header) http.Header {
	if _, ok := h["Set-Cookie"]; !ok {
		return h
	}
	c := h.Clone()
	c.Del("Set-Cookie")
	return c
}

// ParseRetryAfter reads the Retry-After header (RFC 9110 §10.2.3) as either
// delay-seconds or an HTTP-date relative to now. It returns 0 when the header is
// absent, malformed or in the past.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 || secs > int64(24*time.Hour/time.Second) {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
