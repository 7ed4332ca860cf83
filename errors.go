package hub

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/resilience"
	"github.com/ehg/hub/store"
)

// Sentinel errors returned by the hub, always wrapped with detail that names the service,
// event or field concerned. Test them with errors.Is; typed errors that carry data
// ([*ContractViolationError], [*ConfigError]) match the sentinel of their kind too.
var (
	// ErrNotFound: the service, event or other record named by the caller does not exist.
	ErrNotFound = errors.New("hub: not found")
	// ErrInvalidConfig: a Config, Option, IntegrationConfig, ServiceConfig or RecoveryPlan
	// is unusable; the *ConfigError names the field.
	ErrInvalidConfig = errors.New("hub: invalid configuration")
	// ErrInvalidInput: an event or call argument is malformed (not JSON, oversized, nested
	// too deeply, unknown priority, empty required field).
	ErrInvalidInput = errors.New("hub: invalid input")
	// ErrContractViolation: a payload does not satisfy its data contract. The error is a
	// *ContractViolationError listing every violation.
	ErrContractViolation = errors.New("hub: contract violation")
	// ErrTransform: a mapping failed to apply to the payload.
	ErrTransform = errors.New("hub: transformation failed")
	// ErrCircuitOpen: the service's circuit breaker is open; the call was not attempted.
	ErrCircuitOpen = errors.New("hub: circuit breaker open")
	// ErrUnknownService: the event or call names a service that is not registered.
	// It also matches ErrNotFound.
	ErrUnknownService = &unknownServiceError{}
	// ErrServiceDisabled: the service exists but is not active.
	ErrServiceDisabled = errors.New("hub: service disabled")
	// ErrExpired: the event's expires_at has passed; it was not (and will not be) delivered.
	ErrExpired = errors.New("hub: event expired")
	// ErrBusy: the hub is over its backpressure limit (too many undelivered events) or the
	// store could not serialise the operation; retry later.
	ErrBusy = errors.New("hub: busy")
	// ErrClosed: the hub has been closed.
	ErrClosed = errors.New("hub: closed")
	// ErrNotStarted: a synchronous delivery was asked of a hub whose workers are not
	// running; call Start first (nothing was stored).
	ErrNotStarted = errors.New("hub: not started")
	// ErrDeliveryFailed: a synchronous delivery attempt did not succeed. The result still
	// carries the event and its state (retrying, failed or dead).
	ErrDeliveryFailed = errors.New("hub: delivery failed")
	// ErrInvalidTransition: the event's state does not allow the request (for example
	// retrying an event that already succeeded).
	ErrInvalidTransition = errors.New("hub: invalid state transition")
	// ErrNotSupported: the store lacks the optional capability the call needs (for example
	// store.SubjectStore for EraseSubject); the error names it.
	ErrNotSupported = errors.New("hub: not supported by the store")
)

// unknownServiceError is the type of ErrUnknownService so that it also matches ErrNotFound.
type unknownServiceError struct{}

func (*unknownServiceError) Error() string        { return "hub: unknown service" }
func (*unknownServiceError) Is(target error) bool { return target == ErrNotFound }

// ConfigError reports an unusable configuration field. It matches [ErrInvalidConfig].
type ConfigError struct {
	// Field names the bad field, e.g. "Config.Workers" or "IntegrationConfig.BaseURL".
	Field string
	// Reason says what is wrong with it.
	Reason string
	// Err is the underlying cause, if any (for example a contract compile error).
	Err error
}

// Error formats the field, the reason and the cause, each once: a cause that itself says
// "invalid configuration" (a resilience or connector configuration error) contributes only
// what it adds.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("hub: invalid configuration: ")
	b.WriteString(e.Field)
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(configCause(e.Err))
	}
	return b.String()
}

// configCause is the text of a configuration error's cause without the words the
// ConfigError already says: the field a *resilience.ConfigError names (the ConfigError names
// it too) and the "invalid configuration" sentinels of the sub-packages.
func configCause(err error) string {
	var rc *resilience.ConfigError
	if errors.As(err, &rc) && rc == err {
		if rc.Err != nil {
			return rc.Reason + ": " + rc.Err.Error()
		}
		return fmt.Sprintf("%s (got %v)", rc.Reason, rc.Value)
	}
	msg := strings.TrimPrefix(err.Error(), "hub: ") // a hub error as the cause: "hub:" is said
	for _, s := range []error{connectors.ErrInvalidConfig, resilience.ErrInvalidConfig} {
		if errors.Is(err, s) {
			msg = strings.Replace(msg, s.Error()+": ", "", 1)
		}
	}
	return msg
}

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

func configErr(field, reason string, cause error) error {
	return &ConfigError{Field: field, Reason: reason, Err: cause}
}

// kindError is an error that reads as one sentence (msg) while errors.Is and errors.As see
// the hub sentinel it belongs to and the cause: the sentinel's words and the cause's
// detail are said once, in msg, instead of being chained prefix after prefix.
type kindError struct {
	msg   string
	kind  error
	cause error
}

func (e *kindError) Error() string { return e.msg }

func (e *kindError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// kindf returns an error reading as the formatted message that matches kind and cause.
func kindf(kind, cause error, format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), kind: kind, cause: cause}
}

// contextError prefixes an error with the context of the call that failed, saying "hub:"
// once when the error is the hub's own.
type contextError struct {
	msg string
	err error
}

func (e *contextError) Error() string { return e.msg }
func (e *contextError) Unwrap() error { return e.err }

// within returns err with the formatted context in front: "hub: <context>: <err>".
func within(err error, format string, args ...any) error {
	return &contextError{msg: "hub: " + fmt.Sprintf(format, args...) + ": " + strings.TrimPrefix(err.Error(), "hub: "), err: err}
}

// storeKinds pairs each store sentinel with the hub sentinel it becomes.
var storeKinds = [...]struct{ st, hub error }{
	{store.ErrNotFound, ErrNotFound},
	{store.ErrBusy, ErrBusy},
	{store.ErrInvalidTransition, ErrInvalidTransition},
	{store.ErrInvalidArgument, ErrInvalidInput},
	{store.ErrClosed, ErrClosed},
}

// mapStoreErr turns store sentinels into hub sentinels, keeping the store error in the
// chain. The message is the hub sentinel's followed by the store's detail, with the store
// sentinel's own words (the same condition) left out.
func mapStoreErr(err error) error {
	if err == nil {
		return nil
	}
	for _, k := range storeKinds {
		if errors.Is(err, k.st) {
			detail := strings.Replace(err.Error(), k.st.Error()+": ", "", 1)
			detail = strings.TrimSuffix(detail, ": "+k.st.Error())
			if detail == k.st.Error() {
				return kindf(k.hub, err, "%s", k.hub.Error())
			}
			return kindf(k.hub, err, "%s: %s", k.hub.Error(), detail)
		}
	}
	return err
}

// ContractViolationError reports that a payload broke its data contract. It matches
// [ErrContractViolation] with errors.Is; Violations lists every problem found, each with the
// JSON Pointer into the payload.
type ContractViolationError struct {
	// Stage is "input" (the event as received) or "canonical" (after the mapping).
	Stage string
	// Contract and Version name the contract.
	Contract string
	Version  string
	// Violations lists every problem, in the validator's order.
	Violations []Violation
	// Err is the validator's typed error (*contract.ValidationError), for errors.As.
	Err error
}

// Violation is one way a payload breaks its contract.
type Violation struct {
	// Path is the JSON Pointer into the payload ("" for the root), e.g. "/priority".
	Path string `json:"path"`
	// Keyword is the JSON Schema keyword that failed, e.g. "enum".
	Keyword string `json:"keyword,omitempty"`
	// SchemaPath locates the failing keyword in the schema.
	SchemaPath string `json:"schema_path,omitempty"`
	// Message says what is wrong in words a person can act on.
	Message string `json:"message"`
}

// Error summarises the violations.
func (e *ContractViolationError) Error() string {
	msg := fmt.Sprintf("hub: contract violation: %s contract %s@%s: %d violation(s)", e.Stage, e.Contract, e.Version, len(e.Violations))
	for i, v := range e.Violations {
		if i == 5 {
			msg += fmt.Sprintf("; and %d more", len(e.Violations)-5)
			break
		}
		path := v.Path
		if path == "" {
			path = "/"
		}
		msg += fmt.Sprintf("; %s: %s", path, v.Message)
	}
	return msg
}

// Unwrap returns the validator's error.
func (e *ContractViolationError) Unwrap() error { return e.Err }

// Is reports whether target is ErrContractViolation.
func (e *ContractViolationError) Is(target error) bool { return target == ErrContractViolation }
