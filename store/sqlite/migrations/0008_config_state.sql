-- 0008: configuration as code. One row holds the store's configuration state: the revision
-- every applied change set advances by one (the optimistic check of plan and apply) and
-- the last applied document, kept byte for byte (secret references only, never values).

CREATE TABLE config_state (
    id          INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    revision    INTEGER NOT NULL CHECK (revision > 0),
    document    TEXT,
    fingerprint TEXT    NOT NULL DEFAULT '' CHECK (length(fingerprint) <= 256),
    actor       TEXT    NOT NULL DEFAULT '' CHECK (length(actor) <= 256),
    updated_at  INTEGER NOT NULL
) STRICT;
