//! An incident's timeline: notes, pins, the events read back and filtered, the Markdown export.
use crate::shared::api::{ApiJson, ApiQuery, Caller, EventOut, ListOf};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, EventKind, KindFilter, SubjectType};
use klaxon_domain::ids::{IncidentId, UserId};
use klaxon_domain::incident::{self as rules, MILESTONES};
use klaxon_store::Event;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{Who, ev};
use crate::shared::api::{decode_cursor, page_of};
use klaxon_domain::page::Limit;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(add_note))
        .routes(routes!(pin_event, unpin_event))
        .routes(routes!(export_timeline))
        .routes(routes!(incident_timeline))
}

// --- the timeline -------------------------------------------------------------------------------

/// Every event of an incident, oldest first (incidents have hundreds, not millions).
pub async fn all_events(state: &AppState, id: IncidentId) -> ApiResult<Vec<Event>> {
    let subject = id.to_string();
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .events(SubjectType::Incident, &subject, after, 1000)
            .await?;
        let n = page.len();
        after = page.last().map(|e| e.seq).or(after);
        out.extend(page);
        if n < 1000 || out.len() >= 100_000 {
            return Ok(out);
        }
    }
}

/// Which timeline entries to show: by kind (exact names or a prefix ending in `.`, e.g.
/// `notification.`) and pinned only.
#[derive(Debug, Clone, Default)]
pub struct TimelineFilter {
    pub kinds: KindFilter,
    pub pinned: bool,
}

impl TimelineFilter {
    pub fn parse(kinds: Option<&str>, pinned: bool) -> ApiResult<Self> {
        Ok(Self {
            kinds: KindFilter::parse_list("kind", kinds)?,
            pinned,
        })
    }

    pub fn keeps(&self, e: &Event) -> bool {
        (!self.pinned || e.pinned) && self.kinds.matches(e.kind)
    }
}

/// In [`names`], the key prefix under which a token's id maps to its owner's user id.
pub const OWNER_OF: &str = "owner-of:";

/// Names of the users an incident's events and roles mention, for people to read. An API
/// token acting (the API, the CLI) is named by the person it belongs to, keyed by its id (and
/// its owner's id is under `OWNER_OF` + its id).
pub async fn names(
    state: &AppState,
    events: &[Event],
    extra: &[UserId],
) -> BTreeMap<String, String> {
    let mut ids: Vec<UserId> = extra.to_vec();
    let mut tokens = Vec::new();
    let mut runs = Vec::new();
    for e in events {
        match e.actor {
            Actor::User(u) => ids.push(u),
            Actor::Token(t) => tokens.push(t),
            Actor::Workflow(r) => runs.push(r),
            Actor::System => {}
        }
        if let Some(u) = e
            .data
            .get("user_id")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse().ok())
        {
            ids.push(u);
        }
        // Escalations list the people paged and those who could not be.
        for list in ["users", "unreachable"] {
            if let Some(a) = e.data.get(list).and_then(|v| v.as_array()) {
                ids.extend(a.iter().filter_map(|v| v.as_str()?.parse::<UserId>().ok()));
            }
        }
        // Changes of a person-valued field (assignee, reporter) name people too.
        if let Some(changes) = e.data.get("changes").and_then(|c| c.as_object()) {
            for v in changes.values() {
                for end in ["from", "to"] {
                    if let Some(u) = v[end].as_str().and_then(|s| s.parse().ok()) {
                        ids.push(u);
                    }
                }
            }
        }
    }
    tokens.sort();
    tokens.dedup();
    let mut owners = Vec::new();
    for t in tokens {
        if let Ok(token) = state.store.token(t).await {
            ids.push(token.user_id);
            owners.push((t, token.user_id));
        }
    }
    ids.sort();
    ids.dedup();
    let mut out: BTreeMap<String, String> =
        crate::shared::lists::user_names(state.store.as_ref(), ids)
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "cannot read user names: showing ids"))
            .unwrap_or_default()
            .into_iter()
            .map(|(id, name)| (id.to_string(), name))
            .collect();
    // A workflow's action is named by the workflow, keyed by the run's id.
    runs.sort();
    runs.dedup();
    for r in runs {
        if let Ok(run) = state.store.workflow_run(r).await {
            out.insert(r.to_string(), run.workflow_name);
        }
    }
    for (t, u) in owners {
        if let Some(name) = out.get(&u.to_string()).cloned() {
            out.insert(t.to_string(), name);
        }
        // Whose token it is, so that a line can tell someone acting on themselves.
        out.insert(format!("{OWNER_OF}{t}"), u.to_string());
    }
    out
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// Event kinds or prefixes, comma-separated: `incident.note_added,notification.`.
    pub kind: Option<String>,
    /// Only pinned entries.
    pub pinned: Option<bool>,
}

/// The incident as Markdown: its summary, milestones, roles and timeline, for a postmortem or
/// a ticket.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/timeline.md", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1), ExportParams),
    responses((status = 200, content_type = "text/markdown", body = String), (status = 404, body = ErrorBody)))]
async fn export_timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let filter = TimelineFilter::parse(p.kind.as_deref(), p.pinned.unwrap_or(false))?;
    let md = markdown(&state, id, &filter).await?;
    Ok(markdown_download(id, md))
}

/// The export as a download, never rendered in place: Markdown carries people's and alert
/// sources' text, so the browser must not sniff it into HTML or run anything in it.
pub fn markdown_download(id: IncidentId, md: String) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "text/markdown; charset=utf-8".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"incident-{id}.md\""),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_owned(),
            ),
        ],
        md,
    )
        .into_response()
}

pub async fn markdown(
    state: &AppState,
    id: IncidentId,
    filter: &TimelineFilter,
) -> ApiResult<String> {
    let i = state
        .store
        .incident(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let roles = state.store.incident_roles(id, true).await?;
    let events = all_events(state, id).await?;
    let mut people: Vec<UserId> = roles.iter().map(|r| r.user_id).collect();
    people.extend(i.reporter_id);
    let names = names(state, &events, &people).await;
    let name = |u: &UserId| {
        names
            .get(&u.to_string())
            .cloned()
            .unwrap_or_else(|| u.to_string())
    };
    let ts = |t: Timestamp| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string();
    let mut md = format!("# Incident #{}: {}\n\n", i.number, i.title);
    let opt = |v: Option<String>| v.unwrap_or_else(|| "—".into());
    md.push_str(&format!(
        "| | |\n|---|---|\n| Status | {} |\n| Severity | {} |\n| Priority | {} |\n| Impact / urgency | {} / {} |\n| Category | {} |\n| Reporter | {} |\n\n",
        i.status,
        opt(i.severity.map(|s| s.to_string())),
        opt(i.priority.map(|s| s.to_string())),
        opt(i.impact.map(|s| s.to_string())),
        i.urgency,
        opt(match (&i.category, &i.subcategory) {
            (Some(c), Some(s)) => Some(format!("{c} / {s}")),
            (c, _) => c.clone(),
        }),
        opt(i.reporter_id.as_ref().map(name)),
    ));
    if !i.description.is_empty() {
        md.push_str(&format!("{}\n\n", i.description));
    }
    md.push_str("## Milestones\n\n");
    let m = i.milestones();
    for n in MILESTONES {
        if let Some(at) = m.get(n) {
            md.push_str(&format!(
                "- {}: {}\n",
                crate::incidents::describe::milestone_label(n),
                ts(at)
            ));
        }
    }
    md.push_str("\n## Roles\n\n");
    if roles.is_empty() {
        md.push_str("Nobody held a role.\n");
    }
    for r in &roles {
        let label = state
            .incident_rules
            .roles
            .get(&r.role)
            .map_or(r.role.as_str(), |d| d.name.as_str());
        let until = r.ended_at.map_or_else(|| "now".to_owned(), ts);
        md.push_str(&format!(
            "- {label}: {} ({} – {until})\n",
            name(&r.user_id),
            ts(r.assigned_at)
        ));
    }
    md.push_str("\n## Timeline\n\n");
    let updates = crate::incidents::describe::update_deliveries(state, id).await?;
    let words = crate::incidents::describe::Words {
        names: &names,
        rules: &state.incident_rules,
        reader: None,
        updates: &updates,
    };
    for e in events.iter().filter(|e| filter.keeps(e)) {
        let who = crate::incidents::describe::actor_name(&e.actor, &names);
        let pin = if e.pinned { " 📌" } else { "" };
        md.push_str(&format!(
            "- **{}** {who}: {}{pin}\n",
            ts(e.at),
            crate::incidents::describe::describe(e, &words).replace('\n', "\n  ")
        ));
    }
    // Text from people and alert sources may hold HTML, which Markdown renderers pass through:
    // as `&lt;` no tag can open, and renderers still show a plain `<`.
    Ok(md.replace('<', "&lt;"))
}

// --- notes and pins -----------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// Markdown-ish plain text, up to 20,000 characters.
    #[schema(max_length = 20000)]
    pub text: String,
    #[serde(default)]
    pub pinned: bool,
}

/// Adds a note to the timeline and pins it when asked (a second write: should it fail, the
/// note stays, unpinned, and the caller gets the error).
pub async fn note_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    text: &str,
    pinned: bool,
) -> ApiResult<Event> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid("text", "must not be empty"));
    }
    let text = rules::parse_text("text", text, rules::NOTE_MAX)?;
    state
        .store
        .incident(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let now = state.clock.now();
    let note = state
        .store
        .append_event(ev(
            id,
            now,
            who,
            EventKind::IncidentNoteAdded,
            json!({"text": text}),
        ))
        .await?;
    state.incident_changes.notify_waiters();
    if pinned {
        pin_with(state, who, id, note.seq, true).await?;
        return Ok(Event {
            pinned: true,
            ..note
        });
    }
    Ok(note)
}

/// Adds a note to the incident's timeline (responder). 201 with the event.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/notes", tag = "incidents", request_body = NewNote,
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 201, body = EventOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn add_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewNote>,
) -> ApiResult<(StatusCode, Json<EventOut>)> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let e = note_with(&state, Who::caller(&caller), id, &body.text, body.pinned).await?;
    Ok((StatusCode::CREATED, Json(e.into())))
}

pub async fn pin_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    seq: i64,
    pinned: bool,
) -> ApiResult<()> {
    let now = state.clock.now();
    let kind = if pinned {
        EventKind::IncidentEventPinned
    } else {
        EventKind::IncidentEventUnpinned
    };
    state
        .store
        .pin_incident_event(id, seq, pinned, ev(id, now, who, kind, json!({"seq": seq})))
        .await
        .map_err(ApiError::or_not_found("timeline event"))?;
    state.incident_changes.notify_waiters();
    Ok(())
}

/// Pins an event to the top of the incident's timeline (responder).
#[utoipa::path(put, path = "/api/v1/incidents/{id}/timeline/{seq}/pin", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1), ("seq" = i64, Path, description = "Event sequence number")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn pin_event(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, seq)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let seq = seq
        .parse()
        .map_err(|_| ApiError::invalid("seq", "is not a sequence number"))?;
    pin_with(&state, Who::caller(&caller), id, seq, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unpins an event (responder).
#[utoipa::path(delete, path = "/api/v1/incidents/{id}/timeline/{seq}/pin", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1), ("seq" = i64, Path, description = "Event sequence number")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn unpin_event(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, seq)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let seq = seq
        .parse()
        .map_err(|_| ApiError::invalid("seq", "is not a sequence number"))?;
    pin_with(&state, Who::caller(&caller), id, seq, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IncidentTimelineParams {
    /// Event kinds or prefixes, comma-separated: `incident.note_added,notification.`.
    pub kind: Option<String>,
    /// Only pinned entries.
    pub pinned: Option<bool>,
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The incident's timeline, oldest first: every change, note, alert and page, filtered by kind
/// and pin when asked.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/timeline", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1), IncidentTimelineParams),
    responses((status = 200, body = ListOf<EventOut>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn incident_timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<IncidentTimelineParams>,
) -> ApiResult<Json<ListOf<EventOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let filter = crate::incidents::timeline::TimelineFilter::parse(
        p.kind.as_deref(),
        p.pinned.unwrap_or(false),
    )?;
    let limit = Limit::parse(p.limit)?.get() as usize;
    let mut after = decode_cursor::<i64>("events", p.cursor.as_deref())?;
    state
        .store
        .incident(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let subject = id.to_string();
    // Pages of the store, kept entries collected until one more than a page is found.
    let mut items = Vec::new();
    loop {
        let batch = state
            .store
            .events(SubjectType::Incident, &subject, after, 500)
            .await?;
        let done = batch.len() < 500;
        after = batch.last().map(|e| e.seq).or(after);
        items.extend(batch.into_iter().filter(|e| filter.keeps(e)));
        if done || items.len() > limit {
            break;
        }
    }
    Ok(Json(page_of("events", items, limit, |e| e.seq, Into::into)))
}
