//! Paging: the escalation step (an engine job) and the notification sender.
//!
//! An incident that opens on a service with an escalation policy gets the job for step 0 in
//! the same transaction. Each step reads the policy, queues a notification per notification
//! rule of each target user (the outbox, committed before any provider is called), and
//! schedules the next step after the level's delay. The sender then claims due notifications
//! and calls the providers; what it cannot know it never repeats.
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use futures_util::StreamExt as _;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::contact::{ContactKind, Delivery, SendPolicy};
use klaxon_domain::escalation::{StepJob, Target};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{JobId, NotificationId};
use klaxon_domain::incident::IncidentStatus;
use klaxon_store::{
    EscalationStep, Incident, Job, NewNotification, Notification, SendResult, Service, Store,
    StoreResult, escalation_job, notification_event,
};
use serde_json::{Value, json};

use crate::crypto::{random_bytes, sign_v1};
use crate::engine::{JobContext, JobHandler, Outcome};

/// How long a sender holds a claimed notification. A sender that has not reported by then is
/// presumed dead, and the notification's outcome unknown.
const SEND_CLAIM: SignedDuration = SignedDuration::from_secs(120);
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
        for target in &lvl.targets {
            let Target::User(user) = *target;
            let rules = store.list_notification_rules(user).await?;
            let methods = store.list_contact_methods(user).await?;
            let mut any = false;
            for rule in rules.iter().filter(|r| r.urgency == incident.urgency) {
                let Some(method) = methods.iter().find(|m| m.id == rule.contact_method_id) else {
                    continue;
                };
                any = true;
                notifications.push(NewNotification {
                    id: NotificationId::new(now, random_bytes()),
                    incident_id: Some(incident.id),
                    user_id: user,
                    contact_method_id: Some(method.id),
                    kind: method.kind,
                    address: method.address.clone(),
                    dedup_key: format!("incident:{}:step:{step}:rule:{}", incident.id, rule.id),
                    payload: page_payload(&incident, &service, ctx, level),
                    run_at: now
                        .saturating_add(SignedDuration::from_mins(i64::from(rule.delay_minutes)))
                        .unwrap_or(now),
                    created_at: now,
                });
            }
            if any {
                notified.push(user);
            } else {
                unreachable.push(user);
            }
        }
        let next_at = now
            .saturating_add(SignedDuration::from_mins(i64::from(lvl.delay_minutes)))
            .unwrap_or(now);
        let write = EscalationStep {
            incident_id,
            step,
            at: now,
            notifications,
            events: vec![event(
                EventKind::IncidentEscalated,
                json!({"policy_id": policy.id, "step": step, "level": level + 1,
                       "pass": pass + 1, "users": notified, "unreachable": unreachable,
                       "next_step_at": next_at}),
            )],
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

/// What a page says, whatever the channel: the channel renders it.
fn page_payload(incident: &Incident, service: &Service, ctx: &JobContext, level: usize) -> Value {
    let url = ctx
        .settings
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
        },
        "service": {"id": service.id, "name": service.name},
        "level": level + 1,
    })
}

/// What one round of sending did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SendReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub cancelled: u64,
    pub abandoned: u64,
}

impl SendReport {
    pub fn add(&mut self, other: SendReport) {
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
        self.cancelled += other.cancelled;
        self.abandoned += other.abandoned;
    }
}

/// Sends every notification due now: claims a batch, sends them side by side, records each
/// outcome, and goes on until nothing is due.
pub async fn send_due(
    store: &Arc<dyn Store>,
    clock: &Arc<dyn klaxon_domain::Clock>,
    http: &reqwest::Client,
    timeout: Duration,
) -> StoreResult<SendReport> {
    let mut report = SendReport::default();
    loop {
        let now = clock.now();
        let until = now.saturating_add(SEND_CLAIM).unwrap_or(now);
        let claimed = store.claim_notifications(now, until, SEND_BATCH).await?;
        report.cancelled += claimed.cancelled;
        report.abandoned += claimed.abandoned;
        if claimed.due.is_empty() {
            break;
        }
        type Sending<'a> = std::pin::Pin<
            Box<dyn std::future::Future<Output = (&'a Notification, Delivery)> + Send + 'a>,
        >;
        let sends: Vec<Sending<'_>> = claimed
            .due
            .iter()
            .map(|n| -> Sending<'_> {
                Box::pin(async move {
                    let delivery = match signing_secret(store, n).await {
                        Ok(secret) => {
                            deliver(n, secret.as_deref(), http, timeout, clock.now()).await
                        }
                        Err(e) => {
                            Delivery::Retry(format!("could not read the contact method: {e}"))
                        }
                    };
                    (n, delivery)
                })
            })
            .collect();
        // Side by side: one slow provider does not hold up the others.
        let done: Vec<_> = futures_util::stream::iter(sends)
            .buffer_unordered(SEND_CONCURRENCY)
            .collect()
            .await;
        for (n, delivery) in done {
            let at = clock.now();
            let (result, kind, data) = match delivery {
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
                    (
                        SendResult::Failed {
                            error: error.clone(),
                        },
                        EventKind::NotificationFailed,
                        json!({"error": error}),
                    )
                }
            };
            let event = notification_event(n, at, kind, data);
            store.finish_notification(n.id, result, event).await?;
        }
    }
    Ok(report)
}

/// A webhook's signing key, read when it is sent (so a changed secret applies at once).
async fn signing_secret(store: &Arc<dyn Store>, n: &Notification) -> StoreResult<Option<String>> {
    match (n.kind, n.contact_method_id) {
        (ContactKind::Webhook, Some(id)) => match store.contact_method(id).await {
            Ok(m) => Ok(m.secret),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        },
        _ => Ok(None),
    }
}

/// One line a person reads first.
fn headline(p: &Value) -> String {
    if p["test"].as_bool() == Some(true) {
        return "Klaxon test notification: this contact method works.".to_owned();
    }
    format!(
        "[{}] Incident #{}: {} ({})",
        p["incident"]["urgency"]
            .as_str()
            .unwrap_or("high")
            .to_uppercase(),
        p["incident"]["number"],
        p["incident"]["title"].as_str().unwrap_or(""),
        p["service"]["name"].as_str().unwrap_or("no service"),
    )
}

/// The body each chat tool's incoming webhook takes.
fn chat_body(kind: ContactKind, p: &Value) -> Value {
    let title = headline(p);
    let link = p["incident"]["url"].as_str();
    let text = match link {
        Some(url) => format!("{title}\n{url}"),
        None => title.clone(),
    };
    match kind {
        ContactKind::Teams => json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": title,
            "themeColor": "D7263D",
            "title": title,
            "text": link.unwrap_or(""),
        }),
        _ => json!({"text": text}),
    }
}

/// Calls the provider once, and says what its answer means.
pub async fn deliver(
    n: &Notification,
    secret: Option<&str>,
    http: &reqwest::Client,
    timeout: Duration,
    now: Timestamp,
) -> Delivery {
    let (body, signed) = match n.kind {
        ContactKind::Webhook => (
            json!({"type": if n.payload["test"].as_bool() == Some(true) { "test" } else { "incident.page" },
                   "notification_id": n.id, "summary": headline(&n.payload), "data": n.payload}),
            true,
        ),
        ContactKind::Slack | ContactKind::Teams | ContactKind::Mattermost => {
            (chat_body(n.kind, &n.payload), false)
        }
        ContactKind::Email | ContactKind::Sms | ContactKind::Voice => {
            return Delivery::Failed(format!("no {} provider is set up on this server", n.kind));
        }
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut req = http
        .post(&n.address)
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("idempotency-key", n.id.to_string());
    if signed {
        let Some(secret) = secret else {
            return Delivery::Failed("the webhook's contact method was deleted".into());
        };
        let ts = now.as_second();
        req = req
            .header("x-klaxon-timestamp", ts.to_string())
            .header("x-klaxon-signature", sign_v1(secret, ts, &bytes));
    }
    match req.body(bytes).send().await {
        Ok(r) if r.status().is_success() => Delivery::Sent,
        Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
            Delivery::Retry(format!("the receiver answered {}", r.status()))
        }
        Ok(r) => Delivery::Failed(format!("the receiver refused it: {}", r.status())),
        // Nothing reached the receiver: safe to try again.
        Err(e) if e.is_connect() => Delivery::Retry(format!("could not connect: {e}")),
        Err(e) if e.is_timeout() => Delivery::Failed(format!(
            "no answer within {} ms; it may or may not have arrived, so it is not resent",
            timeout.as_millis()
        )),
        Err(e) => Delivery::Failed(format!("outcome unknown: {e}")),
    }
}
