//! Heartbeat monitors: a job that checks whether a ping arrived in time.
//!
//! A ping records its time, resolves the monitor's alert if one is open, and makes sure a
//! `heartbeat.check` job exists. The job, when due, compares the last ping with the interval:
//! still in time, it reschedules itself for the new deadline; too late, it opens the alert and
//! ends (the next ping schedules the next check). Everything is rows, so restarts lose nothing.
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::alert::{Action, AlertContent, DedupKey, Severity, Signal};
use klaxon_domain::ids::{AlertId, IncidentId, IntegrationId, JobId};
use klaxon_store::{HeartbeatWrite, Integration, Job, NewJob, SignalWrite, Write};
use serde_json::json;

use crate::alerts::ingest::Refusal;
use crate::shared::crypto::random_bytes;
use crate::shared::engine::{JobContext, JobHandler, Outcome};
use crate::shared::state::AppState;

pub const CHECK_JOB: &str = "heartbeat.check";
/// The dedup key of a monitor's alert: one open alert per monitor.
pub const ALERT_KEY: &str = "heartbeat";

pub fn job_key(id: IntegrationId) -> String {
    format!("heartbeat:{id}")
}

fn deadline(last_ping: Timestamp, interval_secs: u32) -> Timestamp {
    last_ping
        .saturating_add(SignedDuration::from_secs(i64::from(interval_secs)))
        .unwrap_or(last_ping)
}

fn signal_write(integration: &Integration, signal: Signal, at: Timestamp) -> SignalWrite {
    SignalWrite {
        service_id: integration.service_id,
        integration_id: Some(integration.id),
        signal,
        at,
        new_alert_id: AlertId::new(at, random_bytes()),
        new_incident_id: IncidentId::new(at, random_bytes()),
        new_job_id: klaxon_domain::ids::JobId::new(at, random_bytes()),
    }
}

fn alert_key() -> DedupKey {
    DedupKey::parse(ALERT_KEY).unwrap_or_else(|_| unreachable!("a valid constant"))
}

pub(crate) async fn ping(state: &AppState, integration: &Integration) -> Result<(), Refusal> {
    let Some(interval) = integration.heartbeat_interval_secs else {
        return Err(klaxon_domain::Invalid::new(
            "heartbeat_interval_secs",
            "this heartbeat monitor has no interval",
        )
        .into());
    };
    let now = state.clock.now();
    let resolve = Signal {
        action: Action::Resolve,
        dedup_key: alert_key(),
        content: None,
        payload: None,
    };
    let write = HeartbeatWrite {
        resolve: signal_write(integration, resolve, now),
        check: NewJob {
            id: JobId::new(now, random_bytes()),
            kind: CHECK_JOB.into(),
            dedup_key: Some(job_key(integration.id)),
            payload: json!({"integration_id": integration.id}),
            run_at: deadline(now, interval),
            created_at: now,
        },
    };
    state
        .group_commit
        .write(Write::Heartbeat(Box::new(write)))
        .await?;
    Ok(())
}

pub struct Check;

#[async_trait]
impl JobHandler for Check {
    async fn run(&self, job: &Job, ctx: &JobContext) -> anyhow::Result<Outcome> {
        let id: IntegrationId = serde_json::from_value(job.payload["integration_id"].clone())?;
        let integration = match ctx.store.integration(id).await {
            Ok(i) => i,
            Err(e) if e.is_not_found() => return Ok(Outcome::Done), // monitor deleted
            Err(e) => return Err(e.into()),
        };
        let (Some(interval), Some(last)) = (
            integration.heartbeat_interval_secs,
            integration.last_ping_at,
        ) else {
            return Ok(Outcome::Done);
        };
        let now = ctx.clock.now();
        let due = deadline(last, interval);
        if now < due {
            return Ok(Outcome::RunAgainAt(due));
        }
        let content = AlertContent {
            summary: format!(
                "Heartbeat missed: {} sent no ping for {}",
                integration.name,
                human_interval(interval)
            ),
            source: Some(integration.name.clone()),
            severity: Severity::Critical,
            timestamp: Some(due),
            component: None,
            group: None,
            class: Some("heartbeat".into()),
            details: json!({"last_ping_at": last, "interval_secs": interval}),
            links: Vec::new(),
            images: Vec::new(),
            client: Some("Klaxon heartbeat".into()),
            client_url: None,
        };
        let trigger = Signal {
            action: Action::Trigger,
            dedup_key: alert_key(),
            content: Some(content),
            // Klaxon made it: there is no event as a tool sent it.
            payload: None,
        };
        let mut results = ctx
            .store
            .commit_batch(vec![Write::Signal(Box::new(signal_write(
                &integration,
                trigger,
                now,
            )))])
            .await;
        results
            .pop()
            .unwrap_or(Err(klaxon_store::StoreError::NotFound))?;
        Ok(Outcome::Done)
    }
}

fn human_interval(secs: u32) -> String {
    match secs {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}
