//! Uptime checks at work: the `check.run` job probes, judges, records and raises or resolves
//! the check's alert; the `check.prune` job forgets old results.
//!
//! **Where checks may go.** Checks are the one kind of outgoing request that is *meant* to
//! reach internal addresses (a database port, a health endpoint on the private network), so
//! they do not go through `outgoing.allow` ([`crate::shared::egress`]): those rules stop
//! *users* who configure a contact method or webhook from making Klaxon probe its own network
//! and read the answer back. Only admins create or change checks, the same people who can
//! already widen `outgoing.allow` and edit the server's configuration, so a check is trusted
//! like the operator's own settings (the SMS gateway, SMTP). What keeps the exposure small:
//! answers are not shown in full (only the status, the time, and the value each condition
//! saw, at most 80 characters), redirects are not followed (a check tests what it names),
//! and no proxy is used (a check measures the target itself). See docs/checks.md.
//!
//! **Once per interval, durably.** Each enabled check has one pending `check.run` job (dedup
//! key `check:<id>`), which reschedules itself. Two instances never record one run twice: the
//! store refuses a run recorded after one it did not see ([`CheckRun::expected_last_run`]).
//! A state change and its `check.down`/`check.up` event are written with the run, with a
//! pending alert signal; the signal then goes through the same path as every alert (group
//! commit's `Write::Signal`, dedup key `check:<id>`, so grouping, maintenance and paging apply)
//! and is cleared. A signal not applied (a crash, a database hiccup) is applied by the next
//! run.
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::alert::{Action, AlertContent, DedupKey, Severity, Signal};
use klaxon_domain::check::{
    self, CheckKind, CheckSpec, CheckState, DayTally, Probe, StateInterval, Verdict,
};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{AlertId, CheckId, IncidentId, JobId};
use klaxon_store::{
    Check, CheckResult, CheckRun, Job, SignalWrite, Store, StoreError, StoreResult, Write,
};
use serde_json::json;

use crate::shared::config::Settings;
use crate::shared::crypto::random_bytes;
use crate::shared::egress::describe;
use crate::shared::engine::{JobContext, JobHandler, Outcome, new_job};

/// Runs one check: its handler owns the HTTP client checks use.
pub struct RunCheck {
    client: reqwest::Client,
}

impl Default for RunCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl RunCheck {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            // A check tests what it names; a redirect is an answer like any other.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            // For [CERTIFICATE_EXPIRATION]: the server's certificate comes with the answer.
            .tls_info(true)
            .user_agent("Klaxon-Check/1")
            .build()
            .expect("an HTTP client with the built-in TLS roots");
        Self { client }
    }
}

/// The job that runs check `id` at `at`.
pub fn run_job(id: CheckId, at: Timestamp, now: Timestamp) -> klaxon_store::NewJob {
    new_job(
        check::RUN_JOB,
        Some(&check::job_key(id)),
        json!({"check_id": id}),
        at,
        now,
    )
}

/// The one pruning job, created with the first check (and kept by its dedup key).
pub fn prune_job(now: Timestamp) -> klaxon_store::NewJob {
    new_job(
        check::PRUNE_JOB,
        Some(check::PRUNE_KEY),
        json!({}),
        now,
        now,
    )
}

/// When the run after one scheduled at `step` is due: an interval later, or, if the engine
/// fell behind, an interval from now (one catch-up run, not one per missed interval).
fn next_run(step: Timestamp, interval: SignedDuration, now: Timestamp) -> Timestamp {
    let next = step.checked_add(interval).unwrap_or(now);
    if next > now {
        next
    } else {
        now.checked_add(interval).unwrap_or(now)
    }
}

#[async_trait]
impl JobHandler for RunCheck {
    async fn run(&self, job: &Job, ctx: &JobContext) -> anyhow::Result<Outcome> {
        let id: CheckId = serde_json::from_value(job.payload["check_id"].clone())?;
        let c = match ctx.store.check(id).await {
            Ok(c) => c,
            Err(e) if e.is_not_found() => return Ok(Outcome::Done), // deleted
            Err(e) => return Err(e.into()),
        };
        if !c.enabled {
            return Ok(Outcome::Done); // turning it back on queues a run
        }
        let step = job.run_at;
        let interval = c.spec.interval();
        // A run already recorded for this step (a lease that ran out mid-probe): only the
        // pending signal, if any, is left to do.
        let mut pending = c.pending_signal;
        let mut verdict = None;
        if c.last_run_at.is_none_or(|last| last < step) {
            let probe = probe(&self.client, &c.spec).await;
            let now = ctx.clock.now();
            let v = c.spec.judge(&probe, now);
            match record(ctx.store.as_ref(), &c, &probe, &v, now).await {
                Ok(change) => pending = change.or(pending),
                // Another instance recorded a run meanwhile: its outcome stands.
                Err(StoreError::Conflict { .. }) => {}
                Err(e) if e.is_not_found() => return Ok(Outcome::Done),
                Err(e) => return Err(e.into()),
            }
            verdict = Some((v, probe));
        }
        if let Some(state) = pending {
            let now = ctx.clock.now();
            if let Err(e) = signal(ctx, &c, state, verdict.as_ref(), now).await {
                // Left pending: the next run tries again, and the check keeps running.
                tracing::warn!(check = %c.id, error = %e, "could not apply a check's alert signal");
            } else {
                ctx.store.clear_check_signal(c.id, state).await?;
            }
        }
        Ok(Outcome::RunAgainAt(next_run(
            step,
            interval,
            ctx.clock.now(),
        )))
    }
}

/// Writes one run: its result, tallies and new standing; returns the state it moved to.
async fn record(
    store: &dyn Store,
    c: &Check,
    probe: &Probe,
    v: &Verdict,
    now: Timestamp,
) -> StoreResult<Option<CheckState>> {
    let spec = &c.spec;
    let (health, change) = c
        .health
        .after(v.ok, spec.failure_threshold, spec.success_threshold);
    let tallies: Vec<DayTally> = check::tally(
        c.last_run_at.map(|l| (l, c.health.state)),
        now,
        v.ok,
        probe.response_ms,
        spec.interval(),
    );
    let event = change.map(|to| {
        let kind = match to {
            CheckState::Down => EventKind::CheckDown,
            CheckState::Up => EventKind::CheckUp,
        };
        let data = json!({
            "check_id": c.id, "name": c.name, "url": spec.url, "reason": v.reason,
            "status": probe.status, "response_ms": probe.response_ms,
        });
        (
            to,
            NewEvent::new(
                SubjectType::Service,
                c.service_id,
                now,
                Actor::System,
                kind,
                data,
            ),
        )
    });
    store
        .record_check_run(CheckRun {
            check_id: c.id,
            expected_last_run: c.last_run_at,
            result: CheckResult {
                at: now,
                ok: v.ok,
                response_ms: probe.response_ms,
                status: probe.status,
                reason: v.reason.clone(),
                conditions: v.conditions.clone(),
            },
            health,
            change: event,
            tallies,
        })
        .await?;
    Ok(change)
}

fn alert_key(id: CheckId) -> DedupKey {
    DedupKey::parse(&check::job_key(id)).unwrap_or_else(|_| unreachable!("a short ASCII key"))
}

/// Raises (down) or resolves (up) the check's alert on its service, as any alert is.
async fn signal(
    ctx: &JobContext,
    c: &Check,
    state: CheckState,
    verdict: Option<&(Verdict, Probe)>,
    now: Timestamp,
) -> anyhow::Result<()> {
    let signal = match state {
        CheckState::Up => Signal {
            action: Action::Resolve,
            dedup_key: alert_key(c.id),
            content: None,
            payload: None,
        },
        CheckState::Down => Signal {
            action: Action::Trigger,
            dedup_key: alert_key(c.id),
            content: Some(alert_content(&ctx.settings, c, verdict, now)),
            payload: None,
        },
    };
    commit_signal(ctx.store.as_ref(), c, signal, now).await
}

pub(crate) async fn commit_signal(
    store: &dyn Store,
    c: &Check,
    signal: Signal,
    now: Timestamp,
) -> anyhow::Result<()> {
    let write = SignalWrite {
        service_id: c.service_id,
        integration_id: None,
        signal,
        at: now,
        new_alert_id: AlertId::new(now, random_bytes()),
        new_incident_id: IncidentId::new(now, random_bytes()),
        new_job_id: JobId::new(now, random_bytes()),
    };
    let mut results = store
        .commit_batch(vec![Write::Signal(Box::new(write))])
        .await;
    results.pop().unwrap_or(Err(StoreError::NotFound))?;
    Ok(())
}

/// The resolve signal for a check's alert (when a down check is deleted).
pub(crate) fn resolve_signal(id: CheckId) -> Signal {
    Signal {
        action: Action::Resolve,
        dedup_key: alert_key(id),
        content: None,
        payload: None,
    }
}

fn alert_content(
    settings: &Settings,
    c: &Check,
    verdict: Option<&(Verdict, Probe)>,
    now: Timestamp,
) -> AlertContent {
    let reason = verdict
        .and_then(|(v, _)| v.reason.clone())
        .unwrap_or_else(|| "failed its conditions".into());
    let short: String = reason.chars().take(300).collect();
    let summary = format!("Check {} is down: {short}", c.name);
    let details = match verdict {
        Some((v, p)) => json!({
            "check_id": c.id, "url": c.spec.url, "kind": c.spec.kind(),
            "failed": v.reason, "status": p.status, "response_ms": p.response_ms,
            "conditions": v.conditions,
        }),
        None => json!({"check_id": c.id, "url": c.spec.url, "kind": c.spec.kind()}),
    };
    let client_url = settings
        .server
        .public_url
        .as_deref()
        .map(|b| format!("{}/checks/{}", b.trim_end_matches('/'), c.id));
    AlertContent {
        summary,
        source: Some(c.spec.url.clone()),
        severity: Severity::Critical,
        timestamp: Some(now),
        component: None,
        group: None,
        class: Some("uptime_check".into()),
        details,
        links: Vec::new(),
        images: Vec::new(),
        client: Some("Klaxon check".into()),
        client_url,
    }
}

/// Makes the request (or opens the connection) and notes what came back. Times are real
/// elapsed time: the injected clock schedules runs, it does not time answers.
pub async fn probe(client: &reqwest::Client, spec: &CheckSpec) -> Probe {
    let timeout = Duration::from_millis(u64::from(spec.timeout_ms));
    let started = Instant::now();
    let elapsed = |s: Instant| u64::try_from(s.elapsed().as_millis()).unwrap_or(u64::MAX);
    if spec.kind() == CheckKind::Tcp {
        let addr = spec.tcp_address().unwrap_or_default();
        let (connected, error) =
            match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
                Ok(Ok(_stream)) => (true, None),
                Ok(Err(e)) => (false, Some(format!("could not connect to {addr}: {e}"))),
                Err(_) => (
                    false,
                    Some(format!(
                        "no connection to {addr} within {} ms",
                        spec.timeout_ms
                    )),
                ),
            };
        return Probe {
            connected,
            response_ms: elapsed(started),
            error,
            ..Probe::default()
        };
    }
    let method = reqwest::Method::from_bytes(spec.method.as_str().as_bytes())
        .unwrap_or(reqwest::Method::GET);
    let mut req = client.request(method, &spec.url).timeout(timeout);
    for (name, value) in &spec.headers {
        req = req.header(name.as_str(), value.as_str());
    }
    if let Some(b) = &spec.body {
        req = req.body(b.clone());
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            let error = if e.is_timeout() {
                format!("no answer within {} ms", spec.timeout_ms)
            } else {
                describe(e)
            };
            return Probe {
                connected: false,
                response_ms: elapsed(started),
                error: Some(error),
                ..Probe::default()
            };
        }
    };
    let status = resp.status().as_u16();
    let cert_expires_at = resp
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .and_then(check::cert::not_after);
    let mut body = Vec::new();
    let mut error = None;
    if spec.reads_body() {
        let mut resp = resp;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    let room = check::READ_MAX.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= check::READ_MAX {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(format!("the answer broke off: {}", describe(e)));
                    break;
                }
            }
        }
    }
    Probe {
        connected: true,
        status: Some(status),
        response_ms: elapsed(started),
        body: Some(String::from_utf8_lossy(&body).into_owned()),
        cert_expires_at,
        error,
    }
}

/// Forgets raw results after a week, and tallies and state changes after 400 days.
pub struct PruneChecks;

#[async_trait]
impl JobHandler for PruneChecks {
    async fn run(&self, _job: &Job, ctx: &JobContext) -> anyhow::Result<Outcome> {
        let now = ctx.clock.now();
        let results_before = now.checked_sub(check::RESULTS_KEPT).unwrap_or(now);
        let days_before = check::day_of(
            now.checked_sub(SignedDuration::from_hours(24 * check::DAYS_KEPT))
                .unwrap_or(now),
        );
        let pruned = ctx.store.prune_checks(results_before, days_before).await?;
        if pruned != klaxon_store::CheckPruned::default() {
            tracing::info!(
                results = pruned.results,
                days = pruned.days,
                changes = pruned.changes,
                "pruned check history"
            );
        }
        Ok(Outcome::RunAgainAt(
            now.checked_add(check::PRUNE_EVERY).unwrap_or(now),
        ))
    }
}

/// A check's up and down stretches between two times, from its state changes. (A status-page
/// component that follows its checks keeps its own status intervals, set in each change's
/// transaction: see `klaxon-store/sql/status_follow.rs`.) Time before the check existed (or
/// before the 400 days kept) is in no interval.
pub async fn check_intervals(
    store: &dyn Store,
    id: CheckId,
    from: Timestamp,
    to: Timestamp,
) -> StoreResult<Vec<StateInterval>> {
    let changes = store.check_changes(id, from, to).await?;
    Ok(check::intervals(&changes, from, to))
}
