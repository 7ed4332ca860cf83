-- 0005: the data lifecycle. Services may be pinned to a data region; events carry the keyed
-- hash of their data subject (never the identity itself); retention deletes terminal events
-- by age through their own index; data-subject requests (erasure, access) are stored so an
-- erasure resumes after a restart.

ALTER TABLE integration_services ADD COLUMN data_region TEXT NOT NULL DEFAULT ''
    CHECK (length(data_region) <= 63 AND data_region = lower(data_region));

-- Region claims look services up by region.
CREATE INDEX integration_services_region_idx ON integration_services (data_region, id);

ALTER TABLE integration_events ADD COLUMN subject_key TEXT
    CHECK (subject_key <> '' AND length(subject_key) <= 128);

-- Erasure and access: the events of one subject, in id order. Only events with a subject
-- are indexed.
CREATE INDEX integration_events_subject_idx ON integration_events (subject_key, id)
    WHERE subject_key IS NOT NULL;

-- Retention: terminal events by status and the time they reached it. Queued and in-flight
-- events are not in it, so claims and lease extensions never touch it.
CREATE INDEX integration_events_retention_idx ON integration_events (status, updated_at)
    WHERE status IN ('succeeded', 'failed', 'dead', 'expired', 'cancelled');

CREATE TABLE subject_requests (
    id           TEXT    NOT NULL PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('erasure', 'access')),
    subject_key  TEXT    CHECK (subject_key <> '' AND length(subject_key) <= 128),
    status       TEXT    NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    actor        TEXT    NOT NULL CHECK (actor <> ''),
    records      INTEGER NOT NULL DEFAULT 0 CHECK (records >= 0),
    error        TEXT    NOT NULL DEFAULT '',
    requested_at INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    completed_at INTEGER,
    owner        TEXT,
    lease_until  INTEGER,
    CONSTRAINT subject_requests_lease_check CHECK ((owner IS NULL) = (lease_until IS NULL))
) STRICT;

CREATE INDEX subject_requests_requested_idx ON subject_requests (requested_at, id);
-- The erasures a hub may take over.
CREATE INDEX subject_requests_running_idx ON subject_requests (requested_at, id)
    WHERE status = 'running' AND kind = 'erasure';
