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
use klaxon_domain::throttle::{self, Decision, Due};
use klaxon_store::{
    EscalationStep, Incident, Job, NewNotification, Notification, SendResult, Service, Store,
    StoreResult, escalation_job, notification_event,
};
use serde_json::{Value, json};

use crate::shared::crypto::{random_bytes, sign_v1};
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
        let write = EscalationStep {
            incident_id,
            step,
            at: now,
            notifications,
            events: vec![event(
                EventKind::IncidentEscalated,
                json!({"policy_id": policy.id, "step": step, "level": level + 1,
                       "pass": pass + 1, "users": notified, "unreachable": unreachable,
                       "schedules": reached.schedules_json(),
                       "empty_schedules": reached.empty_schedules,
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
    let payload = page_payload(incident, service, settings, level);
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

/// What a page says, whatever the channel: the channel renders it.
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
        },
        "service": service.map(|s| json!({"id": s.id, "name": s.name})),
        "level": level.map(|l| l + 1),
    })
}

/// Sends every notification due now: claims a batch, sends them side by side, records each
/// outcome, and goes on until nothing is due.
pub async fn send_due(
    store: &Arc<dyn Store>,
    clock: &Arc<dyn klaxon_domain::Clock>,
    http: &reqwest::Client,
    settings: &crate::shared::config::Settings,
) -> StoreResult<SendReport> {
    let mut report = SendReport::default();
    let mut ack_key = None;
    loop {
        let now = clock.now();
        let timeout = Duration::from_millis(settings.engine.send_timeout_ms);
        let until = now.saturating_add(send_claim(timeout)).unwrap_or(now);
        let claimed = store.claim_notifications(now, until, SEND_BATCH).await?;
        report.cancelled += claimed.cancelled;
        report.abandoned += claimed.abandoned;
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
            http,
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
                // Tests and stakeholder updates go alone: never bundled with pages.
                test: n.payload["test"].as_bool() == Some(true) || is_update(&n.payload),
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
                dyn std::future::Future<Output = (Vec<&'a Notification>, usize, Delivery)>
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
                            deliver(&now_to, secret.as_deref(), channels, clock.now()).await
                        }
                        Ok(Err(gone)) => gone,
                        Err(e) => {
                            Delivery::Retry(format!("could not read the contact method: {e}"))
                        }
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
fn bundle_title(p: &Value) -> Option<String> {
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

/// A stakeholder update (not a page): it tells, it asks nothing.
pub fn is_update(p: &Value) -> bool {
    p["update"].is_object()
}

fn update_title(p: &Value) -> String {
    format!(
        "Update on incident #{}: {}",
        p["incident"]["number"],
        p["incident"]["title"].as_str().unwrap_or("")
    )
}

/// One line a person reads first.
fn headline(p: &Value) -> String {
    if let Some(t) = bundle_title(p) {
        return t;
    }
    if is_update(p) {
        return format!(
            "{}\n{}",
            update_title(p),
            p["update"]["message"].as_str().unwrap_or("")
        );
    }
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

/// What the sender needs besides the notification: the providers' settings and clients.
pub struct Channels<'a> {
    pub http: &'a reqwest::Client,
    pub settings: &'a crate::shared::config::Settings,
    /// How long a provider gets to answer.
    pub timeout: Duration,
    /// The key acknowledge links are signed with; `None` leaves the links out.
    pub ack_key: Option<[u8; 32]>,
}

/// Calls the provider once, and says what its answer means.
pub async fn deliver(
    n: &Notification,
    secret: Option<&str>,
    channels: &Channels<'_>,
    now: Timestamp,
) -> Delivery {
    let (http, timeout) = (channels.http, channels.timeout);
    let (body, signed) = match n.kind {
        ContactKind::Webhook => (
            json!({"type": if n.payload["test"].as_bool() == Some(true) { "test" }
                           else if is_update(&n.payload) { "incident.update" }
                           else if n.payload["bundle"].as_bool() == Some(true) { "incident.page.bundle" }
                           else { "incident.page" },
                   "notification_id": n.id, "summary": headline(&n.payload), "data": n.payload}),
            true,
        ),
        ContactKind::Slack | ContactKind::Teams | ContactKind::Mattermost => {
            (chat_body(n.kind, &n.payload), false)
        }
        ContactKind::Email => return send_email(n, channels, now).await,
        ContactKind::Sms => return send_sms(n, channels, now).await,
        ContactKind::Voice => return send_call(n, channels).await,
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
    http_outcome(req.body(bytes).send().await, timeout, "the receiver", false).await
}

/// What an HTTP provider's answer means: 2xx sent; 429 and 5xx retried; other answers refused
/// for good; a timeout after the request went out is unknown, so never resent. With
/// `with_body`, a refusal quotes the start of the answer (a provider's reason).
async fn http_outcome(
    sent: reqwest::Result<reqwest::Response>,
    timeout: Duration,
    who: &str,
    with_body: bool,
) -> Delivery {
    let reason = |r: reqwest::Response| async move {
        let status = r.status();
        if !with_body {
            return status.to_string();
        }
        let body = r.text().await.unwrap_or_default();
        let body: String = body.trim().chars().take(300).collect();
        if body.is_empty() {
            status.to_string()
        } else {
            format!("{status}: {body}")
        }
    };
    match sent {
        Ok(r) if r.status().is_success() => Delivery::Sent,
        Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
            Delivery::Retry(format!("{who} answered {}", reason(r).await))
        }
        Ok(r) => Delivery::Failed(format!("{who} refused it: {}", reason(r).await)),
        // Nothing reached the receiver: safe to try again.
        Err(e) if e.is_connect() => Delivery::Retry(format!("could not connect: {e}")),
        Err(e) if e.is_timeout() => Delivery::Failed(format!(
            "no answer within {} ms; it may or may not have arrived, so it is not resent",
            timeout.as_millis()
        )),
        Err(e) => Delivery::Failed(format!("outcome unknown: {e}")),
    }
}

// --- e-mail, SMS and voice ----------------------------------------------------------------------

/// The subject of a page e-mail: `[HIGH] Incident #12: Checkout is down`.
fn subject(p: &Value) -> String {
    if let Some(t) = bundle_title(p) {
        return cut(&t, 150);
    }
    if is_update(p) {
        return cut(&update_title(p), 150);
    }
    if p["test"].as_bool() == Some(true) {
        return "Klaxon test notification".to_owned();
    }
    format!(
        "[{}] Incident #{}: {}",
        p["incident"]["urgency"]
            .as_str()
            .unwrap_or("high")
            .to_uppercase(),
        p["incident"]["number"],
        p["incident"]["title"].as_str().unwrap_or(""),
    )
}

/// The signed one-click acknowledge link for a page, when the server knows its public URL and
/// the key could be read. Test notifications have nothing to acknowledge.
fn ack_link(n: &Notification, channels: &Channels<'_>, now: Timestamp) -> Option<String> {
    let public_url = channels.settings.server.public_url.as_deref()?;
    let key = channels.ack_key.as_ref()?;
    n.incident_id?;
    let expires = now
        .saturating_add(crate::oncall::ack::ACK_LINK_TTL)
        .unwrap_or(now);
    let token = crate::oncall::ack::ack_token(key, n.id, expires);
    Some(crate::oncall::ack::ack_url(Some(public_url), &token))
}

/// The plain-text body of a page e-mail.
fn email_text(n: &Notification, link: Option<&str>, now: Timestamp) -> String {
    let p = &n.payload;
    if p["test"].as_bool() == Some(true) {
        return "This is a test from Klaxon: this contact method works.\n\n-- \nKlaxon\n".into();
    }
    if is_update(p) {
        let i = &p["incident"];
        let mut t = format!(
            "{}\n\n{}\n\n",
            update_title(p),
            p["update"]["message"].as_str().unwrap_or("")
        );
        t += &format!("Status:    {}\n", i["status"].as_str().unwrap_or(""));
        if let Some(sev) = i["severity"].as_str() {
            t += &format!("Severity:  {sev}\n");
        }
        if let Some(by) = p["update"]["posted_by"].as_str() {
            t += &format!("From:      {by}\n");
        }
        if let Some(url) = i["url"].as_str() {
            t += &format!("\nFollow the incident:\n{url}\n");
        }
        t += "\nYou get these updates because you follow this incident.\n\n-- \nKlaxon\n";
        return t;
    }
    if let Some(title) = bundle_title(p) {
        // Many pages at once: one mail listing them, each with its link.
        let mut t = format!("{title}\n\n");
        for i in p["items"].as_array().into_iter().flatten() {
            let inc = &i["incident"];
            t += &format!(
                "#{} {} ({}, {})\n",
                inc["number"],
                inc["title"].as_str().unwrap_or(""),
                i["service"]["name"].as_str().unwrap_or("no service"),
                inc["urgency"].as_str().unwrap_or("high")
            );
            if let Some(url) = inc["url"].as_str() {
                t += &format!("  {url}\n");
            }
        }
        t += "\nAcknowledge them in Klaxon.\n\n-- \nKlaxon\n";
        return t;
    }
    let i = &p["incident"];
    let mut t = format!("{}\n\n", subject(p));
    t += &format!(
        "Service:   {}\n",
        p["service"]["name"].as_str().unwrap_or("none")
    );
    t += &format!("Urgency:   {}\n", i["urgency"].as_str().unwrap_or("high"));
    if let Some(opened) = i["created_at"].as_str() {
        t += &format!("Opened:    {opened}\n");
    }
    if let Some(level) = p["level"].as_u64() {
        t += &format!("Level:     {level} of the escalation policy\n");
    }
    if let Some(link) = link {
        let until = now
            .saturating_add(crate::oncall::ack::ACK_LINK_TTL)
            .unwrap_or(now)
            .strftime("%Y-%m-%d %H:%M UTC");
        t += &format!(
            "\nAcknowledge (stops the escalation):\n{link}\n\
             The link opens a page with a button: nothing changes until you\n\
             press it. It works until {until}.\n"
        );
    }
    match i["url"].as_str() {
        Some(url) => t += &format!("\nOpen the incident:\n{url}\n"),
        None => {
            t += "\nThis Klaxon server has no public URL (server.public_url), so this\n\
                  message has no links: acknowledge the incident in Klaxon.\n"
        }
    }
    t += "\n-- \nKlaxon\n";
    t
}

/// Builds the e-mail; an address that does not parse fails for good.
fn email_message(
    n: &Notification,
    from: &str,
    link: Option<&str>,
    now: Timestamp,
) -> Result<lettre::Message, String> {
    use lettre::message::{Mailbox, header::ContentType};
    let from: Mailbox = from
        .parse()
        .map_err(|e| format!("smtp.from is not an e-mail address: {e}"))?;
    let to: Mailbox = n
        .address
        .parse()
        .map_err(|e| format!("{:?} is not an e-mail address: {e}", n.address))?;
    // Message-ID from the notification: a relay that sees it twice can tell.
    let domain = from.email.domain().to_owned();
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(subject(&n.payload))
        .date(std::time::SystemTime::from(now))
        .message_id(Some(format!("<{}@{domain}>", n.id)))
        .header(ContentType::TEXT_PLAIN)
        .body(email_text(n, link, now))
        .map_err(|e| format!("cannot build the e-mail: {e}"))
}

/// Connects to the mail server as `[smtp]` says: TLS from the start, STARTTLS (required, never
/// skipped when the server does not offer it), or plain; then logs in if a user is set.
async fn smtp_connect(
    host: &str,
    smtp: &crate::shared::config::SmtpSettings,
    timeout: Duration,
) -> Result<lettre::transport::smtp::client::AsyncSmtpConnection, lettre::transport::smtp::Error> {
    use crate::shared::config::SmtpTls;
    use lettre::transport::smtp::authentication::{Credentials, Mechanism};
    use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
    use lettre::transport::smtp::extension::ClientId;
    let hello = ClientId::default();
    let implicit = match smtp.tls {
        SmtpTls::Tls => Some(TlsParameters::new(host.to_owned())?),
        _ => None,
    };
    let mut conn = AsyncSmtpConnection::connect_tokio1(
        (host, smtp.port()),
        Some(timeout),
        &hello,
        implicit,
        None,
    )
    .await?;
    if smtp.tls == SmtpTls::Starttls {
        conn.starttls(TlsParameters::new(host.to_owned())?, &hello)
            .await?;
    }
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        conn.auth(
            &[Mechanism::Plain, Mechanism::Login],
            &Credentials::new(user.clone(), password.clone()),
        )
        .await?;
    }
    Ok(conn)
}

/// Until the message itself is written, nothing can have been delivered: a failure may be
/// retried, unless the server refused for good (5xx) or the setup is wrong.
fn smtp_before_data(e: &lettre::transport::smtp::Error) -> Delivery {
    if e.is_permanent() || e.is_client() {
        Delivery::Failed(format!("the mail server refused it: {e}"))
    } else {
        Delivery::Retry(format!("the mail server did not take it: {e}"))
    }
}

/// Sends a page e-mail over SMTP, in two stages: up to `DATA` (connect, TLS, login, sender,
/// recipient) a failure or timeout is retried, since nothing was handed over; once the message
/// is written, only the server's answer says whether it took it: 2xx sent, 4xx retried, 5xx
/// failed, no answer in time failed (it may have arrived, so it is not resent).
async fn send_email(n: &Notification, channels: &Channels<'_>, now: Timestamp) -> Delivery {
    use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
    use lettre::transport::smtp::extension::{Extension, MailParameter};
    use tokio::time::timeout;
    let smtp = &channels.settings.smtp;
    let (Some(host), Some(from)) = (
        smtp.host.as_deref().filter(|_| smtp.is_configured()),
        smtp.from.as_deref(),
    ) else {
        return Delivery::Failed("no e-mail provider is set up on this server ([smtp])".into());
    };
    // An update asks for nothing: no acknowledge link.
    let link = (!is_update(&n.payload))
        .then(|| ack_link(n, channels, now))
        .flatten();
    let message = match email_message(n, from, link.as_deref(), now) {
        Ok(m) => m,
        Err(e) => return Delivery::Failed(e),
    };
    let envelope = message.envelope().clone();
    let wait = channels.timeout;
    let ms = wait.as_millis();
    let mut conn = match timeout(wait, smtp_connect(host, smtp, wait)).await {
        Err(_) => {
            return Delivery::Retry(format!(
                "the mail server did not answer within {ms} ms (nothing was sent)"
            ));
        }
        Ok(Err(e)) => return smtp_before_data(&e),
        Ok(Ok(c)) => c,
    };
    let utf8 = envelope
        .to()
        .iter()
        .any(|a: &lettre::Address| !AsRef::<str>::as_ref(a).is_ascii())
        && conn.server_info().supports_feature(Extension::SmtpUtfEight);
    let params = if utf8 {
        vec![MailParameter::SmtpUtfEight]
    } else {
        vec![]
    };
    let handover = async {
        conn.command(Mail::new(envelope.from().cloned(), params))
            .await?;
        for to in envelope.to() {
            conn.command(Rcpt::new(to.clone(), vec![])).await?;
        }
        conn.command(Data).await
    };
    match timeout(wait, handover).await {
        Err(_) => {
            return Delivery::Retry(format!(
                "the mail server did not answer within {ms} ms (before the message was sent)"
            ));
        }
        Ok(Err(e)) => return smtp_before_data(&e),
        Ok(Ok(_)) => {}
    }
    let outcome = match timeout(wait, conn.message(&message.formatted())).await {
        Err(_) => Delivery::Failed(format!(
            "the mail server did not confirm within {ms} ms; it may or may not have taken the \
             message, so it is not resent"
        )),
        Ok(Ok(_)) => Delivery::Sent,
        Ok(Err(e)) if e.is_transient() => {
            Delivery::Retry(format!("the mail server deferred it: {e}"))
        }
        Ok(Err(e)) if e.is_permanent() => {
            Delivery::Failed(format!("the mail server refused it: {e}"))
        }
        Ok(Err(e)) => Delivery::Failed(format!("outcome unknown: {e}")),
    };
    if outcome == Delivery::Sent {
        // Polite, not needed: the message is the server's already.
        let _ = timeout(Duration::from_secs(1), conn.quit()).await;
    }
    outcome
}

/// The Twilio-style account, when `[sms]` is set up.
fn twilio(settings: &crate::shared::config::Settings) -> Option<(&str, &str, &str, &str)> {
    let sms = &settings.sms;
    if !sms.is_configured() {
        return None;
    }
    Some((
        sms.base_url.trim_end_matches('/'),
        sms.account_sid.as_deref()?,
        sms.auth_token.as_deref()?,
        sms.from.as_deref()?,
    ))
}

/// Creates a message or a call through the Twilio-compatible API (form-encoded, HTTP basic
/// auth with the account SID and auth token), and says what the answer means.
async fn twilio_post(channels: &Channels<'_>, resource: &str, form: &[(&str, &str)]) -> Delivery {
    let Some((base, sid, token, _)) = twilio(channels.settings) else {
        return Delivery::Failed(
            "no SMS or voice provider is set up on this server ([sms])".into(),
        );
    };
    let sent = channels
        .http
        .post(format!("{base}/2010-04-01/Accounts/{sid}/{resource}"))
        .timeout(channels.timeout)
        .basic_auth(sid, Some(token))
        .form(form)
        .send()
        .await;
    http_outcome(sent, channels.timeout, "the SMS provider", true).await
}

/// The longest prefix of `s` with at most `max` characters, marked with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// One SMS (160 characters) when it can be: `[HIGH] #12 Checkout is down (checkout) Ack: URL`,
/// cutting the title rather than the link.
fn sms_text(p: &Value, link: Option<&str>) -> String {
    const SMS: usize = 160;
    if let Some(t) = bundle_title(p) {
        return cut(&t, SMS);
    }
    if p["test"].as_bool() == Some(true) {
        return "Klaxon test: this contact method works.".into();
    }
    let head = format!(
        "[{}] #{} ",
        p["incident"]["urgency"]
            .as_str()
            .unwrap_or("high")
            .to_uppercase(),
        p["incident"]["number"]
    );
    let tail = link.map(|l| format!(" Ack: {l}")).unwrap_or_default();
    let title = p["incident"]["title"].as_str().unwrap_or("");
    let service = p["service"]["name"]
        .as_str()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let room = SMS.saturating_sub(head.chars().count() + tail.chars().count());
    let middle = if title.chars().count() + service.chars().count() <= room {
        format!("{title}{service}")
    } else {
        cut(title, room.max(20))
    };
    format!("{head}{middle}{tail}")
}

async fn send_sms(n: &Notification, channels: &Channels<'_>, now: Timestamp) -> Delivery {
    let Some((_, _, _, from)) = twilio(channels.settings) else {
        return Delivery::Failed("no SMS provider is set up on this server ([sms])".into());
    };
    let link = ack_link(n, channels, now);
    let body = sms_text(&n.payload, link.as_deref());
    twilio_post(
        channels,
        "Messages.json",
        &[("To", &n.address), ("From", from), ("Body", &body)],
    )
    .await
}

/// Text for XML: `&`, `<`, `>`, `"` and `'` escaped.
fn xml_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// What the call says (TwiML): the incident read out, twice.
fn call_twiml(p: &Value) -> String {
    let said = if p["test"].as_bool() == Some(true) {
        "This is a test call from Klaxon. This contact method works. Goodbye.".to_owned()
    } else if p["bundle"].as_bool() == Some(true) {
        let first = &p["items"][0]["incident"];
        format!(
            "This is Klaxon. {} incidents need you. The first: incident {}, {}. \
             Acknowledge them in Klaxon.",
            p["count"],
            first["number"],
            cut(first["title"].as_str().unwrap_or(""), 200)
        )
    } else {
        let i = &p["incident"];
        let title = cut(i["title"].as_str().unwrap_or(""), 300);
        let service = p["service"]["name"]
            .as_str()
            .map(|s| format!(" on service {s}"))
            .unwrap_or_default();
        format!(
            "This is Klaxon. {} urgency incident {}{service}: {title}. \
             Acknowledge it in Klaxon, or with the link in your e-mail or text message.",
            i["urgency"].as_str().unwrap_or("high"),
            i["number"],
        )
    };
    format!(
        "<Response><Say loop=\"2\">{}</Say></Response>",
        xml_text(&said)
    )
}

async fn send_call(n: &Notification, channels: &Channels<'_>) -> Delivery {
    let Some((_, _, _, from)) = twilio(channels.settings) else {
        return Delivery::Failed("no voice provider is set up on this server ([sms])".into());
    };
    let twiml = call_twiml(&n.payload);
    twilio_post(
        channels,
        "Calls.json",
        &[("To", &n.address), ("From", from), ("Twiml", &twiml)],
    )
    .await
}

#[cfg(test)]
mod channel_tests {
    use super::*;

    #[test]
    fn a_stakeholder_update_reads_as_one_and_asks_for_nothing() {
        let now: Timestamp = "2026-11-21T10:00:00Z".parse().unwrap();
        let p = json!({"update": {"message": "A fix is rolling out.", "posted_by": "Ada"},
                       "incident": {"id": "x", "number": 12, "title": "Checkout errors",
                                    "status": "acknowledged", "severity": "SEV2",
                                    "url": "https://k.example.com/incidents/x"}});
        let n = Notification {
            id: NotificationId::new(now, [1; 10]),
            incident_id: None,
            user_id: klaxon_domain::ids::UserId::new(now, [2; 10]),
            contact_method_id: None,
            kind: ContactKind::Email,
            address: "bob@example.com".into(),
            dedup_key: "update:x".into(),
            payload: p.clone(),
            status: klaxon_domain::contact::NotificationStatus::Sending,
            attempts: 1,
            run_at: now,
            last_error: None,
            created_at: now,
            sent_at: None,
        };
        assert_eq!(subject(&p), "Update on incident #12: Checkout errors");
        let text = email_text(&n, None, now);
        assert!(
            text.starts_with("Update on incident #12: Checkout errors\n\nA fix is rolling out.\n"),
            "{text}"
        );
        assert!(
            text.contains("Severity:  SEV2") && text.contains("From:      Ada"),
            "{text}"
        );
        assert!(
            text.contains("https://k.example.com/incidents/x") && !text.contains("Acknowledge"),
            "{text}"
        );
        assert!(headline(&p).ends_with("A fix is rolling out."));
    }

    fn page(title: &str) -> Value {
        json!({"incident": {"id": "x", "number": 12, "title": title, "urgency": "high",
                            "status": "triggered", "url": "https://k.example.com/incidents/x"},
               "service": {"id": "s", "name": "checkout"}, "level": 1})
    }

    #[test]
    fn texts_fit_one_sms_and_keep_the_whole_link() {
        let link = format!("https://klaxon.example.com/ack/{}", "A".repeat(48));
        let short = sms_text(&page("Checkout is down"), Some(&link));
        assert_eq!(
            short,
            format!("[HIGH] #12 Checkout is down (checkout) Ack: {link}")
        );
        assert!(short.chars().count() <= 160);
        let long = sms_text(&page(&"very long title ".repeat(20)), Some(&link));
        assert_eq!(long.chars().count(), 160, "{long}");
        assert!(long.ends_with(&link) && long.contains('…'), "{long}");
        assert_eq!(
            sms_text(&json!({"test": true}), None),
            "Klaxon test: this contact method works."
        );
        assert_eq!(
            subject(&page("Checkout is down")),
            "[HIGH] Incident #12: Checkout is down"
        );
    }

    #[test]
    fn tls_parameters_build_with_the_chosen_crypto_and_roots() {
        // lettre on rustls (aws-lc-rs) with the platform verifier: no provider left unset.
        lettre::transport::smtp::client::TlsParameters::new("smtp.example.com".into()).unwrap();
    }

    #[test]
    fn calls_read_the_title_escaped() {
        let t = call_twiml(&page("p99 > 2s & <rising>"));
        assert!(
            t.starts_with("<Response><Say") && t.ends_with("</Say></Response>"),
            "{t}"
        );
        assert!(
            t.contains("incident 12 on service checkout: p99 &gt; 2s &amp; &lt;rising&gt;."),
            "{t}"
        );
    }
}

/// The pages outbox, drained by the engine each round.
pub struct PageSender;

#[async_trait]
impl Outbox for PageSender {
    type Report = SendReport;

    async fn drain(&self, ctx: &JobContext) -> StoreResult<SendReport> {
        send_due(&ctx.store, &ctx.clock, &ctx.http, &ctx.settings).await
    }
}
