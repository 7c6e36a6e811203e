-- A component may follow its checks: the enabled uptime checks on the services it depends on
-- then set its status whenever one of them changes state.
ALTER TABLE status_components ADD COLUMN follow_checks BOOLEAN NOT NULL DEFAULT FALSE;
