//! The storage boundary, one trait per capability; [`Store`] is all of them.
use async_trait::async_trait;

use crate::StoreResult;

mod action_items;
mod alerts;
mod checks;
mod drills;
mod engine;
mod incidents;
mod insights;
mod oncall;
mod postmortems;
mod runbooks;
mod runners;
mod runs;
mod schedules;
mod secrets;
mod slo_burns;
mod slos;
mod status;
mod subscribers;
mod users;
mod webhooks;
mod workflows;

pub use action_items::ActionItemStore;
pub use alerts::AlertStore;
pub use checks::CheckStore;
pub use drills::{DrillRecord, DrillStore, DrillWrite, NewDrill, ScenarioRecord};
pub use engine::{EngineStore, JobKinds};
pub use incidents::IncidentStore;
pub use insights::InsightStore;
pub use oncall::OnCallStore;
pub use postmortems::PostmortemStore;
pub use runbooks::{RunbookRecord, RunbookStore, RunbookVersion, VersionInfo};
pub use runners::{RunnerGrant, RunnerRecord, RunnerStore};
pub use runs::{RunChange, RunRecord, RunStepRecord, RunStore};
pub use schedules::ScheduleStore;
pub use secrets::{SecretInfo, SecretStore};
pub use slo_burns::{BurnDue, IncidentBurn, RankedBurn, SloBurnStore};
pub use slos::{SloEvaluation, SloStore};
pub use status::StatusStore;
pub use subscribers::SubscriberStore;
pub use users::UserStore;
pub use webhooks::WebhookStore;
pub use workflows::{
    ActionOutcome, NewWorkflowRun, WorkflowRecord, WorkflowRunRecord, WorkflowStore, action_state,
    run_state,
};

/// Everything Klaxon keeps. Each method is one transaction; each method that changes state
/// takes the event(s) describing the change and writes them in that same transaction.
///
/// The methods live in one trait per capability ([`UserStore`], [`EngineStore`], …), which
/// `Store` requires: the server holds an `Arc<dyn Store>` and calls any of them on it.
#[async_trait]
pub trait Store:
    UserStore
    + EngineStore
    + AlertStore
    + CheckStore
    + IncidentStore
    + InsightStore
    + OnCallStore
    + ScheduleStore
    + WebhookStore
    + StatusStore
    + SubscriberStore
    + ActionItemStore
    + PostmortemStore
    + SloStore
    + SloBurnStore
    + RunbookStore
    + RunStore
    + RunnerStore
    + SecretStore
    + WorkflowStore
    + DrillStore
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;

    /// Whether the database takes a write now: commits one small row (for `/readyz`).
    async fn probe_write(&self, at: jiff::Timestamp) -> StoreResult<()>;

    /// Closes connections, waiting for writes in flight.
    async fn close(&self);
}
