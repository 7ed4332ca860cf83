-- 0015: OAuth tokens connectors obtain or rotate, sealed by the hub, so a restarted hub or
-- another hub on the same file uses the newest one.

CREATE TABLE integration_oauth_tokens (
    service_id TEXT    NOT NULL PRIMARY KEY REFERENCES integration_services (id),
    token      TEXT    NOT NULL CHECK (json_valid(token)),
    version    INTEGER NOT NULL CHECK (version > 0),
    updated_at INTEGER NOT NULL
) STRICT;
