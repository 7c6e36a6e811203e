//! Workflows, the events waiting to fire them, and their runs with each action's outcome.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{IncidentId, UserId, WorkflowId, WorkflowRunId};
use klaxon_domain::workflow::Workflow;

use crate::{Event, StoreResult};

/// A workflow as kept: its checked definition, and `revision` counting saves.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowRecord {
    pub id: WorkflowId,
    pub definition: Workflow,
    pub revision: i32,
    pub created_at: Timestamp,
    pub updated_by: Option<UserId>,
    pub updated_at: Timestamp,
}

/// Where a run is.
pub mod run_state {
    pub const QUEUED: &str = "queued";
    pub const RUNNING: &str = "running";
    /// Every action done (some may have failed without `stop_on_failure`).
    pub const DONE: &str = "done";
    /// An action with `stop_on_failure` failed: the rest were skipped.
    pub const STOPPED: &str = "stopped";
    /// Not run: it would have run itself again (a loop).
    pub const LOOP: &str = "loop";
}

/// What became of an action.
pub mod action_state {
    /// Being taken: if it stays so (the instance stopped), it becomes `unknown`.
    pub const STARTED: &str = "started";
    pub const SUCCEEDED: &str = "succeeded";
    pub const FAILED: &str = "failed";
    pub const SKIPPED: &str = "skipped";
    /// Begun by an instance that stopped: it may or may not have happened, and is not retried.
    pub const UNKNOWN: &str = "unknown";
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionOutcome {
    pub position: i32,
    pub kind: String,
    pub state: String,
    pub detail: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowRunRecord {
    pub id: WorkflowRunId,
    pub workflow_id: WorkflowId,
    /// The workflow's name now.
    pub workflow_name: String,
    /// `event:<seq>` or `no_update:<incident>:<since, ms>`.
    pub cause: String,
    pub incident_id: Option<IncidentId>,
    pub revision: i32,
    /// The definition the run started with.
    pub definition: Workflow,
    /// The workflows whose actions led to this run, oldest first.
    pub chain: Vec<WorkflowId>,
    pub state: String,
    pub created_at: Timestamp,
    pub lease_until: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// Outcomes so far, in order.
    pub actions: Vec<ActionOutcome>,
}

/// A run to queue, with the events to write if it is new.
#[derive(Debug, Clone)]
pub struct NewWorkflowRun {
    pub run: WorkflowRunRecord,
    pub events: Vec<NewEvent>,
}

#[async_trait]
pub trait WorkflowStore: Send + Sync + 'static {
    /// `Conflict { constraint: "workflows_name" }` when the name is taken.
    async fn create_workflow(&self, w: &WorkflowRecord, event: NewEvent) -> StoreResult<()>;

    /// Saves `w` as revision `w.revision`, only over revision `w.revision - 1` (`Conflict {
    /// constraint: "workflows_revision" }` otherwise: someone saved in between).
    async fn update_workflow(&self, w: &WorkflowRecord, event: NewEvent) -> StoreResult<()>;

    /// Deletes it with its runs.
    async fn delete_workflow(&self, id: WorkflowId, event: NewEvent) -> StoreResult<()>;

    async fn workflow(&self, id: WorkflowId) -> StoreResult<WorkflowRecord>;

    async fn workflow_named(&self, name: &str) -> StoreResult<WorkflowRecord>;

    /// Every workflow, by name.
    async fn list_workflows(&self) -> StoreResult<Vec<WorkflowRecord>>;

    /// The oldest `limit` events waiting in the inbox (written while some workflow was
    /// enabled, of a kind some trigger listens to).
    async fn workflow_inbox(&self, limit: u32) -> StoreResult<Vec<Event>>;

    /// In one transaction: queues the runs (a run whose (workflow, cause) exists already is
    /// left out, with its events) and takes the events `taken` out of the inbox. Returns how
    /// many runs were new.
    async fn queue_workflow_runs(&self, taken: &[i64], runs: &[NewWorkflowRun])
    -> StoreResult<u32>;

    /// Leases queued runs, and running ones whose lease ran out, to `owner` until `until`;
    /// oldest first.
    async fn claim_workflow_runs(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<WorkflowRunRecord>>;

    /// Writes action `position` as started and holds the run until `until`, if `owner` still
    /// holds it. `false` when it does not (its lease ran out and another took it, or the run
    /// is gone) or the action has a row already: it must not be taken.
    async fn begin_workflow_action(
        &self,
        run: WorkflowRunId,
        owner: &str,
        position: i32,
        kind: &str,
        at: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool>;

    /// Records what became of an action: over a `started` row only (never over an outcome
    /// another instance wrote), or as a new row (a skipped action).
    async fn end_workflow_action(
        &self,
        run: WorkflowRunId,
        outcome: &ActionOutcome,
    ) -> StoreResult<()>;

    /// Ends a run in `state` with its event (on the incident's timeline).
    async fn finish_workflow_run(
        &self,
        run: WorkflowRunId,
        state: &str,
        at: Timestamp,
        event: NewEvent,
    ) -> StoreResult<()>;

    async fn workflow_run(&self, id: WorkflowRunId) -> StoreResult<WorkflowRunRecord>;

    /// Runs, newest first (by id, which grows with time): of one workflow, or on one
    /// incident (every run when neither), after the run `after` in that order.
    async fn list_workflow_runs(
        &self,
        workflow: Option<WorkflowId>,
        incident: Option<IncidentId>,
        after: Option<WorkflowRunId>,
        limit: u32,
    ) -> StoreResult<Vec<WorkflowRunRecord>>;

    /// Open incidents (not resolved nor closed) whose last stakeholder update, or opening when
    /// they have none, was at or before `cutoff`: each with that time.
    async fn quiet_incidents(&self, cutoff: Timestamp)
    -> StoreResult<Vec<(IncidentId, Timestamp)>>;
}
