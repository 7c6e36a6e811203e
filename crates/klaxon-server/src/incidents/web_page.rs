//! The incident page, laid out for the responder: what it is and what to do next at the top,
//! the live timeline (newest first, the note box above it) in the middle, and roles, tasks,
//! alerts, followers, links and the rest beside it on a wide screen, below it on a narrow one.
use super::web::{SeverityChoice, escalation_policies, severity_choices};
use crate::incidents::describe::{Words, actor_name, describe, milestone_label};
use crate::incidents::timeline::TimelineFilter;
use crate::shared::state::AppState;
use crate::shared::time::Reader;
use crate::shared::web::{FormErrors, Nav, WebSession, html};
use crate::shared::web::{PageResult, Refused, not_found_page};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use jiff::Timestamp;
use klaxon_domain::alert::Urgency;
use klaxon_domain::auth::Role;
use klaxon_domain::event::EventKind;
use klaxon_domain::ids::IncidentId;
use klaxon_domain::incident::{COMMANDER, Impact, IncidentStatus, MILESTONES, Severity};
use klaxon_domain::page::Limit;
use klaxon_store::{AlertFilter, Event, Incident, IncidentFilter, Notification, Service};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/incidents/{id}", get(incident_page))
}

/// One timeline entry as people read it.
pub struct Entry {
    pub(super) seq: i64,
    /// `<time>` in the reader's zone.
    pub(super) time: String,
    pub(super) who: String,
    pub(super) kind: &'static str,
    pub(super) text: String,
    pub(super) pinned: bool,
    pub(super) note: bool,
}

pub(super) fn entry(e: &Event, words: &Words<'_>, reader: &Reader) -> Entry {
    Entry {
        seq: e.seq,
        time: reader.when(e.at).html(),
        who: actor_name(&e.actor, words.names),
        kind: e.kind.as_str(),
        text: describe(e, words),
        pinned: e.pinned,
        note: e.kind == EventKind::IncidentNoteAdded,
    }
}

/// A lifecycle move the page offers as a button.
struct Move {
    id: &'static str,
    label: &'static str,
    /// The form's action, under the incident's path.
    action: &'static str,
    /// The `status` field, for `/status`.
    status: &'static str,
    hint: &'static str,
}

const ACKNOWLEDGE: Move = Move {
    id: "acknowledge",
    label: "Acknowledge",
    action: "acknowledge",
    status: "",
    hint: "I am on it: stops the paging",
};
const MITIGATE: Move = Move {
    id: "mitigate",
    label: "Mitigated",
    action: "status",
    status: "mitigated",
    hint: "the impact has stopped",
};
const RESOLVE: Move = Move {
    id: "resolve",
    label: "Resolve",
    action: "resolve",
    status: "",
    hint: "fixed: resolves its alerts too",
};
const CLOSE: Move = Move {
    id: "close",
    label: "Confirm and close",
    action: "status",
    status: "closed",
    hint: "reviewed: nothing more to do",
};
const REOPEN: Move = Move {
    id: "reopen",
    label: "Reopen",
    action: "status",
    status: "acknowledged",
    hint: "it is back",
};
const UNMITIGATE: Move = Move {
    id: "unmitigate",
    label: "Impact is back",
    action: "status",
    status: "acknowledged",
    hint: "back to acknowledged",
};

struct RoleRow {
    key: String,
    name: String,
    user_id: String,
    user_name: String,
    since: String,
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
    /// For a `datetime-local` input with seconds, in the reader's zone.
    value: String,
    /// `<time>` for showing, when set.
    shown: Option<String>,
    input_id: String,
}

struct AlertRow {
    id: String,
    summary: String,
    /// Where it comes from: the tool's source, or the service.
    source: String,
    severity: String,
    status: String,
    count: u32,
    last_seen: String,
}

/// A message Klaxon sent about this incident: a page, or a stakeholder update.
struct SentRow {
    at: String,
    user: String,
    what: &'static str,
    channel: String,
    status: String,
    attempts: u32,
    last_error: String,
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
    /// "open 12 min", "resolved after 2 h 5 min".
    age: String,
    /// When it was declared or opened, as `<time>`.
    opened: String,
    /// Who holds the commander role, by name.
    commanders: Vec<String>,
    service: Option<Service>,
    alerts: Vec<AlertRow>,
    sent: Vec<SentRow>,
    /// Newest first.
    timeline: Vec<Entry>,
    /// How many older entries the page leaves out (a link shows them).
    older: usize,
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
    action_items: crate::learning::web::Panel,
    related: Vec<Incident>,
    /// Escalation policies, to page a team: (id, name).
    teams: Vec<(String, String)>,
    /// Followers: (id, name).
    followers: Vec<(String, String)>,
    i_follow: bool,
    templates: Vec<(String, String)>,
    /// The update form's text (a template's, when one was picked).
    update_text: String,
    /// Other recent incidents, to relate: (id, "#n title").
    others: Vec<(String, String)>,
    /// Open ones only, for merging into.
    open_others: Vec<(String, String)>,
    merged_into: Option<(String, i64)>,
    commander_needed: bool,
    can_respond: bool,
    /// The next lifecycle move: the one primary button.
    primary: Option<Move>,
    /// The other moves this person may make now.
    secondary: Vec<Move>,
    /// "Escalate now": an open incident on a service with an escalation policy.
    can_escalate: bool,
    /// People it can be reassigned to, while it is open: (id, name).
    reassign_to: Vec<(String, String)>,
    /// An admin who is not the one to confirm may close it anyway, with a reason.
    can_close_unreviewed: bool,
    /// Who is to confirm the closing, when it waits on someone else.
    awaiting_confirmation: Option<String>,
    csrf: String,
    refused: Refused,
    /// The reader's zone, for time inputs' labels.
    zone: String,
    /// What customers were told, and the form to tell them.
    status_panel: super::web_status::StatusPanel,
    postmortem: super::web_postmortem::PostmortemPanel,
    /// The error budget it burned of its service's SLOs.
    budgets: Vec<crate::slos::burns::BurnOut>,
    /// The runbooks of its service and those its alerts match.
    runbooks: Vec<crate::automation::runbooks::Suggestion>,
    /// Every other runbook (id, title), to run one that was not suggested.
    other_runbooks: Vec<(String, String)>,
    /// Runs of runbooks on it that are not over, newest first, shown with their moves.
    live_runs: Vec<crate::automation::runs_web::RunView>,
    /// Finished runs of runbooks on it, newest first, as links.
    runs: Vec<klaxon_store::RunRecord>,
    /// Runs of workflows on it, newest first.
    workflow_runs: Vec<crate::automation::workflow_runs::RunView>,
    resolved: bool,
    /// A drill's incident: the drill's page, when its drill is kept.
    drill_href: Option<String>,
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

    /// Every message of `form`'s refusal, for a form that shows them together.
    fn all_errors(&self, form: &str) -> Vec<&str> {
        self.errs(form).others(&[])
    }

    /// The milestone form's messages that belong to none of its fields.
    fn milestone_others(&self) -> Vec<&str> {
        self.errs("milestones").others(&MILESTONES)
    }

    fn is_refused(&self, form: &str) -> bool {
        self.refused.is(form)
    }
}

/// How many timeline entries the page shows before "show older": the newest are what a
/// responder reads, and a long incident stays quick to load (the export has them all).
const SHOWN: usize = 100;

#[derive(Deserialize, Default)]
struct PageQuery {
    filter: Option<String>,
    /// Any value: every entry, not only the newest [`SHOWN`].
    all: Option<String>,
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
    let view = View {
        filter: q.filter.as_deref(),
        all: q.all.is_some(),
    };
    render_with(
        &state,
        &s,
        id,
        StatusCode::OK,
        Refused::default(),
        view,
        update_text,
    )
    .await
}

pub(crate) async fn render_incident(
    state: &AppState,
    s: &WebSession,
    id: IncidentId,
    status: StatusCode,
    refused: Refused,
) -> PageResult {
    render_with(
        state,
        s,
        id,
        status,
        refused,
        View::default(),
        String::new(),
    )
    .await
}

/// Which part of the timeline the page shows.
#[derive(Default, Clone, Copy)]
struct View<'a> {
    filter: Option<&'a str>,
    all: bool,
}

/// "12 min", "2 h 5 min", "3 days 4 h": how long, roughly.
fn span(from: Timestamp, to: Timestamp) -> String {
    let secs = to.duration_since(from).as_secs().max(0);
    let (d, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match (d, h, m) {
        (0, 0, 0) => "under a minute".to_owned(),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, h, _) => format!("1 day {h} h"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}

fn age(i: &Incident, now: Timestamp) -> String {
    match (i.status, i.closed_at.or(i.resolved_at)) {
        (IncidentStatus::Resolved, Some(end)) => {
            format!("resolved after {}", span(i.created_at, end))
        }
        (IncidentStatus::Closed, Some(end)) => format!("closed after {}", span(i.created_at, end)),
        _ => format!("open {}", span(i.created_at, now)),
    }
}

/// Every notification about the incident, oldest first.
async fn all_notifications(
    state: &AppState,
    id: IncidentId,
) -> Result<Vec<Notification>, crate::shared::error::ApiError> {
    let mut out = Vec::new();
    loop {
        let page = state
            .store
            .list_notifications(
                Some(id),
                None,
                out.last().map(|n: &Notification| n.id),
                Limit::MAX,
            )
            .await?;
        let n = page.len();
        out.extend(page);
        if n < Limit::MAX as usize {
            return Ok(out);
        }
    }
}

/// A time as a `datetime-local` value with seconds, in the reader's zone: milestones keep
/// seconds, so an untouched field reads back as no change.
fn input_seconds(reader: &Reader, t: Timestamp) -> String {
    t.to_zoned(reader.tz.clone())
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// The moves the page offers for `st`: the next one, and the others this person may make.
fn moves(st: IncidentStatus, can_respond: bool, confirms: bool) -> (Option<Move>, Vec<Move>) {
    use IncidentStatus::*;
    if !can_respond {
        return match (st, confirms) {
            (Resolved, true) => (Some(CLOSE), Vec::new()),
            _ => (None, Vec::new()),
        };
    }
    match st {
        Triggered => (Some(ACKNOWLEDGE), vec![MITIGATE, RESOLVE]),
        Acknowledged => (Some(MITIGATE), vec![RESOLVE]),
        Mitigated => (Some(RESOLVE), vec![UNMITIGATE]),
        Resolved if confirms => (Some(CLOSE), vec![REOPEN]),
        Resolved => (None, vec![REOPEN]),
        Closed => (None, Vec::new()),
    }
}

async fn render_with(
    state: &AppState,
    s: &WebSession,
    id: IncidentId,
    status: StatusCode,
    refused: Refused,
    view: View<'_>,
    update_text: String,
) -> PageResult {
    let incident = match state.store.incident(id).await {
        Ok(i) => i,
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    let reader = s.reader();
    let services: BTreeMap<String, String> = crate::shared::lists::all_services(state)
        .await?
        .into_iter()
        .map(|s| (s.id.to_string(), s.name))
        .collect();
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
    let notifications = all_notifications(state, id).await?;
    let updates: BTreeSet<String> = notifications
        .iter()
        .filter(|n| n.dedup_key.starts_with(klaxon_store::UPDATE_KEY_PREFIX))
        .map(|n| n.id.to_string())
        .collect();
    let kinds: Vec<&'static str> = notifications
        .iter()
        .map(|n| {
            if updates.contains(&n.id.to_string()) {
                "update"
            } else {
                "page"
            }
        })
        .collect();
    let rows = crate::oncall::web::notification_rows(state, notifications).await?;
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
    let name = |u: &klaxon_domain::ids::UserId| {
        names
            .get(&u.to_string())
            .cloned()
            .unwrap_or_else(|| u.to_string())
    };
    let words = Words {
        names: &names,
        rules: &state.incident_rules,
        reader: Some(&reader),
        updates: &updates,
    };
    let now = state.clock.now();
    let filter = FILTERS
        .iter()
        .find(|(key, _, _)| Some(*key) == view.filter)
        .copied()
        .unwrap_or(FILTERS[0]);
    let keep = TimelineFilter::parse(Some(filter.2), false)?;
    let last_seq = events.last().map_or(0, |e| e.seq);
    let pinned = events
        .iter()
        .filter(|e| e.pinned)
        .map(|e| entry(e, &words, &reader))
        .collect();
    let kept = events.iter().filter(|e| keep.keeps(e)).count();
    let shown = if view.all { kept } else { kept.min(SHOWN) };
    let timeline = events
        .iter()
        .rev()
        .filter(|e| keep.keeps(e))
        .take(shown)
        .map(|e| entry(e, &words, &reader))
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
    // Closing is the reporter's confirmation, or the commander's when nobody reported it.
    let confirmer = incident.reporter_id.or_else(|| {
        roles
            .iter()
            .find(|r| r.role == COMMANDER)
            .map(|r| r.user_id)
    });
    let confirms = confirmer == Some(s.user.id);
    let (primary, secondary) = moves(st, can_respond, confirms);
    let is_admin = s.user.role == Role::Admin;
    let m = incident.milestones();
    let open_paging = matches!(st, IncidentStatus::Triggered | IncidentStatus::Acknowledged);
    let status_panel = super::web_status::panel(state, &incident).await?;
    let (runbooks, unsuggested) =
        crate::automation::runbooks::for_incident(state, incident.id).await?;
    let (live_runs, finished_runs) =
        crate::automation::runs_web::for_incident(state, s, incident.id).await?;
    let drill_href = if incident.is_drill {
        state
            .store
            .drill_of_incident(id)
            .await?
            .map(|d| format!("/drills/{}", d.id))
    } else {
        None
    };
    let page = IncidentPage {
        drill_href,
        postmortem: super::web_postmortem::panel(state, s, &incident).await?,
        budgets: crate::slos::burns::for_incident(state, &incident).await?,
        runbooks,
        other_runbooks: unsuggested
            .into_iter()
            .map(|r| (r.id.to_string(), r.title))
            .collect(),
        live_runs,
        runs: finished_runs,
        workflow_runs: crate::automation::workflow_runs::for_incident(state, &reader, incident.id)
            .await?,
        resolved: incident.resolved_at.is_some(),
        nav: Some(Nav::new(s, "/incidents")),
        incident_id: id.to_string(),
        age: age(&incident, now),
        opened: reader.when(incident.created_at).html(),
        commanders: roles
            .iter()
            .filter(|r| r.role == COMMANDER)
            .map(|r| name(&r.user_id))
            .collect(),
        reassign_to: if can_respond && open_paging {
            users.clone()
        } else {
            Vec::new()
        },
        primary,
        secondary,
        can_close_unreviewed: is_admin && !confirms && st == IncidentStatus::Resolved,
        awaiting_confirmation: (st == IncidentStatus::Resolved && !confirms)
            .then(|| confirmer.as_ref().map(name))
            .flatten(),
        can_escalate: can_respond
            && open_paging
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
        reporter_name: incident.reporter_id.as_ref().map(name),
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
                user_name: name(&r.user_id),
                since: reader.when(r.assigned_at).html(),
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
                value: m
                    .get(n)
                    .map(|t| input_seconds(&reader, t))
                    .unwrap_or_default(),
                shown: m.get(n).map(|t| reader.when(t).html()),
                input_id: format!("milestone-{n}"),
            })
            .collect(),
        action_items: crate::learning::web::incident_panel(state, s, id).await?,
        tasks: tasks
            .iter()
            .map(|t| TaskRow {
                id: t.id.to_string(),
                title: t.title.clone(),
                assignee: t.assignee_id.as_ref().map(name),
                due: t.due_at.map(|d| reader.when(d).html_ago()),
                overdue: t.done_at.is_none() && t.due_at.is_some_and(|d| d < now),
                done: t.done_at.is_some(),
            })
            .collect(),
        teams: escalation_policies(state).await?,
        i_follow: follower_ids.contains(&s.user.id),
        followers: follower_ids
            .iter()
            .map(|u| (u.to_string(), name(u)))
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
        older: kept - shown,
        timeline,
        pinned,
        can_respond,
        alerts: alerts
            .into_iter()
            .map(|a| AlertRow {
                id: a.id.to_string(),
                source: a
                    .content
                    .source
                    .clone()
                    .or_else(|| services.get(&a.service_id.to_string()).cloned())
                    .unwrap_or_default(),
                summary: a.content.summary,
                severity: a.content.severity.to_string(),
                status: a.status.to_string(),
                count: a.count,
                last_seen: reader.when(a.last_seen_at).html_ago(),
            })
            .collect(),
        sent: rows
            .into_iter()
            .zip(kinds)
            .rev()
            .map(|(n, what)| SentRow {
                at: reader.when(n.at).html(),
                user: n.user,
                what,
                channel: n.channel,
                status: n.status,
                attempts: n.attempts,
                last_error: n.last_error,
            })
            .collect(),
        incident,
        service,
        csrf: s.session.csrf_token.clone(),
        refused,
        zone: reader.zone.clone(),
        status_panel,
    };
    Ok(html(status, &page))
}
