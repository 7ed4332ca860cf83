package apiv1

import (
	"encoding/json"
	"time"
)

// Principal is the authenticated caller.
type Principal struct {
	ID    string   `json:"id"`
	Roles []string `json:"roles"`
}

// Me answers GET /me: who the caller is.
type Me struct {
	Principal Principal `json:"principal"`
}

// Violation is one way a document breaks its contract, at a JSON Pointer path.
type Violation struct {
	Path       string `json:"path" doc:"JSON Pointer into the document; empty is the root"`
	Keyword    string `json:"keyword,omitempty"`
	SchemaPath string `json:"schema_path,omitempty"`
	Message    string `json:"message"`
}

// ContractRef names a contract version and, with Schema, defines it.
type ContractRef struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	Schema  json.RawMessage `json:"schema,omitempty"`
}

// Service is a registered service.
type Service struct {
	ID                string          `json:"id"`
	Name              string          `json:"name"`
	Category          string          `json:"category"`
	Connector         string          `json:"connector"`
	BaseURL           string          `json:"base_url,omitempty"`
	BackupURLs        []string        `json:"backup_urls,omitempty"`
	Active            bool            `json:"active"`
	HealthStatus      string          `json:"health_status" enum:"unknown,healthy,degraded,unhealthy"`
	Breaker           string          `json:"breaker" enum:"closed,open,half-open"`
	MaxRetries        int             `json:"max_retries"`
	Auth              json.RawMessage `json:"auth,omitempty" doc:"the credentials' shape, every value redacted"`
	ConnectorOptions  json.RawMessage `json:"connector_options,omitempty"`
	RateLimits        json.RawMessage `json:"rate_limits,omitempty"`
	CircuitBreaker    json.RawMessage `json:"circuit_breaker,omitempty"`
	Retry             json.RawMessage `json:"retry,omitempty"`
	HealthCheck       json.RawMessage `json:"health_check,omitempty"`
	Operation         string          `json:"operation,omitempty"`
	EscalationService string          `json:"escalation_service,omitempty"`
	CostPerCall       float64         `json:"cost_per_call"`
	InputContract     *ContractRef    `json:"input_contract,omitempty"`
	Contract          *ContractRef    `json:"contract,omitempty"`
	Mapping           json.RawMessage `json:"mapping,omitempty"`
	MappingVersion    int             `json:"mapping_version,omitempty"`
	DeliveryMapping   json.RawMessage `json:"delivery_mapping,omitempty"`
	DeliveryVersion   int             `json:"delivery_mapping_version,omitempty"`
	CreatedAt         time.Time       `json:"created_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
}

// ServiceList answers GET /services.
type ServiceList struct {
	Services []Service `json:"services"`
}

// RegisterRequest is the body of POST /services (see hub.IntegrationConfig).
type RegisterRequest struct {
	Name              string          `json:"name"`
	Category          string          `json:"category,omitempty"`
	Connector         string          `json:"connector"`
	BaseURL           string          `json:"base_url,omitempty"`
	BackupURLs        []string        `json:"backup_urls,omitempty"`
	Auth              json.RawMessage `json:"auth,omitempty"`
	ConnectorOptions  json.RawMessage `json:"connector_options,omitempty"`
	RateLimits        json.RawMessage `json:"rate_limits,omitempty"`
	CircuitBreaker    json.RawMessage `json:"circuit_breaker,omitempty"`
	Retry             json.RawMessage `json:"retry,omitempty"`
	MaxRetries        *int            `json:"max_retries,omitempty"`
	HealthCheck       json.RawMessage `json:"health_check,omitempty"`
	InputContract     *ContractRef    `json:"input_contract,omitempty"`
	Contract          *ContractRef    `json:"contract,omitempty"`
	Mapping           json.RawMessage `json:"mapping,omitempty"`
	DeliveryMapping   json.RawMessage `json:"delivery_mapping,omitempty"`
	Operation         string          `json:"operation,omitempty"`
	EscalationService string          `json:"escalation_service,omitempty"`
	CostPerCall       float64         `json:"cost_per_call,omitempty"`
	Disabled          bool            `json:"disabled,omitempty"`
}

// ConfigureRequest is the body of PATCH /services/{service}: members left out are
// unchanged (see hub.ServiceConfig).
type ConfigureRequest struct {
	Category          string          `json:"category,omitempty"`
	BaseURL           *string         `json:"base_url,omitempty"`
	BackupURLs        []string        `json:"backup_urls,omitempty"`
	Auth              json.RawMessage `json:"auth,omitempty"`
	ConnectorOptions  json.RawMessage `json:"connector_options,omitempty"`
	RateLimits        json.RawMessage `json:"rate_limits,omitempty"`
	CircuitBreaker    json.RawMessage `json:"circuit_breaker,omitempty"`
	Retry             json.RawMessage `json:"retry,omitempty"`
	MaxRetries        *int            `json:"max_retries,omitempty"`
	HealthCheck       json.RawMessage `json:"health_check,omitempty"`
	InputContract     *ContractRef    `json:"input_contract,omitempty"`
	Contract          *ContractRef    `json:"contract,omitempty"`
	Mapping           json.RawMessage `json:"mapping,omitempty"`
	DeliveryMapping   json.RawMessage `json:"delivery_mapping,omitempty"`
	Operation         *string         `json:"operation,omitempty"`
	EscalationService *string         `json:"escalation_service,omitempty"`
	CostPerCall       *float64        `json:"cost_per_call,omitempty"`
	Active            *bool           `json:"active,omitempty"`
}

// ServiceChange answers POST /services (201) and PATCH /services/{service}.
type ServiceChange struct {
	Service Service `json:"service"`
	// Changed lists the columns that changed (PATCH).
	Changed                []string `json:"changed,omitempty"`
	MappingVersion         int      `json:"mapping_version,omitempty"`
	DeliveryMappingVersion int      `json:"delivery_mapping_version,omitempty"`
}

// TestRequest is the body of POST /services/{service}/test.
type TestRequest struct {
	Payload   json.RawMessage `json:"payload,omitempty"`
	SkipCheck bool            `json:"skip_check,omitempty"`
}

// TestResult answers POST /services/{service}/test.
type TestResult struct {
	ServiceID string          `json:"service_id"`
	OK        bool            `json:"ok"`
	Steps     []TestStep      `json:"steps"`
	Canonical json.RawMessage `json:"canonical,omitempty"`
	Delivery  json.RawMessage `json:"delivery,omitempty"`
}

// TestStep is one step of a test.
type TestStep struct {
	Name       string      `json:"name"`
	OK         bool        `json:"ok"`
	Skipped    bool        `json:"skipped,omitempty"`
	DurationMS float64     `json:"duration_ms"`
	Error      string      `json:"error,omitempty"`
	Violations []Violation `json:"violations,omitempty"`
}

// Event is a stored event.
type Event struct {
	ID               string          `json:"id"`
	ServiceID        string          `json:"service_id"`
	ServiceName      string          `json:"service_name"`
	VentureID        string          `json:"venture_id,omitempty"`
	Operation        string          `json:"operation,omitempty"`
	Status           string          `json:"status" enum:"pending,processing,succeeded,retrying,failed,dead,expired,cancelled"`
	Priority         string          `json:"priority"`
	ChairmanOverride bool            `json:"chairman_override,omitempty"`
	RetryCount       int             `json:"retry_count"`
	MaxRetries       int             `json:"max_retries"`
	ResponseCode     int             `json:"response_code,omitempty"`
	ResponseTimeMS   int64           `json:"response_time_ms,omitempty"`
	Error            json.RawMessage `json:"error,omitempty" doc:"error_details of the last failed attempt"`
	IdempotencyKey   string          `json:"idempotency_key,omitempty"`
	Payload          json.RawMessage `json:"payload,omitempty"`
	Canonical        json.RawMessage `json:"canonical,omitempty"`
	PayloadOut       json.RawMessage `json:"payload_out,omitempty"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
	CompletedAt      *time.Time      `json:"completed_at,omitempty"`
	NextAttemptAt    time.Time       `json:"next_attempt_at"`
	ExpiresAt        *time.Time      `json:"expires_at,omitempty"`
}

// EventPage answers GET /events.
type EventPage struct {
	Events []Event `json:"events"`
	// NextCursor continues the listing (pass it as cursor); absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ProcessRequest is the body of POST /events.
type ProcessRequest struct {
	Service          string          `json:"service"`
	Payload          json.RawMessage `json:"payload"`
	IdempotencyKey   string          `json:"idempotency_key,omitempty"`
	VentureID        string          `json:"venture_id,omitempty"`
	Operation        string          `json:"operation,omitempty"`
	Priority         string          `json:"priority,omitempty" enum:"low,normal,high,critical"`
	ChairmanOverride bool            `json:"chairman_override,omitempty"`
	ExpiresAt        *time.Time      `json:"expires_at,omitempty"`
	// Async returns once the event is stored instead of waiting for the first attempt.
	Async bool `json:"async,omitempty"`
}

// ProcessResult answers POST /events.
type ProcessResult struct {
	EventID        string          `json:"event_id"`
	ServiceID      string          `json:"service_id"`
	ServiceName    string          `json:"service_name"`
	Status         string          `json:"status"`
	Duplicate      bool            `json:"duplicate,omitempty"`
	RuleName       string          `json:"rule_name,omitempty"`
	RuleVersion    int             `json:"rule_version,omitempty"`
	Canonical      json.RawMessage `json:"canonical,omitempty"`
	ResponseCode   int             `json:"response_code,omitempty"`
	ResponseTimeMS float64         `json:"response_time_ms,omitempty"`
	RetryCount     int             `json:"retry_count"`
	NextAttemptAt  *time.Time      `json:"next_attempt_at,omitempty"`
	Error          string          `json:"error,omitempty"`
}

// RetryResult answers POST /events/{id}/retry.
type RetryResult struct {
	EventID        string `json:"event_id"`
	PreviousStatus string `json:"previous_status"`
	Status         string `json:"status"`
}

// RedriveRequest is the body of POST /events/redrive: either IDs, or a filter (service,
// status, since) selecting the failed or dead events to requeue.
type RedriveRequest struct {
	IDs     []string  `json:"ids,omitempty"`
	Service string    `json:"service,omitempty"`
	Status  string    `json:"status,omitempty" enum:"dead,failed" doc:"default dead (dead letters)"`
	Since   time.Time `json:"since,omitzero"`
}

// RedriveResult answers POST /events/redrive.
type RedriveResult struct {
	Requeued []string      `json:"requeued"`
	Skipped  []RedriveSkip `json:"skipped,omitempty"`
}

// RedriveSkip is an event a redrive did not requeue, with why.
type RedriveSkip struct {
	EventID string `json:"event_id"`
	Reason  string `json:"reason"`
}

// HealthReport answers GET /health.
type HealthReport struct {
	Status      string          `json:"status" enum:"unknown,healthy,degraded,unhealthy"`
	GeneratedAt time.Time       `json:"generated_at"`
	Services    []ServiceHealth `json:"services"`
}

// ServiceHealth is one service's health.
type ServiceHealth struct {
	ServiceID    string           `json:"service_id"`
	Name         string           `json:"name"`
	Active       bool             `json:"active"`
	Status       string           `json:"status" enum:"unknown,healthy,degraded,unhealthy"`
	Reason       string           `json:"reason,omitempty"`
	Breaker      string           `json:"breaker" enum:"closed,open,half-open"`
	ErrorRate    float64          `json:"error_rate"`
	Attempts     int              `json:"attempts"`
	LatencyP50MS float64          `json:"latency_p50_ms"`
	LatencyP95MS float64          `json:"latency_p95_ms"`
	LatencyP99MS float64          `json:"latency_p99_ms"`
	QueueDepth   map[string]int64 `json:"queue_depth"`
	LastError    string           `json:"last_error,omitempty"`
	LastErrorAt  *time.Time       `json:"last_error_at,omitempty"`
	LastProbe    *Probe           `json:"last_probe,omitempty"`
	RateLimit    *RateLimit       `json:"rate_limit,omitempty"`
	Warnings     []Warning        `json:"warnings,omitempty"`
	Thresholds   Thresholds       `json:"thresholds"`
}

// Probe is the last health probe.
type Probe struct {
	At        time.Time `json:"at"`
	OK        bool      `json:"ok"`
	LatencyMS float64   `json:"latency_ms"`
	Error     string    `json:"error,omitempty"`
}

// RateLimit is the remote quota headroom.
type RateLimit struct {
	Remaining  int        `json:"remaining"`
	Limit      int        `json:"limit"`
	Reset      *time.Time `json:"reset,omitempty"`
	ObservedAt time.Time  `json:"observed_at"`
}

// Warning is an early warning with its evidence.
type Warning struct {
	Kind           string             `json:"kind"`
	Message        string             `json:"message"`
	Recommendation string             `json:"recommendation,omitempty"`
	Evidence       map[string]float64 `json:"evidence,omitempty"`
	At             time.Time          `json:"at"`
}

// Thresholds are a service's health thresholds.
type Thresholds struct {
	WindowSeconds        int     `json:"window_seconds"`
	ErrorRateWarning     float64 `json:"error_rate_warning"`
	ErrorRateCritical    float64 `json:"error_rate_critical"`
	LatencyP95WarningMS  float64 `json:"latency_p95_warning_ms"`
	LatencyP95CriticalMS float64 `json:"latency_p95_critical_ms"`
	LatencySLAMS         float64 `json:"latency_sla_ms"`
	MinSamples           int     `json:"min_samples"`
	ProbeIntervalSeconds int     `json:"probe_interval_seconds"`
}

// Performance answers GET /metrics.
type Performance struct {
	From     time.Time            `json:"from"`
	To       time.Time            `json:"to"`
	Overall  ServicePerformance   `json:"overall"`
	Services []ServicePerformance `json:"services"`
}

// ServicePerformance are one service's delivery figures over the range.
type ServicePerformance struct {
	ServiceID            string  `json:"service_id,omitempty"`
	ServiceName          string  `json:"service_name"`
	Events               int64   `json:"events"`
	Succeeded            int64   `json:"succeeded"`
	Failed               int64   `json:"failed"`
	Retried              int64   `json:"retried"`
	SuccessRate          float64 `json:"success_rate"`
	Throughput           float64 `json:"throughput" doc:"events per second"`
	LatencyCount         int64   `json:"latency_count"`
	MeanMS               float64 `json:"mean_ms"`
	P50MS                float64 `json:"p50_ms"`
	P95MS                float64 `json:"p95_ms"`
	P99MS                float64 `json:"p99_ms"`
	StdDevMS             float64 `json:"stddev_ms"`
	Variation            float64 `json:"variation"`
	MeetsVariationTarget bool    `json:"meets_variation_target"`
	SLAMS                float64 `json:"sla_ms"`
	WithinSLA            int64   `json:"within_sla"`
	SLAShare             float64 `json:"sla_share"`
}

// Analytics answers GET /analytics.
type Analytics struct {
	Period   string           `json:"period" enum:"hour,day"`
	From     time.Time        `json:"from"`
	To       time.Time        `json:"to"`
	Rollups  []Rollup         `json:"rollups"`
	Totals   AnalyticsTotals  `json:"totals"`
	Previous AnalyticsTotals  `json:"previous"`
	Trends   []AnalyticsTrend `json:"trends"`
}

// Rollup is one service's figures over one period.
type Rollup struct {
	ServiceID         string    `json:"service_id"`
	ServiceName       string    `json:"service_name"`
	PeriodStart       time.Time `json:"period_start"`
	Events            int64     `json:"events"`
	Successes         int64     `json:"successes"`
	Failures          int64     `json:"failures"`
	AvgResponseTimeMS float64   `json:"avg_response_time_ms"`
	ErrorRate         float64   `json:"error_rate"`
	UptimePercent     *float64  `json:"uptime_percent,omitempty"` // absent when unknown
	DataVolumeBytes   int64     `json:"data_volume_bytes"`
	Interventions     int64     `json:"chairman_interventions"`
	Cost              float64   `json:"cost"`
}

// AnalyticsTotals sum rollups.
type AnalyticsTotals struct {
	Events            int64    `json:"events"`
	Successes         int64    `json:"successes"`
	Failures          int64    `json:"failures"`
	DataVolumeBytes   int64    `json:"data_volume_bytes"`
	Interventions     int64    `json:"chairman_interventions"`
	Cost              float64  `json:"cost"`
	ErrorRate         float64  `json:"error_rate"`
	AvgResponseTimeMS float64  `json:"avg_response_time_ms"`
	UptimePercent     *float64 `json:"uptime_percent,omitempty"` // absent when unknown
}

// AnalyticsTrend compares a service's range with the one before.
type AnalyticsTrend struct {
	ServiceID           string          `json:"service_id"`
	ServiceName         string          `json:"service_name"`
	Current             AnalyticsTotals `json:"current"`
	Previous            AnalyticsTotals `json:"previous"`
	EventsChange        float64         `json:"events_change"`
	ErrorRateChange     float64         `json:"error_rate_change"`
	AvgResponseChangeMS float64         `json:"avg_response_change_ms"`
	Direction           string          `json:"direction" enum:"worsening,improving,steady,new"`
}

// Overview answers GET /overview: every service with its current figures and small series
// over time, for the console's first page.
type Overview struct {
	Status        string            `json:"status" enum:"unknown,healthy,degraded,unhealthy"`
	GeneratedAt   time.Time         `json:"generated_at"`
	BucketSeconds int               `json:"bucket_seconds"`
	Services      []ServiceOverview `json:"services"`
}

// ServiceOverview is one service's line of the overview. Series hold one point per bucket,
// oldest first, over the last hour.
type ServiceOverview struct {
	ServiceID       string    `json:"service_id"`
	Name            string    `json:"name"`
	Connector       string    `json:"connector"`
	Active          bool      `json:"active"`
	Status          string    `json:"status" enum:"unknown,healthy,degraded,unhealthy"`
	Reason          string    `json:"reason,omitempty"`
	Breaker         string    `json:"breaker" enum:"closed,open,half-open"`
	Throughput      float64   `json:"throughput" doc:"events per minute over the last hour"`
	ErrorRate       float64   `json:"error_rate"`
	P95MS           float64   `json:"p95_ms"`
	Cost            float64   `json:"cost" doc:"cost of the last 24 hours"`
	DeadLetters     int64     `json:"dead_letters"`
	Warnings        int       `json:"warnings"`
	SeriesEvents    []float64 `json:"series_events"`
	SeriesErrorRate []float64 `json:"series_error_rate"`
	SeriesP95MS     []float64 `json:"series_p95_ms"`
	SeriesCost      []float64 `json:"series_cost"`
}

// EscalationRequest is the body of POST /escalations.
type EscalationRequest struct {
	Service  string         `json:"service"`
	EventID  string         `json:"event_id,omitempty"`
	Severity string         `json:"severity,omitempty" enum:"low,medium,high,critical"`
	Summary  string         `json:"summary"`
	Details  map[string]any `json:"details,omitempty"`
	Target   string         `json:"target,omitempty"`
}

// EscalationResult answers POST /escalations.
type EscalationResult struct {
	IncidentID          string    `json:"incident_id"`
	RecordedAt          time.Time `json:"recorded_at"`
	Target              string    `json:"target,omitempty"`
	NotificationEventID string    `json:"notification_event_id,omitempty"`
	Notified            bool      `json:"notified"`
}

// RecoveryRequest is the body of POST /recovery.
type RecoveryRequest struct {
	Service   string    `json:"service"`
	Actions   []string  `json:"actions" enum:"retry_failed,reset_breaker,open_breaker,disable,enable,failover"`
	Since     time.Time `json:"since,omitzero"`
	BackupURL string    `json:"backup_url,omitempty"`
}

// RecoveryResult answers POST /recovery.
type RecoveryResult struct {
	ServiceID string         `json:"service_id"`
	OK        bool           `json:"ok"`
	Steps     []RecoveryStep `json:"steps"`
}

// RecoveryStep is the outcome of one action.
type RecoveryStep struct {
	Action string `json:"action"`
	OK     bool   `json:"ok"`
	Count  int    `json:"count,omitempty"`
	Detail string `json:"detail,omitempty"`
	Error  string `json:"error,omitempty"`
}

// AuditEntry is one entry of the audit log.
type AuditEntry struct {
	ID         string          `json:"id"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	EntityType string          `json:"entity_type"`
	EntityID   string          `json:"entity_id,omitempty"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
}

// AuditPage answers GET /audit.
type AuditPage struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// CompileRequest is the body of POST /mappings/compile.
type CompileRequest struct {
	Mapping json.RawMessage `json:"mapping"`
}

// CompileResult answers POST /mappings/compile.
type CompileResult struct {
	OK      bool           `json:"ok"`
	Targets []string       `json:"targets,omitempty"`
	Errors  []MappingError `json:"errors,omitempty"`
}

// MappingError is a problem with one field of a mapping.
type MappingError struct {
	Target  string `json:"target,omitempty"`
	Expr    string `json:"expr,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

// PreviewRequest is the body of POST /mappings/preview: the mapping applied to Sample, the
// output checked against Contract, or against the canonical contract of Service.
type PreviewRequest struct {
	Mapping  json.RawMessage `json:"mapping"`
	Sample   json.RawMessage `json:"sample"`
	Contract *ContractRef    `json:"contract,omitempty"`
	Service  string          `json:"service,omitempty"`
}

// PreviewResult answers POST /mappings/preview.
type PreviewResult struct {
	OK         bool            `json:"ok"`
	Output     json.RawMessage `json:"output,omitempty"`
	Errors     []MappingError  `json:"errors,omitempty"`
	Violations []Violation     `json:"violations,omitempty"`
	Contract   *ContractRef    `json:"contract,omitempty" doc:"the contract checked (without schema)"`
}

// SuggestRequest is the body of POST /mappings/suggest.
type SuggestRequest struct {
	Sample  json.RawMessage `json:"sample"`
	Schema  json.RawMessage `json:"schema,omitempty"`
	Service string          `json:"service,omitempty" doc:"use the service's canonical contract as the target"`
}

// SuggestResult answers POST /mappings/suggest.
type SuggestResult struct {
	Mapping     json.RawMessage `json:"mapping" doc:"the suggested mapping, target path to expression"`
	Suggestions []Suggestion    `json:"suggestions"`
}

// Suggestion is the suggestion for one target path.
type Suggestion struct {
	Target     string  `json:"target"`
	Expr       string  `json:"expr"`
	Confidence float64 `json:"confidence"`
	Reason     string  `json:"reason,omitempty"`
}

// ValidateRequest is the body of POST /contracts/validate.
type ValidateRequest struct {
	Document json.RawMessage `json:"document"`
	Contract *ContractRef    `json:"contract,omitempty"`
	Service  string          `json:"service,omitempty"`
}

// ValidateResult answers POST /contracts/validate.
type ValidateResult struct {
	Contract   string      `json:"contract"`
	Version    string      `json:"version"`
	Valid      bool        `json:"valid"`
	Violations []Violation `json:"violations,omitempty"`
}

// CompatibilityRequest is the body of POST /contracts/compatibility.
type CompatibilityRequest struct {
	OldSchema json.RawMessage `json:"old_schema"`
	NewSchema json.RawMessage `json:"new_schema"`
}

// Compatibility answers POST /contracts/compatibility.
type Compatibility struct {
	Backward bool           `json:"backward"`
	Changes  []SchemaChange `json:"changes,omitempty"`
}

// SchemaChange is one difference between two schema versions.
type SchemaChange struct {
	Path     string `json:"path"`
	Kind     string `json:"kind"`
	Breaking bool   `json:"breaking"`
	Message  string `json:"message"`
}

// StreamEvent documents the data of the Server-Sent Events of GET /stream. The SSE event
// name is Type; the SSE id is the resume position for Last-Event-ID.
type StreamEvent struct {
	Type        string    `json:"type" enum:"health,breaker,event,approval,reset"`
	At          time.Time `json:"at"`
	ServiceID   string    `json:"service_id,omitempty"`
	ServiceName string    `json:"service_name,omitempty"`
	// health: From and To are statuses; breaker: states.
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Reason string `json:"reason,omitempty"`
	// event outcome
	EventID      string  `json:"event_id,omitempty"`
	Status       string  `json:"status,omitempty"`
	RetryCount   int     `json:"retry_count,omitempty"`
	ResponseCode int     `json:"response_code,omitempty"`
	LatencyMS    float64 `json:"latency_ms,omitempty"`
	Error        string  `json:"error,omitempty"`
	// approval requests
	ApprovalID string `json:"approval_id,omitempty"`
	Action     string `json:"action,omitempty"`
	Actor      string `json:"actor,omitempty"`
}

// CommandRequest is the body of POST /commands/plan.
type CommandRequest struct {
	Text string `json:"text"`
}

// CommandPlan is what a sentence would do (see hub.CommandPlan). Send it back unchanged to
// POST /commands/run to run it.
type CommandPlan struct {
	Text             string     `json:"text"`
	Understood       bool       `json:"understood"`
	Reason           string     `json:"reason,omitempty"`
	Suggestions      []string   `json:"suggestions,omitempty"`
	Intent           string     `json:"intent,omitempty"`
	Summary          string     `json:"summary,omitempty"`
	ReadOnly         bool       `json:"read_only"`
	Service          string     `json:"service,omitempty"`
	ServiceID        string     `json:"service_id,omitempty"`
	ServiceUpdatedAt *time.Time `json:"service_updated_at,omitempty"`
	Venture          string     `json:"venture,omitempty"`
	VentureID        string     `json:"venture_id,omitempty"`
	Statuses         []string   `json:"statuses,omitempty"`
	Since            *time.Time `json:"since,omitempty"`
	ApprovalID       string     `json:"approval_id,omitempty"`
	Severity         string     `json:"severity,omitempty"`
	Issue            string     `json:"issue,omitempty"`
	EventIDs         []string   `json:"event_ids,omitempty"`
	Truncated        bool       `json:"truncated,omitempty"`
	Steps            []string   `json:"steps,omitempty"`
	MadeAt           time.Time  `json:"made_at"`
}

// RunRequest is the body of POST /commands/run.
type RunRequest struct {
	Plan CommandPlan `json:"plan"`
}

// CommandResult answers POST /commands/run.
type CommandResult struct {
	Intent     string            `json:"intent"`
	OK         bool              `json:"ok"`
	Message    string            `json:"message"`
	Health     *HealthReport     `json:"health,omitempty"`
	Events     []Event           `json:"events,omitempty"`
	Retried    []string          `json:"retried,omitempty"`
	Skipped    []RedriveSkip     `json:"skipped,omitempty"`
	Recovery   *RecoveryResult   `json:"recovery,omitempty"`
	Test       *TestResult       `json:"test,omitempty"`
	Escalation *EscalationResult `json:"escalation,omitempty"`
	Metrics    *Performance      `json:"metrics,omitempty"`
	Analytics  *Analytics        `json:"analytics,omitempty"`
	Help       []CommandRule     `json:"help,omitempty"`
	Approvals  []Approval        `json:"approvals,omitempty"`
}

// CommandRule documents one command of the grammar.
type CommandRule struct {
	Intent   string   `json:"intent"`
	Pattern  string   `json:"pattern"`
	Synonyms []string `json:"synonyms"`
	Examples []string `json:"examples"`
}

// Grammar answers GET /commands/grammar.
type Grammar struct {
	Rules []CommandRule `json:"rules"`
}

// RemovalResult answers DELETE /services/{service}.
type RemovalResult struct {
	ServiceID            string    `json:"service_id"`
	Name                 string    `json:"name"`
	RemovedAt            time.Time `json:"removed_at"`
	Cancelled            int       `json:"cancelled"`
	Remaining            int64     `json:"remaining"`
	CredentialsDestroyed bool      `json:"credentials_destroyed"`
}
