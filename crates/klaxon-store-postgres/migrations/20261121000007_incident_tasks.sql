-- Incident tasks, and the incident's conference bridge and chat links.
ALTER TABLE incidents ADD COLUMN conference_url TEXT, ADD COLUMN chat_url TEXT;

CREATE TABLE incident_tasks (
    id          UUID PRIMARY KEY,
    incident_id UUID NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    assignee_id UUID REFERENCES users (id) ON DELETE SET NULL,
    due_at      BIGINT,
    done_at     BIGINT,
    done_by     TEXT,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);
CREATE INDEX incident_tasks_incident ON incident_tasks (incident_id, created_at);
CREATE INDEX incident_tasks_assignee ON incident_tasks (assignee_id) WHERE assignee_id IS NOT NULL;
