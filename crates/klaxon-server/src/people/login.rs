//! Signing in and out of the web UI: a session cookie, with a CSRF token for forms.
use crate::shared::crypto::{random_bytes, random_token, secrets_equal, sha256};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::web::Nav;
use crate::shared::web::WebSession;
use crate::shared::web::html;
use crate::shared::web::{CsrfForm, Origin, cookie, cookie_name, origin, set_cookie};
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiff::SignedDuration;
use klaxon_domain::auth::{EmailAddress, Failures, LoginThrottle};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::SessionId;
use klaxon_store::NewSession;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;

// --- login and logout --------------------------------------------------------------------------

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Option<Nav>,
    csrf: String,
    email: String,
    error: Option<String>,
}

/// The login form carries a token that must match a cookie set with it (double submit), so
/// another site cannot log a victim into an account of its choosing.
fn login_form(status: StatusCode, tls: bool, email: String, error: Option<String>) -> Response {
    let csrf = random_token();
    let mut resp = html(
        status,
        &LoginPage {
            nav: None,
            csrf: csrf.clone(),
            email,
            error,
        },
    );
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&cookie_name(tls, "klaxon_login"), &csrf, 3600, tls),
    );
    resp
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: ConnectInfo<SocketAddr>,
) -> Response {
    let o = origin(&state, &headers, Some(peer.0));
    login_form(StatusCode::OK, o.tls, String::new(), None)
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    csrf: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: ConnectInfo<SocketAddr>,
    Form(form): Form<LoginForm>,
) -> Response {
    let o = origin(&state, &headers, Some(peer.0));
    let expected = cookie(&headers, &cookie_name(o.tls, "klaxon_login")).unwrap_or_default();
    if expected.is_empty() || !secrets_equal(&form.csrf, &expected) {
        return login_form(
            StatusCode::FORBIDDEN,
            o.tls,
            form.email,
            Some("The form expired. Please try again.".into()),
        );
    }
    match try_login(&state, &o, &form).await {
        Ok(session_token) => {
            let mut resp = Redirect::to("/").into_response();
            let max_age = state.settings.auth.session_absolute_hours * 3600;
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(
                    &cookie_name(o.tls, "klaxon_session"),
                    &session_token,
                    max_age,
                    o.tls,
                ),
            );
            h.append(
                header::SET_COOKIE,
                set_cookie(&cookie_name(o.tls, "klaxon_login"), "", 0, o.tls),
            );
            resp
        }
        Err(LoginError::Refused) => login_form(
            StatusCode::UNAUTHORIZED,
            o.tls,
            form.email,
            Some("Wrong e-mail or password.".into()),
        ),
        Err(LoginError::Throttled) => login_form(
            StatusCode::TOO_MANY_REQUESTS,
            o.tls,
            form.email,
            Some("Too many failed attempts. Wait a few minutes and try again.".into()),
        ),
        Err(LoginError::Failed(e)) => e.into_response(),
    }
}

enum LoginError {
    Refused,
    Throttled,
    Failed(ApiError),
}

impl<E: Into<ApiError>> From<E> for LoginError {
    fn from(e: E) -> Self {
        LoginError::Failed(e.into())
    }
}

/// The configured limits on failed password checks.
pub(crate) fn login_throttle(a: &crate::shared::config::AuthSettings) -> LoginThrottle {
    LoginThrottle {
        window: SignedDuration::from_mins(a.login_window_minutes),
        per_account_and_address: a.login_failures_per_account_and_address,
        per_account: a.login_failures_per_account,
        per_address: a.login_failures_per_address,
    }
}

/// Checks the throttle, then the password; on success opens a session and returns its token.
async fn try_login(state: &AppState, o: &Origin, form: &LoginForm) -> Result<String, LoginError> {
    let now = state.clock.now();
    let throttle = login_throttle(&state.settings.auth);
    let email = EmailAddress::parse(&form.email)
        .map(|e| e.to_string())
        .unwrap_or_else(|_| form.email.trim().to_lowercase());
    let account_key = format!("account:{email}");
    let pair_key = format!("account-addr:{email}|{}", o.addr);
    let addr_key = format!("addr:{}", o.addr);
    let since = throttle.since(now);
    let store = &state.store;
    let failures = Failures {
        account_and_address: store.count_login_failures(&pair_key, since).await?,
        account: store.count_login_failures(&account_key, since).await?,
        address: store.count_login_failures(&addr_key, since).await?,
    };
    if throttle.blocked(failures) {
        tracing::warn!(%email, addr = %o.addr, "login throttled");
        return Err(LoginError::Throttled);
    }
    let creds = match state.store.user_credentials(&email).await {
        Ok(c) => Some(c),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    let ok = state
        .passwords
        .verify(
            &form.password,
            creds.as_ref().map(|c| c.password_hash.clone()),
        )
        .await?;
    // A deactivated user is refused like a wrong password: the form reveals nothing.
    let Some(creds) = creds.filter(|c| ok && c.user.active()) else {
        tracing::warn!(%email, addr = %o.addr, "login failed");
        let event = NewEvent::new(
            SubjectType::System,
            "login",
            now,
            Actor::System,
            EventKind::UserLoginFailed,
            json!({"email": email, "addr": o.addr}),
        );
        state
            .store
            .record_login_failure(&[account_key, pair_key, addr_key], now, event)
            .await?;
        return Err(LoginError::Refused);
    };
    state.store.clear_login_failures(&account_key).await?;
    state.store.clear_login_failures(&pair_key).await?;
    let token = random_token();
    let user = creds.user;
    let event = NewEvent::new(
        SubjectType::User,
        user.id,
        now,
        Actor::User(user.id),
        EventKind::UserLoggedIn,
        json!({"addr": o.addr}),
    );
    state
        .store
        .create_session(
            NewSession {
                id: SessionId::new(now, random_bytes()),
                user_id: user.id,
                hash: sha256(token.as_bytes()),
                csrf_token: random_token(),
                created_at: now,
                client_addr: o.addr.clone(),
            },
            event,
        )
        .await?;
    tracing::info!(user = %user.id, addr = %o.addr, "logged in");
    Ok(token)
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: ConnectInfo<SocketAddr>,
    s: WebSession,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(r) = s.check_csrf(&form.csrf) {
        return r;
    }
    let now = state.clock.now();
    let event = NewEvent::new(
        SubjectType::User,
        s.user.id,
        now,
        Actor::User(s.user.id),
        EventKind::UserLoggedOut,
        json!({}),
    );
    if let Err(e) = state.store.delete_session(&s.hash, Some(event)).await
        && !e.is_not_found()
    {
        return ApiError::from(e).into_response();
    }
    let o = origin(&state, &headers, Some(peer.0));
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&cookie_name(o.tls, "klaxon_session"), "", 0, o.tls),
    );
    resp
}
