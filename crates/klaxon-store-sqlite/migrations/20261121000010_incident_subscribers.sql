-- People who follow an incident: they get its stakeholder updates.
CREATE TABLE incident_subscribers (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    PRIMARY KEY (incident_id, user_id)
);
CREATE INDEX incident_subscribers_user ON incident_subscribers (user_id);
