-- Deactivated users keep their history (events, incident roles, notes) but cannot sign in,
-- use API tokens or be paged.
ALTER TABLE users ADD COLUMN deactivated_at BIGINT;
