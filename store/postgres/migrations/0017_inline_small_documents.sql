-- 0017: the small event documents stay in the row. Under 0016's 512-byte toast target every
-- document of a row above 2 KB went to the TOAST table: the compressed payload, but also the
-- mapped document (about 1 KB of JSON that does not compress by the quarter pglz asks, so it
-- is stored as is) and the transformation record (a few hundred bytes). Each value moved out
-- costs a TOAST row, a TOAST index entry and a pointer in the row, about 130 bytes of WAL
-- besides its own bytes, and each claim reads it back through the TOAST index.
--
-- STORAGE MAIN keeps canonical_mapping and transformation_applied in the row (compressed if
-- that helps); PostgreSQL still moves them out of line when the row would not fit in a page
-- otherwise, so large documents are stored as before. The compressed payload (payload_in) and
-- payload_out keep the out-of-line storage of 0016. The row a claim or a completion updates
-- is then about 1.5 KB for the shared event: its new version goes to the old one's page and
-- the WAL record carries only the changed bytes, provided there is room; fillfactor 50 (was
-- 70) leaves room for the two or three versions an event has before they are pruned. Without
-- it a fifth of the updates went to another page and logged the whole row.
--
-- Only storage settings change: no column, index or query does, so a hub of the previous
-- build shares the table unchanged. Existing rows are not rewritten; the settings apply to
-- rows written after the migration. Measured through the hub (benchmarks/cmd/compare, the
-- shared 4.5 KB event): 5.65-5.71 KB of WAL per event before, 5.14-5.18 KB after.
ALTER TABLE {schema}.integration_events
    ALTER COLUMN canonical_mapping SET STORAGE MAIN,
    ALTER COLUMN transformation_applied SET STORAGE MAIN;
ALTER TABLE {schema}.integration_events SET (fillfactor = 50);
