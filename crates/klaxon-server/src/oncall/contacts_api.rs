//! The REST API for how people are reached: contact methods, notification rules and test
//! notifications. A person's first contact method brings two rules with it (at once, by that
//! method, one for high and one for low urgency) when they have none, so a new person can be
//! paged whatever the incident's urgency.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use jiff::Timestamp;
use klaxon_domain::alert::Urgency;
use klaxon_domain::auth::Role;
use klaxon_domain::contact::{self, ContactKind};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{ContactMethodId, NotificationId, NotificationRuleId, UserId};
use klaxon_domain::service as rules;
use klaxon_store::{
    ContactMethod, NewNotification, Notification, NotificationRule, StoreError, User,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::NotificationOut;
use crate::people::manage::check_password;
use crate::shared::api::{
    ApiJson, ApiQuery, Caller, ListOf, PageParams, page_in_memory, parse_field_id, parse_id,
};
use crate::shared::crypto::{random_bytes, random_token};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contact_methods, create_contact_method))
        .routes(routes!(update_contact_method, delete_contact_method))
        .routes(routes!(test_contact_method))
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(update_rule, delete_rule))
}

// --- contact methods ----------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactMethodOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: ContactMethodId,
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    /// `email`, `sms`, `voice`, `webhook`, `slack`, `teams` or `mattermost`.
    pub kind: ContactKind,
    pub label: String,
    pub address: String,
    /// Webhooks only, and only in the answer that creates the method: the key deliveries are
    /// signed with (`X-Klaxon-Signature`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Only in the answer that creates the method, when rules were added with it: the
    /// high-urgency one of `first_rules` (kept for clients written when a first method brought
    /// that rule alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_rule: Option<RuleOut>,
    /// Only in the answer that creates the method, when rules were added with it: the user had
    /// no notification rule, so two now page them at once through this method, one for high
    /// urgency and one for low urgency (in that order).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 2, max_items = 2)]
    pub first_rules: Option<Vec<RuleOut>>,
}

impl ContactMethodOut {
    fn new(m: ContactMethod, show_secret: bool) -> Self {
        Self {
            id: m.id,
            user_id: m.user_id,
            kind: m.kind,
            label: m.label,
            address: m.address,
            secret: m.secret.filter(|_| show_secret),
            created_at: m.created_at,
            first_rule: None,
            first_rules: None,
        }
    }
}

/// A contact method just added, and the rules that came with it (a person's first method):
/// none, or one for high urgency and one for low, in that order.
pub struct AddedMethod {
    pub method: ContactMethod,
    pub first_rules: Vec<NotificationRule>,
}

impl AddedMethod {
    /// The high-urgency rule that came with the method, if rules did.
    pub fn first_rule(&self) -> Option<&NotificationRule> {
        self.first_rules.iter().find(|r| r.urgency == Urgency::High)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContactMethod {
    pub kind: ContactKind,
    #[schema(max_length = 100, pattern = r"\S")]
    pub label: String,
    /// An e-mail address, an E.164 phone number, or an http(s) URL, as the kind needs.
    #[schema(max_length = 2000)]
    pub address: String,
    /// Your own password: a contact method decides where pages go, so changing one asks for it
    /// again.
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContactMethod {
    #[schema(max_length = 100, pattern = r"\S")]
    pub label: Option<String>,
    #[schema(max_length = 2000)]
    pub address: Option<String>,
    pub password: String,
}

/// Callers may manage their own on-call settings; admins anyone's.
fn require_self_or_admin(caller: &Caller, user: UserId) -> ApiResult<()> {
    if caller.user.id == user {
        Ok(())
    } else {
        caller.require(Role::Admin)
    }
}

/// Whether contact methods of `kind` can be sent on this server: e-mail needs `[smtp]`, SMS
/// and voice need `[sms]`; webhooks and chat tools need nothing.
pub fn check_kind_with(
    settings: &crate::shared::config::Settings,
    kind: ContactKind,
) -> ApiResult<()> {
    let missing = match kind {
        ContactKind::Email if !settings.smtp.is_configured() => {
            "e-mail needs a mail server: configure [smtp] (smtp.host and smtp.from, or KLAXON_SMTP_HOST and KLAXON_SMTP_FROM)"
        }
        ContactKind::Sms | ContactKind::Voice if !settings.sms.is_configured() => {
            "SMS and voice need a provider: configure [sms] (sms.account_sid, sms.auth_token and sms.from, or KLAXON_SMS_*)"
        }
        _ => return Ok(()),
    };
    Err(ApiError::invalid("kind", missing))
}

/// A user's contact methods.
#[utoipa::path(get, path = "/api/v1/users/{id}/contact-methods", tag = "on-call",
    params(("id" = String, Path, description = terms::doc::USER, min_length = 1), PageParams),
    responses((status = 200, body = ListOf<ContactMethodOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_contact_methods(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<ContactMethodOut>>> {
    let user = terms::user(&state, &id, At::Path("id")).await?;
    require_self_or_admin(&caller, user)?;
    let items = state.store.list_contact_methods(user).await?;
    Ok(Json(page_in_memory("contact-methods", items, &p, |m| {
        ContactMethodOut::new(m, false)
    })?))
}

/// Adds a contact method (yourself, or any user as admin); asks for your password.
#[utoipa::path(post, path = "/api/v1/users/{id}/contact-methods", tag = "on-call", request_body = CreateContactMethod,
    params(("id" = String, Path, description = terms::doc::USER, min_length = 1)),
    responses((status = 201, body = ContactMethodOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn create_contact_method(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreateContactMethod>,
) -> ApiResult<impl IntoResponse> {
    let user = terms::user(&state, &id, At::Path("id")).await?;
    require_self_or_admin(&caller, user)?;
    let added =
        create_contact_method_with(&state, caller.actor(), &caller.user, user, body).await?;
    let first_rule = added.first_rule().cloned().map(RuleOut::from);
    let mut out = ContactMethodOut::new(added.method, true);
    out.first_rule = first_rule;
    if !added.first_rules.is_empty() {
        out.first_rules = Some(added.first_rules.into_iter().map(RuleOut::from).collect());
    }
    Ok((StatusCode::CREATED, Json(out)))
}

/// Checks and stores a contact method for `user`, after checking the password of `who` (the
/// signed-in user); shared by the API and the web UI. The answer carries a webhook's secret.
/// When `user` has no notification rule yet, two come with it in the same transaction: at
/// once, through this method, one for high urgency and one for low, each with its own
/// `user.notification_rule_added` (marked `first_method`).
pub async fn create_contact_method_with(
    state: &AppState,
    actor: Actor,
    who: &User,
    user: UserId,
    body: CreateContactMethod,
) -> ApiResult<AddedMethod> {
    check_kind_with(&state.settings, body.kind)?;
    let label = rules::text(&body.label, "label", contact::LABEL_MAX)?;
    let address = contact::address(body.kind, &body.address)?;
    if body.kind.is_url() {
        state.engine.outgoing().check_field("address", &address)?;
    }
    check_password(state, who, &body.password).await?;
    let now = state.clock.now();
    let m = ContactMethod {
        id: ContactMethodId::new(now, random_bytes()),
        user_id: user,
        kind: body.kind,
        label,
        address,
        secret: (body.kind == ContactKind::Webhook).then(random_token),
        created_at: now,
    };
    let e = NewEvent::new(
        SubjectType::User,
        user,
        now,
        actor,
        EventKind::ContactMethodAdded,
        json!({"contact_method_id": m.id, "kind": m.kind, "label": m.label}),
    );
    let first_rules = first_rules(now, user, m.id)
        .into_iter()
        .map(|r| {
            let e = rule_added(&r, actor, true);
            (r, e)
        })
        .collect();
    let (method, first_rules) = state
        .store
        .create_contact_method(m, e, first_rules)
        .await
        .map_err(ApiError::or_not_found("user"))?;
    Ok(AddedMethod {
        method,
        first_rules,
    })
}

/// The rules a person's first contact method brings: at once through it, for high urgency and
/// for low. The high one gets the smaller id, so it is listed first (rules are listed by delay,
/// then id).
fn first_rules(now: Timestamp, user: UserId, method: ContactMethodId) -> [NotificationRule; 2] {
    let mut high = new_rule(now, user, method, 0, Urgency::High);
    let mut low = new_rule(now, user, method, 0, Urgency::Low);
    if low.id < high.id {
        std::mem::swap(&mut high.id, &mut low.id);
    }
    [high, low]
}

/// Looks up a contact method the caller may manage.
async fn own_method(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ContactMethod> {
    let id = parse_id::<ContactMethodId>(id, "contact method")?;
    let m = state
        .store
        .contact_method(id)
        .await
        .map_err(ApiError::or_not_found("contact method"))?;
    require_self_or_admin(caller, m.user_id)?;
    Ok(m)
}

/// Changes a contact method's label or address; asks for your password.
#[utoipa::path(patch, path = "/api/v1/contact-methods/{id}", tag = "on-call", request_body = UpdateContactMethod,
    params(("id" = uuid::Uuid, Path, description = "Contact method id")),
    responses((status = 200, body = ContactMethodOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn update_contact_method(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateContactMethod>,
) -> ApiResult<Json<ContactMethodOut>> {
    let m = own_method(&state, &caller, &id).await?;
    let m = update_contact_method_with(&state, caller.actor(), &caller.user, m, body).await?;
    Ok(Json(ContactMethodOut::new(m, false)))
}

/// Changes a contact method's label or address, after checking the password of `who` (the
/// signed-in user); shared by the API and the web UI.
pub async fn update_contact_method_with(
    state: &AppState,
    actor: Actor,
    who: &User,
    mut m: ContactMethod,
    body: UpdateContactMethod,
) -> ApiResult<ContactMethod> {
    let mut changed = serde_json::Map::new();
    if let Some(label) = &body.label {
        m.label = rules::text(label, "label", contact::LABEL_MAX)?;
        changed.insert("label".into(), json!(m.label));
    }
    if let Some(address) = &body.address {
        m.address = contact::address(m.kind, address)?;
        if m.kind.is_url() {
            state.engine.outgoing().check_field("address", &m.address)?;
        }
        changed.insert("address_changed".into(), json!(true));
    }
    check_password(state, who, &body.password).await?;
    changed.insert("contact_method_id".into(), json!(m.id));
    let e = NewEvent::new(
        SubjectType::User,
        m.user_id,
        state.clock.now(),
        actor,
        EventKind::ContactMethodChanged,
        serde_json::Value::Object(changed),
    );
    state
        .store
        .update_contact_method(m, e)
        .await
        .map_err(ApiError::or_not_found("contact method"))
}

/// Removes a contact method and the notification rules that use it.
#[utoipa::path(delete, path = "/api/v1/contact-methods/{id}", tag = "on-call",
    params(("id" = uuid::Uuid, Path, description = "Contact method id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_contact_method(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let m = own_method(&state, &caller, &id).await?;
    delete_contact_method_with(&state, caller.actor(), &m).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a contact method and its rules; shared by the API and the web UI.
pub async fn delete_contact_method_with(
    state: &AppState,
    actor: Actor,
    m: &ContactMethod,
) -> ApiResult<()> {
    let e = NewEvent::new(
        SubjectType::User,
        m.user_id,
        state.clock.now(),
        actor,
        EventKind::ContactMethodRemoved,
        json!({"contact_method_id": m.id, "kind": m.kind, "label": m.label}),
    );
    state
        .store
        .delete_contact_method(m.id, e)
        .await
        .map_err(ApiError::or_not_found("contact method"))
}

/// Sends a test notification through a contact method, now.
#[utoipa::path(post, path = "/api/v1/contact-methods/{id}/test", tag = "on-call",
    params(("id" = uuid::Uuid, Path, description = "Contact method id")),
    responses((status = 202, body = NotificationOut), (status = 404, body = ErrorBody)))]
async fn test_contact_method(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let m = own_method(&state, &caller, &id).await?;
    let n = test_contact_method_with(&state, caller.actor(), &m).await?;
    Ok((StatusCode::ACCEPTED, Json(NotificationOut::from(n))))
}

/// Queues a test notification through a contact method and wakes the sender; shared by the
/// API and the web UI.
pub async fn test_contact_method_with(
    state: &AppState,
    actor: Actor,
    m: &ContactMethod,
) -> ApiResult<Notification> {
    let now = state.clock.now();
    let n = NewNotification {
        id: NotificationId::new(now, random_bytes()),
        incident_id: None,
        user_id: m.user_id,
        contact_method_id: Some(m.id),
        kind: m.kind,
        address: m.address.clone(),
        dedup_key: format!("test:{}", random_token()),
        payload: json!({"test": true, "contact_method": {"id": m.id, "label": m.label}}),
        run_at: now,
        created_at: now,
    };
    let e = NewEvent::new(
        SubjectType::User,
        m.user_id,
        now,
        actor,
        EventKind::NotificationQueued,
        json!({"notification_id": n.id, "contact_method_id": m.id, "test": true}),
    );
    let n = state.store.queue_notification(n, e).await?;
    state.engine.wake();
    Ok(n)
}

// --- notification rules -------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: NotificationRuleId,
    #[schema(value_type = String, format = Uuid)]
    pub contact_method_id: ContactMethodId,
    pub delay_minutes: u32,
    pub urgency: Urgency,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<NotificationRule> for RuleOut {
    fn from(r: NotificationRule) -> Self {
        Self {
            id: r.id,
            contact_method_id: r.contact_method_id,
            delay_minutes: r.delay_minutes,
            urgency: r.urgency,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRule {
    #[schema(value_type = uuid::Uuid)]
    pub contact_method_id: String,
    /// Minutes after the page (0–1440).
    #[serde(default)]
    #[schema(maximum = 1440)]
    pub delay_minutes: u32,
    /// For incidents of this urgency (default high).
    pub urgency: Option<Urgency>,
}

/// What to change in a rule; fields left out keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRule {
    #[schema(value_type = Option<uuid::Uuid>)]
    pub contact_method_id: Option<String>,
    /// Minutes after the page (0–1440).
    #[schema(maximum = 1440)]
    pub delay_minutes: Option<u32>,
    /// `high` or `low`.
    pub urgency: Option<Urgency>,
}

fn new_rule(
    now: Timestamp,
    user: UserId,
    method: ContactMethodId,
    delay_minutes: u32,
    urgency: Urgency,
) -> NotificationRule {
    NotificationRule {
        id: NotificationRuleId::new(now, random_bytes()),
        user_id: user,
        contact_method_id: method,
        delay_minutes,
        urgency,
        created_at: now,
    }
}

/// The `user.notification_rule_added` event of `r`; `first_method` marks the rules a person's
/// first contact method brought.
fn rule_added(r: &NotificationRule, actor: Actor, first_method: bool) -> NewEvent {
    let mut data = json!({"rule_id": r.id, "contact_method_id": r.contact_method_id,
                          "delay_minutes": r.delay_minutes, "urgency": r.urgency});
    if first_method {
        data["first_method"] = json!(true);
    }
    NewEvent::new(
        SubjectType::User,
        r.user_id,
        r.created_at,
        actor,
        EventKind::NotificationRuleAdded,
        data,
    )
}

/// Rules are for high or low urgency: medium incidents page by the high ones.
fn rule_urgency(u: Urgency) -> ApiResult<Urgency> {
    if u == Urgency::Medium {
        return Err(ApiError::invalid(
            "urgency",
            "a notification rule is for high or low urgency; medium incidents page by the high rules",
        ));
    }
    Ok(u)
}

fn method_id(raw: &str) -> ApiResult<ContactMethodId> {
    raw.parse()
        .map_err(|_| ApiError::invalid("contact_method_id", "is not an id"))
}

fn not_their_method(e: StoreError) -> ApiError {
    if e.is_not_found() {
        ApiError::invalid(
            "contact_method_id",
            "is not one of this user's contact methods",
        )
    } else {
        e.into()
    }
}

/// A user's notification rules, soonest first.
#[utoipa::path(get, path = "/api/v1/users/{id}/notification-rules", tag = "on-call",
    params(("id" = String, Path, description = terms::doc::USER, min_length = 1), PageParams),
    responses((status = 200, body = ListOf<RuleOut>), (status = 403, body = ErrorBody)))]
async fn list_rules(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<RuleOut>>> {
    let user = terms::user(&state, &id, At::Path("id")).await?;
    require_self_or_admin(&caller, user)?;
    let items = state.store.list_notification_rules(user).await?;
    Ok(Json(page_in_memory("rules", items, &p, Into::into)?))
}

/// Adds a notification rule: after N minutes, through one of the user's contact methods. A rule
/// just like one the user has is not added twice: the answer is that rule.
#[utoipa::path(post, path = "/api/v1/users/{id}/notification-rules", tag = "on-call", request_body = CreateRule,
    params(("id" = String, Path, description = terms::doc::USER, min_length = 1)),
    responses((status = 201, body = RuleOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreateRule>,
) -> ApiResult<impl IntoResponse> {
    let user = terms::user(&state, &id, At::Path("id")).await?;
    require_self_or_admin(&caller, user)?;
    let r = create_rule_with(&state, caller.actor(), user, body).await?;
    Ok((StatusCode::CREATED, Json(RuleOut::from(r))))
}

/// Checks and stores a notification rule of `user`; shared by the API and the web UI. A rule
/// the same as one `user` has (method, delay, urgency) would page twice at once: that one is
/// returned and nothing is written.
pub async fn create_rule_with(
    state: &AppState,
    actor: Actor,
    user: UserId,
    body: CreateRule,
) -> ApiResult<NotificationRule> {
    let method = method_id(&body.contact_method_id)?;
    let urgency = rule_urgency(body.urgency.unwrap_or(Urgency::High))?;
    let delay = contact::rule_delay(body.delay_minutes)?;
    let r = new_rule(state.clock.now(), user, method, delay, urgency);
    let e = rule_added(&r, actor, false);
    state
        .store
        .create_notification_rule(r, e)
        .await
        .map_err(not_their_method)
}

/// Changes a notification rule: its method, delay or urgency.
#[utoipa::path(patch, path = "/api/v1/users/{id}/notification-rules/{rule_id}", tag = "on-call", request_body = UpdateRule,
    params(("id" = String, Path, description = terms::doc::USER, min_length = 1), ("rule_id" = uuid::Uuid, Path, description = "Rule id")),
    responses((status = 200, body = RuleOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, rule_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateRule>,
) -> ApiResult<Json<RuleOut>> {
    let user = terms::user(&state, &id, At::Path("id")).await?;
    require_self_or_admin(&caller, user)?;
    let rule = parse_field_id::<NotificationRuleId>(&rule_id, "rule_id")?;
    let r = update_rule_with(&state, caller.actor(), user, rule, body).await?;
    Ok(Json(RuleOut::from(r)))
}

/// Changes one of `user`'s notification rules; shared by the API and the web UI.
pub async fn update_rule_with(
    state: &AppState,
    actor: Actor,
    user: UserId,
    rule: NotificationRuleId,
    body: UpdateRule,
) -> ApiResult<NotificationRule> {
    let mut r = state
        .store
        .list_notification_rules(user)
        .await?
        .into_iter()
        .find(|r| r.id == rule)
        .ok_or_else(|| ApiError::not_found("notification rule"))?;
    let mut changed = serde_json::Map::new();
    if let Some(raw) = &body.contact_method_id {
        r.contact_method_id = method_id(raw)?;
        changed.insert("contact_method_id".into(), json!(r.contact_method_id));
    }
    if let Some(d) = body.delay_minutes {
        r.delay_minutes = contact::rule_delay(d)?;
        changed.insert("delay_minutes".into(), json!(r.delay_minutes));
    }
    if let Some(u) = body.urgency {
        r.urgency = rule_urgency(u)?;
        changed.insert("urgency".into(), json!(r.urgency));
    }
    changed.insert("rule_id".into(), json!(r.id));
    let e = NewEvent::new(
        SubjectType::User,
        user,
        state.clock.now(),
        actor,
        EventKind::NotificationRuleChanged,
        serde_json::Value::Object(changed),
    );
    state
        .store
        .update_notification_rule(r, e)
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => ApiError::Conflict {
                message: "this user already has a rule with the same method, delay and urgency"
                    .into(),
                field: None,
            },
            e => not_their_method(e),
        })
}

/// Removes a notification rule.
#[utoipa::path(delete, path = "/api/v1/users/{id}/notification-rules/{rule_id}", tag = "on-call",
    params(("id" = String, Path, description = terms::doc::USER, min_length = 1), ("rule_id" = uuid::Uuid, Path, description = "Rule id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, rule_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let user = terms::user(&state, &id, At::Path("id")).await?;
    require_self_or_admin(&caller, user)?;
    let rule = parse_field_id::<NotificationRuleId>(&rule_id, "rule_id")?;
    delete_rule_with(&state, caller.actor(), user, rule).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes one of `user`'s notification rules; shared by the API and the web UI.
pub async fn delete_rule_with(
    state: &AppState,
    actor: Actor,
    user: UserId,
    rule: NotificationRuleId,
) -> ApiResult<()> {
    let e = NewEvent::new(
        SubjectType::User,
        user,
        state.clock.now(),
        actor,
        EventKind::NotificationRuleRemoved,
        json!({"rule_id": rule}),
    );
    state
        .store
        .delete_notification_rule(user, rule, e)
        .await
        .map_err(ApiError::or_not_found("notification rule"))
}
