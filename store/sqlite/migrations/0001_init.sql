-- 0001: the hub's tables with their enumerations (CHECK), JSON columns (TEXT checked with
-- json_valid), times as INTEGER unix microseconds (UTC), and the indexes of the queue and the
-- aggregate queries. Tables are STRICT so a wrongly typed value is refused, not coerced.

CREATE TABLE integration_services (
    id                     TEXT    NOT NULL PRIMARY KEY,
    name                   TEXT    NOT NULL CHECK (name <> ''),
    category               TEXT    NOT NULL CHECK (category IN ('crm', 'communication',
                               'development', 'project_management', 'analytics', 'payments',
                               'storage', 'other')),
    connector_kind         TEXT    NOT NULL CHECK (connector_kind <> ''),
    base_url               TEXT    NOT NULL DEFAULT '',
    authentication_config  TEXT    CHECK (json_valid(authentication_config)),
    connector_config       TEXT    CHECK (json_valid(connector_config)),
    rate_limits            TEXT    CHECK (json_valid(rate_limits)),
    circuit_breaker_config TEXT    CHECK (json_valid(circuit_breaker_config)),
    retry_config           TEXT    CHECK (json_valid(retry_config)),
    max_retries            INTEGER NOT NULL DEFAULT 0 CHECK (max_retries >= 0),
    schema_mappings        TEXT    CHECK (json_valid(schema_mappings)),
    health_check_config    TEXT    CHECK (json_valid(health_check_config)),
    backup_urls            TEXT    CHECK (json_valid(backup_urls) AND json_type(backup_urls) = 'array'),
    is_active              INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    health_status          TEXT    NOT NULL DEFAULT 'unknown'
                               CHECK (health_status IN ('unknown', 'healthy', 'degraded', 'unhealthy')),
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    CONSTRAINT integration_services_name_key UNIQUE (name)
) STRICT;

CREATE INDEX integration_services_category_idx ON integration_services (category, name);

CREATE TABLE integration_events (
    id                     TEXT    NOT NULL PRIMARY KEY,
    venture_id             TEXT,
    service_id             TEXT    NOT NULL,
    service_name           TEXT    NOT NULL CHECK (service_name <> ''),
    service_type           TEXT    NOT NULL DEFAULT '',
    operation              TEXT    NOT NULL DEFAULT '',
    endpoint_url           TEXT    NOT NULL DEFAULT '',
    request_method         TEXT    NOT NULL DEFAULT 'POST'
                               CHECK (request_method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
    payload_in             TEXT    CHECK (json_valid(payload_in)),
    -- payload_in_bytes is len(payload_in) in bytes (SQLite's length() counts characters).
    payload_in_bytes       INTEGER NOT NULL DEFAULT 0 CHECK (payload_in_bytes >= 0),
    payload_out            TEXT    CHECK (json_valid(payload_out)),
    transformation_applied TEXT    CHECK (json_valid(transformation_applied)),
    canonical_mapping      TEXT    CHECK (json_valid(canonical_mapping)),
    status                 TEXT    NOT NULL DEFAULT 'pending'
                               CHECK (status IN ('pending', 'processing', 'succeeded', 'retrying',
                                                 'failed', 'dead', 'expired', 'cancelled')),
    response_code          INTEGER NOT NULL DEFAULT 0,
    response_time_ms       INTEGER NOT NULL DEFAULT 0,
    error_details          TEXT    CHECK (json_valid(error_details)),
    retry_count            INTEGER NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    max_retries            INTEGER NOT NULL DEFAULT 0 CHECK (max_retries >= 0),
    priority_level         TEXT    NOT NULL DEFAULT 'normal'
                               CHECK (priority_level IN ('low', 'normal', 'high', 'critical')),
    -- priority_rank orders claims (critical first) without a CASE in the claim query. It is
    -- a plain column checked against priority_level, not a generated one, because SQLite
    -- cannot read a generated column from an index, and the claim's index must cover it.
    priority_rank          INTEGER NOT NULL CHECK (priority_rank = CASE priority_level
                               WHEN 'low' THEN 1 WHEN 'normal' THEN 2 WHEN 'high' THEN 3
                               WHEN 'critical' THEN 4 END),
    chairman_override      INTEGER NOT NULL DEFAULT 0 CHECK (chairman_override IN (0, 1)),
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    completed_at           INTEGER,
    expires_at             INTEGER,
    idempotency_key        TEXT    CHECK (idempotency_key <> ''),
    next_attempt_at        INTEGER NOT NULL,
    lease_owner            TEXT,
    lease_until            INTEGER,
    CONSTRAINT integration_events_idempotency_key UNIQUE (service_id, idempotency_key),
    CONSTRAINT integration_events_lease_check CHECK (
        (status = 'processing') = (lease_owner IS NOT NULL AND lease_until IS NOT NULL))
) STRICT;

-- The claim: due events in claim order. Only pending and retrying rows are indexed, so the
-- index stays as small as the backlog however many events have been delivered. It covers
-- the claim's filters, so events not yet due are skipped without reading their rows.
CREATE INDEX integration_events_due_idx ON integration_events
    (chairman_override DESC, priority_rank DESC, created_at, id, next_attempt_at, expires_at,
     service_id, status)
    WHERE status IN ('pending', 'retrying');
-- ReleaseExpiredLeases and the lease-fenced updates.
CREATE INDEX integration_events_lease_idx ON integration_events (lease_until)
    WHERE status = 'processing';
-- ExpireEvents.
CREATE INDEX integration_events_expiry_idx ON integration_events (expires_at)
    WHERE status IN ('pending', 'retrying') AND expires_at IS NOT NULL;
-- ListEvents and the aggregates over a service and a creation range.
CREATE INDEX integration_events_service_created_idx ON integration_events
    (service_id, created_at, id);
CREATE INDEX integration_events_created_idx ON integration_events (created_at, id);
-- RequeueEvents: only the failed and dead events, so queue traffic never touches it.
CREATE INDEX integration_events_requeue_idx ON integration_events (service_id, created_at)
    WHERE status IN ('failed', 'dead');

CREATE TABLE integration_health_metrics (
    id                 TEXT    NOT NULL PRIMARY KEY,
    service_id         TEXT    NOT NULL,
    metric_type        TEXT    NOT NULL CHECK (metric_type IN ('response_time', 'error_rate',
                           'availability', 'throughput', 'rate_limit_headroom', 'queue_depth')),
    value              REAL    NOT NULL,
    warning_threshold  REAL,
    critical_threshold REAL,
    status             TEXT    NOT NULL CHECK (status IN ('normal', 'warning', 'critical')),
    incident_triggered INTEGER NOT NULL DEFAULT 0 CHECK (incident_triggered IN (0, 1)),
    recovery_actions   TEXT    CHECK (json_valid(recovery_actions)),
    recorded_at        INTEGER NOT NULL
) STRICT;

CREATE INDEX integration_health_metrics_service_idx ON integration_health_metrics
    (service_id, metric_type, recorded_at DESC);
CREATE INDEX integration_health_metrics_recorded_idx ON integration_health_metrics
    (recorded_at DESC, id);

CREATE TABLE data_transformation_rules (
    id                   TEXT    NOT NULL PRIMARY KEY,
    name                 TEXT    NOT NULL CHECK (name <> ''),
    version              INTEGER NOT NULL CHECK (version >= 1),
    service_id           TEXT,
    source_schema        TEXT    CHECK (json_valid(source_schema)),
    target_schema        TEXT    CHECK (json_valid(target_schema)),
    transformation_logic TEXT    NOT NULL CHECK (json_valid(transformation_logic)),
    validation_rules     TEXT    CHECK (json_valid(validation_rules)),
    is_bidirectional     INTEGER NOT NULL DEFAULT 0 CHECK (is_bidirectional IN (0, 1)),
    is_active            INTEGER NOT NULL DEFAULT 0 CHECK (is_active IN (0, 1)),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    CONSTRAINT data_transformation_rules_name_version_key UNIQUE (name, version)
) STRICT;

-- At most one active version per name.
CREATE UNIQUE INDEX data_transformation_rules_active_idx ON data_transformation_rules (name)
    WHERE is_active = 1;

CREATE TABLE integration_analytics (
    id                     TEXT    NOT NULL PRIMARY KEY,
    service_id             TEXT    NOT NULL,
    service_name           TEXT    NOT NULL DEFAULT '',
    period                 TEXT    NOT NULL CHECK (period IN ('hour', 'day')),
    period_start           INTEGER NOT NULL,
    total_events           INTEGER NOT NULL DEFAULT 0 CHECK (total_events >= 0),
    successes              INTEGER NOT NULL DEFAULT 0 CHECK (successes >= 0),
    failures               INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    avg_response_time_ms   REAL    NOT NULL DEFAULT 0,
    error_rate             REAL    NOT NULL DEFAULT 0,
    uptime_percent         REAL    NOT NULL DEFAULT 0,
    data_volume_bytes      INTEGER NOT NULL DEFAULT 0 CHECK (data_volume_bytes >= 0),
    chairman_interventions INTEGER NOT NULL DEFAULT 0 CHECK (chairman_interventions >= 0),
    cost                   REAL    NOT NULL DEFAULT 0,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    CONSTRAINT integration_analytics_key UNIQUE (service_id, period, period_start)
) STRICT;

CREATE INDEX integration_analytics_period_idx ON integration_analytics (period, period_start);

CREATE TABLE data_contracts (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL CHECK (name <> ''),
    version     TEXT    NOT NULL CHECK (version <> ''),
    description TEXT    NOT NULL DEFAULT '',
    schema      TEXT    NOT NULL CHECK (json_valid(schema)),
    created_at  INTEGER NOT NULL,
    CONSTRAINT data_contracts_name_version_key UNIQUE (name, version)
) STRICT;

CREATE INDEX data_contracts_name_created_idx ON data_contracts (name, created_at, version);

CREATE TABLE audit_log (
    id          TEXT    NOT NULL PRIMARY KEY,
    actor       TEXT    NOT NULL CHECK (actor <> ''),
    action      TEXT    NOT NULL CHECK (action <> ''),
    entity_type TEXT    NOT NULL CHECK (entity_type <> ''),
    entity_id   TEXT    NOT NULL DEFAULT '',
    before      TEXT    CHECK (json_valid(before)),
    after       TEXT    CHECK (json_valid(after)),
    created_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id, created_at, id);
CREATE INDEX audit_log_created_idx ON audit_log (created_at, id);

-- The audit log is append-only: refuse updates and deletes at the database too.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
