//! The `drill.step` job: injects each scenario step once when it falls due (an alert raised or
//! resolved on the drill's incident, or a note on its timeline), and ends the drill, keeping
//! its scorecard, once its incident is resolved.
use async_trait::async_trait;
use klaxon_domain::alert::AlertStatus;
use klaxon_domain::drill::{Act, DrillAlert};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{AlertId, DrillId};
use klaxon_store::{Alert, AlertFilter, DrillRecord, DrillWrite, Job, StoreError};
use serde_json::json;

use super::practice::{WATCH_EVERY, end, incident_over};
use crate::shared::crypto::random_bytes;
use crate::shared::engine::{JobContext, JobHandler, Outcome};

pub struct DrillStep;

/// The dedup key a drill's alert carries: its own, so that it never meets a real alert's.
pub fn drill_key(drill: DrillId, key: &str) -> String {
    format!("drill:{drill}:{key}")
}

fn alert_of(
    d: &DrillRecord,
    a: &DrillAlert,
    service: klaxon_domain::ids::ServiceId,
    now: jiff::Timestamp,
) -> Alert {
    Alert {
        id: AlertId::new(now, random_bytes()),
        service_id: service,
        integration_id: None,
        incident_id: Some(d.incident_id),
        dedup_key: drill_key(d.id, &a.dedup_key),
        status: AlertStatus::Triggered,
        content: klaxon_domain::alert::AlertContent {
            summary: a.summary.clone(),
            source: a.source.clone(),
            severity: a.severity,
            timestamp: None,
            component: a.component.clone(),
            group: a.group.clone(),
            class: a.class.clone(),
            details: if a.details.is_null() {
                json!({})
            } else {
                a.details.clone()
            },
            links: Vec::new(),
            images: Vec::new(),
            client: Some("Klaxon drill".into()),
            client_url: None,
        },
        count: 1,
        in_maintenance: false,
        created_at: now,
        last_seen_at: now,
        acknowledged_at: None,
        resolved_at: None,
    }
}

/// Writes step `i` of the drill (once, whoever tries).
async fn inject(ctx: &JobContext, d: &DrillRecord, i: usize) -> anyhow::Result<()> {
    let now = ctx.clock.now();
    let Some(step) = d.definition.steps.get(i) else {
        return Ok(());
    };
    let on_incident = |kind: EventKind, data: serde_json::Value| {
        NewEvent::new(
            SubjectType::Incident,
            d.incident_id,
            now,
            Actor::System,
            kind,
            data,
        )
    };
    let (write, events) = match step.act() {
        Some(Act::Alert(a)) => match ctx.store.incident(d.incident_id).await?.service_id {
            // The service was deleted since: the step is taken as a note saying so.
            None => {
                let note = format!("the scenario's alert “{}” (its service is gone)", a.summary);
                let data = json!({"drill_id": d.id, "message": note});
                (
                    DrillWrite::Nothing,
                    vec![on_incident(EventKind::DrillNote, data)],
                )
            }
            Some(service) => {
                let alert = alert_of(d, a, service, now);
                let events = vec![
                    NewEvent::new(
                        SubjectType::Alert,
                        alert.id,
                        now,
                        Actor::System,
                        EventKind::AlertTriggered,
                        json!({"dedup_key": alert.dedup_key, "summary": a.summary,
                               "severity": a.severity, "integration_id": null,
                               "in_maintenance": false, "drill_id": d.id}),
                    ),
                    on_incident(
                        EventKind::IncidentAlertAdded,
                        json!({"alert_id": alert.id, "summary": a.summary,
                               "severity": a.severity, "dedup_key": alert.dedup_key}),
                    ),
                ];
                (DrillWrite::Alert(Box::new(alert)), events)
            }
        },
        Some(Act::Resolve(key)) => {
            let key = drill_key(d.id, key);
            let alerts = ctx
                .store
                .list_alerts(
                    &AlertFilter {
                        incident_id: Some(d.incident_id),
                        ..AlertFilter::default()
                    },
                    None,
                    500,
                )
                .await?;
            match alerts
                .items
                .into_iter()
                .find(|a| a.dedup_key == key && a.status != AlertStatus::Resolved)
            {
                Some(a) => (
                    DrillWrite::Resolve(a.id),
                    vec![NewEvent::new(
                        SubjectType::Alert,
                        a.id,
                        now,
                        Actor::System,
                        EventKind::AlertResolved,
                        json!({"dedup_key": a.dedup_key, "drill_id": d.id}),
                    )],
                ),
                // Resolved by someone already: nothing left to do.
                None => (DrillWrite::Nothing, Vec::new()),
            }
        }
        Some(Act::Note(message)) => (
            DrillWrite::Nothing,
            vec![on_incident(
                EventKind::DrillNote,
                json!({"drill_id": d.id, "message": message}),
            )],
        ),
        None => (DrillWrite::Nothing, Vec::new()),
    };
    ctx.store
        .drill_step(d.id, i as u32, now, write, events)
        .await?;
    Ok(())
}

#[async_trait]
impl JobHandler for DrillStep {
    async fn run(&self, job: &Job, ctx: &JobContext) -> anyhow::Result<Outcome> {
        let id: DrillId = serde_json::from_value(job.payload["drill"].clone())?;
        let d = match ctx.store.drill(id).await {
            Ok(d) => d,
            Err(StoreError::NotFound) => return Ok(Outcome::Done),
            Err(e) => return Err(e.into()),
        };
        if d.ended_at.is_some() {
            return Ok(Outcome::Done);
        }
        let now = ctx.clock.now();
        // Over once its incident is resolved: scored as of then, and nothing more injected.
        let incident = ctx.store.incident(d.incident_id).await?;
        if incident_over(incident.status) || incident.merged_into.is_some() {
            let at = incident.resolved_at.unwrap_or(now).min(now);
            end(&*ctx.store, &d, at, Actor::System, None).await?;
            return Ok(Outcome::Done);
        }
        let elapsed = now.duration_since(d.started_at);
        // Only the steps not taken yet: a taken one would cost a write transaction for nothing.
        let taken = ctx.store.drill_steps_taken(d.id).await?;
        let due: Vec<usize> = d
            .definition
            .due(elapsed)
            .filter(|i| !taken.iter().any(|(p, _)| *p as usize == *i))
            .collect();
        for i in due {
            inject(ctx, &d, i).await?;
        }
        let watch = now.saturating_add(WATCH_EVERY).unwrap_or(now);
        let next = d
            .definition
            .next_after(elapsed)
            .and_then(|o| d.started_at.checked_add(o).ok())
            .map_or(watch, |t| t.min(watch));
        Ok(Outcome::RunAgainAt(next))
    }
}
