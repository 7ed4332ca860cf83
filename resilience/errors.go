package resilience

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/failsafe-go/failsafe-go/timeout"
)

// RetryableError is implemented by errors that are transient (5xx, 408, network): worth retrying.
type RetryableError interface {
	error
	Retryable() bool
}

// PermanentError is implemented by errors that are the caller's fault (4xx other than 408/429, auth): never retried, not an outage.
type PermanentError interface {
	error
	Permanent() bool
}

// RateLimitedError is implemented by errors that mean the remote rate limit was hit; RetryAfter is 0 when the remote gave no hint.
type RateLimitedError interface {
	error
	RateLimited() bool
	RetryAfter() time.Duration
}

// Sentinel errors callers branch on with errors.Is. Each wraps the failsafe-go error it stands for,
// so errors.Is(err, circuitbreaker.ErrOpen) holds as well for an error that Is ErrCircuitOpen.
var (
	// ErrCircuitOpen: the circuit breaker of every usable endpoint rejected the call; nothing
	// reached the service. The returned *RejectedError carries the remaining recovery delay.
	ErrCircuitOpen = fmt.Errorf("resilience: circuit breaker open: %w", circuitbreaker.ErrOpen)

	// ErrRateLimited: a permit could not be had within the configured max wait, either from the
	// configured ceiling or because the remote service's observed limit is exhausted. Nothing
	// reached the service. The returned *RejectedError carries how long to wait when known.
	ErrRateLimited = fmt.Errorf("resilience: rate limited: %w", ratelimiter.ErrExceeded)

	// ErrBulkheadFull: the maximum number of concurrent calls was in flight for the whole max
	// wait. Nothing reached the service.
	ErrBulkheadFull = fmt.Errorf("resilience: too many concurrent calls: %w", bulkhead.ErrFull)

	// ErrTimeout: an attempt exceeded the configured per-attempt timeout (its context was
	// cancelled). The service may or may not have acted on the request.
	ErrTimeout = fmt.Errorf("resilience: attempt timed out: %w", timeout.ErrExceeded)

	// ErrInvalidConfig is wrapped by every *ConfigError.
	ErrInvalidConfig = errors.New("resilience: invalid config")

	// ErrUnknownEndpoint is returned by lookups of an endpoint the policy was not built with.
	ErrUnknownEndpoint = errors.New("resilience: unknown endpoint")
)

// RejectedError is returned by [Execute] when a policy refused a call before it reached the
// service: the breaker was open, the rate limit could not be met within the max wait, or the
// bulkhead was full. Reason is one of ErrCircuitOpen, ErrRateLimited, ErrBulkheadFull, so
// errors.Is(err, ErrCircuitOpen) works on the returned error. Callers of a policy may return
// their own RejectedError, with a reason of their own, for a call they refuse before it
// starts (the hub does for a service disabled while its event was being claimed).
//
// A RejectedError is not a failure of the service: the delivery engine should reschedule the
// event after RetryAfter (see [Policy.NextBackoff], which honours it) without counting an attempt.
// It implements [RetryableError] (always retryable) and, when Reason is ErrRateLimited,
// [RateLimitedError].
type RejectedError struct {
	// Reason is ErrCircuitOpen, ErrRateLimited or ErrBulkheadFull (or a caller's own reason).
	Reason error
	// Endpoint is the endpoint that rejected, "" when the rejection was not endpoint-specific.
	Endpoint string
	// Wait is how long until a call would likely be accepted; 0 when unknown.
	Wait time.Duration
}

// Error describes the rejection.
func (e *RejectedError) Error() string {
	var s string
	if e.Endpoint != "" {
		s = fmt.Sprintf("%v (host %q)", e.Reason, Host(e.Endpoint))
	} else {
		s = fmt.Sprint(e.Reason)
	}
	if e.Wait > 0 {
		s += fmt.Sprintf("; retry in %s", e.Wait)
	}
	return s
}

// Unwrap returns Reason.
func (e *RejectedError) Unwrap() error { return e.Reason }

// Retryable reports true: a rejected call may be tried again later.
func (e *RejectedError) Retryable() bool { return true }

// RateLimited reports whether the rejection came from a rate limit.
func (e *RejectedError) RateLimited() bool { return errors.Is(e.Reason, ErrRateLimited) }

// RetryAfter returns Wait.
func (e *RejectedError) RetryAfter() time.Duration { return e.Wait }

// ConfigError reports an invalid configuration value. It wraps ErrInvalidConfig, and Err when
// the cause is a JSON decoding error.
type ConfigError struct {
	// Field is the JSON path of the offending value, e.g. "circuit_breaker_config.failure_threshold".
	Field string
	// Value is the rejected value (nil for decoding errors).
	Value any
	// Reason says what is wrong.
	Reason string
	// Err is the underlying decoding error, if any.
	Err error
}

// Error describes the invalid field.
func (e *ConfigError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("resilience: invalid config %s: %s: %v", e.Field, e.Reason, e.Err)
	}
	return fmt.Sprintf("resilience: invalid config %s = %v: %s", e.Field, e.Value, e.Reason)
}

// Unwrap returns ErrInvalidConfig and the decoding error, if any.
func (e *ConfigError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidConfig, e.Err}
	}
	return []error{ErrInvalidConfig}
}

// Class is how the package treats an error.
type Class int

const (
	// ClassNone: no error.
	ClassNone Class = iota
	// ClassTransient: worth retrying (5xx, 408, network, timeouts, unknown errors). Counts as
	// an outage failure for the circuit breaker.
	ClassTransient
	// ClassRateLimited: the remote limit was hit (429). Retried after the hinted delay; pauses
	// the adaptive limiter; not an outage failure.
	ClassRateLimited
	// ClassPermanent: the caller's fault (4xx, auth). Never retried; not an outage failure.
	ClassPermanent
	// ClassCanceled: the caller's context was cancelled. Never retried; not an outage failure.
	ClassCanceled
	// ClassRejected: a local policy refused the call (see [RejectedError]); nothing reached the
	// service. Reschedule without counting an attempt.
	ClassRejected
)

// String returns the class name.
func (c Class) String() string {
	switch c {
	case ClassNone:
		return "none"
	case ClassTransient:
		return "transient"
	case ClassRateLimited:
		return "rate-limited"
	case ClassPermanent:
		return "permanent"
	case ClassCanceled:
		return "canceled"
	case ClassRejected:
		return "rejected"
	default:
		return fmt.Sprintf("Class(%d)", int(c))
	}
}

// Classify tells how an error is treated, using errors.As against the contract interfaces:
// context.Canceled is ClassCanceled; a *RejectedError (or a bare failsafe rejection) is
// ClassRejected; a RateLimitedError reporting true is ClassRateLimited; a PermanentError
// reporting true is ClassPermanent; anything else (including context.DeadlineExceeded,
// which is how a slow service usually shows) is ClassTransient. Safe for concurrent use.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var ce *callerCanceledError
	if errors.As(err, &ce) || errors.Is(err, context.Canceled) {
		return ClassCanceled
	}
	var rej *RejectedError
	if errors.As(err, &rej) || isRejection(err) {
		return ClassRejected
	}
	if rl, ok := errors.AsType[RateLimitedError](err); ok && rl.RateLimited() {
		return ClassRateLimited
	}
	if pe, ok := errors.AsType[PermanentError](err); ok && pe.Permanent() {
		return ClassPermanent
	}
	return ClassTransient
}

// IsRetryable reports whether a durable retry makes sense: true for ClassTransient,
// ClassRateLimited and ClassRejected.
func IsRetryable(err error) bool {
	switch Classify(err) {
	case ClassTransient, ClassRateLimited, ClassRejected:
		return true
	default:
		return false
	}
}

// isRejection reports the bare errors failsafe policies return when they refuse a call.
func isRejection(err error) bool {
	return err == circuitbreaker.ErrOpen || err == ratelimiter.ErrExceeded ||
		err == bulkhead.ErrFull || err == adaptivelimiter.ErrExceeded
}

// callerCanceledError marks an error returned while the caller's own context was done, so the
// breaker and retry policy treat it as a cancellation even when it is a DeadlineExceeded.
// Execute strips it before returning.
type callerCanceledError struct{ err error }

func (e *callerCanceledError) Error() string { return e.err.Error() }
func (e *callerCanceledError) Unwrap() error { return e.err }

var (
	_ RetryableError   = (*RejectedError)(nil)
	_ RateLimitedError = (*RejectedError)(nil)
	_ error            = (*ConfigError)(nil)
)

// Host returns the scheme and host of an endpoint URL ("https://hooks.example.com"), for
// logs and error texts: an endpoint's path and query may hold a credential (incoming
// webhook URLs do), so they are never printed. An endpoint that does not parse as an
// absolute URL gives "(unparsable endpoint)"; "" stays "".
func Host(endpoint string) string {
	if endpoint == "" {
		return ""
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "(unparsable endpoint)"
	}
	return u.Scheme + "://" + u.Host
}
