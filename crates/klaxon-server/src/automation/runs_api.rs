//! The REST face of runs: starting a runbook on an incident, reading runs, people's moves,
//! and a step's whole output.
use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use klaxon_domain::auth::Role;
use klaxon_domain::ids::{RunId, UserId};
use klaxon_domain::runbook::run::{RunState, StepState};
use klaxon_store::{RunRecord, RunStepRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::runbooks_api::author;
use super::runs::{self, Move};
use crate::shared::api::{ApiJson, Caller, parse_field_id};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_incident_runs, start_run))
        .routes(routes!(get_run))
        .routes(routes!(move_run))
        .routes(routes!(step_output))
}

/// A runbook to start on the incident.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    /// The runbook: its name or id. Its latest version runs.
    pub runbook: String,
    /// Values for its parameters, by name; the rest take their defaults, filled from the
    /// incident and its first alert.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

/// A person's move on a run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveIn {
    /// `complete` (tick the current manual step), `approve` or `reject` (the current approval
    /// step, by its approver), `retry` (a failed, unknown or rejected step), `skip`, `pause`,
    /// `resume`, `abort`.
    #[serde(rename = "move")]
    pub mv: Move,
    /// Why, or what was done (kept on the step and the timeline).
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunStepOut {
    /// From 0.
    pub index: i32,
    pub title: String,
    pub kind: String,
    #[schema(value_type = String)]
    pub state: StepState,
    pub attempts: i32,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<jiff::Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<jiff::Timestamp>,
    /// What it answered or printed, cut at `runbooks.output_shown_bytes`.
    pub output: String,
    /// The whole is at `…/steps/{index}/output`.
    pub truncated: bool,
    /// An HTTP status, an exit code, an error.
    pub detail: serde_json::Value,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub by: Option<UserId>,
    pub note: String,
}

impl From<RunStepRecord> for RunStepOut {
    fn from(s: RunStepRecord) -> Self {
        Self {
            index: s.index,
            title: s.title,
            kind: s.kind,
            state: s.state,
            attempts: s.attempts,
            started_at: s.started_at,
            finished_at: s.finished_at,
            output: s.output,
            truncated: s.truncated,
            detail: s.detail,
            by: s.by,
            note: s.note,
        }
    }
}

/// A run: which runbook version, its parameters, where it is and (read alone) its steps.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: RunId,
    #[schema(value_type = String, format = Uuid)]
    pub incident_id: klaxon_domain::ids::IncidentId,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub runbook_id: Option<klaxon_domain::ids::RunbookId>,
    pub runbook: String,
    pub title: String,
    pub version: i32,
    pub digest: String,
    pub params: BTreeMap<String, String>,
    #[schema(value_type = String)]
    pub state: RunState,
    /// The current step, from 0 (the number of steps once succeeded).
    pub current: i32,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub started_by: Option<UserId>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: jiff::Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<jiff::Timestamp>,
    pub steps: Vec<RunStepOut>,
}

pub fn run_out(r: RunRecord, steps: Vec<RunStepRecord>) -> RunOut {
    RunOut {
        id: r.id,
        incident_id: r.incident_id,
        runbook_id: r.runbook_id,
        runbook: r.runbook_name,
        title: r.title,
        version: r.version,
        digest: r.digest,
        params: r.params.into_iter().collect(),
        state: r.state,
        current: r.current,
        started_by: r.started_by,
        created_at: r.created_at,
        updated_at: r.updated_at,
        finished_at: r.finished_at,
        steps: steps.into_iter().map(Into::into).collect(),
    }
}

async fn read(state: &AppState, id: RunId) -> ApiResult<RunOut> {
    let l = runs::load(state, id).await?;
    Ok(run_out(l.run, l.steps))
}

fn run_id(raw: &str) -> ApiResult<RunId> {
    parse_field_id::<RunId>(raw, "id").map_err(|_| ApiError::not_found("run"))
}

/// The runs of runbooks on an incident, newest first, without their steps (any role).
#[utoipa::path(get, path = "/api/v1/incidents/{id}/runs", tag = "runbooks",
    operation_id = "incident_runs",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 200, body = Vec<RunOut>), (status = 404, body = ErrorBody)))]
async fn list_incident_runs(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult<Json<Vec<RunOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::incident(&state, &raw, At::Path("id")).await?;
    let runs = state.store.incident_runs(id).await?;
    Ok(Json(
        runs.into_iter().map(|r| run_out(r, Vec::new())).collect(),
    ))
}

/// Starts a runbook's latest version on the incident with its parameters (responder). Each
/// step's moves land on the incident's timeline; HTTP steps are made by the engine.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/runs", tag = "runbooks",
    operation_id = "start_run", request_body = StartRun,
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 201, body = RunOut), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn start_run(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ApiJson(b): ApiJson<StartRun>,
) -> ApiResult<(StatusCode, Json<RunOut>)> {
    caller.require(Role::Responder)?;
    let incident = terms::incident(&state, &raw, At::Path("id")).await?;
    let runbook = terms::runbook(&state, &b.runbook, At::Field("runbook")).await?;
    let r = runs::start(&state, &author(&caller), incident, runbook, &b.params).await?;
    Ok((StatusCode::CREATED, Json(read(&state, r.id).await?)))
}

/// A run with its steps (any role).
#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runbooks",
    params(("id" = uuid::Uuid, Path, description = "Run id")),
    responses((status = 200, body = RunOut), (status = 404, body = ErrorBody)))]
async fn get_run(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult<Json<RunOut>> {
    caller.require(Role::Viewer)?;
    Ok(Json(read(&state, run_id(&raw)?).await?))
}

/// A move on a run (responder; an approval by its approver). 409 when the run cannot make
/// it now (the step is not waiting for it, or the run moved meanwhile).
#[utoipa::path(post, path = "/api/v1/runs/{id}/moves", tag = "runbooks", request_body = MoveIn,
    params(("id" = uuid::Uuid, Path, description = "Run id")),
    responses((status = 200, body = RunOut), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn move_run(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ApiJson(b): ApiJson<MoveIn>,
) -> ApiResult<Json<RunOut>> {
    caller.require(Role::Responder)?;
    let id = run_id(&raw)?;
    runs::act(&state, &author(&caller), id, b.mv, &b.note).await?;
    Ok(Json(read(&state, id).await?))
}

/// A step's whole output, as text (any role).
#[utoipa::path(get, path = "/api/v1/runs/{id}/steps/{index}/output", tag = "runbooks",
    params(("id" = uuid::Uuid, Path, description = "Run id"),
           ("index" = i32, Path, description = "Step, from 0")),
    responses((status = 200, content_type = "text/plain", body = String), (status = 404, body = ErrorBody)))]
async fn step_output(
    State(state): State<AppState>,
    caller: Caller,
    Path((raw, index)): Path<(String, String)>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let id = run_id(&raw)?;
    let index: i32 = index.parse().map_err(|_| ApiError::not_found("step"))?;
    let text = state
        .store
        .run_step_output(id, index)
        .await
        .map_err(ApiError::or_not_found("step"))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}
