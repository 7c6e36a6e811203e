-- Insights: the notifications that count as pages (sent, sending or failed; not a stakeholder
-- update; about an incident), narrow and in time order, kept by a trigger in the transaction
-- that changes the notification: the on-call report read 263,000 notification rows for a year.
-- One escalation step writes a person's notifications (one per contact method) at one instant:
-- the reader counts (created_at, user_id, incident_id) once. One row per notification, not a
-- count per page, so that two instances claiming two notifications of one page never wait on
-- (or deadlock over) one shared row. Tests compare it with a plain read of the notifications.
CREATE TABLE insight_pages (
    created_at      BIGINT NOT NULL,
    user_id         UUID NOT NULL,
    incident_id     UUID NOT NULL,
    notification_id UUID NOT NULL,
    PRIMARY KEY (created_at, user_id, incident_id, notification_id)
);

INSERT INTO insight_pages (created_at, user_id, incident_id, notification_id)
SELECT created_at, user_id, incident_id, id FROM notifications
WHERE status IN ('sent', 'sending', 'failed') AND dedup_key NOT LIKE 'update:%'
  AND incident_id IS NOT NULL;

CREATE FUNCTION notification_is_page(status TEXT, dedup_key TEXT, incident_id UUID)
RETURNS BOOLEAN LANGUAGE sql IMMUTABLE AS $$
    SELECT status IN ('sent', 'sending', 'failed') AND dedup_key NOT LIKE 'update:%'
       AND incident_id IS NOT NULL
$$;

-- Deletes come with an incident or a person (cascades fire triggers too). Only the status
-- changes today; the other columns are followed so that the rows stay those of the
-- notifications.
CREATE FUNCTION notifications_page() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE')
       AND notification_is_page(OLD.status, OLD.dedup_key, OLD.incident_id) THEN
        DELETE FROM insight_pages
        WHERE created_at = OLD.created_at AND user_id = OLD.user_id
          AND incident_id = OLD.incident_id AND notification_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE')
       AND notification_is_page(NEW.status, NEW.dedup_key, NEW.incident_id) THEN
        INSERT INTO insight_pages (created_at, user_id, incident_id, notification_id)
        VALUES (NEW.created_at, NEW.user_id, NEW.incident_id, NEW.id)
        ON CONFLICT DO NOTHING;
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
