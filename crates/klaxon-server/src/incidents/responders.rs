//! Responders: roles with their history, and paging people into an incident.
use crate::incidents::list::IncidentOut;
use crate::shared::api::{ApiJson, ApiQuery, Caller, ListOf, PageParams, page_in_memory};
use crate::shared::config::IncidentRules;
use crate::shared::crypto::random_bytes;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use klaxon_domain::auth::Role;
use klaxon_domain::event::EventKind;
use klaxon_domain::ids::{IncidentId, RoleAssignmentId, UserId};
use klaxon_domain::incident::{self as rules, COMMANDER, IncidentStatus, Refusal};
use klaxon_store::{Incident, IncidentChange, IncidentEdit, IncidentSnapshot, RoleAssignment};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{Who, change, ev, existing_user, new_role};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, assign_role))
        .routes(routes!(unassign_role))
        .routes(routes!(page_into))
}

// --- paging people in ---------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PageInto {
    /// A person to page: their id or e-mail address.
    #[schema(schema_with = crate::shared::api::nullable_id_or_empty)]
    pub user_id: Option<String>,
    /// Or a role: whoever holds it now is paged.
    pub role: Option<String>,
    /// Or a team, by its escalation policy's id or name: the policy's first level is paged (its
    /// people, and whoever is on call now in its schedules).
    #[schema(schema_with = crate::shared::api::nullable_id_or_empty)]
    pub escalation_policy_id: Option<String>,
    /// Why they are needed, shown on the timeline.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub message: String,
}

/// Pages people into an open incident through their notification rules, without touching its
/// escalation or status. Pages stand while the incident is open, acknowledged or not; each call
/// pages again.
pub async fn page_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    p: PageInto,
) -> ApiResult<Incident> {
    let message = rules::parse_text("message", &p.message, 500)?;
    let incident = state
        .store
        .incident(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let team = p.escalation_policy_id.clone().filter(|e| !e.is_empty());
    let (users, role) = match (
        p.user_id.as_deref().filter(|u| !u.is_empty()),
        p.role.as_deref().filter(|r| !r.is_empty()),
        p.escalation_policy_id.as_deref().filter(|e| !e.is_empty()),
    ) {
        (Some(u), None, None) => (vec![existing_user(state, "user_id", u).await?], None),
        (None, None, Some(e)) => {
            let pid = terms::policy(state, e, At::Field("escalation_policy_id")).await?;
            let policy = match state.store.escalation_policy(pid).await {
                Ok(p) => p,
                Err(e) if e.is_not_found() => {
                    return Err(ApiError::invalid(
                        "escalation_policy_id",
                        "no escalation policy has this id",
                    ));
                }
                Err(e) => return Err(e.into()),
            };
            let first = policy
                .plan
                .levels
                .first()
                .map(|l| l.targets.clone())
                .unwrap_or_default();
            let reached = crate::oncall::schedules::api::reach(
                state.store.as_ref(),
                &first,
                state.clock.now(),
            )
            .await?;
            if reached.users.is_empty() {
                return Err(ApiError::Conflict {
                    message: "escalation_policy_id: nobody is on call at its first level now"
                        .into(),
                    field: Some("escalation_policy_id".into()),
                });
            }
            (reached.users, None)
        }
        (None, Some(r), None) => {
            let def = state.incident_rules.roles.parse(r)?.clone();
            let holders: Vec<UserId> = state
                .store
                .incident_roles(id, false)
                .await?
                .into_iter()
                .filter(|h| h.role == def.key)
                .map(|h| h.user_id)
                .collect();
            if holders.is_empty() {
                return Err(ApiError::Conflict {
                    message: format!("role: nobody holds the role {}", def.key),
                    field: Some("role".into()),
                });
            }
            (holders, Some(def.key))
        }
        _ => {
            return Err(ApiError::invalid(
                "user_id",
                "give one of user_id, role or escalation_policy_id",
            ));
        }
    };
    let service = match incident.service_id {
        Some(s) => state.store.service(s).await.ok(),
        None => None,
    };
    let now = state.clock.now();
    let nonce = random_bytes::<8>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let mut pages = Vec::new();
    let mut paged = Vec::new();
    for user in &users {
        let key = format!("{}{id}:{user}:{nonce}", klaxon_store::RESPONDER_KEY_PREFIX);
        let mine = crate::oncall::paging::pages_for(
            state.store.as_ref(),
            &state.settings,
            &incident,
            service.as_ref(),
            *user,
            &key,
            None,
            now,
        )
        .await?;
        if !mine.is_empty() {
            paged.push(*user);
        }
        pages.extend(mine);
    }
    if pages.is_empty() {
        return Err(ApiError::Conflict {
            message: format!(
                "{}: has no notification rule for {} urgency, so cannot be paged",
                if role.is_some() { "role" } else { "user_id" },
                incident.urgency.pages_as()
            ),
            field: Some(if role.is_some() { "role" } else { "user_id" }.into()),
        });
    }
    let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
        if !snap.incident.status.is_open() {
            return Err(Refusal::conflict(
                "status",
                format!(
                    "the incident is {}; nobody is paged into it",
                    snap.incident.status
                ),
            ));
        }
        let mut c = IncidentChange::of(snap, now, who.actor);
        for user in &paged {
            let mut data = json!({"user_id": user, "role": role, "escalation_policy_id": team});
            if !message.is_empty() {
                data["message"] = json!(message);
            }
            c.events.push(ev(
                c.incident.id,
                now,
                who,
                EventKind::IncidentResponderPaged,
                data,
            ));
        }
        c.pages = pages;
        Ok(c)
    });
    change(state, id, edit).await
}

/// Pages a person, or whoever holds a role, into the incident (responder).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/page", tag = "incidents", request_body = PageInto,
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 200, body = IncidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn page_into(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PageInto>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    Ok(Json(
        page_with(&state, Who::caller(&caller), id, body)
            .await?
            .into(),
    ))
}

// --- roles --------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleOut {
    /// The role assignment's id.
    #[schema(value_type = String, format = Uuid)]
    pub id: RoleAssignmentId,
    pub role: String,
    /// The role's display name.
    pub name: String,
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    #[schema(value_type = String, format = DateTime)]
    pub assigned_at: Timestamp,
    /// `system`, `user:<id>` or `token:<id>`.
    pub assigned_by: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Timestamp>,
    pub ended_by: Option<String>,
}

fn role_out(rules: &IncidentRules, r: RoleAssignment) -> RoleOut {
    RoleOut {
        id: r.id,
        name: rules
            .roles
            .get(&r.role)
            .map_or_else(|| r.role.clone(), |d| d.name.clone()),
        role: r.role,
        user_id: r.user_id,
        assigned_at: r.assigned_at,
        assigned_by: r.assigned_by.encode(),
        ended_at: r.ended_at,
        ended_by: r.ended_by.map(|a| a.encode()),
    }
}

/// Assigns a role. A role one person holds at a time is handed over.
pub async fn assign_role_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    role: &str,
    user: &str,
) -> ApiResult<Incident> {
    let def = state.incident_rules.roles.parse(role)?.clone();
    let user = existing_user(state, "user_id", user).await?;
    let now = state.clock.now();
    let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
        if snap.incident.status == IncidentStatus::Closed {
            return Err(Refusal::conflict(
                "status",
                "a closed incident's roles are final",
            ));
        }
        let holders: Vec<UserId> = snap.holders(&def.key).map(|r| r.user_id).collect();
        if holders.contains(&user) {
            return Err(Refusal::conflict(
                "user_id",
                format!("already holds the role {}", def.key),
            ));
        }
        let mut c = IncidentChange::of(snap, now, who.actor);
        let mut data = json!({"role": def.key, "user_id": user});
        if !def.multiple && !holders.is_empty() {
            for h in &holders {
                c.unassign.push((def.key.clone(), *h));
            }
            data["replaces"] = json!(holders);
        }
        c.assign
            .push(new_role(c.incident.id, &def.key, user, now, who));
        c.events.push(ev(
            c.incident.id,
            now,
            who,
            EventKind::IncidentRoleAssigned,
            data,
        ));
        Ok(c)
    });
    change(state, id, edit).await
}

/// Ends someone's role. The commander of an acknowledged SEV1 or SEV2 cannot just step
/// down: hand command to someone instead.
pub async fn unassign_role_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    role: &str,
    user: &str,
) -> ApiResult<Incident> {
    let def = state.incident_rules.roles.parse(role)?.clone();
    let user = terms::user(state, user, At::Field("user_id")).await?;
    let now = state.clock.now();
    let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
        if snap.incident.status == IncidentStatus::Closed {
            return Err(Refusal::conflict(
                "status",
                "a closed incident's roles are final",
            ));
        }
        if !snap.holders(&def.key).any(|r| r.user_id == user) {
            return Err(Refusal::conflict(
                "user_id",
                format!("does not hold the role {}", def.key),
            ));
        }
        let mut c = IncidentChange::of(snap, now, who.actor);
        c.unassign.push((def.key.clone(), user));
        if def.key == COMMANDER
            && rules::needs_commander(snap.incident.severity, snap.incident.status)
        {
            return Err(Refusal::conflict(
                "role",
                "a SEV1 or SEV2 incident under way keeps a commander: assign the new commander instead",
            ));
        }
        c.events.push(ev(
            c.incident.id,
            now,
            who,
            EventKind::IncidentRoleUnassigned,
            json!({"role": def.key, "user_id": user}),
        ));
        Ok(c)
    });
    change(state, id, edit).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RolesParams {
    /// Everyone who ever held a role, with when they stopped.
    pub history: Option<bool>,
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Who holds the incident's roles (or held them, with `history=true`).
#[utoipa::path(get, path = "/api/v1/incidents/{id}/roles", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1), RolesParams),
    responses((status = 200, body = ListOf<RoleOut>), (status = 404, body = ErrorBody)))]
async fn list_roles(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<RolesParams>,
) -> ApiResult<Json<ListOf<RoleOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let roles = state
        .store
        .incident_roles(id, p.history.unwrap_or(false))
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let page = PageParams {
        limit: p.limit,
        cursor: p.cursor,
    };
    Ok(Json(page_in_memory("roles", roles, &page, |r| {
        role_out(&state.incident_rules, r)
    })?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRole {
    /// A role key: `commander`, `communications_lead`, `scribe`, `subject_matter_expert` or
    /// one of the organisation's own.
    pub role: String,
    /// The user: their id or e-mail address.
    #[schema(min_length = 1)]
    pub user_id: String,
}

/// Assigns a role (responder); the current holder of a one-person role is replaced. 201 with
/// the new role assignment.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/roles", tag = "incidents", request_body = AssignRole,
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 201, body = RoleOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn assign_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignRole>,
) -> ApiResult<(StatusCode, Json<RoleOut>)> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    assign_role_with(&state, Who::caller(&caller), id, &body.role, &body.user_id).await?;
    // Both parsed above, or the assignment would have been refused.
    let role = state.incident_rules.roles.parse(&body.role)?.key.clone();
    let user = terms::user(&state, &body.user_id, At::Field("user_id")).await?;
    // The current holder; failing that (ended by someone else meanwhile) the newest in the
    // history, which is oldest first.
    let mut found = None;
    for history in [false, true] {
        let roles = state
            .store
            .incident_roles(id, history)
            .await
            .map_err(ApiError::or_not_found("incident"))?;
        found = roles
            .into_iter()
            .rev()
            .find(|r| r.role == role && r.user_id == user);
        if found.is_some() {
            break;
        }
    }
    let r = found.ok_or_else(|| ApiError::not_found("role assignment"))?;
    Ok((
        StatusCode::CREATED,
        Json(role_out(&state.incident_rules, r)),
    ))
}

/// Ends a person's role (responder).
#[utoipa::path(delete, path = "/api/v1/incidents/{id}/roles/{role}/{user_id}", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1), ("role" = String, Path, description = "Role key"),
           ("user_id" = String, Path, description = terms::doc::USER, min_length = 1)),
    responses((status = 200, body = IncidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn unassign_role(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, role, user)): Path<(String, String, String)>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let user = terms::user(&state, &user, At::Path("user_id")).await?;
    let i = unassign_role_with(&state, Who::caller(&caller), id, &role, &user.to_string()).await?;
    Ok(Json(i.into()))
}
