//! An incident's tasks: who does what by when, on the timeline.
use crate::shared::api::{
    ApiJson, ApiQuery, Caller, ListOf, PageParams, page_in_memory, parse_field_id,
};
use crate::shared::crypto::random_bytes;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use klaxon_domain::auth::Role;
use klaxon_domain::event::EventKind;
use klaxon_domain::ids::{IncidentId, TaskId, UserId};
use klaxon_domain::incident::{self as rules, IncidentStatus, Refusal};
use klaxon_store::{IncidentChange, IncidentEdit, IncidentSnapshot, IncidentTask};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{Who, change, ev, existing_user, ms, nullable};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tasks, add_task))
        .routes(routes!(update_task, remove_task))
}

// --- tasks --------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: TaskId,
    #[schema(value_type = String, format = Uuid)]
    pub incident_id: IncidentId,
    pub title: String,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub assignee_id: Option<UserId>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Timestamp>,
    pub done: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub done_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<IncidentTask> for TaskOut {
    fn from(t: IncidentTask) -> Self {
        Self {
            id: t.id,
            incident_id: t.incident_id,
            title: t.title,
            assignee_id: t.assignee_id,
            due_at: t.due_at,
            done: t.done_at.is_some(),
            done_at: t.done_at,
            created_at: t.created_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub title: String,
    /// Who does it: a user id or e-mail address.
    #[schema(schema_with = crate::shared::api::nullable_id_or_empty)]
    pub assignee_id: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Timestamp>,
}

/// What to change on a task; absent fields stay, null clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskUpdate {
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    /// Who does it: a user id or e-mail address; null or empty for nobody.
    #[schema(schema_with = crate::shared::api::nullable_id_or_empty)]
    pub assignee_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Option<Timestamp>>,
    pub done: Option<bool>,
}

/// The change to one task, decided on the incident's current state.
enum TaskChange {
    Add(IncidentTask),
    Update {
        id: TaskId,
        title: Option<String>,
        assignee: Option<Option<UserId>>,
        due_at: Option<Option<Timestamp>>,
        done: Option<bool>,
    },
    Remove(TaskId),
}

/// Applies one task change under the incident's lock; the task as it now is (none once removed).
async fn task_change(
    state: &AppState,
    who: Who,
    id: IncidentId,
    what: TaskChange,
) -> ApiResult<Option<IncidentTask>> {
    let now = state.clock.now();
    let wanted = match &what {
        TaskChange::Add(t) => t.id,
        TaskChange::Update { id, .. } | TaskChange::Remove(id) => *id,
    };
    let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
        if snap.incident.status == IncidentStatus::Closed {
            return Err(Refusal::conflict(
                "status",
                "a closed incident's tasks are final",
            ));
        }
        let mut c = IncidentChange::of(snap, now, who.actor);
        let find = |tid: TaskId| {
            snap.tasks
                .iter()
                .find(|t| t.id == tid)
                .cloned()
                .ok_or(Refusal::NotFound("task"))
        };
        match what {
            TaskChange::Add(mut t) => {
                // Tasks list oldest first: one added in the same millisecond as the last
                // goes a millisecond after it.
                if let Some(last) = snap.tasks.iter().map(|x| x.created_at).max()
                    && t.created_at <= last
                {
                    t.created_at = last
                        .checked_add(jiff::SignedDuration::from_millis(1))
                        .unwrap_or(last);
                }
                c.events.push(ev(
                    c.incident.id,
                    now,
                    who,
                    EventKind::IncidentTaskAdded,
                    json!({"task_id": t.id, "title": t.title, "user_id": t.assignee_id, "due_at": t.due_at}),
                ));
                c.tasks.push(t);
            }
            TaskChange::Update {
                id: tid,
                title,
                assignee,
                due_at,
                done,
            } => {
                let old = find(tid)?;
                let mut t = old.clone();
                let mut changes = serde_json::Map::new();
                use crate::shared::changes::set_noting as set;
                set(&mut changes, "title", &mut t.title, title);
                set(&mut changes, "assignee", &mut t.assignee_id, assignee);
                set(&mut changes, "due", &mut t.due_at, due_at);
                let base = json!({"task_id": t.id, "title": t.title, "user_id": t.assignee_id});
                if !changes.is_empty() {
                    let mut data = base.clone();
                    data["changes"] = Value::Object(changes);
                    c.events.push(ev(
                        c.incident.id,
                        now,
                        who,
                        EventKind::IncidentTaskUpdated,
                        data,
                    ));
                }
                match (done, old.done_at.is_some()) {
                    (Some(true), false) => {
                        t.done_at = Some(now);
                        t.done_by = Some(who.actor);
                        c.events.push(ev(
                            c.incident.id,
                            now,
                            who,
                            EventKind::IncidentTaskDone,
                            base,
                        ));
                    }
                    (Some(false), true) => {
                        t.done_at = None;
                        t.done_by = None;
                        c.events.push(ev(
                            c.incident.id,
                            now,
                            who,
                            EventKind::IncidentTaskReopened,
                            base,
                        ));
                    }
                    _ => {}
                }
                c.tasks.push(t);
            }
            TaskChange::Remove(tid) => {
                let old = find(tid)?;
                c.removed_tasks.push(tid);
                c.events.push(ev(
                    c.incident.id,
                    now,
                    who,
                    EventKind::IncidentTaskRemoved,
                    json!({"task_id": tid, "title": old.title}),
                ));
            }
        }
        Ok(c)
    });
    change(state, id, edit).await?;
    let tasks = state.store.incident_tasks(id).await?;
    Ok(tasks.into_iter().find(|t| t.id == wanted))
}

async fn task_assignee(state: &AppState, raw: Option<&str>) -> ApiResult<Option<UserId>> {
    match raw.filter(|s| !s.is_empty()) {
        Some(u) => existing_user(state, "assignee_id", u).await.map(Some),
        None => Ok(None),
    }
}

/// Adds a task to an incident.
pub async fn add_task_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    t: NewTask,
) -> ApiResult<IncidentTask> {
    let title = rules::parse_title("title", &t.title, rules::TITLE_MAX)?;
    let assignee = task_assignee(state, t.assignee_id.as_deref()).await?;
    let now = state.clock.now();
    let task = IncidentTask {
        id: TaskId::new(now, random_bytes()),
        incident_id: id,
        title,
        assignee_id: assignee,
        due_at: t.due_at.map(ms),
        done_at: None,
        done_by: None,
        created_at: now,
        created_by: who.actor,
    };
    task_change(state, who, id, TaskChange::Add(task))
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the new task was not stored")))
}

/// Changes a task: its title, assignee, due time, or whether it is done.
pub async fn update_task_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    task: &str,
    u: TaskUpdate,
) -> ApiResult<IncidentTask> {
    let tid = parse_field_id::<TaskId>(task, "task_id")?;
    let title = u
        .title
        .as_deref()
        .map(|t| rules::parse_title("title", t, rules::TITLE_MAX))
        .transpose()?;
    let assignee = match u.assignee_id {
        None => None,
        Some(a) => Some(task_assignee(state, a.as_deref()).await?),
    };
    let change = TaskChange::Update {
        id: tid,
        title,
        assignee,
        due_at: u.due_at.map(|d| d.map(ms)),
        done: u.done,
    };
    task_change(state, who, id, change)
        .await?
        .ok_or_else(|| ApiError::not_found("task"))
}

pub async fn remove_task_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    task: &str,
) -> ApiResult<()> {
    let tid = parse_field_id::<TaskId>(task, "task_id")?;
    task_change(state, who, id, TaskChange::Remove(tid))
        .await
        .map(|_| ())
}

/// The incident's tasks, oldest first.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/tasks", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1), PageParams),
    responses((status = 200, body = ListOf<TaskOut>), (status = 404, body = ErrorBody)))]
async fn list_tasks(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<TaskOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let tasks = state
        .store
        .incident_tasks(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    Ok(Json(page_in_memory("tasks", tasks, &p, Into::into)?))
}

/// Adds a task (responder). 201 with the task.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/tasks", tag = "incidents", request_body = NewTask,
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 201, body = TaskOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn add_task(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewTask>,
) -> ApiResult<(StatusCode, Json<TaskOut>)> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let t = add_task_with(&state, Who::caller(&caller), id, body).await?;
    Ok((StatusCode::CREATED, Json(t.into())))
}

/// Changes a task, or marks it done (`{"done": true}`) (responder).
#[utoipa::path(patch, path = "/api/v1/incidents/{id}/tasks/{task_id}", tag = "incidents", request_body = TaskUpdate,
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1), ("task_id" = uuid::Uuid, Path, description = "Task id")),
    responses((status = 200, body = TaskOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn update_task(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, task)): Path<(String, String)>,
    ApiJson(body): ApiJson<TaskUpdate>,
) -> ApiResult<Json<TaskOut>> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let t = update_task_with(&state, Who::caller(&caller), id, &task, body).await?;
    Ok(Json(t.into()))
}

/// Removes a task (responder).
#[utoipa::path(delete, path = "/api/v1/incidents/{id}/tasks/{task_id}", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1), ("task_id" = uuid::Uuid, Path, description = "Task id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn remove_task(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, task)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    remove_task_with(&state, Who::caller(&caller), id, &task).await?;
    Ok(StatusCode::NO_CONTENT)
}
