-- 0004: change approvals. A change a policy holds back waits here for a second person's
-- decision. change is the proposed change with secrets redacted, sealed the complete change
-- sealed by the hub. Status moves only forward, by conditional updates: pending to
-- applying, rejected or expired; applying to applied or failed.

CREATE TABLE integration_approvals (
    id          TEXT    NOT NULL PRIMARY KEY,
    requester   TEXT    NOT NULL CHECK (requester <> ''),
    action      TEXT    NOT NULL CHECK (action <> ''),
    method      TEXT    NOT NULL CHECK (method <> ''),
    target      TEXT    NOT NULL DEFAULT '',
    change      TEXT    CHECK (change IS NULL OR json_valid(change)),
    sealed      TEXT    CHECK (sealed IS NULL OR json_valid(sealed)),
    reason      TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL
        CHECK (status IN ('pending', 'applying', 'applied', 'failed', 'rejected', 'expired')),
    decided_by  TEXT    NOT NULL DEFAULT '',
    decided_at  INTEGER,
    decision    TEXT    NOT NULL DEFAULT '',
    result      TEXT    NOT NULL DEFAULT '',
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX integration_approvals_created_idx ON integration_approvals (created_at, id);
-- The expiry sweep: pending requests by expiry.
CREATE INDEX integration_approvals_pending_idx ON integration_approvals (expires_at, id)
    WHERE status = 'pending';
