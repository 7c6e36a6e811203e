-- Server keys: secrets the server signs with (the one-click acknowledge links in e-mails and
-- texts). Made once, by whichever instance asks first, and kept: every instance on this
-- database signs and checks with the same key, across restarts.
-- The key is the SHA-256 of two gen_random_uuid() values (pg_strong_random, 244 random bits).

CREATE TABLE server_keys (
    name       TEXT PRIMARY KEY,
    key        BYTEA NOT NULL CHECK (octet_length(key) = 32),
    created_at BIGINT NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT
);
