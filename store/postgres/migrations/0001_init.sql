-- 0001: the hub's tables, their enumerations (CHECK constraints), and the queue and aggregate
-- indexes. {schema} is the quoted schema name, substituted by the migration runner.
--
-- There is deliberately no NOTIFY trigger: PostgreSQL serialises the commits of every
-- transaction that notifies, so a trigger on the insert path would cap concurrent inserts at
-- one commit at a time. The store notifies from Go instead, coalesced, after commit.

CREATE TABLE {schema}.integration_services (
    id                     uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name                   text        NOT NULL CHECK (name <> ''),
    category               text        NOT NULL CHECK (category IN ('crm', 'communication',
                               'development', 'project_management', 'analytics', 'payments',
                               'storage', 'other')),
    connector_kind         text        NOT NULL CHECK (connector_kind <> ''),
    base_url               text        NOT NULL DEFAULT '',
    authentication_config  jsonb,
    connector_config       jsonb,
    rate_limits            jsonb,
    circuit_breaker_config jsonb,
    retry_config           jsonb,
    max_retries            integer     NOT NULL DEFAULT 0 CHECK (max_retries >= 0),
    schema_mappings        jsonb,
    health_check_config    jsonb,
    backup_urls            text[]      NOT NULL DEFAULT '{}',
    is_active              boolean     NOT NULL DEFAULT true,
    health_status          text        NOT NULL DEFAULT 'unknown'
                               CHECK (health_status IN ('unknown', 'healthy', 'degraded', 'unhealthy')),
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    CONSTRAINT integration_services_name_key UNIQUE (name)
);

CREATE INDEX integration_services_category_idx ON {schema}.integration_services (category, name);

CREATE TABLE {schema}.integration_events (
    id                     uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    venture_id             uuid,
    service_id             uuid        NOT NULL,
    service_name           text        NOT NULL CHECK (service_name <> ''),
    service_type           text        NOT NULL DEFAULT '',
    operation              text        NOT NULL DEFAULT '',
    endpoint_url           text        NOT NULL DEFAULT '',
    request_method         text        NOT NULL DEFAULT 'POST'
                               CHECK (request_method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
    payload_in             jsonb,
    payload_in_bytes       bigint      NOT NULL DEFAULT 0 CHECK (payload_in_bytes >= 0),
    payload_out            jsonb,
    transformation_applied jsonb,
    canonical_mapping      jsonb,
    status                 text        NOT NULL DEFAULT 'pending'
                               CHECK (status IN ('pending', 'processing', 'succeeded', 'retrying',
                                                 'failed', 'dead', 'expired', 'cancelled')),
    response_code          integer     NOT NULL DEFAULT 0,
    response_time_ms       bigint      NOT NULL DEFAULT 0,
    error_details          jsonb,
    retry_count            integer     NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    max_retries            integer     NOT NULL DEFAULT 0 CHECK (max_retries >= 0),
    priority_level         text        NOT NULL DEFAULT 'normal'
                               CHECK (priority_level IN ('low', 'normal', 'high', 'critical')),
    -- priority_rank orders claims (critical first) without a CASE in the claim query.
    priority_rank          smallint    GENERATED ALWAYS AS (CASE priority_level
                               WHEN 'low' THEN 1 WHEN 'normal' THEN 2 WHEN 'high' THEN 3
                               WHEN 'critical' THEN 4 ELSE 0 END) STORED,
    chairman_override      boolean     NOT NULL DEFAULT false,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    completed_at           timestamptz,
    expires_at             timestamptz,
    idempotency_key        text        CHECK (idempotency_key <> ''),
    next_attempt_at        timestamptz NOT NULL,
    lease_owner            text,
    lease_until            timestamptz,
    CONSTRAINT integration_events_lease_check CHECK (
        (status = 'processing') = (lease_owner IS NOT NULL AND lease_until IS NOT NULL))
);

-- Idempotency: one key per service. Partial, so events without a key cost no entry; inserts
-- name the predicate in ON CONFLICT to use it.
CREATE UNIQUE INDEX integration_events_idempotency_key ON {schema}.integration_events
    (service_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- The claim: due events in claim order. Only pending and retrying rows are indexed, so the
-- index stays as small as the backlog however many events have been delivered.
-- next_attempt_at is a trailing key column (not INCLUDE) so that "next_attempt_at <= now"
-- is checked on the index entries: events waiting for a later retry are skipped without
-- visiting the table (measured: 10,000 not-yet-due retries ahead of the due events made the
-- planner fall back to a sequential scan with INCLUDE; with the key column it stays an
-- ordered index scan touching only due rows).
CREATE INDEX integration_events_due_idx ON {schema}.integration_events
    (chairman_override DESC, priority_rank DESC, created_at, id, next_attempt_at)
    WHERE status IN ('pending', 'retrying');
-- ReleaseExpiredLeases. The predicate names lease_until, not status (equivalent by the lease
-- check), so fenced completions, which look events up by id, are not tempted to scan it.
CREATE INDEX integration_events_lease_idx ON {schema}.integration_events (lease_until)
    WHERE lease_until IS NOT NULL;
-- ExpireEvents.
CREATE INDEX integration_events_expiry_idx ON {schema}.integration_events (expires_at)
    WHERE status IN ('pending', 'retrying') AND expires_at IS NOT NULL;
-- ListEvents and the aggregates over a service and a creation range.
CREATE INDEX integration_events_service_created_idx ON {schema}.integration_events
    (service_id, created_at, id);
CREATE INDEX integration_events_created_idx ON {schema}.integration_events (created_at, id);
-- RequeueEvents: the failed and dead events (few) by service and creation time.
CREATE INDEX integration_events_requeue_idx ON {schema}.integration_events (service_id, created_at)
    WHERE status IN ('failed', 'dead');

-- Every event is updated twice or more within minutes of its insert: vacuum and analyze
-- the queue table far more often than the defaults (20% / 10% of the table), so dead index
-- entries do not pile up in front of the claim and the planner's estimates stay current.
ALTER TABLE {schema}.integration_events SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.05);

-- Payloads are a few kilobytes, so TOAST compresses them: prefer lz4, far cheaper than the
-- default pglz, when the server was built with it (PostgreSQL 14+); keep pglz otherwise.
DO $$
BEGIN
    ALTER TABLE {schema}.integration_events
        ALTER COLUMN payload_in SET COMPRESSION lz4,
        ALTER COLUMN payload_out SET COMPRESSION lz4,
        ALTER COLUMN canonical_mapping SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR syntax_error THEN
    NULL;
END;
$$;

CREATE TABLE {schema}.integration_health_metrics (
    id                 uuid             PRIMARY KEY DEFAULT gen_random_uuid(),
    service_id         uuid             NOT NULL,
    metric_type        text             NOT NULL CHECK (metric_type IN ('response_time',
                           'error_rate', 'availability', 'throughput', 'rate_limit_headroom',
                           'queue_depth')),
    value              double precision NOT NULL,
    warning_threshold  double precision,
    critical_threshold double precision,
    status             text             NOT NULL CHECK (status IN ('normal', 'warning', 'critical')),
    incident_triggered boolean          NOT NULL DEFAULT false,
    recovery_actions   jsonb,
    recorded_at        timestamptz      NOT NULL
);

CREATE INDEX integration_health_metrics_service_idx ON {schema}.integration_health_metrics
    (service_id, metric_type, recorded_at DESC);
CREATE INDEX integration_health_metrics_recorded_idx ON {schema}.integration_health_metrics
    (recorded_at DESC, id);

CREATE TABLE {schema}.data_transformation_rules (
    id                   uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name                 text        NOT NULL CHECK (name <> ''),
    version              integer     NOT NULL CHECK (version >= 1),
    service_id           uuid,
    source_schema        jsonb,
    target_schema        jsonb,
    transformation_logic jsonb       NOT NULL,
    validation_rules     jsonb,
    is_bidirectional     boolean     NOT NULL DEFAULT false,
    is_active            boolean     NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    CONSTRAINT data_transformation_rules_name_version_key UNIQUE (name, version)
);

-- At most one active version per name.
CREATE UNIQUE INDEX data_transformation_rules_active_idx ON {schema}.data_transformation_rules (name)
    WHERE is_active;

CREATE TABLE {schema}.integration_analytics (
    id                     uuid             PRIMARY KEY DEFAULT gen_random_uuid(),
    service_id             uuid             NOT NULL,
    service_name           text             NOT NULL DEFAULT '',
    period                 text             NOT NULL CHECK (period IN ('hour', 'day')),
    period_start           timestamptz      NOT NULL,
    total_events           bigint           NOT NULL DEFAULT 0 CHECK (total_events >= 0),
    successes              bigint           NOT NULL DEFAULT 0 CHECK (successes >= 0),
    failures               bigint           NOT NULL DEFAULT 0 CHECK (failures >= 0),
    avg_response_time_ms   double precision NOT NULL DEFAULT 0,
    error_rate             double precision NOT NULL DEFAULT 0,
    uptime_percent         double precision NOT NULL DEFAULT 0,
    data_volume_bytes      bigint           NOT NULL DEFAULT 0 CHECK (data_volume_bytes >= 0),
    chairman_interventions bigint           NOT NULL DEFAULT 0 CHECK (chairman_interventions >= 0),
    cost                   double precision NOT NULL DEFAULT 0,
    created_at             timestamptz      NOT NULL,
    updated_at             timestamptz      NOT NULL,
    CONSTRAINT integration_analytics_key UNIQUE (service_id, period, period_start)
);

CREATE INDEX integration_analytics_period_idx ON {schema}.integration_analytics
    (period, period_start);

CREATE TABLE {schema}.data_contracts (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text        NOT NULL CHECK (name <> ''),
    version     text        NOT NULL CHECK (version <> ''),
    description text        NOT NULL DEFAULT '',
    schema      jsonb       NOT NULL,
    created_at  timestamptz NOT NULL,
    CONSTRAINT data_contracts_name_version_key UNIQUE (name, version)
);

CREATE INDEX data_contracts_name_created_idx ON {schema}.data_contracts (name, created_at, version);

CREATE TABLE {schema}.audit_log (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    actor       text        NOT NULL CHECK (actor <> ''),
    action      text        NOT NULL CHECK (action <> ''),
    entity_type text        NOT NULL CHECK (entity_type <> ''),
    entity_id   text        NOT NULL DEFAULT '',
    before      jsonb,
    after       jsonb,
    created_at  timestamptz NOT NULL
);

CREATE INDEX audit_log_entity_idx ON {schema}.audit_log (entity_type, entity_id, created_at, id);
CREATE INDEX audit_log_created_idx ON {schema}.audit_log (created_at, id);

-- The audit log is append-only: refuse updates and deletes at the database too.
CREATE FUNCTION {schema}.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON {schema}.audit_log
    FOR EACH ROW EXECUTE FUNCTION {schema}.audit_log_append_only();
