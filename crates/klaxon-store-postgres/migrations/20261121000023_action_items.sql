-- Action items: what an incident taught, owned by someone, due by a date. postmortem_id has
-- no foreign key yet: postmortems are added by another migration.
CREATE TABLE action_items (
    id               UUID PRIMARY KEY,
    incident_id      UUID NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    postmortem_id    UUID,
    title            TEXT NOT NULL,
    owner_id         UUID NOT NULL REFERENCES users (id),
    kind             TEXT NOT NULL CHECK (kind IN ('prevent', 'mitigate', 'detect', 'process')),
    priority         BOOLEAN NOT NULL,
    due_at           BIGINT NOT NULL,
    tracker_url      TEXT,
    state            TEXT NOT NULL CHECK (state IN ('open', 'in_progress', 'done', 'wont_do')),
    reason           TEXT,
    created_at       BIGINT NOT NULL,
    created_by       TEXT NOT NULL,
    updated_at       BIGINT NOT NULL,
    last_reminded_at BIGINT
);
CREATE INDEX action_items_incident ON action_items (incident_id);
CREATE INDEX action_items_owner ON action_items (owner_id);
CREATE INDEX action_items_postmortem ON action_items (postmortem_id) WHERE postmortem_id IS NOT NULL;
-- Open items by due date: the overdue list and the reminder job.
CREATE INDEX action_items_open_due ON action_items (due_at) WHERE state IN ('open', 'in_progress');
