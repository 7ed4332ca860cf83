-- 0012: data keys of envelope encryption. Each owner (a service name, or a scope of the
-- hub's own) has at most one live data key, stored only wrapped by a key-encryption key of
-- the embedder's key service. Destroying a key erases the wrapped bytes and keeps the row,
-- so what it sealed is known to be unrecoverable rather than missing.

CREATE TABLE integration_data_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    owner        TEXT    NOT NULL CHECK (owner <> ''),
    key_id       TEXT    NOT NULL CHECK (key_id <> ''),
    wrapped      BLOB,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    destroyed_at INTEGER,
    CHECK ((destroyed_at IS NULL) = (wrapped IS NOT NULL))
) STRICT;

CREATE UNIQUE INDEX integration_data_keys_live ON integration_data_keys (owner) WHERE destroyed_at IS NULL;
