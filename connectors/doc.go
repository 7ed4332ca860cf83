// Package connectors defines how the Integration Hub reaches remote systems: the
// [Connector] interface, its [Request] and [Response], the classified [*Error] that
// resilience policies read, optional capabilities discovered by interface assertion
// ([WebhookVerifier], [Lister], [Closer]) and a [Registry] of factories by kind.
//
// # Writing a connector
//
// A connector is any value with Info, Invoke and Check. Embed [ConnectorDefaults] so
// that methods added to the interface later get a default instead of breaking the
// build. Register a [Factory] on a [Registry] owned by the caller (there is no
// package-level registry); the hub builds connectors from a [Config] stored as JSON,
// so everything a factory needs must be expressible as data: base URL, the Auth and
// Options documents, and the response size bound. The *http.Client, logger and clock
// are injected by the caller and never serialised.
//
// The helpers [Do], [StatusError], [TransportError], [ParseRetryAfter] and [BaseURL]
// give third-party connectors the same behaviour as the built-ins: bounded response
// bodies, context errors surfaced as themselves, Retry-After honoured, requests never
// sent to a host other than the configured one, and errors free of credentials.
//
// Every connector must pass the conformance suite in package connectortest.
//
// # Errors
//
// Remote failures are returned as [*Error] with a [Class]. The class methods
// (Retryable, Permanent, RateLimited, RetryAfter) are what package resilience reads;
// callers branch with errors.Is against [ErrTransient], [ErrPermanent], [ErrAuth] and
// [ErrRateLimited], or errors.As to read the status, vendor code and Retry-After.
// Cancellation and deadlines of the caller's context surface as context.Canceled and
// context.DeadlineExceeded (wrapped with the operation), never as an [*Error], so that
// no policy retries work the caller gave up on.
//
// # Built-in connectors
//
// Package connectors/builtin returns a Registry holding the kinds "http"
// (connectors/httpconn), "github", "slack", "salesforce", "hubspot", "jira", "gitlab",
// "notion", "teams" and "discord".
package connectors
