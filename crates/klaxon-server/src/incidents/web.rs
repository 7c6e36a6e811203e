//! Web pages for incidents: the list, declaring one, and the incident page where people run
//! it (status, fields, milestones, roles, notes, pins) with a timeline that updates live over
//! Server-Sent Events. Forms call the same functions as the REST API.
use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use jiff::Timestamp;
use klaxon_domain::auth::Role;
use klaxon_domain::incident::Severity;
use klaxon_domain::page::Limit;
use klaxon_store::{Incident, IncidentFilter};
use serde::Deserialize;

use super::{live, web_forms, web_page};
use crate::incidents::api::{Declare, Who};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::web::FormErrors;
use crate::shared::web::{Nav, WebSession, html, next_cursor, page_cursor};
use crate::shared::web::{PageResult, forbidden};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/incidents", get(incidents_page).post(declare))
        .route("/incidents/new", get(declare_page))
        .merge(web_page::router())
        .merge(web_forms::router())
        .merge(live::router())
}

// --- the list and declaring ---------------------------------------------------------------------

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    nav: Option<Nav>,
    rows: Vec<IncidentRow>,
    next_cursor: Option<String>,
    can_declare: bool,
    /// Open incidents per severity (`none` for untriaged), for the cards at the top.
    open_by_severity: Vec<(String, usize)>,
    q: ListQuery,
    /// The query string of this view without the cursor, for "older" links.
    query: String,
    services: Vec<(String, String)>,
    teams: Vec<(String, String)>,
    severities: Vec<(&'static str, bool)>,
    error: Option<String>,
}

struct IncidentRow {
    i: Incident,
    age: String,
}

/// The list's filters, as the form sends them.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    /// `open` (the default), `all`, or one status.
    #[serde(default)]
    status: String,
    #[serde(default)]
    severity: Vec<String>,
    #[serde(default)]
    service_id: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    mine: String,
    /// An escalation policy: the team's incidents.
    #[serde(default)]
    team: String,
    cursor: Option<String>,
}

/// "3d 4h", "2h 5m", "40s": how long ago, roughly.
fn age(from: Timestamp, now: Timestamp) -> String {
    let secs = now.duration_since(from).as_secs().max(0);
    let (d, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// A day (`YYYY-MM-DD`, UTC) or a full time.
fn day_or_time(field: &str, v: &str, end: bool) -> Result<Option<String>, ApiError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if let Ok(d) = v.parse::<jiff::civil::Date>() {
        let d = if end {
            d.tomorrow()
                .map_err(|_| ApiError::invalid(field, "is out of range"))?
        } else {
            d
        };
        return Ok(Some(format!("{d}T00:00:00Z")));
    }
    v.parse::<Timestamp>()
        .map(|t| Some(t.to_string()))
        .map_err(|_| ApiError::invalid(field, "is not a date (YYYY-MM-DD) or a time"))
}

async fn incidents_page(
    State(state): State<AppState>,
    s: WebSession,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> PageResult {
    // Repeated keys (severity=SEV1&severity=SEV2) need a list-aware parser.
    let raw = raw.unwrap_or_default();
    let q: ListQuery = match serde_urlencoded_list(&raw) {
        Ok(q) => q,
        Err(e) => {
            return Ok(crate::shared::web::message(
                StatusCode::BAD_REQUEST,
                "Bad filter",
                &e,
            ));
        }
    };
    let (status, open) = match q.status.as_str() {
        "" | "open" => (None, true),
        "all" => (None, false),
        other => (Some(other.to_owned()), false),
    };
    let params = crate::incidents::list::IncidentParams {
        service_id: blank(&q.service_id),
        status,
        open: Some(open),
        severity: Some(q.severity.join(",")),
        from: day_or_time("from", &q.from, false)?,
        to: day_or_time("to", &q.to, true)?,
        q: blank(&q.q),
        mine: Some(!q.mine.is_empty()),
        team: blank(&q.team),
        limit: None,
        cursor: None,
    };
    let (rows, next, error) = match params.filter(s.user.id) {
        Ok(filter) => {
            let page = state
                .store
                .list_incidents(
                    &filter,
                    page_cursor(q.cursor.as_deref()),
                    Limit::DEFAULT.get(),
                )
                .await?;
            (page.items, next_cursor(page.next), None)
        }
        Err(e) => (Vec::new(), None, Some(e.to_string())),
    };
    // The cards count every open incident, whatever the filter.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut after = None;
    loop {
        let open = IncidentFilter {
            open: true,
            ..Default::default()
        };
        let page = state.store.list_incidents(&open, after, Limit::MAX).await?;
        for i in &page.items {
            let key = i
                .severity
                .map_or_else(|| "untriaged".to_owned(), |s| s.to_string());
            *counts.entry(key).or_default() += 1;
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let now = state.clock.now();
    let query = raw
        .split('&')
        .filter(|kv| !kv.starts_with("cursor=") && !kv.is_empty())
        .collect::<Vec<_>>()
        .join("&");
    let services = crate::shared::lists::all_services(&state)
        .await?
        .into_iter()
        .map(|s| (s.id.to_string(), s.name))
        .collect();
    let severities = Severity::ALL
        .iter()
        .map(|sev| (sev.as_str(), q.severity.iter().any(|x| x == sev.as_str())))
        .collect();
    let teams = escalation_policies(&state).await?;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(html(
        status,
        &IncidentsPage {
            nav: Some(Nav::new(&s, "/incidents")),
            rows: rows
                .into_iter()
                .map(|i| IncidentRow {
                    age: age(i.created_at, now),
                    i,
                })
                .collect(),
            next_cursor: next,
            can_declare: s.user.role.allows(Role::Responder),
            open_by_severity: Severity::ALL
                .iter()
                .map(|s| s.to_string())
                .chain(std::iter::once("untriaged".to_owned()))
                .map(|k| {
                    let n = counts.get(&k).copied().unwrap_or(0);
                    (k, n)
                })
                .collect(),
            q,
            query,
            services,
            teams,
            severities,
            error,
        },
    ))
}

/// Parses a form query where a key may repeat (`severity`), into [`ListQuery`].
fn serde_urlencoded_list(raw: &str) -> Result<ListQuery, String> {
    let mut q = ListQuery::default();
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        let v = v.into_owned();
        match k.as_ref() {
            "status" => q.status = v,
            "severity" => q.severity.push(v),
            "service_id" => q.service_id = v,
            "from" => q.from = v,
            "to" => q.to = v,
            "q" => q.q = v,
            "mine" => q.mine = v,
            "team" => q.team = v,
            "cursor" => q.cursor = Some(v),
            other => return Err(format!("unknown filter {other:?}")),
        }
    }
    Ok(q)
}

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

/// An open incident on the dashboard.
pub struct OpenRow {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub severity: String,
    pub status: String,
    pub age: String,
}

/// Every open incident, worst severity first (untriaged after SEV4), then oldest first: what
/// needs people now, and for how long it has.
pub async fn open_rows(state: &AppState) -> Result<Vec<OpenRow>, ApiError> {
    let open = IncidentFilter {
        open: true,
        ..Default::default()
    };
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = state.store.list_incidents(&open, after, Limit::MAX).await?;
        all.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    all.sort_by_key(|i| (i.severity.map_or(9, |s| s as u8), i.created_at));
    let now = state.clock.now();
    Ok(all
        .into_iter()
        .map(|i| OpenRow {
            id: i.id.to_string(),
            number: i.number,
            severity: i
                .severity
                .map_or_else(|| "untriaged".to_owned(), |s| s.to_string()),
            status: i.status.to_string(),
            age: age(i.created_at, now),
            title: i.title,
        })
        .collect())
}
