package connectors

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ehg/hub/internal/redact"
)

// Class says what a caller should do about a failed call.
type Class uint8

const (
	// ClassTransient marks failures that may succeed when retried: 5xx, 408, network
	// errors (refused, reset, timeouts) and vendor codes meaning "try again".
	ClassTransient Class = iota + 1
	// ClassPermanent marks failures that will fail again unchanged: 4xx other than
	// 401, 403, 408 and 429, invalid requests, oversized responses.
	ClassPermanent
	// ClassAuth marks authentication and authorisation failures (401, 403, revoked
	// tokens). They are permanent until someone fixes the credentials.
	ClassAuth
	// ClassRateLimited marks throttling (429 and vendor rate-limit codes). Retry after
	// [Error.RetryAfter] when it is non-zero.
	ClassRateLimited
)

// String returns "transient", "permanent", "auth", "rate-limited" or "unknown".
func (c Class) String() string {
	switch c {
	case ClassTransient:
		return "transient"
	case ClassPermanent:
		return "permanent"
	case ClassAuth:
		return "auth"
	case ClassRateLimited:
		return "rate-limited"
	default:
		return "unknown"
	}
}

// Sentinel errors. An [*Error] matches the sentinel of its class under errors.Is;
// the others are wrapped as causes and matched the usual way.
var (
	// ErrTransient matches every *Error of class ClassTransient.
	ErrTransient = errors.New("connectors: transient failure")
	// ErrPermanent matches every *Error of class ClassPermanent.
	ErrPermanent = errors.New("connectors: permanent failure")
	// ErrAuth matches every *Error of class ClassAuth.
	ErrAuth = errors.New("connectors: authentication failed")
	// ErrRateLimited matches every *Error of class ClassRateLimited.
	ErrRateLimited = errors.New("connectors: rate limited")

	// ErrResponseTooLarge is the cause when a response body exceeds the bound set
	// by [Config.MaxResponseBytes]. The error's class is ClassPermanent.
	ErrResponseTooLarge = errors.New("connectors: response body exceeds limit")
	// ErrBadRequest is the cause when a [Request] cannot be sent as given: unknown
	// operation, missing parameter, body that is not valid JSON.
	ErrBadRequest = errors.New("connectors: invalid request")
	// ErrForeignURL is the cause when a URL supplied by the remote (a pagination link)
	// points at a host other than the configured base URL; following it would send
	// credentials to a third party.
	ErrForeignURL = errors.New("connectors: URL outside the configured base")
	// ErrInvalidConfig is wrapped by factories and constructors when a [Config] is
	// unusable; the message names the bad field.
	ErrInvalidConfig = errors.New("connectors: invalid configuration")
	// ErrUnknownKind is returned by [Registry.New] for a kind with no factory.
	ErrUnknownKind = errors.New("connectors: unknown connector kind")
	// ErrDuplicateKind is returned by [Registry.Register] when the kind is taken.
	ErrDuplicateKind = errors.New("connectors: connector kind already registered")
	// ErrInvalidSignature is wrapped by [WebhookVerifier] implementations when a
	// webhook's signature is missing, malformed or wrong.
	ErrInvalidSignature = errors.New("connectors: invalid webhook signature")
	// ErrStaleWebhook is wrapped by [WebhookVerifier] implementations when a webhook's
	// timestamp is outside the replay window.
	ErrStaleWebhook = errors.New("connectors: webhook timestamp outside replay window")
)

// Error is a classified failure of a remote call. It never holds credentials: the
// request is not kept, vendor messages are redacted by the connector, and transport
// errors lose the URL they were sent to.
//
// The methods Retryable, Permanent, RateLimited and RetryAfter form the contract that
// package resilience reads through an interface; they depend only on Class and
// RetryDelay.
type Error struct {
	// Class says whether and when to retry.
	Class Class
	// Op is the operation that failed, e.g. "github.create_issue".
	Op string
	// StatusCode is the HTTP status, or 0 when no response arrived.
	StatusCode int
	// Code is the vendor's error code ("ratelimited", "INVALID_SESSION_ID"), if any.
	Code string
	// Message is the vendor's human-readable message, redacted of known secrets.
	Message string
	// RetryDelay is how long the remote asked the caller to wait (Retry-After, a
	// rate-limit reset), or 0 when it gave no hint.
	RetryDelay time.Duration
	// Header holds the response headers, when a response arrived; resilience reads
	// rate-limit headers (X-RateLimit-*, Sforce-Limit-Info) from it.
	Header http.Header
	// Err is the underlying cause, if any.
	Err error
}

// Error formats the failure as "connectors: OP: CLASS (HTTP N, code C): MESSAGE: CAUSE",
// omitting empty parts.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("connectors: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Class.String())
	if e.StatusCode != 0 || e.Code != "" {
		b.WriteString(" (")
		if e.StatusCode != 0 {
			b.WriteString("HTTP ")
			b.WriteString(strconv.Itoa(e.StatusCode))
			if e.Code != "" {
				b.WriteString(", ")
			}
		}
		if e.Code != "" {
			b.WriteString("code ")
			b.WriteString(e.Code)
		}
		b.WriteString(")")
	}
	if e.RetryDelay > 0 {
		b.WriteString(" retry after ")
		b.WriteString(e.RetryDelay.String())
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's class (ErrTransient,
// ErrPermanent, ErrAuth or ErrRateLimited). Causes are matched through Unwrap.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrTransient:
		return e.Class == ClassTransient
	case ErrPermanent:
		return e.Class == ClassPermanent
	case ErrAuth:
		return e.Class == ClassAuth
	case ErrRateLimited:
		return e.Class == ClassRateLimited
	}
	return false
}

// Retryable reports whether retrying may succeed: true for ClassTransient and for
// ClassRateLimited (after RetryAfter), false otherwise.
func (e *Error) Retryable() bool {
	return e.Class == ClassTransient || e.Class == ClassRateLimited
}

// Permanent reports whether the call will fail again unchanged: true for
// ClassPermanent and ClassAuth.
func (e *Error) Permanent() bool {
	return e.Class == ClassPermanent || e.Class == ClassAuth
}

// RateLimited reports whether the remote throttled the call (ClassRateLimited).
func (e *Error) RateLimited() bool { return e.Class == ClassRateLimited }

// RetryAfter returns the delay the remote asked for, or 0 when it gave none.
func (e *Error) RetryAfter() time.Duration {
	if e.RetryDelay < 0 {
		return 0
	}
	return e.RetryDelay
}

// Redacted is the text that replaces secrets removed by [Redact].
const Redacted = "[REDACTED]"

// Redact returns s with every occurrence of each non-empty secret replaced by
// [Redacted], in every form the secret can take in an echoed request: raw,
// percent-encoded (query and path), JSON- and Go-escaped, base64, and the secret segments
// and query values of a secret URL. Connectors pass vendor messages through it before
// putting them in an [*Error], since some remotes echo request data back.
func Redact(s string, secrets ...string) string {
	if s == "" {
		return s
	}
	var forms []string
	for _, sec := range secrets {
		switch {
		case sec == "":
		case len(sec) < redact.MinSecretLen:
			s = strings.ReplaceAll(s, sec, Redacted)
		default:
			forms = append(forms, redact.Forms(sec)...)
		}
	}
	if len(forms) == 0 {
		return s
	}
	r := redact.New()
	r.Add(forms...)
	return r.String(s)
}

// ClassForStatus maps an HTTP status code that is not a success to a class:
// 429 → ClassRateLimited; 401, 403 → ClassAuth; 408, 425 and 5xx except 501 and 505 →
// ClassTransient; everything else (other 4xx, unexpected 1xx/3xx, 501, 505) →
// ClassPermanent.
func ClassForStatus(status int) Class {
	switch {
	case status == http.StatusTooManyRequests:
		return ClassRateLimited
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ClassAuth
	case status == http.StatusRequestTimeout || status == http.StatusTooEarly:
		return ClassTransient
	case status == http.StatusNotImplemented || status == http.StatusHTTPVersionNotSupported:
		return ClassPermanent
	case status >= 500 && status <= 599:
		return ClassTransient
	default:
		return ClassPermanent
	}
}
