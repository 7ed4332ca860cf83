-- 0017: audit retention. The audit log may lose its oldest entries, and only those at or
-- below a signed retention horizon (audit_horizons: a checkpoint of the entry at seq size,
-- signed with the hub's audit key, that verification then takes as the chain's anchor).
-- The delete trigger keeps refusing every other delete; horizons are append-only.

CREATE TABLE audit_horizons (
    size       INTEGER NOT NULL PRIMARY KEY CHECK (size > 0),
    hash       TEXT    NOT NULL CHECK (length(hash) = 64),
    note       TEXT    NOT NULL CHECK (note <> ''),
    created_at INTEGER NOT NULL
) STRICT;

CREATE TRIGGER audit_horizons_no_update BEFORE UPDATE ON audit_horizons
BEGIN
    SELECT RAISE(ABORT, 'audit_horizons is append-only');
END;

CREATE TRIGGER audit_horizons_no_delete BEFORE DELETE ON audit_horizons
BEGIN
    SELECT RAISE(ABORT, 'audit_horizons is append-only');
END;

DROP TRIGGER audit_log_no_delete;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.seq IS NULL OR OLD.seq > coalesce((SELECT max(size) FROM audit_horizons), 0)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: only entries at or below the signed retention horizon may be deleted');
END;
