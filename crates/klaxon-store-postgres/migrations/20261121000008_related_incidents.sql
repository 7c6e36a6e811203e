-- Related incidents, and duplicates merged into another incident.
ALTER TABLE incidents ADD COLUMN merged_into UUID REFERENCES incidents (id) ON DELETE SET NULL;

-- Both directions are stored, so each incident reads its relations with one index.
CREATE TABLE related_incidents (
    incident_id UUID NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    related_id  UUID NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    PRIMARY KEY (incident_id, related_id)
);
