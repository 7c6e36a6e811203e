//! A published postmortem's public summary on the status page: attached by a person to the
//! public incidents that tell customers about its incident. The page shows it, its v2 JSON
//! carries it as Statuspage does (`postmortem_body`, `postmortem_published_at`), its feeds
//! lead with it, and its subscribers are told through their notice outbox.
use axum::Json;
use axum::extract::{Path, State};
use jiff::Timestamp;
use klaxon_domain::auth::Role;
use klaxon_domain::event::{EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::IncidentId;
use klaxon_domain::postmortem::Postmortem;
use klaxon_store::{PostmortemAttach, StoreError};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::find;
use crate::incidents::api::Who;
use crate::shared::api::Caller;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(attach_to_status_page))
}

/// A public incident that tells customers about the postmortem's incident.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicIncidentOut {
    /// The status page's slug and name.
    pub page: String,
    pub page_name: String,
    /// The public incident's 12-character code and its public title.
    pub code: String,
    pub name: String,
    /// When the postmortem's public summary went on it; null while it has none.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub postmortem_published_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicIncidentList {
    pub items: Vec<PublicIncidentOut>,
}

/// The incident's public incidents (maintenances are not about incidents), oldest first.
pub async fn public_incidents(
    state: &AppState,
    incident: IncidentId,
) -> ApiResult<Vec<PublicIncidentOut>> {
    let mut out = Vec::new();
    for i in state.store.status_incidents_of(incident).await? {
        if i.maintenance {
            continue;
        }
        let page = match state.store.status_page(i.page_id).await {
            Ok(p) => p,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        };
        out.push(PublicIncidentOut {
            page: page.slug,
            page_name: page.name,
            code: i.code,
            name: i.name,
            postmortem_published_at: i.postmortem.map(|p| p.published_at),
        });
    }
    Ok(out)
}

fn conflict(field: &str, reason: &str) -> ApiError {
    ApiError::Conflict {
        message: format!("{field}: {reason}"),
        field: Some(field.to_owned()),
    }
}

/// Attaches the published postmortem's public summary to each of its incident's public
/// incidents that does not show it yet; the public incidents as they now are.
pub async fn attach_with(
    state: &AppState,
    who: Who,
    pm: &Postmortem,
) -> ApiResult<Vec<PublicIncidentOut>> {
    let body = pm.shareable_summary()?.to_owned();
    let now = state.clock.now();
    let mut targets = Vec::new();
    let mut codes = Vec::new();
    for i in state.store.status_incidents_of(pm.incident_id).await? {
        if i.maintenance || i.postmortem.is_some() {
            continue;
        }
        let slug = state
            .store
            .status_page(i.page_id)
            .await
            .map(|p| p.slug)
            .unwrap_or_default();
        codes.push(json!({"status_incident": i.code, "page": slug}));
        let data = json!({"status_incident": i.code, "page": slug, "name": i.name,
                          "postmortem_id": pm.id, "incident_id": pm.incident_id});
        targets.push((
            i.id,
            NewEvent::new(
                SubjectType::StatusPage,
                i.page_id,
                now,
                who.actor,
                EventKind::StatusPostmortemAttached,
                data,
            ),
        ));
    }
    if targets.is_empty() {
        let any = !public_incidents(state, pm.incident_id).await?.is_empty();
        return Err(if any {
            conflict(
                "status_page",
                "every status-page incident of this incident already shows the postmortem",
            )
        } else {
            conflict(
                "status_page",
                "the incident has no status-page incident: publish one on a status page, naming this incident, first",
            )
        });
    }
    let event = NewEvent::new(
        SubjectType::Incident,
        pm.incident_id,
        now,
        who.actor,
        EventKind::PostmortemAttached,
        json!({"postmortem_id": pm.id, "status_incidents": codes}),
    );
    let attach = PostmortemAttach {
        postmortem: pm.id,
        incident: pm.incident_id,
        body,
        at: now,
        event,
        targets,
    };
    match state.store.attach_postmortem(attach).await {
        Ok(()) => {}
        // Changed meanwhile (another person attached it first): nothing was written.
        Err(StoreError::Conflict { .. }) => {
            return Err(conflict(
                "status_page",
                "the status page changed meanwhile; look again",
            ));
        }
        Err(e) => return Err(ApiError::or_not_found("postmortem")(e)),
    }
    state.status_refresh.changed().await;
    state.incident_changes.notify_waiters();
    public_incidents(state, pm.incident_id).await
}

/// Puts the published postmortem's public summary on the status page (responder): on each
/// public incident of its incident that does not show it yet. 409 unless it is published
/// with a public summary, or when its incident has no public incident without it.
#[utoipa::path(post, path = "/api/v1/postmortems/{id}/status-page", tag = "postmortems", operation_id = "attach_postmortem_to_status_page",
    params(("id" = String, Path, description = "The postmortem's id, or its incident's id or number", min_length = 1)),
    responses((status = 200, body = PublicIncidentList), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn attach_to_status_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PublicIncidentList>> {
    caller.require(Role::Responder)?;
    let pm = find(&state, &id).await?;
    let items = attach_with(&state, Who::caller(&caller), &pm).await?;
    Ok(Json(PublicIncidentList { items }))
}
