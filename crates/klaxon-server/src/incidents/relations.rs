//! Related incidents, both ways, and merging a duplicate into another.
use crate::incidents::list::IncidentOut;
use crate::shared::api::{
    ApiJson, ApiQuery, Caller, ListOf, PageParams, page_in_memory, parse_field_id, parse_id,
};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use klaxon_domain::auth::Role;
use klaxon_domain::ids::IncidentId;
use klaxon_domain::incident::Refusal;
use klaxon_store::Incident;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::Who;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_related, relate))
        .routes(routes!(unrelate))
        .routes(routes!(merge))
}

// --- related incidents and merging ----------------------------------------------------------

/// A store answer about two incidents: `id` (the path's, 404 when missing) and another named
/// by `field` in the body (400 naming it when missing).
async fn two_incidents<T>(
    state: &AppState,
    id: IncidentId,
    field: &'static str,
    r: klaxon_store::StoreResult<Result<T, Refusal>>,
) -> ApiResult<T> {
    match r {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) if e.is_not_found() => {
            state
                .store
                .incident(id)
                .await
                .map_err(ApiError::or_not_found("incident"))?;
            Err(ApiError::invalid(field, "no incident has this id"))
        }
        Err(e) => Err(e.into()),
    }
}

/// Relates two incidents, or unrelates them.
pub async fn relate_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    other: &str,
    related: bool,
) -> ApiResult<()> {
    let other = parse_field_id::<IncidentId>(other, "incident_id")?;
    let now = state.clock.now();
    let r = state
        .store
        .relate_incidents(id, other, related, now, who.actor)
        .await;
    two_incidents(state, id, "incident_id", r).await?;
    state.incident_changes.notify_waiters();
    Ok(())
}

/// Merges the duplicate `id` into `into`: its alerts move there and it is resolved.
pub async fn merge_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    into: &str,
) -> ApiResult<Incident> {
    let into = parse_field_id::<IncidentId>(into, "into")?;
    let now = state.clock.now();
    let r = state.store.merge_incident(id, into, now, who.actor).await;
    let target = two_incidents(state, id, "into", r).await?;
    state.incident_changes.notify_waiters();
    state.engine.wake();
    Ok(target)
}

/// The incidents related to this one, newest first.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/related", tag = "incidents",
    params(("id" = uuid::Uuid, Path, description = "Incident id"), PageParams),
    responses((status = 200, body = ListOf<IncidentOut>), (status = 404, body = ErrorBody)))]
async fn list_related(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<IncidentOut>>> {
    caller.require(Role::Viewer)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    let items = state
        .store
        .related_incidents(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    Ok(Json(page_in_memory("related", items, &p, Into::into)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Relate {
    #[schema(value_type = uuid::Uuid)]
    pub incident_id: String,
}

/// Relates another incident to this one (both ways) (responder). 201 with the related
/// incident.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/related", tag = "incidents", request_body = Relate,
    params(("id" = uuid::Uuid, Path, description = "Incident id")),
    responses((status = 201, body = IncidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn relate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Relate>,
) -> ApiResult<(StatusCode, Json<IncidentOut>)> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    relate_with(&state, Who::caller(&caller), id, &body.incident_id, true).await?;
    // Parsed above, or the relation would have been refused.
    let other = parse_field_id::<IncidentId>(&body.incident_id, "incident_id")?;
    let related = state
        .store
        .incident(other)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    Ok((StatusCode::CREATED, Json(related.into())))
}

/// Unrelates two incidents (responder).
#[utoipa::path(delete, path = "/api/v1/incidents/{id}/related/{other_id}", tag = "incidents",
    params(("id" = uuid::Uuid, Path, description = "Incident id"), ("other_id" = uuid::Uuid, Path, description = "The related incident's id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn unrelate(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, other)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    relate_with(&state, Who::caller(&caller), id, &other, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    /// The incident this one duplicates.
    #[schema(value_type = uuid::Uuid)]
    pub into: String,
}

/// Merges this incident, a duplicate, into another (responder): its alerts move there, it is
/// resolved and points at the other. Answers with the incident merged into.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/merge", tag = "incidents", request_body = Merge,
    params(("id" = uuid::Uuid, Path, description = "The duplicate's id")),
    responses((status = 200, body = IncidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn merge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Merge>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    Ok(Json(
        merge_with(&state, Who::caller(&caller), id, &body.into)
            .await?
            .into(),
    ))
}
