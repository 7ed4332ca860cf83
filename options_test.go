package hub

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/ehg/hub/audit"
	"github.com/ehg/hub/connectors"
)

// TestEveryConfigFieldHasAnOption: each field of Config that users set has an option that
// sets it, so WithConfig is never the only way to reach a setting.
func TestEveryConfigFieldHasAnOption(t *testing.T) {
	t.Parallel()
	key := make([]byte, SecretKeySize)
	_, _ = rand.Read(key)
	auditSKey, _, err := audit.DeriveKey("test", key)
	require.NoError(t, err)
	options := map[string]Option{
		"Connectors":              WithConnectors(connectors.NewRegistry()),
		"HTTPClient":              WithHTTPClient(&http.Client{}),
		"AllowedNetworks":         WithAllowedNetworks(netip.MustParsePrefix("10.0.0.0/8")),
		"Logger":                  WithLogger(slog.New(slog.DiscardHandler)),
		"TracerProvider":          WithTracerProvider(tracenoop.NewTracerProvider()),
		"MeterProvider":           WithMeterProvider(noop.NewMeterProvider()),
		"Clock":                   WithClock(time.Now),
		"InstanceID":              WithInstanceID("hub-1"),
		"Workers":                 WithWorkers(3),
		"BatchSize":               WithBatchSize(7),
		"Lease":                   WithLease(time.Minute),
		"PollInterval":            WithPollInterval(time.Second),
		"MaintenanceInterval":     WithMaintenanceInterval(time.Second),
		"RollupInterval":          WithRollupInterval(-1),
		"ShutdownTimeout":         WithShutdownTimeout(time.Second),
		"MaxPayloadBytes":         WithPayloadLimits(1000, 10),
		"MaxPayloadDepth":         WithPayloadLimits(1000, 10),
		"MaxQueuedEvents":         WithMaxQueuedEvents(10),
		"MaxRetriesDefault":       WithMaxRetriesDefault(5),
		"SecretKey":               WithSecretKey(key),
		"EscalationService":       WithEscalationService("pager"),
		"Ventures":                WithVentures(map[string]string{"Acme": "8d7c6b5a-4f3e-4d2c-8b1a-0f9e8d7c6b5a"}),
		"Retention":               WithRetention(RetentionPolicy{HealthMetrics: time.Hour}),
		"CleanupInterval":         WithCleanup(time.Second, 10),
		"CleanupBatch":            WithCleanup(time.Second, 10),
		"SubjectKey":              WithSubjectKey(key),
		"MaskDelivered":           WithMaskDelivered(),
		"Regions":                 WithRegions("eu"),
		"Authorizer":              WithAuthorization(nil),
		"Approvals":               WithApprovals(ApprovalPolicy{Require: []ChangeKind{ChangeRegister}}),
		"SyncInterval":            WithSyncInterval(time.Second),
		"SyncLease":               WithSyncLease(time.Minute),
		"PreviousSecretKeys":      WithPreviousSecretKeys(key),
		"Sealer":                  WithSealer(refusingSealer{}),
		"AuditKey":                WithAuditKey(auditSKey),
		"AuditCheckpointInterval": WithAuditCheckpointInterval(time.Minute),
	}
	for f := range reflect.TypeFor[Config]().Fields() {
		t.Run(f.Name, func(t *testing.T) {
			o, ok := options[f.Name]
			require.True(t, ok, "Config.%s has no With... option", f.Name)
			var c Config
			require.NoError(t, o(&c))
			assert.False(t, reflect.ValueOf(c).FieldByName(f.Name).IsZero(), "the option leaves Config.%s unset", f.Name)
		})
	}
}

// TestWithConfigKeepsEarlierOptions: WithConfig sets the fields its Config sets and keeps
// what earlier options set elsewhere; later options still win.
func TestWithConfigKeepsEarlierOptions(t *testing.T) {
	t.Parallel()
	key := make([]byte, SecretKeySize)
	_, _ = rand.Read(key)
	h, err := New(nil,
		WithSecretKey(key), WithWorkers(3), WithEscalationService("pager"),
		WithConfig(Config{Workers: 5, BatchSize: 9}),
		WithBatchSize(11),
	)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(t.Context()) })
	assert.Equal(t, key, h.cfg.SecretKey, "set before WithConfig, kept")
	assert.Equal(t, "pager", h.cfg.EscalationService, "set before WithConfig, kept")
	assert.Equal(t, 5, h.cfg.Workers, "set by WithConfig over the earlier option")
	assert.Equal(t, 11, h.cfg.BatchSize, "a later option still wins")
	assert.Equal(t, LeaseDefault, h.cfg.Lease, "unset everywhere: the default")

	// The Config given to WithConfig is copied: changing its key afterwards changes nothing.
	other := make([]byte, SecretKeySize)
	cfg := Config{SecretKey: other}
	h2, err := New(nil, WithConfig(cfg))
	require.NoError(t, err)
	t.Cleanup(func() { _ = h2.Close(t.Context()) })
	other[0] ^= 0xff
	assert.NotEqual(t, other, h2.cfg.SecretKey)
}

// refusingSealer is a Sealer that wraps nothing: enough to set Config.Sealer.
type refusingSealer struct{}

func (refusingSealer) KeyID() string { return "none" }
func (refusingSealer) WrapKey(context.Context, string, []byte) ([]byte, error) {
	return nil, errors.New("refusingSealer wraps nothing")
}
func (refusingSealer) UnwrapKey(context.Context, string, []byte) ([]byte, error) {
	return nil, errors.New("refusingSealer unwraps nothing")
}
