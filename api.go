package hub

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ehg/hub/contract"
	"github.com/ehg/hub/resilience"
	"github.com/ehg/hub/store"
	"github.com/ehg/hub/transform"
)

// Services registers, reconfigures and tests external services.
type Services interface {
	// RegisterIntegration validates cfg completely (name, connector kind, URLs, policies,
	// contracts, mappings) and stores a new service. Errors: *ConfigError (ErrInvalidConfig)
	// naming the bad field; ErrInvalidConfig wrapping store.ErrConflict when the name is taken.
	RegisterIntegration(ctx context.Context, cfg IntegrationConfig) (*Registration, error)
	// ConfigureService changes the service (by ID or name) with the same validation; only
	// the fields set in cfg change. A changed mapping becomes a new rule version. Errors:
	// ErrUnknownService, *ConfigError.
	ConfigureService(ctx context.Context, serviceID string, cfg ServiceConfig) (*Configuration, error)
	// TestIntegration runs the connector's Check and a dry run of contracts and mapping on
	// data, reporting each step with its timing and result. It stores nothing and delivers
	// nothing. Errors: ErrUnknownService; step failures are reported in the result.
	TestIntegration(ctx context.Context, serviceID string, data TestData) (*TestResult, error)
}

// Processing accepts events and exposes the contract and transform packages.
type Processing interface {
	// ProcessIntegrationEvent validates, transforms, validates against the canonical
	// contract, stores and delivers (sync, the default) or queues (async) one event. See
	// [EventData] and [ProcessingResult] for what the result and error mean.
	ProcessIntegrationEvent(ctx context.Context, ev EventData) (*ProcessingResult, error)
	// TransformData compiles rules and applies them to data (raw JSON or decoded values).
	// Errors wrap ErrInvalidConfig (rules do not compile) or ErrTransform.
	TransformData(ctx context.Context, data any, rules transform.Rules) (any, error)
	// ValidateDataContract validates data (raw JSON or decoded values) against c. A payload
	// that breaks the contract is not an error: the result lists the violations. Errors
	// wrap ErrInvalidConfig (the schema does not compile) or ErrInvalidInput.
	ValidateDataContract(ctx context.Context, data any, c contract.Contract) (*contract.Result, error)
}

// Monitoring reports health, performance and analytics.
type Monitoring interface {
	// GetIntegrationHealth reports one service (by ID or name), or every service when
	// serviceID is "".
	GetIntegrationHealth(ctx context.Context, serviceID string) (*HealthReport, error)
	// GetPerformanceMetrics reports delivery figures of events created in r.
	GetPerformanceMetrics(ctx context.Context, r TimeRange) (*PerformanceMetrics, error)
	// GetIntegrationAnalytics returns the analytics rollups matching q, rolling up the
	// queried range first (the rollup job is idempotent).
	GetIntegrationAnalytics(ctx context.Context, q AnalyticsQuery) (*Analytics, error)
}

// Recovery retries, escalates and repairs.
type Recovery interface {
	// RetryFailedIntegration requeues a failed or dead event (by ID) with its retry count
	// reset. Errors: ErrNotFound; ErrInvalidTransition for an event in any other state.
	RetryFailedIntegration(ctx context.Context, integrationID string) (*RetryResult, error)
	// EscalateIntegrationIssue records an incident and notifies the escalation target
	// service through the hub itself.
	EscalateIntegrationIssue(ctx context.Context, issue IntegrationIssue) (*EscalationResult, error)
	// TriggerRecoveryAction runs every action of plan in order and reports each.
	TriggerRecoveryAction(ctx context.Context, plan RecoveryPlan) (*RecoveryResult, error)
}

// API is the whole hub: what *Hub implements. Depend on the smallest slice you use.
type API interface {
	Services
	Processing
	Monitoring
	Recovery
	Events
}

// ContractRef names a data contract version and, when Schema is set, defines it: the hub
// stores the schema as that version (or checks it equals the stored one).
type ContractRef struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	Schema  json.RawMessage `json:"schema,omitempty"`
}

// IntegrationConfig describes a service to register.
type IntegrationConfig struct {
	// Name is unique among services. Required.
	Name string
	// Category groups services. Default store.CategoryOther.
	Category store.ServiceCategory
	// Connector is the connector kind in the hub's registry ("http", "slack", ...). Required.
	Connector string
	// BaseURL is the remote's base URL (absolute http or https). Empty: the connector's
	// default.
	BaseURL string
	// BackupURLs are failover endpoints (absolute http or https), used by the failover
	// recovery action.
	BackupURLs []string
	// Auth is the connector's credentials document. It is sealed with Config.SecretKey
	// before it is stored and never appears in logs, errors, results or audit entries.
	Auth json.RawMessage
	// ConnectorOptions is the connector's settings document (channel, repository ...).
	ConnectorOptions json.RawMessage
	// RateLimits, CircuitBreaker and Retry are the resilience columns (see package
	// resilience); empty means defaults.
	RateLimits     json.RawMessage
	CircuitBreaker json.RawMessage
	Retry          json.RawMessage
	// MaxRetries is how many durable retries follow the first attempt. Default:
	// retry_config's max_retries, else Config.MaxRetriesDefault.
	MaxRetries *int
	// HealthCheck is the health_check_config column (thresholds for monitoring).
	HealthCheck json.RawMessage
	// RetryPolicy, BreakerPolicy, RateLimitPolicy and HealthPolicy are the typed forms of
	// Retry, CircuitBreaker, RateLimits and HealthCheck, for Go callers who want the
	// compiler to check them. Each is the whole section: start from
	// resilience.DefaultRetryConfig(), resilience.DefaultCircuitBreakerConfig(),
	// resilience.DefaultRateLimitConfig() (a HealthCheckConfig's zero fields are its
	// defaults). The hub validates them and stores them as the JSON columns. A typed policy
	// given with its JSON document is a *ConfigError unless both say the same.
	RetryPolicy     *resilience.RetryConfig
	BreakerPolicy   *resilience.CircuitBreakerConfig
	RateLimitPolicy *resilience.RateLimitConfig
	HealthPolicy    *HealthCheckConfig
	// InputContract optionally validates events as received.
	InputContract *ContractRef
	// Contract is the canonical contract the mapped payload must satisfy (optional).
	Contract *ContractRef
	// Mapping turns the event payload into the canonical document (transform rules JSON;
	// optional: without it the payload is the canonical document). Stored as a versioned
	// transformation rule named after the service.
	Mapping json.RawMessage
	// DeliveryMapping optionally turns the canonical document into the request body the
	// connector sends (for example a Slack message). Without it the canonical document is
	// sent.
	DeliveryMapping json.RawMessage
	// Operation is the connector operation deliveries use ("" = the connector's default).
	Operation string
	// EscalationService names the service notified when this service's events go dead
	// or an issue is escalated. Default: Config.EscalationService.
	EscalationService string
	// CostPerCall is the cost of one delivery, summed in analytics.
	CostPerCall float64
	// Redirects says which HTTP redirects the service's calls follow. Default
	// RedirectsNone: a 3xx response is the outcome.
	Redirects RedirectPolicy
	// Disabled registers the service inactive: events are accepted and wait.
	Disabled bool
	// Actor names who registers the service, for the audit log. Default "hub".
	Actor string
	// DataRegion pins the service's data to a region ("eu", "us-east-1"): only hubs
	// started WithRegions including it deliver its events. Empty: no region.
	DataRegion string
}

// ServiceConfig changes a service. Nil or empty fields are left unchanged.
type ServiceConfig struct {
	Category store.ServiceCategory
	// Connector switches the service to another connector kind in place (its ID, queued
	// events, history and schedules stay; the events still queued are delivered through
	// the new connector). Set Auth and ConnectorOptions for the new kind with it when they
	// differ. It needs the endpoints permission and counts as an endpoints change for the
	// approval policy: it changes where and how the service's data goes.
	Connector         *string
	BaseURL           *string
	BackupURLs        []string
	Auth              json.RawMessage
	ConnectorOptions  json.RawMessage
	RateLimits        json.RawMessage
	CircuitBreaker    json.RawMessage
	Retry             json.RawMessage
	MaxRetries        *int
	HealthCheck       json.RawMessage
	InputContract     *ContractRef
	Contract          *ContractRef
	Mapping           json.RawMessage
	DeliveryMapping   json.RawMessage
	Operation         *string
	EscalationService *string
	CostPerCall       *float64
	Redirects         *RedirectPolicy
	// Active enables (true) or disables (false) the service.
	Active *bool
	// Actor names who changes the service, for the audit log. Default "hub".
	Actor string
	// DataRegion moves the service to another data region ("" for none); its queued
	// events follow it.
	DataRegion *string
	// RetryPolicy, BreakerPolicy, RateLimitPolicy and HealthPolicy replace Retry,
	// CircuitBreaker, RateLimits and HealthCheck with typed values, as in
	// IntegrationConfig; nil leaves them as they are.
	RetryPolicy     *resilience.RetryConfig
	BreakerPolicy   *resilience.CircuitBreakerConfig
	RateLimitPolicy *resilience.RateLimitConfig
	HealthPolicy    *HealthCheckConfig
}

// Registration is the result of RegisterIntegration.
type Registration struct {
	ServiceID string
	Name      string
	// Service is the stored record with credentials redacted.
	Service *store.Service
	// MappingVersion and DeliveryMappingVersion are the rule versions stored (0: none).
	MappingVersion         int
	DeliveryMappingVersion int
}

// Configuration is the result of ConfigureService.
type Configuration struct {
	ServiceID string
	// Service is the stored record after the change, credentials redacted.
	Service *store.Service
	// Changed lists the columns that changed, e.g. "base_url", "mapping".
	Changed                []string
	MappingVersion         int
	DeliveryMappingVersion int
}

// TestData is the input of TestIntegration.
type TestData struct {
	// Payload is a sample event payload for the dry run of contracts and mapping; empty
	// skips those steps.
	Payload json.RawMessage
	// SkipCheck skips the connector's Check (no network).
	SkipCheck bool
}

// TestResult reports TestIntegration.
type TestResult struct {
	ServiceID string
	// OK is true when every step that ran succeeded.
	OK    bool
	Steps []TestStep
	// Canonical and Delivery are the documents the dry run produced.
	Canonical json.RawMessage
	Delivery  json.RawMessage
}

// TestStep is one step of TestIntegration.
type TestStep struct {
	// Name is "connector_check", "payload" (size, nesting, JSON), "input_contract",
	// "transform", "canonical_contract" or "delivery_mapping".
	Name     string
	OK       bool
	Skipped  bool
	Duration time.Duration
	// Error describes a failure (no secrets); Violations lists contract violations.
	Error      string
	Violations []Violation
}

// DeliveryMode says whether ProcessIntegrationEvent waits for the first delivery attempt.
type DeliveryMode int

const (
	// Sync (the default) waits for the first delivery attempt and reports it.
	Sync DeliveryMode = iota
	// Async returns as soon as the event is stored.
	Async
)

// EventData is one event to process.
type EventData struct {
	// Service names the target service by name or ID. Required.
	Service string
	// Payload is the event as JSON. Required; bounded by Config.MaxPayloadBytes and
	// Config.MaxPayloadDepth.
	Payload json.RawMessage
	// IdempotencyKey dedupes: a second event of the service with the same key returns the
	// first one (Duplicate set) and is not delivered again. Empty: no deduplication (the
	// connector is still sent the event id as its idempotency key). At most 512 bytes.
	IdempotencyKey string
	// VentureID is an optional UUID of the embedding platform's venture.
	VentureID string
	// Operation overrides the service's connector operation for this event.
	Operation string
	// Priority orders the queue. Default store.PriorityNormal.
	Priority store.Priority
	// ChairmanOverride puts the event before every other and lets it bypass the rate-limit
	// wait (never the contract).
	ChairmanOverride bool
	// ExpiresAt, when set, is when the event stops being worth delivering; an event that
	// has not been delivered by then ends expired. A time already past is ErrExpired.
	ExpiresAt *time.Time
	// Mode is Sync (default) or Async.
	Mode DeliveryMode
}

// ProcessingResult reports ProcessIntegrationEvent.
//
// The error of ProcessIntegrationEvent says whether the event was accepted: when the
// result is nil, nothing was stored. When both are non-nil the event was stored and the
// error explains a synchronous delivery that did not succeed (ErrDeliveryFailed,
// ErrCircuitOpen) or a wait that ended (the context's error); the event is delivered
// later as its state says.
type ProcessingResult struct {
	EventID     string
	ServiceID   string
	ServiceName string
	// Status is the event's state when the call returned.
	Status store.EventStatus
	// Duplicate is true when the idempotency key matched an earlier event; the result
	// describes that event.
	Duplicate bool
	// RuleName and RuleVersion identify the mapping applied (empty: none).
	RuleName    string
	RuleVersion int
	// Canonical is the validated canonical document. It is read-only: it may be the
	// stored event's own bytes (the in-memory store keeps the hub's documents without
	// copying them).
	Canonical json.RawMessage
	// ResponseCode and ResponseTime describe the delivery attempt (sync mode).
	ResponseCode int
	ResponseTime time.Duration
	// RetryCount is the event's retry_count; NextAttemptAt is when a retrying event is due.
	RetryCount    int
	NextAttemptAt time.Time
	// Error describes a failed attempt (no secrets).
	Error string
}

// TimeRange bounds a query to [From, To). Zero To means now; zero From means To minus
// one hour.
type TimeRange struct {
	From, To time.Time
}

// HealthReport is the health of one or every service.
type HealthReport struct {
	// Status is the worst status among Services (unknown when there are none).
	Status      store.HealthStatus
	GeneratedAt time.Time
	Services    []ServiceHealth
}

// ServiceHealth is one service's health. Window figures come from the hub's live monitor:
// this hub's delivery outcomes within the service's health_check_config window
// (Thresholds.WindowSeconds).
type ServiceHealth struct {
	ServiceID string
	Name      string
	Active    bool
	Status    store.HealthStatus
	// Reason says why Status, e.g. "error rate 30.0% at or above critical 25.0%",
	// "circuit breaker open", "health probe failed: ...".
	Reason string
	// Breaker is "closed", "open" or "half-open".
	Breaker string
	// ErrorRate is the share of failed attempts in the window; when the window holds fewer
	// than Thresholds.MinSamples, the share of failed events among the store's terminal
	// outcomes of the last HealthWindow (other hubs' deliveries) when there are enough.
	ErrorRate float64
	// Attempts is how many outcomes ErrorRate is over.
	Attempts int
	// Latency of successful attempts in the window (or of succeeded events in the store's
	// last HealthWindow, as for ErrorRate), in milliseconds.
	LatencyP50MS, LatencyP95MS, LatencyP99MS float64
	// QueueDepth counts the service's events by state (all time).
	QueueDepth map[store.EventStatus]int64
	// LastError is the last failed attempt seen by this hub (no secrets).
	LastError   string
	LastErrorAt time.Time
	// LastProbe is the last probe through the connector's Check (nil before the first, or
	// when probes are disabled).
	LastProbe *ProbeResult
	// RateLimit is the remote quota last reported in a response (nil when none was).
	RateLimit *RateLimitHeadroom
	// Warnings are the early warnings (predictions), each with its evidence and a
	// recommendation: latency or error-rate anomalies, an error rate climbing toward the
	// critical threshold, quota exhaustion forecasts, breaker flapping, failing probes.
	Warnings []HealthWarning
	// Thresholds are the service's health_check_config after defaults.
	Thresholds HealthThresholds
}

// PerformanceMetrics are delivery figures over a time range.
type PerformanceMetrics struct {
	Range    TimeRange
	Overall  ServicePerformance
	Services []ServicePerformance
}

// ServicePerformance are one service's (or, in Overall, every service's) figures.
// Percentiles are per service; Overall's are the maximum over services.
type ServicePerformance struct {
	ServiceID   string
	ServiceName string
	Events      int64
	Succeeded   int64
	Failed      int64
	Retried     int64
	// SuccessRate is Succeeded / (Succeeded + Failed), 1 when neither.
	SuccessRate float64
	// Throughput is events per second over the range.
	Throughput float64
	// LatencyCount is how many succeeded events the latency figures are over.
	LatencyCount int64
	MeanMS       float64
	P50MS        float64
	P95MS        float64
	P99MS        float64
	// StdDevMS is the population standard deviation of response times.
	StdDevMS float64
	// Variation is the coefficient of variation, StdDevMS / MeanMS (0 when the mean is 0).
	Variation float64
	// MeetsVariationTarget reports Variation <= VariationTarget (the seed's "< 2% variance
	// under normal load"), false when there is no latency.
	MeetsVariationTarget bool
	// SLAMS is the service's latency SLA (health_check_config latency_sla_ms; 0 in Overall).
	SLAMS float64
	// WithinSLA counts succeeded events that took at most SLAMS; SLAShare is WithinSLA /
	// LatencyCount (1 when there is no latency).
	WithinSLA int64
	SLAShare  float64
}

// AnalyticsQuery selects analytics rollups.
type AnalyticsQuery struct {
	// Service narrows to one service (name or ID); "" is every service.
	Service string
	// Period is store.PeriodHour (default) or store.PeriodDay.
	Period store.Period
	// Range bounds period starts; defaults as TimeRange (To = now, From = To - 24 periods).
	Range TimeRange
}

// Analytics is the answer to GetIntegrationAnalytics.
type Analytics struct {
	Period store.Period
	// Range is the queried range aligned to period boundaries.
	Range   TimeRange
	Rollups []*store.AnalyticsRollup
	// Totals sums the rollups.
	Totals AnalyticsTotals
	// Previous sums the rollups of the range of the same length just before Range.
	Previous AnalyticsTotals
	// Trends compares each service's totals over Range with the previous range, ordered by
	// service name.
	Trends []AnalyticsTrend
}

// AnalyticsTotals sum rollups.
type AnalyticsTotals struct {
	Events, Successes, Failures int64
	DataVolumeBytes             int64
	ChairmanInterventions       int64
	Cost                        float64
	// ErrorRate is Failures / Events (0 when none).
	ErrorRate float64
	// AvgResponseTimeMS averages the rollups' response time weighted by their successes.
	AvgResponseTimeMS float64
	// UptimePercent is the mean uptime of the rollups that know theirs; nil when none does
	// (nothing probed the services and no delivery reached an outcome).
	UptimePercent *float64
}

// AnalyticsTrend compares one service's figures over the queried range with the range of
// the same length before it.
type AnalyticsTrend struct {
	ServiceID, ServiceName string
	Current, Previous      AnalyticsTotals
	// EventsChange is the relative change of the event count ((current - previous) /
	// previous); 0 when Direction is TrendNew.
	EventsChange float64
	// ErrorRateChange and AvgResponseChangeMS are absolute differences, current - previous.
	ErrorRateChange     float64
	AvgResponseChangeMS float64
	// Direction is TrendWorsening (error rate up one point or more, or, with the error rate
	// steady, average response time up 10% or more), TrendImproving (the reverse),
	// TrendSteady, or TrendNew when the previous range had no events.
	Direction string
}

// RetryResult reports RetryFailedIntegration.
type RetryResult struct {
	EventID        string
	PreviousStatus store.EventStatus
	Status         store.EventStatus
}

// Severity of an escalated issue.
type Severity string

// Severities.
const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// IntegrationIssue is a problem to escalate.
type IntegrationIssue struct {
	// Service names the affected service (name or ID). Required.
	Service string
	// EventID optionally names the event concerned.
	EventID string
	// Severity defaults to SeverityMedium.
	Severity Severity
	// Summary says what is wrong. Required.
	Summary string
	// Details holds extra facts (no secrets).
	Details map[string]any
	// Target names the service to notify; default the service's EscalationService, then
	// Config.EscalationService. Empty everywhere: the incident is recorded only.
	Target string
	// Actor names who escalates, for the audit log. Default "hub".
	Actor string
}

// EscalationResult reports EscalateIntegrationIssue.
type EscalationResult struct {
	// IncidentID identifies the audit entry that records the incident.
	IncidentID string
	RecordedAt time.Time
	// Target is the notified service ("" when none was configured).
	Target string
	// NotificationEventID is the event queued to the target.
	NotificationEventID string
	Notified            bool
}

// RecoveryAction is one step of a RecoveryPlan.
type RecoveryAction string

// Recovery actions.
const (
	// ActionRetryFailed requeues every failed and dead event of the service created since
	// RecoveryPlan.Since (all when zero).
	ActionRetryFailed RecoveryAction = "retry_failed"
	// ActionResetBreaker closes the service's breaker.
	ActionResetBreaker RecoveryAction = "reset_breaker"
	// ActionOpenBreaker forces the breaker open: the service's events wait.
	ActionOpenBreaker RecoveryAction = "open_breaker"
	// ActionDisable deactivates the service (events are accepted and wait).
	ActionDisable RecoveryAction = "disable"
	// ActionEnable reactivates the service.
	ActionEnable RecoveryAction = "enable"
	// ActionFailover makes RecoveryPlan.BackupURL (default: the first backup URL) the base
	// URL, keeping the old one as a backup.
	ActionFailover RecoveryAction = "failover"
)

// RecoveryPlan is a list of actions on one service.
type RecoveryPlan struct {
	// Service names the service (name or ID). Required.
	Service string
	Actions []RecoveryAction
	// Since bounds ActionRetryFailed.
	Since time.Time
	// BackupURL selects the failover endpoint; it must be one of the service's backups.
	BackupURL string
	// Actor names who runs the plan, for the audit log. Default "hub".
	Actor string
}

// RecoveryResult reports TriggerRecoveryAction.
type RecoveryResult struct {
	ServiceID string
	// OK is true when every step succeeded.
	OK    bool
	Steps []RecoveryStep
}

// RecoveryStep is the outcome of one action.
type RecoveryStep struct {
	Action RecoveryAction
	OK     bool
	// Count is how many events a retry requeued.
	Count  int
	Detail string
	Error  string
}
