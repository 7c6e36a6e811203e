//! Uptime checks.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::check::CheckState;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::CheckId;

use crate::{Check, CheckDay, CheckPruned, CheckResult, CheckRun, NewCheck, NewJob, StoreResult};

/// Uptime checks: their settings and standing, raw results (kept a week), daily tallies and
/// state changes (kept 400 days).
///
/// Status-page components that follow their checks are set in the same transaction as every
/// change to what they follow: a run that changes a check's state, and a check created,
/// changed (service, enabled) or deleted. Each move writes the status interval, the page's
/// revision and a `status_page.component_updated` event (`Actor::System`, `via: checks`),
/// as a person's change does; maintenance in progress outranks the checks
/// (`klaxon_domain::status::follow`).
#[async_trait]
pub trait CheckStore: Send + Sync + 'static {
    /// Creates a check with its jobs and its first state change (up, at creation).
    /// `Conflict { constraint: "checks_name" }` when the name is taken; `NotFound` when the
    /// service is gone.
    async fn create_check(&self, new: NewCheck, event: NewEvent) -> StoreResult<Check>;

    async fn check(&self, id: CheckId) -> StoreResult<Check>;

    /// The checks whose name is `name` ignoring the case of ASCII letters, as id and name.
    async fn checks_named(&self, name: &str) -> StoreResult<Vec<(CheckId, String)>>;

    /// Every check, by name.
    async fn list_checks(&self) -> StoreResult<Vec<Check>>;

    /// Replaces name, service, settings and enabled (not the standing). `run` is the check's
    /// run job, added if none is pending (a check turned back on).
    async fn update_check(
        &self,
        check: Check,
        run: Option<NewJob>,
        event: NewEvent,
    ) -> StoreResult<Check>;

    /// Deletes a check with its results, tallies, changes and pending run.
    async fn delete_check(&self, id: CheckId, event: NewEvent) -> StoreResult<()>;

    /// Records one run: its result, its tallies, the new standing, and a state change with its
    /// event and a pending alert signal. `Conflict { constraint: "check_runs" }` when another
    /// run was recorded since `expected_last_run`.
    async fn record_check_run(&self, run: CheckRun) -> StoreResult<()>;

    /// Forgets the pending alert signal once it has been applied, unless a newer one replaced it.
    async fn clear_check_signal(&self, id: CheckId, state: CheckState) -> StoreResult<()>;

    /// The newest results first, older than `before`.
    async fn check_results(
        &self,
        id: CheckId,
        before: Option<Timestamp>,
        limit: u32,
    ) -> StoreResult<Vec<CheckResult>>;

    /// The daily tallies of days from `from` to `to` (midnights, both included), oldest first.
    async fn check_days(
        &self,
        id: CheckId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<CheckDay>>;

    /// State changes in time order: the last one at or before `from`, then those up to `to`.
    async fn check_changes(
        &self,
        id: CheckId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<(Timestamp, CheckState)>>;

    /// Removes results older than `results_before`, and tallies and changes older than
    /// `days_before` (keeping each check's last change, which says its state since).
    async fn prune_checks(
        &self,
        results_before: Timestamp,
        days_before: Timestamp,
    ) -> StoreResult<CheckPruned>;
}
