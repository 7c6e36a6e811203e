//! The `learning.reminders` job: owners of open action items hear about them from
//! `remind_before_days` before the due date, then once a day until the item is done or won't
//! be done, on their e-mail and chat contact methods (never SMS or voice: a reminder is not a
//! page). Each reminder is queued in the pages outbox in the transaction that marks the item
//! reminded, so it is never lost; the mark is a conditional update, so it is never doubled,
//! whichever instance runs the job.
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::action_item as rules;
use klaxon_domain::contact::ContactKind;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::NotificationId;
use klaxon_store::{ActionItemRow, ActionReminder, Job, NewJob, NewNotification, Store};
use serde_json::{Value, json};

use crate::shared::config::Settings;
use crate::shared::crypto::random_bytes;
use crate::shared::engine::{JobContext, JobHandler, Outcome, new_job};

pub const JOB: &str = "learning.reminders";
const KEY: &str = "learning:reminders";
/// How often the job looks: a reminder goes at most this long after it is due.
const EVERY: SignedDuration = SignedDuration::from_mins(10);
const BATCH: u32 = 200;

/// The one reminder job, kept by its dedup key; made with each new item.
pub fn job(now: Timestamp) -> NewJob {
    new_job(JOB, Some(KEY), json!({}), now, now)
}

/// Which contact methods a reminder goes to.
fn reminds_on(kind: ContactKind) -> bool {
    matches!(
        kind,
        ContactKind::Email | ContactKind::Slack | ContactKind::Teams | ContactKind::Mattermost
    )
}

/// What a reminder says; `oncall::channels` renders it.
pub fn payload(r: &ActionItemRow, settings: &Settings, now: Timestamp) -> Value {
    let a = &r.item;
    let url = settings
        .server
        .public_url
        .as_deref()
        .map(|base| format!("{}/action-items/{}", base.trim_end_matches('/'), a.id));
    json!({
        "reminder": {
            "action_item": {
                "id": a.id,
                "title": a.title,
                "kind": a.kind,
                "priority": a.priority,
                "state": a.state,
                "due_at": a.due_at,
                "overdue": rules::is_overdue(a.state, a.due_at, now),
                "tracker_url": a.tracker_url,
                "url": url,
            },
            "incident": {"id": a.incident_id, "number": r.incident_number, "title": r.incident_title},
        }
    })
}

/// Reminds each owner due a reminder now; one transaction per item.
pub async fn remind_due(
    store: &dyn Store,
    settings: &Settings,
    now: Timestamp,
) -> anyhow::Result<u32> {
    let slo = settings.action_items.slo();
    let window = SignedDuration::from_hours(24 * i64::from(slo.remind_before_days));
    let due_before = now.saturating_add(window).unwrap_or(now);
    let reminded_before = rules::reminded_before(now);
    let mut reminded = 0;
    for r in store
        .due_reminders(due_before, reminded_before, BATCH)
        .await?
    {
        let a = &r.item;
        if !rules::reminder_due(a.state, a.due_at, a.last_reminded_at, now, &slo) {
            continue;
        }
        let methods = store.list_contact_methods(a.owner_id).await?;
        let body = payload(&r, settings, now);
        // Outside any incident: the sender's "incident no longer triggered" rule must not
        // cancel a reminder about a resolved incident. Its sends are told on the owner's
        // timeline; the reminder itself on the incident's.
        let notifications: Vec<NewNotification> = methods
            .iter()
            .filter(|m| reminds_on(m.kind))
            .map(|m| NewNotification {
                id: NotificationId::new(now, random_bytes()),
                incident_id: None,
                user_id: a.owner_id,
                contact_method_id: Some(m.id),
                kind: m.kind,
                address: m.address.clone(),
                dedup_key: format!(
                    "action-item:{}:{}:{}",
                    a.id,
                    klaxon_domain::clock::to_millis(now),
                    m.id
                ),
                payload: body.clone(),
                run_at: now,
                created_at: now,
            })
            .collect();
        let channels: Vec<&str> = notifications.iter().map(|n| n.kind.as_str()).collect();
        let event = NewEvent::new(
            SubjectType::Incident,
            a.incident_id,
            now,
            Actor::System,
            EventKind::ActionItemReminded,
            json!({"action_item_id": a.id, "title": a.title, "user_id": a.owner_id,
                   "channels": channels, "overdue": rules::is_overdue(a.state, a.due_at, now)}),
        );
        let marked = store
            .remind_action_item(ActionReminder {
                id: a.id,
                at: now,
                reminded_before,
                notifications,
                event,
            })
            .await?;
        if marked {
            reminded += 1;
        }
    }
    Ok(reminded)
}

pub struct RemindOwners;

#[async_trait]
impl JobHandler for RemindOwners {
    async fn run(&self, _job: &Job, ctx: &JobContext) -> anyhow::Result<Outcome> {
        let now = ctx.clock.now();
        let n = remind_due(&*ctx.store, &ctx.settings, now).await?;
        if n > 0 {
            tracing::info!(reminded = n, "action item owners reminded");
        }
        // Keep looking while anything is open; a new item brings the job back.
        if ctx.store.open_action_items().await? > 0 {
            Ok(Outcome::RunAgainAt(
                now.saturating_add(EVERY).unwrap_or(now),
            ))
        } else {
            Ok(Outcome::Done)
        }
    }
}
