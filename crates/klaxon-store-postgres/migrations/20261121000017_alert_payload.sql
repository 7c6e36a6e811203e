-- The newest trigger's event as the tool sent it (re-encoded as JSON text, the routing key left
-- out), shown on the alert page. Text on both backends: kept as written, never queried into.
-- Alerts from before this migration have none.
ALTER TABLE alerts ADD COLUMN payload TEXT;
