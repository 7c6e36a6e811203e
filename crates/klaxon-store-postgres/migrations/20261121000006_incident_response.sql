-- Incident response: severity, priority, milestones, roles, notes and pins.
ALTER TABLE incidents DROP CONSTRAINT incidents_urgency_check;
ALTER TABLE incidents ADD CONSTRAINT incidents_urgency_check
    CHECK (urgency IN ('high', 'medium', 'low'));
ALTER TABLE incidents
    ADD COLUMN description       TEXT NOT NULL DEFAULT '',
    ADD COLUMN severity          TEXT CHECK (severity IN ('SEV1', 'SEV2', 'SEV3', 'SEV4')),
    ADD COLUMN impact            TEXT CHECK (impact IN ('high', 'medium', 'low')),
    ADD COLUMN priority          TEXT CHECK (priority IN ('P1', 'P2', 'P3', 'P4', 'P5')),
    ADD COLUMN category          TEXT,
    ADD COLUMN subcategory       TEXT,
    ADD COLUMN reporter_id       UUID REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN impact_started_at BIGINT,
    ADD COLUMN detected_at       BIGINT,
    ADD COLUMN mitigated_at      BIGINT,
    ADD COLUMN closed_at         BIGINT;
UPDATE incidents SET detected_at = created_at;
CREATE INDEX incidents_reporter ON incidents (reporter_id) WHERE reporter_id IS NOT NULL;

CREATE TABLE incident_roles (
    id          UUID PRIMARY KEY,
    incident_id UUID NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    assigned_at BIGINT NOT NULL,
    assigned_by TEXT NOT NULL,
    ended_at    BIGINT,
    ended_by    TEXT
);
CREATE INDEX incident_roles_incident ON incident_roles (incident_id, assigned_at);
CREATE UNIQUE INDEX incident_roles_current ON incident_roles (incident_id, role, user_id)
    WHERE ended_at IS NULL;
CREATE INDEX incident_roles_user ON incident_roles (user_id) WHERE ended_at IS NULL;

ALTER TABLE events ADD COLUMN pinned BOOLEAN NOT NULL DEFAULT FALSE;
