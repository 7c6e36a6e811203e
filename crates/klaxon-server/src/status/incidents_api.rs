//! Public incidents and scheduled maintenances on a status page, and their updates: REST under
//! `/api/v1/status-pages/{page}/incidents`, and the operations the incident page calls. Each
//! update moves the components it names, and lands on the Klaxon incident's timeline too.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{ComponentId, IncidentId, StatusIncidentId, StatusPageId, StatusUpdateId};
use klaxon_domain::incident as rules;
use klaxon_domain::status::{
    self as domain, ComponentStatus, Impact, IncidentStatus, MaintenanceStatus, PublicStatus,
};
use klaxon_store::{
    Component, ComponentChange, StatusIncident, StatusIncidentWithUpdates, StatusUpdate,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::pages_api::{find_component, new_code, page_event};
use crate::shared::api::{ApiJson, Caller};
use crate::shared::crypto::random_bytes;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_status_incidents, publish_status_incident))
        .routes(routes!(get_status_incident, delete_status_incident))
        .routes(routes!(post_status_update))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentRef {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeOut {
    pub component: String,
    pub name: String,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusUpdateOut {
    pub code: String,
    pub status: String,
    pub body: String,
    pub changes: Vec<ChangeOut>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_update_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusIncidentOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: StatusIncidentId,
    /// The public, Statuspage-shaped id.
    pub code: String,
    /// The Klaxon incident it tells of.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub incident_id: Option<IncidentId>,
    pub maintenance: bool,
    pub name: String,
    /// `investigating`, `identified`, `monitoring`, `resolved`, `postmortem`; for a maintenance
    /// `scheduled`, `in_progress`, `verifying`, `completed`.
    pub status: String,
    pub impact: Impact,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scheduled_for: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scheduled_until: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_update_at: Option<Timestamp>,
    pub remind_minutes: Option<i64>,
    pub components: Vec<ComponentRef>,
    /// Oldest first.
    pub updates: Vec<StatusUpdateOut>,
    #[schema(value_type = String, format = DateTime)]
    pub started_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Timestamp>,
}

pub(crate) fn incident_out(w: StatusIncidentWithUpdates, all: &[Component]) -> StatusIncidentOut {
    let i = w.incident;
    StatusIncidentOut {
        id: i.id,
        code: i.code,
        incident_id: i.incident_id,
        maintenance: i.maintenance,
        name: i.name,
        status: i.status.as_str().to_owned(),
        impact: i.impact,
        scheduled_for: i.scheduled_for,
        scheduled_until: i.scheduled_until,
        next_update_at: i.next_update_at,
        remind_minutes: i.remind_minutes,
        components: i
            .component_ids
            .iter()
            .filter_map(|id| all.iter().find(|c| c.id == *id))
            .map(|c| ComponentRef {
                code: c.code.clone(),
                name: c.name.clone(),
            })
            .collect(),
        updates: w
            .updates
            .into_iter()
            .map(|u| StatusUpdateOut {
                code: u.code,
                status: u.status.as_str().to_owned(),
                body: u.body,
                changes: u
                    .changes
                    .into_iter()
                    .map(|c| ChangeOut {
                        component: c.code,
                        name: c.name,
                        old_status: c.old_status,
                        new_status: c.new_status,
                    })
                    .collect(),
                next_update_at: u.next_update_at,
                created_at: u.created_at,
            })
            .collect(),
        started_at: i.started_at,
        resolved_at: i.resolved_at,
    }
}

/// A component and the status it moves to.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentMove {
    /// Its code, id or name.
    pub component: String,
    pub status: ComponentStatus,
}

/// A new public incident, or (with `maintenance: true`) a scheduled maintenance.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    /// The public title: what customers see, in their words.
    #[schema(max_length = 200)]
    pub name: String,
    /// Default `investigating` (or `scheduled` for a maintenance).
    pub status: Option<String>,
    /// `none`, `minor` (default), `major` or `critical`; maintenances are `maintenance`.
    pub impact: Option<Impact>,
    /// The first update's text; default: the status's template.
    #[schema(max_length = 10000)]
    pub body: Option<String>,
    /// The affected components and their statuses.
    #[serde(default)]
    pub components: Vec<ComponentMove>,
    /// The Klaxon incident it tells of: its number or id.
    pub incident: Option<String>,
    /// When the next update is promised, in minutes from now.
    #[schema(minimum = 1, maximum = 10080)]
    pub next_update_in_minutes: Option<i64>,
    #[serde(default)]
    pub maintenance: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scheduled_for: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scheduled_until: Option<Timestamp>,
    /// Remind subscribers this many minutes before a maintenance starts.
    #[schema(minimum = 1, maximum = 10080)]
    pub remind_minutes: Option<i64>,
}

/// An update to a public incident or maintenance.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    pub status: String,
    /// Default: the status's template.
    #[schema(max_length = 10000)]
    pub body: Option<String>,
    /// Components that move. Resolving (completing) puts the incident's other components
    /// back to operational; starting a maintenance puts them under maintenance.
    #[serde(default)]
    pub components: Vec<ComponentMove>,
    #[schema(max_length = 200)]
    pub name: Option<String>,
    pub impact: Option<Impact>,
    #[schema(minimum = 1, maximum = 10080)]
    pub next_update_in_minutes: Option<i64>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scheduled_for: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scheduled_until: Option<Timestamp>,
}

/// The words an update says when nobody wrote any.
pub fn template(status: PublicStatus, components: &[&str]) -> String {
    let what = if components.is_empty() {
        "our services".to_owned()
    } else {
        components.join(", ")
    };
    match status {
        PublicStatus::Incident(IncidentStatus::Investigating) => {
            format!("We are investigating problems with {what}. We will post an update soon.")
        }
        PublicStatus::Incident(IncidentStatus::Identified) => {
            "We have found the cause and are working on a fix.".into()
        }
        PublicStatus::Incident(IncidentStatus::Monitoring) => {
            "A fix is in place and we are watching the results.".into()
        }
        PublicStatus::Incident(IncidentStatus::Resolved) => {
            "This incident has been resolved.".into()
        }
        PublicStatus::Incident(IncidentStatus::Postmortem) => {
            "We have published a review of this incident.".into()
        }
        PublicStatus::Maintenance(MaintenanceStatus::Scheduled) => {
            format!("We will be doing maintenance on {what} at the time shown.")
        }
        PublicStatus::Maintenance(MaintenanceStatus::InProgress) => {
            "Maintenance is in progress. We will post an update when it is done.".into()
        }
        PublicStatus::Maintenance(MaintenanceStatus::Verifying) => {
            "The work is done and we are checking that everything works.".into()
        }
        PublicStatus::Maintenance(MaintenanceStatus::Completed) => {
            "The maintenance is complete.".into()
        }
    }
}

fn next_update(now: Timestamp, minutes: Option<i64>) -> ApiResult<Option<Timestamp>> {
    minutes
        .map(|m| {
            if (1..=10_080).contains(&m) {
                Ok(now + SignedDuration::from_mins(m))
            } else {
                Err(ApiError::invalid(
                    "next_update_in_minutes",
                    "must be between 1 and 10080",
                ))
            }
        })
        .transpose()
}

/// The component changes `moves` ask for, against the components' current statuses.
fn changes_of(all: &[Component], moves: &[ComponentMove]) -> ApiResult<Vec<ComponentChange>> {
    let mut out: Vec<ComponentChange> = Vec::new();
    for (i, m) in moves.iter().enumerate() {
        let field = format!("components[{i}].component");
        let c = find_component(all, &m.component, At::Field(&field))?;
        if c.is_group {
            return Err(ApiError::invalid(
                field,
                format!("{} is a group: name its components", c.name),
            ));
        }
        if out.iter().any(|o| o.component_id == c.id) {
            return Err(ApiError::invalid(
                field,
                format!("{} is named twice", c.name),
            ));
        }
        out.push(ComponentChange {
            component_id: c.id,
            code: c.code.clone(),
            name: c.name.clone(),
            old_status: c.status,
            new_status: m.status,
        });
    }
    Ok(out)
}

/// Components of the incident not named in this update that the new status moves by itself:
/// back to operational when it ends, under maintenance when a maintenance starts.
pub(crate) fn implied_changes(
    all: &[Component],
    incident: &StatusIncident,
    status: PublicStatus,
    changes: &mut Vec<ComponentChange>,
) {
    let to = match status {
        PublicStatus::Incident(IncidentStatus::Resolved)
        | PublicStatus::Maintenance(MaintenanceStatus::Completed) => ComponentStatus::Operational,
        PublicStatus::Maintenance(MaintenanceStatus::InProgress) => {
            ComponentStatus::UnderMaintenance
        }
        _ => return,
    };
    for id in &incident.component_ids {
        if changes.iter().any(|c| c.component_id == *id) {
            continue;
        }
        if let Some(c) = all.iter().find(|c| c.id == *id)
            && c.status != to
        {
            changes.push(ComponentChange {
                component_id: c.id,
                code: c.code.clone(),
                name: c.name.clone(),
                old_status: c.status,
                new_status: to,
            });
        }
    }
}

/// The names of `ids` among `all`, in `ids`' order, for templates.
pub(crate) fn names_of<'a>(all: &'a [Component], ids: &[ComponentId]) -> Vec<&'a str> {
    ids.iter()
        .filter_map(|id| all.iter().find(|c| c.id == *id))
        .map(|c| c.name.as_str())
        .collect()
}

/// Drops changes that change nothing.
pub(crate) fn real(changes: Vec<ComponentChange>) -> Vec<ComponentChange> {
    changes
        .into_iter()
        .filter(|c| c.old_status != c.new_status)
        .collect()
}

fn parse_status(maintenance: bool, raw: &str) -> ApiResult<PublicStatus> {
    PublicStatus::parse(maintenance, raw.trim()).map_err(Into::into)
}

fn body_text(body: Option<&str>, status: PublicStatus, names: &[&str]) -> ApiResult<String> {
    match body.map(str::trim).filter(|b| !b.is_empty()) {
        Some(b) => Ok(rules::parse_text("body", b, 10_000)?),
        None => Ok(template(status, names)),
    }
}

/// The events of a publication or update: the page's, and the Klaxon incident's entry.
pub(crate) fn events_for(
    i: &StatusIncident,
    u: &StatusUpdate,
    page_slug: &str,
    actor: Actor,
    first: bool,
) -> Vec<NewEvent> {
    let data = json!({
        "status_incident": i.code, "page": page_slug, "name": i.name,
        "status": u.status.as_str(), "body": u.body, "maintenance": i.maintenance,
        "components": u.changes.iter().map(|c| json!({
            "component": c.code, "name": c.name, "from": c.old_status, "to": c.new_status,
        })).collect::<Vec<_>>(),
    });
    let (page_kind, incident_kind) = if first {
        (
            EventKind::StatusIncidentPublished,
            EventKind::IncidentStatusPublished,
        )
    } else {
        (
            EventKind::StatusIncidentUpdated,
            EventKind::IncidentStatusUpdated,
        )
    };
    let mut out = vec![page_event(
        i.page_id,
        u.created_at,
        actor,
        page_kind,
        data.clone(),
    )];
    if let Some(incident) = i.incident_id {
        out.push(NewEvent::new(
            SubjectType::Incident,
            incident,
            u.created_at,
            actor,
            incident_kind,
            data,
        ));
    }
    out
}

/// Publishes a public incident or maintenance on `page` (the communications lead).
pub async fn publish_with(
    state: &AppState,
    actor: Actor,
    page: StatusPageId,
    body: PublishBody,
) -> ApiResult<StatusIncidentWithUpdates> {
    let p = state
        .store
        .status_page(page)
        .await
        .map_err(ApiError::or_not_found("status page"))?;
    let name = rules::parse_title("name", &body.name, 200)?;
    let status = match &body.status {
        Some(s) => parse_status(body.maintenance, s)?,
        None if body.maintenance => PublicStatus::Maintenance(MaintenanceStatus::Scheduled),
        None => PublicStatus::Incident(IncidentStatus::Investigating),
    };
    let impact = match (body.maintenance, body.impact) {
        (true, None | Some(Impact::Maintenance)) => Impact::Maintenance,
        (true, Some(_)) => {
            return Err(ApiError::invalid(
                "impact",
                "a maintenance's impact is maintenance",
            ));
        }
        (false, Some(Impact::Maintenance)) => {
            return Err(ApiError::invalid(
                "impact",
                "must be one of: none, minor, major, critical",
            ));
        }
        (false, i) => i.unwrap_or(Impact::Minor),
    };
    let (scheduled_for, scheduled_until) = if body.maintenance {
        let (Some(from), Some(until)) = (body.scheduled_for, body.scheduled_until) else {
            return Err(ApiError::invalid(
                "scheduled_for",
                "a maintenance needs scheduled_for and scheduled_until",
            ));
        };
        domain::check_window(from, until)?;
        (Some(from), Some(until))
    } else if body.scheduled_for.is_some() || body.scheduled_until.is_some() {
        return Err(ApiError::invalid(
            "scheduled_for",
            "only a maintenance has a window",
        ));
    } else {
        (None, None)
    };
    let remind_minutes = match body.remind_minutes {
        Some(_) if !body.maintenance => {
            return Err(ApiError::invalid(
                "remind_minutes",
                "only a maintenance has reminders",
            ));
        }
        Some(m) if !(1..=10_080).contains(&m) => {
            return Err(ApiError::invalid(
                "remind_minutes",
                "must be between 1 and 10080",
            ));
        }
        m => m,
    };
    let incident_id = match &body.incident {
        Some(raw) => Some(terms::incident(state, raw, At::Field("incident")).await?),
        None => None,
    };
    if let Some(id) = incident_id
        && state.store.incident(id).await?.is_drill
    {
        return Err(ApiError::invalid(
            "incident",
            "is a drill: a drill is never shown on a status page",
        ));
    }
    let all = state.store.list_components(page).await?;
    let mut changes = changes_of(&all, &body.components)?;
    let now = state.clock.now();
    let mut i = StatusIncident {
        id: StatusIncidentId::new(now, random_bytes()),
        code: new_code(),
        page_id: page,
        incident_id,
        maintenance: body.maintenance,
        name,
        status,
        impact,
        scheduled_for,
        scheduled_until,
        next_update_at: next_update(now, body.next_update_in_minutes)?,
        remind_minutes,
        reminded: false,
        component_ids: changes.iter().map(|c| c.component_id).collect(),
        created_at: now,
        updated_at: now,
        started_at: scheduled_for.unwrap_or(now),
        monitoring_at: None,
        resolved_at: None,
        postmortem: None,
    };
    // A scheduled maintenance names its components but moves none before it starts; one
    // published as it starts moves them, as the engine would.
    if status == PublicStatus::Maintenance(MaintenanceStatus::Scheduled) {
        changes.clear();
    }
    implied_changes(&all, &i, status, &mut changes);
    let changes = real(changes);
    mark_milestones(&mut i, status, now);
    let names = names_of(&all, &i.component_ids);
    let first = StatusUpdate {
        id: StatusUpdateId::new(now, random_bytes()),
        code: new_code(),
        status_incident_id: i.id,
        status,
        body: body_text(body.body.as_deref(), status, &names)?,
        changes,
        next_update_at: i.next_update_at,
        created_at: now,
    };
    let events = events_for(&i, &first, &p.slug, actor, true);
    let maintenance = i.maintenance;
    let created = state
        .store
        .create_status_incident(i, first, events)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    if maintenance {
        // The engine starts and completes it; the job is one for every maintenance.
        state
            .store
            .enqueue_job(super::maintenance::job(now))
            .await?;
    }
    state.status_refresh.changed().await;
    state.incident_changes.notify_waiters();
    Ok(state.store.status_incident(created.id).await?)
}

pub(crate) fn mark_milestones(i: &mut StatusIncident, status: PublicStatus, now: Timestamp) {
    match status {
        PublicStatus::Incident(IncidentStatus::Monitoring) => {
            i.monitoring_at.get_or_insert(now);
        }
        PublicStatus::Incident(IncidentStatus::Resolved | IncidentStatus::Postmortem)
        | PublicStatus::Maintenance(MaintenanceStatus::Completed) => {
            i.resolved_at.get_or_insert(now);
        }
        _ => i.resolved_at = None,
    }
}

/// Posts an update on a public incident or maintenance.
pub async fn update_with(
    state: &AppState,
    actor: Actor,
    page: StatusPageId,
    code: &str,
    body: UpdateBody,
) -> ApiResult<StatusIncidentWithUpdates> {
    let p = state
        .store
        .status_page(page)
        .await
        .map_err(ApiError::or_not_found("status page"))?;
    let found = find_incident(state, page, code).await?;
    let mut i = found.incident;
    let status = parse_status(i.maintenance, &body.status)?;
    if let Some(n) = &body.name {
        i.name = rules::parse_title("name", n, 200)?;
    }
    if let Some(imp) = body.impact {
        if i.maintenance != (imp == Impact::Maintenance) {
            return Err(ApiError::invalid(
                "impact",
                if i.maintenance {
                    "a maintenance's impact is maintenance"
                } else {
                    "must be one of: none, minor, major, critical"
                },
            ));
        }
        i.impact = imp;
    }
    if body.scheduled_for.is_some() || body.scheduled_until.is_some() {
        if !i.maintenance {
            return Err(ApiError::invalid(
                "scheduled_for",
                "only a maintenance has a window",
            ));
        }
        let from = body
            .scheduled_for
            .or(i.scheduled_for)
            .unwrap_or(i.started_at);
        let until = body.scheduled_until.or(i.scheduled_until).unwrap_or(from);
        domain::check_window(from, until)?;
        i.scheduled_for = Some(from);
        i.scheduled_until = Some(until);
        i.started_at = from;
    }
    let all = state.store.list_components(page).await?;
    let mut changes = changes_of(&all, &body.components)?;
    for c in &changes {
        if !i.component_ids.contains(&c.component_id) {
            i.component_ids.push(c.component_id);
        }
    }
    implied_changes(&all, &i, status, &mut changes);
    let now = state.clock.now();
    i.status = status;
    i.updated_at = now;
    i.next_update_at = next_update(now, body.next_update_in_minutes)?;
    mark_milestones(&mut i, status, now);
    let names = names_of(&all, &i.component_ids);
    let u = StatusUpdate {
        id: StatusUpdateId::new(now, random_bytes()),
        code: new_code(),
        status_incident_id: i.id,
        status,
        body: body_text(body.body.as_deref(), status, &names)?,
        changes: real(changes),
        next_update_at: i.next_update_at,
        created_at: now,
    };
    let events = events_for(&i, &u, &p.slug, actor, false);
    let id = i.id;
    let moves_later =
        i.maintenance && i.status != PublicStatus::Maintenance(MaintenanceStatus::Completed);
    state
        .store
        .add_status_update(i, u, events)
        .await
        .map_err(ApiError::or_not_found("status incident"))?;
    if moves_later {
        state
            .store
            .enqueue_job(super::maintenance::job(now))
            .await?;
    }
    state.status_refresh.changed().await;
    state.incident_changes.notify_waiters();
    Ok(state.store.status_incident(id).await?)
}

/// A page's public incident by its code or id.
pub(crate) async fn find_incident(
    state: &AppState,
    page: StatusPageId,
    raw: &str,
) -> ApiResult<StatusIncidentWithUpdates> {
    let raw = raw.trim();
    let id = match raw.parse::<StatusIncidentId>() {
        Ok(id) => Some(id),
        Err(_) if domain::is_code(raw) => state.store.status_incident_by_code(raw).await.ok(),
        Err(_) => None,
    };
    let missing = || ApiError::NotFound(format!("no incident {raw} on this status page"));
    let found = state
        .store
        .status_incident(id.ok_or_else(missing)?)
        .await
        .map_err(|_| missing())?;
    if found.incident.page_id == page {
        Ok(found)
    } else {
        Err(missing())
    }
}

pub async fn delete_with(
    state: &AppState,
    actor: Actor,
    page: StatusPageId,
    raw: &str,
) -> ApiResult<()> {
    let found = find_incident(state, page, raw).await?;
    let now = state.clock.now();
    let e = page_event(
        page,
        now,
        actor,
        EventKind::StatusIncidentDeleted,
        json!({"status_incident": found.incident.code, "name": found.incident.name}),
    );
    state
        .store
        .delete_status_incident(found.incident.id, e)
        .await
        .map_err(ApiError::or_not_found("status incident"))?;
    state.status_refresh.changed().await;
    Ok(())
}

/// A page's public incidents and maintenances, newest first (the 100 newest).
#[utoipa::path(get, path = "/api/v1/status-pages/{page}/incidents", tag = "status pages",
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1)),
    responses((status = 200, body = Vec<StatusIncidentOut>), (status = 404, body = ErrorBody)))]
async fn list_status_incidents(
    State(state): State<AppState>,
    caller: Caller,
    Path(page): Path<String>,
) -> ApiResult<Json<Vec<StatusIncidentOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    let all = state.store.list_components(id).await?;
    let list = state.store.list_status_incidents(id, 100).await?;
    Ok(Json(
        list.into_iter().map(|w| incident_out(w, &all)).collect(),
    ))
}

/// Publishes a public incident, or a scheduled maintenance (responders: the communications
/// lead). With `incident`, it is told on that incident's timeline.
#[utoipa::path(post, path = "/api/v1/status-pages/{page}/incidents", tag = "status pages", request_body = PublishBody,
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1)),
    responses((status = 201, body = StatusIncidentOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn publish_status_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(page): Path<String>,
    ApiJson(body): ApiJson<PublishBody>,
) -> ApiResult<(StatusCode, Json<StatusIncidentOut>)> {
    caller.require(Role::Responder)?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    let w = publish_with(&state, caller.actor(), id, body).await?;
    let all = state.store.list_components(id).await?;
    Ok((StatusCode::CREATED, Json(incident_out(w, &all))))
}

/// One public incident or maintenance with its updates.
#[utoipa::path(get, path = "/api/v1/status-pages/{page}/incidents/{incident}", tag = "status pages",
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1),
        ("incident" = String, Path, description = "Its code or id", min_length = 1)),
    responses((status = 200, body = StatusIncidentOut), (status = 404, body = ErrorBody)))]
async fn get_status_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path((page, incident)): Path<(String, String)>,
) -> ApiResult<Json<StatusIncidentOut>> {
    caller.require(Role::Viewer)?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    let w = find_incident(&state, id, &incident).await?;
    let all = state.store.list_components(id).await?;
    Ok(Json(incident_out(w, &all)))
}

/// Deletes a public incident or maintenance published by mistake (admin). Its component
/// changes stay.
#[utoipa::path(delete, path = "/api/v1/status-pages/{page}/incidents/{incident}", tag = "status pages",
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1),
        ("incident" = String, Path, description = "Its code or id", min_length = 1)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_status_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path((page, incident)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    delete_with(&state, caller.actor(), id, &incident).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Posts an update: a new status and text, the components that move, the next update's time.
#[utoipa::path(post, path = "/api/v1/status-pages/{page}/incidents/{incident}/updates", tag = "status pages", request_body = UpdateBody,
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1),
        ("incident" = String, Path, description = "Its code or id", min_length = 1)),
    responses((status = 201, body = StatusIncidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn post_status_update(
    State(state): State<AppState>,
    caller: Caller,
    Path((page, incident)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> ApiResult<(StatusCode, Json<StatusIncidentOut>)> {
    caller.require(Role::Responder)?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    let w = update_with(&state, caller.actor(), id, &incident, body).await?;
    let all = state.store.list_components(id).await?;
    Ok((StatusCode::CREATED, Json(incident_out(w, &all))))
}
