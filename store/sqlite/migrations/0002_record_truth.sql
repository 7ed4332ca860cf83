-- 0002: columns the records need to tell the truth: when a service's health was last probed
-- or judged, an analytics uptime that is NULL when unknown (nothing probed the service and
-- no delivery reached an outcome), and the performance trends of each rollup.

ALTER TABLE integration_services ADD COLUMN last_health_check INTEGER;

-- SQLite cannot drop a NOT NULL constraint: integration_analytics is rebuilt with
-- uptime_percent nullable and the performance_trends column. Rows keep their values.
CREATE TABLE integration_analytics_0002 (
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
    uptime_percent         REAL    CHECK (uptime_percent BETWEEN 0 AND 100),
    data_volume_bytes      INTEGER NOT NULL DEFAULT 0 CHECK (data_volume_bytes >= 0),
    chairman_interventions INTEGER NOT NULL DEFAULT 0 CHECK (chairman_interventions >= 0),
    cost                   REAL    NOT NULL DEFAULT 0,
    performance_trends     TEXT    CHECK (json_valid(performance_trends)),
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    CONSTRAINT integration_analytics_key UNIQUE (service_id, period, period_start)
) STRICT;

INSERT INTO integration_analytics_0002 (id, service_id, service_name, period, period_start,
    total_events, successes, failures, avg_response_time_ms, error_rate, uptime_percent,
    data_volume_bytes, chairman_interventions, cost, created_at, updated_at)
SELECT id, service_id, service_name, period, period_start, total_events, successes, failures,
    avg_response_time_ms, error_rate, uptime_percent, data_volume_bytes, chairman_interventions,
    cost, created_at, updated_at
FROM integration_analytics;

DROP TABLE integration_analytics;
ALTER TABLE integration_analytics_0002 RENAME TO integration_analytics;
CREATE INDEX integration_analytics_period_idx ON integration_analytics (period, period_start);
