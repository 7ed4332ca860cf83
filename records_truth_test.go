package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubtest"
	"github.com/ehg/hub/store"
)

// The tests of this file check that the stored records tell the truth, on every store.

// TestEventRecordsTheCallMade: request_method is the method the delivery used (a PATCH
// operation is stored as PATCH) and endpoint_url the URL actually called — after the
// primary fails over, the backup's.
func TestEventRecordsTheCallMade(t *testing.T) {
	t.Parallel()
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			h := hubtest.New(t, sk.open(t))
			primary, backup := hubtest.NewSink(t), hubtest.NewSink(t)
			ctx := t.Context()
			register(t, h, "items", primary.URL, func(c *hub.IntegrationConfig) {
				c.BackupURLs = []string{backup.URL}
				c.ConnectorOptions = json.RawMessage(`{"default_operation": "update",
					"operations": {"update": {"method": "PATCH", "path": "/items/{id}"}}}`)
				// The primary's first failure opens its breaker: the same call moves on to the backup.
				c.CircuitBreaker = json.RawMessage(`{"failure_threshold": 1, "recovery_timeout": "1h"}`)
			})
			res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "items", Payload: json.RawMessage(`{"id": 7, "title": "ok"}`), IdempotencyKey: "direct"})
			require.NoError(t, err)
			ev, err := h.Store().GetEvent(ctx, res.EventID)
			require.NoError(t, err)
			assert.Equal(t, store.MethodPatch, ev.RequestMethod)
			assert.Equal(t, primary.URL+"/items/7", ev.EndpointURL)

			primary.FailWith(503)
			res, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "items", Payload: json.RawMessage(`{"id": 8, "title": "moved"}`), IdempotencyKey: "failover"})
			require.NoError(t, err)
			require.Equal(t, store.StatusSucceeded, res.Status)
			assert.Equal(t, 1, backup.Delivered("failover"), "the backup took the call")
			ev, err = h.Store().GetEvent(ctx, res.EventID)
			require.NoError(t, err)
			assert.Equal(t, store.MethodPatch, ev.RequestMethod)
			assert.Equal(t, backup.URL+"/items/8", ev.EndpointURL, "the endpoint actually called")
		})
	}
}

// TestServiceRecordFollowsTheMonitor: integration_services.health_status takes each of the
// monitor's judgements as it changes, and last_health_check the time of the last judgement
// or probe.
func TestServiceRecordFollowsTheMonitor(t *testing.T) {
	t.Parallel()
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			h := hubtest.New(t, sk.open(t))
			rem := newRemote(t)
			reg := registerMonitored(t, h, "watched", rem.URL, `{"interval_seconds": -1, "min_samples": 2}`, nil)
			ctx := t.Context()
			stored := func() *store.Service {
				t.Helper()
				svc, err := h.Store().GetService(ctx, reg.ServiceID)
				require.NoError(t, err)
				return svc
			}
			require.Nil(t, stored().LastHealthCheck)
			assert.Equal(t, store.HealthUnknown, stored().HealthStatus)

			rem.deliverStatus.Store(400)
			for i := range 3 {
				_, _ = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "watched", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
			}
			eventually(t, time.Minute, func() bool { return stored().HealthStatus == store.HealthUnhealthy }, "the record follows the judgement")
			first := stored().LastHealthCheck
			require.NotNil(t, first)

			rem.deliverStatus.Store(200)
			for i := range 20 {
				_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "watched", Payload: json.RawMessage(fmt.Sprintf(`{"m":%d}`, i))})
				require.NoError(t, err)
			}
			eventually(t, time.Minute, func() bool { return stored().HealthStatus != store.HealthUnhealthy }, "and its recovery")
			svc := stored()
			require.NotNil(t, svc.LastHealthCheck)
			assert.False(t, svc.LastHealthCheck.Before(*first), "last_health_check moves forward")
			hr, err := h.GetIntegrationHealth(ctx, "watched")
			require.NoError(t, err)
			assert.Equal(t, hr.Services[0].Status, svc.HealthStatus, "the record says what the monitor says")
		})
	}
}

// TestProbesUpdateLastHealthCheck: each probe moves last_health_check, without changing the
// configuration's updated_at.
func TestProbesUpdateLastHealthCheck(t *testing.T) {
	t.Parallel()
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			h := hubtest.New(t, sk.open(t))
			rem := newRemote(t)
			reg := registerMonitored(t, h, "probed", rem.URL, `{"interval_seconds": 1}`, nil)
			ctx := t.Context()
			var checks []time.Time
			eventually(t, time.Minute, func() bool {
				svc, err := h.Store().GetService(ctx, reg.ServiceID)
				require.NoError(t, err)
				if svc.LastHealthCheck != nil && (len(checks) == 0 || svc.LastHealthCheck.After(checks[len(checks)-1])) {
					checks = append(checks, *svc.LastHealthCheck)
				}
				return len(checks) >= 2 && rem.probes.Load() >= 2
			}, "two probes recorded")
			svc, err := h.Store().GetService(ctx, reg.ServiceID)
			require.NoError(t, err)
			assert.Equal(t, svc.CreatedAt, svc.UpdatedAt, "probes are not configuration changes")
		})
	}
}

// TestUptimeTellsTheTruth: a service nothing checked has no uptime (not 100%), one whose
// events never reached an outcome neither, and one down for the whole hour — every probe
// failed, no event — reports 0%.
func TestUptimeTellsTheTruth(t *testing.T) {
	t.Parallel()
	for _, kind := range monStores() {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			clk := &monClock{t: time.Date(2026, 3, 2, 10, 10, 0, 0, time.UTC)}
			st := kind.open(t, clk.Now)
			h, err := hub.New(st, append(hubtest.Fast(), hub.WithClock(clk.Now))...) // not started: nothing is delivered
			require.NoError(t, err)
			t.Cleanup(func() { _ = h.Close(context.Background()) })
			ctx := t.Context()
			reg := func(name string) string {
				r, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: name, Connector: "http", BaseURL: "http://127.0.0.1:1",
					HealthCheck: json.RawMessage(`{"interval_seconds":-1}`)})
				require.NoError(t, err)
				return r.ServiceID
			}
			reg("quiet")
			reg("waiting")
			down := reg("down")
			for i := range 3 {
				_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "waiting", Payload: json.RawMessage(fmt.Sprintf(`[%d]`, i)), Mode: hub.Async})
				require.NoError(t, err)
			}
			for m := 0; m < 60; m += 15 {
				availability(t, st, down, time.Date(2026, 3, 2, 10, m, 0, 0, time.UTC), false)
			}
			clk.Set(time.Date(2026, 3, 2, 11, 5, 0, 0, time.UTC))
			hour := hub.TimeRange{From: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)}

			an, err := h.GetIntegrationAnalytics(ctx, hub.AnalyticsQuery{Period: store.PeriodHour, Range: hour})
			require.NoError(t, err)
			byName := map[string]*store.AnalyticsRollup{}
			for _, r := range an.Rollups {
				byName[r.ServiceName] = r
			}
			require.Contains(t, byName, "down", "a service down all hour has its hour")
			require.NotNil(t, byName["down"].UptimePercent)
			assert.Zero(t, *byName["down"].UptimePercent, "down the whole hour: 0%")
			require.Contains(t, byName, "waiting")
			assert.Nil(t, byName["waiting"].UptimePercent, "events but no outcome and no probe: unknown")
			assert.NotContains(t, byName, "quiet", "nothing happened")
			require.NotNil(t, an.Totals.UptimePercent)
			assert.Zero(t, *an.Totals.UptimePercent, "the mean of the known uptimes")

			quiet, err := h.GetIntegrationAnalytics(ctx, hub.AnalyticsQuery{Service: "quiet", Period: store.PeriodHour, Range: hour})
			require.NoError(t, err)
			assert.Empty(t, quiet.Rollups)
			assert.Nil(t, quiet.Totals.UptimePercent, "unknown, not 100%")

			stored, err := st.ListAnalytics(ctx, store.AnalyticsFilter{ServiceID: down})
			require.NoError(t, err)
			require.Len(t, stored, 1)
			require.NotNil(t, stored[0].UptimePercent)
			assert.Zero(t, *stored[0].UptimePercent)
		})
	}
}

// TestEscalationRecordsItsSeverityAndTheErrorRate: the incident's health metric row carries
// the status the escalation's severity means and the service's actual error rate — also
// when another hub, which delivered nothing itself, escalates.
func TestEscalationRecordsItsSeverityAndTheErrorRate(t *testing.T) {
	t.Parallel()
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			st := sk.open(t)
			key := make([]byte, hub.SecretKeySize)
			a := hubtest.New(t, st, hub.WithSecretKey(key))
			rem := newRemote(t)
			reg := registerMonitored(t, a, "flaky", rem.URL, `{"interval_seconds": -1, "min_samples": 4}`, nil)
			ctx := t.Context()
			for i := range 4 {
				rem.deliverStatus.Store(map[bool]int64{true: 400, false: 200}[i%2 == 0])
				_, _ = a.ProcessIntegrationEvent(ctx, hub.EventData{Service: "flaky", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
			}
			b := hubtest.New(t, st, hub.WithSecretKey(key)) // delivered nothing itself
			for _, tc := range []struct {
				severity hub.Severity
				status   store.MetricStatus
			}{
				{hub.SeverityLow, store.MetricNormal},
				{hub.SeverityMedium, store.MetricWarning},
				{hub.SeverityCritical, store.MetricCritical},
			} {
				res, err := b.EscalateIntegrationIssue(ctx, hub.IntegrationIssue{Service: "flaky", Severity: tc.severity, Summary: "half the deliveries fail"})
				require.NoError(t, err)
				rows, err := st.ListHealthMetrics(ctx, store.HealthMetricFilter{ServiceID: reg.ServiceID, MetricType: store.MetricErrorRate})
				require.NoError(t, err)
				var row *store.HealthMetric
				for _, m := range rows {
					if m.IncidentTriggered && json.Valid(m.RecoveryActions) && containsIncident(t, m.RecoveryActions, res.IncidentID) {
						row = m
					}
				}
				require.NotNil(t, row, "the incident's row")
				assert.Equal(t, tc.status, row.Status, "severity %s", tc.severity)
				assert.InDelta(t, 0.5, row.Value, 1e-9, "two of the four deliveries failed")
				require.NotNil(t, row.WarningThreshold)
				require.NotNil(t, row.CriticalThreshold)
				assert.InDelta(t, 0.05, *row.WarningThreshold, 1e-9)
				assert.InDelta(t, 0.25, *row.CriticalThreshold, 1e-9)
			}
		})
	}
}

func containsIncident(t *testing.T, actions json.RawMessage, incidentID string) bool {
	t.Helper()
	var as []struct {
		IncidentID string `json:"incident_id"`
		Severity   string `json:"severity"`
	}
	if json.Unmarshal(actions, &as) != nil {
		return false
	}
	for _, a := range as {
		if a.IncidentID == incidentID {
			assert.NotEmpty(t, a.Severity, "the row names the escalation's severity")
			return true
		}
	}
	return false
}

// TestRulesRecordWhatTheyAre: a stored mapping rule names the contracts it reads and writes
// with their schemas, its validation rules, and whether it has an inverse.
func TestRulesRecordWhatTheyAre(t *testing.T) {
	t.Parallel()
	inputSchema := json.RawMessage(`{"type":"object","required":["issue"]}`)
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			h := hubtest.New(t, sk.open(t))
			sink := hubtest.NewSink(t)
			ctx := t.Context()
			register(t, h, "items", sink.URL, func(c *hub.IntegrationConfig) {
				c.InputContract = &hub.ContractRef{Name: "gh-issue", Version: "1.0.0", Schema: inputSchema}
				c.Contract = &hub.ContractRef{Name: "ticket", Version: "2.1.0", Schema: json.RawMessage(`{"type":"object","required":["title"]}`)}
				c.Mapping = json.RawMessage(`{"fields": {"title": "issue.title"}, "inverse": {"fields": {"issue.title": "title"}}}`)
				c.DeliveryMapping = json.RawMessage(`{"text": "title"}`)
			})
			rules, err := h.Store().ListRules(ctx, store.RuleFilter{ActiveOnly: true})
			require.NoError(t, err)
			require.Len(t, rules, 2)
			delivery, mapping := rules[0], rules[1]
			require.Equal(t, "items.mapping", mapping.Name)
			require.Equal(t, "items.delivery", delivery.Name)

			assert.JSONEq(t, `{"name":"gh-issue","version":"1.0.0","schema":{"type":"object","required":["issue"]}}`, string(mapping.SourceSchema))
			assert.JSONEq(t, `{"name":"ticket","version":"2.1.0","schema":{"type":"object","required":["title"]}}`, string(mapping.TargetSchema))
			assert.JSONEq(t, fmt.Sprintf(`{"source_contract":"gh-issue@1.0.0","target_contract":"ticket@2.1.0","max_payload_bytes":%d,"max_payload_depth":%d}`,
				hub.MaxPayloadBytesDefault, hub.MaxPayloadDepthDefault), string(mapping.ValidationRules))
			assert.True(t, mapping.IsBidirectional, "the mapping declares an inverse")

			assert.JSONEq(t, string(mapping.TargetSchema), string(delivery.SourceSchema), "the delivery mapping reads the canonical document")
			assert.Empty(t, delivery.TargetSchema, "no contract describes the connector's request")
			assert.JSONEq(t, fmt.Sprintf(`{"source_contract":"ticket@2.1.0","max_payload_bytes":%d,"max_payload_depth":%d}`,
				hub.MaxPayloadBytesDefault, hub.MaxPayloadDepthDefault), string(delivery.ValidationRules))
			assert.False(t, delivery.IsBidirectional)
		})
	}
}

// TestLoadMetricsOnSchedule: on the rollup job's schedule, every active service gets a
// queue_depth row (events waiting now) and a throughput row (delivered per minute).
func TestLoadMetricsOnSchedule(t *testing.T) {
	t.Parallel()
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			st := sk.open(t)
			h := hubtest.New(t, st, hub.WithRollupInterval(50*time.Millisecond), hub.WithMaxQueuedEvents(10))
			ok, stuck := hubtest.NewSink(t), hubtest.NewSink(t)
			stuck.FailWith(503)
			okReg := register(t, h, "ok", ok.URL, nil)
			stuckReg := register(t, h, "stuck", stuck.URL, func(c *hub.IntegrationConfig) {
				c.Retry = json.RawMessage(`{"initial_backoff":"1h","max_backoff":"1h","inline_retries":0,"timeout":"30s"}`)
				c.MaxRetries = intp(10)
			})
			ctx := t.Context()
			for i := range 3 {
				_, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "ok", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
				require.NoError(t, err)
				_, err = h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "stuck", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), Mode: hub.Async})
				require.NoError(t, err)
			}
			latest := func(svc string, mt store.MetricType) *store.HealthMetric {
				rows, err := st.ListHealthMetrics(ctx, store.HealthMetricFilter{ServiceID: svc, MetricType: mt, Page: store.Page{Limit: 1}})
				require.NoError(t, err)
				if len(rows) == 0 {
					return nil
				}
				return rows[0]
			}
			eventually(t, time.Minute, func() bool {
				d, tp := latest(stuckReg.ServiceID, store.MetricQueueDepth), latest(okReg.ServiceID, store.MetricThroughput)
				return d != nil && d.Value == 3 && tp != nil && tp.Value == 3
			}, "queue depth 3 for stuck, 3 deliveries a minute for ok")
			d := latest(stuckReg.ServiceID, store.MetricQueueDepth)
			require.NotNil(t, d.WarningThreshold)
			require.NotNil(t, d.CriticalThreshold)
			assert.InDelta(t, 8, *d.WarningThreshold, 1e-9, "80% of MaxQueuedEvents")
			assert.InDelta(t, 10, *d.CriticalThreshold, 1e-9)
			assert.Equal(t, store.MetricNormal, d.Status)
			assert.Zero(t, latest(okReg.ServiceID, store.MetricQueueDepth).Value)
			assert.Zero(t, latest(stuckReg.ServiceID, store.MetricThroughput).Value)
		})
	}
}
