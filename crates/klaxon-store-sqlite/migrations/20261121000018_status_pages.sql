-- Status pages: components (and groups), their status intervals (uptime is computed from
-- them), and public incidents and maintenances with their updates. `code` is the public,
-- Statuspage-shaped 12-character id.
CREATE TABLE status_pages (
    id                    TEXT PRIMARY KEY NOT NULL,
    code                  TEXT NOT NULL,
    name                  TEXT NOT NULL,
    slug                  TEXT NOT NULL,
    hostname              TEXT,
    logo_url              TEXT,
    accent_color          TEXT NOT NULL,
    time_zone             TEXT NOT NULL,
    footer_links          TEXT NOT NULL CHECK (json_valid(footer_links)),
    visibility            TEXT NOT NULL CHECK (visibility IN ('public', 'password', 'sign_in')),
    password_hash         TEXT,
    partial_outage_weight REAL NOT NULL,
    -- bumped by every change a reader can see: snapshots rebuild when it moves
    revision              INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE UNIQUE INDEX status_pages_code ON status_pages (code);
CREATE UNIQUE INDEX status_pages_slug ON status_pages (slug);
CREATE UNIQUE INDEX status_pages_hostname ON status_pages (hostname) WHERE hostname IS NOT NULL;

CREATE TABLE status_components (
    id                    TEXT PRIMARY KEY NOT NULL,
    code                  TEXT NOT NULL,
    page_id               TEXT NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    group_id              TEXT REFERENCES status_components (id) ON DELETE CASCADE,
    is_group              INTEGER NOT NULL,
    name                  TEXT NOT NULL,
    description           TEXT,
    position              INTEGER NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('operational', 'degraded_performance',
                              'partial_outage', 'major_outage', 'under_maintenance')),
    only_show_if_degraded INTEGER NOT NULL,
    show_uptime           INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE UNIQUE INDEX status_components_code ON status_components (code);
CREATE INDEX status_components_page ON status_components (page_id, position);
CREATE INDEX status_components_group ON status_components (group_id);

CREATE TABLE status_component_services (
    component_id TEXT NOT NULL REFERENCES status_components (id) ON DELETE CASCADE,
    service_id   TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    PRIMARY KEY (component_id, service_id)
);
CREATE INDEX status_component_services_service ON status_component_services (service_id);

CREATE TABLE status_intervals (
    component_id TEXT NOT NULL REFERENCES status_components (id) ON DELETE CASCADE,
    status       TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    -- NULL while it lasts; one open interval per component
    ended_at     INTEGER
);
CREATE INDEX status_intervals_component ON status_intervals (component_id, started_at);
CREATE UNIQUE INDEX status_intervals_open ON status_intervals (component_id) WHERE ended_at IS NULL;

CREATE TABLE status_incidents (
    id              TEXT PRIMARY KEY NOT NULL,
    code            TEXT NOT NULL,
    page_id         TEXT NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    incident_id     TEXT REFERENCES incidents (id) ON DELETE SET NULL,
    maintenance     INTEGER NOT NULL,
    name            TEXT NOT NULL,
    status          TEXT NOT NULL,
    impact          TEXT NOT NULL CHECK (impact IN ('none', 'minor', 'major', 'critical', 'maintenance')),
    scheduled_for   INTEGER,
    scheduled_until INTEGER,
    next_update_at  INTEGER,
    remind_minutes  INTEGER,
    reminded        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    started_at      INTEGER NOT NULL,
    monitoring_at   INTEGER,
    resolved_at     INTEGER
);
CREATE UNIQUE INDEX status_incidents_code ON status_incidents (code);
CREATE INDEX status_incidents_page ON status_incidents (page_id, started_at);
CREATE INDEX status_incidents_incident ON status_incidents (incident_id);
CREATE INDEX status_incidents_due ON status_incidents (scheduled_for)
    WHERE maintenance AND status <> 'completed';

CREATE TABLE status_incident_components (
    status_incident_id TEXT NOT NULL REFERENCES status_incidents (id) ON DELETE CASCADE,
    component_id       TEXT NOT NULL REFERENCES status_components (id) ON DELETE CASCADE,
    PRIMARY KEY (status_incident_id, component_id)
);
CREATE INDEX status_incident_components_component ON status_incident_components (component_id);

CREATE TABLE status_updates (
    id                 TEXT PRIMARY KEY NOT NULL,
    code               TEXT NOT NULL,
    status_incident_id TEXT NOT NULL REFERENCES status_incidents (id) ON DELETE CASCADE,
    status             TEXT NOT NULL,
    body               TEXT NOT NULL,
    -- [{component_id, code, name, old_status, new_status}]
    changes            TEXT NOT NULL CHECK (json_valid(changes)),
    next_update_at     INTEGER,
    created_at         INTEGER NOT NULL
);
CREATE UNIQUE INDEX status_updates_code ON status_updates (code);
CREATE INDEX status_updates_incident ON status_updates (status_incident_id, created_at);
