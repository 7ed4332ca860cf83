package hubhttp

import (
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/hubhttp/apiv1"
	"github.com/ehg/hub/store"
)

// Conversions from the hub's Go types to the wire types of apiv1.

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func contractRef(c *hub.ContractRef) *apiv1.ContractRef {
	if c == nil {
		return nil
	}
	return &apiv1.ContractRef{Name: c.Name, Version: c.Version, Schema: c.Schema}
}

func hubContractRef(c *apiv1.ContractRef) *hub.ContractRef {
	if c == nil {
		return nil
	}
	return &hub.ContractRef{Name: c.Name, Version: c.Version, Schema: c.Schema}
}

func serviceOf(si *hub.ServiceInfo) apiv1.Service {
	s := si.Service
	return apiv1.Service{
		ID: s.ID, Name: s.Name, Category: string(s.Category), Connector: s.ConnectorKind, BaseURL: s.BaseURL,
		BackupURLs: s.BackupURLs, Active: s.IsActive, HealthStatus: string(s.HealthStatus), Breaker: si.Breaker,
		MaxRetries: s.MaxRetries, Auth: s.AuthenticationConfig, ConnectorOptions: s.ConnectorConfig,
		RateLimits: s.RateLimits, CircuitBreaker: s.CircuitBreakerConfig, Retry: s.RetryConfig,
		HealthCheck: s.HealthCheckConfig, Operation: si.Operation, EscalationService: si.EscalationService,
		CostPerCall: si.CostPerCall, InputContract: contractRef(si.InputContract), Contract: contractRef(si.Contract),
		Mapping: si.Mapping, MappingVersion: si.MappingVersion, DeliveryMapping: si.DeliveryMapping,
		DeliveryVersion: si.DeliveryMappingVersion, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
}

func eventOf(e *store.Event) apiv1.Event {
	return apiv1.Event{
		ID: e.ID, ServiceID: e.ServiceID, ServiceName: e.ServiceName, VentureID: e.VentureID, Operation: e.Operation,
		Status: string(e.Status), Priority: string(e.PriorityLevel), ChairmanOverride: e.ChairmanOverride,
		RetryCount: e.RetryCount, MaxRetries: e.MaxRetries, ResponseCode: e.ResponseCode, ResponseTimeMS: e.ResponseTimeMS,
		Error: e.ErrorDetails, IdempotencyKey: e.IdempotencyKey, Payload: e.PayloadIn, Canonical: e.CanonicalMapping,
		PayloadOut: e.PayloadOut, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, CompletedAt: e.CompletedAt,
		NextAttemptAt: e.NextAttemptAt, ExpiresAt: e.ExpiresAt,
	}
}

func testResultOf(r *hub.TestResult) *apiv1.TestResult {
	out := &apiv1.TestResult{ServiceID: r.ServiceID, OK: r.OK, Steps: []apiv1.TestStep{}, Canonical: r.Canonical, Delivery: r.Delivery}
	for _, s := range r.Steps {
		out.Steps = append(out.Steps, apiv1.TestStep{Name: s.Name, OK: s.OK, Skipped: s.Skipped, DurationMS: ms(s.Duration),
			Error: s.Error, Violations: violationsOrNil(s.Violations)})
	}
	return out
}

func violationsOrNil(vs []hub.Violation) []apiv1.Violation {
	if len(vs) == 0 {
		return nil
	}
	return violations(vs)
}

func processResultOf(r *hub.ProcessingResult) *apiv1.ProcessResult {
	return &apiv1.ProcessResult{
		EventID: r.EventID, ServiceID: r.ServiceID, ServiceName: r.ServiceName, Status: string(r.Status),
		Duplicate: r.Duplicate, RuleName: r.RuleName, RuleVersion: r.RuleVersion, Canonical: r.Canonical,
		ResponseCode: r.ResponseCode, ResponseTimeMS: ms(r.ResponseTime), RetryCount: r.RetryCount,
		NextAttemptAt: timePtr(r.NextAttemptAt), Error: r.Error,
	}
}

func healthOf(s hub.ServiceHealth) apiv1.ServiceHealth {
	out := apiv1.ServiceHealth{
		ServiceID: s.ServiceID, Name: s.Name, Active: s.Active, Status: string(s.Status), Reason: s.Reason,
		Breaker: s.Breaker, ErrorRate: s.ErrorRate, Attempts: s.Attempts, LatencyP50MS: s.LatencyP50MS,
		LatencyP95MS: s.LatencyP95MS, LatencyP99MS: s.LatencyP99MS, QueueDepth: map[string]int64{},
		LastError: s.LastError, LastErrorAt: timePtr(s.LastErrorAt),
		Thresholds: apiv1.Thresholds{
			WindowSeconds: s.Thresholds.WindowSeconds, ErrorRateWarning: s.Thresholds.ErrorRateWarning,
			ErrorRateCritical: s.Thresholds.ErrorRateCritical, LatencyP95WarningMS: s.Thresholds.LatencyP95WarningMS,
			LatencyP95CriticalMS: s.Thresholds.LatencyP95CriticalMS, LatencySLAMS: s.Thresholds.LatencySLAMS,
			MinSamples: s.Thresholds.MinSamples, ProbeIntervalSeconds: s.Thresholds.ProbeIntervalSeconds,
		},
	}
	for k, v := range s.QueueDepth {
		out.QueueDepth[string(k)] = v
	}
	if p := s.LastProbe; p != nil {
		out.LastProbe = &apiv1.Probe{At: p.At, OK: p.OK, LatencyMS: ms(p.Latency), Error: p.Error}
	}
	if q := s.RateLimit; q != nil {
		out.RateLimit = &apiv1.RateLimit{Remaining: q.Remaining, Limit: q.Limit, Reset: timePtr(q.Reset), ObservedAt: q.ObservedAt}
	}
	for _, w := range s.Warnings {
		out.Warnings = append(out.Warnings, apiv1.Warning{Kind: w.Kind, Message: w.Message, Recommendation: w.Recommendation,
			Evidence: w.Evidence, At: w.At})
	}
	return out
}

func healthReportOf(r *hub.HealthReport) *apiv1.HealthReport {
	out := &apiv1.HealthReport{Status: string(r.Status), GeneratedAt: r.GeneratedAt, Services: []apiv1.ServiceHealth{}}
	for _, s := range r.Services {
		out.Services = append(out.Services, healthOf(s))
	}
	return out
}

func perfOf(p hub.ServicePerformance) apiv1.ServicePerformance {
	return apiv1.ServicePerformance{
		ServiceID: p.ServiceID, ServiceName: p.ServiceName, Events: p.Events, Succeeded: p.Succeeded, Failed: p.Failed,
		Retried: p.Retried, SuccessRate: p.SuccessRate, Throughput: p.Throughput, LatencyCount: p.LatencyCount,
		MeanMS: p.MeanMS, P50MS: p.P50MS, P95MS: p.P95MS, P99MS: p.P99MS, StdDevMS: p.StdDevMS, Variation: p.Variation,
		MeetsVariationTarget: p.MeetsVariationTarget, SLAMS: p.SLAMS, WithinSLA: p.WithinSLA, SLAShare: p.SLAShare,
	}
}

func performanceOf(m *hub.PerformanceMetrics) *apiv1.Performance {
	out := &apiv1.Performance{From: m.Range.From, To: m.Range.To, Overall: perfOf(m.Overall), Services: []apiv1.ServicePerformance{}}
	for _, s := range m.Services {
		out.Services = append(out.Services, perfOf(s))
	}
	return out
}

func totalsOf(t hub.AnalyticsTotals) apiv1.AnalyticsTotals {
	return apiv1.AnalyticsTotals{Events: t.Events, Successes: t.Successes, Failures: t.Failures, DataVolumeBytes: t.DataVolumeBytes,
		Interventions: t.ChairmanInterventions, Cost: t.Cost, ErrorRate: t.ErrorRate, AvgResponseTimeMS: t.AvgResponseTimeMS,
		UptimePercent: t.UptimePercent}
}

func analyticsOf(a *hub.Analytics) *apiv1.Analytics {
	out := &apiv1.Analytics{Period: string(a.Period), From: a.Range.From, To: a.Range.To, Rollups: []apiv1.Rollup{},
		Totals: totalsOf(a.Totals), Previous: totalsOf(a.Previous), Trends: []apiv1.AnalyticsTrend{}}
	for _, r := range a.Rollups {
		out.Rollups = append(out.Rollups, apiv1.Rollup{ServiceID: r.ServiceID, ServiceName: r.ServiceName, PeriodStart: r.PeriodStart,
			Events: r.TotalEvents, Successes: r.Successes, Failures: r.Failures, AvgResponseTimeMS: r.AvgResponseTimeMS,
			ErrorRate: r.ErrorRate, UptimePercent: r.UptimePercent, DataVolumeBytes: r.DataVolumeBytes,
			Interventions: r.ChairmanInterventions, Cost: r.Cost})
	}
	for _, t := range a.Trends {
		out.Trends = append(out.Trends, apiv1.AnalyticsTrend{ServiceID: t.ServiceID, ServiceName: t.ServiceName,
			Current: totalsOf(t.Current), Previous: totalsOf(t.Previous), EventsChange: t.EventsChange,
			ErrorRateChange: t.ErrorRateChange, AvgResponseChangeMS: t.AvgResponseChangeMS, Direction: t.Direction})
	}
	return out
}

func recoveryOf(r *hub.RecoveryResult) *apiv1.RecoveryResult {
	out := &apiv1.RecoveryResult{ServiceID: r.ServiceID, OK: r.OK, Steps: []apiv1.RecoveryStep{}}
	for _, s := range r.Steps {
		out.Steps = append(out.Steps, apiv1.RecoveryStep{Action: string(s.Action), OK: s.OK, Count: s.Count, Detail: s.Detail, Error: s.Error})
	}
	return out
}

func auditOf(e *store.AuditEntry) apiv1.AuditEntry {
	return apiv1.AuditEntry{ID: e.ID, Actor: e.Actor, Action: e.Action, EntityType: e.EntityType, EntityID: e.EntityID,
		Before: e.Before, After: e.After, CreatedAt: e.CreatedAt}
}
