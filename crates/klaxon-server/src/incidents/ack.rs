//! The page behind a one-click acknowledge link (the link itself is made and checked in
//! oncall::ack). GET shows what it would do; only POST acknowledges, since mail scanners follow
//! links.
use crate::oncall::ack::{ACK_KEY, TokenError, check_ack_token};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::web::{Nav, html, message};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use klaxon_domain::incident::IncidentStatus;
use klaxon_store::{Incident, Store, User};

pub fn router() -> Router<AppState> {
    Router::new().route("/ack/{token}", get(confirm_page).post(acknowledge))
}

struct IncidentView {
    number: i64,
    title: String,
    service: String,
    urgency: String,
    status: String,
}

#[derive(Template)]
#[template(path = "ack.html")]
struct AckPage {
    nav: Option<Nav>,
    title: String,
    text: String,
    incident: Option<IncidentView>,
    /// Show the button (as this person).
    confirm: Option<String>,
    action: String,
}

/// What a valid link points at.
struct Target {
    incident: Incident,
    user: User,
    service: String,
}

fn refused(e: TokenError) -> Response {
    match e {
        TokenError::Malformed => message(
            StatusCode::BAD_REQUEST,
            "Link not valid",
            "This acknowledge link is incomplete. Copy the whole link from the message, or acknowledge the incident in Klaxon.",
        ),
        TokenError::Tampered => message(
            StatusCode::FORBIDDEN,
            "Link not valid",
            "This acknowledge link was not issued by this Klaxon server, or it was changed. Acknowledge the incident in Klaxon instead.",
        ),
        TokenError::Expired => message(
            StatusCode::FORBIDDEN,
            "Link expired",
            "This acknowledge link has expired. Acknowledge the incident in Klaxon instead.",
        ),
    }
}

/// The database (or something else) failed: a page, not JSON, since a person follows the link.
fn trouble(e: ApiError) -> Response {
    match e {
        ApiError::Unavailable(reason) => {
            tracing::warn!(%reason, "acknowledge link: unavailable");
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "Klaxon cannot reach its database right now. Try the link again in a moment.",
            )
        }
        e => {
            tracing::error!(error = ?e, "acknowledge link failed");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The incident could not be acknowledged. Acknowledge it in Klaxon instead.",
            )
        }
    }
}

/// A store answer, with "gone" as the page saying so.
#[allow(clippy::result_large_err)] // the error is the page to answer with
fn found<T>(r: Result<T, klaxon_store::StoreError>) -> Result<T, Response> {
    match r {
        Ok(v) => Ok(v),
        Err(e) if e.is_not_found() => Err(gone()),
        Err(e) => Err(trouble(ApiError::from(e))),
    }
}

fn gone() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Nothing to acknowledge",
        "What this link pointed to no longer exists.",
    )
}

/// Checks the token and finds what it points at; the refusal page otherwise.
async fn target(state: &AppState, token: &str) -> Result<Target, Response> {
    let store: &dyn Store = state.store.as_ref();
    let key = store
        .server_key(ACK_KEY)
        .await
        .map_err(|e| trouble(ApiError::from(e)))?;
    let id = check_ack_token(&key, token, state.clock.now()).map_err(|e| {
        tracing::warn!(reason = ?e, "acknowledge link refused");
        refused(e)
    })?;
    let n = found(store.notification(id).await)?;
    let Some(incident_id) = n.incident_id else {
        return Err(message(
            StatusCode::BAD_REQUEST,
            "Nothing to acknowledge",
            "This was a test notification: there is no incident to acknowledge.",
        ));
    };
    let incident = found(store.incident(incident_id).await)?;
    let user = found(store.user(n.user_id).await)?;
    if !user.active() {
        tracing::warn!(user = %user.id, "acknowledge link refused: user deactivated");
        return Err(message(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "The person this link was sent to has been deactivated.",
        ));
    }
    let service = n.payload["service"]["name"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    Ok(Target {
        incident,
        user,
        service,
    })
}

fn view(t: &Target) -> IncidentView {
    IncidentView {
        number: t.incident.number,
        title: t.incident.title.clone(),
        service: t.service.clone(),
        urgency: t.incident.urgency.to_string(),
        status: t.incident.status.to_string(),
    }
}

fn already(t: &Target, token: &str, status: StatusCode) -> Response {
    let text = match t.incident.status {
        IncidentStatus::Resolved => "This incident is already resolved: nothing to do.",
        _ => "This incident is already acknowledged: its escalation has stopped.",
    };
    html(
        status,
        &AckPage {
            nav: None,
            title: format!("Incident {}", t.incident.status),
            text: text.into(),
            incident: Some(view(t)),
            confirm: None,
            action: format!("/ack/{token}"),
        },
    )
}

/// `GET /ack/{token}`: what the link would do, and a button. Changes nothing.
async fn confirm_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let t = match target(&state, &token).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    if t.incident.status != IncidentStatus::Triggered {
        return already(&t, &token, StatusCode::OK);
    }
    html(
        StatusCode::OK,
        &AckPage {
            nav: None,
            title: "Acknowledge this incident?".into(),
            text: "Acknowledging stops the escalation: nobody else is paged for it.".into(),
            incident: Some(view(&t)),
            confirm: Some(t.user.name.clone()),
            action: format!("/ack/{token}"),
        },
    )
}

/// `POST /ack/{token}`: acknowledges the incident as the person the page was sent to.
async fn acknowledge(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let t = match target(&state, &token).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    if !t.user.role.allows(klaxon_domain::auth::Role::Responder) {
        tracing::warn!(user = %t.user.id, role = %t.user.role, "acknowledge link refused: role");
        return message(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Your role in Klaxon does not allow acknowledging incidents.",
        );
    }
    match crate::incidents::api::move_with(
        &state,
        crate::incidents::api::Who::user(&t.user),
        t.incident.id,
        IncidentStatus::Acknowledged,
        None,
    )
    .await
    {
        Ok(incident) => {
            tracing::info!(incident = %incident.id, user = %t.user.id, "acknowledged by link");
            let t = Target { incident, ..t };
            html(
                StatusCode::OK,
                &AckPage {
                    nav: None,
                    title: "Acknowledged".into(),
                    text: format!(
                        "Acknowledged as {}. The escalation has stopped; resolve the incident in Klaxon when it is fixed.",
                        t.user.name
                    ),
                    incident: Some(view(&t)),
                    confirm: None,
                    action: format!("/ack/{token}"),
                },
            )
        }
        Err(ApiError::Conflict { .. }) => {
            // Someone (or an integration) got there first: say where it stands now.
            match state.store.incident(t.incident.id).await {
                Ok(incident) => already(&Target { incident, ..t }, &token, StatusCode::CONFLICT),
                Err(e) => trouble(ApiError::from(e)),
            }
        }
        Err(e) => trouble(e),
    }
}
