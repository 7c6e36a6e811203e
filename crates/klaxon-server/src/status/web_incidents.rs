//! The admin web pages of a status page's public incidents and maintenances: publishing one,
//! scheduling one, its page with its updates, posting an update, deleting it.
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use klaxon_domain::auth::Role;
use klaxon_domain::event::Actor;
use klaxon_domain::status::{Impact, IncidentStatus, MaintenanceStatus, PublicStatus};
use klaxon_store::{Component, StatusIncidentWithUpdates, StatusPage};

use super::incidents_api::{self, ComponentMove, PublishBody, UpdateBody};
use super::web::{
    Feedback, Fields, after_form, component_status, component_statuses, page_form, page_of,
    refusal, start, whole,
};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::time::Reader;
use crate::shared::web::{FormErrors, Nav, PageResult, Refused, WebSession};
use crate::shared::web::{html, not_found_page};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/status-pages/{page}/incidents", post(publish))
        .route("/status-pages/{page}/maintenances", post(schedule))
        .route(
            "/status-pages/{page}/incidents/{code}",
            get(incident_page).post(post_update),
        )
        .route(
            "/status-pages/{page}/incidents/{code}/delete",
            post(delete_incident),
        )
}

/// The components the form ticked (`affected`), each with its status select (`status.CODE`),
/// or `fixed` for all.
fn moves(f: &Fields, fixed: Option<&str>) -> Result<Vec<ComponentMove>, ApiError> {
    f.all("affected")
        .into_iter()
        .map(|code| {
            let raw = fixed.unwrap_or_else(|| f.get(&format!("status.{code}")));
            Ok(ComponentMove {
                component: code.to_owned(),
                status: component_status(&format!("status.{code}"), raw)?,
            })
        })
        .collect()
}

fn text(f: &Fields, name: &str) -> Option<String> {
    Some(f.get(name).trim().to_owned()).filter(|s| !s.is_empty())
}

/// A `datetime-local` value in the reader's zone, or a refusal naming `field`.
fn local_time(
    reader: &Reader,
    field: &str,
    raw: &str,
) -> Result<Option<jiff::Timestamp>, ApiError> {
    match raw.trim() {
        "" => Ok(None),
        v => reader.parse_input(v).map(Some).ok_or_else(|| {
            ApiError::invalid(
                field,
                format!(
                    "is not a date and time such as 2026-11-21T09:30, in {}",
                    reader.zone
                ),
            )
        }),
    }
}

async fn publish(
    State(state): State<AppState>,
    s: WebSession,
    Path(page): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(pairs);
    let p = match page_form(&state, &s, &f, Role::Responder, "publish incidents", &page).await {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let outcome = async {
        let impact = match f.get("impact").trim() {
            "" => None,
            i => Some(
                i.parse::<Impact>()
                    .map_err(|_| ApiError::invalid("impact", "choose an impact from the list"))?,
            ),
        };
        let body = PublishBody {
            name: f.get("name").to_owned(),
            status: text(&f, "status"),
            impact,
            body: text(&f, "body"),
            components: moves(&f, None)?,
            next_update_in_minutes: whole(
                "next_update_in_minutes",
                f.get("next_update_in_minutes"),
            )?,
            ..Default::default()
        };
        incidents_api::publish_with(&state, Actor::User(s.user.id), p.id, body).await
    }
    .await;
    done(&state, &s, p, "publish", &f, outcome).await
}

async fn schedule(
    State(state): State<AppState>,
    s: WebSession,
    Path(page): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(pairs);
    let p = match page_form(
        &state,
        &s,
        &f,
        Role::Responder,
        "schedule maintenance",
        &page,
    )
    .await
    {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let reader = s.reader();
    let outcome = async {
        let body = PublishBody {
            name: f.get("name").to_owned(),
            body: text(&f, "body"),
            components: moves(&f, Some("under_maintenance"))?,
            maintenance: true,
            scheduled_for: local_time(&reader, "scheduled_for", f.get("scheduled_for"))?,
            scheduled_until: local_time(&reader, "scheduled_until", f.get("scheduled_until"))?,
            remind_minutes: whole("remind_minutes", f.get("remind_minutes"))?,
            ..Default::default()
        };
        incidents_api::publish_with(&state, Actor::User(s.user.id), p.id, body).await
    }
    .await;
    done(&state, &s, p, "maintenance", &f, outcome).await
}

/// To the new incident's page, or the status page again with the refusal.
async fn done(
    state: &AppState,
    s: &WebSession,
    p: StatusPage,
    form: &'static str,
    f: &Fields,
    outcome: Result<StatusIncidentWithUpdates, ApiError>,
) -> PageResult {
    match outcome {
        Ok(w) => Ok(Redirect::to(&format!(
            "/status-pages/{}/incidents/{}",
            p.id, w.incident.code
        ))
        .into_response()),
        Err(e) => {
            let typed = f.typed(&["affected"]);
            after_form(state, s, p, form, &typed, Err::<(), _>(e), |()| {
                String::new()
            })
            .await
        }
    }
}

// --- one public incident --------------------------------------------------------------------------

pub struct UpdateRow {
    pub status: &'static str,
    pub body: String,
    pub at: String,
    pub changes: Vec<String>,
}

pub struct MoveRow {
    pub code: String,
    pub name: String,
    pub status_label: &'static str,
    pub in_incident: bool,
}

#[derive(Template)]
#[template(path = "status_admin/incident.html")]
struct IncidentPage {
    nav: Option<Nav>,
    page: StatusPage,
    page_id: String,
    code: String,
    name: String,
    maintenance: bool,
    status: &'static str,
    status_value: &'static str,
    impact: &'static str,
    window: Option<String>,
    next_update: Option<String>,
    klaxon_incident: Option<String>,
    /// Newest first.
    updates: Vec<UpdateRow>,
    /// The statuses an update may set: (value, words, template).
    choices: Vec<(&'static str, &'static str, String)>,
    components: Vec<MoveRow>,
    statuses: Vec<(&'static str, &'static str)>,
    can_admin: bool,
    can_respond: bool,
    csrf: String,
    notice: Option<String>,
    refused: Refused,
}

impl IncidentPage {
    fn errs(&self, form: &str) -> &FormErrors {
        self.refused.errs(form)
    }

    fn typed<'a>(&'a self, form: &str, field: &str, default: &'a str) -> &'a str {
        self.refused.typed(form, field, default)
    }

    fn invalid(&self, form: &str, field: &str, id: &str) -> String {
        self.refused.invalid(form, field, id)
    }

    /// The status chosen for a component in a refused update ("" for as it is).
    fn ctyped(&self, code: &str) -> &str {
        self.refused.typed("update", &format!("status.{code}"), "")
    }
}

fn choices(maintenance: bool, names: &[&str]) -> Vec<(&'static str, &'static str, String)> {
    let all: Vec<PublicStatus> = if maintenance {
        MaintenanceStatus::ALL
            .iter()
            .map(|s| PublicStatus::Maintenance(*s))
            .collect()
    } else {
        IncidentStatus::ALL
            .iter()
            .map(|s| PublicStatus::Incident(*s))
            .collect()
    };
    all.into_iter()
        .map(|s| (s.as_str(), s.label(), incidents_api::template(s, names)))
        .collect()
}

async fn render_incident(
    state: &AppState,
    s: &WebSession,
    page: StatusPage,
    w: StatusIncidentWithUpdates,
    fb: Feedback,
) -> PageResult {
    let reader = s.reader();
    let all: Vec<Component> = state.store.list_components(page.id).await?;
    let i = &w.incident;
    let names: Vec<&str> = i
        .component_ids
        .iter()
        .filter_map(|id| all.iter().find(|c| c.id == *id))
        .map(|c| c.name.as_str())
        .collect();
    let klaxon_incident = match i.incident_id {
        Some(id) => state
            .store
            .incident(id)
            .await
            .ok()
            .map(|x| format!("{}|#{} {}", x.id, x.number, x.title)),
        None => None,
    };
    let page_view = IncidentPage {
        nav: Some(Nav::new(s, "/status-pages")),
        page_id: page.id.to_string(),
        code: i.code.clone(),
        name: i.name.clone(),
        maintenance: i.maintenance,
        status: i.status.label(),
        status_value: i.status.as_str(),
        impact: i.impact.as_str(),
        window: match (i.scheduled_for, i.scheduled_until) {
            (Some(a), Some(b)) => Some(format!(
                "{} to {}",
                reader.when(a).html(),
                reader.when(b).html()
            )),
            _ => None,
        },
        next_update: i.next_update_at.map(|t| reader.when(t).html()),
        klaxon_incident,
        choices: choices(i.maintenance, &names),
        components: all
            .iter()
            .filter(|c| !c.is_group)
            .map(|c| MoveRow {
                code: c.code.clone(),
                name: c.name.clone(),
                status_label: c.status.label(),
                in_incident: i.component_ids.contains(&c.id),
            })
            .collect(),
        updates: w
            .updates
            .iter()
            .rev()
            .map(|u| UpdateRow {
                status: u.status.label(),
                body: u.body.clone(),
                at: reader.when(u.created_at).html(),
                changes: u
                    .changes
                    .iter()
                    .map(|c| {
                        format!(
                            "{}: {} → {}",
                            c.name,
                            c.old_status.label(),
                            c.new_status.label()
                        )
                    })
                    .collect(),
            })
            .collect(),
        statuses: component_statuses(),
        can_admin: s.user.role.allows(Role::Admin),
        can_respond: s.user.role.allows(Role::Responder),
        csrf: s.session.csrf_token.clone(),
        notice: fb.notice,
        refused: fb.refused,
        page,
    };
    Ok(html(fb.status.unwrap_or(StatusCode::OK), &page_view))
}

async fn found(
    state: &AppState,
    page: &str,
    code: &str,
) -> Result<Option<(StatusPage, StatusIncidentWithUpdates)>, ApiError> {
    let Some(p) = page_of(state, page).await? else {
        return Ok(None);
    };
    match incidents_api::find_incident(state, p.id, code).await {
        Ok(w) => Ok(Some((p, w))),
        Err(ApiError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn incident_page(
    State(state): State<AppState>,
    s: WebSession,
    Path((page, code)): Path<(String, String)>,
) -> PageResult {
    match found(&state, &page, &code).await? {
        Some((p, w)) => render_incident(&state, &s, p, w, Feedback::default()).await,
        None => Ok(not_found_page()),
    }
}

async fn post_update(
    State(state): State<AppState>,
    s: WebSession,
    Path((page, code)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(pairs);
    if let Err(r) = start(&s, f.get("csrf"), Role::Responder, "post updates") {
        return Ok(r);
    }
    let Some((p, w)) = found(&state, &page, &code).await? else {
        return Ok(not_found_page());
    };
    let outcome = async {
        // A select left at "as it is" moves nothing.
        let mut components = Vec::new();
        for (k, v) in &f.0 {
            if let Some(c) = k.strip_prefix("status.")
                && !v.is_empty()
            {
                components.push(ComponentMove {
                    component: c.to_owned(),
                    status: component_status(k, v)?,
                });
            }
        }
        let body = UpdateBody {
            status: f.get("status").to_owned(),
            body: text(&f, "body"),
            components,
            next_update_in_minutes: whole(
                "next_update_in_minutes",
                f.get("next_update_in_minutes"),
            )?,
            ..Default::default()
        };
        incidents_api::update_with(&state, Actor::User(s.user.id), p.id, &w.incident.code, body)
            .await
    }
    .await;
    let fb = match outcome {
        Ok(_) => Feedback {
            notice: Some("Update posted.".into()),
            ..Default::default()
        },
        Err(e) => Feedback {
            status: Some(e.status()),
            refused: refusal("update", FormErrors::from_error(e)?, &f.typed(&[])),
            ..Default::default()
        },
    };
    let w = incidents_api::find_incident(&state, p.id, &w.incident.code).await?;
    render_incident(&state, &s, p, w, fb).await
}

async fn delete_incident(
    State(state): State<AppState>,
    s: WebSession,
    Path((page, code)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(pairs);
    if let Err(r) = start(&s, f.get("csrf"), Role::Admin, "delete public incidents") {
        return Ok(r);
    }
    let Some((p, w)) = found(&state, &page, &code).await? else {
        return Ok(not_found_page());
    };
    // Checked here too: the box is `required` in the page, but a form can come from anywhere.
    if f.get("confirm") != "yes" {
        let e = ApiError::invalid("confirm", "tick the box to delete it from the status page");
        let fb = Feedback {
            status: Some(e.status()),
            refused: refusal("delete", FormErrors::from_error(e)?, &[]),
            ..Default::default()
        };
        return render_incident(&state, &s, p, w, fb).await;
    }
    incidents_api::delete_with(&state, Actor::User(s.user.id), p.id, &w.incident.code).await?;
    Ok(Redirect::to(&format!("/status-pages/{}", p.id)).into_response())
}
