-- Each person's time zone (an IANA name), in which every page shows them times. NULL until
-- they choose one: pages read in UTC meanwhile and offer the browser's zone.
ALTER TABLE users ADD COLUMN time_zone TEXT;
