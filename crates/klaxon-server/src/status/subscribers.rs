//! Status page subscribers: e-mail addresses (double opt-in) and webhooks, each for the whole
//! page or chosen components. REST under `/api/v1/status-pages/{page}/subscribers` (admins),
//! the operations the public sign-up and the admin pages share, and the signed links each
//! subscriber manages its subscription with.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::auth::Role;
use klaxon_domain::contact::{self, ContactKind};
use klaxon_domain::event::{Actor, EventKind};
use klaxon_domain::ids::{ComponentId, StatusPageId, SubscriberId};
use klaxon_store::{Component, Notice, SignUp, StatusPage, Store, Subscriber, SubscriberKind};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::pages_api::{find_component, page_event};
use crate::shared::api::{ApiJson, Caller};
use crate::shared::config::Settings;
use crate::shared::crypto::{base64url, bytes_equal, hmac_sha256, random_bytes, random_token};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

/// The server key that signs subscribers' links.
pub const LINK_KEY: &str = "status-subscribers";
/// A known address is mailed its link again at most this often, whoever asks.
pub const MAIL_GAP: SignedDuration = SignedDuration::from_mins(10);
/// Sign-ups never confirmed are forgotten after this long.
pub const UNCONFIRMED_DAYS: i64 = 7;

/// Where a page's links start for someone reading an e-mail: its own host name, or Klaxon's
/// public URL. `None` when neither is known: then nobody can be sent a link, so sign-up is off.
pub fn page_base(settings: &Settings, page: &StatusPage) -> Option<String> {
    let public = settings.server.public_url.as_deref();
    if let Some(host) = &page.hostname {
        let scheme = if public.is_some_and(|u| u.starts_with("http://")) {
            "http"
        } else {
            "https"
        };
        return Some(format!("{scheme}://{host}"));
    }
    public.map(|u| format!("{}/status/{}", u.trim_end_matches('/'), page.slug))
}

/// The signature in a subscriber's links: over its id and nonce, so deleting the subscriber
/// (unsubscribing) kills every link it was sent.
pub fn link_token(key: &[u8; 32], s: &Subscriber) -> String {
    let data = format!("subscriber\0{}\0{}", s.id, s.nonce);
    base64url(&hmac_sha256(key, data.as_bytes()))
}

pub fn token_ok(key: &[u8; 32], s: &Subscriber, token: &str) -> bool {
    bytes_equal(token.as_bytes(), link_token(key, s).as_bytes())
}

/// A subscriber's links, absolute.
pub struct Links {
    pub manage: String,
    pub confirm: String,
    pub unsubscribe: String,
}

pub fn links(base: &str, key: &[u8; 32], s: &Subscriber) -> Links {
    let t = link_token(key, s);
    let at = format!("{base}/subscription/{}", s.id);
    Links {
        manage: format!("{at}?t={t}"),
        confirm: format!("{at}/confirm?t={t}"),
        unsubscribe: format!("{at}/unsubscribe?t={t}"),
    }
}

/// Components by the names, codes or ids people give; none means every component.
pub(crate) fn chosen(
    all: &[Component],
    raw: &[String],
    field: &'static str,
) -> ApiResult<Vec<ComponentId>> {
    let mut out = Vec::new();
    for r in raw.iter().filter(|r| !r.trim().is_empty()) {
        let c = find_component(all, r, At::Field(field))?;
        if c.is_group {
            // A group stands for its members.
            out.extend(
                all.iter()
                    .filter(|m| m.group_id == Some(c.id))
                    .map(|m| m.id),
            );
        } else {
            out.push(c.id);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Signs up an address (or, for admins, a webhook). E-mail addresses get a confirmation
/// e-mail and nothing else until they confirm; a known address is mailed its link again (at
/// most every [`MAIL_GAP`]), so the answer never tells whether an address was known.
pub async fn subscribe_with(
    state: &AppState,
    actor: Actor,
    page: &StatusPage,
    kind: SubscriberKind,
    address: &str,
    components: Vec<ComponentId>,
) -> ApiResult<SignUp> {
    let address = match kind {
        SubscriberKind::Email => contact::address(ContactKind::Email, address),
        SubscriberKind::Webhook => contact::address(ContactKind::Webhook, address),
    }
    .map_err(|e| ApiError::invalid("address", e.reason))?;
    if kind == SubscriberKind::Email && page_base(&state.settings, page).is_none() {
        return Err(ApiError::Conflict {
            message: "e-mail subscribers need links back to the page: set server.public_url \
                      (or the page's host name)"
                .into(),
            field: None,
        });
    }
    let now = state.clock.now();
    let s = Subscriber {
        id: SubscriberId::new(now, random_bytes()),
        page_id: page.id,
        kind,
        address: address.clone(),
        all_components: components.is_empty(),
        component_ids: components,
        // A webhook is added by an admin, who vouches for it.
        confirmed_at: (kind == SubscriberKind::Webhook).then_some(now),
        nonce: random_token(),
        mailed_at: None,
        created_at: now,
        updated_at: now,
    };
    let e = page_event(
        page.id,
        now,
        actor,
        EventKind::StatusSubscriberAdded,
        json!({"subscriber": s.id, "kind": kind.as_str(), "address": address}),
    );
    let after = now.checked_sub(MAIL_GAP).unwrap_or(now);
    let signed = state
        .store
        .subscribe(s, after, e)
        .await
        .map_err(|e| match e {
            klaxon_store::StoreError::Conflict { .. } => ApiError::Conflict {
                message: "this address is subscribed to the page already".into(),
                field: Some("address".into()),
            },
            e => ApiError::or_not_found("component")(e),
        })?;
    state.engine.wake();
    Ok(signed)
}

/// An admin adding an address the page has already is told so (a reader signing up again is
/// mailed its link instead, by [`subscribe_with`]).
pub(crate) async fn refuse_known(
    state: &AppState,
    page: &StatusPage,
    kind: SubscriberKind,
    address: &str,
) -> ApiResult<()> {
    let known = state.store.list_subscribers(page.id).await?;
    if known
        .iter()
        .any(|s| s.kind == kind && s.address.eq_ignore_ascii_case(address.trim()))
    {
        return Err(ApiError::Conflict {
            message: "this address is subscribed to the page already".into(),
            field: Some("address".into()),
        });
    }
    Ok(())
}

/// Confirms a subscriber (it followed the link in its confirmation e-mail).
pub async fn confirm_with(state: &AppState, s: &Subscriber) -> ApiResult<Subscriber> {
    let now = state.clock.now();
    let e = page_event(
        s.page_id,
        now,
        Actor::System,
        EventKind::StatusSubscriberConfirmed,
        json!({"subscriber": s.id, "kind": s.kind.as_str(), "address": s.address}),
    );
    Ok(state.store.confirm_subscriber(s.id, now, e).await?)
}

/// Sets the components a subscriber follows (none: every component).
pub async fn choose_with(
    state: &AppState,
    actor: Actor,
    mut s: Subscriber,
    components: Vec<ComponentId>,
) -> ApiResult<Subscriber> {
    let now = state.clock.now();
    s.all_components = components.is_empty();
    s.component_ids = components;
    s.updated_at = now;
    let e = page_event(
        s.page_id,
        now,
        actor,
        EventKind::StatusSubscriberUpdated,
        json!({"subscriber": s.id, "all_components": s.all_components,
               "components": s.component_ids.len()}),
    );
    state
        .store
        .update_subscriber(s, e)
        .await
        .map_err(ApiError::or_not_found("subscriber"))
}

pub async fn unsubscribe_with(state: &AppState, actor: Actor, s: &Subscriber) -> ApiResult<()> {
    let e = page_event(
        s.page_id,
        state.clock.now(),
        actor,
        EventKind::StatusSubscriberRemoved,
        json!({"subscriber": s.id, "kind": s.kind.as_str(), "address": s.address}),
    );
    state
        .store
        .delete_subscriber(s.id, e)
        .await
        .map_err(ApiError::or_not_found("subscriber"))
}

/// The subscriber `raw` (its id or address) of `page`.
async fn find_subscriber(
    store: &dyn Store,
    page: StatusPageId,
    raw: &str,
) -> ApiResult<Subscriber> {
    let raw = raw.trim();
    let all = store.list_subscribers(page).await?;
    all.into_iter()
        .find(|s| s.id.to_string() == raw || s.address.eq_ignore_ascii_case(raw))
        .ok_or_else(|| ApiError::NotFound(format!("no subscriber \"{raw}\" on this page")))
}

// --- the API ------------------------------------------------------------------------------------

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_status_subscribers, create_status_subscriber))
        .routes(routes!(
            get_status_subscriber,
            update_status_subscriber,
            delete_status_subscriber
        ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriberOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: SubscriberId,
    /// `email` or `webhook`.
    pub kind: String,
    pub address: String,
    /// Every component of the page, or only `components`.
    pub all_components: bool,
    /// The codes of the components followed.
    pub components: Vec<String>,
    /// Notices go only to confirmed subscribers (e-mail: the owner followed the link).
    pub confirmed: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub confirmed_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

fn subscriber_out(s: Subscriber, all: &[Component]) -> SubscriberOut {
    SubscriberOut {
        id: s.id,
        kind: s.kind.as_str().into(),
        components: s
            .component_ids
            .iter()
            .filter_map(|id| all.iter().find(|c| c.id == *id))
            .map(|c| c.code.clone())
            .collect(),
        address: s.address,
        all_components: s.all_components,
        confirmed: s.confirmed_at.is_some(),
        confirmed_at: s.confirmed_at,
        created_at: s.created_at,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeOut {
    /// `confirm`, `manage`, `incident`, `component` or `reminder`.
    pub kind: String,
    pub event_seq: i64,
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<Timestamp>,
}

impl From<Notice> for NoticeOut {
    fn from(n: Notice) -> Self {
        Self {
            kind: n.kind.as_str().into(),
            event_seq: n.event_seq,
            status: n.status.as_str().into(),
            attempts: n.attempts,
            last_error: n.last_error,
            created_at: n.created_at,
            sent_at: n.sent_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriberDetail {
    #[serde(flatten)]
    pub subscriber: SubscriberOut,
    /// The latest notices sent or queued, newest first.
    pub notices: Vec<NoticeOut>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscriberBody {
    /// `email` (sent a confirmation e-mail; notified once confirmed) or `webhook`.
    pub kind: String,
    /// An e-mail address, or the webhook's http(s) URL.
    #[schema(min_length = 1)]
    pub address: String,
    /// Components (names, codes or ids) to follow; none or absent: every component.
    #[serde(default)]
    pub components: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSubscriberBody {
    /// Components (names, codes or ids) to follow; empty: every component.
    pub components: Vec<String>,
}

/// A page's subscribers (admin).
#[utoipa::path(get, path = "/api/v1/status-pages/{page}/subscribers", tag = "status pages",
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1)),
    responses((status = 200, body = Vec<SubscriberOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_status_subscribers(
    State(state): State<AppState>,
    caller: Caller,
    Path(page): Path<String>,
) -> ApiResult<Json<Vec<SubscriberOut>>> {
    caller.require(Role::Admin)?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    let all = state.store.list_components(id).await?;
    let subs = state.store.list_subscribers(id).await?;
    Ok(Json(
        subs.into_iter().map(|s| subscriber_out(s, &all)).collect(),
    ))
}

/// Adds a subscriber (admin). An e-mail address is sent a confirmation e-mail and notified
/// only once its owner confirms; a webhook is notified at once.
#[utoipa::path(post, path = "/api/v1/status-pages/{page}/subscribers", tag = "status pages", request_body = NewSubscriberBody,
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1)),
    responses((status = 201, body = SubscriberOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_status_subscriber(
    State(state): State<AppState>,
    caller: Caller,
    Path(page): Path<String>,
    ApiJson(body): ApiJson<NewSubscriberBody>,
) -> ApiResult<(StatusCode, Json<SubscriberOut>)> {
    caller.require(Role::Admin)?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    let kind = SubscriberKind::parse(body.kind.trim())
        .ok_or_else(|| ApiError::invalid("kind", "must be email or webhook"))?;
    let p = state
        .store
        .status_page(id)
        .await
        .map_err(ApiError::or_not_found("status page"))?;
    let all = state.store.list_components(id).await?;
    let components = chosen(&all, &body.components, "components")?;
    let address = body.address.trim();
    refuse_known(&state, &p, kind, address).await?;
    let s = match subscribe_with(&state, caller.actor(), &p, kind, address, components).await? {
        SignUp::Created(s) | SignUp::Mailed(s) | SignUp::TooSoon(s) => s,
    };
    Ok((StatusCode::CREATED, Json(subscriber_out(s, &all))))
}

/// A subscriber and its latest notices (admin).
#[utoipa::path(get, path = "/api/v1/status-pages/{page}/subscribers/{subscriber}", tag = "status pages",
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1),
           ("subscriber" = String, Path, description = "The subscriber's id or address.", min_length = 1)),
    responses((status = 200, body = SubscriberDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_status_subscriber(
    State(state): State<AppState>,
    caller: Caller,
    Path((page, subscriber)): Path<(String, String)>,
) -> ApiResult<Json<SubscriberDetail>> {
    caller.require(Role::Admin)?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    let s = find_subscriber(state.store.as_ref(), id, &subscriber).await?;
    let notices = state.store.list_notices(s.id, 50).await?;
    let all = state.store.list_components(id).await?;
    Ok(Json(SubscriberDetail {
        subscriber: subscriber_out(s, &all),
        notices: notices.into_iter().map(Into::into).collect(),
    }))
}

/// Changes which components a subscriber follows (admin).
#[utoipa::path(patch, path = "/api/v1/status-pages/{page}/subscribers/{subscriber}", tag = "status pages", request_body = UpdateSubscriberBody,
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1),
           ("subscriber" = String, Path, description = "The subscriber's id or address.", min_length = 1)),
    responses((status = 200, body = SubscriberOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_status_subscriber(
    State(state): State<AppState>,
    caller: Caller,
    Path((page, subscriber)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateSubscriberBody>,
) -> ApiResult<Json<SubscriberOut>> {
    caller.require(Role::Admin)?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    let s = find_subscriber(state.store.as_ref(), id, &subscriber).await?;
    let all = state.store.list_components(id).await?;
    let components = chosen(&all, &body.components, "components")?;
    let s = choose_with(&state, caller.actor(), s, components).await?;
    Ok(Json(subscriber_out(s, &all)))
}

/// Removes a subscriber and its unsent notices (admin).
#[utoipa::path(delete, path = "/api/v1/status-pages/{page}/subscribers/{subscriber}", tag = "status pages",
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1),
           ("subscriber" = String, Path, description = "The subscriber's id or address.", min_length = 1)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_status_subscriber(
    State(state): State<AppState>,
    caller: Caller,
    Path((page, subscriber)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    let s = find_subscriber(state.store.as_ref(), id, &subscriber).await?;
    unsubscribe_with(&state, caller.actor(), &s).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// When a subscriber never confirmed is forgotten.
pub fn unconfirmed_before(now: Timestamp) -> Timestamp {
    now.checked_sub(SignedDuration::from_hours(24 * UNCONFIRMED_DAYS))
        .unwrap_or(now)
}
