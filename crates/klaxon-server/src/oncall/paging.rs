//! Paging: the escalation step (an engine job) and the notification sender.
//!
//! An incident that opens on a service with an escalation policy gets the job for step 0 in
//! the same transaction. Each step reads the policy, queues a notification per notification
//! rule of each target user (the outbox, committed before any provider is called), and
//! schedules the next step after the level's delay. The sender then claims due notifications
//! and calls the providers; what it cannot know it never repeats.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use futures_util::StreamExt as _;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::contact::{ContactKind, Delivery, SendPolicy};
use klaxon_domain::escalation::StepJob;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{JobId, NotificationId};
use klaxon_domain::incident::IncidentStatus;
use klaxon_domain::reach;
use klaxon_domain::throttle::{self, Decision, Due};
use klaxon_store::{
    EscalationStep, Incident, Job, NewNotification, Notification, SendResult, Service, Store,
    StoreResult, escalation_job, notification_event,
};
use serde_json::{Value, json};

use super::channels::{Channels, deliver, is_update};
use crate::shared::crypto::random_bytes;
use crate::shared::engine::{JobContext, JobHandler, Outbox, Outcome, SendReport};

/// How long a sender holds a claimed notification. A sender that has not reported by then is
/// presumed dead, and the notification's outcome unknown.
const SEND_CLAIM_MIN: SignedDuration = SignedDuration::from_secs(120);

/// A claim long enough for a whole batch: waves of SEND_CONCURRENCY sends, each up to three
/// provider round trips (an e-mail: connect, hand-over, message), plus a margin.
fn send_claim(timeout: Duration) -> SignedDuration {
    let waves = (SEND_BATCH as u64).div_ceil(SEND_CONCURRENCY as u64) + 1;
    let per_wave = timeout.saturating_mul(3);
    let whole = per_wave.saturating_mul(waves as u32) + Duration::from_secs(30);
    SignedDuration::try_from(whole)
        .unwrap_or(SEND_CLAIM_MIN)
        .max(SEND_CLAIM_MIN)
}
const SEND_BATCH: u32 = 50;
/// Sends in flight at once: enough that one slow receiver does not hold up the rest, few
/// enough not to flood a small one.
const SEND_CONCURRENCY: usize = 16;

/// Runs one escalation step of an incident.
pub struct EscalationStepHandler;

/// The store's answer, with "gone" as `None`: a deleted incident, service or policy ends the
/// escalation quietly.
fn found<T>(r: StoreResult<T>) -> anyhow::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[async_trait]
impl JobHandler for EscalationStepHandler {
    async fn run(&self, job: &Job, ctx: &JobContext) -> anyhow::Result<Outcome> {
        let StepJob { incident_id, step } =
            serde_json::from_value(job.payload.clone()).context("escalation step payload")?;
        let store = &ctx.store;
        let Some(incident) = found(store.incident(incident_id).await)? else {
            return Ok(Outcome::Done);
        };
        // Acknowledged or resolved: the escalation is over.
        if incident.status != IncidentStatus::Triggered {
            return Ok(Outcome::Done);
        }
        let Some(service_id) = incident.service_id else {
            return Ok(Outcome::Done);
        };
        let Some(service) = found(store.service(service_id).await)? else {
            return Ok(Outcome::Done);
        };
        let Some(policy_id) = service.escalation_policy_id else {
            return Ok(Outcome::Done);
        };
        let Some(policy) = found(store.escalation_policy(policy_id).await)? else {
            return Ok(Outcome::Done);
        };
        let now = ctx.clock.now();
        let event = |kind, data| {
            NewEvent::new(
                SubjectType::Incident,
                incident.id,
                now,
                Actor::System,
                kind,
                data,
            )
        };
        let Some((level, pass)) = policy.plan.position(step) else {
            let write = EscalationStep {
                incident_id,
                step,
                at: now,
                notifications: Vec::new(),
                events: vec![event(
                    EventKind::IncidentEscalationExhausted,
                    json!({"policy_id": policy.id, "repeat": policy.plan.repeat}),
                )],
                next: None,
            };
            store.apply_escalation_step(write).await?;
            return Ok(Outcome::Done);
        };
        let lvl = &policy.plan.levels[level];
        let mut notifications = Vec::new();
        let mut notified = Vec::new();
        let mut unreachable = Vec::new();
        // Schedules page whoever is on call in them now; a user reached twice is paged once.
        let reached =
            crate::oncall::schedules::api::reach(store.as_ref(), &lvl.targets, now).await?;
        for &user in &reached.users {
            let key = format!("incident:{}:step:{step}", incident.id);
            let pages = pages_for(
                store.as_ref(),
                &ctx.settings,
                &incident,
                Some(&service),
                user,
                &key,
                Some(level),
                now,
            )
            .await?;
            if pages.is_empty() {
                unreachable.push(user);
            } else {
                notified.push(user);
                notifications.extend(pages);
            }
        }
        let next_at = now
            .saturating_add(SignedDuration::from_mins(i64::from(lvl.delay_minutes)))
            .unwrap_or(now);
        let mut events = vec![event(
            EventKind::IncidentEscalated,
            json!({"policy_id": policy.id, "step": step, "level": level + 1,
                   "pass": pass + 1, "users": notified, "unreachable": unreachable,
                   "schedules": reached.schedules_json(),
                   "empty_schedules": reached.empty_schedules,
                   "next_step_at": next_at}),
        )];
        // Nobody was paged: the timeline says so, and why, in the step's own transaction.
        if notified.is_empty() {
            let only = klaxon_domain::escalation::Plan {
                levels: vec![lvl.clone()],
                repeat: 0,
            };
            let facts = crate::shared::reach::facts(store.as_ref(), &[&only], &[], now).await?;
            let judged =
                reach::level_reach(level as u32 + 1, lvl, &facts, incident.urgency.pages_as());
            let mut reasons: Vec<_> = judged.reasons.into_iter().filter(|r| r.now).collect();
            if reasons.is_empty() {
                // The facts changed since the step looked (a rule added meanwhile): say what
                // the step saw.
                reasons.push(reach::Reason {
                    code: reach::Why::NoNotificationRule,
                    message: "nobody on this level had a way to be paged".into(),
                    user_id: None,
                    schedule_id: None,
                    now: true,
                    urgency: None,
                });
            }
            events.push(event(
                EventKind::IncidentLevelUnreachable,
                json!({"policy_id": policy.id, "step": step, "level": level + 1,
                       "pass": pass + 1, "reasons": reasons}),
            ));
        }
        let write = EscalationStep {
            incident_id,
            step,
            at: now,
            notifications,
            events,
            next: Some(escalation_job(
                JobId::new(now, random_bytes()),
                incident_id,
                step + 1,
                next_at,
            )),
        };
        store.apply_escalation_step(write).await?;
        Ok(Outcome::Done)
    }
}

/// The notifications that page `user` about `incident`: one per notification rule for the
/// incident's urgency, each after its delay. `key` (a step, a reassignment) makes them
/// once-only. Empty when the user has no rule for this urgency.
#[allow(clippy::too_many_arguments)]
pub async fn pages_for(
    store: &dyn Store,
    settings: &crate::shared::config::Settings,
    incident: &Incident,
    service: Option<&Service>,
    user: klaxon_domain::ids::UserId,
    key: &str,
    level: Option<usize>,
    now: Timestamp,
) -> StoreResult<Vec<NewNotification>> {
    let rules = store.list_notification_rules(user).await?;
    let methods = store.list_contact_methods(user).await?;
    let mut payload = page_payload(incident, service, settings, level);
    if rules
        .iter()
        .any(|r| r.urgency == incident.urgency.pages_as())
    {
        let public_url = settings.server.public_url.as_deref();
        payload["alerts"] = super::page_alerts::page_alerts(store, incident, public_url).await?;
    }
    Ok(rules
        .iter()
        .filter(|r| r.urgency == incident.urgency.pages_as())
        .filter_map(|rule| {
            let method = methods.iter().find(|m| m.id == rule.contact_method_id)?;
            Some(NewNotification {
                id: NotificationId::new(now, random_bytes()),
                incident_id: Some(incident.id),
                user_id: user,
                contact_method_id: Some(method.id),
                kind: method.kind,
                address: method.address.clone(),
                dedup_key: format!("{key}:rule:{}", rule.id),
                payload: payload.clone(),
                run_at: now
                    .saturating_add(SignedDuration::from_mins(i64::from(rule.delay_minutes)))
                    .unwrap_or(now),
                created_at: now,
            })
        })
        .collect())
}

/// What a page says, whatever the channel: the channel renders it. `pages_for` adds the
/// incident's newest alerts (`page_alerts`).
fn page_payload(
    incident: &Incident,
    service: Option<&Service>,
    settings: &crate::shared::config::Settings,
    level: Option<usize>,
) -> Value {
    let url = settings
        .server
        .public_url
        .as_deref()
        .map(|base| format!("{}/incidents/{}", base.trim_end_matches('/'), incident.id));
    json!({
        "incident": {
            "id": incident.id,
            "number": incident.number,
            "title": incident.title,
            "urgency": incident.urgency,
            "status": incident.status,
            "created_at": incident.created_at,
            "url": url,
            "alert_count": incident.alert_count,
        },
        "service": service.map(|s| json!({"id": s.id, "name": s.name})),
        "level": level.map(|l| l + 1),
    })
}

/// Sends every notification due now: claims a batch, sends them side by side, records each
/// outcome, and goes on until nothing is due.
pub async fn send_due(ctx: &JobContext) -> StoreResult<SendReport> {
    let (store, clock, settings) = (&ctx.store, &ctx.clock, &*ctx.settings);
    let mut report = SendReport::default();
    let mut ack_key = None;
    loop {
        let now = clock.now();
        let timeout = Duration::from_millis(settings.engine.send_timeout_ms);
        let until = now.saturating_add(send_claim(timeout)).unwrap_or(now);
        let claimed = store.claim_notifications(now, until, SEND_BATCH).await?;
        report.cancelled += claimed.cancelled;
        report.abandoned += claimed.abandoned;
        report.released += claimed.released;
        if claimed.due.is_empty() {
            break;
        }
        // E-mails and texts carry a signed acknowledge link. Without the key they still go out,
        // without the link: a page matters more than the convenience.
        if ack_key.is_none()
            && claimed
                .due
                .iter()
                .any(|n| matches!(n.kind, ContactKind::Email | ContactKind::Sms))
        {
            match store.server_key(crate::oncall::ack::ACK_KEY).await {
                Ok(key) => ack_key = Some(key),
                Err(e) => tracing::error!(error = %e, "cannot read the acknowledge-link key"),
            }
        }
        let channels = Channels {
            http: &ctx.http,
            outgoing: &ctx.outgoing,
            settings,
            timeout: Duration::from_millis(settings.engine.send_timeout_ms),
            ack_key,
        };
        let channels = &channels;
        // Storm control: one message per contact method for what is due together, and slow
        // channels at most once a minute (klaxon_domain::throttle).
        let dues: Vec<Due> = claimed
            .due
            .iter()
            .map(|n| Due {
                id: n.id,
                method: n.contact_method_id,
                kind: n.kind,
                // Tests, stakeholder updates and reminders go alone: never bundled with pages.
                test: n.payload["test"].as_bool() == Some(true)
                    || is_update(&n.payload)
                    || super::channels::is_reminder(&n.payload),
            })
            .collect();
        let mut slow: Vec<_> = dues
            .iter()
            .filter(|d| throttle::min_gap(d.kind).is_some())
            .filter_map(|d| d.method)
            .collect();
        slow.sort_unstable();
        slow.dedup();
        // Without the history, send rather than hold pages back.
        let last: BTreeMap<_, _> = match store.last_sent(&slow).await {
            Ok(l) => l.into_iter().collect(),
            Err(e) => {
                tracing::error!(error = %e, "cannot read when contact methods were last used");
                BTreeMap::new()
            }
        };
        let by_id: HashMap<NotificationId, &Notification> =
            claimed.due.iter().map(|n| (n.id, n)).collect();
        let mut messages: Vec<(Notification, Vec<&Notification>)> = Vec::new();
        for decision in throttle::plan(&dues, &last, now) {
            match decision {
                Decision::Defer { id, until } => {
                    let n = by_id[&id];
                    let event = notification_event(
                        n,
                        now,
                        EventKind::NotificationDeferred,
                        json!({"until": until, "reason": "at most one message a minute to this contact method"}),
                    );
                    match store.defer_notification(id, until, event).await {
                        Ok(true) => report.deferred += 1,
                        Ok(false) => {}
                        // Claimed and not deferred: send it now rather than leave it stuck.
                        Err(e) => {
                            tracing::error!(error = %e, "cannot defer a notification; sending it");
                            messages.push((n.clone(), vec![n]));
                        }
                    }
                }
                Decision::Send { lead, with } => {
                    let lead = by_id[&lead];
                    let mut members = vec![lead];
                    members.extend(with.iter().map(|id| by_id[id]));
                    let message = if members.len() == 1 {
                        lead.clone()
                    } else {
                        bundle(&members)
                    };
                    messages.push((message, members));
                }
            }
        }
        type Sending<'a> = std::pin::Pin<
            Box<
                dyn std::future::Future<Output = (Vec<&'a Notification>, usize, Option<Delivery>)>
                    + Send
                    + 'a,
            >,
        >;
        let sends: Vec<Sending<'_>> = messages
            .iter()
            .map(|(message, members)| -> Sending<'_> {
                Box::pin(async move {
                    let delivery = match current_method(store, message).await {
                        Ok(Ok((address, secret))) => {
                            let mut now_to = message.clone();
                            now_to.address = address;
                            // Marked as begun just before it goes out, so that a crash from
                            // here on is "outcome unknown" and before it, "never sent".
                            if begin(store, members, clock.now()).await {
                                Some(
                                    deliver(&now_to, secret.as_deref(), channels, clock.now())
                                        .await,
                                )
                            } else {
                                None
                            }
                        }
                        Ok(Err(gone)) => Some(gone),
                        Err(e) => Some(Delivery::Retry(format!(
                            "could not read the contact method: {e}"
                        ))),
                    };
                    (members.clone(), members.len(), delivery)
                })
            })
            .collect();
        // Side by side: one slow provider does not hold up the others.
        let done: Vec<_> = futures_util::stream::iter(sends)
            .buffer_unordered(SEND_CONCURRENCY)
            .collect()
            .await;
        let mut failure = None;
        for (members, count, delivery) in done {
            // Not begun: the claim is no longer ours, or could not be marked; it is released
            // when the claim runs out and sent then.
            let Some(delivery) = delivery else { continue };
            let lead = members[0].id;
            for n in members {
                let at = clock.now();
                let (result, kind, mut data) = outcome(n, &delivery, at, &mut report);
                if count > 1 {
                    data["bundle"] = json!({"lead": lead, "count": count});
                }
                let event = notification_event(n, at, kind, data);
                // One failed write must not leave the others' outcomes unrecorded.
                if let Err(e) = store.finish_notification(n.id, result, event).await {
                    tracing::error!(error = %e, notification = %n.id, "cannot record a send");
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Ok(report)
}

/// Marks the sends of `members` (claimed together, so sharing the claim's end) as begun.
async fn begin(store: &Arc<dyn Store>, members: &[&Notification], at: Timestamp) -> bool {
    let ids: Vec<NotificationId> = members.iter().map(|n| n.id).collect();
    match store.start_sending(&ids, members[0].run_at, at).await {
        Ok(true) => true,
        Ok(false) => {
            tracing::warn!(notification = %ids[0], "claim ran out before sending; left to its new sender");
            false
        }
        Err(e) => {
            tracing::error!(error = %e, notification = %ids[0], "cannot mark a send as begun; not sending it now");
            false
        }
    }
}

/// What a delivery means for one notification: its new state, event kind and event data.
fn outcome(
    n: &Notification,
    delivery: &Delivery,
    at: Timestamp,
    report: &mut SendReport,
) -> (SendResult, EventKind, Value) {
    match delivery {
        Delivery::Sent => {
            report.sent += 1;
            (
                SendResult::Sent { at },
                EventKind::NotificationSent,
                json!({}),
            )
        }
        Delivery::Retry(error) => match SendPolicy::default().retry_at(n.attempts, at) {
            Some(retry_at) => {
                report.retried += 1;
                (
                    SendResult::Retry {
                        at: retry_at,
                        error: error.clone(),
                    },
                    EventKind::NotificationRetrying,
                    json!({"error": error, "attempt": n.attempts, "retry_at": retry_at}),
                )
            }
            None => {
                report.failed += 1;
                let error = format!("{error} (gave up after {} attempts)", n.attempts);
                (
                    SendResult::Failed {
                        error: error.clone(),
                    },
                    EventKind::NotificationFailed,
                    json!({"error": error}),
                )
            }
        },
        Delivery::Failed(error) => {
            report.failed += 1;
            tracing::warn!(notification = %n.id, user = %n.user_id, %error, "notification failed");
            (
                SendResult::Failed {
                    error: error.clone(),
                },
                EventKind::NotificationFailed,
                json!({"error": error}),
            )
        }
    }
}

/// One message standing for several pages to one contact method. It carries no acknowledge
/// link (which incident would it acknowledge?) and the first page's id as its idempotency key.
fn bundle(members: &[&Notification]) -> Notification {
    let lead = members[0];
    let items: Vec<Value> = members.iter().map(|n| n.payload.clone()).collect();
    let urgency = if items
        .iter()
        .any(|p| p["incident"]["urgency"].as_str() != Some("low"))
    {
        "high"
    } else {
        "low"
    };
    let mut message = lead.clone();
    message.incident_id = None;
    message.payload = json!({
        "bundle": true,
        "count": items.len(),
        "urgency": urgency,
        "items": items,
    });
    message
}

/// The one-line summary of a bundle: `[HIGH] 3 incidents need you: #12 Checkout is down; #13 …`.
pub(super) fn bundle_title(p: &Value) -> Option<String> {
    if p["bundle"].as_bool() != Some(true) {
        return None;
    }
    let list: Vec<String> = p["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            format!(
                "#{} {}",
                i["incident"]["number"],
                i["incident"]["title"].as_str().unwrap_or("")
            )
        })
        .collect();
    Some(format!(
        "[{}] {} incidents need you: {}",
        p["urgency"].as_str().unwrap_or("high").to_uppercase(),
        p["count"],
        list.join("; ")
    ))
}

/// The contact method as it is now: its address (changed since the page was queued: the new
/// one) and a webhook's signing key. A removed method fails the notification.
async fn current_method(
    store: &Arc<dyn Store>,
    n: &Notification,
) -> StoreResult<Result<(String, Option<String>), Delivery>> {
    let Some(id) = n.contact_method_id else {
        return Ok(Err(Delivery::Failed(
            "the contact method was removed".into(),
        )));
    };
    match store.contact_method(id).await {
        Ok(m) => Ok(Ok((m.address, m.secret))),
        Err(e) if e.is_not_found() => Ok(Err(Delivery::Failed(
            "the contact method was removed".into(),
        ))),
        Err(e) => Err(e),
    }
}

/// The pages outbox, drained by the engine each round.
pub struct PageSender;

#[async_trait]
impl Outbox for PageSender {
    type Report = SendReport;

    async fn drain(&self, ctx: &JobContext) -> StoreResult<SendReport> {
        send_due(ctx).await
    }
}
