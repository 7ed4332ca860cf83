// Package hub is the Integration Hub: an embeddable library that registers external
// services (Salesforce, GitHub, Slack, any JSON REST API), accepts events, validates them
// against canonical data contracts, transforms them with compiled expr-lang mappings,
// stores them durably, delivers them through connectors under retry, circuit-breaker and
// rate-limit policies, and reports health, performance and analytics.
//
// # Getting started
//
//	st, _ := sqlite.Open(ctx, "hub.db", sqlite.Options{}) // or postgres.Open, or nil for memory
//	h, err := hub.New(st, hub.WithSecretKey(key))
//	h.Start(ctx)
//	defer h.Close(ctx)
//	h.RegisterIntegration(ctx, hub.IntegrationConfig{Name: "slack", Connector: "slack", ...})
//	res, err := h.ProcessIntegrationEvent(ctx, hub.EventData{Service: "slack", Payload: body})
//
// [API] is the whole surface, split into [Services], [Processing], [Monitoring] and
// [Recovery] so that callers depend on the slice they use. *[Hub] implements it.
//
// # Event lifecycle
//
// ProcessIntegrationEvent checks the payload (size, nesting, JSON), resolves the service,
// validates the optional input contract, applies the service's mapping (recording the rule
// name and version), validates the canonical contract (a *[ContractViolationError] lists
// every violation), applies the optional delivery mapping, and inserts the event; from then
// on it is durable and the idempotency key dedupes. In Sync mode (the default) the call
// waits for the first delivery attempt; in Async mode it returns at once.
// ProcessIntegrationEvents accepts a batch in one transaction.
//
// Delivery workers claim due events in batches (chairman overrides first, then priority,
// then age), invoke the service's connector through its resilience policy, and record the
// outcome: 2xx succeeded; transient failures (5xx, 408, 429, network, timeouts) retrying
// with exponential backoff or the remote's Retry-After; permanent failures (other 4xx,
// auth) failed at once; after max_retries retries, dead, with an escalation to the
// service's escalation target. While a service's breaker is open its events are not
// claimed, so they wait without burning retries. Leases are extended while calls run;
// events of a crashed hub return to the queue when their lease expires. Delivery is
// at-least-once; connectors forward the idempotency key so remotes can make it once.
//
// # The event record
//
// Each document is stored once: payload_in is the event as received (compacted);
// canonical_mapping is the mapped canonical document when the service has a mapping (else
// the canonical document is payload_in); payload_out is the request body when a delivery
// mapping made one (else the body is the canonical document). transformation_applied
// records the rule name, version, fields set and duration; error_details the class
// (transient, rate-limited, permanent, auth — rejected credentials, never retried —,
// rejected, canceled or expired), status, vendor code, Retry-After and scrubbed message of
// the last failed attempt.
//
// # Finding events again
//
// GetEvent reads one event; WaitEvent returns it once it reaches a terminal status
// (succeeded, failed, dead, expired, cancelled), woken by this hub's workers or polling the
// store for deliveries by other hubs; ListEvents pages through the events of a service, of
// some statuses, of a creation range or of one data subject. Its pages are keyset pages over
// (created_at, id) with an opaque cursor: following NextCursor returns every event that
// existed when the listing began exactly once, however many arrive meanwhile, and listing
// again from the last cursor later returns only what came since. Listing needs a store with
// store.EventQuerier (memory, SQLite and PostgreSQL have it).
//
// # Typed policies
//
// A service's retry, circuit-breaker, rate-limit and health documents can be given as Go
// values (IntegrationConfig.RetryPolicy, BreakerPolicy, RateLimitPolicy, HealthPolicy: the
// resilience package's RetryConfig, CircuitBreakerConfig, RateLimitConfig and
// HealthCheckConfig), checked by the compiler; the hub stores them as the JSON documents
// that configuration files and the store keep. A typed value given with a JSON document
// that says something else is a *ConfigError.
//
// # Transactional accept
//
// ProcessIntegrationEventTx accepts an event inside the caller's own transaction (a pgx.Tx
// on PostgreSQL, a *sql.Tx on the SQLite store's file): the event exists if and only if the
// transaction commits, so a service writes its rows and the event announcing them
// atomically (the outbox pattern). Delivery starts after the commit: PostgreSQL's NOTIFY,
// sent in the transaction, fires on commit; SQLite's workers find the event on their next
// poll. SQLite has one writer: the store's own writes wait while the caller's transaction
// holds the lock, so keep it short. The in-memory store has no caller transactions
// (ErrNotSupported).
//
// # Many instances
//
// Hubs sharing a PostgreSQL database share the work: claims use FOR UPDATE SKIP LOCKED,
// LISTEN/NOTIFY wakes idle workers, and leases fence completions. Every hub needs the same
// Config.SecretKey. Circuit breakers and rate limiters are per process.
//
// # Inbound events: webhooks, routes, scheduled sync
//
// Events also come in. [Hub.WebhookHandler] serves POST /{service} for every service whose
// connector verifies webhooks (connectors.WebhookVerifier): it checks the signature and
// replay window with the service's sealed credentials (401 without detail when they fail,
// 413 over Config.MaxPayloadBytes) and stores the delivery as an inbound event
// (store.DirectionInbound) keyed by the provider's delivery id, answering 200 only once it
// is stored, so a provider's retry is deduplicated. [Hub.ScheduleSync] pulls services whose
// connector lists records (connectors.Lister) on a schedule kept in the store, one hub per
// service at a time, saving the cursor after each page; each record version becomes one
// inbound event. A [Route] turns the inbound events of a source it accepts into one outbound
// event per destination, stored in the same transaction and naming its source
// ([Hub.EventFanOut]); the hub acknowledges inbound events rather than delivering them.
//
// # Credentials
//
// Services' authentication_config is sealed with AES-256-GCM under Config.SecretKey before
// it reaches the store, bound to the service name. Credentials never appear in logs,
// errors, results, stored payloads or audit entries (which show the keys with redacted
// values). Every service change and recovery action is appended to the audit log.
//
// A sealed document names the key that sealed it ([Hub.SecretKeyID], a hash of the key). To
// rotate the key, give every hub the new key as SecretKey and the old one with
// [WithPreviousSecretKeys], then call [Hub.RotateSecretKey]: it re-seals every credential
// under the new key in batches, each replaced only if unchanged meanwhile, while deliveries
// continue; afterwards the old key can go. Documents sealed before key ids still open.
//
// OAuth tokens a connector obtains or rotates (refresh-token flows) are sealed and saved in
// the store (store.TokenStore), so a restarted hub, or another hub on the same store, uses
// the newest refresh token — with providers that rotate single-use refresh tokens, the only
// one still valid. A refresh runs under the store's token lock: a row lock on PostgreSQL,
// so one refresh happens across all hubs sharing the database; SQLite and memory lock
// within the store handle, so hubs of one process should share it. A service registered
// with auth_url and no refresh token gets its first tokens by consent: [Hub.AuthCodeURL]
// (PKCE, S256) and [Hub.Exchange] with the code the provider returns.
//
// # Tamper-evident audit log
//
// The audit log is one hash chain per store: each entry records its position (Seq), the
// hash of the entry before it and its own SHA-256 over a canonical encoding
// ([store.AuditCanonical]); appends are serialised even across hubs sharing PostgreSQL.
// The hub signs checkpoints of the chain's head (size and hash, an Ed25519 signed note as
// Go's checksum database signs its tree) with a key derived from Config.SecretKey or set with
// [WithAuditKey], every Config.AuditCheckpointInterval and on close. [Hub.VerifyAudit]
// recomputes the chain and names the first altered, inserted, missing or reordered entry,
// and newest entries deleted after a checkpoint ([ErrAuditTampered]; the problems are
// *audit.Problem). [Hub.ExportAudit] writes JSON Lines that package audit verifies offline
// with the public key ([Hub.AuditVerifierKey]) and no store. SQLite and PostgreSQL refuse
// updates and deletes with triggers; an attacker who bypasses them is caught by
// verification. The log fails closed: an action's entry is written before the action
// (register, configure, retry, recovery steps), and when it cannot be written the action
// is refused with [ErrAuditUnavailable]; an action that then fails is followed by an
// "<action>.aborted" entry, so a crash leaves at most an entry without its action, never
// an action without its entry.
//
// # Data lifecycle and personal data
//
// Contracts mark personal fields with "x-pii": true or a category ("email", "phone",
// "name", ...), and the data subject with "x-subject": true on its identifying field (one
// per contract, outside arrays). For such services the hub:
//   - indexes each stored event by the keyed hash of its subject (HMAC-SHA256 under
//     Config.SubjectKey, by default derived from Config.SecretKey), so the index holds no
//     personal data and cannot be reversed by hashing guesses;
//   - masks the event's personal values ("[masked]") in the error details it stores, in
//     its logs and span attributes, and withholds the value in contract violations of
//     personal fields; analytics hold only counts;
//   - with Config.MaskDelivered, stores delivered events with their personal values masked,
//     in the change that records the delivery.
//
// [Hub.EraseSubject] erases a subject's personal data from every stored document of its
// events ("[erased]"), cancels its queued events, and purges the store's copies of the old
// rows: SQLite rebuilds its file (VACUUM) and truncates its WAL, PostgreSQL VACUUMs the
// events table (a dump then shows no trace; VACUUM removes the dead rows but their bytes may
// stay in free space and in the WAL until reused, which only VACUUM FULL or a rebuild
// avoids). The request is stored and resumable: a hub that stops midway leaves it to the
// next one. [Hub.ExportSubject] returns everything held about a subject. Both are
// audited with counts, never with the subject.
//
// Config.Retention deletes old records in bounded batches (each one short transaction):
// terminal events by status and age, health metrics, analytics, per service where set; the
// background cleaner applies it every Config.CleanupInterval ([Hub.RunRetention] on
// demand). Queued and in-flight events are never deleted; expired ones are finalised first.
//
// [Hub.RemoveService] stops a service accepting events, cancels or drains its queue,
// deletes its credentials and frees its name; its data then follows retention.
// IntegrationConfig.DataRegion pins a service to a region, and a hub started
// [WithRegions] claims only events of its regions' services. [Hub.ComplianceReport] gives
// the account of a period: services and regions, data held, personal fields, retention in
// force and removed, subject requests and their completion, chairman overrides.
//
// # Who may do what: authorization, approvals, overrides
//
// Every call passes one trust layer before it acts: the principal travels in the context
// ([WithPrincipal]), the hub checks the permission the call needs, then the approval
// policy, then acts and audits what it did with the principal as the actor. Without
// [WithAuthorization] nothing is checked and a single-tenant embedding stays one line.
//
// With it, a call without a principal, or whose principal lacks the permission, returns a
// *[ForbiddenError] ([ErrForbidden]) naming the permission and the rule that decided, and
// the refusal is audited ("access.denied"). The built-in roles ([DefaultRoles]) are
// chairman (everything), admin (services, credentials, endpoints, data, audit, approvals,
// Start and Close), operator (events, retries, recovery, escalation, enable/disable, tests)
// and viewer (health, analytics, services, text commands, each of whose steps is checked as
// its own call); an [Authorizer] plugs in a platform's own policy and fails closed.
// Store, InstanceID and EngineStats take no context: whoever holds the *Hub holds them.
// [Hub.Authorize] lets a layer that serves hub data to many callers (hubhttp's live
// stream) check each one the same way.
//
// [WithApprovals] names the kinds of change that wait for a second person ([ChangeKind]:
// registering a service, credentials, endpoints, enabling a disabled service, bulk retries,
// deleting data, handing out a data subject's data). Such a call stores a pending request (the change sealed under
// Config.SecretKey and dropped once the request is decided or expired, shown to approvers
// with secrets redacted; [WithReason] adds the justification) and returns an *[ApprovalRequiredError] with its ID. [Hub.Approve]
// applies it as the requester's call, exactly once among hubs sharing the store (a
// conditional status change pending to applying); the approver must hold approval.decide
// and differ from the requester. [Hub.Reject] refuses it; an undecided request expires
// after ApprovalPolicy.TTL and is escalated through the escalation service.
//
// A chairman overrides with [WithOverride] and a mandatory reason: a held-back change
// applies at once, and an event with EventData.ChairmanOverride goes to the front of the
// queue. Each override is audited as an intervention ("governance.intervention");
// [Hub.GovernanceReport] counts interventions, refusals and approvals per period.
//
// # Errors
//
// Errors wrap the sentinels of this package ([ErrNotFound], [ErrUnknownService],
// [ErrInvalidConfig], [ErrInvalidInput], [ErrContractViolation], [ErrCircuitOpen],
// [ErrExpired], [ErrBusy], [ErrClosed], ...) with detail; test them with errors.Is.
// Typed errors carry data for errors.As: *[ConfigError] names the bad field,
// *[ContractViolationError] lists the violations.
//
// # Monitoring
//
// Every delivery outcome feeds a per-service health monitor as it is recorded: a rolling
// window (health_check_config window_seconds, default 300) of outcomes and latencies, the
// primary endpoint's breaker (through the policy's state listener), the remote quota read
// from each response's rate-limit headers, and a probe through the connector's Check every
// interval_seconds (default 30; negative disables). The status is judged on each of these:
// unhealthy when the breaker is open or the error rate or p95 latency reaches its critical
// threshold (error_rate_critical 0.25, latency_p95_critical_ms 10000), degraded when
// half-open or at a warning threshold (0.05, 2000 ms) or when a probe fails, unknown with
// fewer than min_samples (5) outcomes and no probe. [Hub.Subscribe] delivers each change
// as it is judged (BenchmarkHealthPropagation: well under a millisecond from the failing
// response). Each change is stored as integration_health_metrics rows (error_rate and
// response_time with their thresholds and status, rate_limit_headroom when known, with
// incident_triggered and the recovery actions taken or recommended); each probe as an
// availability row.
//
// Early warnings, reported with their evidence and a recommendation in
// [ServiceHealth].Warnings: latency_anomaly and error_rate_anomaly (EWMA baseline, z-score
// beyond 4 for two buckets in a row), error_rate_trend (least-squares slope reaching
// error_rate_critical within a window), quota_exhaustion (linear forecast of the remaining
// quota before its reset), breaker_flapping (three openings in ten minutes),
// probe_failing.
//
// [Hub.GetPerformanceMetrics] and [Hub.GetIntegrationAnalytics] aggregate in the store
// (SQL for SQLite and PostgreSQL). The analytics rollup job (Config.RollupInterval) upserts
// the current and previous hour and day of every service; a query rolls up its range and
// the previous one first. Uptime is the share of passed probes in the period (the
// succeeded share of outcomes when there were none); cost is CostPerCall times events.
//
// # Telemetry
//
// The hub uses Config.TracerProvider and Config.MeterProvider (instrumentation scope
// "github.com/ehg/hub").
//
// Spans:
//   - hub.process_event: one ProcessIntegrationEvent call. Attributes hub.service,
//     hub.operation; at the end hub.event.id, hub.service.id, hub.status (the event's
//     status), hub.retry_count. Errors are recorded (status Error, exception event).
//   - hub.validate and hub.transform: children covering the event pipeline, which checks
//     the payload, validates the contracts and applies the mappings in one fused pass, so
//     both span that pass (attribute hub.fused=true); the span of the failing step carries
//     the error; hub.transform is absent without a mapping or when the payload or input
//     contract failed first.
//   - hub.persist: the child that stores the event.
//   - hub.deliver: one delivery attempt by a worker, a child of hub.process_event when the
//     caller waits (Sync), else a root span. Attributes hub.service, hub.service.id,
//     hub.operation, hub.event.id, hub.retry_count (before the attempt), hub.status
//     ("succeeded" or the error class: transient, rate-limited, permanent, rejected, canceled),
//     http.response.status_code when a response arrived.
//
// Metrics:
//   - hub.events (counter, {event}): outcomes by hub.service and hub.outcome (succeeded,
//     retrying, failed, dead, expired, deferred).
//   - hub.delivery.duration (histogram, ms): attempt latency by hub.service and hub.outcome.
//   - hub.queue.depth (gauge, {event}): events by hub.status, counted by the store at each
//     collection.
//   - hub.breaker.state (gauge): each service's primary breaker by hub.service: 0 closed,
//     1 half-open, 2 open.
//
// # Testing
//
// Package hubtest starts hubs for tests and provides Sink, a stand-in remote that counts
// deliveries by idempotency key and fails on demand, WaitForStatus, and a fake Clock shared
// by the store and the hub (NewWithClock).
package hub
