-- Incident tasks, and the incident's conference bridge and chat links.
ALTER TABLE incidents ADD COLUMN conference_url TEXT;
ALTER TABLE incidents ADD COLUMN chat_url TEXT;

CREATE TABLE incident_tasks (
    id          TEXT PRIMARY KEY NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    assignee_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    due_at      INTEGER,
    done_at     INTEGER,
    done_by     TEXT,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL
);
CREATE INDEX incident_tasks_incident ON incident_tasks (incident_id, created_at);
CREATE INDEX incident_tasks_assignee ON incident_tasks (assignee_id) WHERE assignee_id IS NOT NULL;
