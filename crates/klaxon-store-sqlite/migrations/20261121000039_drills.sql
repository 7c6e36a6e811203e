-- Drill scenarios: what happens during a drill and the targets it is measured against, kept
-- as their checked definition (JSON); `revision` counts saves.
CREATE TABLE drill_scenarios (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    definition TEXT NOT NULL CHECK (json_valid(definition)),
    revision   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX drill_scenarios_name ON drill_scenarios (name);

-- A drill: one incident, with the scenario as it was at the start (its name kept so drills of
-- one scenario can be compared even after it is gone) and, once over, its scorecard.
CREATE TABLE drills (
    id            TEXT PRIMARY KEY,
    incident_id   TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    scenario_id   TEXT REFERENCES drill_scenarios (id) ON DELETE SET NULL,
    scenario_name TEXT,
    definition    TEXT NOT NULL CHECK (json_valid(definition)),
    started_by    TEXT REFERENCES users (id) ON DELETE SET NULL,
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER,
    ended_by      TEXT REFERENCES users (id) ON DELETE SET NULL,
    scorecard     TEXT CHECK (scorecard IS NULL OR json_valid(scorecard))
);
CREATE UNIQUE INDEX drills_incident ON drills (incident_id);
-- Ids are time-ordered (UUID v7): lists read newest first by id.
CREATE INDEX drills_scenario ON drills (scenario_name, id);

-- The scenario steps a drill has taken: each is written once, however many instances try.
CREATE TABLE drill_steps (
    drill_id TEXT NOT NULL REFERENCES drills (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    PRIMARY KEY (drill_id, position)
);
