-- Insights: one row per page (a person interrupted about an incident at one instant), kept by
-- triggers in the transaction that changes the notification. An escalation step writes a
-- person's notifications (one per contact method) at one instant, so the on-call report read
-- 263,000 notification rows for a year's 175,000 pages, each also looked up in the table for
-- the conditions its partial index did not hold. `notifications` counts the notifications
-- behind the page that qualify (sent, sending or failed; not a stakeholder update; about an
-- incident): a retry puts one back to pending, and the page is gone while none qualifies, as
-- a plain read of the notifications would find. Tests compare it with that read.
CREATE TABLE insight_pages (
    created_at    INTEGER NOT NULL,
    user_id       TEXT NOT NULL,
    incident_id   TEXT NOT NULL,
    notifications INTEGER NOT NULL,
    PRIMARY KEY (created_at, user_id, incident_id)
) WITHOUT ROWID;

INSERT INTO insight_pages (created_at, user_id, incident_id, notifications)
SELECT created_at, user_id, incident_id, COUNT(*) FROM notifications
WHERE status IN ('sent', 'sending', 'failed') AND dedup_key NOT LIKE 'update:%'
  AND incident_id IS NOT NULL
GROUP BY created_at, user_id, incident_id;

CREATE TRIGGER notifications_page_insert AFTER INSERT ON notifications
WHEN NEW.status IN ('sent', 'sending', 'failed') AND NEW.dedup_key NOT LIKE 'update:%'
  AND NEW.incident_id IS NOT NULL
BEGIN
    INSERT INTO insight_pages (created_at, user_id, incident_id, notifications)
    VALUES (NEW.created_at, NEW.user_id, NEW.incident_id, 1)
    ON CONFLICT (created_at, user_id, incident_id)
    DO UPDATE SET notifications = notifications + 1;
END;

-- Deleted with its incident or its person (cascades fire triggers too).
CREATE TRIGGER notifications_page_delete AFTER DELETE ON notifications
WHEN OLD.status IN ('sent', 'sending', 'failed') AND OLD.dedup_key NOT LIKE 'update:%'
  AND OLD.incident_id IS NOT NULL
BEGIN
    UPDATE insight_pages SET notifications = notifications - 1
    WHERE created_at = OLD.created_at AND user_id = OLD.user_id
      AND incident_id = OLD.incident_id;
    DELETE FROM insight_pages
    WHERE created_at = OLD.created_at AND user_id = OLD.user_id
      AND incident_id = OLD.incident_id AND notifications <= 0;
END;

-- Only the status changes today; the other columns are followed so that the sums stay those
-- of the rows whatever a later change does.
CREATE TRIGGER notifications_page_update
AFTER UPDATE OF status, dedup_key, incident_id, user_id, created_at ON notifications
WHEN (OLD.status IN ('sent', 'sending', 'failed') AND OLD.dedup_key NOT LIKE 'update:%'
      AND OLD.incident_id IS NOT NULL)
  IS NOT (NEW.status IN ('sent', 'sending', 'failed') AND NEW.dedup_key NOT LIKE 'update:%'
          AND NEW.incident_id IS NOT NULL)
  OR OLD.created_at IS NOT NEW.created_at OR OLD.user_id IS NOT NEW.user_id
  OR OLD.incident_id IS NOT NEW.incident_id
BEGIN
    UPDATE insight_pages SET notifications = notifications - 1
    WHERE created_at = OLD.created_at AND user_id = OLD.user_id
      AND incident_id = OLD.incident_id
      AND OLD.status IN ('sent', 'sending', 'failed') AND OLD.dedup_key NOT LIKE 'update:%';
    DELETE FROM insight_pages
    WHERE created_at = OLD.created_at AND user_id = OLD.user_id
      AND incident_id = OLD.incident_id AND notifications <= 0;
    INSERT INTO insight_pages (created_at, user_id, incident_id, notifications)
    SELECT NEW.created_at, NEW.user_id, NEW.incident_id, 1
    WHERE NEW.status IN ('sent', 'sending', 'failed') AND NEW.dedup_key NOT LIKE 'update:%'
      AND NEW.incident_id IS NOT NULL
    ON CONFLICT (created_at, user_id, incident_id)
    DO UPDATE SET notifications = notifications + 1;
END;

-- Its reads now go to insight_pages; it only cost the notifications' writes.
DROP INDEX notifications_pages;
