//! The event ledger and the job queue.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::{NewEvent, SubjectType};
use klaxon_domain::ids::JobId;

use crate::{Enqueued, Event, Job, NewJob, Page, StoreResult};

/// Which kinds of job a claim takes: the engine runs slow kinds in a lane of their own.
#[derive(Debug, Clone, Copy)]
pub enum JobKinds<'a> {
    Only(&'a [&'a str]),
    Except(&'a [&'a str]),
}

/// The engine's ledger and queue: events and jobs.
#[async_trait]
pub trait EngineStore: Send + Sync + 'static {
    async fn append_event(&self, event: NewEvent) -> StoreResult<Event>;

    /// The events of one subject in the order they were written, after sequence `after`.
    async fn events(
        &self,
        subject_type: SubjectType,
        subject_id: &str,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<Event>>;

    /// The newest event's sequence number (0 before any): where a page that watches for
    /// changes starts from.
    async fn last_event_seq(&self) -> StoreResult<i64>;

    /// The events of every subject of one type after sequence `after`, in the order they were
    /// written, at most `limit`: what changed among all incidents since a page was drawn.
    async fn events_of_type(
        &self,
        subject_type: SubjectType,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>>;

    async fn enqueue_job(&self, job: NewJob) -> StoreResult<Enqueued>;

    /// Leases up to `limit` due jobs (run_at ≤ now, not leased or lease expired, not dead) of
    /// `kinds` to `owner` until `lease_until`, incrementing their attempt count. Safe under
    /// concurrency: no job is leased to two owners at once.
    async fn claim_jobs(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
        kinds: JobKinds<'_>,
    ) -> StoreResult<Vec<Job>>;

    /// Removes a finished job; `NotFound` if `owner` no longer holds its lease.
    async fn complete_job(&self, id: JobId, owner: &str) -> StoreResult<()>;

    /// Releases the lease and schedules another try at `run_at`.
    async fn retry_job(
        &self,
        id: JobId,
        owner: &str,
        error: &str,
        run_at: Timestamp,
    ) -> StoreResult<()>;

    /// A recurring job done for now: releases the lease, resets its attempts and last error,
    /// and makes it due again at `run_at`.
    async fn reschedule_job(&self, id: JobId, owner: &str, run_at: Timestamp) -> StoreResult<()>;

    /// Keeps the job aside as dead, with its last error and an event.
    async fn bury_job(
        &self,
        id: JobId,
        owner: &str,
        error: &str,
        event: NewEvent,
    ) -> StoreResult<()>;

    /// Removes pending jobs with this dedup key (e.g. the escalation steps of an acknowledged
    /// incident). Returns how many.
    async fn cancel_jobs(&self, dedup_key: &str) -> StoreResult<u64>;

    async fn job(&self, id: JobId) -> StoreResult<Job>;

    /// Jobs ordered by id, dead ones included.
    async fn list_jobs(&self, after: Option<JobId>, limit: u32) -> StoreResult<Page<Job, JobId>>;

    /// How many jobs wait to run (not dead), for the dashboard.
    async fn count_live_jobs(&self) -> StoreResult<u64>;
}
