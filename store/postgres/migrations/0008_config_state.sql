-- 0008: configuration as code. One row holds the store's configuration state: the revision
-- every applied change set advances by one (the optimistic check of plan and apply) and
-- the last applied document, kept byte for byte as text (jsonb would reorder its members;
-- secret references only, never values).

CREATE TABLE {schema}.config_state (
    id          smallint    PRIMARY KEY CHECK (id = 1),
    revision    bigint      NOT NULL CHECK (revision > 0),
    document    text,
    fingerprint text        NOT NULL DEFAULT '' CHECK (length(fingerprint) <= 256),
    actor       text        NOT NULL DEFAULT '' CHECK (length(actor) <= 256),
    updated_at  timestamptz NOT NULL
);
