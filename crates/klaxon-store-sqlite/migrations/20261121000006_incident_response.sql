-- no-transaction
-- Incident response: severity, priority, milestones, roles, notes and pins.
-- SQLite cannot change a CHECK constraint (urgency gains 'medium'), so incidents is rebuilt
-- the documented way: foreign keys off, copy into a new table, drop, rename, check.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE incidents_new (
    id                TEXT PRIMARY KEY NOT NULL,
    number            INTEGER NOT NULL,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'mitigated', 'resolved', 'closed')),
    urgency           TEXT NOT NULL CHECK (urgency IN ('high', 'medium', 'low')),
    severity          TEXT CHECK (severity IN ('SEV1', 'SEV2', 'SEV3', 'SEV4')),
    impact            TEXT CHECK (impact IN ('high', 'medium', 'low')),
    priority          TEXT CHECK (priority IN ('P1', 'P2', 'P3', 'P4', 'P5')),
    category          TEXT,
    subcategory       TEXT,
    reporter_id       TEXT REFERENCES users (id) ON DELETE SET NULL,
    service_id        TEXT REFERENCES services (id) ON DELETE SET NULL,
    alert_count       INTEGER NOT NULL DEFAULT 0,
    opened_by_alert   INTEGER NOT NULL,
    -- content-based grouping: the values of the service's fields on the first alert
    group_values      TEXT NOT NULL CHECK (json_valid(group_values)),
    created_at        INTEGER NOT NULL,
    impact_started_at INTEGER,
    detected_at       INTEGER,
    acknowledged_at   INTEGER,
    mitigated_at      INTEGER,
    resolved_at       INTEGER,
    closed_at         INTEGER
);
INSERT INTO incidents_new (id, number, title, status, urgency, service_id, alert_count,
    opened_by_alert, group_values, created_at, detected_at, acknowledged_at, resolved_at)
SELECT id, number, title, status, urgency, service_id, alert_count, opened_by_alert,
    group_values, created_at, created_at, acknowledged_at, resolved_at
FROM incidents;
DROP TABLE incidents;
ALTER TABLE incidents_new RENAME TO incidents;
CREATE UNIQUE INDEX incidents_number ON incidents (number);
CREATE INDEX incidents_open_by_service ON incidents (service_id, created_at)
    WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX incidents_service ON incidents (service_id) WHERE service_id IS NOT NULL;
CREATE INDEX incidents_reporter ON incidents (reporter_id) WHERE reporter_id IS NOT NULL;

-- Who held which role, and when: the current holders have no ended_at.
CREATE TABLE incident_roles (
    id          TEXT PRIMARY KEY NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    assigned_at INTEGER NOT NULL,
    assigned_by TEXT NOT NULL,
    ended_at    INTEGER,
    ended_by    TEXT
);
CREATE INDEX incident_roles_incident ON incident_roles (incident_id, assigned_at);
CREATE UNIQUE INDEX incident_roles_current ON incident_roles (incident_id, role, user_id)
    WHERE ended_at IS NULL;
CREATE INDEX incident_roles_user ON incident_roles (user_id) WHERE ended_at IS NULL;

-- Pinned timeline entries (notes or any other event).
ALTER TABLE events ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;

COMMIT;
PRAGMA foreign_keys = ON;
