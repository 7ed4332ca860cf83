-- 0003: the event documents a caller hands the hub are kept byte for byte. jsonb rewrites
-- what it stores (numbers written out in full: 1e131000 becomes 131001 digits; keys
-- reordered and deduplicated; escapes decoded, so "\u0000" cannot be stored at all), so
-- PostgreSQL delivered other bytes than the memory and SQLite stores. The hub checks every
-- payload (well-formed JSON, valid UTF-8, its size and depth limits) before any store sees
-- it; these columns keep the accepted text as is.

ALTER TABLE {schema}.integration_events
    ALTER COLUMN payload_in TYPE text USING payload_in::text,
    ALTER COLUMN payload_out TYPE text USING payload_out::text,
    ALTER COLUMN canonical_mapping TYPE text USING canonical_mapping::text;
