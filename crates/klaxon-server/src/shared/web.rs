//! The web shell every page slots into: the navigation, rendering a template or a message, the
//! signed-in session (cookie and CSRF token), and page errors.
use std::collections::BTreeMap;
use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::SignedDuration;
use klaxon_domain::auth::{Role, SessionPolicy};
use klaxon_store::{Session, User};
use serde::Deserialize;

use crate::shared::crypto::{secrets_equal, sha256};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::time::Reader;

// --- rendering ---------------------------------------------------------------------------------

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The top bar of a signed-in page.
pub struct Nav {
    pub items: Vec<NavItem>,
    pub user_name: String,
    pub role: Role,
    pub csrf: String,
    /// The reader's zone, named in the top bar; until they choose one the page offers the
    /// browser's.
    pub zone: String,
    pub zone_chosen: bool,
    /// Where the zone offer returns to.
    pub back: String,
}

impl Nav {
    pub(crate) fn new(s: &WebSession, current: &str) -> Self {
        let mut items = vec![NavItem {
            href: "/",
            label: "Dashboard",
            current: false,
        }];
        for (href, label) in [
            ("/incidents", "Incidents"),
            ("/runbooks", "Runbooks"),
            ("/workflows", "Workflows"),
            ("/drills", "Drills"),
            ("/action-items", "Action items"),
            ("/postmortems", "Postmortems"),
            ("/alerts", "Alerts"),
            ("/services", "Services"),
            ("/escalation-policies", "Escalation policies"),
            ("/schedules", "Schedules"),
            ("/users", "Users"),
            ("/checks", "Checks"),
            ("/slos", "SLOs"),
            ("/insights", "Insights"),
            ("/status-pages", "Status pages"),
            ("/webhooks", "Webhooks"),
            ("/profile", "Profile"),
        ] {
            if href == "/webhooks" && s.user.role != Role::Admin {
                continue;
            }
            items.push(NavItem {
                href,
                label,
                current: false,
            });
        }
        for i in &mut items {
            i.current = i.href == current;
        }
        let reader = s.reader();
        Self {
            items,
            user_name: s.user.name.clone(),
            role: s.user.role,
            csrf: s.session.csrf_token.clone(),
            zone: reader.zone,
            zone_chosen: reader.chosen,
            back: current.to_owned(),
        }
    }
}

/// A page's `cursor` query parameter: the hex of the id to continue after.
pub(crate) fn page_cursor<T: std::str::FromStr>(c: Option<&str>) -> Option<T> {
    c.and_then(crate::shared::crypto::unhex)
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
}

pub(crate) fn next_cursor(id: Option<impl std::fmt::Display>) -> Option<String> {
    id.map(|i| crate::shared::crypto::hex(i.to_string().as_bytes()))
}

pub(crate) fn html(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(body) => {
            let mut resp = (status, axum::response::Html(body)).into_response();
            let h = resp.headers_mut();
            // The UI needs nothing from elsewhere; say so to the browser.
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
                ),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => ApiError::Internal(anyhow::anyhow!("render: {e}")).into_response(),
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    nav: Option<Nav>,
    title: &'a str,
    text: &'a str,
}

pub(crate) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    html(
        status,
        &MessagePage {
            nav: None,
            title,
            text,
        },
    )
}

/// The page for an address nothing answers.
pub fn no_such_page() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no page at this address.",
    )
}

/// A Server-Sent Events answer, kept alive every 15 seconds. It ends when graceful shutdown
/// begins: the shutdown would otherwise wait out the stream, and the browser reconnects (to
/// another instance, or to this one once it is back).
pub fn event_stream<S>(state: &AppState, events: S) -> Response
where
    S: futures_util::Stream<Item = Result<Event, std::convert::Infallible>> + Send + 'static,
{
    use futures_util::StreamExt as _;
    Sse::new(events.take_until(state.shutting_down.begun()))
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response()
}

// --- sessions ----------------------------------------------------------------------------------

/// Where the request came from and how: the client address and whether it arrived over TLS.
pub(crate) struct Origin {
    pub(crate) addr: String,
    pub(crate) tls: bool,
}

pub(crate) fn origin(state: &AppState, headers: &HeaderMap, peer: Option<SocketAddr>) -> Origin {
    let trust = state.settings.server.trust_proxy_headers;
    let forwarded = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or("").trim().to_owned())
    };
    let addr = trust
        .then(|| forwarded("x-forwarded-for"))
        .flatten()
        .filter(|a| !a.is_empty())
        .or_else(|| peer.map(|p| p.ip().to_string()))
        .unwrap_or_else(|| "unknown".into());
    let tls = state.settings.public_url_is_https()
        || (trust && forwarded("x-forwarded-proto").as_deref() == Some("https"));
    Origin { addr, tls }
}

/// `__Host-` cookies must be Secure; over plain HTTP (a laptop, a test) use the bare name.
pub(crate) fn cookie_name(tls: bool, base: &str) -> String {
    if tls {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

pub(crate) fn set_cookie(name: &str, value: &str, max_age_secs: i64, tls: bool) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .expect("cookie is ASCII")
}

pub(crate) fn session_policy(state: &AppState) -> SessionPolicy {
    SessionPolicy {
        absolute: SignedDuration::from_hours(state.settings.auth.session_absolute_hours),
        idle: SignedDuration::from_mins(state.settings.auth.session_idle_minutes),
    }
}

/// A signed-in browser. Pages that need one redirect to the login page without it.
pub struct WebSession {
    pub user: User,
    pub session: Session,
    pub(crate) hash: [u8; 32],
    /// When the request arrived, by the app's clock.
    pub(crate) now: jiff::Timestamp,
}

impl WebSession {
    /// How this person reads times: their zone, and now.
    pub fn reader(&self) -> Reader {
        Reader::new(self.user.time_zone.as_deref(), self.now)
    }

    /// The hash of this session's cookie, which names the session in the store.
    pub(crate) fn cookie_hash(&self) -> [u8; 32] {
        self.hash
    }

    #[allow(clippy::result_large_err)] // the error is the page to answer with
    pub(crate) fn check_csrf(&self, submitted: &str) -> Result<(), Response> {
        if secrets_equal(submitted, &self.session.csrf_token) {
            Ok(())
        } else {
            tracing::warn!(user = %self.user.id, "CSRF token mismatch");
            Err(message(
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not issued to your session. Reload the page and try again.",
            ))
        }
    }
}

impl FromRequestParts<AppState> for WebSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || Redirect::to("/login").into_response();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let o = origin(state, &parts.headers, peer);
        let Some(value) = cookie(&parts.headers, &cookie_name(o.tls, "klaxon_session")) else {
            return Err(to_login());
        };
        let hash = sha256(value.as_bytes());
        let (session, user) = match state.store.session_by_hash(&hash).await {
            Ok(found) => found,
            Err(e) if e.is_not_found() => return Err(to_login()),
            Err(e) => return Err(ApiError::from(e).into_response()),
        };
        let now = state.clock.now();
        if !session_policy(state).is_live(session.created_at, session.last_seen_at, now) {
            let _ = state.store.delete_session(&hash, None).await;
            return Err(to_login());
        }
        // Record activity at most once a minute: reads should not all become writes.
        if now.duration_since(session.last_seen_at) >= SignedDuration::from_mins(1) {
            state
                .store
                .touch_session(&hash, now)
                .await
                .map_err(|e| ApiError::from(e).into_response())?;
        }
        Ok(Self {
            user,
            session,
            hash,
            now,
        })
    }
}

pub(crate) type PageResult = Result<Response, ApiError>;

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    pub(crate) csrf: String,
}

pub(crate) fn not_found_page() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is nothing here; it may have been deleted.",
    )
}

pub(crate) fn forbidden(what: &str) -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Not allowed",
        &format!("Your role cannot {what}."),
    )
}

/// On a page with several forms: the one refused, its reasons (shown beside each field) and
/// what was typed in it, so that the page comes back with it. The other forms render clean.
#[derive(Default)]
pub(crate) struct Refused {
    pub(crate) form: &'static str,
    pub(crate) errors: FormErrors,
    pub(crate) typed: BTreeMap<String, String>,
}

/// The errors of a form that was not refused.
static NO_ERRORS: FormErrors = FormErrors {
    fields: Vec::new(),
    general: None,
};

impl Refused {
    pub(crate) fn new(form: &'static str, errors: FormErrors, typed: &[(&str, &str)]) -> Self {
        Self {
            form,
            errors,
            typed: typed
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// The refusal of `form`, or none when another form (or none) was refused.
    pub(crate) fn errs(&self, form: &str) -> &FormErrors {
        if self.form == form {
            &self.errors
        } else {
            &NO_ERRORS
        }
    }

    /// What was typed in `form`'s `field` when it was refused, else `default`.
    pub(crate) fn typed<'a>(&'a self, form: &str, field: &str, default: &'a str) -> &'a str {
        if self.form == form {
            self.typed.get(field).map_or(default, String::as_str)
        } else {
            default
        }
    }

    /// ` aria-invalid="true" aria-describedby="ID-error"` for a refused field.
    pub(crate) fn invalid(&self, form: &str, field: &str, id: &str) -> String {
        if self.errs(form).get(field).is_some() {
            format!(r#" aria-invalid="true" aria-describedby="{id}-error""#)
        } else {
            String::new()
        }
    }

    /// Whether the refused form is this one, to show it unfolded.
    pub(crate) fn is(&self, form: &str) -> bool {
        self.form == form
    }
}

/// A form's refusal, split for the page: a message beside each named field, and the rest at the
/// top. Built from the same `ApiError` the API answers with, in plain words: the field's name is
/// not repeated ("already in use" beside the e-mail box, not `email: already in use`).
#[derive(Default, Debug)]
pub struct FormErrors {
    fields: Vec<(String, String)>,
    general: Option<String>,
}

impl FormErrors {
    /// A refusal becomes form errors; anything else (a failure of ours) stays an error.
    pub(crate) fn from_error(e: ApiError) -> Result<Self, ApiError> {
        let field = match &e {
            ApiError::BadRequest { field, .. } | ApiError::Conflict { field, .. } => field.clone(),
            ApiError::NotFound(_) | ApiError::Forbidden(_) => None,
            _ => return Err(e),
        };
        let message = e.to_string();
        Ok(match field {
            Some(f) => {
                let reason = message
                    .strip_prefix(&format!("{f}: "))
                    .unwrap_or(&message)
                    .to_owned();
                Self {
                    fields: vec![(f, sentence(&reason))],
                    general: None,
                }
            }
            None => Self {
                fields: Vec::new(),
                general: Some(sentence(&message)),
            },
        })
    }

    /// One message for one field, from a page's own check.
    pub fn field(field: &str, message: &str) -> Self {
        Self {
            fields: vec![(field.to_owned(), sentence(message))],
            general: None,
        }
    }

    /// These and `other`'s, for a form that checks several fields at once.
    pub(crate) fn and(mut self, other: FormErrors) -> Self {
        self.fields.extend(other.fields);
        self.general = self.general.or(other.general);
        self
    }

    /// The message for `field`, or for one of its parts (`levels[1].targets` counts for
    /// `levels[1]`).
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| Self::matches(f, field))
            .map(|(_, m)| m.as_str())
    }

    /// What belongs to no field shown on the form.
    pub fn general(&self) -> Option<&str> {
        self.general.as_deref()
    }

    /// Messages for fields the form does not show, so that none is lost: call with the fields
    /// the form has a place for.
    pub fn others<'s, S: AsRef<[&'s str]> + ?Sized>(&self, shown: &S) -> Vec<&str> {
        let shown = shown.as_ref();
        self.fields
            .iter()
            .filter(|(f, _)| !shown.iter().any(|s| Self::matches(f, s)))
            .map(|(_, m)| m.as_str())
            .chain(self.general.as_deref())
            .collect()
    }

    fn matches(f: &str, shown: &str) -> bool {
        f == shown
            || f.strip_prefix(shown)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_none()
    }
}

/// "already in use" → "Already in use."
fn sentence(s: &str) -> String {
    let s = s.trim();
    let mut out: String = s
        .chars()
        .next()
        .map(|c| c.to_uppercase().chain(s.chars().skip(1)).collect())
        .unwrap_or_default();
    if !out.is_empty() && !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}
