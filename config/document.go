package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FormatVersion is the document format this package reads and writes (the document's
// "version" member).
const FormatVersion = 1

// Document is one hub configuration: what [Load] and [Parse] return and what a hub's Plan
// compares with its store. Lists are kept in document order; [Encode] sorts them.
type Document struct {
	// Version is the document format, [FormatVersion]. Required.
	Version int `yaml:"version" json:"version"`
	// Services are the external services, by unique name.
	Services []Service `yaml:"services,omitempty" json:"services,omitempty"`
	// Contracts are the data contract versions, unique by name and version. A service
	// names the ones it uses.
	Contracts []Contract `yaml:"contracts,omitempty" json:"contracts,omitempty"`
	// Routes send the inbound events of a service (verified webhooks, sync pulls) on to
	// other services, by unique name.
	Routes []Route `yaml:"routes,omitempty" json:"routes,omitempty"`
	// Schedules are the sync schedules: which services the hub pulls records from and
	// how often, one per service.
	Schedules []Schedule `yaml:"schedules,omitempty" json:"schedules,omitempty"`
	// Retention is the data retention policy; absent leaves the hub's policy as it is.
	Retention *Retention `yaml:"retention,omitempty" json:"retention,omitempty"`
	// Approvals is the approval policy: the kinds of change that wait for a second
	// person's approval. Absent leaves the hub's policy as it is.
	Approvals *Approvals `yaml:"approvals,omitempty" json:"approvals,omitempty"`
	// Roles maps each role name to the permissions it grants (the hub's built-in role
	// policy). Absent leaves the hub's roles as they are; present, it lists every role.
	Roles map[string][]string `yaml:"roles,omitempty" json:"roles,omitempty"`
	// Environments holds per-environment overrides by environment name; see
	// [Document.ForEnvironment].
	Environments map[string]Environment `yaml:"environments,omitempty" json:"environments,omitempty"`

	// src records where each path was read and how secret references resolve.
	src *source
}

// Service describes one external service: the hub's IntegrationConfig in document form.
type Service struct {
	// Name is unique among services. Required.
	Name string `yaml:"name" json:"name"`
	// Category groups services ("crm", "communication", ...); default "other".
	Category string `yaml:"category,omitempty" json:"category,omitempty"`
	// Connector is the connector kind ("http", "slack", "github", ...). Required.
	Connector string `yaml:"connector" json:"connector"`
	// BaseURL is the remote's base URL; empty is the connector's default.
	BaseURL string `yaml:"base_url,omitempty" json:"base_url,omitempty"`
	// BackupURLs are failover endpoints.
	BackupURLs []string `yaml:"backup_urls,omitempty" json:"backup_urls,omitempty"`
	// Auth is the connector's credentials document. Its strings are secret references
	// ("env:NAME", "file:PATH", "SCHEME:..."), except the plain settings listed in
	// [PlainAuthKeys]. Absent leaves stored credentials as they are.
	Auth json.RawMessage `yaml:"auth,omitempty" json:"auth,omitempty"`
	// Options is the connector's settings document (channel, repository, ...).
	Options json.RawMessage `yaml:"options,omitempty" json:"options,omitempty"`
	// RateLimits, CircuitBreaker and Retry are the resilience policies (see package
	// resilience for their members).
	RateLimits     json.RawMessage `yaml:"rate_limits,omitempty" json:"rate_limits,omitempty"`
	CircuitBreaker json.RawMessage `yaml:"circuit_breaker,omitempty" json:"circuit_breaker,omitempty"`
	Retry          json.RawMessage `yaml:"retry,omitempty" json:"retry,omitempty"`
	// MaxRetries is how many durable retries follow the first attempt; absent: the retry
	// policy's max_retries, else the hub's default.
	MaxRetries *int `yaml:"max_retries,omitempty" json:"max_retries,omitempty"`
	// HealthCheck holds the health thresholds (error rates, latency SLA, window...).
	HealthCheck json.RawMessage `yaml:"health_check,omitempty" json:"health_check,omitempty"`
	// InputContract validates events as received; Contract is the canonical contract the
	// mapped payload must satisfy. Both name a version listed under contracts (or
	// already stored).
	InputContract *ContractRef `yaml:"input_contract,omitempty" json:"input_contract,omitempty"`
	Contract      *ContractRef `yaml:"contract,omitempty" json:"contract,omitempty"`
	// Mapping turns the event payload into the canonical document (transform rules);
	// DeliveryMapping turns the canonical document into the request body.
	Mapping         json.RawMessage `yaml:"mapping,omitempty" json:"mapping,omitempty"`
	DeliveryMapping json.RawMessage `yaml:"delivery_mapping,omitempty" json:"delivery_mapping,omitempty"`
	// Operation is the connector operation deliveries use.
	Operation string `yaml:"operation,omitempty" json:"operation,omitempty"`
	// EscalationService names the service notified when events go dead.
	EscalationService string `yaml:"escalation_service,omitempty" json:"escalation_service,omitempty"`
	// CostPerCall is the cost of one delivery, summed in analytics.
	CostPerCall float64 `yaml:"cost_per_call,omitempty" json:"cost_per_call,omitempty"`
	// Redirects is the redirect policy, "none" (the default) or "same_origin".
	Redirects string `yaml:"redirects,omitempty" json:"redirects,omitempty"`
	// Disabled keeps the service inactive: events are accepted and wait.
	Disabled bool `yaml:"disabled,omitempty" json:"disabled,omitempty"`
	// Region pins the service's data to a data region.
	Region string `yaml:"region,omitempty" json:"region,omitempty"`
}

// Route is one route: the hub's Route in document form. An inbound event of Source that
// Condition accepts is mapped (Mapping, checked against Contract) and delivered to every
// destination.
type Route struct {
	// Name is unique among routes. Required.
	Name string `yaml:"name" json:"name"`
	// Source names the service whose inbound events the route takes. Required.
	Source string `yaml:"source" json:"source"`
	// Condition is an expr-lang boolean over headers, payload, event, delivery_id and
	// service; empty accepts every event.
	Condition string `yaml:"condition,omitempty" json:"condition,omitempty"`
	// Mapping turns the payload into the canonical document (transform rules).
	Mapping json.RawMessage `yaml:"mapping,omitempty" json:"mapping,omitempty"`
	// Contract is the canonical contract the mapped document must satisfy.
	Contract *ContractRef `yaml:"contract,omitempty" json:"contract,omitempty"`
	// Destinations receive the canonical document. At least one.
	Destinations []RouteDestination `yaml:"destinations" json:"destinations"`
}

// RouteDestination is one service a route delivers to.
type RouteDestination struct {
	// Service names the destination. Required.
	Service string `yaml:"service" json:"service"`
	// DeliveryMapping replaces the service's delivery mapping for this route.
	DeliveryMapping json.RawMessage `yaml:"delivery_mapping,omitempty" json:"delivery_mapping,omitempty"`
	// Operation overrides the service's connector operation.
	Operation string `yaml:"operation,omitempty" json:"operation,omitempty"`
	// Priority of the delivered events (low, normal, high, critical); default normal.
	Priority string `yaml:"priority,omitempty" json:"priority,omitempty"`
}

// Schedule is one sync schedule: the hub's SyncConfig in document form. The hub lists the
// records of Service changed since its last run every Interval and turns each new record
// version into an inbound event of the service.
type Schedule struct {
	// Service names the pulled service (listed under services). Required; a service has
	// at most one schedule.
	Service string `yaml:"service" json:"service"`
	// Interval is the time from the end of one run to the start of the next, a Go
	// duration ("15m") or whole days ("1d"). Required, at least 1ms.
	Interval Duration `yaml:"interval" json:"interval"`
	// Operation is the connector's list operation; empty: its default listing.
	Operation string `yaml:"operation,omitempty" json:"operation,omitempty"`
	// Params are the list operation's arguments.
	Params map[string]string `yaml:"params,omitempty" json:"params,omitempty"`
	// PageSize is the page size asked for; 0: the connector's default.
	PageSize int `yaml:"page_size,omitempty" json:"page_size,omitempty"`
	// IDField and VersionField are the dotted paths of a record's id and version; empty:
	// the hub's defaults.
	IDField      string `yaml:"id_field,omitempty" json:"id_field,omitempty"`
	VersionField string `yaml:"version_field,omitempty" json:"version_field,omitempty"`
	// Disabled keeps the schedule and its progress without running it.
	Disabled bool `yaml:"disabled,omitempty" json:"disabled,omitempty"`
}

// SchedulePath is the document path of a schedule's member: schedules[SERVICE].member.
func SchedulePath(service, member string) string {
	p := "schedules[" + service + "]"
	if member != "" {
		p += "." + member
	}
	return p
}

// Approvals is the approval policy in document form.
type Approvals struct {
	// Require lists the kinds of change that need approval (the hub's ChangeKind values:
	// "service.register", "service.configure", "service.credentials",
	// "service.endpoints", "service.enable", "events.bulk_retry", "data.delete",
	// "data.access", "governance.policy"). Empty: nothing waits.
	Require []string `yaml:"require" json:"require"`
	// TTL is how long a request waits for a decision; absent: the hub's default (72h).
	TTL Duration `yaml:"ttl,omitempty" json:"ttl,omitempty"`
}

// RolePath is the document path of one role: roles.NAME.
func RolePath(name string) string { return "roles." + name }

// RoutePath is the document path of a route's member: routes[NAME].member.
func RoutePath(name, member string) string {
	p := "routes[" + name + "]"
	if member != "" {
		p += "." + member
	}
	return p
}

// ContractRef names one contract version.
type ContractRef struct {
	Name    string `yaml:"name" json:"name"`
	Version string `yaml:"version" json:"version"`
}

// String formats the reference as NAME@VERSION.
func (r ContractRef) String() string { return r.Name + "@" + r.Version }

// Contract is one data contract version: a JSON Schema under a name and a semantic
// version. Versions are immutable once stored; a change is a new version, and within one
// major version it must be backward compatible.
type Contract struct {
	Name    string          `yaml:"name" json:"name"`
	Version string          `yaml:"version" json:"version"`
	Schema  json.RawMessage `yaml:"schema" json:"schema"`
}

// Retention is the retention policy in document form: how long the hub keeps what it
// stores. Ages are durations ("168h", "30d", "90m") or "forever".
type Retention struct {
	// Events maps terminal statuses (succeeded, failed, dead, expired, cancelled) to
	// their age.
	Events        map[string]Duration `yaml:"events,omitempty" json:"events,omitempty"`
	HealthMetrics Duration            `yaml:"health_metrics,omitempty" json:"health_metrics,omitempty"`
	Analytics     Duration            `yaml:"analytics,omitempty" json:"analytics,omitempty"`
	// Audit is how long audit entries are kept; unset keeps them forever (see
	// hub.RetentionPolicy.Audit: removal keeps a signed retention horizon).
	Audit Duration `yaml:"audit,omitempty" json:"audit,omitempty"`
	// Services overrides the policy per service name.
	Services map[string]ServiceRetention `yaml:"services,omitempty" json:"services,omitempty"`
}

// ServiceRetention overrides the retention policy for one service; zero ages inherit.
type ServiceRetention struct {
	Events        map[string]Duration `yaml:"events,omitempty" json:"events,omitempty"`
	HealthMetrics Duration            `yaml:"health_metrics,omitempty" json:"health_metrics,omitempty"`
	Analytics     Duration            `yaml:"analytics,omitempty" json:"analytics,omitempty"`
}

// Environment holds the overrides one environment applies to the document.
type Environment struct {
	// Services overrides services by name.
	Services map[string]ServiceOverride `yaml:"services,omitempty" json:"services,omitempty"`
	// Retention replaces the document's retention policy.
	Retention *Retention `yaml:"retention,omitempty" json:"retention,omitempty"`
}

// ServiceOverride changes the members it sets of one service in one environment.
type ServiceOverride struct {
	BaseURL        *string         `yaml:"base_url,omitempty" json:"base_url,omitempty"`
	BackupURLs     []string        `yaml:"backup_urls,omitempty" json:"backup_urls,omitempty"`
	Auth           json.RawMessage `yaml:"auth,omitempty" json:"auth,omitempty"`
	Options        json.RawMessage `yaml:"options,omitempty" json:"options,omitempty"`
	RateLimits     json.RawMessage `yaml:"rate_limits,omitempty" json:"rate_limits,omitempty"`
	CircuitBreaker json.RawMessage `yaml:"circuit_breaker,omitempty" json:"circuit_breaker,omitempty"`
	Retry          json.RawMessage `yaml:"retry,omitempty" json:"retry,omitempty"`
	MaxRetries     *int            `yaml:"max_retries,omitempty" json:"max_retries,omitempty"`
	HealthCheck    json.RawMessage `yaml:"health_check,omitempty" json:"health_check,omitempty"`
	CostPerCall    *float64        `yaml:"cost_per_call,omitempty" json:"cost_per_call,omitempty"`
	Region         *string         `yaml:"region,omitempty" json:"region,omitempty"`
	Disabled       *bool           `yaml:"disabled,omitempty" json:"disabled,omitempty"`
}

// Forever, as a retention age, keeps records for good.
const Forever Duration = -1

// Duration is a retention age: a Go duration ("90m", "168h"), a whole number of days
// ("30d") or "forever" ([Forever]).
type Duration time.Duration

// ParseDuration reads a Duration.
func ParseDuration(s string) (Duration, error) {
	switch {
	case s == "forever":
		return Forever, nil
	case strings.HasSuffix(s, "d"):
		n, err := strconv.ParseInt(strings.TrimSuffix(s, "d"), 10, 32)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return Duration(time.Duration(n) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (\"90m\", \"168h\", \"30d\" or \"forever\")", s)
	}
	return Duration(d), nil
}

// String formats d as ParseDuration reads it: "forever", whole days as "30d", else Go's
// duration syntax.
func (d Duration) String() string {
	day := Duration(24 * time.Hour)
	switch {
	case d == Forever:
		return "forever"
	case d > 0 && d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return time.Duration(d).String()
}

// MarshalJSON writes the duration as its string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads the string form.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("config: a duration is a string: %w", err)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	*d = v
	return nil
}

// Service returns the service named name, or nil.
func (d *Document) Service(name string) *Service {
	for i := range d.Services {
		if d.Services[i].Name == name {
			return &d.Services[i]
		}
	}
	return nil
}

// ServicePath is the document path of a service's member, as errors and plans name it:
// services[NAME].member ("" member: the service itself).
func ServicePath(name, member string) string {
	p := "services[" + name + "]"
	if member != "" {
		p += "." + member
	}
	return p
}

// ContractPath is the document path of a contract version: contracts[NAME@VERSION].
func ContractPath(name, version string) string { return "contracts[" + name + "@" + version + "]" }
