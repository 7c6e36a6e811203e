//! Maintenance windows: while one is on, a service's alerts are recorded but open no incident.
use crate::shared::api::{
    ApiJson, ApiQuery, Caller, ListOf, PageParams, page_in_memory, parse_field_id,
};
use crate::shared::crypto::random_bytes;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use jiff::Timestamp;
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{MaintenanceWindowId, ServiceId};
use klaxon_domain::service as rules;
use klaxon_store::MaintenanceWindow;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_maintenance, create_maintenance))
        .routes(routes!(delete_maintenance))
}

// --- maintenance windows ------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct MaintenanceOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: MaintenanceWindowId,
    #[schema(value_type = String, format = Uuid)]
    pub service_id: ServiceId,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: Timestamp,
    pub description: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<MaintenanceWindow> for MaintenanceOut {
    fn from(w: MaintenanceWindow) -> Self {
        Self {
            id: w.id,
            service_id: w.service_id,
            starts_at: w.starts_at,
            ends_at: w.ends_at,
            description: w.description,
            created_at: w.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMaintenance {
    /// Default: now.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub starts_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: Timestamp,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
}

/// The service's current and future maintenance windows.
#[utoipa::path(get, path = "/api/v1/services/{id}/maintenance-windows", tag = "services",
    params(("id" = String, Path, description = terms::doc::SERVICE, min_length = 1), PageParams),
    responses((status = 200, body = ListOf<MaintenanceOut>), (status = 404, body = ErrorBody)))]
async fn list_maintenance(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<MaintenanceOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::service(&state, &id, At::Path("id")).await?;
    state
        .store
        .service(id)
        .await
        .map_err(ApiError::or_not_found("service"))?;
    let items = state.store.list_maintenance(id, state.clock.now()).await?;
    Ok(Json(page_in_memory("maintenance", items, &p, Into::into)?))
}

/// Schedules a maintenance window (responder): alerts are recorded but open no incident.
#[utoipa::path(post, path = "/api/v1/services/{id}/maintenance-windows", tag = "services",
    request_body = CreateMaintenance, params(("id" = String, Path, description = terms::doc::SERVICE, min_length = 1)),
    responses((status = 201, body = MaintenanceOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_maintenance(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreateMaintenance>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Responder)?;
    let id = terms::service(&state, &id, At::Path("id")).await?;
    let w = create_maintenance_with(&state, caller.actor(), id, body).await?;
    Ok((StatusCode::CREATED, Json(MaintenanceOut::from(w))))
}

pub async fn create_maintenance_with(
    state: &AppState,
    actor: Actor,
    service: ServiceId,
    body: CreateMaintenance,
) -> ApiResult<MaintenanceWindow> {
    let now = state.clock.now();
    let starts_at = body.starts_at.unwrap_or(now);
    if body.ends_at <= starts_at {
        return Err(ApiError::invalid("ends_at", "must be after starts_at"));
    }
    if body.ends_at <= now {
        return Err(ApiError::invalid("ends_at", "must be in the future"));
    }
    let w = MaintenanceWindow {
        id: MaintenanceWindowId::new(now, random_bytes()),
        service_id: service,
        starts_at,
        ends_at: body.ends_at,
        description: rules::optional_text(
            &body.description,
            "description",
            rules::DESCRIPTION_MAX,
        )?,
        created_at: now,
    };
    let e = NewEvent::new(
        SubjectType::Service,
        service,
        now,
        actor,
        EventKind::MaintenanceScheduled,
        json!({"maintenance_window_id": w.id, "starts_at": w.starts_at, "ends_at": w.ends_at,
               "description": w.description}),
    );
    state
        .store
        .create_maintenance(w, e)
        .await
        .map_err(ApiError::or_not_found("service"))
}

/// Cancels or ends a maintenance window early (responder).
#[utoipa::path(delete, path = "/api/v1/services/{id}/maintenance-windows/{window_id}", tag = "services",
    params(("id" = String, Path, description = terms::doc::SERVICE, min_length = 1), ("window_id" = uuid::Uuid, Path, description = "Window id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_maintenance(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, window_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    let id = terms::service(&state, &id, At::Path("id")).await?;
    let wid = parse_field_id::<MaintenanceWindowId>(&window_id, "window_id")?;
    delete_maintenance_with(&state, caller.actor(), id, wid).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_maintenance_with(
    state: &AppState,
    actor: Actor,
    service: ServiceId,
    id: MaintenanceWindowId,
) -> ApiResult<()> {
    let e = NewEvent::new(
        SubjectType::Service,
        service,
        state.clock.now(),
        actor,
        EventKind::MaintenanceCancelled,
        json!({"maintenance_window_id": id}),
    );
    state
        .store
        .delete_maintenance(service, id, e)
        .await
        .map_err(ApiError::or_not_found("maintenance window"))
}
