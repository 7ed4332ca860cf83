package hub

import (
	"net/http"
	"net/url"

	"github.com/ehg/hub/internal/engine"
	"github.com/ehg/hub/store"
)

// callRecording wraps a service's transport so that each request a delivery attempt sends
// is recorded in the attempt's engine.CallRecorder: the event then stores the method and the
// endpoint actually used (a PATCH as PATCH; after a failover, the backup's URL). The URL is
// stored without credentials, query or fragment, and redacted (a Slack webhook URL is
// itself a secret). Below the recorder, the credentials the request carries are registered
// with the hub's redactor (see observeCredentials).
func callRecording(h *Hub) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper {
		return &recordingTransport{next: h.observeCredentials(next), h: h}
	}
}

type recordingTransport struct {
	next http.RoundTripper
	h    *Hub
}

// RoundTrip records req in the attempt's recorder, if any, and sends it.
func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if rec := engine.CallRecorderFrom(req.Context()); rec != nil && req.URL != nil {
		rec.Record(store.HTTPMethod(req.Method), t.h.scrub(endpointOf(req.URL)))
	}
	return t.next.RoundTrip(req)
}

// endpointOf is u as an event records it: scheme, host and path only.
func endpointOf(u *url.URL) string {
	e := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return e.String()
}

// CloseIdleConnections forwards to the wrapped transport, as http.Client expects.
func (t *recordingTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
