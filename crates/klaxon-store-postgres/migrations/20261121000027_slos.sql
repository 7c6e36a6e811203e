-- Service level objectives on services: the objective, its window (rolling days, or a
-- calendar month in a time zone), the SLI's source (kind + JSON), the budget's status, and the
-- last evaluation step (one evaluation per SLO and step, whatever the number of instances).
CREATE TABLE slos (
    id             UUID PRIMARY KEY,
    service_id     UUID NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    objective      DOUBLE PRECISION NOT NULL CHECK (objective > 0 AND objective < 100),
    window_days    INTEGER,
    calendar_tz    TEXT,
    sli_kind       TEXT NOT NULL,
    sli            TEXT NOT NULL,
    at_risk        DOUBLE PRECISION NOT NULL,
    budget_status  TEXT NOT NULL CHECK (budget_status IN ('healthy', 'at_risk', 'exhausted')),
    status_since   BIGINT NOT NULL,
    evaluated_step BIGINT,
    -- Since when the SLI's source has not answered, and whether its "silent" alert is open.
    silent_since   BIGINT,
    silent_alerted BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    CHECK ((window_days IS NULL) <> (calendar_tz IS NULL))
);
CREATE UNIQUE INDEX slos_service_name ON slos (service_id, name);

-- Its burn-rate rules and whether each is firing (and since when).
CREATE TABLE slo_rules (
    slo_id       UUID NOT NULL REFERENCES slos (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    position     INTEGER NOT NULL,
    urgency      TEXT NOT NULL CHECK (urgency IN ('page', 'ticket')),
    budget_spent DOUBLE PRECISION NOT NULL,
    long_secs    INTEGER NOT NULL,
    short_secs   INTEGER NOT NULL,
    rate         DOUBLE PRECISION NOT NULL,
    firing       BOOLEAN NOT NULL,
    since        BIGINT,
    PRIMARY KEY (slo_id, name)
);

-- Pushed good and total counts, summed per slice: per minute (kept for the short windows), per
-- hour and per UTC day (kept for the whole window: days make its middle, hours its ends),
-- written together.
CREATE TABLE slo_counts (
    slo_id     UUID NOT NULL REFERENCES slos (id) ON DELETE CASCADE,
    resolution TEXT NOT NULL CHECK (resolution IN ('minute', 'hour', 'day')),
    slice      BIGINT NOT NULL,
    good       DOUBLE PRECISION NOT NULL,
    total      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (slo_id, resolution, slice)
);
