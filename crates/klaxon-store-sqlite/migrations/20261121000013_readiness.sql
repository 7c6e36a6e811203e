-- One row /readyz writes to, so that it reports whether the database takes writes (a full
-- disk, a read-only replica), not only whether it answers.
CREATE TABLE readiness (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
