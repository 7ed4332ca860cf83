// Package connectortest is the conformance suite every [connectors.Connector] must
// pass. A connector author calls [Run] from a test with a [Factory] that builds the
// connector pointed at the suite's scripted httptest server, plus [Features]
// describing the vendor's success response and the secrets the connector holds.
//
// The suite checks, each against a fresh loopback server:
//   - Info names a kind; a nil request is rejected with connectors.ErrBadRequest;
//   - a success response yields a nil error and the status code;
//   - 500, 502, 503, 504 and 408 are transient; 400, 404, 409 and 422 permanent;
//     401 and 403 auth; 429 with Retry-After rate-limited with that delay;
//   - connection refused and connection reset are transient;
//   - cancellation and deadlines surface as context.Canceled and
//     context.DeadlineExceeded, promptly, while the server is still holding the
//     request;
//   - the idempotency key reaches the server;
//   - a body larger than Config.MaxResponseBytes fails with
//     connectors.ErrResponseTooLarge;
//   - Check succeeds on success and classifies 401 and 503;
//   - concurrent Invoke calls are race-free;
//   - no configured secret appears in any error text, even though every error
//     response of the server echoes the request's Authorization header, path and query;
//   - connectors implementing [connectors.Lister] honour cancellation and classify
//     errors too.
//
// The suite never touches a non-loopback address.
package connectortest
