-- Status page subscribers (e-mail with double opt-in, webhooks), the components each follows,
-- and their notices: the durable outbox of what each subscriber is sent, queued in the same
-- transaction as the change it tells of.
CREATE TABLE status_subscribers (
    id              UUID PRIMARY KEY,
    page_id         UUID NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('email', 'webhook')),
    -- an e-mail address (lower case) or a webhook URL
    address         TEXT NOT NULL,
    -- every component, or only those in status_subscriber_components
    all_components  BOOLEAN NOT NULL,
    -- NULL until the address owner confirms (e-mail); notices go only once confirmed
    confirmed_at    BIGINT,
    -- signs the subscriber's manage and unsubscribe links
    nonce           TEXT NOT NULL,
    -- the last confirmation or manage-link e-mail: at most one per address per few minutes
    mailed_at       BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX status_subscribers_address ON status_subscribers (page_id, kind, address);

CREATE TABLE status_subscriber_components (
    subscriber_id UUID NOT NULL REFERENCES status_subscribers (id) ON DELETE CASCADE,
    component_id  UUID NOT NULL REFERENCES status_components (id) ON DELETE CASCADE,
    PRIMARY KEY (subscriber_id, component_id)
);
CREATE INDEX status_subscriber_components_component ON status_subscriber_components (component_id);

CREATE TABLE status_notices (
    subscriber_id      UUID NOT NULL REFERENCES status_subscribers (id) ON DELETE CASCADE,
    -- the event that caused it; a subscriber's notices go in (event_seq, part) order
    event_seq          BIGINT NOT NULL,
    -- '' or the component's code, when one event tells of several components
    part               TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('confirm', 'manage', 'incident', 'component', 'reminder')),
    status_incident_id UUID REFERENCES status_incidents (id) ON DELETE CASCADE,
    status_update_id   UUID,
    component_id       UUID REFERENCES status_components (id) ON DELETE CASCADE,
    old_status         TEXT,
    new_status         TEXT,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts           BIGINT NOT NULL DEFAULT 0,
    run_at             BIGINT NOT NULL,
    last_error         TEXT,
    created_at         BIGINT NOT NULL,
    sent_at            BIGINT,
    PRIMARY KEY (subscriber_id, event_seq, part)
);
CREATE INDEX status_notices_due ON status_notices (run_at) WHERE status IN ('pending', 'sending');
