//! Availability SLIs at the edges: an SLO's check or component must be its service's, and
//! the form offers the service's checks and components to pick from.
use std::collections::HashMap;

use klaxon_domain::ids::ServiceId;
use klaxon_domain::slo::Sli;
use klaxon_domain::slo::availability::Source;

use crate::shared::error::{ApiError, ApiResult};
use crate::shared::lists::all_services;
use crate::shared::state::AppState;

/// Refuses an availability SLI whose check or component does not exist or is not on
/// `service` (a check on it, a component that depends on it): a 400 on `sli.check` or
/// `sli.component`. Other SLIs pass.
pub async fn check_source(state: &AppState, sli: &Sli, service: ServiceId) -> ApiResult<()> {
    match sli.source() {
        Some(Source::Check(id)) => match state.store.check(id).await {
            Ok(c) if c.service_id == service => Ok(()),
            Ok(_) => Err(ApiError::invalid(
                "sli.check",
                "is a check on another service: an SLO measures the checks on its own service",
            )),
            Err(e) if e.is_not_found() => Err(ApiError::invalid("sli.check", "no such check")),
            Err(e) => Err(e.into()),
        },
        Some(Source::Component(id)) => match state.store.component(id).await {
            Ok(c) if c.service_ids.contains(&service) => Ok(()),
            Ok(_) => Err(ApiError::invalid(
                "sli.component",
                "does not depend on the service of the SLO: link them on its status page",
            )),
            Err(e) if e.is_not_found() => {
                Err(ApiError::invalid("sli.component", "no such component"))
            }
            Err(e) => Err(e.into()),
        },
        None => Ok(()),
    }
}

/// What an availability SLI can watch, for a form's select: `(value, label)` pairs of checks
/// (`check:{id}`) and of components (`component:{id}`), each by name with its service (or,
/// given `service`, only that service's).
pub struct Choices {
    pub checks: Vec<(String, String)>,
    pub components: Vec<(String, String)>,
}

pub async fn choices(state: &AppState, service: Option<ServiceId>) -> ApiResult<Choices> {
    let services: HashMap<ServiceId, String> = all_services(state)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let wanted = |id: &ServiceId| service.is_none_or(|s| s == *id);
    let checks = state
        .store
        .list_checks()
        .await?
        .into_iter()
        .filter(|c| wanted(&c.service_id))
        .map(|c| {
            let label = match (service, services.get(&c.service_id)) {
                (None, Some(svc)) => format!("{} ({svc})", c.name),
                _ => c.name,
            };
            (format!("check:{}", c.id), label)
        })
        .collect();
    let ids: Vec<ServiceId> = match service {
        Some(s) => vec![s],
        None => services.keys().copied().collect(),
    };
    let pages: HashMap<_, String> = state
        .store
        .list_status_pages()
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let mut components: Vec<(String, String)> = Vec::new();
    for c in state.store.components_of_services(&ids).await? {
        let value = format!("component:{}", c.id);
        if components.iter().any(|(v, _)| *v == value) {
            continue;
        }
        let page = pages.get(&c.page_id).map_or("", String::as_str);
        let on: Vec<&str> = c
            .service_ids
            .iter()
            .filter(|s| ids.contains(s))
            .filter_map(|s| services.get(s).map(String::as_str))
            .collect();
        let label = if service.is_some() {
            format!("{} on {page}", c.name)
        } else {
            format!("{} on {page} ({})", c.name, on.join(", "))
        };
        components.push((value, label));
    }
    Ok(Choices { checks, components })
}
