//! The REST face of runbooks: `/api/v1/runbooks/…` and an incident's suggested runbooks.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use klaxon_domain::auth::Role;
use klaxon_domain::ids::RunbookId;
use klaxon_domain::runbook::{self, Approver, ParamKind, Runbook, StepKind, diff};
use klaxon_store::VersionInfo;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::runbooks::{
    self, Author, Outcome, RunbookRecordOut, Suggestion, SyncFile, SyncReport, Target,
};
use crate::shared::api::{ApiJson, ApiQuery, Caller};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_runbooks, create_runbook))
        .routes(routes!(get_runbook, save_runbook, delete_runbook))
        .routes(routes!(list_versions))
        .routes(routes!(get_version))
        .routes(routes!(restore_version))
        .routes(routes!(diff_versions))
        .routes(routes!(sync_runbooks))
        .routes(routes!(check_runbook))
        .routes(routes!(incident_runbooks))
}

// --- wire types ---------------------------------------------------------------------------------

/// A runbook's Markdown source (docs/runbooks.md describes the format).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRunbook {
    /// At most 256 KiB.
    pub source: String,
    /// What this version is for (at most 500 characters).
    #[serde(default)]
    pub message: String,
}

/// A new version of a runbook.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveRunbook {
    /// At most 256 KiB.
    pub source: String,
    #[serde(default)]
    pub message: String,
    /// The version the edit started from: 409 when another was saved since.
    pub base_version: Option<i32>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreIn {
    #[serde(default)]
    pub message: String,
}

/// Files to import as runbooks, each by its name (the front matter's, else the file's).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncIn {
    pub files: Vec<SyncFile>,
    /// The versions' message (default: "Synced from <path>").
    #[serde(default)]
    pub message: String,
    /// Say what would change, and write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DiffParams {
    /// The older version (default: the one before `to`).
    pub from: Option<i32>,
    /// The newer version (default: the latest).
    pub to: Option<i32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ParamOut {
    pub name: String,
    #[serde(flatten)]
    pub kind: ParamKind,
    pub description: String,
    pub default: Option<String>,
    pub required: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepOut {
    /// From 1.
    pub number: usize,
    pub title: String,
    /// `manual`, `http`, `command` or `approval`.
    pub kind: String,
    /// The Markdown under the step's heading.
    pub note: String,
    /// The step's `klaxon-…` block as written (not for manual steps).
    pub block: Option<String>,
    pub approver: Option<Approver>,
}

/// What a runbook's source says, read.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ParsedOut {
    pub name: String,
    pub title: String,
    pub intro: String,
    pub services: Vec<String>,
    pub matchers: Vec<runbook::Matcher>,
    pub params: Vec<ParamOut>,
    pub steps: Vec<StepOut>,
}

impl From<&Runbook> for ParsedOut {
    fn from(r: &Runbook) -> Self {
        Self {
            name: r.name.clone(),
            title: r.title.clone(),
            intro: r.intro.clone(),
            services: r.services.clone(),
            matchers: r.matchers.clone(),
            params: r
                .params
                .iter()
                .map(|p| ParamOut {
                    name: p.name.clone(),
                    kind: p.kind.clone(),
                    description: p.description.clone(),
                    default: p.default_text.clone(),
                    required: p.required,
                })
                .collect(),
            steps: r
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| StepOut {
                    number: i + 1,
                    title: s.title.clone(),
                    kind: s.kind.as_str().to_owned(),
                    note: s.note.clone(),
                    block: match &s.kind {
                        StepKind::Manual | StepKind::Approval(_) => None,
                        StepKind::Http(h) => Some(h.source.clone()),
                        StepKind::Command(c) => Some(c.source.clone()),
                    },
                    approver: match &s.kind {
                        StepKind::Approval(a) => Some(a.clone()),
                        _ => None,
                    },
                })
                .collect(),
        }
    }
}

/// A runbook: where it applies, its latest version's source and what that source says.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunbookOut {
    #[serde(flatten)]
    pub runbook: RunbookRecordOut,
    pub source: String,
    pub digest: String,
    pub parsed: ParsedOut,
}

/// A save's answer: the runbook as it now is, and what the save did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SavedOut {
    pub outcome: Outcome,
    pub runbook: RunbookRecordOut,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionOut {
    pub version: i32,
    pub digest: String,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub author_id: Option<klaxon_domain::ids::UserId>,
    pub author: String,
    pub message: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
}

impl From<VersionInfo> for VersionOut {
    fn from(v: VersionInfo) -> Self {
        Self {
            version: v.version,
            digest: v.digest,
            author_id: v.author_id,
            author: v.author,
            message: v.message,
            created_at: v.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionSourceOut {
    #[serde(flatten)]
    pub version: VersionOut,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DiffOut {
    pub from: i32,
    pub to: i32,
    pub lines: Vec<diff::Line>,
}

/// What checking a source found: it would save as this.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckOut {
    pub digest: String,
    pub parsed: ParsedOut,
}

// --- operations shared with the pages -------------------------------------------------------------

pub fn author(caller: &Caller) -> Author {
    Author {
        actor: caller.actor(),
        user_id: caller.user.id,
        name: caller.user.name.clone(),
        email: caller.user.email.clone(),
        role: caller.role,
    }
}

pub async fn runbook_out(state: &AppState, id: RunbookId) -> ApiResult<RunbookOut> {
    let r = state
        .store
        .runbook(id)
        .await
        .map_err(ApiError::or_not_found("runbook"))?;
    let v = state.store.runbook_version(id, r.version).await?;
    let parsed = runbooks::parse(&v.source, Some(&r.name))?;
    Ok(RunbookOut {
        runbook: r.into(),
        digest: v.info.digest,
        parsed: (&parsed).into(),
        source: v.source,
    })
}

/// The versions to compare: `to` (default the latest) and `from` (default the one before).
pub async fn diff_with(
    state: &AppState,
    id: RunbookId,
    from: Option<i32>,
    to: Option<i32>,
) -> ApiResult<DiffOut> {
    let r = state
        .store
        .runbook(id)
        .await
        .map_err(ApiError::or_not_found("runbook"))?;
    let to = to.unwrap_or(r.version);
    let from = from.unwrap_or((to - 1).max(1));
    let read = |n: i32, field: &'static str| async move {
        state
            .store
            .runbook_version(id, n)
            .await
            .map_err(|e| match e {
                klaxon_store::StoreError::NotFound => {
                    ApiError::invalid(field, format!("runbook has no version {n}"))
                }
                e => e.into(),
            })
    };
    let (a, b) = (read(from, "from").await?, read(to, "to").await?);
    Ok(DiffOut {
        from,
        to,
        lines: diff::lines(&a.source, &b.source),
    })
}

async fn runbook_id(state: &AppState, raw: &str) -> ApiResult<RunbookId> {
    terms::runbook(state, raw, At::Path("runbook")).await
}

// --- handlers -----------------------------------------------------------------------------------

/// Every runbook, by name (any role).
#[utoipa::path(get, path = "/api/v1/runbooks", tag = "runbooks",
    responses((status = 200, body = Vec<RunbookRecordOut>)))]
async fn list_runbooks(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<RunbookRecordOut>>> {
    caller.require(Role::Viewer)?;
    let all = state.store.list_runbooks().await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

/// A new runbook from its Markdown source, as version 1 (responder; admin when it has command
/// steps). 409 when its name is taken.
#[utoipa::path(post, path = "/api/v1/runbooks", tag = "runbooks", request_body = NewRunbook,
    responses((status = 201, body = SavedOut), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_runbook(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewRunbook>,
) -> ApiResult<(StatusCode, Json<SavedOut>)> {
    caller.require(Role::Responder)?;
    let s = runbooks::save(
        &state,
        &author(&caller),
        &b.source,
        &b.message,
        Target::New,
        None,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(SavedOut {
            outcome: s.outcome,
            runbook: s.record.into(),
        }),
    ))
}

/// One runbook with its latest source, read (any role).
#[utoipa::path(get, path = "/api/v1/runbooks/{runbook}", tag = "runbooks",
    params(("runbook" = String, Path, description = "Runbook id or name")),
    responses((status = 200, body = RunbookOut), (status = 404, body = ErrorBody)))]
async fn get_runbook(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult<Json<RunbookOut>> {
    caller.require(Role::Viewer)?;
    let id = runbook_id(&state, &raw).await?;
    Ok(Json(runbook_out(&state, id).await?))
}

/// Saves a new version (responder; admin when it has command steps). The same source as the
/// latest version writes nothing (`unchanged`). 409 when `base_version` is not the latest.
#[utoipa::path(put, path = "/api/v1/runbooks/{runbook}", tag = "runbooks", request_body = SaveRunbook,
    params(("runbook" = String, Path, description = "Runbook id or name")),
    responses((status = 200, body = SavedOut), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn save_runbook(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ApiJson(b): ApiJson<SaveRunbook>,
) -> ApiResult<Json<SavedOut>> {
    caller.require(Role::Responder)?;
    let id = runbook_id(&state, &raw).await?;
    let target = Target::Existing {
        id,
        base: b.base_version,
    };
    let s = runbooks::save(
        &state,
        &author(&caller),
        &b.source,
        &b.message,
        target,
        None,
    )
    .await?;
    Ok(Json(SavedOut {
        outcome: s.outcome,
        runbook: s.record.into(),
    }))
}

/// Removes a runbook and its versions (admin).
#[utoipa::path(delete, path = "/api/v1/runbooks/{runbook}", tag = "runbooks",
    params(("runbook" = String, Path, description = "Runbook id or name")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_runbook(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let id = runbook_id(&state, &raw).await?;
    runbooks::delete(&state, caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A runbook's versions, newest first (any role).
#[utoipa::path(get, path = "/api/v1/runbooks/{runbook}/versions", tag = "runbooks",
    params(("runbook" = String, Path, description = "Runbook id or name")),
    responses((status = 200, body = Vec<VersionOut>), (status = 404, body = ErrorBody)))]
async fn list_versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult<Json<Vec<VersionOut>>> {
    caller.require(Role::Viewer)?;
    let id = runbook_id(&state, &raw).await?;
    let v = state.store.runbook_versions(id).await?;
    Ok(Json(v.into_iter().map(Into::into).collect()))
}

/// One version with its source (any role).
#[utoipa::path(get, path = "/api/v1/runbooks/{runbook}/versions/{version}", tag = "runbooks",
    params(("runbook" = String, Path, description = "Runbook id or name"),
           ("version" = i32, Path, description = "Version number, from 1")),
    responses((status = 200, body = VersionSourceOut), (status = 404, body = ErrorBody)))]
async fn get_version(
    State(state): State<AppState>,
    caller: Caller,
    Path((raw, n)): Path<(String, String)>,
) -> ApiResult<Json<VersionSourceOut>> {
    caller.require(Role::Viewer)?;
    let id = runbook_id(&state, &raw).await?;
    let n: i32 = n
        .parse()
        .map_err(|_| ApiError::not_found("runbook version"))?;
    let v = state
        .store
        .runbook_version(id, n)
        .await
        .map_err(ApiError::or_not_found("runbook version"))?;
    Ok(Json(VersionSourceOut {
        version: v.info.into(),
        source: v.source,
    }))
}

/// Saves an old version's source again as the newest version (responder; admin when it has
/// command steps).
#[utoipa::path(post, path = "/api/v1/runbooks/{runbook}/versions/{version}/restore", tag = "runbooks",
    request_body = RestoreIn,
    params(("runbook" = String, Path, description = "Runbook id or name"),
           ("version" = i32, Path, description = "The version to restore")),
    responses((status = 200, body = SavedOut), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn restore_version(
    State(state): State<AppState>,
    caller: Caller,
    Path((raw, n)): Path<(String, String)>,
    ApiJson(b): ApiJson<RestoreIn>,
) -> ApiResult<Json<SavedOut>> {
    caller.require(Role::Responder)?;
    let id = runbook_id(&state, &raw).await?;
    let n: i32 = n
        .parse()
        .map_err(|_| ApiError::not_found("runbook version"))?;
    let s = runbooks::restore(&state, &author(&caller), id, n, &b.message).await?;
    Ok(Json(SavedOut {
        outcome: s.outcome,
        runbook: s.record.into(),
    }))
}

/// The lines two versions differ by (any role).
#[utoipa::path(get, path = "/api/v1/runbooks/{runbook}/diff", tag = "runbooks",
    params(("runbook" = String, Path, description = "Runbook id or name"), DiffParams),
    responses((status = 200, body = DiffOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn diff_versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ApiQuery(p): ApiQuery<DiffParams>,
) -> ApiResult<Json<DiffOut>> {
    caller.require(Role::Viewer)?;
    let id = runbook_id(&state, &raw).await?;
    Ok(Json(diff_with(&state, id, p.from, p.to).await?))
}

/// Imports files as runbooks by name (`klaxon runbooks sync DIR`): new names created, changed
/// files saved as new versions, the rest left; every file is checked before any is written.
/// Run twice, the second run changes nothing (responder; admin for command steps).
#[utoipa::path(post, path = "/api/v1/runbooks/sync", tag = "runbooks", request_body = SyncIn,
    responses((status = 200, body = SyncReport), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn sync_runbooks(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<SyncIn>,
) -> ApiResult<Json<SyncReport>> {
    caller.require(Role::Responder)?;
    if b.files.len() > 500 {
        return Err(ApiError::invalid("files", "at most 500 files at once"));
    }
    let r = runbooks::sync(&state, &author(&caller), &b.files, &b.message, b.dry_run).await?;
    Ok(Json(r))
}

/// Checks a source without saving it: what it would save as, or the refusal (any role).
#[utoipa::path(post, path = "/api/v1/runbooks/check", tag = "runbooks", request_body = NewRunbook,
    responses((status = 200, body = CheckOut), (status = 400, body = ErrorBody)))]
async fn check_runbook(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewRunbook>,
) -> ApiResult<Json<CheckOut>> {
    caller.require(Role::Viewer)?;
    let parsed = runbooks::parse(&b.source, None)?;
    for (i, name) in parsed.services.iter().enumerate() {
        let at = format!("front_matter.services[{i}]");
        terms::service(&state, name, At::Field(&at)).await?;
    }
    Ok(Json(CheckOut {
        digest: runbooks::digest(&b.source),
        parsed: (&parsed).into(),
    }))
}

/// The runbooks for an incident: those naming its service and those one of its alerts
/// matches, each with why (any role).
#[utoipa::path(get, path = "/api/v1/incidents/{id}/runbooks", tag = "runbooks",
    operation_id = "incident_runbooks",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 200, body = Vec<Suggestion>), (status = 404, body = ErrorBody)))]
async fn incident_runbooks(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult<Json<Vec<Suggestion>>> {
    caller.require(Role::Viewer)?;
    let id = terms::incident(&state, &raw, At::Path("id")).await?;
    Ok(Json(runbooks::suggestions(&state, id).await?))
}
