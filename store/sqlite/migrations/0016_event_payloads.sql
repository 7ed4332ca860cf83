-- 0016: state changes do not rewrite payloads. SQLite writes a changed row whole: a claim,
-- a lease extension, a completion or a retry rewrote the event's documents with it (the
-- shared 4.5 KB webhook spills to overflow pages, so three or four pages of WAL frames per
-- update). The documents that do not change with the event's state — payload_in,
-- transformation_applied and canonical_mapping — move to integration_event_payloads, one
-- row per event written once at insert (and again only when a completion masks them or an
-- erasure replaces them); integration_events keeps the queue state, the descriptive
-- columns, payload_out and error_details (the outcome, written by the update that records
-- it anyway), a few hundred bytes.
--
-- The product's record of an event is the view integration_event_records: every column of
-- integration_events as before this migration, the three documents joined from their table.
--
-- Existing rows are moved here. A build from before this migration reads and writes the
-- documents in integration_events and cannot use the database afterwards (the columns are
-- gone, so it fails with an error instead of delivering an event without its payload):
-- stop the processes of the previous build before the first process of this one opens
-- the file. The migration copies the documents and rewrites integration_events (once per
-- dropped column) inside the migration transaction: 4.2 s for 50,000 events of 4.5 KB with
-- C SQLite on the 2-core benchmark machine, so budget minutes for millions of events; the
-- pages freed stay in the file until a VACUUM (Store.Purge).

CREATE TABLE integration_event_payloads (
    event_id               TEXT NOT NULL PRIMARY KEY,
    payload_in             TEXT CHECK (json_valid(payload_in)),
    transformation_applied TEXT CHECK (json_valid(transformation_applied)),
    canonical_mapping      TEXT CHECK (json_valid(canonical_mapping))
) STRICT;

INSERT INTO integration_event_payloads (event_id, payload_in, transformation_applied, canonical_mapping)
SELECT id, payload_in, transformation_applied, canonical_mapping FROM integration_events
WHERE payload_in IS NOT NULL OR transformation_applied IS NOT NULL OR canonical_mapping IS NOT NULL;

ALTER TABLE integration_events DROP COLUMN payload_in;
ALTER TABLE integration_events DROP COLUMN transformation_applied;
ALTER TABLE integration_events DROP COLUMN canonical_mapping;

-- Every way an event is deleted (retention, tests, an operator's DELETE) takes its
-- documents with it.
CREATE TRIGGER integration_events_delete_payloads AFTER DELETE ON integration_events
BEGIN
    DELETE FROM integration_event_payloads WHERE event_id = OLD.id;
END;

CREATE VIEW integration_event_records AS
SELECT e.id, e.venture_id, e.service_id, e.service_name, e.service_type, e.operation,
    e.endpoint_url, e.request_method, p.payload_in, e.payload_in_bytes, e.payload_out,
    p.transformation_applied, p.canonical_mapping, e.status, e.response_code,
    e.response_time_ms, e.error_details, e.retry_count, e.max_retries, e.priority_level,
    e.priority_rank, e.chairman_override, e.created_at, e.updated_at, e.completed_at,
    e.expires_at, e.idempotency_key, e.next_attempt_at, e.lease_owner, e.lease_until,
    e.subject_key, e.direction, e.source_event_id
FROM integration_events e LEFT JOIN integration_event_payloads p ON p.event_id = e.id;
