//! Action items: `/api/v1/action-items`, and the operations the web pages share.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use klaxon_domain::action_item::{self as rules, ActionKind, ActionState};
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{ActionItemId, IncidentId, UserId};
use klaxon_domain::incident::Refusal;
use klaxon_domain::page::Limit;
use klaxon_store::{
    ActionItem, ActionItemFilter, ActionItemRow, LearningCounts, NewActionItem, StoreError,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::shared::api::{
    ApiJson, ApiQuery, Caller, ListOf, decode_cursor, encode_cursor, parse_field_id,
};
use crate::shared::crypto::random_bytes;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_items, create_item))
        .routes(routes!(action_item_summary))
        .routes(routes!(get_item, update_item, delete_item))
}

/// Who acts, and whether they may change any item (responders and admins may).
#[derive(Debug, Clone, Copy)]
pub struct Who {
    pub actor: Actor,
    pub user: UserId,
}

impl Who {
    pub fn caller(c: &Caller) -> Self {
        Self {
            actor: c.actor(),
            user: c.user.id,
        }
    }

    pub fn user(u: &klaxon_store::User) -> Self {
        Self {
            actor: Actor::User(u.id),
            user: u.id,
        }
    }
}

// --- wire types ---------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct ActionItemOut {
    pub id: ActionItemId,
    pub incident_id: IncidentId,
    pub incident_number: i64,
    pub incident_title: String,
    /// The postmortem it came from, if any.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub postmortem_id: Option<uuid::Uuid>,
    pub title: String,
    pub owner_id: UserId,
    pub owner_name: String,
    pub kind: ActionKind,
    pub priority: bool,
    #[schema(value_type = String, format = DateTime)]
    pub due_at: Timestamp,
    /// Still open after its due date.
    pub overdue: bool,
    pub tracker_url: Option<String>,
    pub state: ActionState,
    /// Why it will not be done (`wont_do` only).
    pub reason: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_reminded_at: Option<Timestamp>,
}

impl ActionItemOut {
    pub fn of(r: ActionItemRow, now: Timestamp) -> Self {
        let a = r.item;
        Self {
            overdue: rules::is_overdue(a.state, a.due_at, now),
            id: a.id,
            incident_id: a.incident_id,
            incident_number: r.incident_number,
            incident_title: r.incident_title,
            postmortem_id: a.postmortem_id,
            title: a.title,
            owner_id: a.owner_id,
            owner_name: r.owner_name,
            kind: a.kind,
            priority: a.priority,
            due_at: a.due_at,
            tracker_url: a.tracker_url,
            state: a.state,
            reason: a.reason,
            created_at: a.created_at,
            updated_at: a.updated_at,
            last_reminded_at: a.last_reminded_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    /// The incident: its id or number (`75` or `#75`).
    #[schema(min_length = 1)]
    pub incident: String,
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub title: String,
    /// Who does it: a user id or e-mail address.
    #[schema(min_length = 1)]
    pub owner: String,
    pub kind: ActionKind,
    /// A priority item gets the shorter SLO and holds back "learned from" while open.
    #[serde(default)]
    pub priority: bool,
    /// When it is due (not in the past); by default now plus the SLO for its priority.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Timestamp>,
    /// A link to the item in an outside tracker (http or https).
    #[schema(max_length = 2000)]
    pub tracker_url: Option<String>,
    /// The postmortem it comes from.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub postmortem_id: Option<uuid::Uuid>,
}

fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// What to change; absent fields stay, `tracker_url: null` clears the link.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemUpdate {
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub title: Option<String>,
    /// A user id or e-mail address.
    #[schema(min_length = 1)]
    pub owner: Option<String>,
    pub kind: Option<ActionKind>,
    pub priority: Option<bool>,
    /// Not in the past.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub tracker_url: Option<Option<String>>,
    pub state: Option<ActionState>,
    /// Why it will not be done: required with `state: wont_do`.
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

// --- operations ---------------------------------------------------------------------------------

async fn owner(state: &AppState, field: &str, raw: &str) -> ApiResult<UserId> {
    let user = terms::user(state, raw, At::Field(field)).await?;
    crate::people::manage::active_user(state, field, user).await?;
    Ok(user)
}

fn event(incident: IncidentId, at: Timestamp, who: Who, kind: EventKind, data: Value) -> NewEvent {
    NewEvent::new(SubjectType::Incident, incident, at, who.actor, kind, data)
}

fn ms(t: Timestamp) -> Timestamp {
    klaxon_domain::clock::from_millis(klaxon_domain::clock::to_millis(t))
}

/// Adds an item to an incident; `incident` is already resolved to its id.
pub async fn create_with(
    state: &AppState,
    who: Who,
    incident: IncidentId,
    n: NewItem,
) -> ApiResult<ActionItemRow> {
    let now = state.clock.now();
    let title = klaxon_domain::incident::parse_title("title", &n.title, rules::TITLE_MAX)?;
    let owner_id = owner(state, "owner", &n.owner).await?;
    let slo = state.settings.action_items.slo();
    let due_at = ms(rules::due_at(n.priority, n.due_at, now, &slo)?);
    let tracker_url = rules::parse_tracker_url(n.tracker_url.as_deref().unwrap_or(""))?;
    // Only the incident's own postmortem (the column has no foreign key: postmortems came later).
    if let Some(pm) = n.postmortem_id {
        let own = state.store.postmortem_of_incident(incident).await?;
        if own.is_none_or(|p| p.id.0 != pm) {
            return Err(ApiError::invalid(
                "postmortem_id",
                "is not the postmortem of this incident",
            ));
        }
    }
    let item = ActionItem {
        id: ActionItemId::new(now, random_bytes()),
        incident_id: incident,
        postmortem_id: n.postmortem_id,
        title,
        owner_id,
        kind: n.kind,
        priority: n.priority,
        due_at,
        tracker_url,
        state: ActionState::Open,
        reason: None,
        created_at: now,
        created_by: who.actor,
        updated_at: now,
        last_reminded_at: None,
    };
    let e = event(
        incident,
        now,
        who,
        EventKind::ActionItemCreated,
        json!({"action_item_id": item.id, "title": item.title, "user_id": owner_id,
               "kind": item.kind, "priority": item.priority, "due_at": item.due_at}),
    );
    let row = state
        .store
        .create_action_item(NewActionItem {
            item,
            event: e,
            job: Some(super::reminders::job(now)),
        })
        .await
        .map_err(|e| match e {
            // The store holds the same rule, against the postmortem as it stands.
            StoreError::Conflict { constraint } if constraint == "action_items_postmortem" => {
                ApiError::invalid("postmortem_id", "is not the postmortem of this incident")
            }
            e => ApiError::or_not_found("incident")(e),
        })?;
    state.incident_changes.notify_waiters();
    Ok(row)
}

/// Changes an item: its fields, or its state (won't do with a reason).
pub async fn update_with(
    state: &AppState,
    who: Who,
    id: ActionItemId,
    u: ItemUpdate,
) -> ApiResult<ActionItemRow> {
    let now = state.clock.now();
    let title = u
        .title
        .as_deref()
        .map(|t| klaxon_domain::incident::parse_title("title", t, rules::TITLE_MAX))
        .transpose()?;
    let new_owner = match u.owner.as_deref() {
        Some(o) => Some(owner(state, "owner", o).await?),
        None => None,
    };
    if let Some(d) = u.due_at
        && d < now
    {
        return Err(ApiError::invalid("due_at", "must not be in the past"));
    }
    let tracker = match &u.tracker_url {
        None => None,
        Some(t) => Some(rules::parse_tracker_url(t.as_deref().unwrap_or(""))?),
    };
    // The reason is checked against the state it comes with, before anything is read.
    let reason = match u.state {
        Some(s) => Some(rules::reason_for(s, u.reason.as_deref())?),
        None if u.reason.is_some() => {
            return Err(ApiError::invalid(
                "reason",
                "give a reason with state wont_do",
            ));
        }
        None => None,
    };
    let edit = Box::new(move |cur: &ActionItem| {
        let mut next = cur.clone();
        let mut changes = serde_json::Map::new();
        use crate::shared::changes::set_noting as set;
        set(&mut changes, "title", &mut next.title, title);
        set(&mut changes, "owner", &mut next.owner_id, new_owner);
        set(&mut changes, "kind", &mut next.kind, u.kind);
        set(&mut changes, "priority", &mut next.priority, u.priority);
        set(&mut changes, "due", &mut next.due_at, u.due_at.map(ms));
        set(&mut changes, "tracker_url", &mut next.tracker_url, tracker);
        let base = json!({"action_item_id": cur.id, "title": next.title, "user_id": next.owner_id});
        let mut events = Vec::new();
        if !changes.is_empty() {
            let mut data = base.clone();
            data["changes"] = Value::Object(changes);
            events.push(event(
                cur.incident_id,
                now,
                who,
                EventKind::ActionItemUpdated,
                data,
            ));
        }
        if let (Some(to), Some(reason)) = (u.state, reason)
            && (to != cur.state || reason != cur.reason)
        {
            next.state = to;
            next.reason = reason;
            let mut data = base;
            data["from"] = json!(cur.state);
            data["to"] = json!(to);
            data["reason"] = json!(next.reason);
            events.push(event(
                cur.incident_id,
                now,
                who,
                EventKind::ActionItemStateChanged,
                data,
            ));
        }
        if !events.is_empty() {
            next.updated_at = now;
        }
        Ok::<_, Refusal>((next, events))
    });
    let row = state
        .store
        .change_action_item(id, edit)
        .await
        .map_err(ApiError::or_not_found("action item"))?
        .map_err(ApiError::from)?;
    // The reminder job ends when nothing is open: an item opened again brings it back.
    if u.state.is_some_and(ActionState::is_open) {
        state.store.enqueue_job(super::reminders::job(now)).await?;
    }
    state.incident_changes.notify_waiters();
    Ok(row)
}

pub async fn delete_with(state: &AppState, who: Who, id: ActionItemId) -> ApiResult<()> {
    let now = state.clock.now();
    let cur = state
        .store
        .action_item(id)
        .await
        .map_err(ApiError::or_not_found("action item"))?;
    let e = event(
        cur.item.incident_id,
        now,
        who,
        EventKind::ActionItemDeleted,
        json!({"action_item_id": id, "title": cur.item.title}),
    );
    state
        .store
        .delete_action_item(id, e)
        .await
        .map_err(ApiError::or_not_found("action item"))?;
    state.incident_changes.notify_waiters();
    Ok(())
}

// --- lists --------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ItemParams {
    /// Only the caller's items.
    pub mine: Option<bool>,
    /// Only this owner's: a user id or e-mail address (empty: anyone's).
    pub owner: Option<String>,
    /// Only items of incidents on services of this escalation policy (id or name; empty: any).
    pub team: Option<String>,
    /// Only items still open after their due date.
    pub overdue: Option<bool>,
    #[param(value_type = Option<ActionState>)]
    pub state: Option<String>,
    /// Only this incident's: its id or number (empty: any).
    pub incident: Option<String>,
    /// Only items of incidents learned from (no open priority item) or not.
    pub learned_from: Option<bool>,
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The store's filter from the query; `me` is who `mine` means.
pub async fn filter_of(
    state: &AppState,
    me: UserId,
    p: &ItemParams,
) -> ApiResult<ActionItemFilter> {
    let owner = match (p.mine, p.owner.as_deref().filter(|o| !o.is_empty())) {
        (Some(true), _) => Some(me),
        (_, Some(o)) => Some(terms::user(state, o, At::Field("owner")).await?),
        _ => None,
    };
    let team = match p.team.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(terms::policy(state, t, At::Field("team")).await?),
        None => None,
    };
    let incident = match p.incident.as_deref().filter(|i| !i.is_empty()) {
        Some(i) => Some(terms::incident(state, i, At::Field("incident")).await?),
        None => None,
    };
    let item_state = match p.state.as_deref() {
        Some(s) => Some(
            s.parse::<ActionState>()
                .map_err(|e| ApiError::invalid("state", e.reason))?,
        ),
        None => None,
    };
    Ok(ActionItemFilter {
        owner,
        team,
        incident,
        state: item_state,
        overdue_at: (p.overdue == Some(true)).then(|| state.clock.now()),
        learned_from: p.learned_from,
    })
}

/// Action items across incidents, soonest due first, filtered.
#[utoipa::path(get, path = "/api/v1/action-items", tag = "learning", params(ItemParams),
    responses((status = 200, body = ListOf<ActionItemOut>), (status = 400, body = ErrorBody)))]
async fn list_items(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ItemParams>,
) -> ApiResult<Json<ListOf<ActionItemOut>>> {
    caller.require(Role::Viewer)?;
    let limit = Limit::parse(p.limit)?.get();
    let after = match decode_cursor::<String>("action-items", p.cursor.as_deref())? {
        None => None,
        Some(c) => Some(
            c.split_once('.')
                .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.parse().ok()?)))
                .map(|(ms, id)| (klaxon_domain::clock::from_millis(ms), id))
                .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor this list gave out"))?,
        ),
    };
    let f = filter_of(&state, caller.user.id, &p).await?;
    let page = state.store.list_action_items(&f, after, limit).await?;
    let now = state.clock.now();
    Ok(Json(ListOf {
        items: page
            .items
            .into_iter()
            .map(|r| ActionItemOut::of(r, now))
            .collect(),
        next_cursor: page.next.map(|(due, id)| {
            let due = klaxon_domain::clock::to_millis(due);
            encode_cursor("action-items", format!("{due}.{id}"))
        }),
    }))
}

/// Adds an action item to an incident (responder). 201 with the item.
#[utoipa::path(post, path = "/api/v1/action-items", tag = "learning", request_body = NewItem,
    responses((status = 201, body = ActionItemOut), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn create_item(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewItem>,
) -> ApiResult<(StatusCode, Json<ActionItemOut>)> {
    caller.require(Role::Responder)?;
    let incident = terms::incident(&state, &body.incident, At::Field("incident")).await?;
    let row = create_with(&state, Who::caller(&caller), incident, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(ActionItemOut::of(row, state.clock.now())),
    ))
}

fn item_id(raw: &str) -> ApiResult<ActionItemId> {
    // Not a UUID at all: the caller's mistake, 400 naming the parameter (docs/api.md, Ids).
    parse_field_id::<ActionItemId>(raw, "id")
}

/// One action item.
#[utoipa::path(get, path = "/api/v1/action-items/{id}", tag = "learning",
    params(("id" = uuid::Uuid, Path, description = "Action item id")),
    responses((status = 200, body = ActionItemOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_item(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ActionItemOut>> {
    caller.require(Role::Viewer)?;
    let row = state
        .store
        .action_item(item_id(&id)?)
        .await
        .map_err(ApiError::or_not_found("action item"))?;
    Ok(Json(ActionItemOut::of(row, state.clock.now())))
}

/// Changes an action item or its state (responder): `{"state": "wont_do", "reason": "…"}`.
#[utoipa::path(patch, path = "/api/v1/action-items/{id}", tag = "learning", request_body = ItemUpdate,
    params(("id" = uuid::Uuid, Path, description = "Action item id")),
    responses((status = 200, body = ActionItemOut), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_item(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ItemUpdate>,
) -> ApiResult<Json<ActionItemOut>> {
    caller.require(Role::Responder)?;
    let row = update_with(&state, Who::caller(&caller), item_id(&id)?, body).await?;
    Ok(Json(ActionItemOut::of(row, state.clock.now())))
}

/// Removes an action item (responder).
#[utoipa::path(delete, path = "/api/v1/action-items/{id}", tag = "learning",
    params(("id" = uuid::Uuid, Path, description = "Action item id")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_item(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    delete_with(&state, Who::caller(&caller), item_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- learned from -------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentRef {
    pub id: IncidentId,
    pub number: i64,
    pub title: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryOut {
    /// Incidents (merged duplicates left out).
    pub incidents: u64,
    /// Incidents with no open priority item.
    pub learned_from: u64,
    /// Incidents with an open (or in progress) priority item.
    pub not_learned_from: u64,
    pub open_items: u64,
    pub overdue_items: u64,
    /// The newest incidents not learned from (up to 100).
    pub incidents_not_learned_from: Vec<IncidentRef>,
}

pub async fn summary_with(state: &AppState) -> ApiResult<(LearningCounts, Vec<IncidentRef>)> {
    let counts = state.store.learning_counts(state.clock.now()).await?;
    let not = state
        .store
        .not_learned_from(100)
        .await?
        .into_iter()
        .map(|(id, number, title)| IncidentRef { id, number, title })
        .collect();
    Ok((counts, not))
}

/// How many incidents are learned from (no open priority item), and which are not yet.
#[utoipa::path(get, path = "/api/v1/action-items/summary", tag = "learning",
    responses((status = 200, body = SummaryOut)))]
async fn action_item_summary(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<SummaryOut>> {
    caller.require(Role::Viewer)?;
    let (c, not) = summary_with(&state).await?;
    Ok(Json(SummaryOut {
        incidents: c.incidents,
        learned_from: c.learned_from,
        not_learned_from: c.not_learned_from,
        open_items: c.open_items,
        overdue_items: c.overdue_items,
        incidents_not_learned_from: not,
    }))
}
