package connectors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
)

// DefaultMaxResponseBytes bounds response bodies when [Config.MaxResponseBytes] is 0:
// 8 MiB.
const DefaultMaxResponseBytes int64 = 8 << 20

// Config is what a [Factory] builds a connector from. Its serialisable fields are
// plain data, so the hub stores a service's connector settings as JSON (base_url,
// auth from the service's authentication_config, options); the runtime fields are
// injected by the caller and never serialised.
//
// Auth holds credentials. Config's LogValue omits it, and no connector puts it in an
// error.
type Config struct {
	// Name is the instance name, used in Info and logs. Optional.
	Name string `json:"name,omitempty"`
	// BaseURL is the remote's base URL. Each connector documents its default (e.g.
	// https://api.github.com); tests point it at an httptest server.
	BaseURL string `json:"base_url,omitempty"`
	// Auth is the connector's credentials document; its shape is connector-specific
	// and documented by each factory.
	Auth json.RawMessage `json:"auth,omitempty"`
	// Options is the connector's settings document (default repository, channel,
	// sObject type, operations ...); its shape is connector-specific.
	Options json.RawMessage `json:"options,omitempty"`
	// MaxResponseBytes bounds every response body read. 0 means
	// DefaultMaxResponseBytes; negative is invalid.
	MaxResponseBytes int64 `json:"max_response_bytes,omitempty"`
	// UserAgent is sent as User-Agent; "" uses the connector's default.
	UserAgent string `json:"user_agent,omitempty"`

	// HTTPClient sends every request, including OAuth token requests. nil means
	// http.DefaultClient. Resilience and tracing plug in as its Transport.
	HTTPClient *http.Client `json:"-"`
	// Logger receives debug logs; nil discards. Secrets are never logged.
	Logger *slog.Logger `json:"-"`
	// Now is the clock (Retry-After dates, rate-limit resets, webhook replay
	// windows, token expiry); nil means time.Now.
	Now func() time.Time `json:"-"`
	// Tokens, when set, persists the OAuth tokens the connector obtains or rotates
	// (connectors with OAuth flows use it; others ignore it).
	Tokens TokenKeeper `json:"-"`
}

// Client returns HTTPClient or http.DefaultClient.
func (c *Config) Client() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return http.DefaultClient
}

// Clock returns Now or time.Now.
func (c *Config) Clock() func() time.Time {
	if c.Now != nil {
		return c.Now
	}
	return time.Now
}

// Log returns Logger or a logger that discards everything.
func (c *Config) Log() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// ResponseLimit returns MaxResponseBytes or DefaultMaxResponseBytes. It returns an
// error wrapping [ErrInvalidConfig] when MaxResponseBytes is negative.
func (c *Config) ResponseLimit() (int64, error) {
	switch {
	case c.MaxResponseBytes < 0:
		return 0, fmt.Errorf("%w: max_response_bytes must not be negative", ErrInvalidConfig)
	case c.MaxResponseBytes == 0:
		return DefaultMaxResponseBytes, nil
	default:
		return c.MaxResponseBytes, nil
	}
}

// ParsedBaseURL parses c.BaseURL, or def when c.BaseURL is empty (a vendor's public API), as
// ParseBaseURL does.
func (c *Config) ParsedBaseURL(def string) (BaseURL, error) {
	if c.BaseURL == "" {
		return ParseBaseURL(def)
	}
	return ParseBaseURL(c.BaseURL)
}

// DecodeAuth decodes Auth into v strictly (unknown fields are errors). Empty Auth
// leaves v unchanged. Errors wrap [ErrInvalidConfig] and never quote the document.
func (c *Config) DecodeAuth(v any) error { return decodeStrict("auth", c.Auth, v) }

// DecodeOptions decodes Options into v strictly, like DecodeAuth.
func (c *Config) DecodeOptions(v any) error { return decodeStrict("options", c.Options, v) }

func decodeStrict(field string, raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Errorf("%w: %s is not valid JSON (offset %d)", ErrInvalidConfig, field, syn.Offset)
		case errors.As(err, &typ):
			return fmt.Errorf("%w: %s.%s must be %s, not %s", ErrInvalidConfig, field, typ.Field, typ.Type, typ.Value)
		default:
			// Unknown-field errors name the field, never its value.
			return fmt.Errorf("%w: %s: %v", ErrInvalidConfig, field, err)
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %s has trailing data", ErrInvalidConfig, field)
	}
	return nil
}

// LogValue logs the configuration without Auth.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", c.Name),
		slog.String("base_url", c.BaseURL),
		slog.Bool("auth_set", len(c.Auth) > 0),
		slog.Int64("max_response_bytes", c.MaxResponseBytes),
	)
}

// Factory builds a connector from a configuration. It validates cfg and returns an
// error wrapping [ErrInvalidConfig] naming the bad field; it does no I/O.
type Factory func(cfg Config) (Connector, error)

// Registry maps connector kinds to factories. The zero value is not usable; create
// one with [NewRegistry] (empty) or builtin.NewRegistry (with the built-in kinds).
// A Registry is owned by whoever builds it (typically the hub); there is no global
// registry. It is safe for concurrent use.
type Registry struct {
	mu        sync.RWMutex
	factories map[string]Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{factories: make(map[string]Factory)}
}

// Register adds a factory for kind. It returns an error wrapping
// [ErrInvalidConfig] for an empty kind or nil factory and [ErrDuplicateKind] when
// the kind is already registered.
func (r *Registry) Register(kind string, f Factory) error {
	if kind == "" {
		return fmt.Errorf("%w: connector kind must not be empty", ErrInvalidConfig)
	}
	if f == nil {
		return fmt.Errorf("%w: factory for kind %q is nil", ErrInvalidConfig, kind)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.factories[kind]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicateKind, kind)
	}
	r.factories[kind] = f
	return nil
}

// MustRegister is Register for start-up code: it panics on error.
func (r *Registry) MustRegister(kind string, f Factory) {
	if err := r.Register(kind, f); err != nil {
		panic(err)
	}
}

// Lookup returns the factory for kind and whether there is one.
func (r *Registry) Lookup(kind string) (Factory, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.factories[kind]
	return f, ok
}

// New builds a connector of the given kind. It returns an error wrapping
// [ErrUnknownKind] when no factory is registered, or the factory's error.
func (r *Registry) New(kind string, cfg Config) (Connector, error) {
	f, ok := r.Lookup(kind)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKind, kind)
	}
	c, err := f(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s connector: %w", kind, err) // the factory's error names the package
	}
	return c, nil
}

// Kinds returns the registered kinds, sorted.
func (r *Registry) Kinds() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	kinds := make([]string, 0, len(r.factories))
	for k := range r.factories {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}
