-- Uptime checks: settings and standing, raw results (kept 7 days), daily tallies and state
-- changes (kept 400 days).
CREATE TABLE checks (
    id             TEXT PRIMARY KEY NOT NULL,
    service_id     TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    -- the parsed settings (klaxon_domain::check::CheckSpec)
    spec           TEXT NOT NULL CHECK (json_valid(spec)),
    enabled        INTEGER NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('up', 'down')),
    failures       INTEGER NOT NULL DEFAULT 0,
    successes      INTEGER NOT NULL DEFAULT 0,
    state_since    INTEGER NOT NULL,
    -- the scheduled time of the last recorded run
    last_run_at    INTEGER,
    -- an alert signal decided in a run and not yet applied: the state it is for
    pending_signal TEXT CHECK (pending_signal IN ('up', 'down')),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX checks_name ON checks (name);
CREATE INDEX checks_service ON checks (service_id);

CREATE TABLE check_results (
    check_id    TEXT NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    ok          INTEGER NOT NULL,
    response_ms INTEGER NOT NULL,
    status      INTEGER,
    reason      TEXT,
    conditions  TEXT NOT NULL CHECK (json_valid(conditions)),
    PRIMARY KEY (check_id, at)
);
CREATE INDEX check_results_at ON check_results (at);

-- one row per check and UTC day (day = midnight, in milliseconds)
CREATE TABLE check_days (
    check_id        TEXT NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    day             INTEGER NOT NULL,
    total           INTEGER NOT NULL,
    successes       INTEGER NOT NULL,
    response_ms_sum INTEGER NOT NULL,
    down_ms         INTEGER NOT NULL,
    PRIMARY KEY (check_id, day)
);
CREATE INDEX check_days_day ON check_days (day);

CREATE TABLE check_changes (
    check_id TEXT NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
    state    TEXT NOT NULL CHECK (state IN ('up', 'down')),
    PRIMARY KEY (check_id, at)
);
