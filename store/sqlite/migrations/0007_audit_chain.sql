-- 0007: the tamper-evident audit log. Every entry gets its position in the store's one chain
-- (seq: 1, 2, 3 ...), the hash of the entry before it and its own hash (SHA-256 over the
-- canonical encoding of store.AuditCanonical); signed checkpoints of the chain's head are
-- kept in audit_checkpoints. Entries written before this migration are numbered here in
-- their old order (created_at, id) and chained by the store right after migrating: the
-- update trigger lets exactly that through — setting prev_hash and hash of an entry that
-- has none — and nothing else.

DROP TRIGGER audit_log_no_update;

ALTER TABLE audit_log ADD COLUMN seq INTEGER CHECK (seq > 0);
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT CHECK (length(prev_hash) = 64);
ALTER TABLE audit_log ADD COLUMN hash TEXT CHECK (length(hash) = 64);

UPDATE audit_log SET seq = numbered.n
FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM audit_log) AS numbered
WHERE audit_log.id = numbered.id;

CREATE UNIQUE INDEX audit_log_seq_idx ON audit_log (seq);
CREATE INDEX audit_log_unchained_idx ON audit_log (seq) WHERE hash IS NULL;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN OLD.hash IS NOT NULL OR NEW.hash IS NULL OR NEW.prev_hash IS NULL
    OR NEW.id IS NOT OLD.id OR NEW.seq IS NOT OLD.seq OR NEW.actor IS NOT OLD.actor
    OR NEW.action IS NOT OLD.action OR NEW.entity_type IS NOT OLD.entity_type
    OR NEW.entity_id IS NOT OLD.entity_id OR NEW.before IS NOT OLD.before
    OR NEW.after IS NOT OLD.after OR NEW.created_at IS NOT OLD.created_at
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- New entries must be chained.
CREATE TRIGGER audit_log_chained BEFORE INSERT ON audit_log
WHEN NEW.seq IS NULL OR NEW.hash IS NULL OR NEW.prev_hash IS NULL
BEGIN
    SELECT RAISE(ABORT, 'audit_log entries must be chained (seq, prev_hash, hash)');
END;

CREATE TABLE audit_checkpoints (
    size       INTEGER NOT NULL PRIMARY KEY CHECK (size > 0),
    hash       TEXT    NOT NULL CHECK (length(hash) = 64),
    note       TEXT    NOT NULL CHECK (note <> ''),
    created_at INTEGER NOT NULL
) STRICT;

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
