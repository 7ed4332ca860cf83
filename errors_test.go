package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/contract"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/resilience"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/transform"
)

// TestErrorMessagesReadOnce provokes the hub's common errors on every store and checks that
// each message says each thing once — no package prefix, sentinel phrase, ": " segment or
// ID twice — while errors.Is and errors.As still find every sentinel and typed error of
// the chain.
func TestErrorMessagesReadOnce(t *testing.T) {
	t.Parallel()
	const missing = "00000000-0000-4000-8000-000000000001"
	type env struct {
		h       *hub.Hub
		sink    *hubtest.Sink
		settled string // the ID of a succeeded event
	}
	cases := []struct {
		name string
		call func(ctx context.Context, e env) error
		is   []error
		as   func(err error) bool
	}{
		{"retry of a missing event", func(ctx context.Context, e env) error {
			_, err := e.h.RetryFailedIntegration(ctx, missing)
			return err
		}, []error{hub.ErrNotFound, store.ErrNotFound}, nil},
		{"retry of a succeeded event", func(ctx context.Context, e env) error {
			_, err := e.h.RetryFailedIntegration(ctx, e.settled)
			return err
		}, []error{hub.ErrInvalidTransition, store.ErrInvalidTransition}, func(err error) bool {
			var te *store.TransitionError
			return errors.As(err, &te)
		}},
		{"malformed payload", func(ctx context.Context, e env) error {
			_, err := e.h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{"a":`)})
			return err
		}, []error{hub.ErrInvalidInput}, nil},
		{"unknown service", func(ctx context.Context, e env) error {
			_, err := e.h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "nosuch", Payload: json.RawMessage(`{}`)})
			return err
		}, []error{hub.ErrUnknownService, hub.ErrNotFound}, nil},
		{"unknown retry_config field", func(ctx context.Context, e env) error {
			_, err := e.h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "r", Connector: "http", BaseURL: e.sink.URL, Retry: json.RawMessage(`{"bogus":1}`)})
			return err
		}, []error{hub.ErrInvalidConfig, resilience.ErrInvalidConfig}, func(err error) bool {
			var ce *resilience.ConfigError
			return errors.As(err, &ce)
		}},
		{"breaker threshold out of range", func(ctx context.Context, e env) error {
			_, err := e.h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "b", Connector: "http", BaseURL: e.sink.URL, CircuitBreaker: json.RawMessage(`{"failure_threshold":-1}`)})
			return err
		}, []error{hub.ErrInvalidConfig, resilience.ErrInvalidConfig}, nil},
		{"unknown health_check_config field", func(ctx context.Context, e env) error {
			_, err := e.h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "h", Connector: "http", BaseURL: e.sink.URL, HealthCheck: json.RawMessage(`{"window_secs":60}`)})
			return err
		}, []error{hub.ErrInvalidConfig}, func(err error) bool {
			var ce *hub.ConfigError
			return errors.As(err, &ce) && ce.Field == "IntegrationConfig.HealthCheck.window_secs"
		}},
		{"unknown connector option", func(ctx context.Context, e env) error {
			_, err := e.h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "o", Connector: "http", BaseURL: e.sink.URL, ConnectorOptions: json.RawMessage(`{"zzz":1}`)})
			return err
		}, []error{hub.ErrInvalidConfig, connectors.ErrInvalidConfig}, nil},
		{"schema that does not compile", func(ctx context.Context, e env) error {
			_, err := e.h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "c", Connector: "http", BaseURL: e.sink.URL,
				Contract: &hub.ContractRef{Name: "c", Version: "1.0.0", Schema: json.RawMessage(`{"type":"nope"}`)}})
			return err
		}, []error{hub.ErrInvalidConfig, contract.ErrInvalidContract}, nil},
		{"contract version not semver", func(ctx context.Context, e env) error {
			_, err := e.h.ValidateDataContract(ctx, json.RawMessage(`{}`), contract.Contract{Name: "c", Version: "1", Schema: json.RawMessage(`{}`)})
			return err
		}, []error{hub.ErrInvalidConfig, contract.ErrInvalidContract}, nil},
		{"empty rules", func(ctx context.Context, e env) error {
			_, err := e.h.TransformData(ctx, json.RawMessage(`{"a":1}`), transform.Rules{})
			return err
		}, []error{hub.ErrInvalidConfig, transform.ErrInvalidRules}, nil},
		{"mapping that fails on the payload", func(ctx context.Context, e env) error {
			_, err := e.h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "mapped", Payload: json.RawMessage(`{"a":3}`)})
			return err
		}, []error{hub.ErrTransform, transform.ErrEval}, func(err error) bool {
			var fe *transform.FieldError
			return errors.As(err, &fe)
		}},
		{"unknown service in a batch", func(ctx context.Context, e env) error {
			_, err := e.h.ProcessIntegrationEvents(ctx, []hub.EventData{{Service: "nosuch", Payload: json.RawMessage(`{}`)}})
			return err
		}, []error{hub.ErrUnknownService}, nil},
		{"permanent delivery failure", func(ctx context.Context, e env) error {
			_, err := e.h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "refuses", Payload: json.RawMessage(`{"a":2}`)})
			return err
		}, []error{hub.ErrDeliveryFailed}, nil},
		{"time range backwards", func(ctx context.Context, e env) error {
			now := time.Now()
			_, err := e.h.GetPerformanceMetrics(ctx, hub.TimeRange{From: now, To: now.Add(-time.Hour)})
			return err
		}, []error{hub.ErrInvalidInput}, nil},
	}
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			h := hubtest.New(t, sk.open(t))
			sink := hubtest.NewSink(t)
			register(t, h, "sink", sink.URL, nil)
			register(t, h, "mapped", sink.URL, workItemService)
			refuses := hubtest.NewSink(t)
			refuses.FailWith(400)
			register(t, h, "refuses", refuses.URL, nil)
			res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: json.RawMessage(`{"a":1}`)})
			require.NoError(t, err)
			e := env{h: h, sink: sink, settled: res.EventID}
			for _, c := range cases {
				err := c.call(ctx, e)
				require.Error(t, err, c.name)
				for _, want := range c.is {
					assert.ErrorIs(t, err, want, c.name)
				}
				if c.as != nil {
					assert.True(t, c.as(err), "%s: errors.As finds the typed error in %v", c.name, err)
				}
				assertReadsOnce(t, c.name, err.Error())
				t.Logf("%-34s %s", c.name, err)
			}
		})
	}
}

var (
	pkgPrefix = regexp.MustCompile(`(?:^|: )(hub|store|memory|sqlite|postgres|pipeline|jsonproj|contract|transform|resilience|connectors|health|engine|seal):`)
	uuidRE    = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
)

// assertReadsOnce fails when msg repeats a package prefix, a sentinel phrase, a ": "
// segment or an ID.
func assertReadsOnce(t *testing.T, name, msg string) {
	t.Helper()
	count := map[string]int{}
	for _, m := range pkgPrefix.FindAllStringSubmatch(msg, -1) {
		count["prefix "+m[1]]++
	}
	for _, m := range uuidRE.FindAllString(msg, -1) {
		count[m]++
	}
	for _, seg := range strings.Split(msg, ": ") {
		count["segment "+seg]++
	}
	lower := strings.ToLower(msg)
	for _, phrase := range []string{"not found", "invalid config", "invalid input", "malformed json", "conflict", "busy", "invalid state transition", "transformation failed", "delivery failed"} {
		count[phrase] = strings.Count(lower, phrase)
	}
	for k, n := range count {
		assert.LessOrEqual(t, n, 1, "%s: %q is said %d times in %q", name, k, n, msg)
	}
}
