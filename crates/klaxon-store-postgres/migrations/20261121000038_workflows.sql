-- Workflows: a trigger, conditions and ordered actions, kept as their checked definition
-- (JSON); `revision` counts saves.
CREATE TABLE workflows (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL,
    trigger_kind TEXT NOT NULL,
    definition   JSONB NOT NULL,
    revision     INTEGER NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_by   UUID REFERENCES users (id) ON DELETE SET NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX workflows_name ON workflows (name);

-- The events that may fire a workflow, copied in the transaction that writes them, so that
-- none is missed (however late it commits) and each is taken once. Only while an enabled
-- workflow has the event's trigger: otherwise alert storms would fill it for nothing. (The
-- kinds and their triggers are klaxon_domain::workflow::TriggerKind's; a contract test checks.)
CREATE TABLE workflow_inbox (
    event_seq BIGINT PRIMARY KEY
);
CREATE FUNCTION events_workflow_inbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM workflows WHERE enabled AND trigger_kind = CASE NEW.kind
            WHEN 'incident.declared' THEN 'incident_declared'
            WHEN 'incident.triggered' THEN 'incident_declared'
            WHEN 'incident.severity_changed' THEN 'severity_changed'
            WHEN 'incident.role_assigned' THEN 'role_assigned'
            WHEN 'alert.triggered' THEN 'alert'
            WHEN 'postmortem.published' THEN 'postmortem_published'
            ELSE 'status_changed' END) THEN
        INSERT INTO workflow_inbox (event_seq) VALUES (NEW.seq);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER events_workflow_inbox AFTER INSERT ON events
FOR EACH ROW
WHEN (NEW.kind IN ('incident.declared', 'incident.triggered', 'incident.severity_changed', 'incident.acknowledged', 'incident.mitigated', 'incident.resolved', 'incident.closed', 'incident.reopened', 'incident.role_assigned', 'alert.triggered', 'postmortem.published'))
EXECUTE FUNCTION events_workflow_inbox();

-- One run of a workflow for one cause: `event:<seq>`, or `no_update:<incident>:<since>`.
-- (workflow_id, cause) is unique: a cause runs a workflow at most once, however many
-- instances see it. The definition is the one the run started with. `chain`: the workflows
-- whose actions led to this run, oldest first (loops stop there).
CREATE TABLE workflow_runs (
    id          UUID PRIMARY KEY,
    workflow_id UUID NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    cause       TEXT NOT NULL,
    incident_id UUID REFERENCES incidents (id) ON DELETE CASCADE,
    revision    INTEGER NOT NULL,
    definition  JSONB NOT NULL,
    chain       JSONB NOT NULL,
    state       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    -- who holds the run until lease_until: a claim's own token
    owner       TEXT,
    lease_until BIGINT,
    finished_at BIGINT
);
CREATE UNIQUE INDEX workflow_runs_cause ON workflow_runs (workflow_id, cause);
-- Ids are time-ordered (UUID v7): lists read newest first by id.
CREATE INDEX workflow_runs_list ON workflow_runs (workflow_id, id);
CREATE INDEX workflow_runs_incident ON workflow_runs (incident_id, id);
CREATE INDEX workflow_runs_due ON workflow_runs (created_at) WHERE state IN ('queued', 'running');

-- Each action's outcome. A row is written `started` before the action is taken: one left so
-- by an instance that stopped becomes `unknown`, and the action is never taken twice.
CREATE TABLE workflow_run_actions (
    run_id   UUID NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    state    TEXT NOT NULL,
    detail   TEXT NOT NULL,
    at       BIGINT NOT NULL,
    PRIMARY KEY (run_id, position)
);
