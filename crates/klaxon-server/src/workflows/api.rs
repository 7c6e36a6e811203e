//! The REST face of workflows: anyone signed in reads them and their runs; admins save them
//! whole (`PUT` by name is what `klaxon workflows apply` uses), turn them on and off, and
//! delete them.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use klaxon_domain::auth::Role;
use klaxon_domain::ids::{IncidentId, UserId, WorkflowId, WorkflowRunId};
use klaxon_domain::page::Limit;
use klaxon_domain::workflow::Workflow;
use klaxon_store::{WorkflowRecord, WorkflowRunRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::save::{self as workflows, Change};
use crate::automation::runbooks_api::author;
use crate::shared::api::{
    ApiJson, ApiQuery, Caller, ListOf, PageParams, decode_cursor, page_of, parse_field_id,
};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workflows, create_workflow))
        .routes(routes!(preview_workflow))
        .routes(routes!(get_workflow, put_workflow, delete_workflow))
        .routes(routes!(workflow_runs))
        .routes(routes!(incident_workflow_runs))
        .routes(routes!(get_workflow_run))
}

/// What a workflow does, in words.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SummaryOut {
    /// The trigger and the conditions: "When …, if …:".
    pub when: String,
    /// Each action.
    pub actions: Vec<String>,
}

impl SummaryOut {
    pub fn of(w: &Workflow) -> Self {
        let (when, actions) = w.describe();
        Self { when, actions }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkflowOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: WorkflowId,
    #[serde(flatten)]
    pub definition: Workflow,
    /// Counts saves.
    pub revision: i32,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: jiff::Timestamp,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub updated_by: Option<UserId>,
    pub summary: SummaryOut,
}

pub fn workflow_out(r: WorkflowRecord) -> WorkflowOut {
    WorkflowOut {
        id: r.id,
        summary: SummaryOut::of(&r.definition),
        definition: r.definition,
        revision: r.revision,
        created_at: r.created_at,
        updated_at: r.updated_at,
        updated_by: r.updated_by,
    }
}

/// A save's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedOut {
    pub change: Change,
    pub workflow: WorkflowOut,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionOutcomeOut {
    /// From 0, in the workflow's order.
    pub position: i32,
    pub action: String,
    /// `started`, `succeeded`, `failed`, `skipped` or `unknown` (Klaxon stopped while taking
    /// it: never taken again).
    pub state: String,
    pub detail: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkflowRunOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: WorkflowRunId,
    #[schema(value_type = String, format = Uuid)]
    pub workflow_id: WorkflowId,
    pub workflow: String,
    /// What fired it: `event:<sequence>` (a timeline event) or `no_update:<incident>:<ms>`.
    pub cause: String,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub incident_id: Option<IncidentId>,
    /// The workflow's revision it ran.
    pub revision: i32,
    /// `queued`, `running`, `done`, `stopped` (an action with `stop_on_failure` failed) or
    /// `loop` (not run: it would have run itself again).
    pub state: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<jiff::Timestamp>,
    /// The workflows whose actions led to this run, oldest first.
    #[schema(value_type = Vec<String>)]
    pub chain: Vec<WorkflowId>,
    pub actions: Vec<ActionOutcomeOut>,
}

pub fn run_out(r: WorkflowRunRecord) -> WorkflowRunOut {
    WorkflowRunOut {
        id: r.id,
        workflow_id: r.workflow_id,
        workflow: r.workflow_name,
        cause: r.cause,
        incident_id: r.incident_id,
        revision: r.revision,
        state: r.state,
        created_at: r.created_at,
        finished_at: r.finished_at,
        chain: r.chain,
        actions: r
            .actions
            .into_iter()
            .map(|a| ActionOutcomeOut {
                position: a.position,
                action: a.kind,
                state: a.state,
                detail: a.detail,
                at: a.at,
            })
            .collect(),
    }
}

/// A page of runs: `cursor` is the last run's id before, as `next_cursor` says.
async fn runs_page(
    state: &AppState,
    workflow: Option<WorkflowId>,
    incident: Option<IncidentId>,
    p: &PageParams,
) -> ApiResult<ListOf<WorkflowRunOut>> {
    const LIST: &str = "workflow_runs";
    let limit = Limit::parse(p.limit)?.get();
    let after = decode_cursor::<WorkflowRunId>(LIST, p.cursor.as_deref())?;
    let runs = state
        .store
        .list_workflow_runs(workflow, incident, after, limit + 1)
        .await?;
    Ok(page_of(LIST, runs, limit as usize, |r| r.id, run_out))
}

/// Every workflow, by name (any role).
#[utoipa::path(get, path = "/api/v1/workflows", tag = "workflows",
    responses((status = 200, body = Vec<WorkflowOut>)))]
async fn list_workflows(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<WorkflowOut>>> {
    caller.require(Role::Viewer)?;
    let all = state.store.list_workflows().await?;
    Ok(Json(all.into_iter().map(workflow_out).collect()))
}

/// Creates a workflow (admins). What it names (people, roles, teams, runbooks, templates,
/// status pages, webhooks, services) must exist.
#[utoipa::path(post, path = "/api/v1/workflows", tag = "workflows", request_body = Workflow,
    responses((status = 201, body = WorkflowOut), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_workflow(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(w): ApiJson<Workflow>,
) -> ApiResult<(StatusCode, Json<WorkflowOut>)> {
    caller.require(Role::Admin)?;
    // Create only: a workflow of that name, even one saved a moment ago, is a conflict.
    let (r, _) = workflows::save(&state, &author(&caller), None, Some(0), w).await?;
    Ok((StatusCode::CREATED, Json(workflow_out(r))))
}

/// Checks a workflow without saving it and says what it would do (admins): the editor's
/// preview and `klaxon workflows apply --dry-run`.
#[utoipa::path(post, path = "/api/v1/workflows/preview", tag = "workflows",
    request_body = Workflow,
    responses((status = 200, body = SummaryOut), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn preview_workflow(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(w): ApiJson<Workflow>,
) -> ApiResult<Json<SummaryOut>> {
    caller.require(Role::Admin)?;
    w.check()?;
    workflows::check_references(&state, &w).await?;
    Ok(Json(SummaryOut::of(&w)))
}

/// A workflow (any role).
#[utoipa::path(get, path = "/api/v1/workflows/{workflow}", tag = "workflows",
    params(("workflow" = String, Path, description = terms::doc::WORKFLOW, min_length = 1)),
    responses((status = 200, body = WorkflowOut), (status = 404, body = ErrorBody)))]
async fn get_workflow(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult<Json<WorkflowOut>> {
    caller.require(Role::Viewer)?;
    let id = terms::workflow(&state, &raw, At::Path("workflow")).await?;
    let r = state
        .store
        .workflow(id)
        .await
        .map_err(ApiError::or_not_found("workflow"))?;
    Ok(Json(workflow_out(r)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SaveParams {
    /// The revision this save was made from: refused (409) when the workflow is at another,
    /// so that two people editing at once do not overwrite each other. Left out: saved over
    /// whatever is there.
    #[param(minimum = 1)]
    pub revision: Option<i32>,
}

/// Saves a workflow whole (admins): the one named in the path, created when there is none
/// (then the body's name must be the path's). The same body again changes nothing
/// (`unchanged`). A body with another name renames it.
#[utoipa::path(put, path = "/api/v1/workflows/{workflow}", tag = "workflows",
    request_body = Workflow,
    params(("workflow" = String, Path, description = terms::doc::WORKFLOW, min_length = 1),
           SaveParams),
    responses((status = 200, body = SavedOut), (status = 201, body = SavedOut),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn put_workflow(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ApiQuery(p): ApiQuery<SaveParams>,
    ApiJson(w): ApiJson<Workflow>,
) -> ApiResult<(StatusCode, Json<SavedOut>)> {
    caller.require(Role::Admin)?;
    let target = match terms::workflow(&state, &raw, At::Path("workflow")).await {
        Ok(id) => Some(id),
        Err(ApiError::NotFound(_)) if raw == w.name => None,
        Err(ApiError::NotFound(_)) => {
            return Err(ApiError::invalid(
                "name",
                format!("no workflow is called {raw}: to create one, give it the same name"),
            ));
        }
        Err(e) => return Err(e),
    };
    let (r, change) = workflows::save(&state, &author(&caller), target, p.revision, w).await?;
    let status = if change == Change::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(SavedOut {
            change,
            workflow: workflow_out(r),
        }),
    ))
}

/// Deletes a workflow and its runs (admins). What its runs did stays on the timelines.
#[utoipa::path(delete, path = "/api/v1/workflows/{workflow}", tag = "workflows",
    params(("workflow" = String, Path, description = terms::doc::WORKFLOW, min_length = 1)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_workflow(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let id = terms::workflow(&state, &raw, At::Path("workflow")).await?;
    workflows::delete(&state, &author(&caller), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A workflow's runs, newest first, each with its actions' outcomes (any role).
#[utoipa::path(get, path = "/api/v1/workflows/{workflow}/runs", tag = "workflows",
    params(("workflow" = String, Path, description = terms::doc::WORKFLOW, min_length = 1),
           PageParams),
    responses((status = 200, body = ListOf<WorkflowRunOut>), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn workflow_runs(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<WorkflowRunOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::workflow(&state, &raw, At::Path("workflow")).await?;
    Ok(Json(runs_page(&state, Some(id), None, &p).await?))
}

/// The workflow runs on an incident, newest first (any role).
#[utoipa::path(get, path = "/api/v1/incidents/{id}/workflow-runs", tag = "workflows",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1),
           PageParams),
    responses((status = 200, body = ListOf<WorkflowRunOut>), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn incident_workflow_runs(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<WorkflowRunOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::incident(&state, &raw, At::Path("id")).await?;
    Ok(Json(runs_page(&state, None, Some(id), &p).await?))
}

/// One workflow run (any role).
#[utoipa::path(get, path = "/api/v1/workflow-runs/{id}", tag = "workflows",
    params(("id" = String, Path, description = "Workflow run id", format = Uuid)),
    responses((status = 200, body = WorkflowRunOut), (status = 404, body = ErrorBody)))]
async fn get_workflow_run(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult<Json<WorkflowRunOut>> {
    caller.require(Role::Viewer)?;
    let id = parse_field_id::<WorkflowRunId>(&raw, "id")
        .map_err(|_| ApiError::not_found("workflow run"))?;
    let r = state
        .store
        .workflow_run(id)
        .await
        .map_err(ApiError::or_not_found("workflow run"))?;
    Ok(Json(run_out(r)))
}
