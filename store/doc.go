// Package store defines the Integration Hub's data model — one record type per table — and the
// Store interface every persistence backend implements: the in-memory reference
// implementation (store/memory), SQLite (store/sqlite) and PostgreSQL (store/postgres).
//
// # Records
//
// The records mirror the hub's tables: [Service] (integration_services), [Event]
// (integration_events, including the queue columns; SQLite keeps the event's unchanging
// documents in integration_event_payloads and shows the whole record as the view
// integration_event_records), [HealthMetric]
// (integration_health_metrics), [TransformationRule] (data_transformation_rules),
// [AnalyticsRollup] (integration_analytics), [Contract] (data_contracts) and [AuditEntry]
// (audit_log). JSON tags match the column names. Enumerations are string types with
// constants and a Valid method; stores enforce them too.
//
// # The queue
//
// Events double as the delivery queue. An event is claimable when its status is
// [StatusPending] or [StatusRetrying], its next_attempt_at is not in the future and it has not
// expired. [Store.ClaimEvents] takes due events atomically, most urgent first, and marks them
// [StatusProcessing] with a lease owned by the claimer until lease_until. The holder finishes
// the event with [Store.CompleteEvents] or [Store.FailEvents]; both are fenced by the lease
// owner, so a worker whose lease was released and whose event was claimed again cannot
// overwrite the new state ([ErrLeaseLost]). [Store.ReleaseExpiredLeases] returns the events of
// crashed workers to the queue. Legal status changes are those of [CanTransition].
//
// # Time
//
// Every implementation takes an injectable clock and uses it, not the database's clock, for
// every time it writes or compares, so tests can move time and many processes agree as long as
// their clocks do. Times are stored in UTC at microsecond precision.
//
// # Implementing Store
//
// Store may be implemented outside this module, but its method set may grow in minor
// releases; embed nothing, and run store/storetest against the implementation: a store is
// correct when it passes that suite. The suite is the definition of every contract documented
// here.
package store
