//! The run pages, inside the incident's: `/incidents/{id}/runs/new?runbook=…` (the
//! parameters to start a runbook with) and `/incidents/{id}/runs/{run}` (the run: each step's
//! state, who did it, its output, and the moves the current step allows). Forms call the same
//! functions as the REST API; a refused start comes back with each reason beside its field.
use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use klaxon_domain::auth::Role;
use klaxon_domain::ids::{IncidentId, RunId, RunbookId};
use klaxon_domain::runbook::run::{RunState, StepState};
use klaxon_domain::runbook::{Runbook, StepKind};
use serde::Deserialize;

use super::runbooks;
use super::runbooks_web::{View, author};
use super::runs::{self, Move};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::web::{
    FormErrors, Nav, PageResult, WebSession, forbidden, html, not_found_page,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/incidents/{id}/runs/new", get(new_page))
        .route("/incidents/{id}/runs", post(start))
        .route("/incidents/{id}/runs/{run}", get(run_page))
        .route("/incidents/{id}/runs/{run}/moves", post(move_run))
        .route(
            "/incidents/{id}/runs/{run}/steps/{n}/output",
            get(step_output),
        )
}

/// A step's whole output, as text, for someone signed in.
async fn step_output(
    State(state): State<AppState>,
    _s: WebSession,
    Path((raw, run, n)): Path<(String, String, String)>,
) -> PageResult {
    let (Some(inc), Ok(id), Ok(n)) = (
        incident_of(&state, &raw).await?,
        run.parse::<RunId>(),
        n.parse::<i32>(),
    ) else {
        return Ok(not_found_page());
    };
    match state.store.run(id).await {
        Ok((r, _)) if r.incident_id == inc.id => {}
        Ok(_) => return Ok(not_found_page()),
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    }
    match state.store.run_step_output(id, n).await {
        Ok(text) => Ok((
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            text,
        )
            .into_response()),
        Err(e) if e.is_not_found() => Ok(not_found_page()),
        Err(e) => Err(e.into()),
    }
}

struct ParamField {
    name: String,
    label: String,
    hint: String,
    value: String,
    choices: Vec<String>,
}

#[derive(Template)]
#[template(path = "run_new.html")]
struct NewPage {
    nav: Option<Nav>,
    csrf: String,
    incident_id: String,
    incident_number: i64,
    runbook_id: String,
    view: View,
    fields: Vec<ParamField>,
    errors: FormErrors,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NewQuery {
    #[serde(default)]
    runbook: String,
}

async fn incident_of(
    state: &AppState,
    raw: &str,
) -> Result<Option<klaxon_store::Incident>, ApiError> {
    let Ok(id) = raw.parse::<IncidentId>() else {
        return Ok(None);
    };
    match state.store.incident(id).await {
        Ok(i) => Ok(Some(i)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The runbook's latest version, read, and its parameters' fields as typed (or defaults).
async fn form_for(
    state: &AppState,
    inc: &klaxon_store::Incident,
    runbook: RunbookId,
    typed: &BTreeMap<String, String>,
) -> Result<Option<(Runbook, Vec<ParamField>)>, ApiError> {
    let rec = match state.store.runbook(runbook).await {
        Ok(r) => r,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let v = state.store.runbook_version(rec.id, rec.version).await?;
    let rb = runbooks::parse(&v.source, Some(&rec.name))?;
    let cx = runs::context(state.store.as_ref(), &state.settings, inc, &[]).await?;
    let fields = rb
        .params
        .iter()
        .map(|p| {
            let value = typed.get(&p.name).cloned().unwrap_or_else(|| {
                p.default
                    .as_ref()
                    .and_then(|d| d.render(&cx).ok())
                    .unwrap_or_default()
            });
            let kind = match &p.kind {
                klaxon_domain::runbook::ParamKind::String => "text",
                klaxon_domain::runbook::ParamKind::Integer => "a whole number",
                klaxon_domain::runbook::ParamKind::Number => "a number",
                klaxon_domain::runbook::ParamKind::Boolean => "true or false",
                klaxon_domain::runbook::ParamKind::Choice(_) => "one of the choices",
            };
            ParamField {
                name: p.name.clone(),
                label: format!("{}{}", p.name, if p.required { " (required)" } else { "" }),
                hint: if p.description.is_empty() {
                    kind.to_owned()
                } else {
                    format!("{}: {kind}", p.description)
                },
                value,
                choices: match &p.kind {
                    klaxon_domain::runbook::ParamKind::Choice(c) => c.clone(),
                    _ => Vec::new(),
                },
            }
        })
        .collect();
    Ok(Some((rb, fields)))
}

async fn new_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Query(q): Query<NewQuery>,
) -> PageResult {
    if s.user.role < Role::Responder {
        return Ok(forbidden("run runbooks"));
    }
    let (Some(inc), Ok(rid)) = (
        incident_of(&state, &raw).await?,
        q.runbook.parse::<RunbookId>(),
    ) else {
        return Ok(not_found_page());
    };
    let Some((rb, fields)) = form_for(&state, &inc, rid, &BTreeMap::new()).await? else {
        return Ok(not_found_page());
    };
    Ok(new_page_for(
        &s,
        StatusCode::OK,
        &inc,
        rid,
        &rb,
        fields,
        FormErrors::default(),
    ))
}

fn new_page_for(
    s: &WebSession,
    status: StatusCode,
    inc: &klaxon_store::Incident,
    rid: RunbookId,
    rb: &Runbook,
    fields: Vec<ParamField>,
    errors: FormErrors,
) -> Response {
    html(
        status,
        &NewPage {
            nav: Some(Nav::new(s, "/incidents")),
            csrf: s.session.csrf_token.clone(),
            incident_id: inc.id.to_string(),
            incident_number: inc.number,
            runbook_id: rid.to_string(),
            view: View::of(rb),
            fields,
            errors,
        },
    )
}

/// The start form: the runbook and each parameter as `param.<name>`.
async fn start(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let field = |k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if let Err(r) = s.check_csrf(&field("csrf")) {
        return Ok(r);
    }
    if s.user.role < Role::Responder {
        return Ok(forbidden("run runbooks"));
    }
    let (Some(inc), Ok(rid)) = (
        incident_of(&state, &raw).await?,
        field("runbook").parse::<RunbookId>(),
    ) else {
        return Ok(not_found_page());
    };
    let given: BTreeMap<String, String> = f
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("param.").map(|n| (n.to_owned(), v.clone())))
        .collect();
    match runs::start(&state, &author(&s), inc.id, rid, &given).await {
        Ok(r) => Ok(Redirect::to(&format!("/incidents/{}/runs/{}", inc.id, r.id)).into_response()),
        Err(e @ (ApiError::BadRequest { .. } | ApiError::Conflict { .. })) => {
            let status = e.status();
            let errors = FormErrors::from_error(e)?;
            let Some((rb, fields)) = form_for(&state, &inc, rid, &given).await? else {
                return Ok(not_found_page());
            };
            Ok(new_page_for(&s, status, &inc, rid, &rb, fields, errors))
        }
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => Err(e),
    }
}

struct StepRow {
    index: i32,
    number: i32,
    title: String,
    kind_label: &'static str,
    state: &'static str,
    state_label: &'static str,
    current: bool,
    note: String,
    output: String,
    truncated: bool,
    detail: String,
    approver: Option<String>,
    when: String,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    nav: Option<Nav>,
    csrf: String,
    incident_id: String,
    incident_number: i64,
    run_id: String,
    title: String,
    runbook: String,
    runbook_id: Option<String>,
    version: i32,
    state: &'static str,
    state_label: &'static str,
    params: Vec<(String, String)>,
    steps: Vec<StepRow>,
    /// The moves the run allows now, as (move, button label).
    moves: Vec<(&'static str, &'static str)>,
    can_move: bool,
    error: Option<String>,
}

fn state_label(s: StepState) -> &'static str {
    match s {
        StepState::Pending => "Not reached",
        StepState::Waiting => "Waiting for someone to do it",
        StepState::AwaitingApproval => "Waiting for approval",
        StepState::Queued => "Queued",
        StepState::Running => "Running",
        StepState::Succeeded => "Done",
        StepState::Failed => "Failed",
        StepState::Unknown => "Outcome unknown",
        StepState::Skipped => "Skipped",
        StepState::Cancelled => "Cancelled",
    }
}

fn run_label(s: RunState) -> &'static str {
    match s {
        RunState::Active => "Running",
        RunState::Paused => "Paused",
        RunState::Stopped => "Stopped: the current step needs someone",
        RunState::Succeeded => "Completed",
        RunState::Aborted => "Aborted",
    }
}

/// The moves the run allows now, for its buttons.
fn moves(state: RunState, step: Option<StepState>) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if matches!(state, RunState::Succeeded | RunState::Aborted) {
        return out;
    }
    match step {
        Some(StepState::Waiting) => out.push(("complete", "Mark done")),
        Some(StepState::AwaitingApproval) => {
            out.push(("approve", "Approve"));
            out.push(("reject", "Reject"));
        }
        Some(StepState::Failed | StepState::Unknown) => out.push(("retry", "Retry step")),
        _ => {}
    }
    if step.is_some_and(|s| s != StepState::Running) {
        out.push(("skip", "Skip step"));
    }
    match state {
        RunState::Active => out.push(("pause", "Pause")),
        RunState::Paused => out.push(("resume", "Resume")),
        _ => {}
    }
    out.push(("abort", "Abort run"));
    out
}

async fn render_run(
    state: &AppState,
    s: &WebSession,
    status: StatusCode,
    inc: &klaxon_store::Incident,
    id: RunId,
    error: Option<String>,
) -> PageResult {
    let l = match runs::load(state, id).await {
        Ok(l) if l.run.incident_id == inc.id => l,
        Ok(_) | Err(ApiError::NotFound(_)) => return Ok(not_found_page()),
        Err(e) => return Err(e),
    };
    let reader = s.reader();
    let current = l.run.current;
    let steps = l
        .steps
        .iter()
        .map(|st| {
            let kind = l.rb.steps.get(st.index as usize).map(|x| &x.kind);
            StepRow {
                index: st.index,
                number: st.index + 1,
                title: st.title.clone(),
                kind_label: match kind {
                    Some(StepKind::Http(_)) => "HTTP request",
                    Some(StepKind::Command(_)) => "Command",
                    Some(StepKind::Approval(_)) => "Approval",
                    _ => "Manual",
                },
                state: st.state.as_str(),
                state_label: state_label(st.state),
                current: st.index == current && !l.run.state.eq(&RunState::Succeeded),
                note: st.note.clone(),
                output: st.output.clone(),
                truncated: st.truncated,
                detail: match (&st.detail["status"], &st.detail["error"]) {
                    (serde_json::Value::Number(n), _) => format!("HTTP {n}"),
                    (_, serde_json::Value::String(e)) => e.clone(),
                    _ => String::new(),
                },
                approver: match kind {
                    Some(StepKind::Approval(a)) => Some(super::runbooks_web::approver_label(a)),
                    _ => None,
                },
                when: st
                    .finished_at
                    .or(st.started_at)
                    .map(|t| reader.when(t).html())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let step_state = l.steps.get(current as usize).map(|s| s.state);
    Ok(html(
        status,
        &RunPage {
            nav: Some(Nav::new(s, "/incidents")),
            csrf: s.session.csrf_token.clone(),
            incident_id: inc.id.to_string(),
            incident_number: inc.number,
            run_id: id.to_string(),
            title: l.run.title.clone(),
            runbook: l.run.runbook_name.clone(),
            runbook_id: l.run.runbook_id.map(|r| r.to_string()),
            version: l.run.version,
            state: l.run.state.as_str(),
            state_label: run_label(l.run.state),
            params: l.run.params.clone(),
            steps,
            moves: moves(l.run.state, step_state),
            can_move: s.user.role >= Role::Responder,
            error,
        },
    ))
}

async fn run_page(
    State(state): State<AppState>,
    s: WebSession,
    Path((raw, run)): Path<(String, String)>,
) -> PageResult {
    let (Some(inc), Ok(id)) = (incident_of(&state, &raw).await?, run.parse::<RunId>()) else {
        return Ok(not_found_page());
    };
    render_run(&state, &s, StatusCode::OK, &inc, id, None).await
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct MoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default, rename = "move")]
    mv: String,
    #[serde(default)]
    note: String,
}

async fn move_run(
    State(state): State<AppState>,
    s: WebSession,
    Path((raw, run)): Path<(String, String)>,
    Form(f): Form<MoveForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let (Some(inc), Ok(id)) = (incident_of(&state, &raw).await?, run.parse::<RunId>()) else {
        return Ok(not_found_page());
    };
    let Ok(mv) = serde_json::from_value::<Move>(serde_json::Value::String(f.mv.clone())) else {
        return render_run(
            &state,
            &s,
            StatusCode::BAD_REQUEST,
            &inc,
            id,
            Some("Pick a move.".into()),
        )
        .await;
    };
    match runs::act(&state, &author(&s), id, mv, &f.note).await {
        Ok(_) => Ok(Redirect::to(&format!("/incidents/{}/runs/{id}", inc.id)).into_response()),
        Err(
            e @ (ApiError::BadRequest { .. } | ApiError::Conflict { .. } | ApiError::Forbidden(_)),
        ) => {
            let status = e.status();
            render_run(&state, &s, status, &inc, id, Some(e.to_string())).await
        }
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => Err(e),
    }
}
