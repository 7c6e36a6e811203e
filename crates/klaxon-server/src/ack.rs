//! One-click acknowledge links, sent in page e-mails and texts.
//!
//! A link is `{public_url}/ack/{token}`. The token names the notification it was sent with (so
//! the incident and the person paged) and when it expires, and carries an HMAC-SHA256 tag made
//! with a server key kept in the database (the same on every instance, across restarts):
//!
//! ```text
//! token = base64url( notification id (16 bytes) ‖ expiry, Unix seconds (4 bytes, big-endian)
//!                    ‖ first 16 bytes of HMAC-SHA256(key, "klaxon-ack-v1" ‖ 0 ‖ id ‖ expiry) )
//! ```
//!
//! 36 bytes, 48 characters: short enough for a text message. The tag is checked in constant
//! time before anything else is read from the token, so a changed id or expiry is refused as
//! tampered.
//!
//! `GET` shows what the link would do and a button; only `POST` acknowledges. Mail scanners
//! and link previews follow links, and must not acknowledge pages on someone's behalf.
//! The `POST` needs no session or CSRF token: the token in its path is the credential, and a
//! forged cross-site `POST` would have to know it.
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::ids::NotificationId;
use klaxon_domain::incident::IncidentStatus;
use klaxon_store::{Incident, Store, User};
use uuid::Uuid;

use crate::app::AppState;
use crate::crypto::{base64url, bytes_equal, hmac_sha256, unbase64url};
use crate::error::ApiError;
use crate::web::{Nav, html, message};

/// The name of the server key links are signed with.
pub const ACK_KEY: &str = "ack-links";
/// How long a link works after it was sent.
pub const ACK_LINK_TTL: SignedDuration = SignedDuration::from_hours(24);

const DOMAIN: &[u8] = b"klaxon-ack-v1\0";
const ID_LEN: usize = 16;
const EXPIRY_LEN: usize = 4;
const TAG_LEN: usize = 16;
const TOKEN_LEN: usize = ID_LEN + EXPIRY_LEN + TAG_LEN;

fn tag(key: &[u8; 32], signed: &[u8]) -> [u8; TAG_LEN] {
    let mut data = DOMAIN.to_vec();
    data.extend_from_slice(signed);
    let mac = hmac_sha256(key, &data);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&mac[..TAG_LEN]);
    tag
}

/// The token for notification `id`, working until `expires` (whole seconds, at most 2106).
pub fn ack_token(key: &[u8; 32], id: NotificationId, expires: Timestamp) -> String {
    let secs = u32::try_from(expires.as_second().max(0)).unwrap_or(u32::MAX);
    let mut bytes = Vec::with_capacity(TOKEN_LEN);
    bytes.extend_from_slice(id.0.as_bytes());
    bytes.extend_from_slice(&secs.to_be_bytes());
    let tag = tag(key, &bytes);
    bytes.extend_from_slice(&tag);
    base64url(&bytes)
}

/// The link to put in a message: absolute when the server knows its public URL.
pub fn ack_url(public_url: Option<&str>, token: &str) -> String {
    format!(
        "{}/ack/{token}",
        public_url.unwrap_or("").trim_end_matches('/')
    )
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token at all (cut short, wrong characters).
    Malformed,
    /// Made with another key, or changed since.
    Tampered,
    Expired,
}

/// The notification a token names, once its tag matches and it has not expired at `now`.
pub fn check_ack_token(
    key: &[u8; 32],
    token: &str,
    now: Timestamp,
) -> Result<NotificationId, TokenError> {
    let bytes = unbase64url(token).ok_or(TokenError::Malformed)?;
    if bytes.len() != TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let (signed, given) = bytes.split_at(ID_LEN + EXPIRY_LEN);
    if !bytes_equal(&tag(key, signed), given) {
        return Err(TokenError::Tampered);
    }
    let (id, expiry) = signed.split_at(ID_LEN);
    let id = Uuid::from_slice(id).map_err(|_| TokenError::Malformed)?;
    let expires = u32::from_be_bytes(expiry.try_into().map_err(|_| TokenError::Malformed)?);
    if now.as_second() >= i64::from(expires) {
        return Err(TokenError::Expired);
    }
    Ok(NotificationId(id))
}

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
    match crate::incidents::move_with(
        &state,
        crate::incidents::Who::user(&t.user),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> NotificationId {
        NotificationId::new("2026-11-21T09:00:00Z".parse().unwrap(), [7; 10])
    }

    #[test]
    fn tokens_verify_until_they_expire_and_refuse_any_change() {
        let key = [42u8; 32];
        let now: Timestamp = "2026-11-21T09:00:00Z".parse().unwrap();
        let expires = now.checked_add(ACK_LINK_TTL).unwrap();
        let token = ack_token(&key, id(), expires);
        assert_eq!(token.len(), 48, "{token}");
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(check_ack_token(&key, &token, now), Ok(id()));
        let almost = expires.checked_sub(SignedDuration::from_secs(1)).unwrap();
        assert_eq!(check_ack_token(&key, &token, almost), Ok(id()));
        assert_eq!(
            check_ack_token(&key, &token, expires),
            Err(TokenError::Expired)
        );
        // Another key, or any byte changed (id, expiry or tag): tampered.
        assert_eq!(
            check_ack_token(&[43u8; 32], &token, now),
            Err(TokenError::Tampered)
        );
        let raw = unbase64url(&token).unwrap();
        for i in 0..raw.len() {
            let mut changed = raw.clone();
            changed[i] ^= 1;
            assert_eq!(
                check_ack_token(&key, &base64url(&changed), now),
                Err(TokenError::Tampered),
                "byte {i}"
            );
        }
        // A later expiry with the old tag does not pass.
        let mut later = raw;
        later[ID_LEN..ID_LEN + EXPIRY_LEN].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            check_ack_token(&key, &base64url(&later), now),
            Err(TokenError::Tampered)
        );
        for bad in ["", "x", &token[..47], &format!("{token}A"), "not a token!"] {
            assert_eq!(
                check_ack_token(&key, bad, now),
                Err(TokenError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            ack_url(Some("https://klaxon.example.com/"), &token),
            format!("https://klaxon.example.com/ack/{token}")
        );
    }
}
