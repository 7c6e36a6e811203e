-- When the send of a claimed notification actually began (just before it went on the wire).
-- A claim that expires without it was never sent and is released to be sent again; one with
-- it may have arrived, so it is failed as "outcome unknown", never resent.
ALTER TABLE notifications ADD COLUMN send_started_at INTEGER;
-- Sends claimed by an older version that stopped mid-send: their outcome is unknown, as it
-- was before this column, so they count as begun and are never resent.
UPDATE notifications SET send_started_at = run_at WHERE status = 'sending';
