-- Insights: drills are kept out of every metric; the index reads a period's incidents
-- without a scan (their alerts and pages have incident and user indexes already).
ALTER TABLE incidents ADD COLUMN is_drill BOOLEAN NOT NULL DEFAULT FALSE;

CREATE INDEX incidents_created ON incidents (created_at);
CREATE INDEX notifications_created ON notifications (created_at);
