-- Runbooks as code: each save is a new immutable version of the Markdown source; the runbook
-- row holds what the latest version says about where it applies (its services, its alert
-- matchers), so an incident's suggestions are one read.
CREATE TABLE runbooks (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    title        TEXT NOT NULL,
    version      INTEGER NOT NULL,
    has_commands BOOLEAN NOT NULL,
    -- the latest version's alert matchers, a JSON list of {field: pattern} objects
    matchers     JSONB NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX runbooks_name ON runbooks (name);
CREATE TABLE runbook_versions (
    runbook_id UUID NOT NULL REFERENCES runbooks (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    source     TEXT NOT NULL,
    -- SHA-256 of the source, hex: what a runner checks before it runs a step
    digest     TEXT NOT NULL,
    author_id  UUID REFERENCES users (id) ON DELETE SET NULL,
    -- the author's name then, kept when the user is removed
    author     TEXT NOT NULL,
    message    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (runbook_id, version)
);
CREATE TABLE runbook_services (
    runbook_id UUID NOT NULL REFERENCES runbooks (id) ON DELETE CASCADE,
    service_id UUID NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    PRIMARY KEY (runbook_id, service_id)
);
CREATE INDEX runbook_services_service ON runbook_services (service_id);
