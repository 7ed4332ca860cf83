package hub

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"reflect"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/ehg/hub/connectors"
)

// Defaults of [Config]. A zero field takes its default.
const (
	// WorkersDefault is how many deliveries run at once per hub.
	WorkersDefault = 8
	// BatchSizeDefault is the most events one claim takes from the store.
	BatchSizeDefault = 32
	// LeaseDefault is how long a claimed event stays reserved to this hub without renewal.
	// Leases are extended while a call runs, so it bounds recovery time after a crash, not
	// call duration.
	LeaseDefault = 30 * time.Second
	// PollIntervalDefault is how often idle workers look for due events when no
	// notification arrives.
	PollIntervalDefault = time.Second
	// MaintenanceIntervalDefault is how often the hub releases expired leases and expires
	// events past their expires_at.
	MaintenanceIntervalDefault = 5 * time.Second
	// RollupIntervalDefault is how often the analytics rollup job runs.
	RollupIntervalDefault = time.Minute
	// MaxPayloadBytesDefault bounds an event's payload.
	MaxPayloadBytesDefault = 1 << 20
	// MaxPayloadDepthDefault bounds the nesting of objects and arrays in a payload.
	MaxPayloadDepthDefault = 64
	// MaxRetriesDefault is a service's max_retries when its configuration sets none.
	MaxRetriesDefault = 3
	// ShutdownTimeoutDefault bounds how long Close waits for in-flight deliveries.
	ShutdownTimeoutDefault = 10 * time.Second
	// SecretKeySize is the length of Config.SecretKey (AES-256).
	SecretKeySize = 32
)

// Config holds every setting of a [Hub]. The zero value is valid: each zero field takes the
// default named in its comment. Build one directly and pass it with [WithConfig], or use the
// individual options; [New] validates the result and names the bad field.
type Config struct {
	// Connectors builds a connector for each service from its kind. Default: a registry
	// with the built-in kinds (builtin.NewRegistry: "http", "github", "slack",
	// "salesforce", "hubspot", "jira", "gitlab", "notion", "teams" and "discord").
	Connectors *connectors.Registry
	// HTTPClient supplies the timeout and transport of the client each service's connector
	// gets. Default: a 30 s timeout and a clone of http.DefaultTransport (proxies from the
	// environment). The hub guards the transport (see AllowedNetworks) when it is an
	// *http.Transport or nil, by cloning it; any other RoundTripper is used as given and must
	// enforce its own destination policy. Its CheckRedirect and Jar are not used: each
	// service follows its redirect policy and keeps no cookies.
	HTTPClient *http.Client
	// AllowedNetworks are address prefixes the destination guard lets through on top of the
	// globally routable addresses (see WithAllowedNetworks). Default: none.
	AllowedNetworks []netip.Prefix
	// Logger receives structured logs; secrets are never logged. Default (nil): discard.
	Logger *slog.Logger
	// TracerProvider and MeterProvider are the OpenTelemetry providers. Default: the
	// globals (otel.GetTracerProvider, otel.GetMeterProvider).
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Clock returns the current time. Default: time.Now. It must be the clock the store
	// uses, or due times and expiries disagree.
	Clock func() time.Time
	// InstanceID names this hub as lease owner; it must be unique among hubs sharing a
	// database. Default: host name, process id and a random suffix.
	InstanceID string
	// Workers is how many deliveries run at once. Default WorkersDefault; at most 1024.
	Workers int
	// BatchSize is the most events one claim takes. Default BatchSizeDefault; at most 1000.
	BatchSize int
	// Lease is how long a claim reserves an event. Default LeaseDefault; at least 100 ms.
	Lease time.Duration
	// PollInterval is the idle polling period. Default PollIntervalDefault.
	PollInterval time.Duration
	// MaintenanceInterval is the lease-release and expiry period.
	// Default MaintenanceIntervalDefault.
	MaintenanceInterval time.Duration
	// RollupInterval is the period of the analytics rollup job, which also writes each
	// active service's throughput and queue_depth health metrics; negative disables the job.
	// Default RollupIntervalDefault.
	RollupInterval time.Duration
	// ShutdownTimeout bounds how long Close waits for in-flight deliveries.
	// Default ShutdownTimeoutDefault.
	ShutdownTimeout time.Duration
	// MaxPayloadBytes bounds an event payload. Default MaxPayloadBytesDefault.
	MaxPayloadBytes int
	// MaxPayloadDepth bounds the nesting depth of an event payload.
	// Default MaxPayloadDepthDefault.
	MaxPayloadDepth int
	// MaxQueuedEvents is the async backpressure limit: when this many events are waiting
	// (pending, retrying or processing), asynchronous ProcessIntegrationEvent calls fail
	// with ErrBusy instead of storing more. 0 means no limit.
	MaxQueuedEvents int
	// MaxRetriesDefault is the max_retries of a service whose configuration sets none.
	// Default MaxRetriesDefault.
	MaxRetriesDefault int
	// SecretKey is the 32-byte AES-256 key that seals services' authentication_config
	// before it reaches the store. Required to register a service with credentials;
	// every hub sharing a database needs the same key.
	SecretKey []byte
	// PreviousSecretKeys only open credentials: those sealed under earlier keys, until
	// RotateSecretKey re-seals them under SecretKey. Default none.
	PreviousSecretKeys [][]byte
	// Sealer is a key service (a KMS) for envelope encryption: each service's credentials
	// are sealed with a data key of its own, wrapped by the Sealer's key. Default none:
	// SecretKey seals. See [Sealer] and [WithSealer].
	Sealer Sealer
	// AuditKey is the private key (golang.org/x/mod/sumdb/note form) that signs checkpoints
	// of the audit chain. Default: derived from SecretKey (audit.DeriveKey); with neither,
	// the chain is kept and verified but no checkpoint is signed, so deleting the newest
	// entries goes unnoticed.
	AuditKey string
	// AuditCheckpointInterval is how often the hub signs a checkpoint of the audit chain's
	// head when it moved; negative: only on CheckpointAudit, ExportAudit and Close.
	// Default AuditCheckpointIntervalDefault.
	AuditCheckpointInterval time.Duration
	// EscalationService names the service that receives escalations when an issue names
	// none (for example a Slack channel). Empty: escalations are recorded, not sent.
	EscalationService string
	// Ventures names the embedding platform's ventures for text commands ("retry the failed
	// events for venture Acme"): name (matched in any case) to venture ID. Default: none
	// (commands then take venture IDs only).
	Ventures map[string]string

	// The data lifecycle (see lifecycle.go): retention, the subject index, masking, regions.

	// Retention is the policy the background cleaner applies. The zero value keeps
	// everything.
	Retention RetentionPolicy
	// CleanupInterval is how often the cleaner applies retention, finishes service
	// removals and resumes unfinished erasures; negative disables the background job
	// (RunRetention still works). Default CleanupIntervalDefault.
	CleanupInterval time.Duration
	// CleanupBatch is the most rows one retention or erasure batch (one short transaction)
	// handles. Default CleanupBatchDefault; at most store.MaxPageLimit.
	CleanupBatch int
	// SubjectKey keys the subject index (HMAC-SHA256), at least 16 bytes. Default: derived
	// from SecretKey. Hubs sharing a database need the same one; set it explicitly to keep
	// the index valid across a change of SecretKey.
	SubjectKey []byte
	// MaskDelivered stores delivered events with the fields their contracts mark personal
	// masked, in the change that records the delivery. Default false.
	MaskDelivered bool
	// Regions, when set, pins this hub to data regions: it claims and delivers only events
	// of services whose DataRegion is one of them ("" standing for services without a
	// region). The store must implement store.RegionClaimer. Default: every event.
	Regions []string

	// Governance (see governance.go and approvals.go).

	// Authorizer, when set, turns authorization on: every call needs a Principal in its
	// context (WithPrincipal) that holds the call's permission (see WithAuthorization).
	// Default: nil, nothing is checked.
	Authorizer Authorizer
	// Approvals names the changes that wait for a second person's approval (see
	// WithApprovals). The zero value holds nothing back.
	Approvals ApprovalPolicy

	// Scheduled sync (see sync.go).

	// SyncInterval is how often the hub looks for due sync schedules; negative disables
	// pulling on this hub. Default SyncIntervalDefault.
	SyncInterval time.Duration
	// SyncLease is how long a hub holds a sync schedule without progress; each page saved
	// extends it. Default SyncLeaseDefault.
	SyncLease time.Duration
}

// Option changes a Config; it returns an error wrapping ErrInvalidConfig for a bad value.
type Option func(*Config) error

// WithConfig sets every field that c sets (every non-zero field); the fields c leaves zero
// keep what earlier options gave them, and later options still apply. So
// New(st, WithSecretKey(k), WithConfig(cfg)) keeps the key unless cfg has one.
func WithConfig(c Config) Option {
	return func(dst *Config) error {
		src, out := reflect.ValueOf(c), reflect.ValueOf(dst).Elem()
		for i := range src.NumField() {
			if f := src.Field(i); !f.IsZero() {
				out.Field(i).Set(f)
			}
		}
		if c.SecretKey != nil {
			dst.SecretKey = append([]byte(nil), c.SecretKey...)
		}
		return nil
	}
}

// WithConnectors sets the connector registry.
func WithConnectors(r *connectors.Registry) Option {
	return func(c *Config) error {
		if r == nil {
			return configErr("Config.Connectors", "registry is nil", nil)
		}
		c.Connectors = r
		return nil
	}
}

// WithHTTPClient sets the HTTP client whose timeout and transport services use (see
// Config.HTTPClient).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Config) error { c.HTTPClient = hc; return nil }
}

// WithLogger sets the logger; nil discards logs.
func WithLogger(l *slog.Logger) Option {
	return func(c *Config) error { c.Logger = l; return nil }
}

// WithTracerProvider sets the OpenTelemetry tracer provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *Config) error { c.TracerProvider = tp; return nil }
}

// WithMeterProvider sets the OpenTelemetry meter provider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *Config) error { c.MeterProvider = mp; return nil }
}

// WithClock sets the clock (for tests).
func WithClock(now func() time.Time) Option {
	return func(c *Config) error { c.Clock = now; return nil }
}

// WithInstanceID sets the lease owner name of this hub.
func WithInstanceID(id string) Option {
	return func(c *Config) error { c.InstanceID = id; return nil }
}

// WithWorkers sets how many deliveries run at once.
func WithWorkers(n int) Option {
	return func(c *Config) error { c.Workers = n; return nil }
}

// WithBatchSize sets the most events one claim takes.
func WithBatchSize(n int) Option {
	return func(c *Config) error { c.BatchSize = n; return nil }
}

// WithLease sets the lease duration of claimed events.
func WithLease(d time.Duration) Option {
	return func(c *Config) error { c.Lease = d; return nil }
}

// WithPollInterval sets the idle polling period.
func WithPollInterval(d time.Duration) Option {
	return func(c *Config) error { c.PollInterval = d; return nil }
}

// WithMaintenanceInterval sets the lease-release and expiry period.
func WithMaintenanceInterval(d time.Duration) Option {
	return func(c *Config) error { c.MaintenanceInterval = d; return nil }
}

// WithRollupInterval sets the analytics rollup period; negative disables the job.
func WithRollupInterval(d time.Duration) Option {
	return func(c *Config) error { c.RollupInterval = d; return nil }
}

// WithShutdownTimeout sets how long Close waits for in-flight deliveries.
func WithShutdownTimeout(d time.Duration) Option {
	return func(c *Config) error { c.ShutdownTimeout = d; return nil }
}

// WithMaxRetriesDefault sets the max_retries of services whose configuration sets none.
func WithMaxRetriesDefault(n int) Option {
	return func(c *Config) error { c.MaxRetriesDefault = n; return nil }
}

// WithPayloadLimits sets the largest payload in bytes and its deepest nesting.
func WithPayloadLimits(maxBytes, maxDepth int) Option {
	return func(c *Config) error { c.MaxPayloadBytes, c.MaxPayloadDepth = maxBytes, maxDepth; return nil }
}

// WithMaxQueuedEvents sets the async backpressure limit (0: none).
func WithMaxQueuedEvents(n int) Option {
	return func(c *Config) error { c.MaxQueuedEvents = n; return nil }
}

// WithSecretKey sets the 32-byte key that seals credentials.
func WithSecretKey(key []byte) Option {
	return func(c *Config) error {
		if len(key) != SecretKeySize {
			return configErr("Config.SecretKey", fmt.Sprintf("must be %d bytes, got %d", SecretKeySize, len(key)), nil)
		}
		c.SecretKey = append([]byte(nil), key...)
		return nil
	}
}

// WithEscalationService names the default escalation target service.
func WithEscalationService(name string) Option {
	return func(c *Config) error { c.EscalationService = name; return nil }
}

// withDefaults validates c and fills its zero fields.
func (c Config) withDefaults() (Config, error) {
	type bound struct {
		field    string
		v        int
		def, max int
	}
	for _, b := range []bound{
		{"Config.Workers", c.Workers, WorkersDefault, 1024},
		{"Config.BatchSize", c.BatchSize, BatchSizeDefault, 1000},
		{"Config.MaxPayloadBytes", c.MaxPayloadBytes, MaxPayloadBytesDefault, 1 << 30},
		{"Config.MaxPayloadDepth", c.MaxPayloadDepth, MaxPayloadDepthDefault, 10000},
		{"Config.MaxRetriesDefault", c.MaxRetriesDefault, MaxRetriesDefault, 100},
	} {
		if b.v < 0 || b.v > b.max {
			return c, configErr(b.field, fmt.Sprintf("%d is outside [0, %d]", b.v, b.max), nil)
		}
	}
	if c.MaxQueuedEvents < 0 {
		return c, configErr("Config.MaxQueuedEvents", "must not be negative", nil)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
		min   time.Duration
	}{
		{"Config.Lease", c.Lease, 100 * time.Millisecond},
		{"Config.PollInterval", c.PollInterval, time.Millisecond},
		{"Config.MaintenanceInterval", c.MaintenanceInterval, time.Millisecond},
		{"Config.ShutdownTimeout", c.ShutdownTimeout, 0},
	} {
		if d.v < 0 || (d.v > 0 && d.v < d.min) {
			return c, configErr(d.field, fmt.Sprintf("%v is below the minimum %v", d.v, d.min), nil)
		}
	}
	if err := checkVentures(c.Ventures); err != nil {
		return c, err
	}
	if c.SecretKey != nil && len(c.SecretKey) != SecretKeySize {
		return c, configErr("Config.SecretKey", fmt.Sprintf("must be %d bytes, got %d", SecretKeySize, len(c.SecretKey)), nil)
	}
	if err := c.lifecycleDefaults(); err != nil {
		return c, err
	}
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	defD := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.Workers, WorkersDefault)
	def(&c.BatchSize, BatchSizeDefault)
	def(&c.MaxPayloadBytes, MaxPayloadBytesDefault)
	def(&c.MaxPayloadDepth, MaxPayloadDepthDefault)
	def(&c.MaxRetriesDefault, MaxRetriesDefault)
	defD(&c.Lease, LeaseDefault)
	defD(&c.PollInterval, PollIntervalDefault)
	defD(&c.MaintenanceInterval, MaintenanceIntervalDefault)
	defD(&c.RollupInterval, RollupIntervalDefault)
	defD(&c.ShutdownTimeout, ShutdownTimeoutDefault)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.TracerProvider == nil {
		c.TracerProvider = otel.GetTracerProvider()
	}
	if c.MeterProvider == nil {
		c.MeterProvider = otel.GetMeterProvider()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return c, nil
}
