//! The runbook pages: `/runbooks` (the list), `/runbooks/new` and `/runbooks/{id}/edit` (the
//! editor, with a preview of what the source says), `/runbooks/{id}` (the runbook read),
//! `/runbooks/{id}/versions` (its history, each version's source, a diff between two, and
//! restore). Forms call the same functions as the REST API; a refused save comes back with
//! the reason beside the editor and the text kept.
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use klaxon_domain::auth::Role;
use klaxon_domain::event::Actor;
use klaxon_domain::ids::RunbookId;
use klaxon_domain::runbook::diff::{Line, Op};
use klaxon_domain::runbook::{Approver, ParamKind, Runbook, StepKind};
use klaxon_store::VersionInfo;
use serde::Deserialize;

use super::runbooks::{self, Author, Target};
use super::runbooks_api::{self, RunbookOut};
use crate::shared::error::ApiError;
use crate::shared::lists::all_services;
use crate::shared::markdown;
use crate::shared::state::AppState;
use crate::shared::time::Reader;
use crate::shared::web::{
    FormErrors, Nav, PageResult, WebSession, forbidden, html, not_found_page,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/runbooks", get(list_page))
        .route("/runbooks/sync", post(sync_files))
        .route("/runbooks/new", get(new_page).post(create))
        .route("/runbooks/{id}", get(runbook_page))
        .route("/runbooks/{id}/edit", get(edit_page).post(save))
        .route("/runbooks/{id}/delete", post(delete))
        .route("/runbooks/{id}/versions", get(versions_page))
        .route("/runbooks/{id}/versions/{n}", get(version_page))
        .route("/runbooks/{id}/versions/{n}/restore", post(restore))
}

/// What a new runbook's editor starts with: every kind of step, to edit down.
const STARTER: &str = r#"---
name: restart-web
services: []
params:
  - name: host
    description: The host to act on
    default: "{{ alert.details.host }}"
---
# Restart the web tier

When to use this runbook, and what it fixes.

## Look at the dashboard
Check the error rate before you change anything.

## Approve the restart
```klaxon-approval
role: commander
```

## Drain the host
```klaxon-http
method: POST
url: "https://lb.example.com/api/drain/{{ params.host }}"
```
"#;

/// A runbook's text as the page shows it: Markdown as HTML, each step with its kind.
pub struct View {
    pub title: String,
    pub intro_html: String,
    pub params: Vec<ParamView>,
    pub steps: Vec<StepView>,
    pub services: Vec<String>,
    pub matchers: Vec<String>,
}

pub struct ParamView {
    pub name: String,
    pub kind: String,
    pub description: String,
    pub default: String,
    pub required: bool,
}

pub struct StepView {
    pub number: usize,
    pub title: String,
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub note_html: String,
    /// The step's block as written, shown as code.
    pub block: Option<String>,
    pub approver: Option<String>,
}

impl View {
    pub fn of(r: &Runbook) -> Self {
        Self {
            title: r.title.clone(),
            intro_html: markdown::to_html(&r.intro),
            params: r
                .params
                .iter()
                .map(|p| ParamView {
                    name: p.name.clone(),
                    kind: match &p.kind {
                        ParamKind::String => "text".into(),
                        ParamKind::Integer => "whole number".into(),
                        ParamKind::Number => "number".into(),
                        ParamKind::Boolean => "true or false".into(),
                        ParamKind::Choice(v) => format!("one of {}", v.join(", ")),
                    },
                    description: p.description.clone(),
                    default: p.default_text.clone().unwrap_or_default(),
                    required: p.required,
                })
                .collect(),
            steps: r
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| StepView {
                    number: i + 1,
                    title: s.title.clone(),
                    kind: s.kind.as_str(),
                    kind_label: match s.kind {
                        StepKind::Manual => "Manual",
                        StepKind::Http(_) => "HTTP request",
                        StepKind::Command(_) => "Command",
                        StepKind::Approval(_) => "Approval",
                    },
                    note_html: markdown::to_html(&s.note),
                    block: match &s.kind {
                        StepKind::Http(h) => Some(h.source.clone()),
                        StepKind::Command(c) => Some(c.source.clone()),
                        _ => None,
                    },
                    approver: match &s.kind {
                        StepKind::Approval(a) => Some(approver_label(a)),
                        _ => None,
                    },
                })
                .collect(),
            services: r.services.clone(),
            matchers: r
                .matchers
                .iter()
                .map(|m| {
                    m.0.iter()
                        .map(|(k, v)| format!("{k} = {v}"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                })
                .collect(),
        }
    }
}

pub(crate) fn approver_label(a: &Approver) -> String {
    match a {
        Approver::User(email) => format!("{email} approves"),
        Approver::IncidentRole(role) => format!("The incident's {role} approves"),
        Approver::KlaxonRole(role) => format!("Anyone with the {role} role approves"),
    }
}

// --- the list -----------------------------------------------------------------------------------

struct Row {
    id: String,
    name: String,
    title: String,
    version: i32,
    has_commands: bool,
    services: Vec<String>,
    updated: String,
}

#[derive(Template)]
#[template(path = "runbooks.html")]
struct ListPage {
    nav: Option<Nav>,
    csrf: String,
    rows: Vec<Row>,
    can_write: bool,
    admin: bool,
    /// What the upload form did, or why it was refused.
    report: Option<runbooks::SyncReport>,
    sync_errors: FormErrors,
}

async fn list_page(State(state): State<AppState>, s: WebSession) -> PageResult {
    render_list(&state, &s, StatusCode::OK, None, FormErrors::default()).await
}

async fn render_list(
    state: &AppState,
    s: &WebSession,
    status: StatusCode,
    report: Option<runbooks::SyncReport>,
    sync_errors: FormErrors,
) -> PageResult {
    let state = state.clone();
    let reader = s.reader();
    let names: std::collections::HashMap<_, _> = all_services(&state)
        .await?
        .into_iter()
        .map(|x| (x.id, x.name))
        .collect();
    let rows = state
        .store
        .list_runbooks()
        .await?
        .into_iter()
        .map(|r| Row {
            id: r.id.to_string(),
            name: r.name,
            title: r.title,
            version: r.version,
            has_commands: r.has_commands,
            services: r
                .services
                .iter()
                .filter_map(|id| names.get(id).cloned())
                .collect(),
            updated: reader.when(r.updated_at).html(),
        })
        .collect();
    Ok(html(
        status,
        &ListPage {
            nav: Some(Nav::new(s, "/runbooks")),
            csrf: s.session.csrf_token.clone(),
            rows,
            can_write: s.user.role >= Role::Responder,
            admin: s.user.role == Role::Admin,
            report,
            sync_errors,
        },
    ))
}

/// Runbook files uploaded from the list page, synced as `klaxon runbooks sync` does (each by
/// its name; every file checked before any is written).
async fn sync_files(
    State(state): State<AppState>,
    s: WebSession,
    mut form: axum::extract::Multipart,
) -> PageResult {
    let mut csrf = String::new();
    let mut message = String::new();
    let mut dry_run = false;
    let mut files = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::invalid("files", e.body_text()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let text = field
            .text()
            .await
            .map_err(|e| ApiError::invalid("files", e.body_text()))?;
        match (name.as_str(), file_name) {
            ("csrf", _) => csrf = text,
            ("message", _) => message = text,
            ("dry_run", _) => dry_run = text == "yes",
            ("files", Some(path)) if !path.is_empty() => {
                files.push(runbooks::SyncFile { path, source: text })
            }
            _ => {}
        }
    }
    if let Some(r) = refuse(&s, &csrf, Role::Responder, "write runbooks") {
        return Ok(r);
    }
    if files.is_empty() {
        let e = FormErrors::field("files", "choose one or more .md files");
        return render_list(&state, &s, StatusCode::BAD_REQUEST, None, e).await;
    }
    match runbooks::sync(&state, &author(&s), &files, &message, dry_run).await {
        Ok(report) => {
            render_list(
                &state,
                &s,
                StatusCode::OK,
                Some(report),
                FormErrors::default(),
            )
            .await
        }
        Err(
            e @ (ApiError::BadRequest { .. } | ApiError::Conflict { .. } | ApiError::Forbidden(_)),
        ) => {
            let status = e.status();
            let message = match &e {
                ApiError::BadRequest {
                    message,
                    field: Some(_),
                    ..
                } => format!("at {message}"),
                other => other.to_string(),
            };
            render_list(
                &state,
                &s,
                status,
                None,
                FormErrors::field("files", &message),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

// --- the editor ---------------------------------------------------------------------------------

/// The editor's form, as typed.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    message: String,
    /// The version the edit started from (an edit, not a new runbook).
    #[serde(default)]
    base_version: String,
    /// `preview` to show what the source says without saving.
    #[serde(default)]
    action: String,
}

#[derive(Template)]
#[template(path = "runbook_edit.html")]
struct EditPage {
    nav: Option<Nav>,
    csrf: String,
    /// Where the form posts: `/runbooks/new` or `/runbooks/{id}/edit`.
    action: String,
    /// The runbook's name and id when editing.
    editing: Option<(String, String)>,
    form: EditForm,
    errors: FormErrors,
    preview: Option<View>,
}

/// The signed-in person as a runbook, run or runner change's author.
pub(crate) fn author(s: &WebSession) -> Author {
    Author {
        actor: Actor::User(s.user.id),
        user_id: s.user.id,
        name: s.user.name.clone(),
        email: s.user.email.clone(),
        role: s.user.role,
    }
}

/// The page to answer with when this is not a responder's form (bad CSRF token or role).
pub(crate) fn refuse(s: &WebSession, csrf: &str, role: Role, what: &str) -> Option<Response> {
    if let Err(r) = s.check_csrf(csrf) {
        return Some(r);
    }
    (s.user.role < role).then(|| forbidden(what))
}

fn edit_page_for(
    s: &WebSession,
    status: StatusCode,
    editing: Option<&RunbookOut>,
    form: EditForm,
    errors: FormErrors,
    preview: Option<View>,
) -> Response {
    let action = match editing {
        Some(r) => format!("/runbooks/{}/edit", r.runbook.id),
        None => "/runbooks/new".into(),
    };
    html(
        status,
        &EditPage {
            nav: Some(Nav::new(s, "/runbooks")),
            csrf: s.session.csrf_token.clone(),
            action,
            editing: editing.map(|r| (r.runbook.name.clone(), r.runbook.id.to_string())),
            form,
            errors,
            preview,
        },
    )
}

/// A refusal of the source as the editor shows it: "steps[2].http.url: …" beside the box.
fn source_errors(e: ApiError) -> Result<FormErrors, ApiError> {
    match &e {
        ApiError::BadRequest {
            field: Some(f),
            message,
            ..
        } if f != "message" => Ok(FormErrors::field("source", &format!("at {message}"))),
        ApiError::Conflict { message, .. } => {
            let m = message.strip_prefix("source: ").unwrap_or(message);
            Ok(FormErrors::field("source", m))
        }
        _ => FormErrors::from_error(e),
    }
}

async fn new_page(s: WebSession) -> PageResult {
    if s.user.role < Role::Responder {
        return Ok(forbidden("write runbooks"));
    }
    let form = EditForm {
        source: STARTER.into(),
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

/// Previews or saves; `target` says which runbook.
async fn submit(
    state: &AppState,
    s: &WebSession,
    editing: Option<&RunbookOut>,
    f: EditForm,
) -> PageResult {
    if f.action == "preview" {
        return Ok(match runbooks::parse(&f.source, None) {
            Ok(r) => edit_page_for(
                s,
                StatusCode::OK,
                editing,
                f,
                FormErrors::default(),
                Some(View::of(&r)),
            ),
            Err(e) => {
                let status = e.status();
                edit_page_for(s, status, editing, f, source_errors(e)?, None)
            }
        });
    }
    let target = match editing {
        None => Target::New,
        Some(r) => Target::Existing {
            id: r.runbook.id,
            base: f.base_version.trim().parse().ok(),
        },
    };
    match runbooks::save(state, &author(s), &f.source, &f.message, target, None).await {
        Ok(saved) => Ok(Redirect::to(&format!("/runbooks/{}", saved.record.id)).into_response()),
        Err(e) => {
            let status = e.status();
            Ok(edit_page_for(
                s,
                status,
                editing,
                f,
                source_errors(e)?,
                None,
            ))
        }
    }
}

async fn create(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<EditForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Responder, "write runbooks") {
        return Ok(r);
    }
    submit(&state, &s, None, f).await
}

fn parse_id(raw: &str) -> Option<RunbookId> {
    raw.parse().ok()
}

/// The runbook behind `/runbooks/{id}/…`, or the page to answer with.
async fn found(state: &AppState, raw: &str) -> Result<Result<RunbookOut, Response>, ApiError> {
    let Some(id) = parse_id(raw) else {
        return Ok(Err(not_found_page()));
    };
    match runbooks_api::runbook_out(state, id).await {
        Ok(r) => Ok(Ok(r)),
        Err(ApiError::NotFound(_)) => Ok(Err(not_found_page())),
        Err(e) => Err(e),
    }
}

async fn edit_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
) -> PageResult {
    if s.user.role < Role::Responder {
        return Ok(forbidden("write runbooks"));
    }
    let r = match found(&state, &raw).await? {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    let form = EditForm {
        source: r.source.clone(),
        base_version: r.runbook.version.to_string(),
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
    if let Some(r) = refuse(&s, &f.csrf, Role::Responder, "write runbooks") {
        return Ok(r);
    }
    let r = match found(&state, &raw).await? {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    submit(&state, &s, Some(&r), f).await
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    message: String,
}

async fn delete(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Admin, "delete runbooks") {
        return Ok(r);
    }
    let Some(id) = parse_id(&raw) else {
        return Ok(not_found_page());
    };
    match runbooks::delete(&state, Actor::User(s.user.id), id).await {
        Ok(()) => Ok(Redirect::to("/runbooks").into_response()),
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => Err(e),
    }
}

// --- the runbook read ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "runbook.html")]
struct RunbookPage {
    nav: Option<Nav>,
    csrf: String,
    r: RunbookOut,
    view: View,
    updated: String,
    can_write: bool,
    admin: bool,
}

async fn runbook_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
) -> PageResult {
    let r = match found(&state, &raw).await? {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    let parsed = runbooks::parse(&r.source, Some(&r.runbook.name))?;
    Ok(html(
        StatusCode::OK,
        &RunbookPage {
            nav: Some(Nav::new(&s, "/runbooks")),
            csrf: s.session.csrf_token.clone(),
            view: View::of(&parsed),
            updated: s.reader().when(r.runbook.updated_at).html(),
            r,
            can_write: s.user.role >= Role::Responder,
            admin: s.user.role == Role::Admin,
        },
    ))
}

// --- history ------------------------------------------------------------------------------------

struct VersionRow {
    version: i32,
    author: String,
    message: String,
    when: String,
    digest: String,
}

fn version_row(v: &VersionInfo, reader: &Reader) -> VersionRow {
    VersionRow {
        version: v.version,
        author: v.author.clone(),
        message: v.message.clone(),
        when: reader.when(v.created_at).html(),
        digest: v.digest.chars().take(12).collect(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

#[derive(Template)]
#[template(path = "runbook_versions.html")]
struct VersionsPage {
    nav: Option<Nav>,
    id: String,
    name: String,
    title: String,
    latest: i32,
    versions: Vec<VersionRow>,
    /// The comparison shown: from, to, and its lines.
    diff: Option<(i32, i32, Vec<Line>)>,
    diff_error: Option<String>,
}

impl VersionsPage {
    fn mark(&self, op: &Op) -> &'static str {
        match op {
            Op::Same => " ",
            Op::Removed => "−",
            Op::Added => "+",
        }
    }

    fn op_class(&self, op: &Op) -> &'static str {
        match op {
            Op::Same => "same",
            Op::Removed => "removed",
            Op::Added => "added",
        }
    }
}

async fn versions_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Query(q): Query<DiffQuery>,
) -> PageResult {
    let r = match found(&state, &raw).await? {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    let reader = s.reader();
    let versions = state.store.runbook_versions(r.runbook.id).await?;
    let num = |v: &Option<String>| v.as_deref().and_then(|x| x.trim().parse::<i32>().ok());
    let (diff, diff_error) = if r.runbook.version > 1 || q.from.is_some() || q.to.is_some() {
        match runbooks_api::diff_with(&state, r.runbook.id, num(&q.from), num(&q.to)).await {
            Ok(d) => (Some((d.from, d.to, d.lines)), None),
            Err(ApiError::BadRequest { message, .. }) => (None, Some(message)),
            Err(e) => return Err(e),
        }
    } else {
        (None, None)
    };
    Ok(html(
        StatusCode::OK,
        &VersionsPage {
            nav: Some(Nav::new(&s, "/runbooks")),
            id: r.runbook.id.to_string(),
            name: r.runbook.name.clone(),
            title: r.runbook.title.clone(),
            latest: r.runbook.version,
            versions: versions.iter().map(|v| version_row(v, &reader)).collect(),
            diff,
            diff_error,
        },
    ))
}

#[derive(Template)]
#[template(path = "runbook_version.html")]
struct VersionPage {
    nav: Option<Nav>,
    csrf: String,
    id: String,
    name: String,
    latest: i32,
    row: VersionRow,
    source: String,
    can_write: bool,
}

async fn version_page(
    State(state): State<AppState>,
    s: WebSession,
    Path((raw, n)): Path<(String, String)>,
) -> PageResult {
    let r = match found(&state, &raw).await? {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    let Ok(n) = n.parse::<i32>() else {
        return Ok(not_found_page());
    };
    let v = match state.store.runbook_version(r.runbook.id, n).await {
        Ok(v) => v,
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    Ok(html(
        StatusCode::OK,
        &VersionPage {
            nav: Some(Nav::new(&s, "/runbooks")),
            csrf: s.session.csrf_token.clone(),
            id: r.runbook.id.to_string(),
            name: r.runbook.name.clone(),
            latest: r.runbook.version,
            row: version_row(&v.info, &s.reader()),
            source: v.source,
            can_write: s.user.role >= Role::Responder,
        },
    ))
}

async fn restore(
    State(state): State<AppState>,
    s: WebSession,
    Path((raw, n)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Responder, "write runbooks") {
        return Ok(r);
    }
    let (Some(id), Ok(n)) = (parse_id(&raw), n.parse::<i32>()) else {
        return Ok(not_found_page());
    };
    match runbooks::restore(&state, &author(&s), id, n, &f.message).await {
        Ok(saved) => Ok(Redirect::to(&format!("/runbooks/{}", saved.record.id)).into_response()),
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(
            e @ (ApiError::BadRequest { .. } | ApiError::Forbidden(_) | ApiError::Conflict { .. }),
        ) => {
            let status = e.status();
            Ok(crate::shared::web::message(
                status,
                "This version cannot be restored",
                &e.to_string(),
            ))
        }
        Err(e) => Err(e),
    }
}
