package hub

import (
	"log/slog"
	"net/http"

	"github.com/ehg/hub/internal/redact"
)

// newRedaction builds the hub's redactor and puts it in front of the configured logger and
// tracer provider, so every log line and span the hub (and the engine, connectors, contract
// registry and resilience policies it hands the logger to) writes is redacted. Every
// service's credentials are registered with it, in all their derived forms, when the
// service is compiled (see registerCredentials); the outbound transport registers the
// tokens obtained at run time.
func newRedaction(cfg *Config) *redact.Redactor {
	r := redact.New()
	if cfg.Logger != nil {
		cfg.Logger = slog.New(redact.NewHandler(cfg.Logger.Handler(), r))
	}
	if cfg.TracerProvider != nil {
		cfg.TracerProvider = redact.TracerProvider(cfg.TracerProvider, r)
	}
	return r
}

// registerCredentials registers every form of the credentials of a service (its plain
// authentication document) with the hub's redactor: raw values, their encodings, Basic
// credentials of each pair, secret URL segments.
func (h *Hub) registerCredentials(plainAuth []byte) { h.red.AddDocument(plainAuth) }

// scrub returns s without any registered credential form.
func (h *Hub) scrub(s string) string { return h.red.String(s) }

// scrubErr returns err reading without any registered credential form; it unwraps to err.
func (h *Hub) scrubErr(err error) error { return h.red.Error(err) }

// observeCredentials wraps a service's transport so that the Authorization values and
// OAuth tokens it carries are registered before they are sent or handed back.
func (h *Hub) observeCredentials(next http.RoundTripper) http.RoundTripper {
	return redact.Observe(h.red, next)
}

// scrubbedError keeps the chain of err for errors.Is/As but prints a text without secrets.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
