-- 0007: the tamper-evident audit log. Every entry gets its position in the store's one chain
-- (seq: 1, 2, 3 ...), the hash of the entry before it and its own hash (SHA-256 over the
-- canonical encoding of store.AuditCanonical); signed checkpoints of the chain's head are
-- kept in audit_checkpoints. Appends serialise on an advisory transaction lock, so several
-- hubs sharing the schema still form one chain. Entries written before this migration are
-- numbered here in their old order (created_at, id) and chained by the store right after
-- migrating: the append-only trigger lets exactly that through — setting prev_hash and hash
-- of an entry that has none — and nothing else.

ALTER TABLE {schema}.audit_log DISABLE TRIGGER audit_log_append_only;

ALTER TABLE {schema}.audit_log
    ADD COLUMN seq bigint CHECK (seq > 0),
    ADD COLUMN prev_hash text CHECK (length(prev_hash) = 64),
    ADD COLUMN hash text CHECK (length(hash) = 64);

UPDATE {schema}.audit_log a SET seq = numbered.n
FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM {schema}.audit_log) AS numbered
WHERE a.id = numbered.id;

ALTER TABLE {schema}.audit_log ENABLE TRIGGER audit_log_append_only;

CREATE UNIQUE INDEX audit_log_seq_idx ON {schema}.audit_log (seq);
CREATE INDEX audit_log_unchained_idx ON {schema}.audit_log (seq) WHERE hash IS NULL;

CREATE OR REPLACE FUNCTION {schema}.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL
        AND NEW.id = OLD.id AND NEW.seq IS NOT DISTINCT FROM OLD.seq AND NEW.actor = OLD.actor
        AND NEW.action = OLD.action AND NEW.entity_type = OLD.entity_type
        AND NEW.entity_id = OLD.entity_id AND NEW.before IS NOT DISTINCT FROM OLD.before
        AND NEW.after IS NOT DISTINCT FROM OLD.after AND NEW.created_at = OLD.created_at THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- New entries must be chained.
CREATE FUNCTION {schema}.audit_log_chained() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq IS NULL OR NEW.hash IS NULL OR NEW.prev_hash IS NULL THEN
        RAISE EXCEPTION 'audit_log entries must be chained (seq, prev_hash, hash)' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_log_chained BEFORE INSERT ON {schema}.audit_log
    FOR EACH ROW EXECUTE FUNCTION {schema}.audit_log_chained();

CREATE TABLE {schema}.audit_checkpoints (
    size       bigint      PRIMARY KEY CHECK (size > 0),
    hash       text        NOT NULL CHECK (length(hash) = 64),
    note       text        NOT NULL CHECK (note <> ''),
    created_at timestamptz NOT NULL
);

CREATE FUNCTION {schema}.audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_checkpoints is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON {schema}.audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION {schema}.audit_checkpoints_append_only();
