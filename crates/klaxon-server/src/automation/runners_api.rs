//! The REST face of runners: admins register them and choose what they run
//! (`/api/v1/runners/…`); runners, with their own tokens, ask for work, renew their hold on a
//! step and report how it ended (`/api/v1/runner/…`).
use std::time::Duration;

use axum::Json;
use axum::extract::DefaultBodyLimit;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use klaxon_domain::auth::Role;
use klaxon_domain::ids::{RunId, RunbookId, RunnerId, UserId};
use klaxon_store::{RunnerGrant, RunnerRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::runbooks_api::author;
use super::runners::{self, Assignment, Report};
use crate::shared::api::{ApiJson, Caller, bearer_token, parse_field_id};
use crate::shared::crypto::sha256;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_runners, register_runner))
        .routes(routes!(delete_runner))
        .routes(routes!(grant_version))
        .routes(routes!(revoke_version))
        .routes(routes!(claim_step))
        .routes(routes!(renew_step))
        .merge(
            // A report carries up to 4 MiB of output (what a step keeps), JSON-escaped.
            OpenApiRouter::new()
                .routes(routes!(report_step))
                .layer(DefaultBodyLimit::max(REPORT_LIMIT)),
        )
}

/// The most output a report carries (what a step keeps whole), and its body's limit.
pub const REPORT_OUTPUT: usize = 4 * 1024 * 1024;
const REPORT_LIMIT: usize = 6 * REPORT_OUTPUT + 64 * 1024;

/// A runner as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunnerOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: RunnerId,
    pub name: String,
    /// Its labels: a command step names those it needs.
    pub labels: std::collections::BTreeMap<String, String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub created_by: Option<UserId>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    /// When it last asked for work or reported.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_seen_at: Option<jiff::Timestamp>,
    /// The runbook versions it may run.
    pub enabled: Vec<GrantOut>,
}

/// A runbook version enabled for a runner.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantOut {
    #[schema(value_type = String, format = Uuid)]
    pub runbook_id: RunbookId,
    pub runbook: String,
    pub version: i32,
    /// SHA-256 of the version's source: what the runner checks before it runs a step.
    pub digest: String,
    #[schema(value_type = String, format = DateTime)]
    pub enabled_at: jiff::Timestamp,
}

impl From<RunnerGrant> for GrantOut {
    fn from(g: RunnerGrant) -> Self {
        Self {
            runbook_id: g.runbook_id,
            runbook: g.runbook_name,
            version: g.version,
            digest: g.digest,
            enabled_at: g.granted_at,
        }
    }
}

pub fn runner_out(r: RunnerRecord, grants: Vec<RunnerGrant>) -> RunnerOut {
    RunnerOut {
        id: r.id,
        name: r.name,
        labels: r.labels,
        created_by: r.created_by,
        created_at: r.created_at,
        last_seen_at: r.last_seen_at,
        enabled: grants.into_iter().map(GrantOut::from).collect(),
    }
}

/// A runner to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRunner {
    /// 1–64 letters, digits, `-`, `_` or `.`.
    pub name: String,
    /// `key=value` each (`env=prod`).
    #[serde(default)]
    pub labels: Vec<String>,
}

/// A registered runner with its token, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredOut {
    pub runner: RunnerOut,
    /// Give it to `klaxon runner --token`; Klaxon keeps only its digest.
    pub token: String,
}

/// A runbook version to enable.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantIn {
    /// The runbook: its name or id.
    pub runbook: String,
    /// Its version; the latest when left out.
    #[serde(default)]
    pub version: Option<i32>,
}

/// Runners with the runbook versions enabled for each (admins).
#[utoipa::path(get, path = "/api/v1/runners", tag = "runbooks",
    responses((status = 200, body = Vec<RunnerOut>), (status = 403, body = ErrorBody)))]
async fn list_runners(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<RunnerOut>>> {
    caller.require(Role::Admin)?;
    let all = runners::with_grants(&state).await?;
    Ok(Json(
        all.into_iter().map(|(r, g)| runner_out(r, g)).collect(),
    ))
}

/// Registers a runner (admins). The answer holds its token, shown this once.
#[utoipa::path(post, path = "/api/v1/runners", tag = "runbooks", request_body = NewRunner,
    responses((status = 201, body = RegisteredOut), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn register_runner(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewRunner>,
) -> ApiResult<(StatusCode, Json<RegisteredOut>)> {
    caller.require(Role::Admin)?;
    let r = runners::register(&state, &author(&caller), &b.name, &b.labels).await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisteredOut {
            runner: runner_out(r.runner, Vec::new()),
            token: r.token,
        }),
    ))
}

/// Removes a runner (admins): its token stops working; steps it ran keep their record.
#[utoipa::path(delete, path = "/api/v1/runners/{id}", tag = "runbooks",
    params(("id" = String, Path, description = terms::doc::RUNNER, min_length = 1)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_runner(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let id = terms::runner(&state, &raw, At::Path("id")).await?;
    runners::delete(&state, &author(&caller), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enables a runbook version for a runner (admins): it then takes that version's command steps
/// whose labels it carries. 201 when newly enabled, 200 when it already was.
#[utoipa::path(post, path = "/api/v1/runners/{id}/enabled", tag = "runbooks",
    request_body = GrantIn,
    params(("id" = String, Path, description = terms::doc::RUNNER, min_length = 1)),
    responses((status = 201, body = GrantOut), (status = 200, body = GrantOut),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn grant_version(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ApiJson(b): ApiJson<GrantIn>,
) -> ApiResult<(StatusCode, Json<GrantOut>)> {
    caller.require(Role::Admin)?;
    let id = terms::runner(&state, &raw, At::Path("id")).await?;
    let runbook = terms::runbook(&state, &b.runbook, At::Field("runbook")).await?;
    let (g, new) = runners::grant(&state, &author(&caller), id, runbook, b.version).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(g.into())))
}

/// Disables a runbook version for a runner (admins).
#[utoipa::path(delete, path = "/api/v1/runners/{id}/enabled/{runbook}/{version}",
    tag = "runbooks",
    params(("id" = String, Path, description = terms::doc::RUNNER, min_length = 1),
           ("runbook" = String, Path, description = terms::doc::RUNBOOK, min_length = 1),
           ("version" = i32, Path, description = "Version")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_version(
    State(state): State<AppState>,
    caller: Caller,
    Path((raw, rb, version)): Path<(String, String, i32)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let id = terms::runner(&state, &raw, At::Path("id")).await?;
    let runbook = terms::runbook(&state, &rb, At::Path("runbook")).await?;
    if runners::revoke(&state, &author(&caller), id, runbook, version).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("enabled runbook version"))
    }
}

/// The runner calling, by its own token (not a person's API token).
pub struct RunnerCaller(pub RunnerRecord);

impl FromRequestParts<AppState> for RunnerCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(bearer_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("Authorization must be: Bearer <runner token>".into())
            })?;
        match state
            .store
            .runner_by_token(sha256(token.as_bytes()), state.clock.now())
            .await
        {
            Ok(r) => Ok(RunnerCaller(r)),
            Err(e) if e.is_not_found() => {
                tracing::warn!("rejected an unknown runner token");
                Err(ApiError::Unauthorized("unknown runner token".into()))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// How long to wait for work.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimIn {
    /// Seconds to wait for a step when none is queued now (0–30, default 25).
    #[serde(default = "default_wait")]
    pub wait_secs: u32,
}

fn default_wait() -> u32 {
    25
}

/// A runner asks for work (its token): a queued command step of a version enabled for it,
/// whose labels it carries, begun for it. Waits up to `wait_secs` for one; 204 when none came.
#[utoipa::path(post, path = "/api/v1/runner/claim", tag = "runbooks", request_body = ClaimIn,
    responses((status = 200, body = Assignment), (status = 204),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn claim_step(
    State(state): State<AppState>,
    RunnerCaller(runner): RunnerCaller,
    ApiJson(b): ApiJson<ClaimIn>,
) -> ApiResult<Response> {
    if b.wait_secs > 30 {
        return Err(ApiError::invalid("wait_secs", "at most 30 seconds"));
    }
    // Answered well within the server's request timeout: a claim cut short after it was
    // written would leave a step begun for a runner that never heard of it.
    let most = state.settings.server.request_timeout_secs.saturating_sub(5);
    let wait = u64::from(b.wait_secs).min(most);
    let until = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        if let Some(a) = runners::claim(&state, &runner).await? {
            return Ok(Json(a).into_response());
        }
        if tokio::time::Instant::now() >= until {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        // Long-poll: look again in a second (several instances share the queue through the
        // database, so no in-process signal would reach them all).
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn step_path(raw: &str) -> ApiResult<RunId> {
    parse_field_id::<RunId>(raw, "run").map_err(|_| ApiError::not_found("run"))
}

/// Renews the runner's hold on a running step. 409 when it is not running on this runner any
/// more (the run was aborted, or the step's outcome marked unknown): the runner stops it.
#[utoipa::path(post, path = "/api/v1/runner/runs/{run}/steps/{step}/renew", tag = "runbooks",
    params(("run" = uuid::Uuid, Path, description = "Run id"),
           ("step" = u32, Path, description = "Step, from 0")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn renew_step(
    State(state): State<AppState>,
    RunnerCaller(runner): RunnerCaller,
    Path((run, step)): Path<(String, u32)>,
) -> ApiResult<StatusCode> {
    runners::renew(&state, &runner, step_path(&run)?, step as usize).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How the runner's command ended; the run moves on. 409 when the step is not running on
/// this runner any more.
#[utoipa::path(post, path = "/api/v1/runner/runs/{run}/steps/{step}/report", tag = "runbooks",
    request_body = Report,
    params(("run" = uuid::Uuid, Path, description = "Run id"),
           ("step" = u32, Path, description = "Step, from 0")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn report_step(
    State(state): State<AppState>,
    RunnerCaller(runner): RunnerCaller,
    Path((run, step)): Path<(String, u32)>,
    ApiJson(b): ApiJson<Report>,
) -> ApiResult<StatusCode> {
    if b.output.len() > REPORT_OUTPUT {
        return Err(ApiError::invalid(
            "output",
            "at most 4 MiB (what a step keeps)",
        ));
    }
    runners::finish(&state, &runner, step_path(&run)?, step as usize, &b).await?;
    Ok(StatusCode::NO_CONTENT)
}
