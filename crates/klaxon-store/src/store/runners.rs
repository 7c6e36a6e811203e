//! Runners: registered processes that take command steps, the runbook versions each may run,
//! and the queued command steps waiting for one.
use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{RunId, RunbookId, RunnerId, UserId};

use crate::StoreResult;

/// A runner as kept; its token only as a digest.
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerRecord {
    pub id: RunnerId,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub created_by: Option<UserId>,
    pub created_at: Timestamp,
    /// When it last asked for work or reported.
    pub last_seen_at: Option<Timestamp>,
}

/// A runbook version an admin enabled for a runner, with the version's digest then.
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerGrant {
    pub runner_id: RunnerId,
    pub runbook_id: RunbookId,
    /// The runbook's name now.
    pub runbook_name: String,
    pub version: i32,
    pub digest: String,
    pub granted_by: Option<UserId>,
    pub granted_at: Timestamp,
}

#[async_trait]
pub trait RunnerStore: Send + Sync + 'static {
    /// A new runner with the SHA-256 of its token. `Conflict` when the name is taken.
    async fn create_runner(
        &self,
        r: &RunnerRecord,
        token_hash: [u8; 32],
        event: NewEvent,
    ) -> StoreResult<()>;

    async fn list_runners(&self) -> StoreResult<Vec<RunnerRecord>>;

    async fn runner(&self, id: RunnerId) -> StoreResult<RunnerRecord>;

    /// The runner whose token has this SHA-256, marked seen at `at`. `NotFound` when none.
    async fn runner_by_token(&self, hash: [u8; 32], at: Timestamp) -> StoreResult<RunnerRecord>;

    /// Removes a runner and its grants; the steps it ran keep their record. `NotFound` when gone.
    async fn delete_runner(&self, id: RunnerId, event: NewEvent) -> StoreResult<()>;

    /// Enables a runbook version for a runner (again: nothing changes, `Ok(false)`).
    /// `NotFound` when the runner or the version is gone.
    async fn grant_runner(&self, g: &RunnerGrant, event: NewEvent) -> StoreResult<bool>;

    /// Disables it; `Ok(false)` when it was not enabled.
    async fn revoke_runner(
        &self,
        runner: RunnerId,
        runbook: RunbookId,
        version: i32,
        event: NewEvent,
    ) -> StoreResult<bool>;

    /// The versions enabled for a runner (all runners' when `None`), by runbook name and version.
    async fn runner_grants(&self, runner: Option<RunnerId>) -> StoreResult<Vec<RunnerGrant>>;

    /// The active runs whose current step is a queued command step that `runner` may take
    /// (its runbook version is enabled for it; its labels are checked by the caller), oldest
    /// first, at most 200.
    async fn queued_commands(&self, runner: RunnerId) -> StoreResult<Vec<RunId>>;

    /// Extends the runner's hold on the step while it runs. `Ok(false)` when the step is not
    /// running on this runner any more (marked unknown) or its run was aborted.
    async fn extend_lease(
        &self,
        runner: RunnerId,
        run: RunId,
        index: i32,
        until: Timestamp,
    ) -> StoreResult<bool>;
}
