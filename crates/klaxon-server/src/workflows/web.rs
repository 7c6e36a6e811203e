//! The workflow pages: `/workflows` (the list, each turned on or off from there),
//! `/workflows/new` and `/workflows/{name}/edit` (the YAML editor, with a preview that checks
//! what it names and says what it would do), and `/workflows/{name}` (what it does in words,
//! its YAML and its recent runs). Everyone signed in reads them; admins change them. The forms
//! call the same functions as the REST API; a refused definition comes back with the reason
//! beside the box and the text kept.
use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use klaxon_domain::auth::Role;
use klaxon_domain::ids::IncidentId;
use klaxon_domain::workflow::{TriggerKind, Workflow};
use klaxon_store::{StoreError, WorkflowRecord};
use serde::Deserialize;

use super::save as workflows;
use crate::automation::runbooks_web::{author, refuse};
use crate::automation::workflow_runs::{RunView, href, run_state_label, run_view};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};
use crate::shared::web::{
    FormErrors, Nav, PageResult, WebSession, forbidden, html, message, not_found_page,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/workflows", get(list_page))
        .route("/workflows/new", get(new_page).post(create))
        .route("/workflows/{name}", get(workflow_page))
        .route("/workflows/{name}/edit", get(edit_page).post(save))
        .route("/workflows/{name}/enable", post(enable))
        .route("/workflows/{name}/disable", post(disable))
        .route("/workflows/{name}/delete", post(delete))
}

/// What the editor of a new workflow starts with: a workflow that works as it is, with the
/// other triggers and actions named in comments.
const STARTER: &str = r#"# A workflow: when something happens to an incident (the trigger), if the
# incident is so (the conditions), take these actions in order.
name: major-incident-basics
description: What every SEV1 gets without anyone having to remember it.
enabled: true
trigger:
  # incident_declared, severity_changed, status_changed, role_assigned, alert,
  # postmortem_published, or no_update (with minutes: 30).
  on: incident_declared
conditions:
  # Also: priority, status, service, role (role_assigned), alert (alert), drills: false.
  severity: [SEV1]
actions:
  # Also: assign_role, start_runbook, post_update, set_component, call_webhook.
  - add_tasks: [Open a bridge, Tell support]
  - page: { role: commander, message: "SEV1: join the bridge" }
    stop_on_failure: false
"#;

/// The workflow behind `/workflows/{name}/…`, or the page to answer with.
async fn found(state: &AppState, raw: &str) -> Result<Result<WorkflowRecord, Response>, ApiError> {
    let id = match terms::workflow(state, raw, At::Path("workflow")).await {
        Ok(id) => id,
        Err(ApiError::NotFound(_) | ApiError::BadRequest { .. }) => {
            return Ok(Err(not_found_page()));
        }
        Err(e) => return Err(e),
    };
    match state.store.workflow(id).await {
        Ok(r) => Ok(Ok(r)),
        Err(e) if e.is_not_found() => Ok(Err(not_found_page())),
        Err(e) => Err(e.into()),
    }
}

/// One sentence: the trigger and conditions, then each action.
fn sentence(w: &Workflow) -> String {
    let (when, actions) = w.describe();
    format!("{when} {}.", actions.join("; "))
}

fn yaml(w: &Workflow) -> Result<String, ApiError> {
    yaml_serde::to_string(w).map_err(|e| ApiError::Internal(e.into()))
}

// --- runs, on a workflow's page and an incident's -----------------------------------------------

// --- the list -----------------------------------------------------------------------------------

struct Row {
    href: String,
    name: String,
    description: String,
    enabled: bool,
    summary: String,
    revision: i32,
    /// When it last ran and how, or none.
    last_run: Option<(String, &'static str, String)>,
}

#[derive(Template)]
#[template(path = "workflows.html")]
struct ListPage {
    nav: Option<Nav>,
    csrf: String,
    rows: Vec<Row>,
    admin: bool,
}

async fn list_page(State(state): State<AppState>, s: WebSession) -> PageResult {
    let reader = s.reader();
    let mut rows = Vec::new();
    for w in state.store.list_workflows().await? {
        let last = state
            .store
            .list_workflow_runs(Some(w.id), None, None, 1)
            .await?
            .into_iter()
            .next();
        rows.push(Row {
            href: href(&w),
            summary: sentence(&w.definition),
            name: w.definition.name,
            description: w.definition.description,
            enabled: w.definition.enabled,
            revision: w.revision,
            last_run: last.map(|r| {
                (
                    reader.when(r.created_at).html(),
                    run_state_label(&r.state),
                    r.state,
                )
            }),
        });
    }
    Ok(html(
        StatusCode::OK,
        &ListPage {
            nav: Some(Nav::new(&s, "/workflows")),
            csrf: s.session.csrf_token.clone(),
            rows,
            admin: s.user.role == Role::Admin,
        },
    ))
}

// --- the editor ---------------------------------------------------------------------------------

#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct EditForm {
    #[serde(default)]
    csrf: String,
    /// The workflow as YAML.
    #[serde(default)]
    definition: String,
    /// The revision the edit started from (an edit, not a new workflow).
    #[serde(default)]
    revision: String,
    /// `preview` to check and say what it would do without saving.
    #[serde(default)]
    action: String,
}

/// A preview: what the workflow would do, in words.
struct Preview {
    when: String,
    actions: Vec<String>,
}

#[derive(Template)]
#[template(path = "workflow_edit.html")]
struct EditPage {
    nav: Option<Nav>,
    csrf: String,
    /// Where the form posts: `/workflows/new` or `/workflows/{name}/edit`.
    action: String,
    /// The workflow's name and page when editing.
    editing: Option<(String, String)>,
    form: EditForm,
    errors: FormErrors,
    preview: Option<Preview>,
    triggers: Vec<(&'static str, &'static str)>,
}

fn edit_page_for(
    s: &WebSession,
    status: StatusCode,
    editing: Option<&WorkflowRecord>,
    form: EditForm,
    errors: FormErrors,
    preview: Option<Preview>,
) -> Response {
    let action = match editing {
        Some(r) => format!("{}/edit", href(r)),
        None => "/workflows/new".into(),
    };
    html(
        status,
        &EditPage {
            nav: Some(Nav::new(s, "/workflows")),
            csrf: s.session.csrf_token.clone(),
            action,
            editing: editing.map(|r| (r.definition.name.clone(), href(r))),
            form,
            errors,
            preview,
            triggers: TriggerKind::ALL
                .iter()
                .map(|t| (t.as_str(), t.describe()))
                .collect(),
        },
    )
}

/// The editor's text as a workflow, checked on its own (not yet what it names).
fn parse(text: &str) -> Result<Workflow, ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid(
            "definition",
            "is empty: write the workflow in YAML",
        ));
    }
    let value: yaml_serde::Value = yaml_serde::from_str(text)
        .map_err(|e| ApiError::invalid("definition", format!("is not YAML: {e}")))?;
    if value.is_sequence() {
        return Err(ApiError::invalid(
            "definition",
            "is a list: this page saves one workflow at a time",
        ));
    }
    let w: Workflow = klaxon_domain::yaml::typed_value("workflow", value).map_err(|e| {
        let field = e.field.strip_prefix("workflow.").unwrap_or(&e.field);
        ApiError::invalid(field, e.reason)
    })?;
    w.check()?;
    Ok(w)
}

/// A refusal as the editor shows it, beside the box: "At actions[0].page.user: …".
fn definition_errors(e: ApiError) -> Result<FormErrors, ApiError> {
    match &e {
        ApiError::BadRequest {
            field: Some(f),
            message,
            ..
        } if f == "definition" => {
            let m = message.strip_prefix("definition: ").unwrap_or(message);
            Ok(FormErrors::field("definition", m))
        }
        // Not a place in the text: the editor started from an old revision.
        ApiError::Conflict {
            field: Some(f),
            message,
        } if f == "revision" => {
            let m = message.strip_prefix("revision: ").unwrap_or(message);
            Ok(FormErrors::field("definition", m))
        }
        ApiError::BadRequest {
            field: Some(_),
            message,
            ..
        }
        | ApiError::Conflict {
            field: Some(_),
            message,
        } => Ok(FormErrors::field("definition", &format!("at {message}"))),
        ApiError::BadRequest { message, .. } | ApiError::Conflict { message, .. } => {
            Ok(FormErrors::field("definition", message))
        }
        _ => FormErrors::from_error(e),
    }
}

/// A new workflow must not take another's name (saving would overwrite it).
async fn name_free(state: &AppState, w: &Workflow) -> Result<(), ApiError> {
    match state.store.workflow_named(&w.name).await {
        Ok(_) => Err(workflows::name_taken(&w.name)),
        Err(StoreError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Everything a save checks, without saving: the preview.
async fn checked(
    state: &AppState,
    editing: Option<&WorkflowRecord>,
    f: &EditForm,
) -> Result<Workflow, ApiError> {
    let w = parse(&f.definition)?;
    match editing {
        None => name_free(state, &w).await?,
        Some(r) => {
            if f.revision.trim().parse::<i32>().ok() != Some(r.revision) {
                return Err(ApiError::Conflict {
                    message: format!(
                        "revision: someone saved this workflow meanwhile (it is at revision \
                         {}): open it again to start from theirs",
                        r.revision
                    ),
                    field: Some("revision".into()),
                });
            }
            if r.definition.name != w.name {
                name_free(state, &w).await?;
            }
        }
    }
    workflows::check_references(state, &w).await?;
    Ok(w)
}

async fn new_page(s: WebSession) -> PageResult {
    if s.user.role < Role::Admin {
        return Ok(forbidden("change workflows"));
    }
    let form = EditForm {
        definition: STARTER.into(),
        ..EditForm::default()
    };
    Ok(edit_page_for(
        &s,
        StatusCode::OK,
        None,
        form,
        FormErrors::default(),
        None,
    ))
}

/// Previews or saves.
async fn submit(
    state: &AppState,
    s: &WebSession,
    editing: Option<&WorkflowRecord>,
    f: EditForm,
) -> PageResult {
    // A preview checks all a save would; a save leaves that to `save`, which checks it once.
    let checking = if f.action == "preview" {
        checked(state, editing, &f).await
    } else {
        parse(&f.definition)
    };
    let w = match checking {
        Ok(w) => w,
        Err(e) => {
            let status = e.status();
            let errors = definition_errors(e)?;
            return Ok(edit_page_for(s, status, editing, f, errors, None));
        }
    };
    if f.action == "preview" {
        let (when, actions) = w.describe();
        let preview = Preview { when, actions };
        return Ok(edit_page_for(
            s,
            StatusCode::OK,
            editing,
            f,
            FormErrors::default(),
            Some(preview),
        ));
    }
    // A new one is created only: a workflow saved meanwhile under its name is not overwritten.
    let base = match editing {
        Some(_) => f.revision.trim().parse().ok(),
        None => Some(0),
    };
    match workflows::save(state, &author(s), editing.map(|r| r.id), base, w).await {
        Ok((r, _)) => Ok(Redirect::to(&href(&r)).into_response()),
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => {
            let status = e.status();
            let errors = definition_errors(e)?;
            Ok(edit_page_for(s, status, editing, f, errors, None))
        }
    }
}

async fn create(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<EditForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Admin, "change workflows") {
        return Ok(r);
    }
    submit(&state, &s, None, f).await
}

async fn edit_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
) -> PageResult {
    if s.user.role < Role::Admin {
        return Ok(forbidden("change workflows"));
    }
    let r = match found(&state, &raw).await? {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    let form = EditForm {
        definition: yaml(&r.definition)?,
        revision: r.revision.to_string(),
        ..EditForm::default()
    };
    Ok(edit_page_for(
        &s,
        StatusCode::OK,
        Some(&r),
        form,
        FormErrors::default(),
        None,
    ))
}

async fn save(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<EditForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Admin, "change workflows") {
        return Ok(r);
    }
    let r = match found(&state, &raw).await? {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    submit(&state, &s, Some(&r), f).await
}

// --- on, off and delete -------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ButtonForm {
    #[serde(default)]
    csrf: String,
    /// `page` to come back to the workflow's page; else the list.
    #[serde(default)]
    back: String,
}

async fn turn(state: &AppState, s: &WebSession, raw: &str, f: ButtonForm, on: bool) -> PageResult {
    if let Some(r) = refuse(s, &f.csrf, Role::Admin, "change workflows") {
        return Ok(r);
    }
    let r = match found(state, raw).await? {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    match workflows::set_enabled(state, &author(s), r.id, on).await {
        Ok((r, _)) => {
            let to = if f.back == "page" {
                href(&r)
            } else {
                "/workflows".to_owned()
            };
            Ok(Redirect::to(&to).into_response())
        }
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e @ (ApiError::BadRequest { .. } | ApiError::Conflict { .. })) => {
            let status = e.status();
            Ok(message(
                status,
                if on {
                    "This workflow cannot be turned on"
                } else {
                    "This workflow cannot be turned off"
                },
                &format!(
                    "{e}. Saving it checks what it names; edit it at {}/edit.",
                    href(&r)
                ),
            ))
        }
        Err(e) => Err(e),
    }
}

async fn enable(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<ButtonForm>,
) -> PageResult {
    turn(&state, &s, &raw, f, true).await
}

async fn disable(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<ButtonForm>,
) -> PageResult {
    turn(&state, &s, &raw, f, false).await
}

async fn delete(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<ButtonForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Admin, "delete workflows") {
        return Ok(r);
    }
    let r = match found(&state, &raw).await? {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    match workflows::delete(&state, &author(&s), r.id).await {
        Ok(()) | Err(ApiError::NotFound(_)) => Ok(Redirect::to("/workflows").into_response()),
        Err(e) => Err(e),
    }
}

// --- the workflow read --------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RunsQuery {
    /// Runs after this one, newest first: the older page.
    before: Option<String>,
}

/// Runs shown on a workflow's page at once.
const RUNS_SHOWN: u32 = 25;

#[derive(Template)]
#[template(path = "workflow.html")]
struct WorkflowPage {
    nav: Option<Nav>,
    csrf: String,
    href: String,
    name: String,
    description: String,
    enabled: bool,
    when: String,
    actions: Vec<String>,
    yaml: String,
    revision: i32,
    saved: String,
    saved_by: Option<String>,
    workflow_runs: Vec<RunView>,
    /// The link to older runs, when there may be some.
    older: Option<String>,
    /// Whether this page shows older runs (a link back to the newest).
    paged: bool,
    admin: bool,
}

async fn workflow_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Query(q): Query<RunsQuery>,
) -> PageResult {
    let r = match found(&state, &raw).await? {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    let reader = s.reader();
    let before = q
        .before
        .as_deref()
        .and_then(|b| b.trim().parse::<klaxon_domain::ids::WorkflowRunId>().ok());
    let runs = state
        .store
        .list_workflow_runs(Some(r.id), None, before, RUNS_SHOWN)
        .await?;
    let page = href(&r);
    let older = (runs.len() == RUNS_SHOWN as usize)
        .then(|| runs.last())
        .flatten()
        .map(|last| format!("{page}?before={}#runs", last.id));
    let mut incidents: HashMap<IncidentId, Option<String>> = HashMap::new();
    let mut workflow_runs = Vec::with_capacity(runs.len());
    for run in runs {
        let incident = match run.incident_id {
            Some(id) => {
                let label = match incidents.get(&id) {
                    Some(l) => l.clone(),
                    None => {
                        let l = match state.store.incident(id).await {
                            Ok(i) => Some(format!("#{} {}", i.number, i.title)),
                            Err(e) if e.is_not_found() => None,
                            Err(e) => return Err(e.into()),
                        };
                        incidents.insert(id, l.clone());
                        l
                    }
                };
                label.map(|l| (format!("/incidents/{id}"), l))
            }
            None => None,
        };
        workflow_runs.push(run_view(run, &reader, None, incident));
    }
    let saved_by = match r.updated_by {
        Some(u) => match state.store.user(u).await {
            Ok(u) => Some(u.name),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let (when, actions) = r.definition.describe();
    Ok(html(
        StatusCode::OK,
        &WorkflowPage {
            nav: Some(Nav::new(&s, "/workflows")),
            csrf: s.session.csrf_token.clone(),
            href: page,
            yaml: yaml(&r.definition)?,
            name: r.definition.name,
            description: r.definition.description,
            enabled: r.definition.enabled,
            when,
            actions,
            revision: r.revision,
            saved: reader.when(r.updated_at).html(),
            saved_by,
            workflow_runs,
            older,
            paged: before.is_some(),
            admin: s.user.role == Role::Admin,
        },
    ))
}
