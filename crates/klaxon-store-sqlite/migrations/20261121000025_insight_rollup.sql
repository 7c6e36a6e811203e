-- Insights: each incident's alert facts, kept on the incident by triggers in the transaction
-- that writes the alert or its event, whatever the path (ingest, incident moves, merges,
-- re-triggers, a service's alerts deleted with it). A period's read then never touches alerts
-- or events: at 2,000,000 alerts the per-incident subqueries took seconds.
--   alerts_grouped        alerts whose incident_id is this incident
--   alerts_self_resolved  of those: resolved, never acknowledged, and with an alert.resolved
--                         event by the system (its monitor resolved it, not a person)
-- The sums are exact (tests compare them with a recomputation over the raw rows). Events are
-- never deleted, so only their inserts are followed.
ALTER TABLE incidents ADD COLUMN alerts_grouped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN alerts_self_resolved INTEGER NOT NULL DEFAULT 0;

UPDATE incidents SET
    alerts_grouped = (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = incidents.id),
    alerts_self_resolved = (
        SELECT COUNT(*) FROM alerts a
        WHERE a.incident_id = incidents.id AND a.status = 'resolved'
          AND a.acknowledged_at IS NULL
          AND EXISTS (SELECT 1 FROM events e
                      WHERE e.subject_type = 'alert' AND e.subject_id = a.id
                        AND e.kind = 'alert.resolved' AND e.actor = 'system'));

-- An alert counts as (old) out of its old incident and (new) into its new one; the event
-- check reads the same events for both, so the sums stay those of the rows.
CREATE TRIGGER alerts_insight_insert AFTER INSERT ON alerts
WHEN NEW.incident_id IS NOT NULL
BEGIN
    UPDATE incidents SET
        alerts_grouped = alerts_grouped + 1,
        alerts_self_resolved = alerts_self_resolved + (
            NEW.status = 'resolved' AND NEW.acknowledged_at IS NULL
            AND EXISTS (SELECT 1 FROM events e
                        WHERE e.subject_type = 'alert' AND e.subject_id = NEW.id
                          AND e.kind = 'alert.resolved' AND e.actor = 'system'))
    WHERE id = NEW.incident_id;
END;

CREATE TRIGGER alerts_insight_update AFTER UPDATE OF incident_id, status, acknowledged_at ON alerts
WHEN OLD.incident_id IS NOT NEW.incident_id OR OLD.status IS NOT NEW.status
  OR OLD.acknowledged_at IS NOT NEW.acknowledged_at
BEGIN
    UPDATE incidents SET
        alerts_grouped = alerts_grouped - 1,
        alerts_self_resolved = alerts_self_resolved - (
            OLD.status = 'resolved' AND OLD.acknowledged_at IS NULL
            AND EXISTS (SELECT 1 FROM events e
                        WHERE e.subject_type = 'alert' AND e.subject_id = OLD.id
                          AND e.kind = 'alert.resolved' AND e.actor = 'system'))
    WHERE id = OLD.incident_id;
    UPDATE incidents SET
        alerts_grouped = alerts_grouped + 1,
        alerts_self_resolved = alerts_self_resolved + (
            NEW.status = 'resolved' AND NEW.acknowledged_at IS NULL
            AND EXISTS (SELECT 1 FROM events e
                        WHERE e.subject_type = 'alert' AND e.subject_id = NEW.id
                          AND e.kind = 'alert.resolved' AND e.actor = 'system'))
    WHERE id = NEW.incident_id;
END;

CREATE TRIGGER alerts_insight_delete AFTER DELETE ON alerts
WHEN OLD.incident_id IS NOT NULL
BEGIN
    UPDATE incidents SET
        alerts_grouped = alerts_grouped - 1,
        alerts_self_resolved = alerts_self_resolved - (
            OLD.status = 'resolved' AND OLD.acknowledged_at IS NULL
            AND EXISTS (SELECT 1 FROM events e
                        WHERE e.subject_type = 'alert' AND e.subject_id = OLD.id
                          AND e.kind = 'alert.resolved' AND e.actor = 'system'))
    WHERE id = OLD.incident_id;
END;

-- The alert's first system resolution event makes a resolved, unacknowledged alert count.
CREATE TRIGGER events_insight_insert AFTER INSERT ON events
WHEN NEW.subject_type = 'alert' AND NEW.kind = 'alert.resolved' AND NEW.actor = 'system'
BEGIN
    UPDATE incidents SET alerts_self_resolved = alerts_self_resolved + 1
    WHERE id = (SELECT a.incident_id FROM alerts a
                WHERE a.id = NEW.subject_id AND a.status = 'resolved'
                  AND a.acknowledged_at IS NULL)
      AND NOT EXISTS (SELECT 1 FROM events e
                      WHERE e.subject_type = 'alert' AND e.subject_id = NEW.subject_id
                        AND e.kind = 'alert.resolved' AND e.actor = 'system'
                        AND e.seq < NEW.seq);
END;

-- The pages read (on-call load) from the index alone: a year is 300,000 notifications, and
-- looking up each one's row and its incident took most of a second. Drills are few: their
-- ids are read once instead of each page's incident.
CREATE INDEX notifications_pages ON notifications (created_at, user_id, incident_id)
    WHERE status IN ('sent', 'sending', 'failed') AND dedup_key NOT LIKE 'update:%';
CREATE INDEX incidents_drills ON incidents (id) WHERE is_drill;
