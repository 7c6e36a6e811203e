//! The REST API for on-call: escalation policies, users' contact methods and notification
//! rules, and test notifications.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use jiff::Timestamp;
use klaxon_domain::alert::Urgency;
use klaxon_domain::auth::Role;
use klaxon_domain::contact::{self, ContactKind, NotificationStatus};
use klaxon_domain::escalation::{Level, Plan, Target};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{
    ContactMethodId, EscalationPolicyId, IncidentId, NotificationId, NotificationRuleId, UserId,
};
use klaxon_domain::page::Limit;
use klaxon_domain::service as rules;
use klaxon_store::{
    ContactMethod, EscalationPolicy, NewNotification, Notification, NotificationRule, StoreError,
    User,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::people::manage::check_password;
use crate::shared::api::{
    ApiJson, ApiQuery, Caller, ListOf, PageParams, decode_cursor, encode_cursor, page_in_memory,
    parse_field_id, parse_id,
};
use crate::shared::crypto::{random_bytes, random_token};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_policies, create_policy))
        .routes(routes!(get_policy, update_policy, delete_policy))
        .routes(routes!(list_contact_methods, create_contact_method))
        .routes(routes!(update_contact_method, delete_contact_method))
        .routes(routes!(test_contact_method))
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(delete_rule))
}

// --- escalation policies ------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: EscalationPolicyId,
    pub name: String,
    pub description: String,
    /// Levels in order: `{"delay_minutes": 15, "targets": [{"type": "user", "id": "…"}]}`.
    pub levels: Vec<Level>,
    /// How many times the levels run again after the last one (0–9).
    pub repeat: u32,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<EscalationPolicy> for PolicyOut {
    fn from(p: EscalationPolicy) -> Self {
        Self {
            id: p.id,
            name: p.name,
            description: p.description,
            levels: p.plan.levels,
            repeat: p.plan.repeat,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePolicy {
    #[schema(max_length = 100, pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    /// Targets name a user by id or e-mail address (`{"type": "user", "id":
    /// "ada@example.com"}`), a schedule by id or name.
    #[schema(min_items = 1, max_items = 20)]
    pub levels: Vec<Level>,
    /// How many times the levels run again after the last one (0–9).
    #[serde(default)]
    #[schema(maximum = 9)]
    pub repeat: u32,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePolicy {
    #[schema(max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// Targets name a user by id or e-mail address, a schedule by id or name.
    #[schema(min_items = 1, max_items = 20)]
    pub levels: Option<Vec<Level>>,
    #[schema(maximum = 9)]
    pub repeat: Option<u32>,
}

/// A policy body's targets may name a user by e-mail address and a schedule by name: each
/// becomes its id before the body is read.
async fn target_ids(state: &AppState, body: &mut serde_json::Value) -> ApiResult<()> {
    use klaxon_domain::escalation::{LEVELS_MAX, TARGETS_MAX};
    let Some(levels) = terms::items_at(body, "levels", LEVELS_MAX) else {
        return Ok(());
    };
    for (i, level) in levels.iter_mut().enumerate() {
        let Some(targets) = terms::items_at(level, "targets", TARGETS_MAX) else {
            continue;
        };
        for (j, target) in targets.iter_mut().enumerate() {
            let kind = target["type"].as_str().unwrap_or_default().to_owned();
            let Some(raw) = terms::text_at(target, "id") else {
                continue;
            };
            let at = format!("levels[{i}].targets[{j}].id");
            *raw = match kind.as_str() {
                "user" => terms::user(state, raw, At::Field(&at)).await?.to_string(),
                "schedule" => terms::schedule(state, raw, At::Field(&at))
                    .await?
                    .to_string(),
                _ => continue,
            };
        }
    }
    Ok(())
}

/// Checks the plan and that every user it targets exists and is active, and every schedule
/// exists.
async fn checked_plan(state: &AppState, levels: Vec<Level>, repeat: u32) -> ApiResult<Plan> {
    let plan = Plan::new(levels, repeat)?;
    for (i, level) in plan.levels.iter().enumerate() {
        let field = format!("levels[{i}].targets");
        for target in &level.targets {
            match *target {
                Target::User(u) => {
                    crate::people::manage::active_user(state, &field, u).await?;
                }
                Target::Schedule(s) => match state.store.schedule(s).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {
                        return Err(ApiError::invalid(field, format!("no schedule {s}")));
                    }
                    Err(e) => return Err(e.into()),
                },
            }
        }
    }
    Ok(plan)
}

fn policy_conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { constraint } if constraint == "escalation_policies_name" => {
            ApiError::Conflict {
                message: "an escalation policy with this name exists".into(),
                field: Some("name".into()),
            }
        }
        StoreError::Conflict { constraint } if constraint == "escalation_policy_in_use" => {
            ApiError::Conflict {
                message: "services use this escalation policy: give them another first".into(),
                field: None,
            }
        }
        e => ApiError::or_not_found("escalation policy")(e),
    }
}

/// Lists escalation policies.
#[utoipa::path(get, path = "/api/v1/escalation-policies", tag = "on-call", params(PageParams),
    responses((status = 200, body = ListOf<PolicyOut>), (status = 400, body = ErrorBody)))]
async fn list_policies(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<PolicyOut>>> {
    caller.require(Role::Viewer)?;
    let limit = Limit::parse(p.limit)?;
    let after = decode_cursor::<EscalationPolicyId>("escalation-policies", p.cursor.as_deref())?;
    let page = state
        .store
        .list_escalation_policies(after, limit.get())
        .await?;
    Ok(Json(ListOf {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(|id| encode_cursor("escalation-policies", id)),
    }))
}

/// Creates an escalation policy (admin).
#[utoipa::path(post, path = "/api/v1/escalation-policies", tag = "on-call", request_body = CreatePolicy,
    responses((status = 201, body = PolicyOut), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut body): ApiJson<serde_json::Value>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    target_ids(&state, &mut body).await?;
    let body: CreatePolicy = terms::from_json(&body)?;
    let p = create_policy_with(&state, caller.actor(), body).await?;
    Ok((StatusCode::CREATED, Json(PolicyOut::from(p))))
}

pub async fn create_policy_with(
    state: &AppState,
    actor: Actor,
    body: CreatePolicy,
) -> ApiResult<EscalationPolicy> {
    let now = state.clock.now();
    let policy = EscalationPolicy {
        id: EscalationPolicyId::new(now, random_bytes()),
        name: rules::text(&body.name, "name", rules::NAME_MAX)?,
        description: rules::optional_text(
            &body.description,
            "description",
            rules::DESCRIPTION_MAX,
        )?,
        plan: checked_plan(state, body.levels, body.repeat).await?,
        created_at: now,
        updated_at: now,
    };
    let e = NewEvent::new(
        SubjectType::EscalationPolicy,
        policy.id,
        now,
        actor,
        EventKind::EscalationPolicyCreated,
        json!({"name": policy.name, "levels": policy.plan.levels, "repeat": policy.plan.repeat}),
    );
    state
        .store
        .create_escalation_policy(policy, e)
        .await
        .map_err(policy_conflict)
}

/// One escalation policy.
#[utoipa::path(get, path = "/api/v1/escalation-policies/{id}", tag = "on-call",
    params(("id" = String, Path, description = terms::doc::POLICY, min_length = 1)),
    responses((status = 200, body = PolicyOut), (status = 404, body = ErrorBody)))]
async fn get_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PolicyOut>> {
    caller.require(Role::Viewer)?;
    let id = terms::policy(&state, &id, At::Path("id")).await?;
    let p = state
        .store
        .escalation_policy(id)
        .await
        .map_err(ApiError::or_not_found("escalation policy"))?;
    Ok(Json(p.into()))
}

/// Changes an escalation policy (admin). Incidents already escalating follow the new levels
/// from their next step.
#[utoipa::path(patch, path = "/api/v1/escalation-policies/{id}", tag = "on-call", request_body = UpdatePolicy,
    params(("id" = String, Path, description = terms::doc::POLICY, min_length = 1)),
    responses((status = 200, body = PolicyOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn update_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(mut body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<PolicyOut>> {
    caller.require(Role::Admin)?;
    let id = terms::policy(&state, &id, At::Path("id")).await?;
    target_ids(&state, &mut body).await?;
    let body: UpdatePolicy = terms::from_json(&body)?;
    let mut p = state
        .store
        .escalation_policy(id)
        .await
        .map_err(ApiError::or_not_found("escalation policy"))?;
    let mut changed = serde_json::Map::new();
    if let Some(name) = &body.name {
        p.name = rules::text(name, "name", rules::NAME_MAX)?;
        changed.insert("name".into(), json!(p.name));
    }
    if let Some(d) = &body.description {
        p.description = rules::optional_text(d, "description", rules::DESCRIPTION_MAX)?;
        changed.insert("description".into(), json!(p.description));
    }
    if body.levels.is_some() || body.repeat.is_some() {
        let levels = body.levels.unwrap_or_else(|| p.plan.levels.clone());
        let repeat = body.repeat.unwrap_or(p.plan.repeat);
        p.plan = checked_plan(&state, levels, repeat).await?;
        changed.insert("levels".into(), json!(p.plan.levels));
        changed.insert("repeat".into(), json!(p.plan.repeat));
    }
    let now = state.clock.now();
    p.updated_at = now;
    let e = NewEvent::new(
        SubjectType::EscalationPolicy,
        id,
        now,
        caller.actor(),
        EventKind::EscalationPolicyUpdated,
        serde_json::Value::Object(changed),
    );
    let p = state
        .store
        .update_escalation_policy(p, e)
        .await
        .map_err(policy_conflict)?;
    Ok(Json(p.into()))
}

/// Deletes an escalation policy (admin); refused while services use it.
#[utoipa::path(delete, path = "/api/v1/escalation-policies/{id}", tag = "on-call",
    params(("id" = String, Path, description = terms::doc::POLICY, min_length = 1)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let id = terms::policy(&state, &id, At::Path("id")).await?;
    delete_policy_with(&state, caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes an escalation policy; shared by the API and the web UI.
pub async fn delete_policy_with(
    state: &AppState,
    actor: Actor,
    id: EscalationPolicyId,
) -> ApiResult<()> {
    let e = NewEvent::new(
        SubjectType::EscalationPolicy,
        id,
        state.clock.now(),
        actor,
        EventKind::EscalationPolicyDeleted,
        json!({}),
    );
    state
        .store
        .delete_escalation_policy(id, e)
        .await
        .map_err(policy_conflict)
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
        }
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
    let m = create_contact_method_with(&state, caller.actor(), &caller.user, user, body).await?;
    Ok((StatusCode::CREATED, Json(ContactMethodOut::new(m, true))))
}

/// Checks and stores a contact method for `user`, after checking the password of `who` (the
/// signed-in user); shared by the API and the web UI. The answer carries a webhook's secret.
pub async fn create_contact_method_with(
    state: &AppState,
    actor: Actor,
    who: &User,
    user: UserId,
    body: CreateContactMethod,
) -> ApiResult<ContactMethod> {
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
    state
        .store
        .create_contact_method(m, e)
        .await
        .map_err(ApiError::or_not_found("user"))
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
    let mut m = own_method(&state, &caller, &id).await?;
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
    check_password(&state, &caller.user, &body.password).await?;
    changed.insert("contact_method_id".into(), json!(m.id));
    let e = NewEvent::new(
        SubjectType::User,
        m.user_id,
        state.clock.now(),
        caller.actor(),
        EventKind::ContactMethodChanged,
        serde_json::Value::Object(changed),
    );
    let m = state
        .store
        .update_contact_method(m, e)
        .await
        .map_err(ApiError::or_not_found("contact method"))?;
    Ok(Json(ContactMethodOut::new(m, false)))
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

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: NotificationId,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub incident_id: Option<IncidentId>,
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    pub channel: ContactKind,
    /// `pending`, `sending`, `sent`, `failed` or `cancelled`.
    pub status: NotificationStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<Timestamp>,
}

impl From<Notification> for NotificationOut {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            incident_id: n.incident_id,
            user_id: n.user_id,
            channel: n.kind,
            status: n.status,
            attempts: n.attempts,
            last_error: n.last_error,
            created_at: n.created_at,
            sent_at: n.sent_at,
        }
    }
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

/// Adds a notification rule: after N minutes, through one of the user's contact methods.
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

/// Checks and stores a notification rule of `user`; shared by the API and the web UI.
pub async fn create_rule_with(
    state: &AppState,
    actor: Actor,
    user: UserId,
    body: CreateRule,
) -> ApiResult<NotificationRule> {
    let method: ContactMethodId = body
        .contact_method_id
        .parse()
        .map_err(|_| ApiError::invalid("contact_method_id", "is not an id"))?;
    let urgency = body.urgency.unwrap_or(Urgency::High);
    if urgency == Urgency::Medium {
        return Err(ApiError::invalid(
            "urgency",
            "a notification rule is for high or low urgency; medium incidents page by the high rules",
        ));
    }
    let now = state.clock.now();
    let r = NotificationRule {
        id: NotificationRuleId::new(now, random_bytes()),
        user_id: user,
        contact_method_id: method,
        delay_minutes: contact::rule_delay(body.delay_minutes)?,
        urgency,
        created_at: now,
    };
    let e = NewEvent::new(
        SubjectType::User,
        user,
        now,
        actor,
        EventKind::NotificationRuleAdded,
        json!({"rule_id": r.id, "contact_method_id": method, "delay_minutes": r.delay_minutes,
               "urgency": r.urgency}),
    );
    state
        .store
        .create_notification_rule(r, e)
        .await
        .map_err(|e| match e {
            e if e.is_not_found() => ApiError::invalid(
                "contact_method_id",
                "is not one of this user's contact methods",
            ),
            e => e.into(),
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
