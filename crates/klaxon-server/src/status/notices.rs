//! Sending subscribers their notices: e-mails (with one-click unsubscribe) and Statuspage-shaped
//! webhooks. The notices were queued in the transaction of each change; the engine drains them
//! in its webhook loop, so a slow mail server or receiver never holds a page back. Each
//! subscriber's notices go one at a time, in order: a later one waits while an earlier one is
//! being retried.
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::contact::Delivery;
use klaxon_domain::ids::StatusPageId;
use klaxon_domain::status::PublicStatus;
use klaxon_domain::webhook::{Answer, judge, retry_at};
use klaxon_store::{
    ClaimedNotice, DeliveryOutcome, NoticeKind, StatusIncidentWithUpdates, StoreResult, Subscriber,
    SubscriberKind,
};
use serde_json::{Value, json};

use super::snapshot::PageData;
use super::subscribers::{LINK_KEY, Links, links, page_base, unconfirmed_before};
use super::v2;
use crate::shared::egress::{describe, refusal};
use crate::shared::engine::{JobContext, Outbox, WebhookReport};

/// Notices leased per round.
const BATCH: u32 = 50;
/// Sent side by side (each to a different subscriber).
const IN_FLIGHT: usize = 8;
/// How often unconfirmed sign-ups are looked for and forgotten.
const PRUNE_EVERY: SignedDuration = SignedDuration::from_mins(10);

/// The outbox of subscribers' notices.
#[derive(Default)]
pub struct NoticeSender {
    last_prune: AtomicI64,
}

#[async_trait::async_trait]
impl Outbox for NoticeSender {
    type Report = WebhookReport;

    async fn drain(&self, ctx: &JobContext) -> StoreResult<WebhookReport> {
        let now = ctx.clock.now();
        let last = self.last_prune.load(Ordering::Relaxed);
        if now.as_millisecond() - last >= PRUNE_EVERY.as_millis() as i64 {
            self.last_prune
                .store(now.as_millisecond(), Ordering::Relaxed);
            ctx.store.prune_subscribers(unconfirmed_before(now)).await?;
        }
        let timeout = Duration::from_millis(ctx.settings.engine.send_timeout_ms);
        // A lease long enough for a whole batch, so no other instance sends them meanwhile.
        let lease = SignedDuration::from_millis(
            i64::try_from(ctx.settings.engine.send_timeout_ms)
                .unwrap_or(10_000)
                .saturating_mul(i64::from(BATCH) + 2),
        );
        let mut report = WebhookReport::default();
        loop {
            let now = ctx.clock.now();
            let until = now.checked_add(lease).unwrap_or(now);
            let claimed = ctx.store.claim_notices(now, until, BATCH).await?;
            if claimed.is_empty() {
                return Ok(report);
            }
            let key = ctx.store.server_key(LINK_KEY).await?;
            let mut pages: HashMap<StatusPageId, Option<PageData>> = HashMap::new();
            for c in &claimed {
                if let std::collections::hash_map::Entry::Vacant(v) =
                    pages.entry(c.subscriber.page_id)
                {
                    v.insert(page_data(ctx, c.subscriber.page_id).await?);
                }
            }
            use futures_util::StreamExt as _;
            let (list, pages, key) = (&claimed, &pages, &key);
            let results: Vec<(usize, DeliveryOutcome)> =
                futures_util::stream::iter(0..claimed.len())
                    .map(move |i| async move {
                        let c = &list[i];
                        let d = pages.get(&c.subscriber.page_id).and_then(Option::as_ref);
                        (i, send(ctx, key, d, c, timeout).await)
                    })
                    .buffer_unordered(IN_FLIGHT)
                    .collect()
                    .await;
            for (i, outcome) in results {
                match &outcome {
                    DeliveryOutcome::Sent { .. } => report.sent += 1,
                    DeliveryOutcome::Retry { .. } => report.retried += 1,
                    DeliveryOutcome::Failed { error, .. } => {
                        tracing::warn!(subscriber = %claimed[i].subscriber.id, %error, "status notice failed for good");
                        report.failed += 1;
                    }
                }
                ctx.store
                    .finish_notice(&claimed[i].notice, outcome, ctx.clock.now())
                    .await?;
            }
        }
    }
}

/// What a page's notices are drawn from: the page, its components and its recent incidents
/// (enough for the overall status). `None` when the page is gone.
async fn page_data(ctx: &JobContext, id: StatusPageId) -> StoreResult<Option<PageData>> {
    let page = match ctx.store.status_page(id).await {
        Ok(p) => p,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let components = ctx.store.list_components(id).await?;
    let incidents = ctx.store.list_status_incidents(id, 100).await?;
    let url = page_base(&ctx.settings, &page).unwrap_or_else(|| format!("/status/{}", page.slug));
    Ok(Some(PageData {
        updated_at: page.updated_at,
        page,
        url,
        components,
        intervals: Vec::new(),
        incidents,
    }))
}

async fn send(
    ctx: &JobContext,
    key: &[u8; 32],
    d: Option<&PageData>,
    c: &ClaimedNotice,
    timeout: Duration,
) -> DeliveryOutcome {
    let now = ctx.clock.now();
    let failed = |error: String| DeliveryOutcome::Failed {
        error,
        status: None,
    };
    let Some(d) = d else {
        return failed("the status page was deleted".into());
    };
    let Some(base) = page_base(&ctx.settings, &d.page) else {
        return failed("no link back to the page can be made: set server.public_url".into());
    };
    let l = links(&base, key, &c.subscriber);
    let incident = match c.notice.status_incident_id {
        Some(id) => match ctx.store.status_incident(id).await {
            Ok(w) => Some(w),
            Err(e) if e.is_not_found() => return failed("the public incident was deleted".into()),
            Err(e) => return retry(c, format!("could not read the incident: {e}"), None, now),
        },
        None => None,
    };
    match c.subscriber.kind {
        SubscriberKind::Email => {
            let Some((subject, text)) = email(d, c, incident.as_ref(), &base, &l) else {
                return failed("nothing to say: the update is gone".into());
            };
            let outcome = mail(ctx, &c.subscriber, &l, &subject, text, c, timeout).await;
            match outcome {
                Delivery::Sent => DeliveryOutcome::Sent { status: 250 },
                Delivery::Retry(e) => retry(c, e, None, now),
                Delivery::Failed(e) => failed(e),
            }
        }
        SubscriberKind::Webhook => {
            let Some(body) = webhook_body(d, c, incident.as_ref(), &l, ctx.clock.now()) else {
                return failed("nothing to say: the update is gone".into());
            };
            post(ctx, &c.subscriber.address, &body, c, timeout).await
        }
    }
}

fn retry(c: &ClaimedNotice, error: String, status: Option<u16>, now: Timestamp) -> DeliveryOutcome {
    match retry_at(c.notice.attempts, now) {
        Some(at) => DeliveryOutcome::Retry { at, error, status },
        None => DeliveryOutcome::Failed {
            error: format!("{error}; gave up after {} attempts", c.notice.attempts),
            status,
        },
    }
}

/// The update a notice tells of, and the incident as it stood then.
fn update_of<'a>(
    c: &ClaimedNotice,
    w: &'a StatusIncidentWithUpdates,
) -> Option<&'a klaxon_store::StatusUpdate> {
    let id = c.notice.status_update_id?;
    w.updates.iter().find(|u| u.id == id)
}

fn when(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned(tz.clone())
        .strftime("%-d %b %Y, %H:%M %Z")
        .to_string()
}

/// Subject and plain text of an e-mail notice.
fn email(
    d: &PageData,
    c: &ClaimedNotice,
    w: Option<&StatusIncidentWithUpdates>,
    base: &str,
    l: &Links,
) -> Option<(String, String)> {
    let page = &d.page.name;
    let tz = TimeZone::get(&d.page.time_zone).unwrap_or(TimeZone::UTC);
    let zone = format!("Times are in {}.", d.page.time_zone);
    let scope = if c.subscriber.all_components {
        "every component".to_owned()
    } else {
        let names: Vec<&str> = c
            .subscriber
            .component_ids
            .iter()
            .filter_map(|id| d.components.iter().find(|x| x.id == *id))
            .map(|x| x.name.as_str())
            .collect();
        names.join(", ")
    };
    let footer = format!(
        "\n-- \nYou get this because you subscribed to {page} ({scope}).\n\
         Choose components or unsubscribe: {}\nUnsubscribe now: {}\n",
        l.manage, l.unsubscribe
    );
    let affected = |w: &StatusIncidentWithUpdates| {
        let names: Vec<&str> = w
            .incident
            .component_ids
            .iter()
            .filter_map(|id| d.components.iter().find(|x| x.id == *id))
            .map(|x| x.name.as_str())
            .collect();
        if names.is_empty() {
            String::new()
        } else {
            format!("Affected: {}\n", names.join(", "))
        }
    };
    let window = |w: &StatusIncidentWithUpdates| match (
        w.incident.scheduled_for,
        w.incident.scheduled_until,
    ) {
        (Some(a), Some(b)) => format!("Scheduled: {} to {}\n", when(a, &tz), when(b, &tz)),
        _ => String::new(),
    };
    match c.notice.kind {
        NoticeKind::Confirm => Some((
            format!("Confirm your subscription to {page}"),
            format!(
                "Someone (we hope you) asked to be told by e-mail about incidents and \
                 maintenance on {page}.\n\nTo confirm, open this link and press Confirm:\n{}\n\n\
                 If you did not ask, ignore this e-mail: nothing more will be sent, and the \
                 request is forgotten in {} days.\n",
                l.confirm,
                super::subscribers::UNCONFIRMED_DAYS
            ),
        )),
        NoticeKind::Manage => Some((
            format!("Your subscription to {page}"),
            format!(
                "This address is subscribed to {page} ({scope}). Someone asked to subscribe \
                 it again, so here is your link to choose components or unsubscribe:\n{}\n",
                l.manage
            ),
        )),
        NoticeKind::Incident if c.notice.status_update_id.is_none() => {
            let w = w?;
            let p = w.incident.postmortem.as_ref()?;
            Some((
                format!("[{page}] {}: postmortem", w.incident.name),
                format!(
                    "Incident: {}\nPostmortem, {}\n\n{}\n\nRead more: {}/incidents/{}\n{zone}\n{footer}",
                    w.incident.name,
                    when(p.published_at, &tz),
                    p.body,
                    base,
                    w.incident.code
                ),
            ))
        }
        NoticeKind::Incident => {
            let w = w?;
            let u = update_of(c, w)?;
            let label = u.status.label();
            let kind = if w.incident.maintenance {
                "Maintenance"
            } else {
                "Incident"
            };
            let next = u
                .next_update_at
                .map(|t| format!("Next update by {}.\n", when(t, &tz)))
                .unwrap_or_default();
            Some((
                format!("[{page}] {}: {label}", w.incident.name),
                format!(
                    "{kind}: {}\n{label}, {}\n\n{}\n\n{}{}{next}\nRead more: {}/incidents/{}\n{zone}\n{footer}",
                    w.incident.name,
                    when(u.created_at, &tz),
                    u.body,
                    affected(w),
                    window(w),
                    base,
                    w.incident.code
                ),
            ))
        }
        NoticeKind::Reminder => {
            let w = w?;
            if w.incident.status
                != PublicStatus::Maintenance(klaxon_domain::status::MaintenanceStatus::Scheduled)
            {
                return None;
            }
            let starts = w.incident.scheduled_for.map(|t| when(t, &tz))?;
            Some((
                format!("[{page}] Maintenance starts {starts}: {}", w.incident.name),
                format!(
                    "Scheduled maintenance: {}\nStarts {starts}.\n\n{}{}\nRead more: {}/incidents/{}\n{zone}\n{footer}",
                    w.incident.name,
                    affected(w),
                    window(w),
                    base,
                    w.incident.code
                ),
            ))
        }
        // Component changes go to webhooks only (e-mail subscribers hear of incidents).
        NoticeKind::Component => None,
    }
}

async fn mail(
    ctx: &JobContext,
    s: &Subscriber,
    l: &Links,
    subject: &str,
    text: String,
    c: &ClaimedNotice,
    timeout: Duration,
) -> Delivery {
    use lettre::message::header::{ContentType, HeaderName};
    use lettre::message::{Mailbox, header};
    let smtp = &ctx.settings.smtp;
    let (Some(host), Some(from)) = (
        smtp.host.as_deref().filter(|_| smtp.is_configured()),
        smtp.from.as_deref(),
    ) else {
        return Delivery::Retry("no e-mail provider is set up on this server ([smtp])".into());
    };
    let Ok(from) = from.parse::<Mailbox>() else {
        return Delivery::Failed("smtp.from is not an e-mail address".into());
    };
    let Ok(to) = s.address.parse::<Mailbox>() else {
        return Delivery::Failed(format!("{:?} is not an e-mail address", s.address));
    };
    let domain = from.email.domain().to_owned();
    let raw = |name: &'static str, value: String| {
        header::HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
    };
    let mut b = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .date(std::time::SystemTime::from(ctx.clock.now()))
        // The same notice has the same id, so a relay that sees it twice can tell.
        .message_id(Some(format!(
            "<{}.{}.{}@{domain}>",
            s.id,
            c.notice.event_seq,
            if c.notice.part.is_empty() {
                "0"
            } else {
                &c.notice.part
            }
        )))
        .header(ContentType::TEXT_PLAIN);
    if !matches!(c.notice.kind, NoticeKind::Confirm) {
        // RFC 8058: mail clients show an unsubscribe button that POSTs to this link.
        b = b
            .raw_header(raw("List-Unsubscribe", format!("<{}>", l.unsubscribe)))
            .raw_header(raw(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".into(),
            ));
    }
    let message = match b.body(text) {
        Ok(m) => m,
        Err(e) => return Delivery::Failed(format!("cannot build the e-mail: {e}")),
    };
    crate::shared::mail::send(smtp, host, &message, timeout).await
}

/// The Statuspage-shaped body: `meta`, `page`, and `incident` or `component` with
/// `component_update`.
fn webhook_body(
    d: &PageData,
    c: &ClaimedNotice,
    w: Option<&StatusIncidentWithUpdates>,
    l: &Links,
    now: Timestamp,
) -> Option<Value> {
    let meta = json!({
        "unsubscribe": l.unsubscribe,
        // Statuspage links its documentation here; Klaxon's is in its docs/status-pages.md.
        "documentation": Value::Null,
        // As Statuspage writes it: UTC with milliseconds and a Z.
        "generated_at": now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    });
    let mut body = json!({"meta": meta, "page": v2::webhook_page(d)});
    match c.notice.kind {
        NoticeKind::Incident => {
            let w = w?;
            // Without an update, the postmortem is the news: the incident as it now stands.
            let u = match c.notice.status_update_id {
                Some(_) => Some(update_of(c, w)?),
                None => None,
            };
            body["incident"] = v2::webhook_incident(d, w, u, c.notice.created_at);
        }
        NoticeKind::Component => {
            let comp = d
                .components
                .iter()
                .find(|x| Some(x.id) == c.notice.component_id)?;
            let (old, new) = (c.notice.old_status?, c.notice.new_status?);
            let code = klaxon_domain::status::code(seq_bytes(c.notice.event_seq, &comp.code));
            let (component, update) =
                v2::webhook_component(d, comp, old, new, c.notice.created_at, &code);
            body["component"] = component;
            body["component_update"] = update;
        }
        _ => return None,
    }
    Some(body)
}

/// Stable bytes for a component update's id: the same notice gets the same id when retried.
fn seq_bytes(seq: i64, code: &str) -> [u8; 12] {
    let digest = crate::shared::crypto::sha256(format!("{seq}:{code}").as_bytes());
    let mut out = [0u8; 12];
    out.copy_from_slice(&digest[..12]);
    out
}

async fn post(
    ctx: &JobContext,
    url: &str,
    body: &Value,
    c: &ClaimedNotice,
    timeout: Duration,
) -> DeliveryOutcome {
    let req = match ctx.outgoing.post(url) {
        Ok(r) => r,
        Err(refused) => {
            return DeliveryOutcome::Failed {
                error: format!("not sent: {refused}"),
                status: None,
            };
        }
    };
    let sent = req
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("user-agent", "Klaxon-Status/1")
        .body(serde_json::to_vec(body).unwrap_or_default())
        .send()
        .await;
    let (status, error) = match sent {
        Ok(r) => (
            Some(r.status().as_u16()),
            format!("the receiver answered {}", r.status()),
        ),
        Err(e) if e.is_timeout() => (None, format!("no answer within {} ms", timeout.as_millis())),
        Err(e) if refusal(&e).is_some() => {
            return DeliveryOutcome::Failed {
                error: format!("not sent: {}", describe(e)),
                status: None,
            };
        }
        Err(e) => (None, format!("could not deliver: {}", describe(e))),
    };
    match judge(status) {
        Answer::Accepted => DeliveryOutcome::Sent {
            status: status.unwrap_or(200),
        },
        Answer::Refused => DeliveryOutcome::Failed { error, status },
        Answer::Retry => retry(c, error, status, ctx.clock.now()),
    }
}
