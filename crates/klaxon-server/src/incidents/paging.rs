//! Paging on an incident: acknowledge and resolve from a tool, escalate now, reassign, and the
//! pages sent.
use crate::incidents::list::IncidentOut;
use crate::shared::api::{ApiJson, ApiQuery, Caller, ListOf, PageParams, decode_cursor, page_of};
use crate::shared::crypto::{random_bytes, random_token};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};
use axum::Json;
use axum::extract::{Path, State};
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{IncidentId, NotificationId};
use klaxon_domain::incident::IncidentStatus;
use klaxon_domain::page::Limit;
use klaxon_store::StoreError;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::oncall::api::NotificationOut;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(acknowledge_incident))
        .routes(routes!(resolve_incident))
        .routes(routes!(escalate_incident))
        .routes(routes!(reassign_incident))
        .routes(routes!(incident_notifications))
}

// --- incidents: acknowledge, resolve, notifications ---------------------------------------------

/// Acknowledges an incident and its alerts: the escalation stops (responder).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/acknowledge", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 200, body = IncidentOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn acknowledge_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let who = crate::incidents::api::Who::caller(&caller);
    let i = crate::incidents::api::move_with(&state, who, id, IncidentStatus::Acknowledged, None)
        .await?;
    Ok(Json(i.into()))
}

/// Resolves an incident and its open alerts: everything stops (responder).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/resolve", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 200, body = IncidentOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn resolve_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let who = crate::incidents::api::Who::caller(&caller);
    let i =
        crate::incidents::api::move_with(&state, who, id, IncidentStatus::Resolved, None).await?;
    Ok(Json(i.into()))
}

/// "Escalate now", shared by the API and the web UI: the next level is paged at once.
pub async fn escalate_incident_with(
    state: &AppState,
    actor: Actor,
    id: IncidentId,
) -> ApiResult<(klaxon_store::Incident, u32)> {
    let now = state.clock.now();
    let e = NewEvent::new(
        SubjectType::Incident,
        id,
        now,
        actor,
        EventKind::IncidentEscalatedByHand,
        json!({}),
    );
    let step = state
        .store
        .escalate_incident(
            id,
            now,
            klaxon_domain::ids::JobId::new(now, random_bytes()),
            e,
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict { constraint } if constraint == "no_escalation_policy" => {
                ApiError::Conflict {
                    message: "the incident's service has no escalation policy".into(),
                    field: None,
                }
            }
            StoreError::Conflict { .. } => ApiError::Conflict {
                message: "a resolved incident does not escalate".into(),
                field: None,
            },
            e => ApiError::or_not_found("incident")(e),
        })?;
    state.engine.wake();
    let incident = state
        .store
        .incident(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    Ok((incident, step))
}

/// Pages the next escalation level now instead of after the current level's delay; an
/// acknowledged incident becomes triggered again (responder).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/escalate", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 200, body = IncidentOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn escalate_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let (i, _) = escalate_incident_with(&state, caller.actor(), id).await?;
    Ok(Json(i.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reassign {
    /// The person who takes the incident over: their id or e-mail address.
    #[schema(min_length = 1)]
    pub user_id: String,
}

/// Reassigns an incident to one person, shared by the API and the web UI: that person is
/// paged now, the escalation policy stops.
pub async fn reassign_incident_with(
    state: &AppState,
    actor: Actor,
    id: IncidentId,
    raw_user: &str,
) -> ApiResult<klaxon_store::Incident> {
    let user = terms::user(state, raw_user, At::Field("user_id")).await?;
    crate::people::manage::active_user(state, "user_id", user).await?;
    let incident = state
        .store
        .incident(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let service = match incident.service_id {
        Some(s) => match state.store.service(s).await {
            Ok(s) => Some(s),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let now = state.clock.now();
    let key = format!("incident:{id}:reassign:{}", random_token());
    let pages = crate::oncall::paging::pages_for(
        state.store.as_ref(),
        &state.settings,
        &incident,
        service.as_ref(),
        user,
        &key,
        None,
        now,
    )
    .await?;
    let e = NewEvent::new(
        SubjectType::Incident,
        id,
        now,
        actor,
        EventKind::IncidentReassigned,
        json!({"user_id": user, "paged": !pages.is_empty()}),
    );
    state
        .store
        .reassign_incident(id, pages, e)
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => ApiError::Conflict {
                message: "a resolved incident cannot be reassigned".into(),
                field: None,
            },
            e => ApiError::or_not_found("incident")(e),
        })?;
    state.engine.wake();
    state
        .store
        .incident(id)
        .await
        .map_err(ApiError::or_not_found("incident"))
}

/// Reassigns an incident to one person: they are paged now through their notification rules,
/// and the escalation policy stops ("escalate now" takes it up again) (responder).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/reassign", tag = "incidents", request_body = Reassign,
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 200, body = IncidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn reassign_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reassign>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let i = reassign_incident_with(&state, caller.actor(), id, &body.user_id).await?;
    Ok(Json(i.into()))
}

/// The notifications an incident produced, oldest first.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/notifications", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1), PageParams),
    responses((status = 200, body = ListOf<NotificationOut>), (status = 404, body = ErrorBody)))]
async fn incident_notifications(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<NotificationOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    state
        .store
        .incident(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let limit = Limit::parse(p.limit)?.get();
    let after = decode_cursor::<NotificationId>("notifications", p.cursor.as_deref())?;
    let items = state
        .store
        .list_notifications(Some(id), None, after, limit + 1)
        .await?;
    let page = page_of("notifications", items, limit as usize, |n| n.id, Into::into);
    Ok(Json(page))
}
