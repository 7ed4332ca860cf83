-- 0004: change approvals. A change a policy holds back waits here for a second person's
-- decision. change is the proposed change with secrets redacted, sealed the complete change
-- sealed by the hub. Status moves only forward, by conditional updates: pending to
-- applying, rejected or expired; applying to applied or failed.

CREATE TABLE {schema}.integration_approvals (
    id          uuid        PRIMARY KEY,
    requester   text        NOT NULL CHECK (requester <> ''),
    action      text        NOT NULL CHECK (action <> ''),
    method      text        NOT NULL CHECK (method <> ''),
    target      text        NOT NULL DEFAULT '',
    change      jsonb,
    sealed      jsonb,
    reason      text        NOT NULL DEFAULT '',
    status      text        NOT NULL
        CHECK (status IN ('pending', 'applying', 'applied', 'failed', 'rejected', 'expired')),
    decided_by  text        NOT NULL DEFAULT '',
    decided_at  timestamptz,
    decision    text        NOT NULL DEFAULT '',
    result      text        NOT NULL DEFAULT '',
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE INDEX integration_approvals_created_idx ON {schema}.integration_approvals (created_at, id);
-- The expiry sweep: pending requests by expiry.
CREATE INDEX integration_approvals_pending_idx ON {schema}.integration_approvals (expires_at, id)
    WHERE status = 'pending';
