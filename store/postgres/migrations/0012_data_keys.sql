-- 0012: data keys of envelope encryption. Each owner (a service name, or a scope of the
-- hub's own) has at most one live data key, stored only wrapped by a key-encryption key of
-- the embedder's key service. Destroying a key erases the wrapped bytes and keeps the row,
-- so what it sealed is known to be unrecoverable rather than missing.

CREATE TABLE {schema}.integration_data_keys (
    id           uuid        PRIMARY KEY,
    owner        text        NOT NULL CHECK (owner <> ''),
    key_id       text        NOT NULL CHECK (key_id <> ''),
    wrapped      bytea,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    destroyed_at timestamptz,
    CHECK ((destroyed_at IS NULL) = (wrapped IS NOT NULL))
);

CREATE UNIQUE INDEX integration_data_keys_live ON {schema}.integration_data_keys (owner) WHERE destroyed_at IS NULL;
