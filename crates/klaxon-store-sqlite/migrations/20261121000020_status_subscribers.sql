-- Status page subscribers (e-mail with double opt-in, webhooks), the components each follows,
-- and their notices: the durable outbox of what each subscriber is sent, queued in the same
-- transaction as the change it tells of.
CREATE TABLE status_subscribers (
    id              TEXT PRIMARY KEY NOT NULL,
    page_id         TEXT NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('email', 'webhook')),
    -- an e-mail address (lower case) or a webhook URL
    address         TEXT NOT NULL,
    -- every component, or only those in status_subscriber_components
    all_components  INTEGER NOT NULL,
    -- NULL until the address owner confirms (e-mail); notices go only once confirmed
    confirmed_at    INTEGER,
    -- signs the subscriber's manage and unsubscribe links
    nonce           TEXT NOT NULL,
    -- the last confirmation or manage-link e-mail: at most one per address per few minutes
    mailed_at       INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX status_subscribers_address ON status_subscribers (page_id, kind, address);

CREATE TABLE status_subscriber_components (
    subscriber_id TEXT NOT NULL REFERENCES status_subscribers (id) ON DELETE CASCADE,
    component_id  TEXT NOT NULL REFERENCES status_components (id) ON DELETE CASCADE,
    PRIMARY KEY (subscriber_id, component_id)
);
CREATE INDEX status_subscriber_components_component ON status_subscriber_components (component_id);

CREATE TABLE status_notices (
    subscriber_id      TEXT NOT NULL REFERENCES status_subscribers (id) ON DELETE CASCADE,
    -- the event that caused it; a subscriber's notices go in (event_seq, part) order
    event_seq          INTEGER NOT NULL,
    -- '' or the component's code, when one event tells of several components
    part               TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('confirm', 'manage', 'incident', 'component', 'reminder')),
    status_incident_id TEXT REFERENCES status_incidents (id) ON DELETE CASCADE,
    status_update_id   TEXT,
    component_id       TEXT REFERENCES status_components (id) ON DELETE CASCADE,
    old_status         TEXT,
    new_status         TEXT,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    run_at             INTEGER NOT NULL,
    last_error         TEXT,
    created_at         INTEGER NOT NULL,
    sent_at            INTEGER,
    PRIMARY KEY (subscriber_id, event_seq, part)
);
CREATE INDEX status_notices_due ON status_notices (run_at) WHERE status IN ('pending', 'sending');
