-- Postmortems: one per incident, its sections, contributing factors, reviewers and their
-- approvals, review comments, and the author's choices over the incident's timeline (entries
-- point at incident events by seq; the events themselves are never changed).
CREATE TABLE postmortems (
    id             TEXT PRIMARY KEY NOT NULL,
    incident_id    TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    state          TEXT NOT NULL CHECK (state IN ('draft', 'in_review', 'published')),
    owner_id       TEXT REFERENCES users (id),
    due_at         INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    published_at   INTEGER,
    published_by   TEXT REFERENCES users (id),
    -- an admin's reason for publishing without the owner's approved review
    publish_reason TEXT,
    -- the incident's facts as they were when published (JSON)
    frozen         TEXT
);
CREATE UNIQUE INDEX postmortems_incident_id ON postmortems (incident_id);
CREATE INDEX postmortems_state ON postmortems (state, created_at);

CREATE TABLE postmortem_sections (
    postmortem_id TEXT NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
    section       TEXT NOT NULL,
    body          TEXT NOT NULL,
    PRIMARY KEY (postmortem_id, section)
);

CREATE TABLE postmortem_factors (
    postmortem_id TEXT NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
    ord           INTEGER NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('trigger', 'contributing', 'mitigating')),
    text          TEXT NOT NULL,
    PRIMARY KEY (postmortem_id, ord)
);

CREATE TABLE postmortem_reviewers (
    postmortem_id TEXT NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id),
    approved_at   INTEGER,
    PRIMARY KEY (postmortem_id, user_id)
);

CREATE TABLE postmortem_comments (
    id            TEXT PRIMARY KEY NOT NULL,
    postmortem_id TEXT NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
    section       TEXT NOT NULL,
    author_id     TEXT NOT NULL REFERENCES users (id),
    body          TEXT NOT NULL,
    at            INTEGER NOT NULL
);
CREATE INDEX postmortem_comments_postmortem ON postmortem_comments (postmortem_id, at);

CREATE TABLE postmortem_timeline (
    postmortem_id TEXT NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
    event_seq     INTEGER NOT NULL,
    included      INTEGER NOT NULL,
    note          TEXT NOT NULL,
    PRIMARY KEY (postmortem_id, event_seq)
);
