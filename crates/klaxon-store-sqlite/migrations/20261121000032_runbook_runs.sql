-- Runs of runbooks on incidents. A run keeps its runbook version's source, so it reads the
-- same when the runbook changes or is deleted. `revision` is bumped by every change: a change
-- decided from an older one is refused, so two engines (or two people) cannot both begin a
-- step or move the run on.
CREATE TABLE runbook_runs (
    id           TEXT PRIMARY KEY,
    incident_id  TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    runbook_id   TEXT REFERENCES runbooks (id) ON DELETE SET NULL,
    runbook_name TEXT NOT NULL,
    title        TEXT NOT NULL,
    version      INTEGER NOT NULL,
    digest       TEXT NOT NULL,
    source       TEXT NOT NULL,
    -- the parameters as checked at the start: a JSON list of [name, value]
    params       TEXT NOT NULL,
    state        TEXT NOT NULL,
    current_step INTEGER NOT NULL,
    revision     INTEGER NOT NULL,
    started_by   TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    finished_at  INTEGER
);
CREATE INDEX runbook_runs_incident ON runbook_runs (incident_id, created_at);
CREATE TABLE runbook_run_steps (
    run_id      TEXT NOT NULL REFERENCES runbook_runs (id) ON DELETE CASCADE,
    step        INTEGER NOT NULL,
    title       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    -- cut at the configured size; the whole in full_output when it was cut
    output      TEXT NOT NULL,
    truncated   INTEGER NOT NULL,
    full_output TEXT,
    -- an HTTP status, an exit code, an error: a JSON object
    detail      TEXT NOT NULL,
    by_user     TEXT REFERENCES users (id) ON DELETE SET NULL,
    note        TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
);
