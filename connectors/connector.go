package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// Connector delivers requests to one configured remote service.
//
// Implementations must be safe for concurrent use by multiple goroutines: the hub
// calls Invoke from many delivery workers at once and Check from the health prober.
//
// The context passed to Invoke and Check governs that call only (including any token
// refresh it triggers); a connector never stores it. When the context is cancelled or
// its deadline passes, the call returns promptly with an error for which
// errors.Is(err, ctx.Err()) holds.
//
// Errors from the remote side are [*Error] values carrying a [Class]. A nil error from
// Invoke means the remote accepted the request (a 2xx status, or the vendor's
// equivalent success, e.g. Slack's "ok": true).
type Connector interface {
	// Info describes the connector. It does no I/O and never returns secrets.
	Info() Info
	// Invoke performs one operation. A nil req or an operation the connector does not
	// know returns an [*Error] of class [ClassPermanent] wrapping [ErrBadRequest].
	Invoke(ctx context.Context, req *Request) (*Response, error)
	// Check probes the remote with a cheap authenticated call (for example GitHub's
	// GET /rate_limit). A nil error means reachable and authorised.
	Check(ctx context.Context) error
}

// Info describes a connector instance. Its fields are informational and contain no
// credentials.
type Info struct {
	// Kind is the registry kind, e.g. "github".
	Kind string
	// Name is the instance name from [Config.Name]; it may be empty.
	Name string
	// BaseURL is the remote base URL the connector talks to.
	BaseURL string
	// Operations lists the operation names Invoke accepts.
	Operations []string
	// DefaultOperation is the operation Invoke performs when [Request.Operation] is
	// empty, which is how the hub delivers events.
	DefaultOperation string
}

// Request is one call to a remote service.
//
// The hub fills Body with the canonical payload and IdempotencyKey with the event's
// key and usually leaves Operation empty, selecting the connector's default operation.
// Connector-specific operations read their arguments from Params (path values such as
// an issue number) and Body; Method, Path, Query and Header are used by generic
// connectors (httpconn) and as overrides where a connector documents it.
type Request struct {
	// Operation names the operation; "" selects [Info.DefaultOperation].
	Operation string
	// Method overrides the HTTP method where the connector allows it.
	Method string
	// Path overrides or completes the request path where the connector allows it.
	Path string
	// Query holds extra query parameters.
	Query url.Values
	// Header holds extra request headers. Connectors set authentication themselves;
	// an Authorization header here is ignored by the built-in connectors.
	Header http.Header
	// Params holds named operation arguments, e.g. {"number": "42"}.
	Params map[string]string
	// Body is the JSON payload. It may be empty for reads. It is read-only: it may share
	// memory with the stored event, which later attempts send again, so a connector that
	// needs a different body builds its own copy.
	Body json.RawMessage
	// IdempotencyKey identifies the logical delivery. Connectors forward it where the
	// remote supports one and otherwise send it as the Idempotency-Key header.
	IdempotencyKey string
}

// Param returns Params[name], or "" when Params is nil or lacks the name.
func (r *Request) Param(name string) string {
	if r == nil || r.Params == nil {
		return ""
	}
	return r.Params[name]
}

// Response is the remote's answer to a successful Invoke.
type Response struct {
	// StatusCode is the HTTP status code the remote returned.
	StatusCode int
	// Header holds the response headers.
	Header http.Header
	// Body is the response body, at most the configured response bound.
	Body []byte
	// RemoteID is the identifier the remote assigned or reported for the affected
	// object (GitHub issue number, Slack message ts, Salesforce record id), or "".
	RemoteID string
}

// HealthChecker is implemented by anything that can probe its remote. Every
// [Connector] is one; the name exists so callers can depend on just this method.
type HealthChecker interface {
	Check(ctx context.Context) error
}

// Closer is an optional capability: connectors holding resources (idle connections,
// background refreshers) release them in Close. Callers discover it with a type
// assertion. Close must be safe to call more than once.
type Closer interface {
	Close(ctx context.Context) error
}

// WebhookVerifier is an optional capability: connectors whose vendor signs inbound
// webhooks verify them. VerifyWebhook checks the headers and raw body of one delivery
// and returns the parsed envelope. It returns an error wrapping [ErrInvalidSignature]
// when the signature is missing or wrong and [ErrStaleWebhook] when the delivery is
// outside the vendor's replay window. It does no I/O and is safe for concurrent use.
type WebhookVerifier interface {
	VerifyWebhook(header http.Header, body []byte) (*WebhookEvent, error)
}

// WebhookEvent is a verified inbound webhook delivery.
type WebhookEvent struct {
	// Event is the vendor's event name (GitHub's X-GitHub-Event, Slack's payload type).
	Event string
	// DeliveryID is the vendor's delivery identifier, when it sends one.
	DeliveryID string
	// Timestamp is when the vendor signed the delivery, when it says.
	Timestamp time.Time
	// Body is the verified raw body.
	Body []byte
}

// Lister is an optional capability: connectors that can pull records page by page.
// List returns one page; pass Page.NextCursor back as ListRequest.Cursor to get the
// next one. An empty NextCursor means there are no more pages. Cursors are opaque
// strings a caller may store (the hub keeps them between runs).
type Lister interface {
	List(ctx context.Context, req *ListRequest) (*Page, error)
}

// ConfiguredLister is implemented by a [Lister] whose listing depends on its
// configuration (a Discord or Teams webhook cannot read its channel; a bot or Graph
// token can): CanList reports whether this connector, as configured, lists records.
type ConfiguredLister interface {
	CanList() bool
}

// Lists returns c as a [Lister] when it lists records as configured: it implements
// Lister, and [ConfiguredLister] (if it does) reports that it can.
func Lists(c Connector) (Lister, bool) {
	l, ok := c.(Lister)
	if !ok {
		return nil, false
	}
	if cl, ok := c.(ConfiguredLister); ok && !cl.CanList() {
		return nil, false
	}
	return l, true
}

// ListRequest asks a [Lister] for one page.
type ListRequest struct {
	// Operation names the list operation; "" selects the connector's default listing.
	Operation string
	// Cursor continues a previous listing; "" starts from the beginning.
	Cursor string
	// Since restricts the listing to records updated at or after this time, where the
	// remote supports it. The zero time means no restriction.
	Since time.Time
	// Limit is the page size hint; 0 uses the connector's default.
	Limit int
	// Params holds named arguments, as in [Request.Params].
	Params map[string]string
}

// ErrStuckCursor is the cause when a remote hands back the cursor it was given, which
// would make a caller that follows cursors loop forever. The error's class is
// ClassPermanent.
var ErrStuckCursor = errors.New("connectors: pagination cursor does not advance")

// CheckCursor returns an [*Error] wrapping [ErrStuckCursor] when next equals a
// non-empty prev; Lister implementations call it before returning a page.
func CheckCursor(op, prev, next string) error {
	if prev != "" && next == prev {
		return &Error{Class: ClassPermanent, Op: op, Err: ErrStuckCursor}
	}
	return nil
}

// Page is one page of listed records.
type Page struct {
	// Items holds the records as JSON documents.
	Items []json.RawMessage
	// NextCursor continues the listing; "" when this is the last page.
	NextCursor string
}

// ConnectorDefaults is meant to be embedded in connector implementations. It
// provides default implementations of methods that are not essential to a connector,
// so that adding such methods to [Connector] later does not break existing
// connectors. Today it provides Check, which reports healthy without probing;
// override it when the remote has a cheap authenticated endpoint.
type ConnectorDefaults struct{}

// Check reports the connector healthy without contacting the remote.
func (ConnectorDefaults) Check(context.Context) error { return nil }
