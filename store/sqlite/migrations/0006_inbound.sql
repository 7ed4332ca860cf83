-- 0006: inbound events. An event is outbound (delivered to its service by a connector) or
-- inbound (received from its service: a verified webhook or a record pulled by a sync);
-- the hub acknowledges an inbound event instead of delivering it. The events a route
-- derives from an inbound event name it in source_event_id, and are stored in the same
-- transaction. Sync schedules hold each pulled service's period, cursor, high-water mark
-- and the lease of the hub pulling it.

ALTER TABLE integration_events ADD COLUMN direction TEXT NOT NULL DEFAULT 'outbound'
    CHECK (direction IN ('outbound', 'inbound'));
ALTER TABLE integration_events ADD COLUMN source_event_id TEXT
    CHECK (source_event_id <> '');

-- The events derived from one inbound event, oldest first. Only derived events are indexed.
CREATE INDEX integration_events_source_idx ON integration_events (source_event_id, created_at, id)
    WHERE source_event_id IS NOT NULL;

CREATE TABLE sync_schedules (
    service_id    TEXT    NOT NULL PRIMARY KEY,
    interval_ms   INTEGER NOT NULL CHECK (interval_ms > 0),
    operation     TEXT    NOT NULL DEFAULT '',
    params        TEXT    CHECK (json_valid(params)),
    page_size     INTEGER NOT NULL DEFAULT 0 CHECK (page_size >= 0),
    id_field      TEXT    NOT NULL DEFAULT '',
    version_field TEXT    NOT NULL DEFAULT '',
    enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    cursor        TEXT    NOT NULL DEFAULT '',
    high_water    INTEGER,
    run_started_at INTEGER,
    next_run_at   INTEGER NOT NULL,
    last_run_at   INTEGER,
    last_error    TEXT    NOT NULL DEFAULT '',
    records       INTEGER NOT NULL DEFAULT 0 CHECK (records >= 0),
    owner         TEXT,
    lease_until   INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    CONSTRAINT sync_schedules_lease_check CHECK ((owner IS NULL) = (lease_until IS NULL))
) STRICT;

-- The claim: enabled schedules by when they are due.
CREATE INDEX sync_schedules_due_idx ON sync_schedules (next_run_at) WHERE enabled = 1;
