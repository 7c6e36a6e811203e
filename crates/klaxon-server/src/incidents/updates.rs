//! Stakeholder updates: followers of an incident and the updates posted to them.
use crate::incidents::list::IncidentOut;
use crate::shared::api::{ApiJson, ApiQuery, Caller, EventOut, ListOf, PageParams, page_in_memory};
use crate::shared::crypto::random_bytes;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use klaxon_domain::auth::Role;
use klaxon_domain::event::EventKind;
use klaxon_domain::ids::{IncidentId, UserId};
use klaxon_domain::incident::{self as rules, Refusal};
use klaxon_store::{Event, Incident, IncidentChange, IncidentEdit, IncidentSnapshot};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{Who, change, ev, existing_user};
use super::timeline::all_events;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_subscribers, subscribe))
        .routes(routes!(unsubscribe))
        .routes(routes!(post_update))
}

// --- stakeholder updates ------------------------------------------------------------------------

/// Starts or stops `user` following the incident (its stakeholder updates).
pub async fn subscribe_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    user: &str,
    on: bool,
) -> ApiResult<Incident> {
    let user = if on {
        existing_user(state, "user_id", user).await?
    } else {
        terms::user(state, user, At::Field("user_id")).await?
    };
    let now = state.clock.now();
    let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
        let follows = snap.subscribers.contains(&user);
        if follows == on {
            let why = if on {
                "already follows this incident"
            } else {
                "does not follow this incident"
            };
            return Err(Refusal::conflict("user_id", why));
        }
        let mut c = IncidentChange::of(snap, now, who.actor);
        let kind = if on {
            c.subscribe.push(user);
            EventKind::IncidentSubscribed
        } else {
            c.unsubscribe.push(user);
            EventKind::IncidentUnsubscribed
        };
        c.events
            .push(ev(c.incident.id, now, who, kind, json!({"user_id": user})));
        Ok(c)
    });
    change(state, id, edit).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostUpdate {
    /// The update's text; when absent, `template` filled in from the incident.
    #[schema(max_length = 5000)]
    pub message: Option<String>,
    /// A key of `GET /api/v1/incident-settings`' `update_templates`.
    pub template: Option<String>,
}

/// The text a template gives for this incident.
pub fn template_text(state: &AppState, key: &str, i: &Incident) -> ApiResult<String> {
    let t = state
        .incident_rules
        .update_templates
        .iter()
        .find(|t| t.key == key)
        .ok_or_else(|| {
            let keys: Vec<&str> = state
                .incident_rules
                .update_templates
                .iter()
                .map(|t| t.key.as_str())
                .collect();
            ApiError::invalid("template", format!("must be one of: {}", keys.join(", ")))
        })?;
    Ok(t.render(i.number, &i.title, i.status, i.severity))
}

/// Posts a stakeholder update: on the timeline, and to every follower by e-mail, webhook or
/// chat (never SMS or a call: an update tells, it does not wake anyone). Queued with the event
/// in one transaction; sent by the engine.
pub async fn post_update_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    u: PostUpdate,
) -> ApiResult<Incident> {
    Ok(write_update(state, who, id, u).await?.0)
}

/// Posts a stakeholder update as `post_update_with` does, answering with the
/// `incident.update_posted` event it wrote.
pub async fn post_update_event_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    u: PostUpdate,
) -> ApiResult<Event> {
    let (_, message) = write_update(state, who, id, u).await?;
    // The store's change_incident answers with the incident, not the seq of the events it
    // wrote, so the event is read back: the newest `incident.update_posted` event by this
    // actor with this message. Only the same actor posting the same message at the same time
    // could make two such requests answer with each other's (otherwise identical) event.
    all_events(state, id)
        .await?
        .into_iter()
        .rev()
        .find(|e| {
            e.kind == EventKind::IncidentUpdatePosted
                && e.actor == who.actor
                && e.data["message"].as_str() == Some(message.as_str())
        })
        .ok_or_else(|| ApiError::not_found("update"))
}

/// Writes the update; answers with the incident and the message posted.
async fn write_update(
    state: &AppState,
    who: Who,
    id: IncidentId,
    u: PostUpdate,
) -> ApiResult<(Incident, String)> {
    let incident = state
        .store
        .incident(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let message = match (
        u.message
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty()),
        u.template.as_deref(),
    ) {
        (Some(m), _) => rules::parse_text("message", m, rules::UPDATE_MAX)?,
        (None, Some(t)) => template_text(state, t, &incident)?,
        (None, None) => return Err(ApiError::invalid("message", "must not be empty")),
    };
    let subscribers = state.store.incident_subscribers(id).await?;
    let now = state.clock.now();
    let nonce = random_bytes::<8>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let posted_by = match who.user {
        Some(u) => state.store.user(u).await.ok().map(|u| u.name),
        None => None,
    };
    let url = state
        .settings
        .server
        .public_url
        .as_deref()
        .map(|b| format!("{}/incidents/{}", b.trim_end_matches('/'), id));
    let payload = json!({
        "update": {"message": message, "posted_by": posted_by},
        "incident": {
            "id": incident.id, "number": incident.number, "title": incident.title,
            "status": incident.status, "severity": incident.severity, "urgency": incident.urgency,
            "url": url,
        },
    });
    let mut pages = Vec::new();
    for user in &subscribers {
        for m in state.store.list_contact_methods(*user).await? {
            if matches!(
                m.kind,
                klaxon_domain::contact::ContactKind::Sms
                    | klaxon_domain::contact::ContactKind::Voice
            ) {
                continue;
            }
            pages.push(klaxon_store::NewNotification {
                id: klaxon_domain::ids::NotificationId::new(now, random_bytes()),
                incident_id: Some(id),
                user_id: *user,
                contact_method_id: Some(m.id),
                kind: m.kind,
                address: m.address.clone(),
                dedup_key: format!("{}{id}:{nonce}:{}", klaxon_store::UPDATE_KEY_PREFIX, m.id),
                payload: payload.clone(),
                run_at: now,
                created_at: now,
            });
        }
    }
    let recipients = pages.len();
    let posted = message.clone();
    let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
        let mut c = IncidentChange::of(snap, now, who.actor);
        c.events.push(ev(
            c.incident.id,
            now,
            who,
            EventKind::IncidentUpdatePosted,
            json!({"message": message, "followers": subscribers.len(), "messages": recipients}),
        ));
        c.pages = pages;
        Ok(c)
    });
    Ok((change(state, id, edit).await?, posted))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriberOut {
    /// The follower's id: the same as `user_id`, as a follower is its user
    /// (`DELETE .../subscribers/{user_id}` stops it).
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    /// The follower's name.
    pub name: String,
}

/// Who follows the incident.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/subscribers", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1), PageParams),
    responses((status = 200, body = ListOf<SubscriberOut>), (status = 404, body = ErrorBody)))]
async fn list_subscribers(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<SubscriberOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let users = state
        .store
        .incident_subscribers(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let mut page = page_in_memory("subscribers", users, &p, |u| SubscriberOut {
        id: u,
        user_id: u,
        name: String::new(),
    })?;
    let ids: Vec<UserId> = page.items.iter().map(|s| s.user_id).collect();
    let names = crate::shared::lists::user_names(&*state.store, ids).await?;
    for s in &mut page.items {
        s.name = names.get(&s.user_id).cloned().unwrap_or_default();
    }
    Ok(Json(page))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    /// Who follows: a user id or e-mail address; the caller when absent.
    #[schema(min_length = 1)]
    pub user_id: Option<String>,
}

/// Follows the incident: its stakeholder updates come by e-mail, webhook or chat. Anyone may
/// follow; adding someone else needs the responder role. 201 with the follower.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/subscribers", tag = "incidents", request_body = Subscribe,
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 201, body = SubscriberOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn subscribe(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Subscribe>,
) -> ApiResult<(StatusCode, Json<SubscriberOut>)> {
    let user = match body.user_id.as_deref() {
        Some(u) => terms::user(&state, u, At::Field("user_id")).await?,
        None => caller.user.id,
    };
    caller.require(if user == caller.user.id {
        Role::Viewer
    } else {
        Role::Responder
    })?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    subscribe_with(&state, Who::caller(&caller), id, &user.to_string(), true).await?;
    let names = crate::shared::lists::user_names(&*state.store, vec![user]).await?;
    Ok((
        StatusCode::CREATED,
        Json(SubscriberOut {
            id: user,
            user_id: user,
            name: names.get(&user).cloned().unwrap_or_default(),
        }),
    ))
}

/// Stops following (yourself as a viewer; anyone as a responder).
#[utoipa::path(delete, path = "/api/v1/incidents/{id}/subscribers/{user_id}", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1), ("user_id" = String, Path, description = terms::doc::USER, min_length = 1)),
    responses((status = 200, body = IncidentOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn unsubscribe(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<Json<IncidentOut>> {
    let user = terms::user(&state, &user, At::Path("user_id")).await?;
    caller.require(if user == caller.user.id {
        Role::Viewer
    } else {
        Role::Responder
    })?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    Ok(Json(
        subscribe_with(&state, Who::caller(&caller), id, &user.to_string(), false)
            .await?
            .into(),
    ))
}

/// Posts a stakeholder update to the incident's followers (responder). 201 with the update:
/// the `incident.update_posted` timeline event.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/updates", tag = "incidents", request_body = PostUpdate,
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 201, body = EventOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn post_update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PostUpdate>,
) -> ApiResult<(StatusCode, Json<EventOut>)> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let e = post_update_event_with(&state, Who::caller(&caller), id, body).await?;
    Ok((StatusCode::CREATED, Json(e.into())))
}
