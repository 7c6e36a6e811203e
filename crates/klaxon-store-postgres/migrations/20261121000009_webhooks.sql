-- Outgoing webhooks for incident events, and their durable deliveries.
CREATE TABLE webhooks (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    -- event kinds or prefixes ("incident."); [] is every incident event
    events     JSONB NOT NULL,
    enabled    BOOLEAN NOT NULL,
    -- events up to this sequence number have been fanned out to deliveries
    cursor_seq BIGINT NOT NULL,
    -- the position when it was created: nothing before is delivered
    start_seq  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX webhooks_name ON webhooks (name);

CREATE TABLE webhook_deliveries (
    id              UUID PRIMARY KEY,
    webhook_id      UUID NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_seq       BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    payload         JSONB NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    run_at          BIGINT NOT NULL,
    last_error      TEXT,
    response_status BIGINT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (webhook_id, event_seq);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (run_at)
    WHERE status IN ('pending', 'sending');
