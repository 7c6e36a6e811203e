//! Scheduled maintenances start and complete at their times, moved by the engine: a durable
//! job looks every 15 s while any maintenance is unfinished, and posts the update a person
//! would have (status, template text, components under maintenance and back), and reminds
//! subscribers `remind_minutes` before a start. Several
//! instances may run it: each move is a conditional update of the incident's row, so a
//! maintenance moves once.
use async_trait::async_trait;
use jiff::SignedDuration;
use klaxon_domain::event::Actor;
use klaxon_domain::ids::StatusUpdateId;
use klaxon_domain::status::{MaintenanceStatus, PublicStatus};
use klaxon_store::{Job, NewJob, StatusUpdate};
use serde_json::json;

use super::incidents_api::{
    events_for, implied_changes, mark_milestones, names_of, real, template,
};
use super::pages_api::new_code;
use crate::shared::crypto::random_bytes;
use crate::shared::engine::{JobContext, JobHandler, Outcome, new_job};

pub const JOB: &str = "status.maintenance";
const KEY: &str = "status:maintenance";
const EVERY: SignedDuration = SignedDuration::from_secs(15);

/// The one job that moves maintenances, made when one is scheduled (kept by its dedup key).
pub fn job(now: jiff::Timestamp) -> NewJob {
    new_job(JOB, Some(KEY), json!({}), now, now)
}

pub struct MoveMaintenances;

#[async_trait]
impl JobHandler for MoveMaintenances {
    async fn run(&self, _job: &Job, ctx: &JobContext) -> anyhow::Result<Outcome> {
        let now = ctx.clock.now();
        for due in ctx.store.due_maintenances(now).await? {
            let to = match due.status {
                PublicStatus::Maintenance(MaintenanceStatus::Scheduled)
                    if due.scheduled_for.is_some_and(|t| t <= now) =>
                {
                    MaintenanceStatus::InProgress
                }
                PublicStatus::Maintenance(
                    MaintenanceStatus::InProgress | MaintenanceStatus::Verifying,
                ) if due.scheduled_until.is_some_and(|t| t <= now) => MaintenanceStatus::Completed,
                PublicStatus::Maintenance(MaintenanceStatus::Scheduled) => {
                    remind(ctx, &due, now).await?;
                    continue;
                }
                _ => continue,
            };
            let page = ctx.store.status_page(due.page_id).await?;
            let all = ctx.store.list_components(due.page_id).await?;
            let mut i = due.clone();
            let status = PublicStatus::Maintenance(to);
            let mut changes = Vec::new();
            implied_changes(&all, &i, status, &mut changes);
            i.status = status;
            i.updated_at = now;
            i.next_update_at = None;
            mark_milestones(&mut i, status, now);
            let names = names_of(&all, &i.component_ids);
            let u = StatusUpdate {
                id: StatusUpdateId::new(now, random_bytes()),
                code: new_code(),
                status_incident_id: i.id,
                status,
                body: template(status, &names),
                changes: real(changes),
                next_update_at: None,
                created_at: now,
            };
            let events = events_for(&i, &u, &page.slug, Actor::System, false);
            match ctx
                .store
                .move_status_incident(due.status, i, u, events)
                .await
            {
                Ok(moved) => {
                    tracing::info!(maintenance = %due.code, to = to.as_str(), moved, "maintenance moved");
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Keep looking while anything is left to move.
        if ctx.store.unfinished_maintenances().await? > 0 {
            Ok(Outcome::RunAgainAt(now + EVERY))
        } else {
            Ok(Outcome::Done)
        }
    }
}

/// Reminds the maintenance's e-mail subscribers once, `remind_minutes` before it starts.
async fn remind(
    ctx: &JobContext,
    due: &klaxon_store::StatusIncident,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let (Some(start), Some(minutes)) = (due.scheduled_for, due.remind_minutes) else {
        return Ok(());
    };
    let at = start
        .checked_sub(SignedDuration::from_mins(minutes))
        .unwrap_or(start);
    if due.reminded || now < at {
        return Ok(());
    }
    let e = super::pages_api::page_event(
        due.page_id,
        now,
        Actor::System,
        klaxon_domain::event::EventKind::StatusMaintenanceReminded,
        json!({"status_incident": due.code, "name": due.name, "starts_at": start}),
    );
    let reminded = ctx.store.remind_maintenance(due.id, e).await?;
    tracing::info!(maintenance = %due.code, reminded, "maintenance reminder");
    Ok(())
}
