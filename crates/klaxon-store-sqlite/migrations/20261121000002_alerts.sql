-- Services, their integrations and maintenance windows; alerts and the incidents they open.

CREATE TABLE services (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    urgency_rule TEXT NOT NULL CHECK (urgency_rule IN ('high', 'low', 'severity_based')),
    grouping     TEXT NOT NULL CHECK (json_valid(grouping)),
    auto_resolve INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX services_name ON services (name);

CREATE TABLE integrations (
    id                      TEXT PRIMARY KEY NOT NULL,
    service_id              TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    name                    TEXT NOT NULL,
    kind                    TEXT NOT NULL CHECK (kind IN ('events_v2', 'alertmanager', 'generic', 'heartbeat')),
    key_prefix              TEXT NOT NULL,
    key_hash                BLOB NOT NULL,
    rate_limit_per_minute   INTEGER NOT NULL,
    heartbeat_interval_secs INTEGER,
    last_ping_at            INTEGER,
    created_at              INTEGER NOT NULL,
    key_rotated_at          INTEGER NOT NULL
);
CREATE UNIQUE INDEX integrations_key_hash ON integrations (key_hash);
CREATE INDEX integrations_service ON integrations (service_id, id);

CREATE TABLE maintenance_windows (
    id          TEXT PRIMARY KEY NOT NULL,
    service_id  TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    starts_at   INTEGER NOT NULL,
    ends_at     INTEGER NOT NULL CHECK (ends_at > starts_at),
    description TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX maintenance_windows_service ON maintenance_windows (service_id, ends_at);

CREATE TABLE incidents (
    id              TEXT PRIMARY KEY NOT NULL,
    number          INTEGER NOT NULL,
    title           TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'mitigated', 'resolved', 'closed')),
    urgency         TEXT NOT NULL CHECK (urgency IN ('high', 'low')),
    service_id      TEXT REFERENCES services (id) ON DELETE SET NULL,
    alert_count     INTEGER NOT NULL DEFAULT 0,
    opened_by_alert INTEGER NOT NULL,
    -- content-based grouping: the values of the service's fields on the first alert
    group_values    TEXT NOT NULL CHECK (json_valid(group_values)),
    created_at      INTEGER NOT NULL,
    acknowledged_at INTEGER,
    resolved_at     INTEGER
);
CREATE UNIQUE INDEX incidents_number ON incidents (number);
CREATE INDEX incidents_open_by_service ON incidents (service_id, created_at)
    WHERE status NOT IN ('resolved', 'closed');

CREATE TABLE alerts (
    id              TEXT PRIMARY KEY NOT NULL,
    service_id      TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    integration_id  TEXT REFERENCES integrations (id) ON DELETE SET NULL,
    incident_id     TEXT REFERENCES incidents (id) ON DELETE SET NULL,
    dedup_key       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
    severity        TEXT NOT NULL CHECK (severity IN ('critical', 'error', 'warning', 'info')),
    summary         TEXT NOT NULL,
    content         TEXT NOT NULL CHECK (json_valid(content)),
    count           INTEGER NOT NULL,
    in_maintenance  INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    acknowledged_at INTEGER,
    resolved_at     INTEGER
);
-- While open, a dedup key names one alert per service.
CREATE UNIQUE INDEX alerts_open_dedup ON alerts (service_id, dedup_key) WHERE status <> 'resolved';
CREATE INDEX alerts_incident ON alerts (incident_id) WHERE incident_id IS NOT NULL;
CREATE INDEX alerts_service ON alerts (service_id, id);
-- Deleting an integration or a service touches its alerts and incidents.
CREATE INDEX alerts_integration ON alerts (integration_id) WHERE integration_id IS NOT NULL;
CREATE INDEX incidents_service ON incidents (service_id) WHERE service_id IS NOT NULL;
