-- Postmortems: one per incident, its sections, contributing factors, reviewers and their
-- approvals, review comments, and the author's choices over the incident's timeline (entries
-- point at incident events by seq; the events themselves are never changed).
CREATE TABLE postmortems (
    id             UUID PRIMARY KEY,
    incident_id    UUID NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    state          TEXT NOT NULL CHECK (state IN ('draft', 'in_review', 'published')),
    owner_id       UUID REFERENCES users (id),
    due_at         BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    published_at   BIGINT,
    published_by   UUID REFERENCES users (id),
    -- an admin's reason for publishing without the owner's approved review
    publish_reason TEXT,
    -- the incident's facts as they were when published (JSON)
    frozen         JSONB
);
CREATE UNIQUE INDEX postmortems_incident_id ON postmortems (incident_id);
CREATE INDEX postmortems_state ON postmortems (state, created_at);

CREATE TABLE postmortem_sections (
    postmortem_id UUID NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
    section       TEXT NOT NULL,
    body          TEXT NOT NULL,
    PRIMARY KEY (postmortem_id, section)
);

CREATE TABLE postmortem_factors (
    postmortem_id UUID NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
    ord           BIGINT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('trigger', 'contributing', 'mitigating')),
    text          TEXT NOT NULL,
    PRIMARY KEY (postmortem_id, ord)
);

CREATE TABLE postmortem_reviewers (
    postmortem_id UUID NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
    user_id       UUID NOT NULL REFERENCES users (id),
    approved_at   BIGINT,
    PRIMARY KEY (postmortem_id, user_id)
);

CREATE TABLE postmortem_comments (
    id            UUID PRIMARY KEY,
    postmortem_id UUID NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
    section       TEXT NOT NULL,
    author_id     UUID NOT NULL REFERENCES users (id),
    body          TEXT NOT NULL,
    at            BIGINT NOT NULL
);
CREATE INDEX postmortem_comments_postmortem ON postmortem_comments (postmortem_id, at);

CREATE TABLE postmortem_timeline (
    postmortem_id UUID NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
    event_seq     BIGINT NOT NULL,
    included      BOOLEAN NOT NULL,
    note          TEXT NOT NULL,
    PRIMARY KEY (postmortem_id, event_seq)
);
