//! The incident page's forms: each posts, calls the same function as the API, and comes back to the
//! page; a refused form comes back with each reason beside its field and what was typed kept.
use super::web::blank;
use super::web_page::{FILTERS, render_incident};
use crate::incidents::api::{Update, Who};
use crate::incidents::timeline::TimelineFilter;
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::time::Reader;
use crate::shared::web::{CsrfForm, PageResult, forbidden, not_found_page};
use crate::shared::web::{FormErrors, Refused, WebSession};
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use klaxon_domain::auth::Role;
use klaxon_domain::event::Actor;
use klaxon_domain::ids::IncidentId;
use klaxon_domain::incident::{IncidentStatus, MILESTONES};
use serde::Deserialize;
use std::collections::BTreeMap;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/incidents/{id}/acknowledge", post(acknowledge_incident))
        .route("/incidents/{id}/resolve", post(resolve_incident))
        .route("/incidents/{id}/status", post(change_status))
        .route("/incidents/{id}/escalate", post(escalate_incident))
        .route("/incidents/{id}/reassign", post(reassign_incident))
        .route("/incidents/{id}/edit", post(edit_incident))
        .route("/incidents/{id}/milestones", post(edit_milestones))
        .route("/incidents/{id}/roles", post(assign_role))
        .route("/incidents/{id}/roles/remove", post(unassign_role))
        .route("/incidents/{id}/notes", post(add_note))
        .route("/incidents/{id}/page", post(page_someone))
        .route("/incidents/{id}/follow", post(follow))
        .route("/incidents/{id}/updates", post(post_update))
        .route("/incidents/{id}/related", post(relate))
        .route("/incidents/{id}/related/{other}/remove", post(unrelate))
        .route("/incidents/{id}/merge", post(merge))
        .route("/incidents/{id}/tasks", post(add_task))
        .route("/incidents/{id}/tasks/{task}/done", post(task_done))
        .route("/incidents/{id}/tasks/{task}/remove", post(remove_task))
        .route("/incidents/{id}/pins", post(pin))
        .route("/incidents/{id}/timeline.md", get(export))
}

/// After a form: back to the incident, or the page again with the refusal beside the form's
/// fields, what was typed kept, and the refusal's status.
async fn after<T>(
    state: &AppState,
    s: &WebSession,
    id: IncidentId,
    form: &'static str,
    typed: &[(&str, &str)],
    result: Result<T, ApiError>,
) -> PageResult {
    let status = match &result {
        Ok(_) => return Ok(Redirect::to(&format!("/incidents/{id}")).into_response()),
        Err(ApiError::NotFound(_)) => StatusCode::NOT_FOUND,
        Err(ApiError::BadRequest { .. }) => StatusCode::BAD_REQUEST,
        Err(ApiError::Conflict { .. }) => StatusCode::CONFLICT,
        Err(ApiError::Forbidden(_)) => StatusCode::FORBIDDEN,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let Err(e) = result else {
        unreachable!("handled above")
    };
    refuse(
        state,
        s,
        id,
        status,
        form,
        typed,
        FormErrors::from_error(e)?,
    )
    .await
}

/// The page again with `errors` beside `form`'s fields and what was typed kept.
async fn refuse(
    state: &AppState,
    s: &WebSession,
    id: IncidentId,
    status: StatusCode,
    form: &'static str,
    typed: &[(&str, &str)],
    errors: FormErrors,
) -> PageResult {
    render_incident(state, s, id, status, Refused::new(form, errors, typed)).await
}

/// The checks every incident form starts with; `Err` is the page to answer with.
#[allow(clippy::result_large_err)] // the error is the page to answer with
fn form_start(s: &WebSession, raw: &str, csrf: &str, what: &str) -> Result<IncidentId, Response> {
    s.check_csrf(csrf)?;
    let Ok(id) = raw.parse::<IncidentId>() else {
        return Err(not_found_page());
    };
    if !s.user.role.allows(Role::Responder) {
        return Err(forbidden(what));
    }
    Ok(id)
}

async fn acknowledge_incident(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    move_by_button(
        &state,
        &s,
        &raw,
        &f,
        IncidentStatus::Acknowledged,
        "acknowledge",
    )
    .await
}

async fn resolve_incident(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    move_by_button(&state, &s, &raw, &f, IncidentStatus::Resolved, "resolve").await
}

/// A one-click lifecycle button: no reason asked.
async fn move_by_button(
    state: &AppState,
    s: &WebSession,
    raw: &str,
    f: &CsrfForm,
    to: IncidentStatus,
    verb: &str,
) -> PageResult {
    let id = match form_start(s, raw, &f.csrf, &format!("{verb} incidents")) {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let r = super::api::move_with(state, Who::user(&s.user), id, to, None).await;
    after(state, s, id, "move", &[], r).await
}

#[derive(Deserialize)]
struct StatusForm {
    csrf: String,
    status: String,
    #[serde(default)]
    reason: String,
    /// `skip`: an admin closing without the reporter's confirmation, which must be confirmed.
    #[serde(default)]
    review: String,
    #[serde(default)]
    confirm: String,
}

async fn change_status(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<StatusForm>,
) -> PageResult {
    // Closing is the reporter's confirmation, which a viewer may give; other moves need a
    // responder.
    let id = if f.status == "closed" {
        if let Err(r) = s.check_csrf(&f.csrf) {
            return Ok(r);
        }
        let Ok(id) = raw.parse::<IncidentId>() else {
            return Ok(not_found_page());
        };
        id
    } else {
        match form_start(&s, &raw, &f.csrf, "change incidents") {
            Ok(id) => id,
            Err(r) => return Ok(r),
        }
    };
    // Closing without review comes from its own form, which asks "are you sure".
    let form = if f.review == "skip" { "close" } else { "move" };
    let typed = [("reason", f.reason.as_str())];
    if form == "close" && f.confirm != "yes" {
        let e = FormErrors::field("confirm", "tick this box to close it without review");
        return refuse(&state, &s, id, StatusCode::BAD_REQUEST, form, &typed, e).await;
    }
    let r = match f.status.parse::<IncidentStatus>() {
        Ok(to) => super::api::move_with(&state, Who::user(&s.user), id, to, blank(&f.reason)).await,
        Err(e) => Err(e.into()),
    };
    after(&state, &s, id, form, &typed, r).await
}

#[derive(Deserialize)]
struct ReassignForm {
    csrf: String,
    #[serde(default)]
    user_id: String,
}

async fn reassign_incident(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<ReassignForm>,
) -> PageResult {
    let id = match form_start(&s, &raw, &f.csrf, "reassign incidents") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let r = crate::incidents::paging::reassign_incident_with(
        &state,
        Actor::User(s.user.id),
        id,
        &f.user_id,
    )
    .await;
    after(&state, &s, id, "reassign", &[("user_id", &f.user_id)], r).await
}

async fn escalate_incident(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    let id = match form_start(&s, &raw, &f.csrf, "escalate incidents") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let r =
        crate::incidents::paging::escalate_incident_with(&state, Actor::User(s.user.id), id).await;
    after(&state, &s, id, "move", &[], r).await
}

#[derive(Deserialize)]
struct EditForm {
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    impact: String,
    #[serde(default)]
    urgency: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    subcategory: String,
    #[serde(default)]
    conference_url: String,
    #[serde(default)]
    chat_url: String,
    /// Empty: nobody.
    #[serde(default)]
    reporter_id: String,
    /// A checkbox: absent when unticked.
    is_drill: Option<String>,
}

async fn edit_incident(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<EditForm>,
) -> PageResult {
    let id = match form_start(&s, &raw, &f.csrf, "change incidents") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let u = Update {
        title: Some(f.title.clone()),
        description: Some(f.description.clone()),
        severity: blank(&f.severity),
        impact: blank(&f.impact),
        urgency: blank(&f.urgency),
        category: Some(blank(&f.category)),
        subcategory: Some(blank(&f.subcategory)),
        reporter_id: Some(blank(&f.reporter_id)),
        conference_url: Some(blank(&f.conference_url)),
        chat_url: Some(blank(&f.chat_url)),
        is_drill: Some(f.is_drill.is_some()),
    };
    let r = super::api::update_with(&state, Who::user(&s.user), id, u).await;
    let typed = [
        ("title", f.title.as_str()),
        ("description", &f.description),
        ("category", &f.category),
        ("subcategory", &f.subcategory),
        ("reporter_id", &f.reporter_id),
        ("conference_url", &f.conference_url),
        ("chat_url", &f.chat_url),
    ];
    after(&state, &s, id, "edit", &typed, r).await
}

async fn edit_milestones(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<BTreeMap<String, String>>,
) -> PageResult {
    let csrf = f.get("csrf").cloned().unwrap_or_default();
    let id = match form_start(&s, &raw, &csrf, "change incidents") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let typed: Vec<(&str, &str)> = MILESTONES
        .iter()
        .filter_map(|n| f.get(*n).map(|v| (*n, v.as_str())))
        .collect();
    let reader = s.reader();
    let mut edits = Vec::new();
    for name in MILESTONES {
        let Some(v) = f.get(name) else { continue };
        // datetime-local sends minutes, or seconds with step=1, in the reader's zone.
        match local_input(&reader, name, v) {
            Ok(t) => edits.push((name, t)),
            Err(e) => return after(&state, &s, id, "milestones", &typed, Err::<(), _>(e)).await,
        }
    }
    // Only what changed, so an untouched form field is not an edit.
    let current = match state.store.incident(id).await {
        Ok(i) => i.milestones(),
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    let trunc = |t: Option<Timestamp>| t.map(|t| t.as_second());
    edits.retain(|(n, v)| trunc(current.get(n)) != trunc(*v));
    let r = super::api::milestones_with(&state, Who::user(&s.user), id, edits).await;
    after(&state, &s, id, "milestones", &typed, r).await
}

#[derive(Deserialize)]
struct RoleForm {
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    user_id: String,
}

async fn assign_role(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<RoleForm>,
) -> PageResult {
    role_form(&state, &s, &raw, f, true).await
}

async fn unassign_role(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<RoleForm>,
) -> PageResult {
    role_form(&state, &s, &raw, f, false).await
}

async fn role_form(
    state: &AppState,
    s: &WebSession,
    raw: &str,
    f: RoleForm,
    assign: bool,
) -> PageResult {
    let id = match form_start(s, raw, &f.csrf, "change roles") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let who = Who::user(&s.user);
    let r = if assign {
        super::responders::assign_role_with(state, who, id, &f.role, &f.user_id).await
    } else {
        super::responders::unassign_role_with(state, who, id, &f.role, &f.user_id).await
    };
    let typed = [("role", f.role.as_str()), ("user_id", &f.user_id)];
    after(state, s, id, "role", &typed, r).await
}

#[derive(Deserialize)]
struct NoteForm {
    csrf: String,
    #[serde(default)]
    pub(super) text: String,
    #[serde(default)]
    pub(super) pinned: Option<String>,
}

async fn add_note(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<NoteForm>,
) -> PageResult {
    let id = match form_start(&s, &raw, &f.csrf, "add notes") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let r = super::timeline::note_with(&state, Who::user(&s.user), id, &f.text, f.pinned.is_some())
        .await;
    after(&state, &s, id, "note", &[("text", &f.text)], r).await
}

#[derive(Deserialize)]
struct PageForm {
    csrf: String,
    /// `user:<id>` or `role:<key>`.
    #[serde(default)]
    target: String,
    #[serde(default)]
    message: String,
}

async fn page_someone(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<PageForm>,
) -> PageResult {
    let id = match form_start(&s, &raw, &f.csrf, "page people") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let mut p = super::responders::PageInto {
        message: f.message.clone(),
        ..Default::default()
    };
    match f.target.split_once(':') {
        Some(("user", u)) => p.user_id = Some(u.to_owned()),
        Some(("role", r)) => p.role = Some(r.to_owned()),
        Some(("team", t)) => p.escalation_policy_id = Some(t.to_owned()),
        _ => {}
    }
    // The form has one "who" box for a person, a role or a team.
    let r = super::responders::page_with(&state, Who::user(&s.user), id, p)
        .await
        .map_err(|e| rename_field(e, &["user_id", "role", "escalation_policy_id"], "target"));
    let typed = [("target", f.target.as_str()), ("message", &f.message)];
    after(&state, &s, id, "page", &typed, r).await
}

#[derive(Deserialize)]
struct FollowForm {
    csrf: String,
    /// Someone else (a responder adding them); yourself when empty.
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    follow: String,
}

async fn follow(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<FollowForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let Ok(id) = raw.parse::<IncidentId>() else {
        return Ok(not_found_page());
    };
    let me = s.user.id.to_string();
    let user = if f.user_id.is_empty() {
        me.clone()
    } else {
        f.user_id.clone()
    };
    if user != me && !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("change who follows incidents"));
    }
    let r =
        super::updates::subscribe_with(&state, Who::user(&s.user), id, &user, f.follow != "false")
            .await;
    after(&state, &s, id, "follow", &[("user_id", &f.user_id)], r).await
}

#[derive(Deserialize)]
struct UpdateForm {
    csrf: String,
    #[serde(default)]
    message: String,
}

async fn post_update(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<UpdateForm>,
) -> PageResult {
    let id = match form_start(&s, &raw, &f.csrf, "post updates") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let u = super::updates::PostUpdate {
        message: Some(f.message.clone()),
        template: None,
    };
    let r = super::updates::post_update_with(&state, Who::user(&s.user), id, u).await;
    after(&state, &s, id, "update", &[("message", &f.message)], r).await
}

#[derive(Deserialize)]
struct RelateForm {
    csrf: String,
    #[serde(default)]
    incident_id: String,
    #[serde(default)]
    into: String,
    /// Merging asks "are you sure": `yes`.
    #[serde(default)]
    confirm: String,
}

async fn relate(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<RelateForm>,
) -> PageResult {
    let id = match form_start(&s, &raw, &f.csrf, "relate incidents") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let r =
        super::relations::relate_with(&state, Who::user(&s.user), id, &f.incident_id, true).await;
    after(
        &state,
        &s,
        id,
        "relate",
        &[("incident_id", &f.incident_id)],
        r,
    )
    .await
}

async fn unrelate(
    State(state): State<AppState>,
    s: WebSession,
    Path((raw, other)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    let id = match form_start(&s, &raw, &f.csrf, "relate incidents") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let r = super::relations::relate_with(&state, Who::user(&s.user), id, &other, false).await;
    after(&state, &s, id, "relate", &[], r).await
}

/// Merges this incident into another, then shows the one merged into.
async fn merge(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<RelateForm>,
) -> PageResult {
    let id = match form_start(&s, &raw, &f.csrf, "merge incidents") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let typed = [("into", f.into.as_str())];
    if f.confirm != "yes" {
        let e = FormErrors::field(
            "confirm",
            "tick this box to merge: a merge cannot be undone",
        );
        return refuse(&state, &s, id, StatusCode::BAD_REQUEST, "merge", &typed, e).await;
    }
    match super::relations::merge_with(&state, Who::user(&s.user), id, &f.into).await {
        Ok(target) => Ok(Redirect::to(&format!("/incidents/{}", target.id)).into_response()),
        Err(e) => after(&state, &s, id, "merge", &typed, Err::<(), _>(e)).await,
    }
}

#[derive(Deserialize)]
struct TaskForm {
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    assignee_id: String,
    #[serde(default)]
    due_at: String,
    #[serde(default)]
    done: String,
}

/// A `datetime-local` value in the reader's zone (empty: none), or a refusal naming `field`.
fn local_input(reader: &Reader, field: &str, v: &str) -> Result<Option<Timestamp>, ApiError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    reader.parse_input(v).map(Some).ok_or_else(|| {
        ApiError::invalid(
            field,
            format!(
                "is not a date and time such as 2026-11-21T09:30, in {}",
                reader.zone
            ),
        )
    })
}

/// The same refusal, blamed on the one form field that stands for several API fields.
fn rename_field(e: ApiError, from: &[&str], to: &str) -> ApiError {
    let moved = |field: &Option<String>| field.as_deref().filter(|f| from.contains(f)).is_some();
    match e {
        ApiError::BadRequest {
            code,
            message,
            field,
        } if moved(&field) => ApiError::BadRequest {
            code,
            message: reblame(&message, field.as_deref(), to),
            field: Some(to.to_owned()),
        },
        ApiError::Conflict { message, field } if moved(&field) => ApiError::Conflict {
            message: reblame(&message, field.as_deref(), to),
            field: Some(to.to_owned()),
        },
        e => e,
    }
}

/// `user_id: no such user` → `target: no such user`.
fn reblame(message: &str, from: Option<&str>, to: &str) -> String {
    let reason = from
        .and_then(|f| message.strip_prefix(&format!("{f}: ")))
        .unwrap_or(message);
    format!("{to}: {reason}")
}

async fn add_task(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<TaskForm>,
) -> PageResult {
    let id = match form_start(&s, &raw, &f.csrf, "add tasks") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let r = match local_input(&s.reader(), "due_at", &f.due_at) {
        Ok(due_at) => {
            let t = super::tasks::NewTask {
                title: f.title.clone(),
                assignee_id: blank(&f.assignee_id),
                due_at,
            };
            super::tasks::add_task_with(&state, Who::user(&s.user), id, t).await
        }
        Err(e) => Err(e),
    };
    let typed = [
        ("title", f.title.as_str()),
        ("assignee_id", &f.assignee_id),
        ("due_at", &f.due_at),
    ];
    after(&state, &s, id, "task", &typed, r).await
}

async fn task_done(
    State(state): State<AppState>,
    s: WebSession,
    Path((raw, task)): Path<(String, String)>,
    Form(f): Form<TaskForm>,
) -> PageResult {
    let id = match form_start(&s, &raw, &f.csrf, "change tasks") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let u = super::tasks::TaskUpdate {
        done: Some(f.done == "true"),
        ..Default::default()
    };
    let r = super::tasks::update_task_with(&state, Who::user(&s.user), id, &task, u).await;
    after(&state, &s, id, "task", &[], r).await
}

async fn remove_task(
    State(state): State<AppState>,
    s: WebSession,
    Path((raw, task)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    let id = match form_start(&s, &raw, &f.csrf, "remove tasks") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let r = super::tasks::remove_task_with(&state, Who::user(&s.user), id, &task).await;
    after(&state, &s, id, "task", &[], r).await
}

/// Each timeline entry's Pin button names the entry: `pin=SEQ` or `unpin=SEQ`, all through one
/// form on the page (an incident may have hundreds of entries).
#[derive(Deserialize)]
struct PinForm {
    csrf: String,
    pin: Option<i64>,
    unpin: Option<i64>,
}

async fn pin(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<PinForm>,
) -> PageResult {
    let id = match form_start(&s, &raw, &f.csrf, "pin entries") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let r = match (f.pin, f.unpin) {
        (Some(seq), None) => {
            super::timeline::pin_with(&state, Who::user(&s.user), id, seq, true).await
        }
        (None, Some(seq)) => {
            super::timeline::pin_with(&state, Who::user(&s.user), id, seq, false).await
        }
        _ => Err(ApiError::invalid("pin", "say which entry to pin or unpin")),
    };
    after(&state, &s, id, "move", &[], r).await
}

#[derive(Deserialize, Default)]
struct ExportQuery {
    filter: Option<String>,
}

async fn export(
    State(state): State<AppState>,
    _s: WebSession,
    Path(raw): Path<String>,
    Query(q): Query<ExportQuery>,
) -> PageResult {
    let Ok(id) = raw.parse::<IncidentId>() else {
        return Ok(not_found_page());
    };
    let kinds = FILTERS
        .iter()
        .find(|(k, _, _)| Some(*k) == q.filter.as_deref())
        .map_or("", |f| f.2);
    let filter = TimelineFilter::parse(Some(kinds), false)?;
    match super::timeline::markdown(&state, id, &filter).await {
        Ok(md) => Ok(super::timeline::markdown_download(id, md)),
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => Err(e),
    }
}
