-- 0011: events you can query. Keyset pages over (created_at, id) narrowed to one data
-- subject read this index in order; the other filters use the (created_at, id) and
-- (service_id, created_at, id) indexes of 0001.
CREATE INDEX integration_events_subject_created_idx ON {schema}.integration_events
    (subject_key, created_at, id) WHERE subject_key IS NOT NULL;
