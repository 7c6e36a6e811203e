-- On-call schedules: their definitions (layers, as JSON) and their overrides.
-- Who is on call is computed from these, never stored.

CREATE TABLE schedules (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    time_zone   TEXT NOT NULL,
    layers      JSONB NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX schedules_name ON schedules (name);

CREATE TABLE schedule_overrides (
    id          UUID PRIMARY KEY,
    schedule_id UUID NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    starts_at   BIGINT NOT NULL,
    ends_at     BIGINT NOT NULL CHECK (ends_at > starts_at),
    created_at  BIGINT NOT NULL
);
-- Range reads ("overlapping [from, to)") per schedule: past overrides pile up, so the index
-- leads with the end and skips them.
CREATE INDEX schedule_overrides_range ON schedule_overrides (schedule_id, ends_at);
CREATE INDEX schedule_overrides_user ON schedule_overrides (user_id);
