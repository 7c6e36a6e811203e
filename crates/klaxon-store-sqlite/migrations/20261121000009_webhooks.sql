-- Outgoing webhooks for incident events, and their durable deliveries.
CREATE TABLE webhooks (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    -- event kinds or prefixes ("incident."); [] is every incident event
    events     TEXT NOT NULL CHECK (json_valid(events)),
    enabled    INTEGER NOT NULL,
    -- events up to this sequence number have been fanned out to deliveries
    cursor_seq INTEGER NOT NULL,
    -- the position when it was created: nothing before is delivered
    start_seq  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX webhooks_name ON webhooks (name);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY NOT NULL,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_seq       INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL CHECK (json_valid(payload)),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    run_at          INTEGER NOT NULL,
    last_error      TEXT,
    response_status INTEGER,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (webhook_id, event_seq);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (run_at)
    WHERE status IN ('pending', 'sending');
