//! Records of uptime checks, their results, daily tallies and state changes.
use jiff::Timestamp;
use klaxon_domain::check::{CheckSpec, CheckState, ConditionResult, DayTally, Health};
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{CheckId, ServiceId};

use crate::NewJob;

#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub id: CheckId,
    pub service_id: ServiceId,
    pub name: String,
    pub spec: CheckSpec,
    pub enabled: bool,
    pub health: Health,
    /// When the state last changed (or the check was created).
    pub state_since: Timestamp,
    /// The scheduled time of the last recorded run.
    pub last_run_at: Option<Timestamp>,
    /// An alert signal decided but not yet applied: the state it was decided for.
    pub pending_signal: Option<CheckState>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One run's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The run's scheduled time: at most one result per check and time.
    pub at: Timestamp,
    pub ok: bool,
    pub response_ms: u64,
    pub status: Option<u16>,
    /// The connection error, or the first condition that failed.
    pub reason: Option<String>,
    pub conditions: Vec<ConditionResult>,
}

/// Everything one run writes, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRun {
    pub check_id: CheckId,
    /// The run the decision was made after: the write is refused (`Conflict`) if another run
    /// was recorded meanwhile, so two instances never record one run twice.
    pub expected_last_run: Option<Timestamp>,
    pub result: CheckResult,
    pub health: Health,
    /// The state the check moved to, with its `check.down`/`check.up` event.
    pub change: Option<(CheckState, NewEvent)>,
    pub tallies: Vec<DayTally>,
}

/// One UTC day of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckDay {
    pub day: Timestamp,
    pub total: u32,
    pub successes: u32,
    pub response_ms_sum: u64,
    pub down_ms: u64,
}

/// What pruning removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckPruned {
    pub results: u64,
    pub days: u64,
    pub changes: u64,
}

/// A new check with the jobs that run it (its first run, the pruning job).
#[derive(Debug, Clone, PartialEq)]
pub struct NewCheck {
    pub check: Check,
    pub jobs: Vec<NewJob>,
}
