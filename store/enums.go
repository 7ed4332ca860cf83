package store

import "time"

// EventStatus is the delivery state of an [Event]. See [CanTransition] for the legal changes.
type EventStatus string

// Event statuses.
const (
	// StatusPending: accepted and waiting for its first delivery attempt.
	StatusPending EventStatus = "pending"
	// StatusProcessing: claimed by a worker holding a lease.
	StatusProcessing EventStatus = "processing"
	// StatusSucceeded: delivered; terminal.
	StatusSucceeded EventStatus = "succeeded"
	// StatusRetrying: a delivery attempt failed transiently; due again at next_attempt_at.
	StatusRetrying EventStatus = "retrying"
	// StatusFailed: failed permanently (the remote refused it); can be requeued by hand.
	StatusFailed EventStatus = "failed"
	// StatusDead: retries exhausted (dead letter); can be requeued by hand.
	StatusDead EventStatus = "dead"
	// StatusExpired: expires_at passed before delivery; terminal.
	StatusExpired EventStatus = "expired"
	// StatusCancelled: withdrawn before delivery; terminal.
	StatusCancelled EventStatus = "cancelled"
)

// EventStatuses lists every event status in lifecycle order.
func EventStatuses() []EventStatus {
	return []EventStatus{StatusPending, StatusProcessing, StatusSucceeded, StatusRetrying,
		StatusFailed, StatusDead, StatusExpired, StatusCancelled}
}

// Valid reports whether s is one of the defined statuses.
func (s EventStatus) Valid() bool {
	switch s {
	case StatusPending, StatusProcessing, StatusSucceeded, StatusRetrying,
		StatusFailed, StatusDead, StatusExpired, StatusCancelled:
		return true
	}
	return false
}

// Terminal reports whether no automatic transition leaves s (succeeded, failed, dead,
// expired, cancelled). Failed and dead events may still be requeued by hand.
func (s EventStatus) Terminal() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusDead, StatusExpired, StatusCancelled:
		return true
	}
	return false
}

// Claimable reports whether an event in status s may be claimed when due.
func (s EventStatus) Claimable() bool { return s == StatusPending || s == StatusRetrying }

// Priority is an event's priority level. Claims take higher priorities first.
type Priority string

// Priority levels, lowest to highest.
const (
	PriorityLow      Priority = "low"
	PriorityNormal   Priority = "normal"
	PriorityHigh     Priority = "high"
	PriorityCritical Priority = "critical"
)

// Priorities lists the priority levels from lowest to highest.
func Priorities() []Priority {
	return []Priority{PriorityLow, PriorityNormal, PriorityHigh, PriorityCritical}
}

// Valid reports whether p is one of the defined levels.
func (p Priority) Valid() bool { return p.Rank() > 0 }

// Rank orders priorities: 1 for low up to 4 for critical, 0 for an unknown value.
// Stores claim events with a higher rank first.
func (p Priority) Rank() int {
	switch p {
	case PriorityLow:
		return 1
	case PriorityNormal:
		return 2
	case PriorityHigh:
		return 3
	case PriorityCritical:
		return 4
	}
	return 0
}

// HealthStatus is the health of a service.
type HealthStatus string

// Health statuses.
const (
	HealthUnknown   HealthStatus = "unknown"
	HealthHealthy   HealthStatus = "healthy"
	HealthDegraded  HealthStatus = "degraded"
	HealthUnhealthy HealthStatus = "unhealthy"
)

// Valid reports whether h is one of the defined statuses.
func (h HealthStatus) Valid() bool {
	switch h {
	case HealthUnknown, HealthHealthy, HealthDegraded, HealthUnhealthy:
		return true
	}
	return false
}

// ServiceCategory groups external services by what they do.
type ServiceCategory string

// Service categories.
const (
	CategoryCRM               ServiceCategory = "crm"
	CategoryCommunication     ServiceCategory = "communication"
	CategoryDevelopment       ServiceCategory = "development"
	CategoryProjectManagement ServiceCategory = "project_management"
	CategoryAnalytics         ServiceCategory = "analytics"
	CategoryPayments          ServiceCategory = "payments"
	CategoryStorage           ServiceCategory = "storage"
	CategoryOther             ServiceCategory = "other"
)

// Valid reports whether c is one of the defined categories.
func (c ServiceCategory) Valid() bool {
	switch c {
	case CategoryCRM, CategoryCommunication, CategoryDevelopment, CategoryProjectManagement,
		CategoryAnalytics, CategoryPayments, CategoryStorage, CategoryOther:
		return true
	}
	return false
}

// HTTPMethod is the HTTP method of a delivery.
type HTTPMethod string

// HTTP methods a delivery may use.
const (
	MethodGet    HTTPMethod = "GET"
	MethodPost   HTTPMethod = "POST"
	MethodPut    HTTPMethod = "PUT"
	MethodPatch  HTTPMethod = "PATCH"
	MethodDelete HTTPMethod = "DELETE"
)

// Valid reports whether m is one of the defined methods.
func (m HTTPMethod) Valid() bool {
	switch m {
	case MethodGet, MethodPost, MethodPut, MethodPatch, MethodDelete:
		return true
	}
	return false
}

// MetricType is what a [HealthMetric] measures.
type MetricType string

// Metric types.
const (
	MetricResponseTime      MetricType = "response_time"
	MetricErrorRate         MetricType = "error_rate"
	MetricAvailability      MetricType = "availability"
	MetricThroughput        MetricType = "throughput"
	MetricRateLimitHeadroom MetricType = "rate_limit_headroom"
	MetricQueueDepth        MetricType = "queue_depth"
)

// Valid reports whether t is one of the defined types.
func (t MetricType) Valid() bool {
	switch t {
	case MetricResponseTime, MetricErrorRate, MetricAvailability, MetricThroughput,
		MetricRateLimitHeadroom, MetricQueueDepth:
		return true
	}
	return false
}

// MetricStatus is a metric value judged against its thresholds.
type MetricStatus string

// Metric statuses.
const (
	MetricNormal   MetricStatus = "normal"
	MetricWarning  MetricStatus = "warning"
	MetricCritical MetricStatus = "critical"
)

// Valid reports whether s is one of the defined statuses.
func (s MetricStatus) Valid() bool {
	switch s {
	case MetricNormal, MetricWarning, MetricCritical:
		return true
	}
	return false
}

// Period is the length of an analytics rollup bucket. Buckets start on UTC boundaries.
type Period string

// Rollup periods.
const (
	PeriodHour Period = "hour"
	PeriodDay  Period = "day"
)

// Valid reports whether p is one of the defined periods.
func (p Period) Valid() bool { return p == PeriodHour || p == PeriodDay }

// Truncate returns the start of the UTC bucket of length p that holds t.
func (p Period) Truncate(t time.Time) time.Time {
	t = t.UTC()
	switch p {
	case PeriodDay:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	default:
		return t.Truncate(time.Hour)
	}
}

// Duration returns the length of one bucket.
func (p Period) Duration() time.Duration {
	if p == PeriodDay {
		return 24 * time.Hour
	}
	return time.Hour
}
