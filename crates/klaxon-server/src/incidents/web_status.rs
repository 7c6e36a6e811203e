//! The incident page's "Status page" panel: what customers were told of this incident, and the
//! "Tell customers" form. The components of the incident's service are proposed (ticked in the
//! form), never set: only what the person submits is published, through the status page's own
//! `publish_with`, which also puts it on this incident's timeline.
use std::borrow::Borrow;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::post;
use klaxon_domain::auth::Role;
use klaxon_domain::event::Actor;
use klaxon_domain::ids::{IncidentId, StatusPageId};
use klaxon_domain::status::{ComponentStatus, Impact};
use klaxon_store::Incident;

use super::web_page::render_incident;
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::web::{FormErrors, PageResult, Refused, WebSession, forbidden, not_found_page};
use crate::status::incidents_api::{ComponentMove, PublishBody, publish_with};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/incidents/{id}/status-page", post(tell_customers))
}

/// A public incident that tells of this one.
pub struct Told {
    pub page: String,
    pub name: String,
    pub status: &'static str,
    /// Its admin page, where updates are posted.
    pub link: String,
}

pub struct Offered {
    pub page_id: String,
    pub page: String,
    pub code: String,
    pub name: String,
    /// It depends on the incident's service: ticked in the form, not set.
    pub proposed: bool,
}

#[derive(Default)]
pub struct StatusPanel {
    pub told: Vec<Told>,
    /// (id, name)
    pub pages: Vec<(String, String)>,
    pub components: Vec<Offered>,
    pub statuses: Vec<(&'static str, &'static str)>,
    pub impacts: Vec<&'static str>,
}

/// The form's name in the incident page's refusals.
pub const FORM: &str = "status_page";

impl StatusPanel {
    /// Whether a component's box is ticked: as submitted when the form was refused, else when
    /// it is proposed.
    pub(crate) fn ticked(
        &self,
        refused: &Refused,
        code: &str,
        proposed: impl Borrow<bool>,
    ) -> bool {
        let proposed = *proposed.borrow();
        if refused.is(FORM) {
            refused.typed(FORM, &format!("affected.{code}"), "") == "yes"
        } else {
            proposed
        }
    }

    /// The status chosen for a component.
    pub(crate) fn chosen<'a>(&self, refused: &'a Refused, code: &str) -> &'a str {
        refused.typed(FORM, &format!("status.{code}"), "partial_outage")
    }
}

pub(super) async fn panel(state: &AppState, incident: &Incident) -> Result<StatusPanel, ApiError> {
    let pages = state.store.list_status_pages().await?;
    let page_name = |id: StatusPageId| {
        pages
            .iter()
            .find(|p| p.id == id)
            .map_or_else(String::new, |p| p.name.clone())
    };
    let told = state
        .store
        .status_incidents_of(incident.id)
        .await?
        .into_iter()
        .map(|i| Told {
            page: page_name(i.page_id),
            link: format!("/status-pages/{}/incidents/{}", i.page_id, i.code),
            name: i.name,
            status: i.status.label(),
        })
        .collect();
    let proposed = match incident.service_id {
        Some(sid) => state.store.components_of_services(&[sid]).await?,
        None => Vec::new(),
    };
    let mut components = Vec::new();
    for p in &pages {
        for c in state.store.list_components(p.id).await? {
            if c.is_group {
                continue;
            }
            components.push(Offered {
                page_id: p.id.to_string(),
                page: p.name.clone(),
                proposed: proposed.iter().any(|x| x.id == c.id),
                code: c.code,
                name: c.name,
            });
        }
    }
    Ok(StatusPanel {
        told,
        pages: pages
            .iter()
            .map(|p| (p.id.to_string(), p.name.clone()))
            .collect(),
        components,
        statuses: ComponentStatus::ALL
            .iter()
            .filter(|s| **s != ComponentStatus::Operational)
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        impacts: vec!["none", "minor", "major", "critical"],
    })
}

async fn tell_customers(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    if let Err(r) = s.check_csrf(get("csrf")) {
        return Ok(r);
    }
    let Ok(id) = id.parse::<IncidentId>() else {
        return Ok(not_found_page());
    };
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("tell customers"));
    }
    let incident = match state.store.incident(id).await {
        Ok(i) => i,
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    let outcome = async {
        let page: StatusPageId = get("page")
            .parse()
            .map_err(|_| ApiError::invalid("page", "choose a status page"))?;
        let on_page = state.store.list_components(page).await?;
        let impact = get("impact")
            .parse::<Impact>()
            .map_err(|_| ApiError::invalid("impact", "choose an impact from the list"))?;
        let mut components = Vec::new();
        // Only the chosen page's components: the form offers every page's.
        for (k, code) in &pairs {
            if k != "affected" || !on_page.iter().any(|c| c.code == *code) {
                continue;
            }
            let raw = get(&format!("status.{code}"));
            components.push(ComponentMove {
                component: code.clone(),
                status: raw.parse::<ComponentStatus>().map_err(|_| {
                    ApiError::invalid("components", "choose a status for each ticked component")
                })?,
            });
        }
        let next = match get("next_update_in_minutes").trim() {
            "" => None,
            n => Some(n.parse::<i64>().map_err(|_| {
                ApiError::invalid(
                    "next_update_in_minutes",
                    "must be a whole number of minutes",
                )
            })?),
        };
        let body = PublishBody {
            name: get("name").to_owned(),
            impact: Some(impact),
            body: Some(get("body").to_owned()),
            components,
            incident: Some(incident.number.to_string()),
            next_update_in_minutes: next,
            ..Default::default()
        };
        publish_with(&state, Actor::User(s.user.id), page, body).await
    }
    .await;
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/incidents/{id}#status-panel")).into_response()),
        Err(e) => {
            let status: StatusCode = e.status();
            let typed: Vec<(String, String)> = pairs
                .iter()
                .filter(|(k, _)| k != "csrf")
                .map(|(k, v)| {
                    if k == "affected" {
                        (format!("affected.{v}"), "yes".to_owned())
                    } else {
                        (k.clone(), v.clone())
                    }
                })
                .collect();
            let refs: Vec<(&str, &str)> = typed
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let refused = Refused::new(FORM, FormErrors::from_error(e)?, &refs);
            render_incident(&state, &s, id, status, refused).await
        }
    }
}
