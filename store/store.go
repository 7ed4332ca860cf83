package store

import (
	"context"
	"encoding/json"
	"time"
)

// Store is the hub's persistence: records, the delivery queue and the aggregate queries.
// Implementations are safe for concurrent use by many goroutines, and the SQL ones by many
// processes sharing a database. Callers never share memory with a store: records passed in
// are copied, and records returned are the caller's to modify.
//
// Unless a method says otherwise, it returns [ErrNotFound] when the key matches nothing,
// [ErrInvalidArgument] for invalid records or parameters, [ErrBusy] when the database could
// not serialise it, and the context's error when ctx ends first. Methods that store a new
// record return [ErrConflict] when a caller-supplied ID is taken. All errors are wrapped with
// detail; test them with errors.Is.
type Store interface {
	ServiceStore
	EventStore
	QueueStore
	StatsStore
	RuleStore
	ContractStore
	HealthMetricStore
	AnalyticsStore
	AuditStore
}

// Page selects a window of a list. Lists have a documented, stable order.
type Page struct {
	// Limit is the most records returned; 0 means DefaultPageLimit, and values above
	// MaxPageLimit are reduced to it. Negative values are ErrInvalidArgument.
	Limit int
	// Offset skips this many records of the ordered list. Negative is ErrInvalidArgument.
	Offset int
}

// Page limits.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 10000
)

// Normalize returns p with the default and maximum limit applied, or ErrInvalidArgument.
func (p Page) Normalize() (Page, error) {
	if p.Limit < 0 || p.Offset < 0 {
		return p, invalid("page limit %d and offset %d must not be negative", p.Limit, p.Offset)
	}
	if p.Limit == 0 {
		p.Limit = DefaultPageLimit
	}
	if p.Limit > MaxPageLimit {
		p.Limit = MaxPageLimit
	}
	return p, nil
}

// ServiceStore holds the external services.
type ServiceStore interface {
	// CreateService stores a new service after s.Validate. It assigns a UUID when s.ID is
	// empty, sets CreatedAt and UpdatedAt to now, and HealthStatus to unknown when empty.
	// Returns ErrConflict when the name or ID is taken.
	CreateService(ctx context.Context, s *Service) (*Service, error)
	// GetService returns the service with the id.
	GetService(ctx context.Context, id string) (*Service, error)
	// GetServiceByName returns the service with the name (names are case-sensitive).
	GetServiceByName(ctx context.Context, name string) (*Service, error)
	// UpdateService replaces every column of the service s.ID (but CreatedAt) after
	// s.Validate and sets UpdatedAt to now. Returns ErrNotFound for an unknown ID and
	// ErrConflict when the new name is taken by another service.
	UpdateService(ctx context.Context, s *Service) (*Service, error)
	// ListServices returns the services matching f, ordered by name.
	ListServices(ctx context.Context, f ServiceFilter) ([]*Service, error)
}

// ServiceFilter selects services; zero fields match everything.
type ServiceFilter struct {
	Category   ServiceCategory
	ActiveOnly bool
	Page       Page
}

// EventStore holds events as records: insertion, lookup, listing and manual state changes.
type EventStore interface {
	// InsertEvent stores a new event after e.Validate, idempotently: when e.IdempotencyKey is
	// not empty and an event of the same ServiceID already has that key, nothing is written
	// and the existing event is returned with created false. Otherwise it assigns a UUID when
	// e.ID is empty, sets Status to pending (the only status accepted, empty means pending),
	// CreatedAt and UpdatedAt to now, NextAttemptAt to now when zero, PriorityLevel to normal
	// and RequestMethod to POST when empty, clears the lease, and returns created true.
	InsertEvent(ctx context.Context, e *Event) (ev *Event, created bool, err error)
	// InsertEvents inserts many events as InsertEvent does, in one transaction where the
	// database allows: either every event is handled or, on error, none is stored. Results
	// are in the order of es. Duplicate keys within es resolve to the first of them (the
	// later ones get its event with Created false). An ID that exists already or repeats
	// within es is ErrConflict.
	InsertEvents(ctx context.Context, es []*Event) ([]InsertResult, error)
	// GetEvent returns the event with the id.
	GetEvent(ctx context.Context, id string) (*Event, error)
	// GetEventByIdempotencyKey returns the event of the service with the key.
	GetEventByIdempotencyKey(ctx context.Context, serviceID, key string) (*Event, error)
	// ListEvents returns the events matching f, oldest first (created_at, then id).
	ListEvents(ctx context.Context, f EventFilter) ([]*Event, error)
	// CancelEvent moves a pending or retrying event to cancelled. Any other status is
	// ErrInvalidTransition (a *TransitionError).
	CancelEvent(ctx context.Context, id string) (*Event, error)
	// RequeueEvent moves a failed or dead event back to pending, due now, with its lease
	// cleared and, when resetRetries, its retry_count set to 0; CompletedAt is cleared.
	// Any other status is ErrInvalidTransition.
	RequeueEvent(ctx context.Context, id string, resetRetries bool) (*Event, error)
	// RequeueEvents requeues, as RequeueEvent with resetRetries, every failed or dead event
	// matching f (its Statuses, when set, must only name failed or dead) and returns how many.
	RequeueEvents(ctx context.Context, f RequeueFilter) (int, error)
}

// InsertResult is the outcome of inserting one event.
type InsertResult struct {
	Event   *Event
	Created bool
}

// EventFilter selects events; zero fields match everything.
type EventFilter struct {
	ServiceID string
	Statuses  []EventStatus
	// CreatedFrom and CreatedTo bound created_at to [CreatedFrom, CreatedTo).
	CreatedFrom time.Time
	CreatedTo   time.Time
	Page        Page
}

// RequeueFilter selects the failed and dead events to requeue.
type RequeueFilter struct {
	ServiceID string
	// Since, when set, keeps events created at or after it.
	Since time.Time
	// Statuses narrows to failed, dead or both (the default).
	Statuses []EventStatus
}

// QueueStore is the delivery queue over events.
type QueueStore interface {
	// ClaimEvents atomically takes up to p.Limit due events and returns them in claim order.
	// An event is due when its status is pending or retrying, next_attempt_at <= now, and
	// expires_at is null or after now. Order: chairman_override first, then priority (critical
	// first), then created_at, then id. Claimed events become processing with lease_owner
	// p.Owner and lease_until now+p.Lease. Events of p.ExcludeServiceIDs are skipped (their
	// breaker is open). Concurrent claimers, in this process or others, never receive the
	// same event while its lease holds. p.Owner must not be empty; p.Limit and p.Lease must
	// be positive.
	ClaimEvents(ctx context.Context, p ClaimParams) ([]*Event, error)
	// CompleteEvents marks each event succeeded, recording the response (and the request
	// in Call, when set) and setting completed_at to now and clearing the lease. An event is changed only while it is
	// processing and leased to p.Owner (the lease may have run out as long as nobody released
	// it); otherwise it is left alone and its ID is returned in lost, as given and in the
	// order of ps. ps applies in order, so an ID repeated in ps is lost after its first change.
	// An invalid entry (malformed ID, empty owner, ill-formed JSON) is ErrInvalidArgument and
	// changes nothing. One call is one transaction where the database allows.
	CompleteEvents(ctx context.Context, ps []CompleteParams) (lost []string, err error)
	// FailEvents records a failed attempt of each event, fenced as CompleteEvents is. Status
	// must be retrying (due again at NextAttemptAt, which must be set), failed, dead or expired.
	// retry_count grows by one unless KeepRetryCount (for waits that are not attempts, such as
	// a rate-limit pause). A set Call replaces request_method and endpoint_url. Terminal statuses set completed_at; the lease is cleared.
	FailEvents(ctx context.Context, ps []FailParams) (lost []string, err error)
	// ExtendLease moves lease_until to now+lease for each of ids that is processing and leased
	// to owner, and returns the ids it did not extend.
	ExtendLease(ctx context.Context, owner string, ids []string, lease time.Duration) (lost []string, err error)
	// ReleaseExpiredLeases returns to the queue every processing event whose lease_until <= now:
	// status pending when retry_count is 0, else retrying; due now; lease cleared. It returns
	// how many it released. A store may leave an event another transaction holds at that
	// moment (its owner completing it, say) to a later call rather than wait for it.
	ReleaseExpiredLeases(ctx context.Context) (int, error)
	// ExpireEvents moves every pending or retrying event whose expires_at <= now to expired,
	// setting completed_at, and returns how many. Like ReleaseExpiredLeases, a store may leave
	// an event another transaction holds at that moment to a later call.
	ExpireEvents(ctx context.Context) (int, error)
}

// ClaimParams are the arguments of ClaimEvents.
type ClaimParams struct {
	Owner             string
	Limit             int
	Lease             time.Duration
	ExcludeServiceIDs []string
}

// CompleteParams record a successful delivery.
type CompleteParams struct {
	ID             string
	Owner          string
	ResponseCode   int
	ResponseTimeMS int64
	PayloadOut     json.RawMessage
	// MaskedPayloadIn and MaskedCanonical, when not empty, replace payload_in and
	// canonical_mapping in the same change (the hub stores delivered events with their
	// personal fields masked); empty leaves the columns as they are. payload_in_bytes, the
	// data volume, keeps the size as received.
	MaskedPayloadIn json.RawMessage
	MaskedCanonical json.RawMessage
	// Call, when set, is the request the delivery actually made: it replaces the event's
	// request_method and endpoint_url.
	Call Call
}

// Call is the HTTP request a delivery attempt actually made. Empty fields leave the event's
// columns unchanged.
type Call struct {
	// Method is the HTTP method used (request_method).
	Method HTTPMethod
	// EndpointURL is the URL called, without query or credentials (endpoint_url): after a
	// failover, a backup's.
	EndpointURL string
}

// Validate checks that a set method is known.
func (c Call) Validate() error {
	if c.Method != "" && !c.Method.Valid() {
		return invalid("call request_method %q is unknown", c.Method)
	}
	return nil
}

// FailParams record a failed delivery attempt.
type FailParams struct {
	ID             string
	Owner          string
	Status         EventStatus
	NextAttemptAt  time.Time
	KeepRetryCount bool
	ResponseCode   int
	ResponseTimeMS int64
	PayloadOut     json.RawMessage
	ErrorDetails   json.RawMessage
	// Call, when set, is the request the attempt actually made, as in CompleteParams.
	Call Call
}

// Notifier is implemented by stores that can wake waiting workers when events may have
// become claimable (inserted, requeued, released), including by other processes sharing the
// database. Notifications are a latency optimisation: workers must still poll.
type Notifier interface {
	// Notifications returns a channel that receives a value, coalesced, whenever events may
	// be due. The channel is closed when ctx ends.
	Notifications(ctx context.Context) (<-chan struct{}, error)
}

// StatsStore answers the aggregate queries of health, metrics and analytics. They aggregate
// in the database, never by loading events into Go.
type StatsStore interface {
	// CountEventsByStatus counts the events matching f (Page ignored) by status; statuses with
	// no event are absent from the map.
	CountEventsByStatus(ctx context.Context, f EventFilter) (map[EventStatus]int64, error)
	// EventStats returns one EventStats per service having events created in
	// [p.From, p.To), ordered by service name; p.ServiceID narrows to one service.
	EventStats(ctx context.Context, p StatsParams) ([]EventStats, error)
	// EventVolume returns per service and per UTC bucket of p.Period the volume of events
	// created in [p.From, p.To), ordered by service name then bucket start; buckets with no
	// event are absent.
	EventVolume(ctx context.Context, p VolumeParams) ([]VolumeBucket, error)
}

// StatsParams select the events EventStats aggregates.
type StatsParams struct {
	ServiceID string
	From, To  time.Time
	// WithinMS, when positive, asks for Latency.Within: how many succeeded events took at
	// most this many milliseconds (a latency SLA).
	WithinMS int64
}

// EventStats are the figures of one service's events over a time range.
type EventStats struct {
	ServiceID   string
	ServiceName string
	// Total counts every event; ByStatus splits it by current status.
	Total    int64
	ByStatus map[EventStatus]int64
	// Retried counts events with retry_count > 0.
	Retried int64
	// ChairmanOverrides counts events with chairman_override.
	ChairmanOverrides int64
	// PayloadBytes sums the length of payload_in (data volume).
	PayloadBytes int64
	// Latency is over the response_time_ms of succeeded events.
	Latency LatencyStats
}

// LatencyStats summarise response times in milliseconds. Percentiles are continuous
// (linear interpolation between closest ranks, as SQL percentile_cont); StdDev is the
// population standard deviation. All are 0 when Count is 0.
type LatencyStats struct {
	Count         int64
	Min, Max      float64
	Mean, StdDev  float64
	P50, P95, P99 float64
	// Within counts values <= StatsParams.WithinMS (0 when WithinMS is not positive).
	Within int64
}

// VolumeParams select the events EventVolume aggregates.
type VolumeParams struct {
	ServiceID string
	From, To  time.Time
	Period    Period
}

// VolumeBucket is one service's events created in one period bucket.
type VolumeBucket struct {
	ServiceID   string
	ServiceName string
	Start       time.Time
	Total       int64
	Succeeded   int64
	// Failed counts failed and dead events.
	Failed            int64
	ChairmanOverrides int64
	PayloadBytes      int64
	// AvgResponseTimeMS averages response_time_ms over succeeded events (0 when none).
	AvgResponseTimeMS float64
}

// RuleStore holds versioned transformation rules.
type RuleStore interface {
	// CreateRule stores a rule version after r.Validate; UUID and times assigned as for
	// services. Returns ErrConflict when name+version exists, or when r.IsActive and another
	// version of the name is active.
	CreateRule(ctx context.Context, r *TransformationRule) (*TransformationRule, error)
	// GetRule returns the rule with the name and version.
	GetRule(ctx context.Context, name string, version int) (*TransformationRule, error)
	// GetActiveRule returns the active version of the name; ErrNotFound when none is active.
	GetActiveRule(ctx context.Context, name string) (*TransformationRule, error)
	// ListRules returns the rules matching f, ordered by name then version.
	ListRules(ctx context.Context, f RuleFilter) ([]*TransformationRule, error)
	// ActivateRule makes the version the only active one of its name, atomically.
	ActivateRule(ctx context.Context, name string, version int) (*TransformationRule, error)
}

// RuleFilter selects rules; zero fields match everything.
type RuleFilter struct {
	Name       string
	ServiceID  string
	ActiveOnly bool
	Page       Page
}

// ContractStore holds versioned data contracts.
type ContractStore interface {
	// CreateContract stores a contract version after c.Validate. Returns ErrConflict when
	// name+version exists.
	CreateContract(ctx context.Context, c *Contract) (*Contract, error)
	// GetContract returns the contract with the name and version.
	GetContract(ctx context.Context, name, version string) (*Contract, error)
	// ListContracts returns the contracts of the name (all when empty), ordered by name then
	// created_at then version.
	ListContracts(ctx context.Context, name string, p Page) ([]*Contract, error)
}

// HealthMetricStore holds health measurements.
type HealthMetricStore interface {
	// InsertHealthMetric stores a measurement after m.Validate; RecordedAt defaults to now.
	InsertHealthMetric(ctx context.Context, m *HealthMetric) (*HealthMetric, error)
	// ListHealthMetrics returns the metrics matching f, newest first (recorded_at desc, id).
	ListHealthMetrics(ctx context.Context, f HealthMetricFilter) ([]*HealthMetric, error)
}

// HealthMetricFilter selects health metrics; zero fields match everything. From/To bound
// recorded_at to [From, To).
type HealthMetricFilter struct {
	ServiceID  string
	MetricType MetricType
	From, To   time.Time
	Page       Page
}

// AnalyticsStore holds analytics rollups.
type AnalyticsStore interface {
	// UpsertAnalytics inserts or replaces each rollup, keyed by service, period and
	// period_start (re-running a rollup job is idempotent); an unknown uptime is stored as
	// NULL and read back as nil. Existing rows keep their ID and
	// CreatedAt. When rs repeats a key the last rollup wins; an invalid rollup is
	// ErrInvalidArgument and nothing is stored.
	UpsertAnalytics(ctx context.Context, rs []*AnalyticsRollup) error
	// ListAnalytics returns the rollups matching f ordered by service name then period_start.
	ListAnalytics(ctx context.Context, f AnalyticsFilter) ([]*AnalyticsRollup, error)
}

// AnalyticsFilter selects rollups; From/To bound period_start to [From, To).
type AnalyticsFilter struct {
	ServiceID string
	Period    Period
	From, To  time.Time
	Page      Page
}

// AuditStore is the append-only audit log, one hash chain per store (see [AuditEntryHash]).
// There is no way to change or delete an entry.
type AuditStore interface {
	// AppendAudit stores an entry after a.Validate; ID (when empty), CreatedAt (now), Seq,
	// PrevHash and Hash are assigned. Appends are serialised across every process sharing
	// the store, so the entries form one chain: Seq is the head's plus one and PrevHash the
	// head's Hash. An entry is never replaced: an ID that exists is ErrConflict.
	AppendAudit(ctx context.Context, a *AuditEntry) (*AuditEntry, error)
	// ListAudit returns the entries matching f in chain order (Seq ascending).
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)
}

// AuditFilter selects audit entries; zero fields match everything.
type AuditFilter struct {
	EntityType string
	EntityID   string
	Actor      string
	From, To   time.Time
	// FromSeq and ToSeq, when positive, bound Seq to [FromSeq, ToSeq].
	FromSeq, ToSeq int64
	Page           Page
}
