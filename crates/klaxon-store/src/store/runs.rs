//! Runs of runbooks on incidents: the run, its steps, each change written whole with its
//! timeline events and jobs, on top of the revision it was decided from.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{IncidentId, RunId, RunbookId, RunnerId, UserId};
use klaxon_domain::runbook::run::{RunState, StepState};

use crate::{NewJob, StoreResult};

/// A run as kept. The runbook version's source is kept with it, so the run reads the same
/// when the runbook changes or goes.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: RunId,
    pub incident_id: IncidentId,
    pub runbook_id: Option<RunbookId>,
    pub runbook_name: String,
    pub title: String,
    pub version: i32,
    pub digest: String,
    pub source: String,
    /// The parameters as checked when it started, by name.
    pub params: Vec<(String, String)>,
    pub state: RunState,
    /// The current step, from 0.
    pub current: i32,
    /// Bumped by every change: a change decided from an older revision is refused.
    pub revision: i32,
    pub started_by: Option<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// One step of a run as kept.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStepRecord {
    pub run_id: RunId,
    /// From 0.
    pub index: i32,
    pub title: String,
    /// `manual`, `http`, `command` or `approval`.
    pub kind: String,
    pub state: StepState,
    /// How many times it was begun.
    pub attempts: i32,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// What it answered or printed, cut at the configured size.
    pub output: String,
    /// Whether `output` was cut (the whole is kept apart).
    pub truncated: bool,
    /// What else it ended with: an HTTP status, an exit code, an error.
    pub detail: serde_json::Value,
    /// Who ticked, approved, rejected, skipped or retried it last.
    pub by: Option<UserId>,
    pub note: String,
    /// The runner that took it (a command step).
    pub runner_id: Option<RunnerId>,
    /// Until when that runner holds it: it reports in while it runs.
    pub lease_until: Option<Timestamp>,
}

/// A change to a run: the run's new state (`revision` one more than the one decided from),
/// the steps that changed, events and jobs. With a step, its whole output: `None` keeps the one
/// kept before; `Some("")` clears it (the output was not cut); `Some(text)` keeps `text`.
#[derive(Debug, Clone)]
pub struct RunChange {
    pub run: RunRecord,
    pub steps: Vec<(RunStepRecord, Option<String>)>,
    pub events: Vec<NewEvent>,
    pub jobs: Vec<NewJob>,
}

#[async_trait]
pub trait RunStore: Send + Sync + 'static {
    /// A new run with all its steps, events and jobs. `NotFound` when the incident is gone.
    async fn create_run(&self, change: &RunChange) -> StoreResult<()>;

    async fn run(&self, id: RunId) -> StoreResult<(RunRecord, Vec<RunStepRecord>)>;

    /// An incident's runs, newest first.
    async fn incident_runs(&self, incident: IncidentId) -> StoreResult<Vec<RunRecord>>;

    /// Writes a change decided from revision `change.run.revision - 1`: `Conflict` when the run
    /// moved meanwhile (nothing written), `NotFound` when it is gone.
    async fn update_run(&self, change: &RunChange) -> StoreResult<()>;

    /// A step's whole output (the step's `output` when it was not cut).
    async fn run_step_output(&self, id: RunId, index: i32) -> StoreResult<String>;
}
