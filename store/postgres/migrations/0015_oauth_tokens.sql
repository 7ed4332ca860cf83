-- 0015: OAuth tokens connectors obtain or rotate, sealed by the hub, so a restarted hub or
-- another hub on the same database uses the newest one. A refresh locks the service's row
-- (created empty, version 0, on first use), so one refresh happens across all hubs.

CREATE TABLE {schema}.integration_oauth_tokens (
    service_id uuid        PRIMARY KEY REFERENCES {schema}.integration_services (id),
    token      jsonb,
    version    bigint      NOT NULL CHECK (version >= 0),
    updated_at timestamptz NOT NULL
);
