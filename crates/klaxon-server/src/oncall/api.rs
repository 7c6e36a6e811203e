//! The REST API for on-call: escalation policies (this file), and users' contact methods,
//! notification rules and test notifications (`contacts_api`).
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use jiff::Timestamp;
use klaxon_domain::auth::Role;
use klaxon_domain::contact::{ContactKind, NotificationStatus};
use klaxon_domain::escalation::{Level, Plan, Target};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{EscalationPolicyId, IncidentId, NotificationId, UserId};
use klaxon_domain::page::Limit;
use klaxon_domain::reach::{self, LevelReach};
use klaxon_domain::service as rules;
use klaxon_store::{EscalationPolicy, Notification, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::shared::api::{
    ApiJson, ApiQuery, Caller, ListOf, PageParams, decode_cursor, encode_cursor,
};
use crate::shared::crypto::random_bytes;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub use super::contacts_api::{
    AddedMethod, CreateContactMethod, CreateRule, UpdateContactMethod, UpdateRule, check_kind_with,
    create_contact_method_with, create_rule_with, delete_contact_method_with, delete_rule_with,
    test_contact_method_with, update_contact_method_with, update_rule_with,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_policies, create_policy))
        .routes(routes!(get_policy, update_policy, delete_policy))
        .merge(super::contacts_api::router())
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
    /// Each level judged now, for pages of every urgency: whether it reaches anyone, for which
    /// urgency it does not, and every person or schedule it cannot reach, with why (see
    /// docs/oncall.md).
    pub reach: Vec<LevelReach>,
}

impl PolicyOut {
    fn new(p: EscalationPolicy, reach: Vec<LevelReach>) -> Self {
        Self {
            id: p.id,
            name: p.name,
            description: p.description,
            levels: p.plan.levels,
            repeat: p.plan.repeat,
            created_at: p.created_at,
            updated_at: p.updated_at,
            reach,
        }
    }
}

/// Policies for an answer, each judged now; the facts are read once for all of them.
pub async fn policies_out(
    state: &AppState,
    policies: Vec<EscalationPolicy>,
) -> ApiResult<Vec<PolicyOut>> {
    let plans: Vec<&Plan> = policies.iter().map(|p| &p.plan).collect();
    let facts =
        crate::shared::reach::facts(state.store.as_ref(), &plans, &[], state.clock.now()).await?;
    Ok(policies
        .into_iter()
        .map(|p| {
            let r = reach::plan_reach(&p.plan, &facts);
            PolicyOut::new(p, r)
        })
        .collect())
}

async fn policy_out(state: &AppState, p: EscalationPolicy) -> ApiResult<PolicyOut> {
    let r = crate::shared::reach::plan_reach(state, &p.plan).await?;
    Ok(PolicyOut::new(p, r))
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
        items: policies_out(&state, page.items).await?,
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
    Ok((StatusCode::CREATED, Json(policy_out(&state, p).await?)))
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
    Ok(Json(policy_out(&state, p).await?))
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
    let p = update_policy_with(&state, caller.actor(), id, body).await?;
    Ok(Json(policy_out(&state, p).await?))
}

/// Changes an escalation policy; fields left out keep their value. Shared by the API and the
/// web UI.
pub async fn update_policy_with(
    state: &AppState,
    actor: Actor,
    id: EscalationPolicyId,
    body: UpdatePolicy,
) -> ApiResult<EscalationPolicy> {
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
        p.plan = checked_plan(state, levels, repeat).await?;
        changed.insert("levels".into(), json!(p.plan.levels));
        changed.insert("repeat".into(), json!(p.plan.repeat));
    }
    let now = state.clock.now();
    p.updated_at = now;
    let e = NewEvent::new(
        SubjectType::EscalationPolicy,
        id,
        now,
        actor,
        EventKind::EscalationPolicyUpdated,
        serde_json::Value::Object(changed),
    );
    state
        .store
        .update_escalation_policy(p, e)
        .await
        .map_err(policy_conflict)
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
