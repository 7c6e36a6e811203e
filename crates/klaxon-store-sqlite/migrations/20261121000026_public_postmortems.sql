-- A postmortem's public summary (customer-facing, written by its author), and the summary a
-- public incident shows once a person attaches it after publishing (Statuspage's
-- postmortem_body and postmortem_published_at).
ALTER TABLE postmortems ADD COLUMN public_summary TEXT NOT NULL DEFAULT '';
ALTER TABLE status_incidents ADD COLUMN postmortem_body TEXT;
ALTER TABLE status_incidents ADD COLUMN postmortem_published_at INTEGER;
