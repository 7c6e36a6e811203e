//! Action items on the web: the list (mine, team, overdue, all), an item's page with its edit
//! form, and the panel on the incident page with its add form. Every change goes through the
//! same `*_with` operations as the API.
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use jiff::Timestamp;
use klaxon_domain::action_item::{ActionKind, ActionState};
use klaxon_domain::auth::Role;
use klaxon_domain::ids::{ActionItemId, IncidentId};
use klaxon_store::{ActionItemFilter, ActionItemRow};
use serde::Deserialize;

use super::action_items::{
    ItemParams, ItemUpdate, NewItem, Who, create_with, delete_with, filter_of, summary_with,
    update_with,
};
use crate::shared::error::{ApiError, ApiResult};
use crate::shared::lists::{all_policies, all_users};
use crate::shared::state::AppState;
use crate::shared::time::Reader;
use crate::shared::web::{
    FormErrors, Nav, PageResult, Refused, WebSession, forbidden, html, not_found_page,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/action-items", get(list))
        .route("/action-items/{id}", get(show).post(edit))
        .route("/action-items/{id}/delete", post(remove))
        .route("/incidents/{id}/action-items", post(add))
        .route("/incidents/{id}/action-items/new", get(new_form))
}

/// One item as the pages show it.
pub struct Row {
    pub id: String,
    pub title: String,
    pub incident: String,
    pub incident_number: i64,
    pub owner: String,
    pub kind: &'static str,
    pub priority: bool,
    pub due: String,
    pub overdue: bool,
    pub state: &'static str,
    pub reason: String,
    pub tracker_url: String,
}

fn state_label(s: ActionState) -> &'static str {
    match s {
        ActionState::Open => "open",
        ActionState::InProgress => "in progress",
        ActionState::Done => "done",
        ActionState::WontDo => "won't do",
    }
}

fn row(r: ActionItemRow, reader: &Reader, now: Timestamp) -> Row {
    let a = r.item;
    Row {
        id: a.id.to_string(),
        title: a.title,
        incident: a.incident_id.to_string(),
        incident_number: r.incident_number,
        owner: r.owner_name,
        kind: a.kind.as_str(),
        priority: a.priority,
        due: reader.when(a.due_at).html(),
        overdue: klaxon_domain::action_item::is_overdue(a.state, a.due_at, now),
        state: state_label(a.state),
        reason: a.reason.unwrap_or_default(),
        tracker_url: a.tracker_url.unwrap_or_default(),
    }
}

/// The form's fields, as typed.
fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn typed(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .filter(|(k, _)| k != "csrf")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn kind_of(raw: &str) -> ApiResult<ActionKind> {
    raw.parse()
        .map_err(|e: klaxon_domain::Invalid| ApiError::invalid("kind", e.reason))
}

fn due_of(reader: &Reader, raw: &str) -> ApiResult<Option<Timestamp>> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    reader
        .parse_input(raw)
        .map(Some)
        .ok_or_else(|| ApiError::invalid("due_at", "is not a date and time"))
}

/// Choices for the forms: (value, label).
pub struct Choices {
    pub users: Vec<(String, String)>,
    pub kinds: Vec<&'static str>,
    pub states: Vec<(&'static str, &'static str)>,
}

async fn choices(state: &AppState) -> ApiResult<Choices> {
    Ok(Choices {
        users: all_users(state)
            .await?
            .into_iter()
            .map(|u| (u.id.to_string(), u.name))
            .collect(),
        kinds: ActionKind::ALL.iter().map(|k| k.as_str()).collect(),
        states: ActionState::ALL
            .iter()
            .map(|s| (s.as_str(), state_label(*s)))
            .collect(),
    })
}

// --- the list ---------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    view: Option<String>,
    team: Option<String>,
}

#[derive(Template)]
#[template(path = "action_items.html")]
struct ListPage {
    nav: Option<Nav>,
    view: String,
    tabs: Vec<(&'static str, &'static str)>,
    teams: Vec<(String, String)>,
    team: String,
    rows: Vec<Row>,
    incidents: u64,
    learned_from: u64,
    open_items: u64,
    overdue_items: u64,
    reader: Reader,
}

async fn list(
    State(state): State<AppState>,
    s: WebSession,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let reader = s.reader();
    let view = q
        .view
        .as_deref()
        .filter(|v| ["team", "overdue", "all"].contains(v))
        .unwrap_or("mine");
    let teams: Vec<(String, String)> = all_policies(&state)
        .await?
        .into_iter()
        .map(|p| (p.id.to_string(), p.name))
        .collect();
    let team = q
        .team
        .clone()
        .filter(|t| teams.iter().any(|(id, _)| id == t))
        .or_else(|| teams.first().map(|(id, _)| id.clone()))
        .unwrap_or_default();
    let params = ItemParams {
        mine: Some(view == "mine"),
        overdue: Some(view == "overdue"),
        team: (view == "team").then(|| team.clone()),
        ..ItemParams::default()
    };
    let rows = if view == "team" && team.is_empty() {
        Vec::new()
    } else {
        let f: ActionItemFilter = filter_of(&state, s.user.id, &params).await?;
        let now = state.clock.now();
        state
            .store
            .list_action_items(&f, None, 500)
            .await?
            .items
            .into_iter()
            .map(|r| row(r, &reader, now))
            .collect()
    };
    let (counts, _) = summary_with(&state).await?;
    Ok(html(
        StatusCode::OK,
        &ListPage {
            nav: Some(Nav::new(&s, "/action-items")),
            view: view.to_owned(),
            tabs: vec![
                ("mine", "Mine"),
                ("team", "Team"),
                ("overdue", "Overdue"),
                ("all", "All"),
            ],
            teams,
            team,
            rows,
            incidents: counts.incidents,
            learned_from: counts.learned_from,
            open_items: counts.open_items,
            overdue_items: counts.overdue_items,
            reader,
        },
    ))
}

// --- one item ---------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "action_item.html")]
struct ItemPage {
    nav: Option<Nav>,
    item: Row,
    owner_id: String,
    kind: String,
    item_state: String,
    due_input: String,
    priority_input: String,
    can_edit: bool,
    choices: Choices,
    csrf: String,
    notice: Option<String>,
    refused: Refused,
    zone: String,
}

impl ItemPage {
    fn errs(&self) -> &FormErrors {
        self.refused.errs("edit")
    }

    fn typed<'a>(&'a self, field: &str, default: &'a str) -> &'a str {
        self.refused.typed("edit", field, default)
    }

    fn invalid(&self, field: &str, id: &str) -> String {
        self.refused.invalid("edit", field, id)
    }
}

async fn render_item(
    state: &AppState,
    s: &WebSession,
    r: ActionItemRow,
    status: StatusCode,
    notice: Option<String>,
    refused: Refused,
) -> PageResult {
    let reader = s.reader();
    let now = state.clock.now();
    let (owner_id, kind, item_state) = (
        r.item.owner_id.to_string(),
        r.item.kind.as_str().to_owned(),
        r.item.state.as_str().to_owned(),
    );
    let due_input = reader.input_value(r.item.due_at);
    let r_priority = r.item.priority;
    Ok(html(
        status,
        &ItemPage {
            nav: Some(Nav::new(s, "/action-items")),
            item: row(r, &reader, now),
            owner_id,
            kind,
            item_state,
            due_input,
            priority_input: if r_priority {
                "yes".into()
            } else {
                String::new()
            },
            can_edit: s.user.role.allows(Role::Responder),
            choices: choices(state).await?,
            csrf: s.session.csrf_token.clone(),
            notice,
            refused,
            zone: reader.zone,
        },
    ))
}

async fn found(state: &AppState, id: &str) -> ApiResult<Option<ActionItemRow>> {
    let Ok(id) = id.parse::<ActionItemId>() else {
        return Ok(None);
    };
    match state.store.action_item(id).await {
        Ok(r) => Ok(Some(r)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn show(State(state): State<AppState>, s: WebSession, Path(id): Path<String>) -> PageResult {
    match found(&state, &id).await? {
        Some(r) => render_item(&state, &s, r, StatusCode::OK, None, Refused::default()).await,
        None => Ok(not_found_page()),
    }
}

async fn edit(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    if let Err(r) = s.check_csrf(field(&pairs, "csrf")) {
        return Ok(r);
    }
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("change action items"));
    }
    let Some(cur) = found(&state, &id).await? else {
        return Ok(not_found_page());
    };
    let reader = s.reader();
    let outcome = async {
        let to: ActionState = field(&pairs, "state")
            .parse()
            .map_err(|e: klaxon_domain::Invalid| ApiError::invalid("state", e.reason))?;
        // The date stays unless it was changed: an unchanged date now past is no refusal.
        let due = due_of(&reader, field(&pairs, "due_at"))?
            .filter(|d| reader.input_value(*d) != reader.input_value(cur.item.due_at));
        let u = ItemUpdate {
            title: Some(field(&pairs, "title").to_owned()),
            owner: Some(field(&pairs, "owner").to_owned()),
            kind: Some(kind_of(field(&pairs, "kind"))?),
            priority: Some(field(&pairs, "priority") == "yes"),
            due_at: due,
            tracker_url: Some(Some(field(&pairs, "tracker_url").to_owned())),
            state: Some(to),
            reason: (to == ActionState::WontDo).then(|| field(&pairs, "reason").to_owned()),
        };
        update_with(&state, Who::user(&s.user), cur.item.id, u).await
    }
    .await;
    match outcome {
        Ok(r) => {
            render_item(
                &state,
                &s,
                r,
                StatusCode::OK,
                Some("Saved.".into()),
                Refused::default(),
            )
            .await
        }
        Err(e) => {
            let status = e.status();
            let refused = Refused::new("edit", FormErrors::from_error(e)?, &typed(&pairs));
            render_item(&state, &s, cur, status, None, refused).await
        }
    }
}

async fn remove(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    if let Err(r) = s.check_csrf(field(&pairs, "csrf")) {
        return Ok(r);
    }
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("remove action items"));
    }
    let Some(cur) = found(&state, &id).await? else {
        return Ok(not_found_page());
    };
    delete_with(&state, Who::user(&s.user), cur.item.id).await?;
    Ok(Redirect::to(&format!(
        "/incidents/{}#action-items-section",
        cur.item.incident_id
    ))
    .into_response())
}

// --- the incident page's panel, and adding ----------------------------------------------------

/// What the incident page's panel shows (`templates/action_items_panel.html`).
pub struct Panel {
    pub incident_id: String,
    pub rows: Vec<Row>,
    pub can_add: bool,
    pub learned_from: bool,
    /// For the add form: (id, name), the reader (preselected), the form's token.
    pub users: Vec<(String, String)>,
    pub me: String,
    pub csrf: String,
}

/// The panel for the incident page: its items, soonest due first, and whether one may add.
pub async fn incident_panel(state: &AppState, s: &WebSession, id: IncidentId) -> ApiResult<Panel> {
    let reader = s.reader();
    let now = state.clock.now();
    let f = ActionItemFilter {
        incident: Some(id),
        ..ActionItemFilter::default()
    };
    let items = state.store.list_action_items(&f, None, 500).await?.items;
    let learned_from = klaxon_domain::action_item::learned_from(
        items.iter().map(|r| (r.item.priority, r.item.state)),
    );
    Ok(Panel {
        incident_id: id.to_string(),
        rows: items.into_iter().map(|r| row(r, &reader, now)).collect(),
        can_add: s.user.role.allows(Role::Responder),
        learned_from,
        users: choices(state).await?.users,
        me: s.user.id.to_string(),
        csrf: s.session.csrf_token.clone(),
    })
}

#[derive(Template)]
#[template(path = "action_item_new.html")]
struct NewPage {
    nav: Option<Nav>,
    incident_id: String,
    incident_title: String,
    incident_number: i64,
    /// The postmortem it is added from (its page's link), kept through a refusal; or "".
    postmortem_id: String,
    me: String,
    choices: Choices,
    csrf: String,
    refused: Refused,
    zone: String,
}

impl NewPage {
    fn errs(&self) -> &FormErrors {
        self.refused.errs("add")
    }

    fn typed<'a>(&'a self, field: &str, default: &'a str) -> &'a str {
        self.refused.typed("add", field, default)
    }

    fn invalid(&self, field: &str, id: &str) -> String {
        self.refused.invalid("add", field, id)
    }
}

async fn render_new(
    state: &AppState,
    s: &WebSession,
    id: IncidentId,
    postmortem_id: String,
    status: StatusCode,
    refused: Refused,
) -> PageResult {
    let Ok(incident) = state.store.incident(id).await else {
        return Ok(not_found_page());
    };
    Ok(html(
        status,
        &NewPage {
            nav: Some(Nav::new(s, "/action-items")),
            incident_id: id.to_string(),
            incident_title: incident.title,
            incident_number: incident.number,
            postmortem_id,
            me: s.user.id.to_string(),
            choices: choices(state).await?,
            csrf: s.session.csrf_token.clone(),
            refused,
            zone: s.reader().zone,
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
struct NewQuery {
    /// Opened from this postmortem's page: the item comes from it.
    #[serde(default)]
    postmortem: String,
}

async fn new_form(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Query(q): Query<NewQuery>,
) -> PageResult {
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("add action items"));
    }
    match id.parse::<IncidentId>() {
        Ok(id) => {
            render_new(
                &state,
                &s,
                id,
                q.postmortem,
                StatusCode::OK,
                Refused::default(),
            )
            .await
        }
        Err(_) => Ok(not_found_page()),
    }
}

async fn add(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    if let Err(r) = s.check_csrf(field(&pairs, "csrf")) {
        return Ok(r);
    }
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("add action items"));
    }
    let Ok(id) = id.parse::<IncidentId>() else {
        return Ok(not_found_page());
    };
    let reader = s.reader();
    let from = field(&pairs, "postmortem_id").trim().to_owned();
    let outcome = async {
        let tracker = field(&pairs, "tracker_url");
        let postmortem_id = match from.as_str() {
            "" => None,
            raw => Some(
                raw.parse::<uuid::Uuid>()
                    .map_err(|_| ApiError::invalid("postmortem_id", "is not a postmortem's id"))?,
            ),
        };
        let n = NewItem {
            incident: id.to_string(),
            title: field(&pairs, "title").to_owned(),
            owner: field(&pairs, "owner").to_owned(),
            kind: kind_of(field(&pairs, "kind"))?,
            priority: field(&pairs, "priority") == "yes",
            due_at: due_of(&reader, field(&pairs, "due_at"))?,
            tracker_url: (!tracker.trim().is_empty()).then(|| tracker.to_owned()),
            postmortem_id,
        };
        create_with(&state, Who::user(&s.user), id, n).await
    }
    .await;
    match outcome {
        // Back where it was added from: the postmortem's open items, or the incident's.
        Ok(_) if !from.is_empty() => {
            Ok(Redirect::to(&format!("/postmortems/{from}#incident-facts")).into_response())
        }
        Ok(_) => Ok(Redirect::to(&format!("/incidents/{id}#action-items-section")).into_response()),
        Err(e) => {
            let status = e.status();
            let refused = Refused::new("add", FormErrors::from_error(e)?, &typed(&pairs));
            render_new(&state, &s, id, from, status, refused).await
        }
    }
}
