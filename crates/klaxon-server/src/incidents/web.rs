//! Web pages for incidents: declaring one, and the incident page where people run it (status,
//! fields, milestones, roles, notes, pins) with a timeline that updates live over Server-Sent
//! Events; the list is in `web_list.rs`. Forms call the same functions as the REST API.
use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use klaxon_domain::auth::Role;
use klaxon_domain::incident::Severity;
use serde::Deserialize;

use super::{live, web_forms, web_list, web_page};
use crate::incidents::api::{Declare, Who};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::web::FormErrors;
use crate::shared::web::{Nav, WebSession, html};
use crate::shared::web::{PageResult, forbidden};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/incidents", post(declare))
        .route("/incidents/new", get(declare_page))
        .merge(web_list::router())
        .merge(web_page::router())
        .merge(web_forms::router())
        .merge(super::web_status::router())
        .merge(live::router())
}

// --- declaring ----------------------------------------------------------------------------------

/// A severity to choose, with what it means here.
pub(super) struct SeverityChoice {
    pub(super) name: String,
    pub(super) definition: String,
    pub(super) selected: bool,
}

pub(super) fn severity_choices(state: &AppState, current: Option<Severity>) -> Vec<SeverityChoice> {
    Severity::ALL
        .iter()
        .map(|s| SeverityChoice {
            name: s.to_string(),
            definition: state.incident_rules.severities.get(*s).to_owned(),
            selected: Some(*s) == current,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "incident_new.html")]
struct DeclarePage {
    nav: Option<Nav>,
    severities: Vec<SeverityChoice>,
    services: Vec<(String, String)>,
    users: Vec<(String, String)>,
    form: DeclareForm,
    csrf: String,
    errors: FormErrors,
}

#[derive(Debug, Default, Deserialize)]
struct DeclareForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    impact: String,
    #[serde(default)]
    urgency: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    subcategory: String,
    #[serde(default)]
    service_id: String,
    #[serde(default)]
    commander_id: String,
    #[serde(default)]
    conference_url: String,
    #[serde(default)]
    chat_url: String,
}

async fn render_declare(
    state: &AppState,
    s: &WebSession,
    form: DeclareForm,
    status: StatusCode,
    errors: FormErrors,
) -> PageResult {
    let services = crate::shared::lists::all_services(state).await?;
    let users = crate::shared::lists::all_users(state).await?;
    let current = Severity::parse_loose(&form.severity).ok();
    Ok(html(
        status,
        &DeclarePage {
            nav: Some(Nav::new(s, "/incidents")),
            severities: severity_choices(state, current.or(Some(Severity::Sev3))),
            services: services
                .into_iter()
                .map(|s| (s.id.to_string(), s.name))
                .collect(),
            users: users
                .into_iter()
                .map(|u| (u.id.to_string(), u.name))
                .collect(),
            form,
            csrf: s.session.csrf_token.clone(),
            errors,
        },
    ))
}

async fn declare_page(State(state): State<AppState>, s: WebSession) -> PageResult {
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("declare incidents"));
    }
    let (blank, none) = (DeclareForm::default(), FormErrors::default());
    render_declare(&state, &s, blank, StatusCode::OK, none).await
}

pub(super) fn blank(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

async fn declare(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<DeclareForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("declare incidents"));
    }
    let d = Declare {
        title: f.title.clone(),
        severity: f.severity.clone(),
        description: f.description.clone(),
        impact: blank(&f.impact),
        urgency: blank(&f.urgency),
        category: blank(&f.category),
        subcategory: blank(&f.subcategory),
        service_id: blank(&f.service_id),
        commander_id: blank(&f.commander_id),
        conference_url: blank(&f.conference_url),
        chat_url: blank(&f.chat_url),
        ..Default::default()
    };
    match super::api::declare_with(&state, Who::user(&s.user), d).await {
        Ok(i) => Ok(Redirect::to(&format!("/incidents/{}", i.id)).into_response()),
        Err(e) => {
            let status = e.status();
            let errors = FormErrors::from_error(e)?;
            render_declare(&state, &s, f, status, errors).await
        }
    }
}

/// Escalation policies (a team is paged, and its incidents found, through one): (id, name).
pub(super) async fn escalation_policies(
    state: &AppState,
) -> Result<Vec<(String, String)>, ApiError> {
    Ok(crate::shared::lists::all_policies(state)
        .await?
        .into_iter()
        .map(|p| (p.id.to_string(), p.name))
        .collect())
}
