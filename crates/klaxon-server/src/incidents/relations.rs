//! Related incidents, both ways, and merging a duplicate into another.
use crate::incidents::list::IncidentOut;
use crate::shared::api::{ApiJson, ApiQuery, Caller, ListOf, PageParams, page_in_memory};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};
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
    let other = terms::incident(state, other, At::Field("incident_id")).await?;
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
    let into = terms::incident(state, into, At::Field("into")).await?;
    // Practice and the real thing never share alerts: a drill's stay out of every metric.
    if let (Ok(a), Ok(b)) = (
        state.store.incident(id).await,
        state.store.incident(into).await,
    ) && a.is_drill != b.is_drill
    {
        return Err(ApiError::invalid(
            "into",
            "one of the two is a drill and the other is not: a drill is never merged with a \
             real incident",
        ));
    }
    let now = state.clock.now();
    let r = state.store.merge_incident(id, into, now, who.actor).await;
    let target = two_incidents(state, id, "into", r).await?;
    state.incident_changes.notify_waiters();
    state.engine.wake();
    Ok(target)
}

/// The incidents related to this one, newest first.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/related", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1), PageParams),
    responses((status = 200, body = ListOf<IncidentOut>), (status = 404, body = ErrorBody)))]
async fn list_related(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<IncidentOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
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
    /// The other incident: its id, or its number (`75` or `#75`).
    #[schema(min_length = 1)]
    pub incident_id: String,
}

/// Relates another incident to this one (both ways) (responder). 201 with the related
/// incident.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/related", tag = "incidents", request_body = Relate,
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 201, body = IncidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn relate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Relate>,
) -> ApiResult<(StatusCode, Json<IncidentOut>)> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    relate_with(&state, Who::caller(&caller), id, &body.incident_id, true).await?;
    // Parsed above, or the relation would have been refused.
    let other = terms::incident(&state, &body.incident_id, At::Field("incident_id")).await?;
    let related = state
        .store
        .incident(other)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    Ok((StatusCode::CREATED, Json(related.into())))
}

/// Unrelates two incidents (responder).
#[utoipa::path(delete, path = "/api/v1/incidents/{id}/related/{other_id}", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1), ("other_id" = String, Path, description = "The related incident's id, or its number", min_length = 1)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn unrelate(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, other)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let other = terms::incident(&state, &other, At::Path("other_id")).await?;
    relate_with(&state, Who::caller(&caller), id, &other.to_string(), false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    /// The incident this one duplicates: its id, or its number (`75` or `#75`).
    #[schema(min_length = 1)]
    pub into: String,
}

/// Merges this incident, a duplicate, into another (responder): its alerts move there, it is
/// resolved and points at the other. Answers with the incident merged into.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/merge", tag = "incidents", request_body = Merge,
    params(("id" = String, Path, description = "The duplicate's id, or its number", min_length = 1)),
    responses((status = 200, body = IncidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn merge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Merge>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    Ok(Json(
        merge_with(&state, Who::caller(&caller), id, &body.into)
            .await?
            .into(),
    ))
}
