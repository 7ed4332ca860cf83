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
// records the rule name, version, fields set and duration; error_details the class,
// status, vendor code, Retry-After and scrubbed message of the last failed attempt.
//
// # Many instances
//
// Hubs sharing a PostgreSQL database share the work: claims use FOR UPDATE SKIP LOCKED,
// LISTEN/NOTIFY wakes idle workers, and leases fence completions. Every hub needs the same
// Config.SecretKey. Circuit breakers and rate limiters are per process.
//
// # Credentials
//
// Services' authentication_config is sealed with AES-256-GCM under Config.SecretKey before
// it reaches the store, bound to the service name. Credentials never appear in logs,
// errors, results, stored payloads or audit entries (which show the keys with redacted
// values). Every service change and recovery action is appended to the audit log.
//
// # Errors
//
// Errors wrap the sentinels of this package ([ErrNotFound], [ErrUnknownService],
// [ErrInvalidConfig], [ErrInvalidInput], [ErrContractViolation], [ErrCircuitOpen],
// [ErrExpired], [ErrBusy], [ErrClosed], ...) with detail; test them with errors.Is.
// Typed errors carry data for errors.As: *[ConfigError] names the bad field,
// *[ContractViolationError] lists the violations.
//
// # Testing
//
// Package hubtest starts hubs for tests and provides Sink, a stand-in remote that counts
// deliveries by idempotency key and fails on demand.
package hub
