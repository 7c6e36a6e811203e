-- On-call: escalation policies, contact methods, notification rules and the notification outbox.

CREATE TABLE escalation_policies (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    plan        TEXT NOT NULL CHECK (json_valid(plan)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX escalation_policies_name ON escalation_policies (name);

ALTER TABLE services ADD COLUMN escalation_policy_id TEXT REFERENCES escalation_policies (id);
CREATE INDEX services_escalation_policy ON services (escalation_policy_id)
    WHERE escalation_policy_id IS NOT NULL;

CREATE TABLE contact_methods (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('email', 'sms', 'voice', 'webhook', 'slack', 'teams', 'mattermost')),
    label      TEXT NOT NULL,
    address    TEXT NOT NULL,
    -- webhooks: the key their deliveries are signed with
    secret     TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX contact_methods_user ON contact_methods (user_id, id);

CREATE TABLE notification_rules (
    id                TEXT PRIMARY KEY NOT NULL,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contact_method_id TEXT NOT NULL REFERENCES contact_methods (id) ON DELETE CASCADE,
    delay_minutes     INTEGER NOT NULL,
    urgency           TEXT NOT NULL CHECK (urgency IN ('high', 'low')),
    created_at        INTEGER NOT NULL
);
CREATE INDEX notification_rules_user ON notification_rules (user_id, delay_minutes);
CREATE INDEX notification_rules_method ON notification_rules (contact_method_id);

-- One row per escalation step written: a step retried or run by two engines writes once.
CREATE TABLE escalation_steps (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    step        INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (incident_id, step)
);

CREATE TABLE notifications (
    id                TEXT PRIMARY KEY NOT NULL,
    incident_id       TEXT REFERENCES incidents (id) ON DELETE CASCADE,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contact_method_id TEXT REFERENCES contact_methods (id) ON DELETE SET NULL,
    kind              TEXT NOT NULL,
    address           TEXT NOT NULL,
    dedup_key         TEXT NOT NULL,
    payload           TEXT NOT NULL CHECK (json_valid(payload)),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    run_at            INTEGER NOT NULL,
    last_error        TEXT,
    created_at        INTEGER NOT NULL,
    sent_at           INTEGER
);
CREATE UNIQUE INDEX notifications_dedup ON notifications (dedup_key);
CREATE INDEX notifications_due ON notifications (run_at) WHERE status IN ('pending', 'sending');
CREATE INDEX notifications_incident ON notifications (incident_id, created_at)
    WHERE incident_id IS NOT NULL;
CREATE INDEX notifications_user ON notifications (user_id, created_at);
