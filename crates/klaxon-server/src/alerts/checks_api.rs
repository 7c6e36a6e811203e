//! The REST face of uptime checks: `/api/v1/checks`. Admins create, change and delete them
//! (checks go where an admin points them: see `alerts::checks`); everyone signed in reads them,
//! header values shown to admins only (they often carry credentials).
use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::auth::Role;
use klaxon_domain::check::{
    self, CheckKind, CheckSpec, CheckState, ConditionResult, Health, SpecInput,
};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{CheckId, ServiceId};
use klaxon_domain::incident as rules;
use klaxon_domain::page::Limit;
use klaxon_store::{Check, CheckDay, CheckResult, NewCheck, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::alerts::checks::{commit_signal, prune_job, resolve_signal, run_job};
use crate::shared::api::{
    ApiJson, ApiQuery, Caller, ListOf, PageParams, decode_cursor, page_in_memory, page_of,
};
use crate::shared::crypto::random_bytes;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_checks, create_check))
        .routes(routes!(get_check, update_check, delete_check))
        .routes(routes!(check_results))
        .routes(routes!(check_uptime))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: CheckId,
    pub name: String,
    #[schema(value_type = String, format = Uuid)]
    pub service_id: ServiceId,
    pub kind: CheckKind,
    pub url: String,
    pub method: String,
    /// Header values are shown to admins only.
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    pub timeout_ms: u32,
    pub interval_secs: u32,
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub conditions: Vec<String>,
    pub enabled: bool,
    pub state: CheckState,
    /// Failed (or successful) runs in a row.
    pub failures: u32,
    pub successes: u32,
    #[schema(value_type = String, format = DateTime)]
    pub state_since: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_run_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl CheckOut {
    pub fn new(c: Check, admin: bool) -> Self {
        let s = c.spec;
        let headers = s
            .headers
            .into_iter()
            .map(|(k, v)| (k, if admin { v } else { "(hidden)".into() }))
            .collect();
        Self {
            id: c.id,
            name: c.name,
            service_id: c.service_id,
            kind: if s.url.starts_with("tcp://") {
                CheckKind::Tcp
            } else {
                CheckKind::Http
            },
            url: s.url,
            method: s.method.as_str().into(),
            headers,
            body: s.body,
            timeout_ms: s.timeout_ms,
            interval_secs: s.interval_secs,
            failure_threshold: s.failure_threshold,
            success_threshold: s.success_threshold,
            conditions: s.conditions.iter().map(ToString::to_string).collect(),
            enabled: c.enabled,
            state: c.health.state,
            failures: c.health.failures,
            successes: c.health.successes,
            state_since: c.state_since,
            last_run_at: c.last_run_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A new check. Only `name`, `service` and `url` are required.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCheck {
    #[schema(
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// The service whose alert it raises: its id or name.
    #[schema(min_length = 1)]
    pub service: String,
    /// `http://…`, `https://…` or `tcp://host:port`: the kind of check follows from it.
    #[schema(max_length = 2000)]
    pub url: String,
    /// GET (default), HEAD, POST, PUT, PATCH, DELETE or OPTIONS.
    pub method: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    /// 100 to 30000; 10000 when left out.
    pub timeout_ms: Option<u32>,
    /// 20 to 86400; 60 when left out.
    pub interval_secs: Option<u32>,
    /// Failed runs in a row that make it down (1–100; 3).
    pub failure_threshold: Option<u32>,
    /// Successful runs in a row that make it up again (1–100; 2).
    pub success_threshold: Option<u32>,
    /// All must hold, e.g. `[STATUS] == 200`, `[BODY].status == UP`, `[RESPONSE_TIME] < 300`,
    /// `[CERTIFICATE_EXPIRATION] > 7d`, `[CONNECTED] == true` (see docs/checks.md). None:
    /// `[STATUS] < 400` (HTTP), `[CONNECTED] == true` (TCP).
    #[serde(default)]
    pub conditions: Vec<String>,
    pub enabled: Option<bool>,
}

/// Changes to a check: what is given replaces what was.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCheck {
    #[schema(
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: Option<String>,
    #[schema(min_length = 1)]
    pub service: Option<String>,
    #[schema(max_length = 2000)]
    pub url: Option<String>,
    pub method: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    /// An empty body sends none.
    pub body: Option<String>,
    pub timeout_ms: Option<u32>,
    pub interval_secs: Option<u32>,
    pub failure_threshold: Option<u32>,
    pub success_threshold: Option<u32>,
    pub conditions: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

fn ev(id: CheckId, at: Timestamp, actor: Actor, kind: EventKind, data: Value) -> NewEvent {
    NewEvent::new(SubjectType::Check, id, at, actor, kind, data)
}

/// The URL the client will take: the domain checks its shape, the client's parser the rest.
fn parse_spec(input: SpecInput) -> ApiResult<CheckSpec> {
    let spec = CheckSpec::parse(input)?;
    if spec.kind() == CheckKind::Http && reqwest::Url::parse(&spec.url).is_err() {
        return Err(ApiError::invalid("url", "is not a valid URL"));
    }
    Ok(spec)
}

fn name_taken(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { .. } => ApiError::Conflict {
            message: "name: another check has this name".into(),
            field: Some("name".into()),
        },
        e if e.is_not_found() => ApiError::invalid("service", "no such service"),
        e => e.into(),
    }
}

/// Creates a check (shared by the API and the web page); its first run is due at once.
pub async fn create_with(state: &AppState, actor: Actor, body: CreateCheck) -> ApiResult<Check> {
    let name = rules::parse_title("name", &body.name, 100)?;
    let service_id = terms::service(state, &body.service, At::Field("service")).await?;
    let spec = parse_spec(SpecInput {
        url: body.url,
        method: body.method,
        headers: body.headers,
        body: body.body,
        timeout_ms: body.timeout_ms,
        interval_secs: body.interval_secs,
        failure_threshold: body.failure_threshold,
        success_threshold: body.success_threshold,
        conditions: body.conditions,
    })?;
    let now = state.clock.now();
    let c = Check {
        id: CheckId::new(now, random_bytes()),
        service_id,
        name,
        spec,
        enabled: body.enabled.unwrap_or(true),
        health: Health::NEW,
        state_since: now,
        last_run_at: None,
        pending_signal: None,
        created_at: now,
        updated_at: now,
    };
    let mut jobs = vec![prune_job(now)];
    if c.enabled {
        jobs.push(run_job(c.id, now, now));
    }
    let e = ev(
        c.id,
        now,
        actor,
        EventKind::CheckCreated,
        json!({"name": c.name, "service_id": c.service_id, "url": c.spec.url}),
    );
    let c = state
        .store
        .create_check(NewCheck { check: c, jobs }, e)
        .await
        .map_err(name_taken)?;
    state.engine.wake();
    Ok(c)
}

/// Changes a check (shared by the API and the web page). Its standing is kept.
pub async fn update_with(
    state: &AppState,
    actor: Actor,
    id: CheckId,
    body: UpdateCheck,
) -> ApiResult<Check> {
    let mut c = state
        .store
        .check(id)
        .await
        .map_err(ApiError::or_not_found("check"))?;
    if let Some(n) = &body.name {
        c.name = rules::parse_title("name", n, 100)?;
    }
    if let Some(s) = &body.service {
        c.service_id = terms::service(state, s, At::Field("service")).await?;
    }
    let old = &c.spec;
    c.spec = parse_spec(SpecInput {
        url: body.url.unwrap_or_else(|| old.url.clone()),
        method: Some(
            body.method
                .unwrap_or_else(|| old.method.as_str().to_owned()),
        ),
        headers: body.headers.unwrap_or_else(|| old.headers.clone()),
        body: body.body.or_else(|| old.body.clone()),
        timeout_ms: Some(body.timeout_ms.unwrap_or(old.timeout_ms)),
        interval_secs: Some(body.interval_secs.unwrap_or(old.interval_secs)),
        failure_threshold: Some(body.failure_threshold.unwrap_or(old.failure_threshold)),
        success_threshold: Some(body.success_threshold.unwrap_or(old.success_threshold)),
        conditions: body
            .conditions
            .unwrap_or_else(|| old.conditions.iter().map(ToString::to_string).collect()),
    })?;
    if let Some(en) = body.enabled {
        c.enabled = en;
    }
    let now = state.clock.now();
    c.updated_at = now;
    let run = c.enabled.then(|| run_job(c.id, now, now));
    let e = ev(
        id,
        now,
        actor,
        EventKind::CheckUpdated,
        json!({"name": c.name, "service_id": c.service_id, "url": c.spec.url, "enabled": c.enabled}),
    );
    let c = state
        .store
        .update_check(c, run, e)
        .await
        .map_err(name_taken)?;
    state.engine.wake();
    Ok(c)
}

/// Deletes a check and its history (shared by the API and the web page); its open alert, if
/// it was down, is resolved.
pub async fn delete_with(state: &AppState, actor: Actor, id: CheckId) -> ApiResult<()> {
    let c = state
        .store
        .check(id)
        .await
        .map_err(ApiError::or_not_found("check"))?;
    let now = state.clock.now();
    let e = ev(
        id,
        now,
        actor,
        EventKind::CheckDeleted,
        json!({"name": c.name}),
    );
    state
        .store
        .delete_check(id, e)
        .await
        .map_err(ApiError::or_not_found("check"))?;
    if c.health.state == CheckState::Down || c.pending_signal.is_some() {
        commit_signal(state.store.as_ref(), &c, resolve_signal(id), now)
            .await
            .map_err(ApiError::Internal)?;
    }
    Ok(())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only this service's checks: its id or name.
    #[param(min_length = 1)]
    pub service: Option<String>,
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Every check, by name (any role).
#[utoipa::path(get, path = "/api/v1/checks", tag = "checks", params(ListParams),
    responses((status = 200, body = ListOf<CheckOut>), (status = 400, body = ErrorBody)))]
async fn list_checks(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<ListOf<CheckOut>>> {
    caller.require(Role::Viewer)?;
    let service = match &p.service {
        Some(s) => Some(terms::service(&state, s, At::Field("service")).await?),
        None => None,
    };
    let admin = caller.role.allows(Role::Admin);
    let all: Vec<Check> = state
        .store
        .list_checks()
        .await?
        .into_iter()
        .filter(|c| service.is_none_or(|s| c.service_id == s))
        .collect();
    let page = PageParams {
        limit: p.limit,
        cursor: p.cursor,
    };
    Ok(Json(page_in_memory("checks", all, &page, |c| {
        CheckOut::new(c, admin)
    })?))
}

/// Creates a check (admin). Its first run is due at once.
#[utoipa::path(post, path = "/api/v1/checks", tag = "checks", request_body = CreateCheck,
    responses((status = 201, body = CheckOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_check(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateCheck>,
) -> ApiResult<(StatusCode, Json<CheckOut>)> {
    caller.require(Role::Admin)?;
    let c = create_with(&state, caller.actor(), body).await?;
    Ok((StatusCode::CREATED, Json(CheckOut::new(c, true))))
}

/// One check (any role).
#[utoipa::path(get, path = "/api/v1/checks/{id}", tag = "checks",
    params(("id" = String, Path, description = terms::doc::CHECK, min_length = 1)),
    responses((status = 200, body = CheckOut), (status = 404, body = ErrorBody)))]
async fn get_check(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CheckOut>> {
    caller.require(Role::Viewer)?;
    let id = terms::check(&state, &id, At::Path("id")).await?;
    let c = state
        .store
        .check(id)
        .await
        .map_err(ApiError::or_not_found("check"))?;
    Ok(Json(CheckOut::new(c, caller.role.allows(Role::Admin))))
}

/// Changes a check (admin): what is given replaces what was; its up/down standing stays.
#[utoipa::path(patch, path = "/api/v1/checks/{id}", tag = "checks", request_body = UpdateCheck,
    params(("id" = String, Path, description = terms::doc::CHECK, min_length = 1)),
    responses((status = 200, body = CheckOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_check(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateCheck>,
) -> ApiResult<Json<CheckOut>> {
    caller.require(Role::Admin)?;
    let id = terms::check(&state, &id, At::Path("id")).await?;
    let c = update_with(&state, caller.actor(), id, body).await?;
    Ok(Json(CheckOut::new(c, true)))
}

/// Deletes a check with its results (admin); its alert, if open, is resolved.
#[utoipa::path(delete, path = "/api/v1/checks/{id}", tag = "checks",
    params(("id" = String, Path, description = terms::doc::CHECK, min_length = 1)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_check(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let id = terms::check(&state, &id, At::Path("id")).await?;
    delete_with(&state, caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResultOut {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub ok: bool,
    pub response_ms: u64,
    pub status: Option<u16>,
    /// The connection error, or the first condition that did not hold.
    pub reason: Option<String>,
    pub conditions: Vec<ConditionResult>,
}

impl From<CheckResult> for ResultOut {
    fn from(r: CheckResult) -> Self {
        Self {
            at: r.at,
            ok: r.ok,
            response_ms: r.response_ms,
            status: r.status,
            reason: r.reason,
            conditions: r.conditions,
        }
    }
}

/// A check's raw results, newest first (kept 7 days; any role).
#[utoipa::path(get, path = "/api/v1/checks/{id}/results", tag = "checks",
    params(("id" = String, Path, description = terms::doc::CHECK, min_length = 1), PageParams),
    responses((status = 200, body = ListOf<ResultOut>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn check_results(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<ResultOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::check(&state, &id, At::Path("id")).await?;
    let limit = Limit::parse(p.limit)?.get();
    let before = decode_cursor::<i64>("results", p.cursor.as_deref())?
        .map(klaxon_domain::clock::from_millis);
    state
        .store
        .check(id)
        .await
        .map_err(ApiError::or_not_found("check"))?;
    let items = state.store.check_results(id, before, limit + 1).await?;
    Ok(Json(page_of(
        "results",
        items,
        limit as usize,
        |r| r.at.as_millisecond(),
        Into::into,
    )))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UptimeParams {
    /// How many days back from today (UTC), today included: 1 to 400; 90 when left out.
    #[param(minimum = 1, maximum = 400)]
    pub days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayOut {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    pub total: u32,
    pub successes: u32,
    /// Successful runs over all runs; none on a day without runs.
    pub uptime: Option<f64>,
    pub avg_response_ms: Option<u64>,
    /// Time spent down (between runs while down).
    pub down_secs: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UptimeOut {
    /// Successful runs over all runs in the whole range.
    pub uptime: Option<f64>,
    pub total: u64,
    pub successes: u64,
    /// Days with runs, oldest first.
    pub days: Vec<DayOut>,
}

pub fn day_out(d: &CheckDay) -> DayOut {
    let day = d.day.to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    DayOut {
        day,
        total: d.total,
        successes: d.successes,
        uptime: (d.total > 0).then(|| f64::from(d.successes) / f64::from(d.total)),
        avg_response_ms: (d.total > 0).then(|| d.response_ms_sum / u64::from(d.total)),
        down_secs: d.down_ms / 1000,
    }
}

/// The last `days` days' tallies of a check up to now.
pub async fn uptime_with(state: &AppState, id: CheckId, days: i64) -> ApiResult<UptimeOut> {
    let today = check::day_of(state.clock.now());
    let from = today
        .checked_sub(SignedDuration::from_hours(24 * (days - 1)))
        .unwrap_or(today);
    let rows = state.store.check_days(id, from, today).await?;
    let total: u64 = rows.iter().map(|d| u64::from(d.total)).sum();
    let successes: u64 = rows.iter().map(|d| u64::from(d.successes)).sum();
    Ok(UptimeOut {
        uptime: (total > 0).then(|| successes as f64 / total as f64),
        total,
        successes,
        days: rows.iter().map(day_out).collect(),
    })
}

/// A check's daily tallies (kept 400 days; any role).
#[utoipa::path(get, path = "/api/v1/checks/{id}/uptime", tag = "checks",
    params(("id" = String, Path, description = terms::doc::CHECK, min_length = 1), UptimeParams),
    responses((status = 200, body = UptimeOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn check_uptime(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<UptimeParams>,
) -> ApiResult<Json<UptimeOut>> {
    caller.require(Role::Viewer)?;
    let id = terms::check(&state, &id, At::Path("id")).await?;
    let days = p.days.unwrap_or(90);
    if !(1..=check::DAYS_KEPT).contains(&days) {
        return Err(ApiError::invalid("days", "must be from 1 to 400"));
    }
    state
        .store
        .check(id)
        .await
        .map_err(ApiError::or_not_found("check"))?;
    Ok(Json(uptime_with(&state, id, days).await?))
}
