//! The engine: each tick leases due jobs from the database and runs them.
//!
//! There are no in-memory timers: a job is a row with a due time, so a restart (or a crash)
//! loses nothing. A worker that dies holding a lease loses it when the lease expires, and the
//! job runs again elsewhere; handlers are written to be safe to run twice.
//!
//! Jobs run in two lanes, each a loop of its own: paging (escalation steps, heartbeats, pages)
//! and slow (what calls out to other hosts or takes long: uptime checks, runbook HTTP steps,
//! SLO evaluation, pruning). A slow answer never holds an escalation back; slow jobs of one
//! batch run side by side.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::Clock;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::JobId;
use klaxon_domain::job::{DEFAULT_LEASE, RetryPolicy};
use klaxon_store::{Enqueued, Job, JobKinds, NewJob, Store, StoreResult};
use serde_json::json;
use tokio::sync::Notify;

use crate::shared::config::Settings;
use crate::shared::crypto::{hex, random_bytes};
use crate::shared::egress::{Outgoing, Rules};

/// How long an outgoing connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs one kind of job.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// Does the work. An error schedules a retry with back-off; after the last attempt the
    /// job is kept aside as dead and a `job.dead` event is written.
    async fn run(&self, job: &Job, ctx: &JobContext) -> anyhow::Result<Outcome>;
}

/// What a job asks for once it has run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Finished: the job is removed.
    Done,
    /// A recurring job: run again at this time, with a fresh attempt count.
    RunAgainAt(Timestamp),
}

/// Work the engine does each round besides jobs: an outbox of rows to send (pages, webhook
/// deliveries). The capability that owns the rows provides it; the engine only drives it.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    type Report;
    /// Sends what is due now and records each outcome.
    async fn drain(&self, ctx: &JobContext) -> StoreResult<Self::Report>;
}

/// What one round of sending did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SendReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub cancelled: u64,
    pub abandoned: u64,
    /// Claimed by a sender that stopped before sending them: pending again.
    pub released: u64,
    /// Held back by storm control: a slow channel messaged less than its gap ago.
    pub deferred: usize,
}

impl SendReport {
    pub fn add(&mut self, other: SendReport) {
        self.deferred += other.deferred;
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
        self.cancelled += other.cancelled;
        self.abandoned += other.abandoned;
        self.released += other.released;
    }
}

/// What one round of webhooks (and status page notices) did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WebhookReport {
    pub queued: u32,
    pub sent: u32,
    pub retried: u32,
    pub failed: u32,
}

impl WebhookReport {
    pub fn add(&mut self, other: WebhookReport) {
        self.queued += other.queued;
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
    }
}

/// What one round of workflows did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WorkflowReport {
    /// Runs queued for events (and quiet incidents).
    pub queued: u32,
    /// Runs taken to their end.
    pub finished: u32,
}

impl WorkflowReport {
    pub fn add(&mut self, other: WorkflowReport) {
        self.queued += other.queued;
        self.finished += other.finished;
    }
}

/// What a handler may use.
pub struct JobContext {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    /// For providers the operator configures (the SMS gateway). No redirects: a page goes
    /// where it was configured to.
    pub http: reqwest::Client,
    /// For destinations users configure (webhook and chat contact methods, outgoing webhooks):
    /// internal networks refused unless allowed.
    pub outgoing: Outgoing,
}

/// What one tick did, for tests and metrics.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub completed: Vec<String>,
    pub retried: Vec<String>,
    pub dead: Vec<String>,
    pub notifications: SendReport,
    pub webhooks: WebhookReport,
    pub workflows: WorkflowReport,
}

impl TickReport {
    fn jobs(&self) -> usize {
        self.completed.len() + self.retried.len() + self.dead.len()
    }

    fn add(&mut self, other: TickReport) {
        self.completed.extend(other.completed);
        self.retried.extend(other.retried);
        self.dead.extend(other.dead);
        self.notifications.add(other.notifications);
        self.webhooks.add(other.webhooks);
        self.workflows.add(other.workflows);
    }

    pub fn ran(&self) -> usize {
        let n = &self.notifications;
        let w = &self.webhooks;
        self.completed.len()
            + self.retried.len()
            + self.dead.len()
            + n.sent
            + n.retried
            + n.failed
            + (w.sent + w.retried + w.failed) as usize
    }
}

pub struct Engine {
    ctx: JobContext,
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
    /// The kinds run in the slow lane.
    slow: Vec<&'static str>,
    pages: Option<Arc<dyn Outbox<Report = SendReport>>>,
    deliveries: Vec<Arc<dyn Outbox<Report = WebhookReport>>>,
    workflows: Option<Arc<dyn Outbox<Report = WorkflowReport>>>,
    owner: String,
    retry: RetryPolicy,
    batch: u32,
    wake: Notify,
    wake_slow: Notify,
}

impl Engine {
    /// The client and rules for destinations users configure.
    pub fn outgoing(&self) -> &Outgoing {
        &self.ctx.outgoing
    }

    /// The client for services the operator configures (no redirects).
    pub fn http(&self) -> &reqwest::Client {
        &self.ctx.http
    }

    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: Arc<Settings>) -> Self {
        let batch = settings.engine.batch;
        let rules = Rules::new(&settings.outgoing).unwrap_or_else(|e| {
            // Settings::load refuses this; only a hand-built Settings gets here.
            tracing::error!(error = %e, "outgoing.allow ignored");
            Rules::default()
        });
        let mut engine = Self {
            ctx: JobContext {
                store,
                clock,
                outgoing: Outgoing::new(rules, CONNECT_TIMEOUT),
                settings,
                http: reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(CONNECT_TIMEOUT)
                    .build()
                    .expect("an HTTP client with the built-in TLS roots"),
            },
            handlers: HashMap::new(),
            slow: Vec::new(),
            pages: None,
            deliveries: Vec::new(),
            workflows: None,
            // Unique per process, so a lease names who holds it.
            owner: format!("engine-{}", hex(&random_bytes::<6>())),
            retry: RetryPolicy::default(),
            batch,
            wake: Notify::new(),
            wake_slow: Notify::new(),
        };
        engine.register_slow(PRUNE_JOB, Arc::new(Prune));
        engine
    }

    pub fn register(&mut self, kind: &'static str, handler: Arc<dyn JobHandler>) {
        self.handlers.insert(kind, handler);
    }

    /// A kind that calls out to other hosts or takes long: run in the slow lane.
    pub fn register_slow(&mut self, kind: &'static str, handler: Arc<dyn JobHandler>) {
        self.handlers.insert(kind, handler);
        self.slow.push(kind);
    }

    /// The outbox of pages, sent after each batch of jobs.
    pub fn set_pages(&mut self, outbox: Arc<dyn Outbox<Report = SendReport>>) {
        self.pages = Some(outbox);
    }

    /// An outbox of deliveries to outside receivers (webhooks, status page subscribers),
    /// drained in a loop of its own.
    pub fn add_deliveries(&mut self, outbox: Arc<dyn Outbox<Report = WebhookReport>>) {
        self.deliveries.push(outbox);
    }

    /// Workflows: events turned into runs, and the runs' actions; drained with the deliveries.
    pub fn set_workflows(&mut self, outbox: Arc<dyn Outbox<Report = WorkflowReport>>) {
        self.workflows = Some(outbox);
    }

    /// Asks the loops to tick now instead of at their next interval.
    pub fn wake(&self) {
        self.wake.notify_one();
        self.wake_slow.notify_one();
    }

    /// Runs every job due now in both lanes, then the deliveries: claims a batch, runs each,
    /// records the outcome, and goes on until nothing more is due. Tests call this instead of
    /// waiting for the loops.
    pub async fn tick(&self) -> StoreResult<TickReport> {
        let mut report = TickReport::default();
        loop {
            loop {
                report.add(self.tick_paging().await?);
                let slow = self.tick_slow().await?;
                let ran = slow.jobs();
                report.add(slow);
                // A slow job may have queued paging work (a failed check's escalation step).
                if ran == 0 {
                    break;
                }
            }
            report.webhooks.add(self.tick_webhooks().await?);
            // A workflow's actions may queue pages, jobs and deliveries: go round again.
            let w = self.tick_workflows().await?;
            report.workflows.add(w);
            if w.finished == 0 {
                break;
            }
        }
        Ok(report)
    }

    /// Workflows: fire the runs events and the clock call for, and take their actions.
    pub async fn tick_workflows(&self) -> StoreResult<WorkflowReport> {
        match &self.workflows {
            Some(w) => w.drain(&self.ctx).await,
            None => Ok(WorkflowReport::default()),
        }
    }

    /// Outgoing webhooks: fan new incident events out and send what is due. Runs in a loop of
    /// its own in production, so a slow receiver never holds a page back.
    pub async fn tick_webhooks(&self) -> StoreResult<WebhookReport> {
        let mut report = WebhookReport::default();
        for outbox in &self.deliveries {
            report.add(outbox.drain(&self.ctx).await?);
        }
        Ok(report)
    }

    /// Jobs (escalation steps, heartbeats, maintenance) and pages.
    pub async fn tick_paging(&self) -> StoreResult<TickReport> {
        let mut report = TickReport::default();
        loop {
            let jobs = self.claim(JobKinds::Except(&self.slow)).await?;
            if jobs.is_empty() {
                break;
            }
            for job in jobs {
                self.run_one(job, &mut report).await?;
            }
            // Pages queued by these jobs go out now, not after a backlog of later jobs.
            report.notifications.add(self.send_due().await?);
        }
        report.notifications.add(self.send_due().await?);
        count_jobs(&report);
        Ok(report)
    }

    /// The slow lane: due slow jobs, each batch's side by side. Pages they queue go out with
    /// the paging lane, woken for them.
    pub async fn tick_slow(&self) -> StoreResult<TickReport> {
        let mut report = TickReport::default();
        if self.slow.is_empty() {
            return Ok(report);
        }
        loop {
            let jobs = self.claim(JobKinds::Only(&self.slow)).await?;
            if jobs.is_empty() {
                break;
            }
            let done = futures_util::future::join_all(jobs.into_iter().map(|job| async move {
                let mut r = TickReport::default();
                self.run_one(job, &mut r).await.map(|()| r)
            }))
            .await;
            for r in done {
                report.add(r?);
            }
            self.wake.notify_one();
        }
        count_jobs(&report);
        Ok(report)
    }

    /// Leases a batch of due jobs of `kinds` to this engine.
    async fn claim(&self, kinds: JobKinds<'_>) -> StoreResult<Vec<Job>> {
        let now = self.ctx.clock.now();
        let lease_until = now.saturating_add(DEFAULT_LEASE).unwrap_or(now);
        self.ctx
            .store
            .claim_jobs(&self.owner, now, lease_until, self.batch, kinds)
            .await
    }

    async fn run_one(&self, job: Job, report: &mut TickReport) -> StoreResult<()> {
        let outcome = match self.handlers.get(job.kind.as_str()) {
            Some(h) => h.run(&job, &self.ctx).await,
            None => Err(anyhow::anyhow!("no handler for job kind {:?}", job.kind)),
        };
        let store = &self.ctx.store;
        match outcome {
            Ok(Outcome::Done) => {
                store
                    .complete_job(job.id, &self.owner)
                    .await
                    .or_else(lease_lost)?;
                report.completed.push(job.kind);
            }
            Ok(Outcome::RunAgainAt(at)) => {
                store
                    .reschedule_job(job.id, &self.owner, at)
                    .await
                    .or_else(lease_lost)?;
                report.completed.push(job.kind);
            }
            Err(e) => {
                let error = format!("{e:#}");
                let now = self.ctx.clock.now();
                match self.retry.next_run(job.attempts, now) {
                    Some(at) => {
                        tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, %error, "job failed; will retry");
                        store
                            .retry_job(job.id, &self.owner, &error, at)
                            .await
                            .or_else(lease_lost)?;
                        report.retried.push(job.kind);
                    }
                    None => {
                        tracing::error!(job = %job.id, kind = %job.kind, attempts = job.attempts, %error, "job failed for good");
                        let event = NewEvent::new(
                            SubjectType::Job,
                            job.id,
                            now,
                            Actor::System,
                            EventKind::JobDead,
                            json!({"kind": job.kind, "attempts": job.attempts, "error": error}),
                        );
                        store
                            .bury_job(job.id, &self.owner, &error, event)
                            .await
                            .or_else(lease_lost)?;
                        report.dead.push(job.kind);
                    }
                }
            }
        }
        Ok(())
    }

    async fn send_due(&self) -> StoreResult<SendReport> {
        match &self.pages {
            Some(p) => p.drain(&self.ctx).await,
            None => Ok(SendReport::default()),
        }
    }

    /// Ticks every `interval` (or when woken) until `shutdown` resolves.
    pub async fn run(
        self: Arc<Self>,
        interval: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        if let Err(e) = ensure_prune_scheduled(&self.ctx).await {
            tracing::error!(error = %e, "could not schedule maintenance");
        }
        // Webhooks go in a loop of their own: a receiver that hangs must not delay a page.
        let (stop_hooks, mut hooks_stopped) = tokio::sync::watch::channel(false);
        let hooks_stopped_slow = hooks_stopped.clone();
        let mut workflows_stopped = hooks_stopped.clone();
        let hooks = {
            let engine = self.clone();
            tokio::spawn(async move {
                loop {
                    if let Err(e) = engine.tick_webhooks().await {
                        tracing::error!(error = %e, "webhook round failed");
                    }
                    tokio::select! {
                        _ = hooks_stopped.wait_for(|s| *s) => break,
                        _ = tokio::time::sleep(interval) => {}
                    }
                }
            })
        };
        // Workflows too: their webhook calls must not hold deliveries back, nor slow
        // deliveries a workflow that pages.
        let workflows = {
            let engine = self.clone();
            tokio::spawn(async move {
                loop {
                    match engine.tick_workflows().await {
                        // Their actions may have queued pages.
                        Ok(w) if w.finished > 0 => engine.wake.notify_one(),
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "workflow round failed"),
                    }
                    tokio::select! {
                        _ = workflows_stopped.wait_for(|s| *s) => break,
                        _ = tokio::time::sleep(interval) => {}
                    }
                }
            })
        };
        // The slow lane: a check or a runbook's request waiting on its host must not delay a
        // page either.
        let slow = {
            let engine = self.clone();
            let mut stopped = hooks_stopped_slow;
            tokio::spawn(async move {
                loop {
                    if let Err(e) = engine.tick_slow().await
                        && let Some(held_back) = klaxon_store::repeats::allow("engine-slow-tick")
                    {
                        tracing::error!(error = %e, held_back, "slow jobs' tick failed");
                    }
                    tokio::select! {
                        _ = stopped.wait_for(|s| *s) => break,
                        _ = tokio::time::sleep(interval) => {}
                        _ = engine.wake_slow.notified() => {}
                    }
                }
            })
        };
        loop {
            let started = std::time::Instant::now();
            match self.tick_paging().await {
                Ok(r) if r.ran() > 0 => tracing::debug!(ran = r.ran(), "engine tick"),
                Ok(_) => {}
                Err(e) => {
                    if let Some(held_back) = klaxon_store::repeats::allow("engine-tick") {
                        tracing::error!(error = %e, held_back, "engine tick failed");
                    }
                }
            }
            metrics::histogram!("klaxon_engine_tick_seconds")
                .record(started.elapsed().as_secs_f64());
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(interval) => {}
                _ = self.wake.notified() => {}
            }
        }
        let _ = stop_hooks.send(true);
        let _ = hooks.await;
        let _ = workflows.await;
        let _ = slow.await;
        tracing::info!("engine stopped");
    }
}

fn count_jobs(report: &TickReport) {
    metrics::counter!("klaxon_engine_jobs_total", "outcome" => "completed")
        .increment(report.completed.len() as u64);
    metrics::counter!("klaxon_engine_jobs_total", "outcome" => "retried")
        .increment(report.retried.len() as u64);
    metrics::counter!("klaxon_engine_jobs_total", "outcome" => "dead")
        .increment(report.dead.len() as u64);
}

/// Another worker took the job over after our lease expired: its outcome is theirs to record.
fn lease_lost(e: klaxon_store::StoreError) -> StoreResult<()> {
    if e.is_not_found() {
        tracing::warn!("lost the lease on a job while running it");
        Ok(())
    } else {
        Err(e)
    }
}

/// Removes expired sessions and old login failures, then schedules itself again.
pub const PRUNE_JOB: &str = "maintenance.prune";
const PRUNE_EVERY: SignedDuration = SignedDuration::from_mins(10);

struct Prune;

#[async_trait]
impl JobHandler for Prune {
    async fn run(&self, _job: &Job, ctx: &JobContext) -> anyhow::Result<Outcome> {
        let now = ctx.clock.now();
        let auth = &ctx.settings.auth;
        let before = |d: SignedDuration| now.saturating_sub(d).unwrap_or(now);
        let pruned = ctx
            .store
            .prune(
                before(SignedDuration::from_hours(auth.session_absolute_hours)),
                before(SignedDuration::from_mins(auth.session_idle_minutes)),
                // Keep a day of failures: more than any throttle window looks at.
                before(SignedDuration::from_hours(24)),
            )
            .await?;
        tracing::info!(
            sessions = pruned.sessions,
            login_failures = pruned.login_failures,
            "pruned"
        );
        Ok(Outcome::RunAgainAt(
            now.saturating_add(PRUNE_EVERY).unwrap_or(now),
        ))
    }
}

/// Keeps exactly one pending prune job, due `PRUNE_EVERY` after the last. The dedup key makes
/// this safe to call from every instance at every start.
pub async fn ensure_prune_scheduled(ctx: &JobContext) -> StoreResult<Enqueued> {
    let now = ctx.clock.now();
    ctx.store
        .enqueue_job(new_job(
            PRUNE_JOB,
            Some("maintenance:prune"),
            json!({}),
            now,
            now,
        ))
        .await
}

pub fn new_job(
    kind: &str,
    dedup_key: Option<&str>,
    payload: serde_json::Value,
    run_at: Timestamp,
    now: Timestamp,
) -> NewJob {
    NewJob {
        id: JobId::new(now, random_bytes()),
        kind: kind.to_owned(),
        dedup_key: dedup_key.map(str::to_owned),
        payload,
        run_at,
        created_at: now,
    }
}
