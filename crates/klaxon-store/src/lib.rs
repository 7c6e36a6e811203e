//! The storage boundary: the [`Store`] trait every backend implements, the records it returns,
//! its error type, and the group-commit writer that batches hot-path writes.
#![forbid(unsafe_code)]

mod action_items;
mod checks;
mod error;
mod group_commit;
mod incidents;
mod insights;
mod oncall;
mod postmortems;
mod records;
pub mod repeats;
mod schedules;
mod status;
mod store;
mod subscribers;
mod webhooks;

pub use action_items::*;
pub use checks::*;
pub use error::{StoreError, StoreResult};
pub use group_commit::{GroupCommit, GroupCommitStats};
pub use incidents::*;
pub use insights::*;
pub use oncall::*;
pub use postmortems::*;
pub use records::*;
pub use schedules::*;
pub use status::*;
pub use store::{
    ActionItemStore, AlertStore, CheckStore, EngineStore, IncidentStore, InsightStore, OnCallStore,
    PostmortemStore, RunbookStore, ScheduleStore, SloBurnStore, SloEvaluation, SloStore,
    StatusStore, Store, SubscriberStore, UserStore, WebhookStore,
};
pub use store::{
    ActionOutcome, NewWorkflowRun, WorkflowRecord, WorkflowRunRecord, WorkflowStore, action_state,
    run_state,
};
pub use store::{BurnDue, IncidentBurn, JobKinds, RankedBurn};
pub use store::{DrillRecord, DrillStore, DrillWrite, NewDrill, ScenarioRecord};
pub use store::{RunChange, RunRecord, RunStepRecord, RunStore, SecretInfo, SecretStore};
pub use store::{RunbookRecord, RunbookVersion, VersionInfo};
pub use store::{RunnerGrant, RunnerRecord, RunnerStore};
pub use subscribers::*;
pub use webhooks::*;
