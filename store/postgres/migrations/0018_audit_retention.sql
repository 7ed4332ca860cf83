-- 0018: audit retention. The audit log may lose its oldest entries, and only those at or
-- below a signed retention horizon (audit_horizons: a checkpoint of the entry at seq size,
-- signed with the hub's audit key, that verification then takes as the chain's anchor).
-- The append-only trigger keeps refusing every other delete and every update but the one
-- migration 0007 allows; horizons are append-only.

CREATE TABLE {schema}.audit_horizons (
    size       bigint      PRIMARY KEY CHECK (size > 0),
    hash       text        NOT NULL CHECK (length(hash) = 64),
    note       text        NOT NULL CHECK (note <> ''),
    created_at timestamptz NOT NULL
);

CREATE FUNCTION {schema}.audit_horizons_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_horizons is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_horizons_append_only BEFORE UPDATE OR DELETE ON {schema}.audit_horizons
    FOR EACH ROW EXECUTE FUNCTION {schema}.audit_horizons_append_only();

CREATE OR REPLACE FUNCTION {schema}.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL
        AND NEW.id = OLD.id AND NEW.seq IS NOT DISTINCT FROM OLD.seq AND NEW.actor = OLD.actor
        AND NEW.action = OLD.action AND NEW.entity_type = OLD.entity_type
        AND NEW.entity_id = OLD.entity_id AND NEW.before IS NOT DISTINCT FROM OLD.before
        AND NEW.after IS NOT DISTINCT FROM OLD.after AND NEW.created_at = OLD.created_at THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' AND OLD.seq IS NOT NULL
        AND OLD.seq <= (SELECT coalesce(max(size), 0) FROM {schema}.audit_horizons) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: only entries at or below the signed retention horizon may be deleted'
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
