//! Outgoing webhooks: other tools follow incidents. Each tick the engine turns new incident
//! events into deliveries (rows, committed first), then sends due ones, signed like paging
//! webhooks (`x-klaxon-signature: v1=HMAC-SHA256(secret, "v1:{timestamp}:{body}")`), at least
//! once: receivers tell repeats apart by `x-klaxon-delivery`.
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use klaxon_domain::auth::Role;
use klaxon_domain::event::KindFilter;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{DeliveryId, WebhookId};
use klaxon_domain::incident as rules;
use klaxon_domain::page::Limit;
use klaxon_domain::webhook::{Answer, judge, retry_at};
use klaxon_store::{
    ClaimedDelivery, DeliveryOutcome, Event, FanOut, Incident, Store, StoreError, StoreResult,
    Webhook, WebhookDelivery,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::shared::api::{
    ApiJson, ApiQuery, Caller, ListOf, PageParams, decode_cursor, page_in_memory, page_of,
};
use crate::shared::crypto::{random_bytes, random_token, sign_v1};
use crate::shared::egress::{Outgoing, describe, refusal};
use crate::shared::engine::{JobContext, Outbox, WebhookReport};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

/// Events fanned out per webhook per round, and deliveries sent per round.
const FAN_OUT_BATCH: u32 = 5_000;
const FAN_OUT_ROUNDS: usize = 20;
const SEND_BATCH: u32 = 32;
/// At most this many sends at once.
const IN_FLIGHT: usize = 16;

/// The body a receiver gets for an event.
pub fn payload(
    settings: &crate::shared::config::Settings,
    e: &Event,
    incident: Option<&Incident>,
) -> Value {
    let url = |i: &Incident| {
        settings
            .server
            .public_url
            .as_deref()
            .map(|b| format!("{}/incidents/{}", b.trim_end_matches('/'), i.id))
    };
    json!({
        "type": e.kind.as_str(),
        "occurred_at": e.at,
        "actor": e.actor.encode(),
        "sequence": e.seq,
        "incident": incident.map(|i| json!({
            "id": i.id, "number": i.number, "title": i.title, "status": i.status,
            "severity": i.severity, "priority": i.priority, "urgency": i.urgency,
            "service_id": i.service_id, "url": url(i),
        })),
        "data": e.data,
    })
}

/// Fans new events out and sends what is due: one round.
pub async fn run(
    store: &dyn Store,
    settings: &crate::shared::config::Settings,
    outgoing: &Outgoing,
    clock: &dyn klaxon_domain::Clock,
) -> StoreResult<WebhookReport> {
    let now = clock.now();
    let wants = |w: &Webhook, e: &Event| {
        KindFilter::parse("events", &w.events).is_ok_and(|f| f.matches(e.kind))
    };
    let body = |_: &Webhook, e: &Event, i: Option<&Incident>| payload(settings, e, i);
    let new_id = || DeliveryId::new(now, random_bytes());
    let how = FanOut {
        wants: &wants,
        payload: &body,
        new_id: &new_id,
    };
    let mut report = WebhookReport::default();
    // Catch up (alert storms write many events), a bounded number of batches per round.
    for _ in 0..FAN_OUT_ROUNDS {
        let r = store.fan_out_webhooks(now, FAN_OUT_BATCH, &how).await?;
        report.queued += r.queued;
        if !r.more {
            break;
        }
    }
    let timeout = Duration::from_millis(settings.engine.send_timeout_ms);
    // The lease outlives a whole batch sent one after another to one slow receiver, so no
    // other instance takes deliveries over while they are being sent; a sender that dies
    // leaves them to be sent again once it runs out.
    let lease = jiff::SignedDuration::from_millis(
        i64::try_from(settings.engine.send_timeout_ms)
            .unwrap_or(10_000)
            .saturating_mul(i64::from(SEND_BATCH) + 2),
    );
    loop {
        let now = clock.now();
        let until = now.checked_add(lease).unwrap_or(now);
        let claimed = store
            .claim_webhook_deliveries(now, until, SEND_BATCH)
            .await?;
        if claimed.is_empty() {
            return Ok(report);
        }
        // One receiver's deliveries go one after another, in event order (a retried one
        // comes later; `sequence` orders them); receivers are served side by side.
        let mut groups: Vec<Vec<ClaimedDelivery>> = Vec::new();
        for c in claimed {
            match groups
                .iter_mut()
                .find(|g| g[0].delivery.webhook_id == c.delivery.webhook_id)
            {
                Some(g) => g.push(c),
                None => groups.push(vec![c]),
            }
        }
        use futures_util::StreamExt as _;
        let results: Vec<(DeliveryId, DeliveryOutcome)> = futures_util::stream::iter(groups)
            .map(|mut group| async move {
                group.sort_by_key(|c| c.delivery.event_seq);
                let mut out = Vec::new();
                for c in group {
                    // Signed and judged at the time of sending, not of the claim.
                    out.push((
                        c.delivery.id,
                        send(outgoing, &c, timeout, clock.now()).await,
                    ));
                }
                out
            })
            .buffer_unordered(IN_FLIGHT)
            .flat_map(futures_util::stream::iter)
            .collect()
            .await;
        for (id, outcome) in results {
            match &outcome {
                DeliveryOutcome::Sent { .. } => report.sent += 1,
                DeliveryOutcome::Retry { .. } => report.retried += 1,
                DeliveryOutcome::Failed { error, .. } => {
                    tracing::warn!(delivery = %id, %error, "webhook delivery failed for good");
                    report.failed += 1;
                }
            }
            store
                .finish_webhook_delivery(id, outcome, clock.now())
                .await?;
        }
    }
}

/// A JSON body for a receiver, with the headers every delivery carries, signed at `ts` with the
/// webhook's secret (workflows' calls are made so too).
pub fn signed(
    req: reqwest::RequestBuilder,
    secret: &str,
    kind: &str,
    delivery: &str,
    ts: i64,
    bytes: Vec<u8>,
) -> reqwest::RequestBuilder {
    req.header("content-type", "application/json")
        .header("user-agent", "Klaxon-Webhooks/1")
        .header("x-klaxon-event", kind)
        .header("x-klaxon-delivery", delivery)
        .header("x-klaxon-timestamp", ts.to_string())
        .header("x-klaxon-signature", sign_v1(secret, ts, &bytes))
        .body(bytes)
}

async fn send(
    outgoing: &Outgoing,
    c: &ClaimedDelivery,
    timeout: Duration,
    now: Timestamp,
) -> DeliveryOutcome {
    let d = &c.delivery;
    let bytes = serde_json::to_vec(&d.payload).unwrap_or_default();
    let ts = now.as_second();
    let req = match outgoing.post(&c.url) {
        Ok(req) => req,
        Err(refused) => {
            return DeliveryOutcome::Failed {
                error: format!("not sent: {refused}"),
                status: None,
            };
        }
    };
    let sent = signed(
        req.timeout(timeout),
        &c.secret,
        d.kind.as_str(),
        &d.id.to_string(),
        ts,
        bytes,
    )
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
        Answer::Retry => match retry_at(d.attempts, now) {
            Some(at) => DeliveryOutcome::Retry { at, error, status },
            None => DeliveryOutcome::Failed {
                error: format!("{error}; gave up after {} attempts", d.attempts),
                status,
            },
        },
    }
}

// --- the API ------------------------------------------------------------------------------------

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: WebhookId,
    pub name: String,
    pub url: String,
    /// Event kinds or prefixes (`incident.resolved`, `incident.`); empty: every incident event.
    pub events: Vec<String>,
    pub enabled: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<Webhook> for WebhookOut {
    fn from(w: Webhook) -> Self {
        Self {
            id: w.id,
            name: w.name,
            url: w.url,
            events: w.events,
            enabled: w.enabled,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecretOut {
    #[serde(flatten)]
    pub webhook: WebhookOut,
    /// Verifies `x-klaxon-signature`. Shown this once.
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    #[schema(
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// An http:// or https:// link.
    #[schema(
        max_length = 2000,
        pattern = r"^\s*https?://[^/\s\u0000-\u001f\u007f-\u009f]\S*\s*$"
    )]
    pub url: String,
    /// Event kinds or prefixes (`incident.resolved`, `incident.`); empty: every incident event.
    #[serde(default)]
    pub events: Vec<String>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    #[schema(
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: Option<String>,
    #[schema(
        max_length = 2000,
        pattern = r"^\s*https?://[^/\s\u0000-\u001f\u007f-\u009f]\S*\s*$"
    )]
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

fn ev(id: WebhookId, at: Timestamp, actor: Actor, kind: EventKind, data: Value) -> NewEvent {
    NewEvent::new(SubjectType::Webhook, id, at, actor, kind, data)
}

/// Creates a webhook (shared by the API and the web page); the secret is in the result.
pub async fn create_with(
    state: &AppState,
    actor: Actor,
    body: CreateWebhook,
) -> ApiResult<Webhook> {
    let name = rules::parse_title("name", &body.name, 100)?;
    let url = parse_url(&body.url)?;
    state.engine.outgoing().check_field("url", &url)?;
    let events = KindFilter::parse("events", &body.events)?.kinds().to_vec();
    let now = state.clock.now();
    let w = Webhook {
        id: WebhookId::new(now, random_bytes()),
        name,
        url,
        secret: random_token(),
        events,
        enabled: body.enabled.unwrap_or(true),
        created_at: now,
        updated_at: now,
    };
    let e = ev(
        w.id,
        now,
        actor,
        EventKind::WebhookCreated,
        json!({"name": w.name, "url": w.url, "events": w.events}),
    );
    state.store.create_webhook(w, e).await.map_err(name_taken)
}

/// Changes a webhook (shared by the API and the web page).
pub async fn update_with(
    state: &AppState,
    actor: Actor,
    id: WebhookId,
    body: UpdateWebhook,
) -> ApiResult<Webhook> {
    let mut w = state
        .store
        .webhook(id)
        .await
        .map_err(ApiError::or_not_found("webhook"))?;
    if let Some(n) = &body.name {
        w.name = rules::parse_title("name", n, 100)?;
    }
    if let Some(u) = &body.url {
        w.url = parse_url(u)?;
        state.engine.outgoing().check_field("url", &w.url)?;
    }
    if let Some(e) = &body.events {
        w.events = KindFilter::parse("events", e)?.kinds().to_vec();
    }
    if let Some(en) = body.enabled {
        w.enabled = en;
    }
    let now = state.clock.now();
    w.updated_at = now;
    let e = ev(
        id,
        now,
        actor,
        EventKind::WebhookUpdated,
        json!({"name": w.name, "url": w.url, "events": w.events, "enabled": w.enabled}),
    );
    state.store.update_webhook(w, e).await.map_err(name_taken)
}

/// Deletes a webhook and its deliveries (shared by the API and the web page).
pub async fn delete_with(state: &AppState, actor: Actor, id: WebhookId) -> ApiResult<()> {
    let now = state.clock.now();
    let e = ev(id, now, actor, EventKind::WebhookDeleted, json!({}));
    state
        .store
        .delete_webhook(id, e)
        .await
        .map_err(ApiError::or_not_found("webhook"))
}

fn name_taken(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { .. } => ApiError::Conflict {
            message: "name: another webhook has this name".into(),
            field: Some("name".into()),
        },
        e => ApiError::or_not_found("webhook")(e),
    }
}

fn parse_url(url: &str) -> ApiResult<String> {
    rules::parse_link("url", Some(url))?
        .ok_or_else(|| ApiError::invalid("url", "must not be empty"))
}

/// Every webhook (admin).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", params(PageParams),
    responses((status = 200, body = ListOf<WebhookOut>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_webhooks(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<WebhookOut>>> {
    caller.require(Role::Admin)?;
    let all = state.store.list_webhooks().await?;
    Ok(Json(page_in_memory("webhooks", all, &p, Into::into)?))
}

/// Creates a webhook (admin): it receives incident events written from now on. 201 with its
/// signing secret, shown this once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, body = WebhookWithSecretOut), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<WebhookWithSecretOut>)> {
    caller.require(Role::Admin)?;
    let w = create_with(&state, caller.actor(), body).await?;
    let secret = w.secret.clone();
    Ok((
        StatusCode::CREATED,
        Json(WebhookWithSecretOut {
            webhook: w.into(),
            secret,
        }),
    ))
}

/// One webhook (admin).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = terms::doc::WEBHOOK, min_length = 1)),
    responses((status = 200, body = WebhookOut), (status = 404, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookOut>> {
    caller.require(Role::Admin)?;
    let id = terms::webhook(&state, &id, At::Path("id")).await?;
    let w = state
        .store
        .webhook(id)
        .await
        .map_err(ApiError::or_not_found("webhook"))?;
    Ok(Json(w.into()))
}

/// Changes a webhook (admin); disabling it stops new deliveries (queued ones still go).
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", request_body = UpdateWebhook,
    params(("id" = String, Path, description = terms::doc::WEBHOOK, min_length = 1)),
    responses((status = 200, body = WebhookOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> ApiResult<Json<WebhookOut>> {
    caller.require(Role::Admin)?;
    let id = terms::webhook(&state, &id, At::Path("id")).await?;
    let w = update_with(&state, caller.actor(), id, body).await?;
    Ok(Json(w.into()))
}

/// Deletes a webhook and its deliveries (admin).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = terms::doc::WEBHOOK, min_length = 1)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let id = terms::webhook(&state, &id, At::Path("id")).await?;
    delete_with(&state, caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: DeliveryId,
    pub event_seq: i64,
    #[schema(value_type = klaxon_domain::event::EventKind)]
    pub kind: String,
    #[schema(value_type = DeliveryStatusName)]
    pub status: String,
    pub attempts: u32,
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub response_status: Option<u16>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<Timestamp>,
    /// The JSON body posted to the receiver, as sent (see docs/webhooks.md).
    #[schema(value_type = std::collections::BTreeMap<String, Value>)]
    pub payload: Value,
}

/// The names of `DeliveryStatus`, for the document.
struct DeliveryStatusName;

impl utoipa::PartialSchema for DeliveryStatusName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use klaxon_store::DeliveryStatus as S;
        klaxon_domain::enum_schema([S::Pending, S::Sending, S::Sent, S::Failed].map(S::as_str))
    }
}

impl ToSchema for DeliveryStatusName {
    fn name() -> std::borrow::Cow<'static, str> {
        "DeliveryStatus".into()
    }
}

impl From<WebhookDelivery> for DeliveryOut {
    fn from(d: WebhookDelivery) -> Self {
        Self {
            id: d.id,
            event_seq: d.event_seq,
            kind: d.kind,
            status: d.status.as_str().into(),
            attempts: d.attempts,
            next_attempt_at: d.run_at,
            last_error: d.last_error,
            response_status: d.response_status,
            sent_at: d.sent_at,
            payload: d.payload,
        }
    }
}

/// A webhook's latest deliveries, newest first (admin).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = terms::doc::WEBHOOK, min_length = 1), PageParams),
    responses((status = 200, body = ListOf<DeliveryOut>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<DeliveryOut>>> {
    caller.require(Role::Admin)?;
    let id = terms::webhook(&state, &id, At::Path("id")).await?;
    let limit = Limit::parse(p.limit)?.get();
    let before = decode_cursor::<i64>("deliveries", p.cursor.as_deref())?;
    let items = state
        .store
        .list_webhook_deliveries(id, before, limit + 1)
        .await
        .map_err(ApiError::or_not_found("webhook"))?;
    let page = page_of(
        "deliveries",
        items,
        limit as usize,
        |d| d.event_seq,
        Into::into,
    );
    Ok(Json(page))
}

/// The webhook deliveries outbox, drained by the engine in a loop of its own.
pub struct WebhookSender;

#[async_trait::async_trait]
impl Outbox for WebhookSender {
    type Report = WebhookReport;

    async fn drain(&self, ctx: &JobContext) -> StoreResult<WebhookReport> {
        run(
            ctx.store.as_ref(),
            &ctx.settings,
            &ctx.outgoing,
            ctx.clock.as_ref(),
        )
        .await
    }
}
