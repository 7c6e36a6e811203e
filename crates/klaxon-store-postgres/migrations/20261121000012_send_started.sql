-- When the send of a claimed notification actually began (just before it went on the wire).
-- A claim that expires without it was never sent and is released to be sent again; one with
-- it may have arrived, so it is failed as "outcome unknown", never resent.
ALTER TABLE notifications ADD COLUMN send_started_at BIGINT;
