-- Uptime checks: settings and standing, raw results (kept 7 days), daily tallies and state
-- changes (kept 400 days).
CREATE TABLE checks (
    id             UUID PRIMARY KEY,
    service_id     UUID NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    -- the parsed settings (klaxon_domain::check::CheckSpec)
    spec           JSONB NOT NULL,
    enabled        BOOLEAN NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('up', 'down')),
    failures       BIGINT NOT NULL DEFAULT 0,
    successes      BIGINT NOT NULL DEFAULT 0,
    state_since    BIGINT NOT NULL,
    -- the scheduled time of the last recorded run
    last_run_at    BIGINT,
    -- an alert signal decided in a run and not yet applied: the state it is for
    pending_signal TEXT CHECK (pending_signal IN ('up', 'down')),
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX checks_name ON checks (name);
CREATE INDEX checks_service ON checks (service_id);

CREATE TABLE check_results (
    check_id    UUID NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    ok          BOOLEAN NOT NULL,
    response_ms BIGINT NOT NULL,
    status      BIGINT,
    reason      TEXT,
    conditions  JSONB NOT NULL,
    PRIMARY KEY (check_id, at)
);
CREATE INDEX check_results_at ON check_results (at);

-- one row per check and UTC day (day = midnight, in milliseconds)
CREATE TABLE check_days (
    check_id        UUID NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    day             BIGINT NOT NULL,
    total           BIGINT NOT NULL,
    successes       BIGINT NOT NULL,
    response_ms_sum BIGINT NOT NULL,
    down_ms         BIGINT NOT NULL,
    PRIMARY KEY (check_id, day)
);
CREATE INDEX check_days_day ON check_days (day);

CREATE TABLE check_changes (
    check_id UUID NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    at       BIGINT NOT NULL,
    state    TEXT NOT NULL CHECK (state IN ('up', 'down')),
    PRIMARY KEY (check_id, at)
);
