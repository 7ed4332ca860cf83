-- 0006: inbound events. An event is outbound (delivered to its service by a connector) or
-- inbound (received from its service: a verified webhook or a record pulled by a sync);
-- the hub acknowledges an inbound event instead of delivering it. The events a route
-- derives from an inbound event name it in source_event_id, and are stored in the same
-- transaction. Sync schedules hold each pulled service's period, cursor, high-water mark
-- and the lease of the hub pulling it.

ALTER TABLE {schema}.integration_events ADD COLUMN direction text NOT NULL DEFAULT 'outbound'
    CHECK (direction IN ('outbound', 'inbound'));
ALTER TABLE {schema}.integration_events ADD COLUMN source_event_id uuid;

-- The events derived from one inbound event, oldest first. Only derived events are indexed.
CREATE INDEX integration_events_source_idx ON {schema}.integration_events (source_event_id, created_at, id)
    WHERE source_event_id IS NOT NULL;

CREATE TABLE {schema}.sync_schedules (
    service_id     uuid        PRIMARY KEY,
    interval_ms    bigint      NOT NULL CHECK (interval_ms > 0),
    operation      text        NOT NULL DEFAULT '',
    params         jsonb,
    page_size      integer     NOT NULL DEFAULT 0 CHECK (page_size >= 0),
    id_field       text        NOT NULL DEFAULT '',
    version_field  text        NOT NULL DEFAULT '',
    enabled        boolean     NOT NULL DEFAULT true,
    cursor         text        NOT NULL DEFAULT '',
    high_water     timestamptz,
    run_started_at timestamptz,
    next_run_at    timestamptz NOT NULL,
    last_run_at    timestamptz,
    last_error     text        NOT NULL DEFAULT '',
    records        bigint      NOT NULL DEFAULT 0 CHECK (records >= 0),
    owner          text,
    lease_until    timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CONSTRAINT sync_schedules_lease_check CHECK ((owner IS NULL) = (lease_until IS NULL))
);

-- The claim: enabled schedules by when they are due.
CREATE INDEX sync_schedules_due_idx ON {schema}.sync_schedules (next_run_at) WHERE enabled;
