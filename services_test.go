package hub_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opt   hub.Option
		field string
	}{
		{"negative workers", hub.WithWorkers(-1), "Config.Workers"},
		{"huge batch", hub.WithBatchSize(5000), "Config.BatchSize"},
		{"tiny lease", hub.WithLease(time.Millisecond), "Config.Lease"},
		{"negative poll", hub.WithPollInterval(-time.Second), "Config.PollInterval"},
		{"short key", hub.WithSecretKey([]byte("short")), "Config.SecretKey"},
		{"negative queue limit", hub.WithMaxQueuedEvents(-1), "Config.MaxQueuedEvents"},
		{"nil registry", hub.WithConnectors(nil), "Config.Connectors"},
		{"nil option", nil, "options[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := hub.New(nil, tt.opt)
			require.ErrorIs(t, err, hub.ErrInvalidConfig)
			var ce *hub.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.field, ce.Field)
		})
	}
	h, err := hub.New(nil)
	require.NoError(t, err)
	require.NoError(t, h.Close(t.Context()))
	require.ErrorIs(t, h.Start(t.Context()), hub.ErrClosed)
}

func TestRegisterIntegrationValidates(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	sink := hubtest.NewSink(t)
	register(t, h, "taken", sink.URL, nil)
	tests := []struct {
		name  string
		edit  func(*hub.IntegrationConfig)
		field string
	}{
		{"no name", func(c *hub.IntegrationConfig) { c.Name = "" }, "IntegrationConfig.Name"},
		{"name taken", func(c *hub.IntegrationConfig) { c.Name = "taken" }, "IntegrationConfig.Name"},
		{"unknown connector", func(c *hub.IntegrationConfig) { c.Connector = "fax" }, "IntegrationConfig.Connector"},
		{"no connector", func(c *hub.IntegrationConfig) { c.Connector = "" }, "IntegrationConfig.Connector"},
		{"ftp url", func(c *hub.IntegrationConfig) { c.BaseURL = "ftp://example.com" }, "IntegrationConfig.BaseURL"},
		{"relative url", func(c *hub.IntegrationConfig) { c.BaseURL = "/api" }, "IntegrationConfig.BaseURL"},
		{"bad backup", func(c *hub.IntegrationConfig) { c.BackupURLs = []string{"mailto:x@example.com"} }, "IntegrationConfig.BackupURLs[0]"},
		{"unknown category", func(c *hub.IntegrationConfig) { c.Category = "toys" }, "IntegrationConfig.Category"},
		{"breaker threshold", func(c *hub.IntegrationConfig) {
			c.CircuitBreaker = json.RawMessage(`{"failure_threshold": -1}`)
		}, "IntegrationConfig.circuit_breaker_config.failure_threshold"},
		{"unknown retry key", func(c *hub.IntegrationConfig) { c.Retry = json.RawMessage(`{"retries": 3}`) }, "IntegrationConfig.retry_config"},
		{"malformed rate limits", func(c *hub.IntegrationConfig) { c.RateLimits = json.RawMessage(`{`) }, "IntegrationConfig.RateLimits"},
		{"max retries", func(c *hub.IntegrationConfig) { c.MaxRetries = intp(1000) }, "IntegrationConfig.MaxRetries"},
		{"unknown health check key", func(c *hub.IntegrationConfig) {
			c.HealthCheck = json.RawMessage(`{"window_secs": 60}`)
		}, "IntegrationConfig.HealthCheck.window_secs"},
		{"health check threshold", func(c *hub.IntegrationConfig) {
			c.HealthCheck = json.RawMessage(`{"error_rate_critical": 2}`)
		}, "IntegrationConfig.HealthCheck.error_rate_critical"},
		{"contract without version", func(c *hub.IntegrationConfig) {
			c.Contract = &hub.ContractRef{Name: "x", Schema: workItemSchema}
		}, "IntegrationConfig.Contract"},
		{"schema does not compile", func(c *hub.IntegrationConfig) {
			c.Contract = &hub.ContractRef{Name: "broken", Version: "1.0.0", Schema: json.RawMessage(`{"type": 12}`)}
		}, "IntegrationConfig.Contract"},
		{"unknown stored contract", func(c *hub.IntegrationConfig) {
			c.Contract = &hub.ContractRef{Name: "nowhere", Version: "1.0.0"}
		}, "IntegrationConfig.Contract"},
		{"mapping does not compile", func(c *hub.IntegrationConfig) {
			c.Mapping = json.RawMessage(`{"title": "issue.title +"}`)
		}, "IntegrationConfig.Mapping"},
		{"credentials without key", nil, "Config.SecretKey"},
	}
	noKey, err := hub.New(nil, hubtest.AllowLoopback())
	require.NoError(t, err)
	t.Cleanup(func() { _ = noKey.Close(context.Background()) })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := hub.IntegrationConfig{Name: "svc-" + strings.ReplaceAll(tt.name, " ", "-"), Connector: "http", BaseURL: sink.URL}
			target := h
			if tt.edit != nil {
				tt.edit(&cfg)
			} else {
				cfg.Auth = json.RawMessage(`{"type":"bearer","token":"s3cr3t-token"}`)
				target = noKey
			}
			_, err := target.RegisterIntegration(t.Context(), cfg)
			require.ErrorIs(t, err, hub.ErrInvalidConfig)
			var ce *hub.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.field, ce.Field, "error: %v", err)
			assert.NotContains(t, err.Error(), "s3cr3t-token")
			_, gerr := h.Store().GetServiceByName(t.Context(), cfg.Name)
			if cfg.Name != "taken" {
				assert.ErrorIs(t, gerr, store.ErrNotFound, "nothing stored")
			}
		})
	}
}

func TestRegisterIntegrationSealsCredentialsAndAudits(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	sink := hubtest.NewSink(t)
	const secret = "tok-very-secret-123"
	reg, err := h.RegisterIntegration(t.Context(), hub.IntegrationConfig{
		Name: "crm", Category: store.CategoryCRM, Connector: "http", BaseURL: sink.URL,
		Auth:     json.RawMessage(`{"type":"bearer","token":"` + secret + `"}`),
		Contract: &hub.ContractRef{Name: "work-item", Version: "1.0.0", Schema: workItemSchema},
		Mapping:  workItemMapping, Actor: "alice",
	})
	require.NoError(t, err)
	assert.Equal(t, 1, reg.MappingVersion)
	assert.NotContains(t, string(reg.Service.AuthenticationConfig), secret)

	stored, err := h.Store().GetService(t.Context(), reg.ServiceID)
	require.NoError(t, err)
	assert.NotContains(t, string(stored.AuthenticationConfig), secret, "credentials are sealed at rest")
	assert.Contains(t, string(stored.AuthenticationConfig), "sealed")

	rule, err := h.Store().GetActiveRule(t.Context(), "crm.mapping")
	require.NoError(t, err)
	assert.Equal(t, 1, rule.Version)
	_, err = h.Store().GetContract(t.Context(), "work-item", "1.0.0")
	require.NoError(t, err)

	audit, err := h.Store().ListAudit(t.Context(), store.AuditFilter{EntityID: reg.ServiceID})
	require.NoError(t, err)
	require.Len(t, audit, 1)
	assert.Equal(t, "alice", audit[0].Actor)
	assert.Equal(t, "service.register", audit[0].Action)
	assert.NotContains(t, string(audit[0].After), secret)
	assert.Contains(t, string(audit[0].After), "[REDACTED]")

	// The sealed credentials reach the connector: the sink sees the bearer token.
	res, err := h.ProcessIntegrationEvent(t.Context(), hub.EventData{Service: "crm", Payload: issueEvent})
	require.NoError(t, err)
	assert.Equal(t, store.StatusSucceeded, res.Status)
}

func TestConfigureService(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	other := hubtest.NewSink(t)

	_, err := b.hub.ConfigureService(ctx, "nope", hub.ServiceConfig{})
	require.ErrorIs(t, err, hub.ErrUnknownService)
	require.ErrorIs(t, err, hub.ErrNotFound)

	bad := "gopher://x"
	_, err = b.hub.ConfigureService(ctx, "sink", hub.ServiceConfig{BaseURL: &bad})
	var ce *hub.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "IntegrationConfig.BaseURL", ce.Field)

	// New base URL and a mapping: the mapping becomes rule version 1, then 2.
	conf, err := b.hub.ConfigureService(ctx, b.reg.ServiceID, hub.ServiceConfig{BaseURL: &other.URL, Mapping: json.RawMessage(`{"title": "issue.title"}`), Actor: "bob"})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"base_url", "mapping"}, conf.Changed)
	assert.Equal(t, 1, conf.MappingVersion)
	conf, err = b.hub.ConfigureService(ctx, "sink", hub.ServiceConfig{Mapping: json.RawMessage(`{"title": "upper(issue.title)"}`)})
	require.NoError(t, err)
	assert.Equal(t, 2, conf.MappingVersion)
	active, err := b.st.GetActiveRule(ctx, "sink.mapping")
	require.NoError(t, err)
	assert.Equal(t, 2, active.Version)

	res, err := b.hub.ProcessIntegrationEvent(ctx, hub.EventData{Service: "sink", Payload: issueEvent, IdempotencyKey: "k1"})
	require.NoError(t, err)
	assert.Equal(t, "sink.mapping", res.RuleName)
	assert.Equal(t, 2, res.RuleVersion)
	assert.JSONEq(t, `{"title":"REFUND WEBHOOK RETRIES EXHAUST AFTER GATEWAY 503 AND LEAVE LEDGER UNBALANCED"}`, string(other.Body("k1")))
	assert.Zero(t, b.sink.Total(), "the old URL is no longer used")

	// Unchanged configuration changes nothing.
	conf, err = b.hub.ConfigureService(ctx, "sink", hub.ServiceConfig{BaseURL: &other.URL})
	require.NoError(t, err)
	assert.Empty(t, conf.Changed)

	audit, err := b.st.ListAudit(ctx, store.AuditFilter{EntityID: b.reg.ServiceID})
	require.NoError(t, err)
	require.Len(t, audit, 3) // register + two changes
	assert.Equal(t, "service.configure", audit[1].Action)
	assert.Equal(t, "bob", audit[1].Actor)
	assert.NotEmpty(t, audit[1].Before)
}

func TestTestIntegration(t *testing.T) {
	t.Parallel()
	h := hubtest.New(t, nil)
	sink := hubtest.NewSink(t)
	register(t, h, "wi", sink.URL, workItemService)
	ctx := t.Context()

	_, err := h.TestIntegration(ctx, "missing", hub.TestData{})
	require.ErrorIs(t, err, hub.ErrUnknownService)

	res, err := h.TestIntegration(ctx, "wi", hub.TestData{Payload: issueEvent})
	require.NoError(t, err)
	require.True(t, res.OK, "%+v", res.Steps)
	names := []string{}
	for _, s := range res.Steps {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"connector_check", "payload", "input_contract", "transform", "canonical_contract", "delivery_mapping"}, names)
	assert.True(t, res.Steps[2].Skipped)
	assert.False(t, res.Steps[3].Skipped)
	assert.Contains(t, string(res.Canonical), `"id":"github:acme-corp/payments-api#1347"`)
	assert.Zero(t, sink.Total(), "nothing is delivered")
	events, err := h.Store().ListEvents(ctx, store.EventFilter{})
	require.NoError(t, err)
	assert.Empty(t, events, "nothing stored")

	bad := issueWith(t, func(i map[string]any) { i["title"] = ""; i["html_url"] = "::" })
	res, err = h.TestIntegration(ctx, "wi", hub.TestData{Payload: bad, SkipCheck: true})
	require.NoError(t, err)
	assert.False(t, res.OK)
	last := res.Steps[len(res.Steps)-1]
	assert.Equal(t, "canonical_contract", last.Name)
	assert.False(t, last.OK)
	paths := []string{}
	for _, v := range last.Violations {
		paths = append(paths, v.Path)
	}
	assert.Contains(t, paths, "/title")
	assert.Contains(t, paths, "/url")

	res, err = h.TestIntegration(ctx, "wi", hub.TestData{Payload: json.RawMessage(`{"oops"`), SkipCheck: true})
	require.NoError(t, err)
	assert.False(t, res.OK)
	assert.Equal(t, "payload", res.Steps[1].Name)
}
