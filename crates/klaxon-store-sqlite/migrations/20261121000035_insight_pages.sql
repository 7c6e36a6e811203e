-- Insights: the notifications that count as pages (sent, sending or failed; not a stakeholder
-- update; about an incident), narrow and in time order, kept by triggers in the transaction
-- that changes the notification. The on-call report read 263,000 notification rows for a year,
-- each also looked up in the table for the conditions its partial index did not hold; this is
-- one range scan. One escalation step writes a person's notifications (one per contact method)
-- at one instant: the reader counts (created_at, user_id, incident_id) once. One row per
-- notification, not a count per page, so that two transactions changing two notifications of
-- one page (two instances claiming) never wait on one shared row. Tests compare it with a plain
-- read of the notifications.
CREATE TABLE insight_pages (
    created_at      INTEGER NOT NULL,
    user_id         TEXT NOT NULL,
    incident_id     TEXT NOT NULL,
    notification_id TEXT NOT NULL,
    PRIMARY KEY (created_at, user_id, incident_id, notification_id)
) WITHOUT ROWID;

INSERT INTO insight_pages (created_at, user_id, incident_id, notification_id)
SELECT created_at, user_id, incident_id, id FROM notifications
WHERE status IN ('sent', 'sending', 'failed') AND dedup_key NOT LIKE 'update:%'
  AND incident_id IS NOT NULL;

CREATE TRIGGER notifications_page_insert AFTER INSERT ON notifications
WHEN NEW.status IN ('sent', 'sending', 'failed') AND NEW.dedup_key NOT LIKE 'update:%'
  AND NEW.incident_id IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO insight_pages (created_at, user_id, incident_id, notification_id)
    VALUES (NEW.created_at, NEW.user_id, NEW.incident_id, NEW.id);
END;

-- Deleted with its incident or its person (cascades fire triggers too).
CREATE TRIGGER notifications_page_delete AFTER DELETE ON notifications
WHEN OLD.status IN ('sent', 'sending', 'failed') AND OLD.dedup_key NOT LIKE 'update:%'
  AND OLD.incident_id IS NOT NULL
BEGIN
    DELETE FROM insight_pages
    WHERE created_at = OLD.created_at AND user_id = OLD.user_id
      AND incident_id = OLD.incident_id AND notification_id = OLD.id;
END;

-- Only the status changes today; the other columns are followed so that the rows stay those of
-- the notifications whatever a later change does.
CREATE TRIGGER notifications_page_update
AFTER UPDATE OF status, dedup_key, incident_id, user_id, created_at ON notifications
WHEN (OLD.status IN ('sent', 'sending', 'failed') AND OLD.dedup_key NOT LIKE 'update:%'
      AND OLD.incident_id IS NOT NULL)
  IS NOT (NEW.status IN ('sent', 'sending', 'failed') AND NEW.dedup_key NOT LIKE 'update:%'
          AND NEW.incident_id IS NOT NULL)
  OR OLD.created_at IS NOT NEW.created_at OR OLD.user_id IS NOT NEW.user_id
  OR OLD.incident_id IS NOT NEW.incident_id
BEGIN
    DELETE FROM insight_pages
    WHERE created_at = OLD.created_at AND user_id = OLD.user_id
      AND incident_id = OLD.incident_id AND notification_id = OLD.id;
    INSERT OR IGNORE INTO insight_pages (created_at, user_id, incident_id, notification_id)
    SELECT NEW.created_at, NEW.user_id, NEW.incident_id, NEW.id
    WHERE NEW.status IN ('sent', 'sending', 'failed') AND NEW.dedup_key NOT LIKE 'update:%'
      AND NEW.incident_id IS NOT NULL;
END;

-- Its reads now go to insight_pages; it only cost the notifications' writes.
DROP INDEX notifications_pages;
