-- Insights: one row per page (a person interrupted about an incident at one instant), kept by
-- a trigger in the transaction that changes the notification. An escalation step writes a
-- person's notifications (one per contact method) at one instant, so the on-call report read
-- 263,000 notification rows for a year's 175,000 pages. `notifications` counts the
-- notifications behind the page that qualify (sent, sending or failed; not a stakeholder
-- update; about an incident): a retry puts one back to pending, and the page is gone while
-- none qualifies, as a plain read of the notifications would find. Tests compare it with
-- that read.
CREATE TABLE insight_pages (
    created_at    BIGINT NOT NULL,
    user_id       UUID NOT NULL,
    incident_id   UUID NOT NULL,
    notifications INTEGER NOT NULL,
    PRIMARY KEY (created_at, user_id, incident_id)
);

INSERT INTO insight_pages (created_at, user_id, incident_id, notifications)
SELECT created_at, user_id, incident_id, COUNT(*) FROM notifications
WHERE status IN ('sent', 'sending', 'failed') AND dedup_key NOT LIKE 'update:%'
  AND incident_id IS NOT NULL
GROUP BY created_at, user_id, incident_id;

CREATE FUNCTION notification_is_page(status TEXT, dedup_key TEXT, incident_id UUID)
RETURNS BOOLEAN LANGUAGE sql IMMUTABLE AS $$
    SELECT status IN ('sent', 'sending', 'failed') AND dedup_key NOT LIKE 'update:%'
       AND incident_id IS NOT NULL
$$;

-- Deletes come with an incident or a person (cascades fire triggers too). Only the status
-- changes today; the other columns are followed so that the sums stay those of the rows.
CREATE FUNCTION notifications_page() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE')
       AND notification_is_page(OLD.status, OLD.dedup_key, OLD.incident_id) THEN
        UPDATE insight_pages SET notifications = notifications - 1
        WHERE created_at = OLD.created_at AND user_id = OLD.user_id
          AND incident_id = OLD.incident_id;
        DELETE FROM insight_pages
        WHERE created_at = OLD.created_at AND user_id = OLD.user_id
          AND incident_id = OLD.incident_id AND notifications <= 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE')
       AND notification_is_page(NEW.status, NEW.dedup_key, NEW.incident_id) THEN
        INSERT INTO insight_pages (created_at, user_id, incident_id, notifications)
        VALUES (NEW.created_at, NEW.user_id, NEW.incident_id, 1)
        ON CONFLICT (created_at, user_id, incident_id)
        DO UPDATE SET notifications = insight_pages.notifications + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER notifications_page AFTER INSERT OR DELETE ON notifications
FOR EACH ROW EXECUTE FUNCTION notifications_page();
CREATE TRIGGER notifications_page_update
AFTER UPDATE OF status, dedup_key, incident_id, user_id, created_at ON notifications
FOR EACH ROW
WHEN (notification_is_page(OLD.status, OLD.dedup_key, OLD.incident_id)
      IS DISTINCT FROM notification_is_page(NEW.status, NEW.dedup_key, NEW.incident_id)
      OR OLD.created_at IS DISTINCT FROM NEW.created_at
      OR OLD.user_id IS DISTINCT FROM NEW.user_id
      OR OLD.incident_id IS DISTINCT FROM NEW.incident_id)
EXECUTE FUNCTION notifications_page();

-- Its reads now go to insight_pages; it only cost the notifications' writes.
DROP INDEX notifications_pages;
