-- Insights: each incident's alert facts, kept on the incident by triggers in the transaction
-- that writes the alert or its event, whatever the path (ingest, incident moves, merges,
-- re-triggers, a service's alerts deleted with it). A period's read then never touches alerts
-- or events: at 2,000,000 alerts the per-incident subqueries took seconds.
--   alerts_grouped        alerts whose incident_id is this incident
--   alerts_self_resolved  of those: resolved, never acknowledged, and with an alert.resolved
--                         event by the system (its monitor resolved it, not a person)
-- The sums are exact (tests compare them with a recomputation over the raw rows). Events are
-- never deleted, so only their inserts are followed.
ALTER TABLE incidents ADD COLUMN alerts_grouped BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN alerts_self_resolved BIGINT NOT NULL DEFAULT 0;

-- 1 when the alert, as given, counts as self-resolved against the events as they are now.
CREATE FUNCTION insight_self_resolved(alert UUID, status TEXT, acknowledged_at BIGINT)
RETURNS BIGINT LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN status = 'resolved' AND acknowledged_at IS NULL
                 AND EXISTS (SELECT 1 FROM events e
                             WHERE e.subject_type = 'alert' AND e.subject_id = CAST(alert AS TEXT)
                               AND e.kind = 'alert.resolved' AND e.actor = 'system')
           THEN 1 ELSE 0 END
$$;

UPDATE incidents i SET alerts_grouped = f.total, alerts_self_resolved = f.self_resolved
FROM (SELECT a.incident_id, COUNT(*) AS total,
             SUM(insight_self_resolved(a.id, a.status, a.acknowledged_at)) AS self_resolved
      FROM alerts a WHERE a.incident_id IS NOT NULL GROUP BY a.incident_id) f
WHERE i.id = f.incident_id;

-- An alert counts as (old) out of its old incident and (new) into its new one; the event
-- check reads the same events for both, so the sums stay those of the rows.
CREATE FUNCTION alerts_insight() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.incident_id IS NOT NULL THEN
        UPDATE incidents SET
            alerts_grouped = alerts_grouped - 1,
            alerts_self_resolved = alerts_self_resolved
                - insight_self_resolved(OLD.id, OLD.status, OLD.acknowledged_at)
        WHERE id = OLD.incident_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.incident_id IS NOT NULL THEN
        UPDATE incidents SET
            alerts_grouped = alerts_grouped + 1,
            alerts_self_resolved = alerts_self_resolved
                + insight_self_resolved(NEW.id, NEW.status, NEW.acknowledged_at)
        WHERE id = NEW.incident_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER alerts_insight AFTER INSERT OR DELETE ON alerts
FOR EACH ROW EXECUTE FUNCTION alerts_insight();
CREATE TRIGGER alerts_insight_update AFTER UPDATE OF incident_id, status, acknowledged_at ON alerts
FOR EACH ROW
WHEN (OLD.incident_id IS DISTINCT FROM NEW.incident_id OR OLD.status IS DISTINCT FROM NEW.status
      OR OLD.acknowledged_at IS DISTINCT FROM NEW.acknowledged_at)
EXECUTE FUNCTION alerts_insight();

-- The alert's first system resolution event (lowest seq: row triggers run after the whole
-- statement here, so later rows of the same INSERT are already visible) makes a resolved,
-- unacknowledged alert count. A subject that is not an alert id counts for nothing.
CREATE FUNCTION events_insight() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.subject_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        UPDATE incidents SET alerts_self_resolved = alerts_self_resolved + 1
        WHERE id = (SELECT a.incident_id FROM alerts a
                    WHERE a.id = CAST(NEW.subject_id AS UUID) AND a.status = 'resolved'
                      AND a.acknowledged_at IS NULL)
          AND NOT EXISTS (SELECT 1 FROM events e
                          WHERE e.subject_type = 'alert' AND e.subject_id = NEW.subject_id
                            AND e.kind = 'alert.resolved' AND e.actor = 'system'
                            AND e.seq < NEW.seq);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_insight AFTER INSERT ON events
FOR EACH ROW
WHEN (NEW.subject_type = 'alert' AND NEW.kind = 'alert.resolved' AND NEW.actor = 'system')
EXECUTE FUNCTION events_insight();

-- The pages read (on-call load) from the index alone: a year is 300,000 notifications, and
-- looking up each one's row and its incident took most of a second. Drills are few: their
-- ids are read once instead of each page's incident.
CREATE INDEX notifications_pages ON notifications (created_at, user_id, incident_id)
    WHERE status IN ('sent', 'sending', 'failed') AND dedup_key NOT LIKE 'update:%';
CREATE INDEX incidents_drills ON incidents (id) WHERE is_drill;
