-- Server keys: secrets the server signs with (the one-click acknowledge links in e-mails and
-- texts). Made once, by whoever asks first, and kept, so links survive restarts.
-- The key comes from SQLite's randomblob(): ChaCha20 seeded from the operating system.

CREATE TABLE server_keys (
    name       TEXT PRIMARY KEY NOT NULL,
    key        BLOB NOT NULL CHECK (length(key) = 32),
    created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
);
