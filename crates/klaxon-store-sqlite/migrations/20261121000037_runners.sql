-- Runners: processes on the operator's hosts that take command steps, connecting outbound
-- only. A runner has labels (a command step names the labels it needs) and a token of its own,
-- kept as its SHA-256 digest. It takes steps only of runbook versions an admin has enabled for
-- it (runner_grants, with the version's digest as enabled).
CREATE TABLE runners (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    -- a JSON object of label: value
    labels       TEXT NOT NULL CHECK (json_valid(labels)),
    token_hash   BLOB NOT NULL,
    created_by   TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER
);
CREATE UNIQUE INDEX runners_name ON runners (name);
CREATE UNIQUE INDEX runners_token ON runners (token_hash);
CREATE TABLE runner_grants (
    runner_id  TEXT NOT NULL REFERENCES runners (id) ON DELETE CASCADE,
    runbook_id TEXT NOT NULL REFERENCES runbooks (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    digest     TEXT NOT NULL,
    granted_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (runner_id, runbook_id, version)
);
-- Which runner took a command step, and until when it holds it: a runner reports in while it
-- runs; a step whose holder stops reporting is marked "outcome unknown", never run again by
-- itself.
ALTER TABLE runbook_run_steps ADD COLUMN runner_id TEXT REFERENCES runners (id) ON DELETE SET NULL;
ALTER TABLE runbook_run_steps ADD COLUMN lease_until INTEGER;
-- The queued command steps a runner may take: few at any time.
CREATE INDEX runbook_run_steps_queued ON runbook_run_steps (run_id, step)
    WHERE kind = 'command' AND state = 'queued';
