-- 0005: the data lifecycle. Services may be pinned to a data region; events carry the keyed
-- hash of their data subject (never the identity itself); retention deletes terminal events
-- by age through their own index; data-subject requests (erasure, access) are stored so an
-- erasure resumes after a restart.

ALTER TABLE {schema}.integration_services ADD COLUMN data_region text NOT NULL DEFAULT ''
    CHECK (data_region ~ '^([a-z0-9][a-z0-9_-]{0,62})?$');

-- Region claims look services up by region.
CREATE INDEX integration_services_region_idx ON {schema}.integration_services (data_region, id);

ALTER TABLE {schema}.integration_events ADD COLUMN subject_key text
    CHECK (subject_key <> '' AND length(subject_key) <= 128);

-- Erasure and access: the events of one subject, in id order. Only events with a subject
-- are indexed.
CREATE INDEX integration_events_subject_idx ON {schema}.integration_events (subject_key, id)
    WHERE subject_key IS NOT NULL;

-- Retention: terminal events by status and the time they reached it. Queued and in-flight
-- events are not in it. (Claims and completions change status, already indexed by the
-- partial indexes' predicates, so this index costs no heap-only update they had.)
CREATE INDEX integration_events_retention_idx ON {schema}.integration_events (status, updated_at)
    WHERE status IN ('succeeded', 'failed', 'dead', 'expired', 'cancelled');

CREATE TABLE {schema}.subject_requests (
    id           uuid        PRIMARY KEY,
    kind         text        NOT NULL CHECK (kind IN ('erasure', 'access')),
    subject_key  text        CHECK (subject_key <> '' AND length(subject_key) <= 128),
    status       text        NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    actor        text        NOT NULL CHECK (actor <> ''),
    records      bigint      NOT NULL DEFAULT 0 CHECK (records >= 0),
    error        text        NOT NULL DEFAULT '',
    requested_at timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    completed_at timestamptz,
    owner        text,
    lease_until  timestamptz,
    CONSTRAINT subject_requests_lease_check CHECK ((owner IS NULL) = (lease_until IS NULL))
);

CREATE INDEX subject_requests_requested_idx ON {schema}.subject_requests (requested_at, id);
-- The erasures a hub may take over.
CREATE INDEX subject_requests_running_idx ON {schema}.subject_requests (requested_at, id)
    WHERE status = 'running' AND kind = 'erasure';
