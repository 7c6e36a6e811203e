//! The REST API for services, their integrations, the alerts they receive, and their timeline.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use jiff::Timestamp;
use klaxon_domain::alert::{AlertContent, AlertStatus, Grouping, IntegrationKind, UrgencyRule};
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{AlertId, EscalationPolicyId, IncidentId, IntegrationId, ServiceId};
use klaxon_domain::page::Limit;
use klaxon_domain::service as rules;
use klaxon_store::{Alert, AlertFilter, Integration, NewIntegration, Service, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::shared::api::{
    ApiJson, ApiQuery, Caller, EventOut, ListOf, PageParams, decode_cursor, encode_cursor,
    events_page, page_in_memory, parse_id,
};
use crate::shared::crypto::{self, hex, random_bytes};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_services, create_service))
        .routes(routes!(get_service, update_service, delete_service))
        .routes(routes!(list_integrations, create_integration))
        .routes(routes!(
            get_integration,
            update_integration,
            delete_integration
        ))
        .routes(routes!(rotate_integration_key))
        .merge(super::maintenance::router())
        .routes(routes!(list_alerts))
        .routes(routes!(get_alert))
        .routes(routes!(alert_events))
        .routes(routes!(service_timeline))
}

// --- services -----------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: ServiceId,
    pub name: String,
    pub description: String,
    /// `high`, `low` or `severity_based` (critical and error are high, the rest low).
    pub urgency_rule: UrgencyRule,
    /// `{"type": "none"}`, `{"type": "time", "window_minutes": 10}` or
    /// `{"type": "content", "fields": ["source"], "aggregate": "all", "window_minutes": 60}`.
    pub grouping: Grouping,
    pub auto_resolve: bool,
    /// Who is paged when an incident opens; nobody when null.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub escalation_policy_id: Option<EscalationPolicyId>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<Service> for ServiceOut {
    fn from(s: Service) -> Self {
        Self {
            id: s.id,
            name: s.name,
            description: s.description,
            urgency_rule: s.urgency_rule,
            grouping: s.grouping,
            auto_resolve: s.auto_resolve,
            escalation_policy_id: s.escalation_policy_id,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateService {
    /// 1 to 100 characters, trimmed.
    #[schema(max_length = 100, pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    pub urgency_rule: Option<UrgencyRule>,
    pub grouping: Option<Grouping>,
    /// Resolve an alert-opened incident when all its alerts resolve (default true).
    pub auto_resolve: Option<bool>,
    /// The escalation policy that pages for its incidents: its id or name.
    #[schema(min_length = 1)]
    pub escalation_policy_id: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateService {
    #[schema(max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    pub urgency_rule: Option<UrgencyRule>,
    pub grouping: Option<Grouping>,
    pub auto_resolve: Option<bool>,
    /// A policy's id or name, or null to page nobody.
    #[schema(value_type = Option<String>, min_length = 1)]
    pub escalation_policy_id: Option<serde_json::Value>,
}

/// Lists services by name order of creation.
#[utoipa::path(get, path = "/api/v1/services", tag = "services", params(PageParams),
    responses((status = 200, body = ListOf<ServiceOut>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_services(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<ServiceOut>>> {
    caller.require(Role::Viewer)?;
    let limit = Limit::parse(p.limit)?;
    let after = decode_cursor::<ServiceId>("services", p.cursor.as_deref())?;
    let page = state.store.list_services(after, limit.get()).await?;
    Ok(Json(ListOf {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(|id| encode_cursor("services", id)),
    }))
}

/// Creates a service (admin).
#[utoipa::path(post, path = "/api/v1/services", tag = "services", request_body = CreateService,
    responses((status = 201, body = ServiceOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn create_service(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateService>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let s = create_service_with(&state, caller.actor(), body).await?;
    Ok((StatusCode::CREATED, Json(ServiceOut::from(s))))
}

/// Parses and stores a new service; shared by the API and the web UI.
pub async fn create_service_with(
    state: &AppState,
    actor: Actor,
    body: CreateService,
) -> ApiResult<Service> {
    let now = state.clock.now();
    let service = Service {
        id: ServiceId::new(now, random_bytes()),
        name: rules::text(&body.name, "name", rules::NAME_MAX)?,
        description: rules::optional_text(
            &body.description,
            "description",
            rules::DESCRIPTION_MAX,
        )?,
        urgency_rule: body.urgency_rule.unwrap_or(UrgencyRule::SeverityBased),
        grouping: body.grouping.unwrap_or(Grouping::None).validate()?,
        auto_resolve: body.auto_resolve.unwrap_or(true),
        escalation_policy_id: match body.escalation_policy_id.as_deref() {
            Some(raw) => Some(existing_policy(state, raw).await?),
            None => None,
        },
        created_at: now,
        updated_at: now,
    };
    let e = NewEvent::new(
        SubjectType::Service,
        service.id,
        now,
        actor,
        EventKind::ServiceCreated,
        json!({"name": service.name, "urgency_rule": service.urgency_rule,
               "grouping": service.grouping, "auto_resolve": service.auto_resolve,
               "escalation_policy_id": service.escalation_policy_id}),
    );
    Ok(state.store.create_service(service, e).await?)
}

/// Parses a policy id a service refers to, and checks the policy exists.
async fn existing_policy(state: &AppState, raw: &str) -> ApiResult<EscalationPolicyId> {
    let field = "escalation_policy_id";
    let id = terms::policy(state, raw, At::Field(field)).await?;
    match state.store.escalation_policy(id).await {
        Ok(_) => Ok(id),
        Err(e) if e.is_not_found() => Err(ApiError::invalid(field, "no such escalation policy")),
        Err(e) => Err(e.into()),
    }
}

/// One service.
#[utoipa::path(get, path = "/api/v1/services/{id}", tag = "services",
    params(("id" = String, Path, description = terms::doc::SERVICE, min_length = 1)),
    responses((status = 200, body = ServiceOut), (status = 404, body = ErrorBody)))]
async fn get_service(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ServiceOut>> {
    caller.require(Role::Viewer)?;
    let id = terms::service(&state, &id, At::Path("id")).await?;
    let s = state
        .store
        .service(id)
        .await
        .map_err(ApiError::or_not_found("service"))?;
    Ok(Json(s.into()))
}

/// Changes a service's settings (admin). Fields left out keep their value.
#[utoipa::path(patch, path = "/api/v1/services/{id}", tag = "services", request_body = UpdateService,
    params(("id" = String, Path, description = terms::doc::SERVICE, min_length = 1)),
    responses((status = 200, body = ServiceOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn update_service(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateService>,
) -> ApiResult<Json<ServiceOut>> {
    caller.require(Role::Admin)?;
    let id = terms::service(&state, &id, At::Path("id")).await?;
    let s = update_service_with(&state, caller.actor(), id, body).await?;
    Ok(Json(s.into()))
}

pub async fn update_service_with(
    state: &AppState,
    actor: Actor,
    id: ServiceId,
    body: UpdateService,
) -> ApiResult<Service> {
    let mut s = state
        .store
        .service(id)
        .await
        .map_err(ApiError::or_not_found("service"))?;
    let mut changed = serde_json::Map::new();
    if let Some(name) = &body.name {
        s.name = rules::text(name, "name", rules::NAME_MAX)?;
        changed.insert("name".into(), json!(s.name));
    }
    if let Some(d) = &body.description {
        s.description = rules::optional_text(d, "description", rules::DESCRIPTION_MAX)?;
        changed.insert("description".into(), json!(s.description));
    }
    if let Some(u) = body.urgency_rule {
        s.urgency_rule = u;
        changed.insert("urgency_rule".into(), json!(u));
    }
    if let Some(g) = body.grouping {
        s.grouping = g.validate()?;
        changed.insert("grouping".into(), json!(s.grouping));
    }
    if let Some(a) = body.auto_resolve {
        s.auto_resolve = a;
        changed.insert("auto_resolve".into(), json!(a));
    }
    match &body.escalation_policy_id {
        None => {}
        Some(serde_json::Value::Null) => {
            s.escalation_policy_id = None;
            changed.insert("escalation_policy_id".into(), serde_json::Value::Null);
        }
        Some(serde_json::Value::String(raw)) => {
            s.escalation_policy_id = Some(existing_policy(state, raw).await?);
            changed.insert("escalation_policy_id".into(), json!(s.escalation_policy_id));
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "escalation_policy_id",
                "must be a policy id or null",
            ));
        }
    }
    let now = state.clock.now();
    s.updated_at = now;
    let e = NewEvent::new(
        SubjectType::Service,
        id,
        now,
        actor,
        EventKind::ServiceUpdated,
        serde_json::Value::Object(changed),
    );
    state
        .store
        .update_service(s, e)
        .await
        .map_err(ApiError::or_not_found("service"))
}

/// Deletes a service with its integrations and maintenance windows (admin). Refused while it
/// has open alerts; its incidents are kept.
#[utoipa::path(delete, path = "/api/v1/services/{id}", tag = "services",
    params(("id" = String, Path, description = terms::doc::SERVICE, min_length = 1)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_service(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let id = terms::service(&state, &id, At::Path("id")).await?;
    delete_service_with(&state, caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_service_with(state: &AppState, actor: Actor, id: ServiceId) -> ApiResult<()> {
    let s = state
        .store
        .service(id)
        .await
        .map_err(ApiError::or_not_found("service"))?;
    let e = NewEvent::new(
        SubjectType::Service,
        id,
        state.clock.now(),
        actor,
        EventKind::ServiceDeleted,
        json!({"name": s.name}),
    );
    state
        .store
        .delete_service(id, e)
        .await
        .map_err(|e| match e {
            StoreError::Conflict { constraint } if constraint == "open_alerts" => {
                ApiError::Conflict {
                    message: "the service has open alerts: resolve them first".into(),
                    field: None,
                }
            }
            e => ApiError::or_not_found("service")(e),
        })?;
    state.integrations.forget_all(); // its integrations went with it
    Ok(())
}

// --- integrations -------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: IntegrationId,
    #[schema(value_type = String, format = Uuid)]
    pub service_id: ServiceId,
    pub name: String,
    /// `events_v2`, `alertmanager`, `generic` or `heartbeat`.
    pub kind: IntegrationKind,
    /// The first characters of the key.
    pub key_prefix: String,
    pub rate_limit_per_minute: u32,
    pub heartbeat_interval_secs: Option<u32>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_ping_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub key_rotated_at: Timestamp,
}

impl From<Integration> for IntegrationOut {
    fn from(i: Integration) -> Self {
        Self {
            id: i.id,
            service_id: i.service_id,
            name: i.name,
            kind: i.kind,
            key_prefix: i.key_prefix,
            rate_limit_per_minute: i.rate_limit_per_minute,
            heartbeat_interval_secs: i.heartbeat_interval_secs,
            last_ping_at: i.last_ping_at,
            created_at: i.created_at,
            key_rotated_at: i.key_rotated_at,
        }
    }
}

/// An integration with its key, answered only when the key is made.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationWithKeyOut {
    #[serde(flatten)]
    pub integration: IntegrationOut,
    /// The integration key. Shown this once; only its digest is stored.
    pub key: String,
    /// Where to send signals, relative to the server's address. For `events_v2` the key goes
    /// in the body as `routing_key`.
    pub endpoint: String,
}

/// The path a tool posts to.
pub fn endpoint(kind: IntegrationKind, key: &str) -> String {
    match kind {
        IntegrationKind::EventsV2 => "/v2/enqueue".into(),
        IntegrationKind::Alertmanager => format!("/integrations/{key}/alertmanager"),
        IntegrationKind::Generic => format!("/integrations/{key}/generic"),
        IntegrationKind::Heartbeat => format!("/integrations/{key}/heartbeat"),
    }
}

/// A new integration key: 32 hex characters, like a PagerDuty routing key.
fn new_key() -> (String, [u8; 32]) {
    let key = hex(&random_bytes::<16>());
    let digest = crypto::sha256(key.as_bytes());
    (key, digest)
}

fn key_prefix(key: &str) -> String {
    key.chars().take(6).collect()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIntegration {
    /// 1 to 100 characters, trimmed.
    #[schema(max_length = 100, pattern = r"\S")]
    pub name: String,
    pub kind: IntegrationKind,
    /// Default 600; 0 means no limit.
    #[schema(maximum = 1_000_000)]
    pub rate_limit_per_minute: Option<u32>,
    /// Required for heartbeat monitors (60 s to 9000 h); not allowed for the others.
    #[schema(minimum = 60, maximum = 32_400_000)]
    pub heartbeat_interval_secs: Option<u32>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIntegration {
    #[schema(max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    /// 0 means no limit.
    #[schema(maximum = 1_000_000)]
    pub rate_limit_per_minute: Option<u32>,
    /// Heartbeat monitors only (60 s to 9000 h).
    #[schema(minimum = 60, maximum = 32_400_000)]
    pub heartbeat_interval_secs: Option<u32>,
}

/// The integrations of a service.
#[utoipa::path(get, path = "/api/v1/services/{id}/integrations", tag = "integrations",
    params(("id" = String, Path, description = terms::doc::SERVICE, min_length = 1), PageParams),
    responses((status = 200, body = ListOf<IntegrationOut>), (status = 404, body = ErrorBody)))]
async fn list_integrations(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<IntegrationOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::service(&state, &id, At::Path("id")).await?;
    state
        .store
        .service(id)
        .await
        .map_err(ApiError::or_not_found("service"))?;
    let items = state.store.list_integrations(id).await?;
    Ok(Json(page_in_memory("integrations", items, &p, Into::into)?))
}

/// Adds an integration to a service (admin). The key is in this answer only.
#[utoipa::path(post, path = "/api/v1/services/{id}/integrations", tag = "integrations",
    request_body = CreateIntegration, params(("id" = String, Path, description = terms::doc::SERVICE, min_length = 1)),
    responses((status = 201, body = IntegrationWithKeyOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_integration(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreateIntegration>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let id = terms::service(&state, &id, At::Path("id")).await?;
    let out = create_integration_with(&state, caller.actor(), id, body).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

fn check_heartbeat(kind: IntegrationKind, interval: Option<u32>) -> ApiResult<Option<u32>> {
    match (kind, interval) {
        (IntegrationKind::Heartbeat, Some(s)) => Ok(Some(rules::heartbeat_interval(s)?)),
        (IntegrationKind::Heartbeat, None) => Err(ApiError::invalid(
            "heartbeat_interval_secs",
            "is required for a heartbeat monitor",
        )),
        (_, Some(_)) => Err(ApiError::invalid(
            "heartbeat_interval_secs",
            "only heartbeat monitors have an interval",
        )),
        (_, None) => Ok(None),
    }
}

pub async fn create_integration_with(
    state: &AppState,
    actor: Actor,
    service: ServiceId,
    body: CreateIntegration,
) -> ApiResult<IntegrationWithKeyOut> {
    let name = rules::text(&body.name, "name", rules::NAME_MAX)?;
    let rate = rules::rate_limit(
        body.rate_limit_per_minute
            .unwrap_or(rules::DEFAULT_RATE_LIMIT),
    )?;
    let interval = check_heartbeat(body.kind, body.heartbeat_interval_secs)?;
    let now = state.clock.now();
    let (key, digest) = new_key();
    let integration = Integration {
        id: IntegrationId::new(now, random_bytes()),
        service_id: service,
        name,
        kind: body.kind,
        key_prefix: key_prefix(&key),
        rate_limit_per_minute: rate,
        heartbeat_interval_secs: interval,
        last_ping_at: None,
        created_at: now,
        key_rotated_at: now,
    };
    let e = NewEvent::new(
        SubjectType::Integration,
        integration.id,
        now,
        actor,
        EventKind::IntegrationCreated,
        json!({"service_id": service, "name": integration.name, "kind": integration.kind,
               "key_prefix": integration.key_prefix}),
    );
    let stored = state
        .store
        .create_integration(
            NewIntegration {
                integration,
                key_hash: digest,
            },
            e,
        )
        .await
        .map_err(ApiError::or_not_found("service"))?;
    Ok(IntegrationWithKeyOut {
        endpoint: endpoint(stored.kind, &key),
        integration: stored.into(),
        key,
    })
}

/// One integration.
#[utoipa::path(get, path = "/api/v1/integrations/{id}", tag = "integrations",
    params(("id" = String, Path, description = terms::doc::INTEGRATION, min_length = 1)),
    responses((status = 200, body = IntegrationOut), (status = 404, body = ErrorBody)))]
async fn get_integration(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<IntegrationOut>> {
    caller.require(Role::Viewer)?;
    let id = terms::integration(&state, &id, At::Path("id")).await?;
    let i = state
        .store
        .integration(id)
        .await
        .map_err(ApiError::or_not_found("integration"))?;
    Ok(Json(i.into()))
}

/// Renames an integration or changes its rate limit or heartbeat interval (admin).
#[utoipa::path(patch, path = "/api/v1/integrations/{id}", tag = "integrations",
    request_body = UpdateIntegration, params(("id" = String, Path, description = terms::doc::INTEGRATION, min_length = 1)),
    responses((status = 200, body = IntegrationOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_integration(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateIntegration>,
) -> ApiResult<Json<IntegrationOut>> {
    caller.require(Role::Admin)?;
    let id = terms::integration(&state, &id, At::Path("id")).await?;
    let mut i = state
        .store
        .integration(id)
        .await
        .map_err(ApiError::or_not_found("integration"))?;
    let mut changed = serde_json::Map::new();
    if let Some(n) = &body.name {
        i.name = rules::text(n, "name", rules::NAME_MAX)?;
        changed.insert("name".into(), json!(i.name));
    }
    if let Some(r) = body.rate_limit_per_minute {
        i.rate_limit_per_minute = rules::rate_limit(r)?;
        changed.insert("rate_limit_per_minute".into(), json!(r));
    }
    if body.heartbeat_interval_secs.is_some() {
        i.heartbeat_interval_secs = check_heartbeat(i.kind, body.heartbeat_interval_secs)?;
        changed.insert(
            "heartbeat_interval_secs".into(),
            json!(i.heartbeat_interval_secs),
        );
    }
    let e = NewEvent::new(
        SubjectType::Integration,
        id,
        state.clock.now(),
        caller.actor(),
        EventKind::IntegrationUpdated,
        serde_json::Value::Object(changed),
    );
    let i = state
        .store
        .update_integration(i, e)
        .await
        .map_err(ApiError::or_not_found("integration"))?;
    state.integrations.forget_all();
    Ok(Json(i.into()))
}

/// Replaces an integration's key (admin); the old key stops working at once.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/rotate-key", tag = "integrations",
    params(("id" = String, Path, description = terms::doc::INTEGRATION, min_length = 1)),
    responses((status = 200, body = IntegrationWithKeyOut), (status = 404, body = ErrorBody)))]
async fn rotate_integration_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<IntegrationWithKeyOut>> {
    caller.require(Role::Admin)?;
    let id = terms::integration(&state, &id, At::Path("id")).await?;
    Ok(Json(rotate_key_with(&state, caller.actor(), id).await?))
}

pub async fn rotate_key_with(
    state: &AppState,
    actor: Actor,
    id: IntegrationId,
) -> ApiResult<IntegrationWithKeyOut> {
    let (key, digest) = new_key();
    let prefix = key_prefix(&key);
    let now = state.clock.now();
    let e = NewEvent::new(
        SubjectType::Integration,
        id,
        now,
        actor,
        EventKind::IntegrationKeyRotated,
        json!({"key_prefix": prefix}),
    );
    let i = state
        .store
        .rotate_integration_key(id, &prefix, digest, now, e)
        .await
        .map_err(ApiError::or_not_found("integration"))?;
    state.integrations.forget_all();
    Ok(IntegrationWithKeyOut {
        endpoint: endpoint(i.kind, &key),
        integration: i.into(),
        key,
    })
}

/// Deletes an integration (admin); its key stops working at once.
#[utoipa::path(delete, path = "/api/v1/integrations/{id}", tag = "integrations",
    params(("id" = String, Path, description = terms::doc::INTEGRATION, min_length = 1)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_integration(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let id = terms::integration(&state, &id, At::Path("id")).await?;
    delete_integration_with(&state, caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_integration_with(
    state: &AppState,
    actor: Actor,
    id: IntegrationId,
) -> ApiResult<Integration> {
    let i = state
        .store
        .integration(id)
        .await
        .map_err(ApiError::or_not_found("integration"))?;
    let e = NewEvent::new(
        SubjectType::Integration,
        id,
        state.clock.now(),
        actor,
        EventKind::IntegrationDeleted,
        json!({"service_id": i.service_id, "name": i.name}),
    );
    state
        .store
        .delete_integration(id, e)
        .await
        .map_err(ApiError::or_not_found("integration"))?;
    state.integrations.forget_all();
    Ok(i)
}

// --- alerts and incidents -----------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: AlertId,
    #[schema(value_type = String, format = Uuid)]
    pub service_id: ServiceId,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub integration_id: Option<IntegrationId>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub incident_id: Option<IncidentId>,
    pub dedup_key: String,
    pub status: AlertStatus,
    pub summary: String,
    pub severity: klaxon_domain::alert::Severity,
    /// The newest trigger's whole content: source, component, group, class, details, links...
    pub content: AlertContent,
    pub count: u32,
    pub in_maintenance: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Timestamp>,
}

impl From<Alert> for AlertOut {
    fn from(a: Alert) -> Self {
        Self {
            id: a.id,
            service_id: a.service_id,
            integration_id: a.integration_id,
            incident_id: a.incident_id,
            dedup_key: a.dedup_key,
            status: a.status,
            summary: a.content.summary.clone(),
            severity: a.content.severity,
            content: a.content,
            count: a.count,
            in_maintenance: a.in_maintenance,
            created_at: a.created_at,
            last_seen_at: a.last_seen_at,
            acknowledged_at: a.acknowledged_at,
            resolved_at: a.resolved_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    /// A service's id or name.
    #[param(min_length = 1)]
    pub service_id: Option<String>,
    /// An incident's id or number (`75` or `#75`).
    #[param(min_length = 1)]
    pub incident_id: Option<String>,
    #[param(value_type = Option<AlertStatus>)]
    pub status: Option<String>,
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Alerts, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertParams),
    responses((status = 200, body = ListOf<AlertOut>), (status = 400, body = ErrorBody)))]
async fn list_alerts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<AlertParams>,
) -> ApiResult<Json<ListOf<AlertOut>>> {
    caller.require(Role::Viewer)?;
    let filter = AlertFilter {
        service_id: match p.service_id.as_deref() {
            Some(s) => Some(terms::service(&state, s, At::Field("service_id")).await?),
            None => None,
        },
        incident_id: match p.incident_id.as_deref() {
            Some(i) => Some(terms::incident(&state, i, At::Field("incident_id")).await?),
            None => None,
        },
        status: p.status.as_deref().map(str::parse).transpose()?,
    };
    let limit = Limit::parse(p.limit)?;
    let after = decode_cursor::<AlertId>("alerts", p.cursor.as_deref())?;
    let page = state.store.list_alerts(&filter, after, limit.get()).await?;
    Ok(Json(ListOf {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(|id| encode_cursor("alerts", id)),
    }))
}

/// One alert, with the newest trigger's event as the tool sent it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertDetailOut {
    #[serde(flatten)]
    pub alert: AlertOut,
    /// The newest trigger's event as the tool sent it, re-encoded (keys in alphabetical
    /// order; PagerDuty's `routing_key` left out; for Alertmanager, the notification with this
    /// one alert). Null for heartbeat alerts, which Klaxon makes, and for alerts stored before
    /// Klaxon kept events.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
}

/// An alert and its payload as sent, parsed (text that is not JSON is given as a string).
pub async fn alert_with_payload(
    state: &AppState,
    id: AlertId,
) -> ApiResult<(Alert, Option<serde_json::Value>)> {
    let alert = state
        .store
        .alert(id)
        .await
        .map_err(ApiError::or_not_found("alert"))?;
    let payload = state
        .store
        .alert_payload(id)
        .await
        .map_err(ApiError::or_not_found("alert"))?
        .map(|text| serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)));
    Ok((alert, payload))
}

/// One alert: its newest content (details, links, images, client), counts and times, and the
/// newest trigger's event as sent. Its history is at `/api/v1/alerts/{id}/events`.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts",
    params(("id" = uuid::Uuid, Path, description = "Alert id")),
    responses((status = 200, body = AlertDetailOut), (status = 404, body = ErrorBody)))]
async fn get_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AlertDetailOut>> {
    caller.require(Role::Viewer)?;
    let id = parse_id::<AlertId>(&id, "alert")?;
    let (alert, payload) = alert_with_payload(&state, id).await?;
    Ok(Json(AlertDetailOut {
        alert: alert.into(),
        payload,
    }))
}

/// The alert's history, oldest first: `alert.triggered`, an `alert.deduplicated` for every
/// repeated trigger (with that trigger's summary and severity), `alert.acknowledged` and
/// `alert.resolved`.
#[utoipa::path(get, path = "/api/v1/alerts/{id}/events", tag = "alerts",
    params(("id" = uuid::Uuid, Path, description = "Alert id"), TimelineParams),
    responses((status = 200, body = ListOf<EventOut>), (status = 404, body = ErrorBody)))]
async fn alert_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<TimelineParams>,
) -> ApiResult<Json<ListOf<EventOut>>> {
    caller.require(Role::Viewer)?;
    let id = parse_id::<AlertId>(&id, "alert")?;
    state
        .store
        .alert(id)
        .await
        .map_err(ApiError::or_not_found("alert"))?;
    let subject = id.to_string();
    let page = events_page(
        &state,
        SubjectType::Alert,
        &subject,
        p.limit,
        p.cursor.as_deref(),
    );
    Ok(Json(page.await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TimelineParams {
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The service's timeline, oldest first: settings changes, maintenance, and change events
/// (deploys) sent to `/v2/change/enqueue`.
#[utoipa::path(get, path = "/api/v1/services/{id}/timeline", tag = "services",
    params(("id" = String, Path, description = terms::doc::SERVICE, min_length = 1), TimelineParams),
    responses((status = 200, body = ListOf<EventOut>), (status = 404, body = ErrorBody)))]
async fn service_timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<TimelineParams>,
) -> ApiResult<Json<ListOf<EventOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::service(&state, &id, At::Path("id")).await?;
    state
        .store
        .service(id)
        .await
        .map_err(ApiError::or_not_found("service"))?;
    let subject = id.to_string();
    let page = events_page(
        &state,
        SubjectType::Service,
        &subject,
        p.limit,
        p.cursor.as_deref(),
    );
    Ok(Json(page.await?))
}
