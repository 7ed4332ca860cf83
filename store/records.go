package store

import (
	"encoding/json"
	"net/url"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Service is an external service the hub delivers to (table integration_services).
//
// JSON configuration columns hold the raw JSON the hub's packages parse: rate_limits and
// circuit_breaker_config and retry_config feed resilience, authentication_config the
// connector (stored sealed: the hub encrypts secrets before they reach the store),
// schema_mappings the transform and contract names, health_check_config the health monitor.
type Service struct {
	ID                   string          `json:"id"`
	Name                 string          `json:"name"`
	Category             ServiceCategory `json:"category"`
	ConnectorKind        string          `json:"connector_kind"`
	BaseURL              string          `json:"base_url"`
	AuthenticationConfig json.RawMessage `json:"authentication_config,omitempty"`
	ConnectorConfig      json.RawMessage `json:"connector_config,omitempty"`
	RateLimits           json.RawMessage `json:"rate_limits,omitempty"`
	CircuitBreakerConfig json.RawMessage `json:"circuit_breaker_config,omitempty"`
	RetryConfig          json.RawMessage `json:"retry_config,omitempty"`
	MaxRetries           int             `json:"max_retries"`
	SchemaMappings       json.RawMessage `json:"schema_mappings,omitempty"`
	HealthCheckConfig    json.RawMessage `json:"health_check_config,omitempty"`
	BackupURLs           []string        `json:"backup_urls,omitempty"`
	IsActive             bool            `json:"is_active"`
	HealthStatus         HealthStatus    `json:"health_status"`
	// LastHealthCheck is when the service's health was last probed or judged; nil before
	// the first time. See [ServiceHealthRecorder].
	LastHealthCheck *time.Time `json:"last_health_check,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	// DataRegion pins the service's data to a region ("eu", "us-east-1"; see ValidRegion):
	// only hubs serving that region claim its events. Empty: no region.
	DataRegion string `json:"data_region,omitempty"`
}

// Validate checks the fields a store enforces: a non-empty name, known category and health
// status, a non-empty connector kind, absolute http(s) URLs, a non-negative max_retries, and
// well-formed JSON in every JSON column. The ID may be empty (the store assigns one).
func (s *Service) Validate() error {
	switch {
	case s.ID != "" && uuid.Validate(s.ID) != nil:
		return invalid("service id %q is not a UUID", s.ID)
	case s.Name == "":
		return invalid("service name is empty")
	case !s.Category.Valid():
		return invalid("service %q: unknown category %q", s.Name, s.Category)
	case s.ConnectorKind == "":
		return invalid("service %q: connector_kind is empty", s.Name)
	case s.HealthStatus != "" && !s.HealthStatus.Valid():
		return invalid("service %q: unknown health status %q", s.Name, s.HealthStatus)
	case s.MaxRetries < 0:
		return invalid("service %q: max_retries %d is negative", s.Name, s.MaxRetries)
	case s.DataRegion != "" && !ValidRegion(s.DataRegion):
		return invalid("service %q: data_region %q is malformed", s.Name, s.DataRegion)
	}
	if s.BaseURL != "" {
		if err := checkHTTPURL(s.BaseURL); err != nil {
			return invalid("service %q: base_url: %v", s.Name, err)
		}
	}
	for _, u := range s.BackupURLs {
		if err := checkHTTPURL(u); err != nil {
			return invalid("service %q: backup_urls: %v", s.Name, err)
		}
	}
	for _, c := range []struct {
		name string
		v    json.RawMessage
	}{
		{"authentication_config", s.AuthenticationConfig}, {"connector_config", s.ConnectorConfig},
		{"rate_limits", s.RateLimits}, {"circuit_breaker_config", s.CircuitBreakerConfig},
		{"retry_config", s.RetryConfig}, {"schema_mappings", s.SchemaMappings},
		{"health_check_config", s.HealthCheckConfig},
	} {
		if err := checkJSON(c.v); err != nil {
			return invalid("service %q: %s: %v", s.Name, c.name, err)
		}
	}
	return nil
}

// Clone returns a deep copy of s.
func (s *Service) Clone() *Service {
	if s == nil {
		return nil
	}
	c := *s
	c.AuthenticationConfig = cloneRaw(s.AuthenticationConfig)
	c.ConnectorConfig = cloneRaw(s.ConnectorConfig)
	c.RateLimits = cloneRaw(s.RateLimits)
	c.CircuitBreakerConfig = cloneRaw(s.CircuitBreakerConfig)
	c.RetryConfig = cloneRaw(s.RetryConfig)
	c.SchemaMappings = cloneRaw(s.SchemaMappings)
	c.HealthCheckConfig = cloneRaw(s.HealthCheckConfig)
	c.BackupURLs = slices.Clone(s.BackupURLs)
	c.LastHealthCheck = cloneTime(s.LastHealthCheck)
	return &c
}

// Event is one integration event and its delivery record (table integration_events). It is
// also the queue entry: IdempotencyKey, NextAttemptAt, LeaseOwner and LeaseUntil are the queue
// columns.
type Event struct {
	ID                    string          `json:"id"`
	VentureID             string          `json:"venture_id,omitempty"`
	ServiceID             string          `json:"service_id"`
	ServiceName           string          `json:"service_name"`
	ServiceType           string          `json:"service_type,omitempty"`
	Operation             string          `json:"operation,omitempty"`
	EndpointURL           string          `json:"endpoint_url,omitempty"`
	RequestMethod         HTTPMethod      `json:"request_method"`
	PayloadIn             json.RawMessage `json:"payload_in,omitempty"`
	PayloadOut            json.RawMessage `json:"payload_out,omitempty"`
	TransformationApplied json.RawMessage `json:"transformation_applied,omitempty"`
	CanonicalMapping      json.RawMessage `json:"canonical_mapping,omitempty"`
	Status                EventStatus     `json:"status"`
	ResponseCode          int             `json:"response_code,omitempty"`
	ResponseTimeMS        int64           `json:"response_time_ms,omitempty"`
	ErrorDetails          json.RawMessage `json:"error_details,omitempty"`
	RetryCount            int             `json:"retry_count"`
	MaxRetries            int             `json:"max_retries"`
	PriorityLevel         Priority        `json:"priority_level"`
	ChairmanOverride      bool            `json:"chairman_override"`
	CreatedAt             time.Time       `json:"created_at"`
	UpdatedAt             time.Time       `json:"updated_at"`
	CompletedAt           *time.Time      `json:"completed_at,omitempty"`
	ExpiresAt             *time.Time      `json:"expires_at,omitempty"`
	IdempotencyKey        string          `json:"idempotency_key,omitempty"`
	NextAttemptAt         time.Time       `json:"next_attempt_at"`
	LeaseOwner            string          `json:"lease_owner,omitempty"`
	LeaseUntil            *time.Time      `json:"lease_until,omitempty"`
	// SubjectKey is the keyed hash of the event's data subject (the field its contract
	// marks "x-subject"), or empty. It indexes the event for erasure and access requests and
	// holds no personal data; an erasure clears it.
	SubjectKey string `json:"subject_key,omitempty"`
	// Direction says whether the event goes out to its service (outbound, the default; empty
	// means outbound) or came in from it (inbound: a verified webhook or a pulled record).
	Direction EventDirection `json:"direction,omitempty"`
	// SourceEventID is the inbound event this event was derived from by a route (a fan-out
	// is one event per destination, each naming its source), or empty.
	SourceEventID string `json:"source_event_id,omitempty"`
}

// Validate checks what a store enforces on insert: UUIDs where set, a service id and name,
// known method and priority (empty values are defaulted by InsertEvent), a non-negative
// max_retries and well-formed JSON columns.
func (e *Event) Validate() error {
	if err := e.ValidateFields(); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		v    json.RawMessage
	}{
		{"payload_in", e.PayloadIn}, {"payload_out", e.PayloadOut},
		{"transformation_applied", e.TransformationApplied},
		{"canonical_mapping", e.CanonicalMapping}, {"error_details", e.ErrorDetails},
	} {
		if err := checkJSON(c.v); err != nil {
			return invalid("event %s: %v", c.name, err)
		}
	}
	return nil
}

// ValidateFields checks what Validate checks except the well-formedness of the JSON
// columns: what a store still checks when the writer vouches for its documents (see
// [CheckedDocuments]).
func (e *Event) ValidateFields() error {
	switch {
	case e.ID != "" && uuid.Validate(e.ID) != nil:
		return invalid("event id %q is not a UUID", e.ID)
	case e.VentureID != "" && uuid.Validate(e.VentureID) != nil:
		return invalid("venture_id %q is not a UUID", e.VentureID)
	case e.ServiceID == "" || uuid.Validate(e.ServiceID) != nil:
		return invalid("event service_id %q is not a UUID", e.ServiceID)
	case e.ServiceName == "":
		return invalid("event service_name is empty")
	case e.RequestMethod != "" && !e.RequestMethod.Valid():
		return invalid("event request_method %q is unknown", e.RequestMethod)
	case e.PriorityLevel != "" && !e.PriorityLevel.Valid():
		return invalid("event priority_level %q is unknown", e.PriorityLevel)
	case e.Status != "" && !e.Status.Valid():
		return invalid("event status %q is unknown", e.Status)
	case e.MaxRetries < 0:
		return invalid("event max_retries %d is negative", e.MaxRetries)
	case e.RetryCount < 0:
		return invalid("event retry_count %d is negative", e.RetryCount)
	}
	if err := checkSubjectKey(e.SubjectKey); err != nil {
		return err
	}
	return e.checkInbound()
}

// Clone returns a deep copy of e.
func (e *Event) Clone() *Event {
	if e == nil {
		return nil
	}
	c := *e
	c.PayloadIn = cloneRaw(e.PayloadIn)
	c.PayloadOut = cloneRaw(e.PayloadOut)
	c.TransformationApplied = cloneRaw(e.TransformationApplied)
	c.CanonicalMapping = cloneRaw(e.CanonicalMapping)
	c.ErrorDetails = cloneRaw(e.ErrorDetails)
	c.CompletedAt = cloneTime(e.CompletedAt)
	c.ExpiresAt = cloneTime(e.ExpiresAt)
	c.LeaseUntil = cloneTime(e.LeaseUntil)
	return &c
}

// HealthMetric is one health measurement of a service (table integration_health_metrics).
type HealthMetric struct {
	ID                string          `json:"id"`
	ServiceID         string          `json:"service_id"`
	MetricType        MetricType      `json:"metric_type"`
	Value             float64         `json:"value"`
	WarningThreshold  *float64        `json:"warning_threshold,omitempty"`
	CriticalThreshold *float64        `json:"critical_threshold,omitempty"`
	Status            MetricStatus    `json:"status"`
	IncidentTriggered bool            `json:"incident_triggered"`
	RecoveryActions   json.RawMessage `json:"recovery_actions,omitempty"`
	RecordedAt        time.Time       `json:"recorded_at"`
}

// Validate checks the service id, metric type and status, and the recovery_actions JSON.
func (m *HealthMetric) Validate() error {
	switch {
	case m.ID != "" && uuid.Validate(m.ID) != nil:
		return invalid("health metric id %q is not a UUID", m.ID)
	case uuid.Validate(m.ServiceID) != nil:
		return invalid("health metric service_id %q is not a UUID", m.ServiceID)
	case !m.MetricType.Valid():
		return invalid("unknown metric_type %q", m.MetricType)
	case !m.Status.Valid():
		return invalid("unknown metric status %q", m.Status)
	}
	if err := checkJSON(m.RecoveryActions); err != nil {
		return invalid("health metric recovery_actions: %v", err)
	}
	return nil
}

// Clone returns a deep copy of m.
func (m *HealthMetric) Clone() *HealthMetric {
	if m == nil {
		return nil
	}
	c := *m
	if m.WarningThreshold != nil {
		v := *m.WarningThreshold
		c.WarningThreshold = &v
	}
	if m.CriticalThreshold != nil {
		v := *m.CriticalThreshold
		c.CriticalThreshold = &v
	}
	c.RecoveryActions = cloneRaw(m.RecoveryActions)
	return &c
}

// TransformationRule is one version of a named mapping (table data_transformation_rules).
// Name + Version is unique, and at most one version of a name is active.
type TransformationRule struct {
	ID                  string          `json:"id"`
	Name                string          `json:"name"`
	Version             int             `json:"version"`
	ServiceID           string          `json:"service_id,omitempty"`
	SourceSchema        json.RawMessage `json:"source_schema,omitempty"`
	TargetSchema        json.RawMessage `json:"target_schema,omitempty"`
	TransformationLogic json.RawMessage `json:"transformation_logic"`
	ValidationRules     json.RawMessage `json:"validation_rules,omitempty"`
	IsBidirectional     bool            `json:"is_bidirectional"`
	IsActive            bool            `json:"is_active"`
	CreatedAt           time.Time       `json:"created_at"`
	UpdatedAt           time.Time       `json:"updated_at"`
}

// Validate checks the name, a positive version, the optional service UUID and the JSON
// columns (transformation_logic is required).
func (r *TransformationRule) Validate() error {
	switch {
	case r.ID != "" && uuid.Validate(r.ID) != nil:
		return invalid("rule id %q is not a UUID", r.ID)
	case r.Name == "":
		return invalid("rule name is empty")
	case r.Version < 1:
		return invalid("rule %q: version %d is not positive", r.Name, r.Version)
	case r.ServiceID != "" && uuid.Validate(r.ServiceID) != nil:
		return invalid("rule %q: service_id %q is not a UUID", r.Name, r.ServiceID)
	case len(r.TransformationLogic) == 0:
		return invalid("rule %q: transformation_logic is empty", r.Name)
	}
	for _, c := range []struct {
		name string
		v    json.RawMessage
	}{
		{"source_schema", r.SourceSchema}, {"target_schema", r.TargetSchema},
		{"transformation_logic", r.TransformationLogic}, {"validation_rules", r.ValidationRules},
	} {
		if err := checkJSON(c.v); err != nil {
			return invalid("rule %q: %s: %v", r.Name, c.name, err)
		}
	}
	return nil
}

// Clone returns a deep copy of r.
func (r *TransformationRule) Clone() *TransformationRule {
	if r == nil {
		return nil
	}
	c := *r
	c.SourceSchema = cloneRaw(r.SourceSchema)
	c.TargetSchema = cloneRaw(r.TargetSchema)
	c.TransformationLogic = cloneRaw(r.TransformationLogic)
	c.ValidationRules = cloneRaw(r.ValidationRules)
	return &c
}

// AnalyticsRollup is the figures of one service over one period (table
// integration_analytics). Service + Period + PeriodStart is unique.
type AnalyticsRollup struct {
	ID                string    `json:"id"`
	ServiceID         string    `json:"service_id"`
	ServiceName       string    `json:"service_name"`
	Period            Period    `json:"period"`
	PeriodStart       time.Time `json:"period_start"`
	TotalEvents       int64     `json:"total_events"`
	Successes         int64     `json:"successes"`
	Failures          int64     `json:"failures"`
	AvgResponseTimeMS float64   `json:"avg_response_time_ms"`
	ErrorRate         float64   `json:"error_rate"`
	// UptimePercent is the service's availability over the period (0..100), nil when it
	// is unknown: nothing probed the service and no delivery reached an outcome.
	UptimePercent         *float64 `json:"uptime_percent,omitempty"`
	DataVolumeBytes       int64    `json:"data_volume_bytes"`
	ChairmanInterventions int64    `json:"chairman_interventions"`
	Cost                  float64  `json:"cost"`
	// PerformanceTrends is a JSON document comparing the period with the one before it
	// (the hub writes changes of volume, error rate and response time, and a direction).
	PerformanceTrends json.RawMessage `json:"performance_trends,omitempty"`
	CreatedAt         time.Time       `json:"created_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
}

// Validate checks the service UUID, the period, that counts are not negative, that a known
// uptime is within 0..100 and that performance_trends is well-formed JSON.
func (a *AnalyticsRollup) Validate() error {
	switch {
	case a.ID != "" && uuid.Validate(a.ID) != nil:
		return invalid("analytics id %q is not a UUID", a.ID)
	case uuid.Validate(a.ServiceID) != nil:
		return invalid("analytics service_id %q is not a UUID", a.ServiceID)
	case !a.Period.Valid():
		return invalid("analytics period %q is unknown", a.Period)
	case a.PeriodStart.IsZero():
		return invalid("analytics period_start is zero")
	case a.TotalEvents < 0 || a.Successes < 0 || a.Failures < 0 || a.DataVolumeBytes < 0 || a.ChairmanInterventions < 0:
		return invalid("analytics counts must not be negative")
	case a.UptimePercent != nil && (*a.UptimePercent < 0 || *a.UptimePercent > 100):
		return invalid("analytics uptime_percent %v is outside 0..100", *a.UptimePercent)
	}
	if err := checkJSON(a.PerformanceTrends); err != nil {
		return invalid("analytics performance_trends: %v", err)
	}
	return nil
}

// Clone returns a copy of a.
func (a *AnalyticsRollup) Clone() *AnalyticsRollup {
	if a == nil {
		return nil
	}
	c := *a
	if a.UptimePercent != nil {
		v := *a.UptimePercent
		c.UptimePercent = &v
	}
	c.PerformanceTrends = cloneRaw(a.PerformanceTrends)
	return &c
}

// Contract is one version of a canonical data contract (table data_contracts). Name +
// Version is unique; Version is a semantic version such as "1.2.0".
type Contract struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Version     string          `json:"version"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema"`
	CreatedAt   time.Time       `json:"created_at"`
}

// Validate checks the name, version and that the schema is well-formed JSON.
func (c *Contract) Validate() error {
	switch {
	case c.ID != "" && uuid.Validate(c.ID) != nil:
		return invalid("contract id %q is not a UUID", c.ID)
	case c.Name == "":
		return invalid("contract name is empty")
	case c.Version == "":
		return invalid("contract %q: version is empty", c.Name)
	case len(c.Schema) == 0:
		return invalid("contract %q: schema is empty", c.Name)
	}
	if err := checkJSON(c.Schema); err != nil {
		return invalid("contract %q: schema: %v", c.Name, err)
	}
	return nil
}

// Clone returns a deep copy of c.
func (c *Contract) Clone() *Contract {
	if c == nil {
		return nil
	}
	d := *c
	d.Schema = cloneRaw(c.Schema)
	return &d
}

// AuditEntry is one append-only audit record (table audit_log): who did what to which
// entity, when, with the state before and after (secrets redacted by the caller).
type AuditEntry struct {
	ID         string          `json:"id"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	EntityType string          `json:"entity_type"`
	EntityID   string          `json:"entity_id,omitempty"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	// Seq, PrevHash and Hash chain the entry (see [AuditEntryHash]): Seq is its position in
	// the store's one chain (1, 2, 3 ... without gaps), PrevHash the Hash of the entry at
	// Seq-1 ([AuditGenesisHash] for the first), Hash the SHA-256 of its canonical encoding.
	// The store assigns all three when it appends; values passed in are ignored.
	Seq      int64  `json:"seq"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// Validate checks that actor, action and entity type are set and the JSON is well-formed.
func (a *AuditEntry) Validate() error {
	switch {
	case a.ID != "" && uuid.Validate(a.ID) != nil:
		return invalid("audit id %q is not a UUID", a.ID)
	case a.Actor == "":
		return invalid("audit actor is empty")
	case a.Action == "":
		return invalid("audit action is empty")
	case a.EntityType == "":
		return invalid("audit entity_type is empty")
	}
	if err := checkJSON(a.Before); err != nil {
		return invalid("audit before: %v", err)
	}
	if err := checkJSON(a.After); err != nil {
		return invalid("audit after: %v", err)
	}
	return nil
}

// Clone returns a deep copy of a.
func (a *AuditEntry) Clone() *AuditEntry {
	if a == nil {
		return nil
	}
	c := *a
	c.Before = cloneRaw(a.Before)
	c.After = cloneRaw(a.After)
	return &c
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return invalidURL(s)
	}
	if u.Host == "" {
		return invalidURL(s)
	}
	return nil
}

type invalidURL string

func (u invalidURL) Error() string {
	return "URL " + string(u) + " is not an absolute http or https URL"
}

func checkJSON(v json.RawMessage) error {
	if len(v) == 0 || json.Valid(v) {
		return nil
	}
	return errInvalidJSON
}

var errInvalidJSON = jsonError("not well-formed JSON")

type jsonError string

func (e jsonError) Error() string { return string(e) }

func cloneRaw(v json.RawMessage) json.RawMessage {
	if v == nil {
		return nil
	}
	return append(json.RawMessage(nil), v...)
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := *t
	return &v
}
