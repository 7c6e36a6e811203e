-- The last page sent on each contact method (the pace of slow methods), from an index rather
-- than a scan of every notification kept: a year's history made each look-up read 300,000
-- rows. The queries state the index's condition whole, so both databases use it.
CREATE INDEX notifications_last_sent ON notifications (contact_method_id, sent_at)
    WHERE status = 'sent' AND dedup_key NOT LIKE 'update:%';
