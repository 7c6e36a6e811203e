//! Web pages for incidents: the list, declaring one, and the incident page where people run
//! it (status, fields, milestones, roles, notes, pins) with a timeline that updates live over
//! Server-Sent Events. Forms call the same functions as the REST API.
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use futures_util::stream::{self, Stream};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use klaxon_domain::alert::Urgency;
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, EventKind};
use klaxon_domain::ids::IncidentId;
use klaxon_domain::incident::{COMMANDER, Impact, IncidentStatus, MILESTONES, Severity};
use klaxon_domain::page::Limit;
use klaxon_store::{Alert, AlertFilter, Event, Incident, IncidentFilter, Service};
use serde::Deserialize;

use crate::incidents::api::{Declare, Update, Who};
use crate::incidents::describe::{actor_name, describe, milestone_label};
use crate::incidents::timeline::TimelineFilter;
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::web::{CsrfForm, PageResult, forbidden, not_found_page};
use crate::shared::web::{Nav, WebSession, html, next_cursor, page_cursor};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/incidents", get(incidents_page).post(declare))
        .route("/incidents/new", get(declare_page))
        .route("/incidents/{id}", get(incident_page))
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
        .route("/incidents/{id}/timeline/{seq}/pin", post(pin))
        .route("/incidents/{id}/timeline.md", get(export))
        .route("/incidents/{id}/live", get(live))
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
struct SeverityChoice {
    name: String,
    definition: String,
    selected: bool,
}

fn severity_choices(state: &AppState, current: Option<Severity>) -> Vec<SeverityChoice> {
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
    error: Option<String>,
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
    error: Option<String>,
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
            error,
        },
    ))
}

async fn declare_page(State(state): State<AppState>, s: WebSession) -> PageResult {
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("declare incidents"));
    }
    render_declare(&state, &s, DeclareForm::default(), StatusCode::OK, None).await
}

fn blank(s: &str) -> Option<String> {
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
        Err(e @ (ApiError::BadRequest { .. } | ApiError::Conflict { .. })) => {
            render_declare(&state, &s, f, StatusCode::BAD_REQUEST, Some(e.to_string())).await
        }
        Err(e) => Err(e),
    }
}

// --- the incident page --------------------------------------------------------------------------

/// One timeline entry as people read it.
pub struct Entry {
    seq: i64,
    at: Timestamp,
    who: String,
    kind: String,
    text: String,
    pinned: bool,
    note: bool,
}

fn entry(e: &Event, names: &BTreeMap<String, String>, state: &AppState) -> Entry {
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
const FILTERS: &[(&str, &str, &str)] = &[
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
    pinned: Vec<Entry>,
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

/// After a form: back to the incident, or the page again with the refusal and its status.
async fn after<T>(
    state: &AppState,
    s: &WebSession,
    id: IncidentId,
    result: Result<T, ApiError>,
) -> PageResult {
    let status = match &result {
        Ok(_) => return Ok(Redirect::to(&format!("/incidents/{id}")).into_response()),
        Err(ApiError::NotFound(_)) => return Ok(not_found_page()),
        Err(ApiError::BadRequest { .. }) => StatusCode::BAD_REQUEST,
        Err(ApiError::Conflict { .. }) => StatusCode::CONFLICT,
        Err(ApiError::Forbidden(_)) => StatusCode::FORBIDDEN,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    match result {
        Err(e) if status != StatusCode::INTERNAL_SERVER_ERROR => {
            render_incident(state, s, id, status, Some(e.to_string()), None).await
        }
        Err(e) => Err(e),
        Ok(_) => unreachable!("handled above"),
    }
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
    let id = match form_start(&s, &raw, &f.csrf, "acknowledge incidents") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let r = super::api::move_with(
        &state,
        Who::user(&s.user),
        id,
        IncidentStatus::Acknowledged,
        None,
    )
    .await;
    after(&state, &s, id, r).await
}

async fn resolve_incident(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    let id = match form_start(&s, &raw, &f.csrf, "resolve incidents") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let r = super::api::move_with(
        &state,
        Who::user(&s.user),
        id,
        IncidentStatus::Resolved,
        None,
    )
    .await;
    after(&state, &s, id, r).await
}

#[derive(Deserialize)]
struct StatusForm {
    csrf: String,
    status: String,
    #[serde(default)]
    reason: String,
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
    let r = match f.status.parse::<IncidentStatus>() {
        Ok(to) => super::api::move_with(&state, Who::user(&s.user), id, to, blank(&f.reason)).await,
        Err(e) => Err(e.into()),
    };
    after(&state, &s, id, r).await
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
    after(&state, &s, id, r).await
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
    after(&state, &s, id, r).await
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
        title: Some(f.title),
        description: Some(f.description),
        severity: blank(&f.severity),
        impact: blank(&f.impact),
        urgency: blank(&f.urgency),
        category: Some(blank(&f.category)),
        subcategory: Some(blank(&f.subcategory)),
        reporter_id: Some(blank(&f.reporter_id)),
        conference_url: Some(blank(&f.conference_url)),
        chat_url: Some(blank(&f.chat_url)),
    };
    let r = super::api::update_with(&state, Who::user(&s.user), id, u).await;
    after(&state, &s, id, r).await
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
    let mut edits = Vec::new();
    for name in MILESTONES {
        let Some(v) = f.get(name) else { continue };
        let v = v.trim();
        if v.is_empty() {
            edits.push((name, None));
            continue;
        }
        // datetime-local sends minutes, or seconds with step=1; both are UTC here.
        match utc_input(name, v) {
            Ok(t) => edits.push((name, t)),
            Err(e) => return after(&state, &s, id, Err::<(), _>(e)).await,
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
    after(&state, &s, id, r).await
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
    after(state, s, id, r).await
}

#[derive(Deserialize)]
struct NoteForm {
    csrf: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    pinned: Option<String>,
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
    after(&state, &s, id, r).await
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
        message: f.message,
        ..Default::default()
    };
    match f.target.split_once(':') {
        Some(("user", u)) => p.user_id = Some(u.to_owned()),
        Some(("role", r)) => p.role = Some(r.to_owned()),
        Some(("team", t)) => p.escalation_policy_id = Some(t.to_owned()),
        _ => {}
    }
    let r = super::responders::page_with(&state, Who::user(&s.user), id, p).await;
    after(&state, &s, id, r).await
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
    after(&state, &s, id, r).await
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
        message: Some(f.message),
        template: None,
    };
    let r = super::updates::post_update_with(&state, Who::user(&s.user), id, u).await;
    after(&state, &s, id, r).await
}

#[derive(Deserialize)]
struct RelateForm {
    csrf: String,
    #[serde(default)]
    incident_id: String,
    #[serde(default)]
    into: String,
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
    after(&state, &s, id, r).await
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
    after(&state, &s, id, r).await
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
    match super::relations::merge_with(&state, Who::user(&s.user), id, &f.into).await {
        Ok(target) => Ok(Redirect::to(&format!("/incidents/{}", target.id)).into_response()),
        Err(e) => after(&state, &s, id, Err::<(), _>(e)).await,
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

/// A `datetime-local` value (UTC here), or a refusal naming `field`.
fn utc_input(field: &str, v: &str) -> Result<Option<Timestamp>, ApiError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M:%S", v)
        .or_else(|_| jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M", v))
        .ok()
        .and_then(|d| d.to_zoned(TimeZone::UTC).ok())
        .map(|z| Some(z.timestamp()))
        .ok_or_else(|| ApiError::invalid(field, "is not a date and time (YYYY-MM-DDTHH:MM, UTC)"))
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
    let r = match utc_input("due_at", &f.due_at) {
        Ok(due_at) => {
            let t = super::tasks::NewTask {
                title: f.title,
                assignee_id: blank(&f.assignee_id),
                due_at,
            };
            super::tasks::add_task_with(&state, Who::user(&s.user), id, t).await
        }
        Err(e) => Err(e),
    };
    after(&state, &s, id, r).await
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
    after(&state, &s, id, r).await
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
    after(&state, &s, id, r).await
}

#[derive(Deserialize)]
struct PinForm {
    csrf: String,
    #[serde(default)]
    pinned: String,
}

async fn pin(
    State(state): State<AppState>,
    s: WebSession,
    Path((raw, seq)): Path<(String, i64)>,
    Form(f): Form<PinForm>,
) -> PageResult {
    let id = match form_start(&s, &raw, &f.csrf, "pin entries") {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let r =
        super::timeline::pin_with(&state, Who::user(&s.user), id, seq, f.pinned == "true").await;
    after(&state, &s, id, r).await
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
        Ok(md) => Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "text/markdown; charset=utf-8".to_owned(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"incident-{id}.md\""),
                ),
            ],
            md,
        )
            .into_response()),
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => Err(e),
    }
}

// --- live updates -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "timeline_entry.html")]
struct EntryFragment<'a> {
    e: &'a Entry,
    incident_id: &'a str,
    csrf: &'a str,
    can_respond: bool,
}

#[derive(Deserialize)]
struct LiveQuery {
    after: Option<i64>,
}

/// How often a live timeline looks for changes made elsewhere (the engine, other instances);
/// changes made by this instance wake it at once.
const LIVE_POLL: Duration = Duration::from_secs(2);
/// How long one live stream lasts before the browser has to reconnect (and sign in again).
const LIVE_MAX: Duration = Duration::from_secs(300);

/// New timeline entries as they are written: each an `entry` event carrying the entry's HTML
/// and its kind, so the page can append it and refresh what the change touched.
async fn live(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Query(q): Query<LiveQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let Ok(id) = raw.parse::<IncidentId>() else {
        return Ok(not_found_page());
    };
    if let Err(e) = state.store.incident(id).await {
        return if e.is_not_found() {
            Ok(not_found_page())
        } else {
            Err(e.into())
        };
    }
    let csrf = s.session.csrf_token.clone();
    let can_respond = s.user.role.allows(Role::Responder);
    // A browser reconnecting says where it was (the last entry's id).
    let resumed = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let after = resumed.max(q.after).unwrap_or(0);
    let stream = live_stream(state, id, after, csrf, can_respond);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

fn live_stream(
    state: AppState,
    id: IncidentId,
    after: i64,
    csrf: String,
    can_respond: bool,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let subject = id.to_string();
    // The stream ends after a while and the browser reconnects, signing in again with its
    // cookie: a session that ended (logout, expiry, a changed role) stops being served.
    let deadline = tokio::time::Instant::now() + LIVE_MAX;
    stream::unfold(
        (state, after, Vec::<SseEvent>::new()),
        move |(state, mut after, mut queue)| {
            let subject = subject.clone();
            let csrf = csrf.clone();
            async move {
                loop {
                    if let Some(next) = queue.pop() {
                        return Some((Ok(next), (state, after, queue)));
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return None;
                    }
                    let changes = state.incident_changes.clone();
                    let notified = changes.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    let events = match state
                        .store
                        .events(
                            klaxon_domain::event::SubjectType::Incident,
                            &subject,
                            Some(after),
                            200,
                        )
                        .await
                    {
                        Ok(events) => events,
                        Err(e) => {
                            tracing::warn!(error = %e, "live timeline read failed");
                            Vec::new()
                        }
                    };
                    if events.is_empty() {
                        let _ = tokio::time::timeout(LIVE_POLL, notified).await;
                        continue;
                    }
                    after = events.last().map_or(after, |e| e.seq);
                    let names = super::timeline::names(&state, &events, &[]).await;
                    // Popped from the back: push newest first.
                    for e in events.iter().rev() {
                        let en = entry(e, &names, &state);
                        let fragment = EntryFragment {
                            e: &en,
                            incident_id: &subject,
                            csrf: &csrf,
                            can_respond,
                        };
                        let html = fragment.render().unwrap_or_default();
                        let data = serde_json::json!({"seq": e.seq, "kind": en.kind, "html": html});
                        queue.push(
                            SseEvent::default()
                                .event("entry")
                                .id(e.seq.to_string())
                                .data(data.to_string()),
                        );
                    }
                }
            }
        },
    )
}

/// Escalation policies (a team is paged, and its incidents found, through one): (id, name).
async fn escalation_policies(state: &AppState) -> Result<Vec<(String, String)>, ApiError> {
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
