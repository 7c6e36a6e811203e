-- The error budget each resolved incident burned, per SLO of its service: bad and all events
-- (or minutes) from its impact start (or declaration) to its resolution, and the budget of the
-- SLO's window when it ended. Computed a few minutes after resolution by the SLO evaluator's
-- job, again when those instants or the SLO change; kept after the counts are pruned, so
-- insights can rank incidents and services by budget spent over any period.
CREATE TABLE incident_slo_burns (
    incident_id UUID NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    slo_id      UUID NOT NULL REFERENCES slos (id) ON DELETE CASCADE,
    from_at     BIGINT NOT NULL,
    to_at       BIGINT NOT NULL,
    -- bad and all events (or minutes); null: the source gave no answer
    bad         DOUBLE PRECISION,
    total       DOUBLE PRECISION,
    -- null: the window had no events, so no budget to take a share of
    allowed     DOUBLE PRECISION,
    computed_at BIGINT NOT NULL,
    PRIMARY KEY (incident_id, slo_id)
);
CREATE INDEX incident_slo_burns_slo ON incident_slo_burns (slo_id);
-- Finding resolved incidents of a service whose burn is due.
CREATE INDEX incidents_service_resolved ON incidents (service_id, resolved_at)
    WHERE resolved_at IS NOT NULL;
