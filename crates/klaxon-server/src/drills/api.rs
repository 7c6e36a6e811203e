//! The REST face of drills: anyone signed in reads scenarios, drills and scorecards;
//! responders save scenarios (`PUT` by name is what `klaxon drills apply` uses), record one
//! from a past incident, start drills and end them.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use klaxon_domain::auth::Role;
use klaxon_domain::drill::{Scenario, Scorecard, Targets};
use klaxon_domain::ids::{DrillId, DrillScenarioId, IncidentId, UserId};
use klaxon_domain::page::Limit;
use klaxon_store::{DrillRecord, ScenarioRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::practice::{self, StartDrill};
use super::scenarios::{self, Change};
use crate::automation::runbooks_api::author;
use crate::shared::api::{ApiJson, ApiQuery, Caller, ListOf, decode_cursor, encode_cursor};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_scenarios, create_scenario))
        .routes(routes!(record_scenario))
        .routes(routes!(preview_scenario))
        .routes(routes!(get_scenario, put_scenario, delete_scenario))
        .routes(routes!(list_drills, start_drill))
        .routes(routes!(get_drill))
        .routes(routes!(end_drill))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScenarioOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: DrillScenarioId,
    // The scenario's own fields, beside the record's (not flattened: the scenario's schema
    // refuses fields it does not know, and these are the record's).
    pub name: String,
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub severity: klaxon_domain::incident::Severity,
    pub targets: Targets,
    pub steps: Vec<klaxon_domain::drill::ScenarioStep>,
    /// Counts saves.
    pub revision: i32,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub updated_by: Option<UserId>,
}

pub fn scenario_out(r: ScenarioRecord) -> ScenarioOut {
    let d = r.definition;
    ScenarioOut {
        id: r.id,
        name: d.name,
        title: d.title,
        description: d.description,
        service: d.service,
        severity: d.severity,
        targets: d.targets,
        steps: d.steps,
        revision: r.revision,
        created_at: r.created_at,
        updated_at: r.updated_at,
        updated_by: r.updated_by,
    }
}

/// A save's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScenarioSavedOut {
    pub change: Change,
    pub scenario: ScenarioOut,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DrillOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: DrillId,
    /// Always true: said so that no reader takes it for the real thing.
    pub is_drill: bool,
    #[schema(value_type = String, format = Uuid)]
    pub incident_id: IncidentId,
    pub incident_number: i64,
    /// Starts with "DRILL: ".
    pub incident_title: String,
    pub incident_status: String,
    /// The scenario's name at the start; none for a drill by hand.
    pub scenario: Option<String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub scenario_id: Option<DrillScenarioId>,
    /// How many scripted steps it has, and its targets.
    pub steps: usize,
    /// The scripted steps that have happened, by position (from 0), with when.
    pub steps_taken: Vec<StepTaken>,
    pub targets: Targets,
    #[schema(value_type = String, format = DateTime)]
    pub started_at: Timestamp,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub started_by: Option<UserId>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub ended_by: Option<UserId>,
    /// Kept when the drill ended; while it runs, as things stand (`over` is false).
    pub scorecard: Scorecard,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepTaken {
    pub position: u32,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

pub async fn drill_out(state: &AppState, d: DrillRecord) -> ApiResult<DrillOut> {
    let scorecard = practice::scorecard(&*state.store, &d, state.clock.now()).await?;
    let steps_taken = state
        .store
        .drill_steps_taken(d.id)
        .await?
        .into_iter()
        .map(|(position, at)| StepTaken { position, at })
        .collect();
    Ok(DrillOut {
        id: d.id,
        is_drill: true,
        incident_id: d.incident_id,
        incident_number: d.incident_number,
        incident_title: d.incident_title,
        incident_status: d.incident_status,
        scenario: d.scenario_name,
        scenario_id: d.scenario_id,
        steps: d.definition.steps.len(),
        steps_taken,
        targets: d.definition.targets,
        started_at: d.started_at,
        started_by: d.started_by,
        ended_at: d.ended_at,
        ended_by: d.ended_by,
        scorecard,
    })
}

/// Every scenario, by name (any role).
#[utoipa::path(get, path = "/api/v1/drill-scenarios", tag = "drills",
    responses((status = 200, body = Vec<ScenarioOut>)))]
async fn list_scenarios(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ScenarioOut>>> {
    caller.require(Role::Viewer)?;
    let all = state.store.list_scenarios().await?;
    Ok(Json(all.into_iter().map(scenario_out).collect()))
}

/// Creates a scenario (responders). Its service must exist.
#[utoipa::path(post, path = "/api/v1/drill-scenarios", tag = "drills", request_body = Scenario,
    responses((status = 201, body = ScenarioOut), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_scenario(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(s): ApiJson<Scenario>,
) -> ApiResult<(StatusCode, Json<ScenarioOut>)> {
    caller.require(Role::Responder)?;
    let (r, _) = scenarios::save(&state, &author(&caller), None, Some(0), s).await?;
    Ok((StatusCode::CREATED, Json(scenario_out(r))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordScenario {
    /// The past incident whose alerts to replay, by id or number.
    pub incident: String,
    /// The new scenario's name.
    pub name: String,
    /// The drill's title; the incident's when absent.
    pub title: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordedOut {
    /// Not saved: edit it (targets, notes) and save it with `PUT`.
    pub scenario: Scenario,
    /// Alerts (or their resolutions) left out: more than a day after the first, or past the
    /// step limit.
    pub left_out: usize,
}

/// Writes a scenario replaying a past incident's alerts at the offsets they came, each
/// resolved when it was (responders). Not saved.
#[utoipa::path(post, path = "/api/v1/drill-scenarios/record", tag = "drills",
    request_body = RecordScenario,
    responses((status = 200, body = RecordedOut), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn record_scenario(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<RecordScenario>,
) -> ApiResult<Json<RecordedOut>> {
    caller.require(Role::Responder)?;
    let (scenario, left_out) =
        practice::record(&state, &body.incident, body.name, body.title).await?;
    Ok(Json(RecordedOut { scenario, left_out }))
}

/// What a scenario does, in words.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScenarioPreviewOut {
    /// Each step: "At 4.5 min: …".
    pub steps: Vec<String>,
    /// Each target: "Acknowledged within 5 min".
    pub targets: Vec<String>,
}

impl ScenarioPreviewOut {
    pub fn of(s: &Scenario) -> Self {
        let (steps, targets) = s.describe();
        Self { steps, targets }
    }
}

/// Checks a scenario without saving it and says what it would do (responders): the editor's
/// preview and `klaxon drills apply --dry-run`.
#[utoipa::path(post, path = "/api/v1/drill-scenarios/preview", tag = "drills",
    request_body = Scenario,
    responses((status = 200, body = ScenarioPreviewOut), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn preview_scenario(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(s): ApiJson<Scenario>,
) -> ApiResult<Json<ScenarioPreviewOut>> {
    caller.require(Role::Responder)?;
    s.check()?;
    scenarios::check_references(&state, &s).await?;
    Ok(Json(ScenarioPreviewOut::of(&s)))
}

/// A scenario (any role).
#[utoipa::path(get, path = "/api/v1/drill-scenarios/{scenario}", tag = "drills",
    params(("scenario" = String, Path, description = terms::doc::DRILL_SCENARIO, min_length = 1)),
    responses((status = 200, body = ScenarioOut), (status = 404, body = ErrorBody)))]
async fn get_scenario(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult<Json<ScenarioOut>> {
    caller.require(Role::Viewer)?;
    let id = terms::drill_scenario(&state, &raw, At::Path("scenario")).await?;
    let r = state
        .store
        .scenario(id)
        .await
        .map_err(ApiError::or_not_found("scenario"))?;
    Ok(Json(scenario_out(r)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SaveParams {
    /// The revision this save was made from: refused (409) when the scenario is at another.
    /// Left out: saved over whatever is there.
    #[param(minimum = 1)]
    pub revision: Option<i32>,
}

/// Saves a scenario whole (responders): the one named in the path, created when there is none
/// (then the body's name must be the path's). The same body again changes nothing.
#[utoipa::path(put, path = "/api/v1/drill-scenarios/{scenario}", tag = "drills",
    request_body = Scenario,
    params(("scenario" = String, Path, description = terms::doc::DRILL_SCENARIO, min_length = 1),
           SaveParams),
    responses((status = 200, body = ScenarioSavedOut), (status = 201, body = ScenarioSavedOut),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn put_scenario(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ApiQuery(p): ApiQuery<SaveParams>,
    ApiJson(s): ApiJson<Scenario>,
) -> ApiResult<(StatusCode, Json<ScenarioSavedOut>)> {
    caller.require(Role::Responder)?;
    if p.revision.is_some_and(|r| r < 1) {
        return Err(ApiError::invalid("revision", "must be 1 or more"));
    }
    let target = match terms::drill_scenario(&state, &raw, At::Path("scenario")).await {
        Ok(id) => Some(id),
        Err(ApiError::NotFound(_)) if raw == s.name => None,
        Err(ApiError::NotFound(_)) => {
            return Err(ApiError::invalid(
                "name",
                format!("no scenario is called {raw}: to create one, give it the same name"),
            ));
        }
        Err(e) => return Err(e),
    };
    let (r, change) = scenarios::save(&state, &author(&caller), target, p.revision, s).await?;
    let status = if change == Change::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(ScenarioSavedOut {
            change,
            scenario: scenario_out(r),
        }),
    ))
}

/// Deletes a scenario (responders). Its drills and their scorecards stay.
#[utoipa::path(delete, path = "/api/v1/drill-scenarios/{scenario}", tag = "drills",
    params(("scenario" = String, Path, description = terms::doc::DRILL_SCENARIO, min_length = 1)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_scenario(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    let id = terms::drill_scenario(&state, &raw, At::Path("scenario")).await?;
    scenarios::delete(&state, &author(&caller), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DrillParams {
    /// Only the drills of this scenario (by its name when they started): to compare them.
    pub scenario: Option<String>,
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Drills, newest first, each with its scorecard (any role).
#[utoipa::path(get, path = "/api/v1/drills", tag = "drills", params(DrillParams),
    responses((status = 200, body = ListOf<DrillOut>), (status = 400, body = ErrorBody)))]
async fn list_drills(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<DrillParams>,
) -> ApiResult<Json<ListOf<DrillOut>>> {
    caller.require(Role::Viewer)?;
    const LIST: &str = "drills";
    let limit = Limit::parse(p.limit)?.get();
    let after = decode_cursor::<DrillId>(LIST, p.cursor.as_deref())?;
    let name = p.scenario.as_deref().map(|s| s.trim().to_ascii_lowercase());
    let drills = state
        .store
        .list_drills(name.as_deref(), after, limit + 1)
        .await?;
    let mut drills = drills;
    let more = drills.len() > limit as usize;
    drills.truncate(limit as usize);
    let next_cursor = more
        .then(|| drills.last().map(|d| encode_cursor(LIST, d.id)))
        .flatten();
    let mut items = Vec::with_capacity(drills.len());
    for d in drills {
        items.push(drill_out(&state, d).await?);
    }
    Ok(Json(ListOf { items, next_cursor }))
}

/// Starts a drill (responders): from a saved scenario, or by hand with a title and a
/// severity. Its incident is declared marked "DRILL: " and pages the service's escalation
/// policy as a real one would.
#[utoipa::path(post, path = "/api/v1/drills", tag = "drills", request_body = StartDrill,
    responses((status = 201, body = DrillOut), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn start_drill(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<StartDrill>,
) -> ApiResult<(StatusCode, Json<DrillOut>)> {
    caller.require(Role::Responder)?;
    let d = practice::start(&state, &author(&caller), body).await?;
    Ok((StatusCode::CREATED, Json(drill_out(&state, d).await?)))
}

/// A drill with its scorecard (any role).
#[utoipa::path(get, path = "/api/v1/drills/{drill}", tag = "drills",
    params(("drill" = String, Path, description = terms::doc::DRILL, min_length = 1)),
    responses((status = 200, body = DrillOut), (status = 404, body = ErrorBody)))]
async fn get_drill(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult<Json<DrillOut>> {
    caller.require(Role::Viewer)?;
    let d = terms::drill(&state, &raw, At::Path("drill")).await?;
    Ok(Json(drill_out(&state, d).await?))
}

/// Ends a drill now and keeps its scorecard (responders); its remaining steps are not
/// injected. A drill also ends when its incident is resolved.
#[utoipa::path(post, path = "/api/v1/drills/{drill}/end", tag = "drills",
    params(("drill" = String, Path, description = terms::doc::DRILL, min_length = 1)),
    responses((status = 200, body = DrillOut), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn end_drill(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult<Json<DrillOut>> {
    caller.require(Role::Responder)?;
    let d = terms::drill(&state, &raw, At::Path("drill")).await?;
    let d = practice::end_by(&state, &author(&caller), &d).await?;
    Ok(Json(drill_out(&state, d).await?))
}
