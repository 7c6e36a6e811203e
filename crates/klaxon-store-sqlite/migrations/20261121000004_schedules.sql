-- On-call schedules: their definitions (layers, as JSON) and their overrides.
-- Who is on call is computed from these, never stored.

CREATE TABLE schedules (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    time_zone   TEXT NOT NULL,
    layers      TEXT NOT NULL CHECK (json_valid(layers)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX schedules_name ON schedules (name);

CREATE TABLE schedule_overrides (
    id          TEXT PRIMARY KEY NOT NULL,
    schedule_id TEXT NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    starts_at   INTEGER NOT NULL,
    ends_at     INTEGER NOT NULL CHECK (ends_at > starts_at),
    created_at  INTEGER NOT NULL
);
-- Range reads ("overlapping [from, to)") per schedule: past overrides pile up, so the index
-- leads with the end and skips them.
CREATE INDEX schedule_overrides_range ON schedule_overrides (schedule_id, ends_at);
CREATE INDEX schedule_overrides_user ON schedule_overrides (user_id);
