//! The run pages, inside the incident's: `/incidents/{id}/runs/new?runbook=…` (the
//! parameters to start a runbook with) and `/incidents/{id}/runs/{run}` (the run: each step's
//! state, who did it, its output, and the moves the current step allows). The incident's page
//! shows each run that is not over the same way ([`for_incident`]), its moves coming back there.
//! Forms call the same functions as the REST API; a refused start or move comes back with each
//! reason beside its field.
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
use klaxon_domain::runbook::{Approver, Runbook, StepKind};
use klaxon_store::RunRecord;
use serde::Deserialize;

use super::runbooks;
use super::runbooks_web::{View, author};
use super::runs::{self, Loaded, Move};
use crate::shared::error::{ApiError, ApiResult};
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

pub(crate) struct StepRow {
    pub(crate) index: i32,
    pub(crate) number: i32,
    pub(crate) title: String,
    pub(crate) kind_label: &'static str,
    pub(crate) state: &'static str,
    pub(crate) state_label: &'static str,
    pub(crate) current: bool,
    pub(crate) note: String,
    pub(crate) output: String,
    pub(crate) truncated: bool,
    pub(crate) detail: String,
    pub(crate) approver: Option<String>,
    pub(crate) when: String,
}

/// Where a run is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Its own page, `/incidents/{id}/runs/{run}`.
    Page,
    /// Inline on its incident's page, which its moves come back to.
    Incident,
}

/// A refused move shown again: why, the note as typed, and the page it was sent from.
#[derive(Default)]
pub(crate) struct Typed {
    errors: FormErrors,
    note: String,
    /// `/incidents/{id}` when it came from the incident's page, else "".
    back: String,
}

/// One run as people read it and act on it, on its own page and inline on its incident's
/// (`run_steps.html`): its state, each step's, and the moves the current step allows this
/// person.
pub(crate) struct RunView {
    pub(crate) id: String,
    pub(crate) incident_id: String,
    pub(crate) title: String,
    pub(crate) state: &'static str,
    pub(crate) state_label: &'static str,
    /// `<time>` in the reader's zone.
    pub(crate) started: String,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) steps: Vec<StepRow>,
    /// Whether a step is current (a run without steps offers only "Abort").
    pub(crate) has_current: bool,
    /// The moves the run allows this person now, as (move, button label).
    pub(crate) moves: Vec<(&'static str, &'static str)>,
    pub(crate) can_move: bool,
    /// The current step is an approval this person may not give: who gives it.
    pub(crate) approval_for: Option<String>,
    pub(crate) inline: bool,
    /// The page a move comes back to, sent with it ("" for the run's page).
    pub(crate) back: String,
    /// The heading of each step: under the page's `h1`, or the run's `h4` on the incident's.
    pub(crate) step_heading: &'static str,
    pub(crate) errors: FormErrors,
    /// The note as typed, when a move was refused.
    pub(crate) note: String,
}

impl RunView {
    /// A control's id: as it is on the run's page, and with the run's id inline, where several
    /// runs may show (`run-note` becomes `run-{id}-note`).
    pub(crate) fn control(&self, what: &str) -> String {
        if self.inline {
            format!(
                "run-{}-{}",
                self.id,
                what.strip_prefix("run-").unwrap_or(what)
            )
        } else {
            what.to_owned()
        }
    }

    pub(crate) fn move_id(&self, mv: &str) -> String {
        self.control(&format!("move-{mv}"))
    }

    pub(crate) fn shows_form(&self) -> bool {
        self.can_move && !self.moves.is_empty()
    }

    /// The refusal's message for the note, shown beside it (when the form shows it).
    pub(crate) fn note_error(&self) -> Option<&str> {
        if self.shows_form() && self.has_current {
            self.errors.get("note")
        } else {
            None
        }
    }

    /// The refusal's other messages: at the top of the form, or of the run without one.
    pub(crate) fn loose_errors(&self) -> Vec<&str> {
        if self.note_error().is_some() {
            self.errors.others(&["note"])
        } else {
            self.errors.others(&[] as &[&str])
        }
    }
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    nav: Option<Nav>,
    csrf: String,
    incident_number: i64,
    runbook: String,
    runbook_id: Option<String>,
    version: i32,
    run: RunView,
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

async fn approves(
    state: &AppState,
    s: &WebSession,
    incident: IncidentId,
    a: &Approver,
) -> ApiResult<bool> {
    runs::approves(state, incident, a, (&s.user.email, s.user.id, s.user.role)).await
}

/// The view of run `id` for `s`, shown at `place`, with a refused move's `typed` (if any); none
/// when it is not a run of `incident`.
async fn run_view(
    state: &AppState,
    s: &WebSession,
    incident: IncidentId,
    id: RunId,
    place: Place,
    typed: Typed,
) -> ApiResult<Option<(RunView, Loaded)>> {
    let l = match runs::load(state, id).await {
        Ok(l) if l.run.incident_id == incident => l,
        Ok(_) | Err(ApiError::NotFound(_)) => return Ok(None),
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
        .collect::<Vec<StepRow>>();
    let step_state = l.steps.get(current as usize).map(|s| s.state);
    let mut offered = moves(l.run.state, step_state);
    let mut approval_for = None;
    // An approval is its approver's alone (skipping it too): nobody else is offered it.
    if let Some(StepKind::Approval(a)) = l.rb.steps.get(current.max(0) as usize).map(|x| &x.kind)
        && !offered.is_empty()
        && !approves(state, s, incident, a).await?
    {
        offered.retain(|(mv, _)| !matches!(*mv, "approve" | "reject" | "skip"));
        if step_state == Some(StepState::AwaitingApproval) {
            approval_for = Some(super::runbooks_web::approver_label(a));
        }
    }
    let inline = place == Place::Incident;
    let view = RunView {
        id: id.to_string(),
        incident_id: incident.to_string(),
        title: l.run.title.clone(),
        state: l.run.state.as_str(),
        state_label: run_label(l.run.state),
        started: reader.when(l.run.created_at).html(),
        params: l.run.params.clone(),
        has_current: steps.iter().any(|st| st.current),
        steps,
        moves: offered,
        can_move: s.user.role >= Role::Responder,
        approval_for,
        inline,
        back: if inline {
            format!("/incidents/{incident}")
        } else {
            typed.back
        },
        step_heading: if inline { "h5" } else { "h2" },
        errors: typed.errors,
        note: typed.note,
    };
    Ok(Some((view, l)))
}

/// The runbook card's runs on an incident's page, for `s`: those not over, each inline with
/// its steps and moves (which come back to the incident's page), and the records of the
/// finished ones, newest first.
pub(crate) async fn for_incident(
    state: &AppState,
    s: &WebSession,
    incident: IncidentId,
) -> ApiResult<(Vec<RunView>, Vec<RunRecord>)> {
    let mut live = Vec::new();
    let mut over = Vec::new();
    for r in state.store.incident_runs(incident).await? {
        if matches!(r.state, RunState::Succeeded | RunState::Aborted) {
            over.push(r);
        } else if let Some((v, _)) =
            run_view(state, s, incident, r.id, Place::Incident, Typed::default()).await?
        {
            live.push(v);
        }
    }
    Ok((live, over))
}

async fn render_run(
    state: &AppState,
    s: &WebSession,
    status: StatusCode,
    inc: &klaxon_store::Incident,
    id: RunId,
    typed: Typed,
) -> PageResult {
    let Some((run, l)) = run_view(state, s, inc.id, id, Place::Page, typed).await? else {
        return Ok(not_found_page());
    };
    Ok(html(
        status,
        &RunPage {
            nav: Some(Nav::new(s, "/incidents")),
            csrf: s.session.csrf_token.clone(),
            incident_number: inc.number,
            runbook: l.run.runbook_name.clone(),
            runbook_id: l.run.runbook_id.map(|r| r.to_string()),
            version: l.run.version,
            run,
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
    render_run(&state, &s, StatusCode::OK, &inc, id, Typed::default()).await
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct MoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default, rename = "move")]
    mv: String,
    #[serde(default)]
    note: String,
    /// The incident's page, when the move was made there: it comes back to it. Anything else
    /// (another page, another site) is ignored.
    #[serde(default)]
    back: String,
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
    // Only this incident's own page: never a redirect elsewhere.
    let back = if f.back == format!("/incidents/{}", inc.id) {
        f.back
    } else {
        String::new()
    };
    let again = |errors: FormErrors| Typed {
        errors,
        note: f.note.clone(),
        back: back.clone(),
    };
    let Ok(mv) = serde_json::from_value::<Move>(serde_json::Value::String(f.mv.clone())) else {
        let typed = again(FormErrors::field("move", "pick a move"));
        return render_run(&state, &s, StatusCode::BAD_REQUEST, &inc, id, typed).await;
    };
    match runs::act(&state, &author(&s), id, mv, &f.note).await {
        Ok(_) if back.is_empty() => {
            Ok(Redirect::to(&format!("/incidents/{}/runs/{id}", inc.id)).into_response())
        }
        Ok(_) => Ok(Redirect::to(&format!("{back}#run-{id}")).into_response()),
        Err(
            e @ (ApiError::BadRequest { .. } | ApiError::Conflict { .. } | ApiError::Forbidden(_)),
        ) => {
            let status = e.status();
            let typed = again(FormErrors::from_error(e)?);
            render_run(&state, &s, status, &inc, id, typed).await
        }
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => Err(e),
    }
}
