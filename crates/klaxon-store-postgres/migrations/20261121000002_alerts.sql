-- Services, their integrations and maintenance windows; alerts and the incidents they open.
-- Counts and limits that are u32 in Rust are BIGINT, so every u32 value round-trips.

CREATE TABLE services (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    urgency_rule TEXT NOT NULL CHECK (urgency_rule IN ('high', 'low', 'severity_based')),
    grouping     JSONB NOT NULL,
    auto_resolve BOOLEAN NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX services_name ON services (name);

CREATE TABLE integrations (
    id                      UUID PRIMARY KEY,
    service_id              UUID NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    name                    TEXT NOT NULL,
    kind                    TEXT NOT NULL CHECK (kind IN ('events_v2', 'alertmanager', 'generic', 'heartbeat')),
    key_prefix              TEXT NOT NULL,
    key_hash                BYTEA NOT NULL,
    rate_limit_per_minute   BIGINT NOT NULL,
    heartbeat_interval_secs BIGINT,
    last_ping_at            BIGINT,
    created_at              BIGINT NOT NULL,
    key_rotated_at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX integrations_key_hash ON integrations (key_hash);
CREATE INDEX integrations_service ON integrations (service_id, id);

CREATE TABLE maintenance_windows (
    id          UUID PRIMARY KEY,
    service_id  UUID NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    starts_at   BIGINT NOT NULL,
    ends_at     BIGINT NOT NULL CHECK (ends_at > starts_at),
    description TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX maintenance_windows_service ON maintenance_windows (service_id, ends_at);

-- Incident numbers come from a sequence, so instances sharing the database never draw the same
-- one. A rolled-back transaction leaves a gap: numbers are unique, not dense.
CREATE SEQUENCE incident_number_seq AS BIGINT;

CREATE TABLE incidents (
    id              UUID PRIMARY KEY,
    number          BIGINT NOT NULL,
    title           TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'mitigated', 'resolved', 'closed')),
    urgency         TEXT NOT NULL CHECK (urgency IN ('high', 'low')),
    service_id      UUID REFERENCES services (id) ON DELETE SET NULL,
    alert_count     BIGINT NOT NULL DEFAULT 0,
    opened_by_alert BOOLEAN NOT NULL,
    -- content-based grouping: the values of the service's fields on the first alert
    group_values    JSONB NOT NULL,
    created_at      BIGINT NOT NULL,
    acknowledged_at BIGINT,
    resolved_at     BIGINT
);
CREATE UNIQUE INDEX incidents_number ON incidents (number);
CREATE INDEX incidents_open_by_service ON incidents (service_id, created_at)
    WHERE status NOT IN ('resolved', 'closed');

CREATE TABLE alerts (
    id              UUID PRIMARY KEY,
    service_id      UUID NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    integration_id  UUID REFERENCES integrations (id) ON DELETE SET NULL,
    incident_id     UUID REFERENCES incidents (id) ON DELETE SET NULL,
    dedup_key       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
    severity        TEXT NOT NULL CHECK (severity IN ('critical', 'error', 'warning', 'info')),
    summary         TEXT NOT NULL,
    content         JSONB NOT NULL,
    count           BIGINT NOT NULL,
    in_maintenance  BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    acknowledged_at BIGINT,
    resolved_at     BIGINT
);
-- While open, a dedup key names one alert per service.
CREATE UNIQUE INDEX alerts_open_dedup ON alerts (service_id, dedup_key) WHERE status <> 'resolved';
CREATE INDEX alerts_incident ON alerts (incident_id) WHERE incident_id IS NOT NULL;
CREATE INDEX alerts_service ON alerts (service_id, id);
-- Deleting an integration or a service touches its alerts and incidents.
CREATE INDEX alerts_integration ON alerts (integration_id) WHERE integration_id IS NOT NULL;
CREATE INDEX incidents_service ON incidents (service_id) WHERE service_id IS NOT NULL;
