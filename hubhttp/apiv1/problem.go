package apiv1

import "fmt"

// ProblemContentType is the media type of a Problem (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem codes: the last segment of Problem.Type, one per kind of failure. Clients branch
// on Code (or Type); Title and Detail are for people.
const (
	CodeUnauthenticated   = "unauthenticated"    // 401: no or unknown credentials
	CodeForbidden         = "forbidden"          // 403: the principal lacks a permission
	CodeNotFound          = "not-found"          // 404: the service, event or record does not exist
	CodeMethodNotAllowed  = "method-not-allowed" // 405
	CodeMalformedJSON     = "malformed-json"     // 400: the body is not the JSON the endpoint takes
	CodeInvalidParameter  = "invalid-parameter"  // 400: a path or query parameter does not parse
	CodeInvalidInput      = "invalid-input"      // 400: hub.ErrInvalidInput
	CodeUnsupportedMedia  = "unsupported-media"  // 415: the body is not application/json
	CodeTooLarge          = "too-large"          // 413: the body is over the limit
	CodeInvalidConfig     = "invalid-config"     // 422: hub.ErrInvalidConfig (Field names the field)
	CodeContractViolation = "contract-violation" // 422: hub.ErrContractViolation (Violations)
	CodeTransformFailed   = "transform-failed"   // 422: hub.ErrTransform
	CodeExpired           = "expired"            // 422: hub.ErrExpired
	CodeInvalidTransition = "invalid-transition" // 409: hub.ErrInvalidTransition
	CodeServiceDisabled   = "service-disabled"   // 409: hub.ErrServiceDisabled
	CodeConflict          = "conflict"           // 409: a stale plan or a concurrent change
	CodeApprovalRequired  = "approval-required"  // 202: the change waits for a second person's approval
	CodeCircuitOpen       = "circuit-open"       // 503: hub.ErrCircuitOpen
	CodeBusy              = "busy"               // 503: hub.ErrBusy (Retry-After is set)
	CodeUnavailable       = "unavailable"        // 503: the hub is closed or not started
	CodeDeliveryFailed    = "delivery-failed"    // 502: hub.ErrDeliveryFailed
	CodeUnsupported       = "unsupported"        // 501: the store lacks the capability
	CodeTimeout           = "timeout"            // 504: the request's deadline passed
	CodeInternal          = "internal"           // 500: anything else (details are logged, not sent)
)

// ProblemTypePrefix starts every Problem.Type; the code follows it.
const ProblemTypePrefix = "urn:problem:hub:"

// Problem is an RFC 9457 problem details document, the body of every error response, with
// the hub's extension members.
type Problem struct {
	Type     string `json:"type" doc:"urn:problem:hub: followed by the code" format:"uri"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty" doc:"the request path"`
	// Code is the last segment of Type.
	Code string `json:"code"`
	// Field names the configuration field at fault (invalid-config).
	Field string `json:"field,omitempty"`
	// Violations lists contract violations at their JSON Pointer paths (contract-violation).
	Violations []Violation `json:"violations,omitempty"`
	// Permission, Rule and Principal explain a refusal (forbidden).
	Permission string `json:"permission,omitempty"`
	Rule       string `json:"rule,omitempty"`
	Principal  string `json:"principal,omitempty"`
	// ApprovalID names the approval request a change waits for (approval-required).
	ApprovalID string `json:"approval_id,omitempty"`
}

// Error makes a Problem usable as an error by clients.
func (p *Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("%s (%d %s): %s", p.Code, p.Status, p.Title, p.Detail)
	}
	return fmt.Sprintf("%s (%d %s)", p.Code, p.Status, p.Title)
}

// NewProblem returns a problem of the code with its status and title.
func NewProblem(status int, code, title, detail string) *Problem {
	return &Problem{Type: ProblemTypePrefix + code, Title: title, Status: status, Detail: detail, Code: code}
}
