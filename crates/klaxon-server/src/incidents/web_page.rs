//! The incident page: summary, milestones, responders, tasks, timeline, and the forms to change
//! them.
use super::web::{SeverityChoice, escalation_policies, severity_choices};
use crate::incidents::describe::{actor_name, describe, milestone_label};
use crate::incidents::timeline::TimelineFilter;
use crate::shared::state::AppState;
use crate::shared::web::{Nav, WebSession, html};
use crate::shared::web::{PageResult, not_found_page};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use klaxon_domain::alert::Urgency;
use klaxon_domain::auth::Role;
use klaxon_domain::event::EventKind;
use klaxon_domain::ids::IncidentId;
use klaxon_domain::incident::{COMMANDER, Impact, IncidentStatus, MILESTONES, Severity};
use klaxon_domain::page::Limit;
use klaxon_store::{Alert, AlertFilter, Event, Incident, IncidentFilter, Service};
use serde::Deserialize;
use std::collections::BTreeMap;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/incidents/{id}", get(incident_page))
}

// --- the incident page --------------------------------------------------------------------------

/// One timeline entry as people read it.
pub struct Entry {
    pub(super) seq: i64,
    pub(super) at: Timestamp,
    pub(super) who: String,
    pub(super) kind: String,
    pub(super) text: String,
    pub(super) pinned: bool,
    pub(super) note: bool,
}

pub(super) fn entry(e: &Event, names: &BTreeMap<String, String>, state: &AppState) -> Entry {
    Entry {
        seq: e.seq,
        at: e.at,
        who: actor_name(&e.actor, names),
        kind: e.kind.as_str().to_owned(),
        text: describe(e, names, &state.incident_rules),
        pinned: e.pinned,
        note: e.kind == EventKind::IncidentNoteAdded,
    }
}

struct RoleRow {
    key: String,
    name: String,
    user_id: String,
    user_name: String,
    since: Timestamp,
}

struct TaskRow {
    id: String,
    title: String,
    assignee: Option<String>,
    due: Option<String>,
    overdue: bool,
    done: bool,
}

struct MilestoneRow {
    name: &'static str,
    label: &'static str,
    /// For a `datetime-local` input, in UTC.
    value: String,
}

/// The timeline filters the page offers: a name and the event kinds it keeps.
pub(super) const FILTERS: &[(&str, &str, &str)] = &[
    ("", "Everything", ""),
    ("notes", "Notes", "incident.note_added"),
    (
        "status",
        "Status",
        "incident.declared,incident.triggered,incident.acknowledged,incident.mitigated,incident.resolved,incident.closed,incident.reopened",
    ),
    (
        "changes",
        "Changes",
        "incident.updated,incident.severity_changed,incident.milestones_changed",
    ),
    (
        "roles",
        "Roles",
        "incident.role_assigned,incident.role_unassigned",
    ),
    (
        "alerts",
        "Alerts",
        "incident.alert_added,incident.triggered",
    ),
    (
        "paging",
        "Paging",
        "notification.,incident.escalated,incident.escalated_by_hand,incident.escalation_exhausted,incident.reassigned",
    ),
];

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    nav: Option<Nav>,
    incident: Incident,
    incident_id: String,
    service: Option<Service>,
    alerts: Vec<Alert>,
    notifications: Vec<crate::oncall::web::NotificationRow>,
    timeline: Vec<Entry>,
    pub(super) pinned: Vec<Entry>,
    last_seq: i64,
    filter: String,
    filters: Vec<(&'static str, &'static str)>,
    severities: Vec<SeverityChoice>,
    severity_definition: String,
    impacts: Vec<(&'static str, bool)>,
    urgencies: Vec<(&'static str, bool)>,
    reporter_name: Option<String>,
    /// For the edit form ("" when nobody).
    reporter_id: String,
    roles: Vec<RoleRow>,
    role_defs: Vec<(String, String)>,
    users: Vec<(String, String)>,
    milestones: Vec<MilestoneRow>,
    tasks: Vec<TaskRow>,
    related: Vec<Incident>,
    /// Escalation policies, to page a team: (id, name).
    teams: Vec<(String, String)>,
    /// Followers: (id, name).
    followers: Vec<(String, String)>,
    i_follow: bool,
    templates: Vec<(String, String)>,
    /// The update form's text (a template's, when one was picked).
    update_text: String,
    /// Other recent incidents, to relate or merge into: (id, "#n title").
    others: Vec<(String, String)>,
    /// Open ones only, for merging into.
    open_others: Vec<(String, String)>,
    merged_into: Option<(String, i64)>,
    commander_needed: bool,
    can_respond: bool,
    can_acknowledge: bool,
    can_mitigate: bool,
    can_resolve: bool,
    can_close: bool,
    can_reopen: bool,
    is_admin: bool,
    /// "Escalate now": an open incident on a service with an escalation policy.
    can_escalate: bool,
    /// People it can be reassigned to (responders, when it is open): (id, name).
    reassign_to: Vec<(String, String)>,
    csrf: String,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
struct PageQuery {
    filter: Option<String>,
    /// Fills the update form with this template.
    template: Option<String>,
}

async fn incident_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let Ok(id) = id.parse::<IncidentId>() else {
        return Ok(not_found_page());
    };
    let update_text = match (q.template.as_deref(), state.store.incident(id).await) {
        (Some(t), Ok(i)) => super::updates::template_text(&state, t, &i).unwrap_or_default(),
        _ => String::new(),
    };
    render_with(
        &state,
        &s,
        id,
        StatusCode::OK,
        None,
        q.filter.as_deref(),
        update_text,
    )
    .await
}

fn local_input(t: Option<Timestamp>) -> String {
    t.map(|t| {
        t.to_zoned(TimeZone::UTC)
            .strftime("%Y-%m-%dT%H:%M:%S")
            .to_string()
    })
    .unwrap_or_default()
}

pub(crate) async fn render_incident(
    state: &AppState,
    s: &WebSession,
    id: IncidentId,
    status: StatusCode,
    error: Option<String>,
    filter: Option<&str>,
) -> PageResult {
    render_with(state, s, id, status, error, filter, String::new()).await
}

async fn render_with(
    state: &AppState,
    s: &WebSession,
    id: IncidentId,
    status: StatusCode,
    error: Option<String>,
    filter: Option<&str>,
    update_text: String,
) -> PageResult {
    let incident = match state.store.incident(id).await {
        Ok(i) => i,
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    let service = match incident.service_id {
        Some(sid) => state.store.service(sid).await.ok(),
        None => None,
    };
    let alert_filter = AlertFilter {
        incident_id: Some(id),
        ..Default::default()
    };
    let alerts = state
        .store
        .list_alerts(&alert_filter, None, Limit::MAX)
        .await?
        .items;
    let notifications = state
        .store
        .list_notifications(Some(id), None, None, Limit::MAX)
        .await?;
    let notifications = crate::oncall::web::notification_rows(state, notifications).await?;
    let events = super::timeline::all_events(state, id).await?;
    let roles = state.store.incident_roles(id, false).await?;
    let tasks = state.store.incident_tasks(id).await?;
    let related = state.store.related_incidents(id).await?;
    let follower_ids = state.store.incident_subscribers(id).await?;
    let recent = state
        .store
        .list_incidents(&IncidentFilter::default(), None, Limit::DEFAULT.get())
        .await?
        .items;
    let label = |i: &Incident| (i.id.to_string(), format!("#{} {}", i.number, i.title));
    let others: Vec<(String, String)> = recent
        .iter()
        .filter(|i| i.id != id && !related.iter().any(|r| r.id == i.id))
        .map(label)
        .collect();
    let open_others: Vec<(String, String)> = recent
        .iter()
        .filter(|i| i.id != id && i.status.is_open())
        .map(label)
        .collect();
    let merged_into = match incident.merged_into {
        Some(t) => state
            .store
            .incident(t)
            .await
            .ok()
            .map(|t| (t.id.to_string(), t.number)),
        None => None,
    };
    let mut people: Vec<_> = roles.iter().map(|r| r.user_id).collect();
    people.extend(incident.reporter_id);
    people.extend(tasks.iter().filter_map(|t| t.assignee_id));
    people.extend(follower_ids.iter().copied());
    let names = super::timeline::names(state, &events, &people).await;
    let now = state.clock.now();
    let filter = FILTERS
        .iter()
        .find(|(key, _, _)| Some(*key) == filter)
        .copied()
        .unwrap_or(FILTERS[0]);
    let keep = TimelineFilter::parse(Some(filter.2), false)?;
    let last_seq = events.last().map_or(0, |e| e.seq);
    let pinned = events
        .iter()
        .filter(|e| e.pinned)
        .map(|e| entry(e, &names, state))
        .collect();
    let timeline = events
        .iter()
        .filter(|e| keep.keeps(e))
        .map(|e| entry(e, &names, state))
        .collect();
    let can_respond = s.user.role.allows(Role::Responder);
    let st = incident.status;
    let users: Vec<(String, String)> = if can_respond {
        crate::shared::lists::all_users(state)
            .await?
            .into_iter()
            .map(|u| (u.id.to_string(), u.name))
            .collect()
    } else {
        Vec::new()
    };
    let m = incident.milestones();
    let can = |to: IncidentStatus| can_respond && st.check_move(to).is_ok();
    let page = IncidentPage {
        nav: Some(Nav::new(s, "/incidents")),
        incident_id: id.to_string(),
        reassign_to: if can_respond
            && matches!(st, IncidentStatus::Triggered | IncidentStatus::Acknowledged)
        {
            users.clone()
        } else {
            Vec::new()
        },
        can_acknowledge: can_respond && st == IncidentStatus::Triggered,
        can_mitigate: can(IncidentStatus::Mitigated),
        can_resolve: can(IncidentStatus::Resolved),
        can_close: (can_respond || incident.reporter_id == Some(s.user.id))
            && st.check_move(IncidentStatus::Closed).is_ok(),
        can_reopen: can_respond && st == IncidentStatus::Resolved,
        is_admin: s.user.role == Role::Admin,
        can_escalate: can_respond
            && matches!(st, IncidentStatus::Triggered | IncidentStatus::Acknowledged)
            && service
                .as_ref()
                .is_some_and(|s| s.escalation_policy_id.is_some()),
        commander_needed: incident.severity.is_some_and(Severity::is_major)
            && incident.status.is_open()
            && !roles.iter().any(|r| r.role == COMMANDER),
        severities: severity_choices(state, incident.severity),
        severity_definition: incident
            .severity
            .map(|s| state.incident_rules.severities.get(s).to_owned())
            .unwrap_or_default(),
        impacts: Impact::ALL
            .iter()
            .map(|i| (i.as_str(), Some(*i) == incident.impact))
            .collect(),
        urgencies: Urgency::ALL
            .iter()
            .map(|u| (u.as_str(), *u == incident.urgency))
            .collect(),
        reporter_id: incident
            .reporter_id
            .map(|u| u.to_string())
            .unwrap_or_default(),
        reporter_name: incident.reporter_id.map(|u| {
            names
                .get(&u.to_string())
                .cloned()
                .unwrap_or_else(|| u.to_string())
        }),
        roles: roles
            .iter()
            .map(|r| RoleRow {
                key: r.role.clone(),
                name: state
                    .incident_rules
                    .roles
                    .get(&r.role)
                    .map_or_else(|| r.role.clone(), |d| d.name.clone()),
                user_id: r.user_id.to_string(),
                user_name: names
                    .get(&r.user_id.to_string())
                    .cloned()
                    .unwrap_or_else(|| r.user_id.to_string()),
                since: r.assigned_at,
            })
            .collect(),
        role_defs: state
            .incident_rules
            .roles
            .all()
            .iter()
            .map(|d| (d.key.clone(), d.name.clone()))
            .collect(),
        users,
        milestones: MILESTONES
            .iter()
            .map(|n| MilestoneRow {
                name: n,
                label: milestone_label(n),
                value: local_input(m.get(n)),
            })
            .collect(),
        tasks: tasks
            .iter()
            .map(|t| TaskRow {
                id: t.id.to_string(),
                title: t.title.clone(),
                assignee: t.assignee_id.map(|u| {
                    names
                        .get(&u.to_string())
                        .cloned()
                        .unwrap_or_else(|| u.to_string())
                }),
                due: t
                    .due_at
                    .map(|d| d.strftime("%Y-%m-%d %H:%M UTC").to_string()),
                overdue: t.done_at.is_none() && t.due_at.is_some_and(|d| d < now),
                done: t.done_at.is_some(),
            })
            .collect(),
        teams: escalation_policies(state).await?,
        i_follow: follower_ids.contains(&s.user.id),
        followers: follower_ids
            .iter()
            .map(|u| {
                (
                    u.to_string(),
                    names
                        .get(&u.to_string())
                        .cloned()
                        .unwrap_or_else(|| u.to_string()),
                )
            })
            .collect(),
        templates: state
            .incident_rules
            .update_templates
            .iter()
            .map(|t| (t.key.clone(), t.name.clone()))
            .collect(),
        update_text,
        related,
        others,
        open_others,
        merged_into,
        filter: filter.0.to_owned(),
        filters: FILTERS.iter().map(|(k, label, _)| (*k, *label)).collect(),
        last_seq,
        timeline,
        pinned,
        can_respond,
        incident,
        service,
        alerts,
        notifications,
        csrf: s.session.csrf_token.clone(),
        error,
    };
    Ok(html(status, &page))
}
