-- 0002: columns the records need to tell the truth: when a service's health was last probed
-- or judged, an analytics uptime that is NULL when unknown (nothing probed the service and
-- no delivery reached an outcome), and the performance trends of each rollup.

ALTER TABLE {schema}.integration_services ADD COLUMN last_health_check timestamptz;

ALTER TABLE {schema}.integration_analytics
    ALTER COLUMN uptime_percent DROP NOT NULL,
    ALTER COLUMN uptime_percent DROP DEFAULT,
    ADD CONSTRAINT integration_analytics_uptime_check CHECK (uptime_percent BETWEEN 0 AND 100),
    ADD COLUMN performance_trends jsonb;
