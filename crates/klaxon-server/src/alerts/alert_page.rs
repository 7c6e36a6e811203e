//! The alert page, `/alerts/{id}`: everything the monitoring tool said about a problem, made
//! readable (custom details as a table, links, images as links, the client), every trigger's
//! count and times, the incident it belongs to, and the newest event as it was sent.
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use klaxon_domain::alert::{AlertStatus, Image, Link};
use klaxon_domain::alert_details::{DetailRow, flatten, web_href};
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, EventKind, SubjectType};
use klaxon_domain::ids::AlertId;
use klaxon_domain::incident::IncidentStatus;
use klaxon_store::{Alert, Event};
use serde::Deserialize;

use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::time::{Reader, When};
use crate::shared::web::{
    Nav, PageResult, WebSession, html, next_cursor, not_found_page, page_cursor,
};

/// Custom-detail rows the page shows; beyond them, the raw payload has everything.
const DETAIL_ROWS: usize = 1000;
/// History entries per page, oldest first.
const HISTORY_PAGE: u32 = 100;

pub fn router() -> Router<AppState> {
    Router::new().route("/alerts/{id}", get(alert_page))
}

/// A link as the page shows it: `href` only when it is safe to follow (http or https).
pub struct LinkRow {
    pub text: String,
    pub href: Option<String>,
    pub raw: String,
}

impl From<&Link> for LinkRow {
    fn from(l: &Link) -> Self {
        let text = l.text.as_deref().map(str::trim).unwrap_or("");
        Self {
            text: if text.is_empty() {
                l.href.clone()
            } else {
                text.to_owned()
            },
            href: web_href(&l.href).map(str::to_owned),
            raw: l.href.clone(),
        }
    }
}

/// An image, shown as links: the page loads nothing from elsewhere.
pub struct ImageRow {
    pub alt: String,
    pub src: Option<String>,
    pub src_raw: String,
    pub href: Option<String>,
}

impl From<&Image> for ImageRow {
    fn from(i: &Image) -> Self {
        let alt = i.alt.as_deref().map(str::trim).unwrap_or("");
        Self {
            alt: if alt.is_empty() {
                "Image without a description".into()
            } else {
                alt.to_owned()
            },
            src: web_href(&i.src).map(str::to_owned),
            src_raw: i.src.clone(),
            href: i.href.as_deref().and_then(web_href).map(str::to_owned),
        }
    }
}

/// The incident the alert belongs to, and what a responder may do to it from here.
pub struct IncidentRef {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub status: String,
    pub can_acknowledge: bool,
    pub can_resolve: bool,
}

/// The alert's times in the reader's zone.
pub struct Times {
    pub first_seen: When,
    pub last_seen: When,
    /// When the tool says it saw the problem.
    pub tool: Option<When>,
    pub acknowledged: Option<When>,
    pub resolved: Option<When>,
}

impl Times {
    fn of(a: &Alert, reader: &Reader) -> Self {
        Self {
            first_seen: reader.when(a.created_at),
            last_seen: reader.when(a.last_seen_at),
            tool: a.content.timestamp.map(|t| reader.when(t)),
            acknowledged: a.acknowledged_at.map(|t| reader.when(t)),
            resolved: a.resolved_at.map(|t| reader.when(t)),
        }
    }
}

/// One entry of the alert's history.
pub struct HistoryRow {
    pub when: When,
    pub what: String,
}

#[derive(Template)]
#[template(path = "alert.html")]
struct AlertPage {
    nav: Option<Nav>,
    reader: Reader,
    csrf: String,
    alert: Alert,
    times: Times,
    service_name: String,
    integration: Option<String>,
    incident: Option<IncidentRef>,
    details: Vec<DetailRow>,
    details_hidden: usize,
    links: Vec<LinkRow>,
    images: Vec<ImageRow>,
    client_url: Option<String>,
    client_url_raw: Option<String>,
    history: Vec<HistoryRow>,
    history_from: Option<String>,
    history_next: Option<String>,
    payload: Option<String>,
}

#[derive(Deserialize)]
struct PageQuery {
    history: Option<String>,
}

async fn alert_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let Ok(id) = raw.parse::<AlertId>() else {
        return Ok(not_found_page());
    };
    let (alert, payload) = match crate::alerts::api::alert_with_payload(&state, id).await {
        Ok(x) => x,
        Err(ApiError::NotFound(_)) => return Ok(not_found_page()),
        Err(e) => return Err(e),
    };
    let service_name = match state.store.service(alert.service_id).await {
        Ok(svc) => svc.name,
        Err(e) if e.is_not_found() => alert.service_id.to_string(),
        Err(e) => return Err(e.into()),
    };
    let integration = match alert.integration_id {
        Some(i) => match state.store.integration(i).await {
            Ok(i) => Some(format!("{} ({})", i.name, kind_name(i.kind.as_str()))),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let can_respond = s.user.role.allows(Role::Responder);
    let incident = match alert.incident_id {
        Some(i) => match state.store.incident(i).await {
            Ok(inc) => {
                let open_alert = alert.status != AlertStatus::Resolved;
                let open = !matches!(
                    inc.status,
                    IncidentStatus::Resolved | IncidentStatus::Closed
                );
                Some(IncidentRef {
                    id: inc.id.to_string(),
                    number: inc.number,
                    title: inc.title,
                    status: inc.status.as_str().to_owned(),
                    can_acknowledge: can_respond
                        && open_alert
                        && inc.status == IncidentStatus::Triggered,
                    can_resolve: can_respond && open_alert && open,
                })
            }
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let (details, total) = flatten(&alert.content.details, DETAIL_ROWS);
    let after = page_cursor::<i64>(q.history.as_deref());
    let mut events = state
        .store
        .events(SubjectType::Alert, &id.to_string(), after, HISTORY_PAGE + 1)
        .await?;
    let more = events.len() > HISTORY_PAGE as usize;
    events.truncate(HISTORY_PAGE as usize);
    let reader = s.reader();
    let history = history_rows(&state, &reader, &events).await?;
    let c = &alert.content;
    let page = AlertPage {
        nav: Some(Nav::new(&s, "/alerts")),
        csrf: s.session.csrf_token.clone(),
        service_name,
        integration,
        incident,
        details_hidden: total - details.len(),
        details,
        links: c.links.iter().map(Into::into).collect(),
        images: c.images.iter().map(Into::into).collect(),
        client_url: c
            .client_url
            .as_deref()
            .and_then(web_href)
            .map(str::to_owned),
        client_url_raw: c.client_url.clone(),
        history,
        history_from: after.is_some().then(|| format!("/alerts/{id}")),
        history_next: if more {
            next_cursor(events.last().map(|e| e.seq)).map(|c| format!("/alerts/{id}?history={c}"))
        } else {
            None
        },
        payload: payload.map(|p| serde_json::to_string_pretty(&p).unwrap_or_default()),
        times: Times::of(&alert, &reader),
        reader,
        alert,
    };
    Ok(html(StatusCode::OK, &page))
}

/// "PagerDuty Events v2" for `events_v2`, and so on.
fn kind_name(kind: &str) -> &str {
    match kind {
        "events_v2" => "PagerDuty Events v2",
        "alertmanager" => "Alertmanager",
        "generic" => "generic webhook",
        "heartbeat" => "heartbeat monitor",
        other => other,
    }
}

/// The history in words, naming the person when one did it.
async fn history_rows(
    state: &AppState,
    reader: &Reader,
    events: &[Event],
) -> Result<Vec<HistoryRow>, ApiError> {
    let users: Vec<_> = events
        .iter()
        .filter_map(|e| match e.actor {
            Actor::User(u) => Some(u),
            _ => None,
        })
        .collect();
    let names = crate::shared::lists::user_names_or_ids(state, users).await?;
    Ok(events
        .iter()
        .map(|e| {
            let d = &e.data;
            let said = |what: &str| {
                format!(
                    "{what}: {} ({})",
                    d["summary"].as_str().unwrap_or(""),
                    d["severity"].as_str().unwrap_or("")
                )
            };
            let what = match e.kind {
                EventKind::AlertTriggered if d["in_maintenance"] == true => {
                    said("Triggered during maintenance")
                }
                EventKind::AlertTriggered => said("Triggered"),
                EventKind::AlertDeduplicated => said("Triggered again"),
                EventKind::AlertAcknowledged if d["via"] == "incident" => {
                    "Acknowledged with its incident".to_owned()
                }
                EventKind::AlertAcknowledged => "Acknowledged by the monitoring tool".to_owned(),
                EventKind::AlertResolved if d["via"] == "incident" => {
                    "Resolved with its incident".to_owned()
                }
                EventKind::AlertResolved => "Resolved by the monitoring tool".to_owned(),
                other => other.as_str().to_owned(),
            };
            // Signals are Klaxon's own doing (the tool's request); people are named.
            let what = match e.actor {
                Actor::System => what,
                Actor::User(u) => {
                    let name = names.get(&u).cloned().unwrap_or_else(|| u.to_string());
                    format!("{what}, by {name}")
                }
                Actor::Token(t) => format!("{what}, by API token {t}"),
                Actor::Workflow(_) => format!("{what}, by a workflow"),
            };
            HistoryRow {
                when: reader.when(e.at),
                what,
            }
        })
        .collect())
}
