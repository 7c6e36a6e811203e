//! The server-rendered web UI: login, the layout every page slots into, and the first pages.
use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use jiff::SignedDuration;
use klaxon_domain::auth::{EmailAddress, LoginThrottle, Role, SessionPolicy};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::SessionId;
use klaxon_domain::page::Limit;
use klaxon_store::{NewSession, Session, User};
use serde::Deserialize;
use serde_json::json;

use crate::shared::crypto::{random_bytes, random_token, secrets_equal, sha256};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;

const CSS: &str = concat!(
    include_str!("../../assets/app.css"),
    r#"
/* on-call: escalation policies, profile, incident actions */
select[multiple] { min-height: 6.5rem; }
fieldset.level { border: 1px solid var(--line); border-radius: 6px; margin: .8rem 0 0; padding: .2rem .8rem .8rem; }
fieldset.level legend { font-weight: 600; padding: 0 .3rem; }
ul.levels { margin: 0; padding-left: 1.1rem; }
.secret code { word-break: break-all; font-size: 1.05rem; }
.actions { display: flex; gap: .6rem; margin: 1rem 0; }
.actions form button { margin: 0; }
.status-failed { color: #b91c1c; font-weight: 600; }
.status-sent { color: #15803d; }
/* schedules: the timeline of shifts */
.muted { color: var(--muted); }
.row { display: flex; gap: .6rem; align-items: center; }
.timeline-controls { display: flex; flex-wrap: wrap; gap: .6rem; align-items: center; margin: .5rem 0; }
.timeline-controls input, .timeline-controls select, .timeline-controls button { width: auto; margin: 0; }
.timeline { border: 1px solid var(--line); border-radius: 6px; background: var(--card); padding: .4rem; overflow-x: auto; }
.tl-row { display: flex; align-items: stretch; min-width: 40rem; }
.tl-row + .tl-row { border-top: 1px solid var(--line); }
.tl-label { flex: 0 0 9rem; padding: .4rem; font-weight: 600; font-size: .9rem; }
.tl-track { position: relative; flex: 1; min-height: 2.9rem; }
.tl-axis .tl-track { min-height: 1.4rem; }
.tick { position: absolute; top: 0; font-size: .75rem; color: var(--muted); border-left: 1px solid var(--line); padding-left: .2rem; white-space: nowrap; }
.bar { position: absolute; top: .25rem; bottom: .25rem; border-radius: 4px; overflow: hidden; padding: .1rem .3rem; font-size: .75rem; line-height: 1.2; color: #fff; box-sizing: border-box; border-right: 1px solid var(--card); }
.bar span { display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.bar .bar-who { font-weight: 600; }
.bar.c0 { background: #2e86c1; } .bar.c1 { background: #7d3c98; } .bar.c2 { background: #1e8449; }
.bar.c3 { background: #b9770e; } .bar.c4 { background: #c0392b; } .bar.c5 { background: #566573; }
.tl-track .empty { position: absolute; top: .8rem; left: .4rem; font-size: .85rem; }
"#
);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard))
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/users", get(users_page).post(add_user))
        .route("/assets/app.css", get(css))
        .merge(crate::alerts::web::router())
        .merge(crate::incidents::web::router())
        .merge(crate::webhooks::web::router())
        .merge(crate::people::web::router())
        .merge(crate::oncall::web::router())
        .merge(crate::oncall::schedules::web::router())
        .merge(crate::oncall::schedules::calendar::router())
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

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
            ("/alerts", "Alerts"),
            ("/services", "Services"),
            ("/escalation-policies", "Escalation policies"),
            ("/schedules", "Schedules"),
            ("/users", "Users"),
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
        Self {
            items,
            user_name: s.user.name.clone(),
            role: s.user.role,
            csrf: s.session.csrf_token.clone(),
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

pub fn not_found_page() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no page at this address.",
    )
}

// --- sessions ----------------------------------------------------------------------------------

/// Where the request came from and how: the client address and whether it arrived over TLS.
struct Origin {
    addr: String,
    tls: bool,
}

fn origin(state: &AppState, headers: &HeaderMap, peer: Option<SocketAddr>) -> Origin {
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
fn cookie_name(tls: bool, base: &str) -> String {
    if tls {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn set_cookie(name: &str, value: &str, max_age_secs: i64, tls: bool) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .expect("cookie is ASCII")
}

fn session_policy(state: &AppState) -> SessionPolicy {
    SessionPolicy {
        absolute: SignedDuration::from_hours(state.settings.auth.session_absolute_hours),
        idle: SignedDuration::from_mins(state.settings.auth.session_idle_minutes),
    }
}

/// A signed-in browser. Pages that need one redirect to the login page without it.
pub struct WebSession {
    pub user: User,
    pub session: Session,
    hash: [u8; 32],
}

impl WebSession {
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
        })
    }
}

// --- login and logout --------------------------------------------------------------------------

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

/// Checks the throttle, then the password; on success opens a session and returns its token.
async fn try_login(state: &AppState, o: &Origin, form: &LoginForm) -> Result<String, LoginError> {
    let now = state.clock.now();
    let a = &state.settings.auth;
    let throttle = LoginThrottle {
        window: SignedDuration::from_mins(a.login_window_minutes),
        per_account: a.login_failures_per_account,
        per_address: a.login_failures_per_address,
    };
    let email = EmailAddress::parse(&form.email)
        .map(|e| e.to_string())
        .unwrap_or_else(|_| form.email.trim().to_lowercase());
    let account_key = format!("account:{email}");
    let addr_key = format!("addr:{}", o.addr);
    let since = throttle.since(now);
    if throttle.account_blocked(
        state
            .store
            .count_login_failures(&account_key, since)
            .await?,
    ) || throttle.address_blocked(state.store.count_login_failures(&addr_key, since).await?)
    {
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
            .record_login_failure(&[account_key, addr_key], now, event)
            .await?;
        return Err(LoginError::Refused);
    };
    state.store.clear_login_failures(&account_key).await?;
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

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
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

// --- pages -------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Option<Nav>,
    user_name: String,
    user_email: String,
    user_count: u64,
    database: &'static str,
    pending_jobs: u64,
    events: Vec<(String, String)>,
    on_call: Vec<crate::oncall::schedules::web::NowRow>,
    /// Open incidents, worst and oldest first: (id, "#n title", severity, status, age).
    open_incidents: Vec<crate::incidents::web::OpenRow>,
}

async fn dashboard(State(state): State<AppState>, s: WebSession) -> Result<Response, ApiError> {
    let user_count = state.store.count_users().await?;
    let pending_jobs = state.store.count_live_jobs().await?;
    let mut events = state
        .store
        .events(SubjectType::User, &s.user.id.to_string(), None, 500)
        .await?;
    events.reverse();
    events.truncate(10);
    let on_call = crate::oncall::schedules::web::on_call_now(&state).await?;
    let open_incidents = crate::incidents::web::open_rows(&state).await?;
    let page = DashboardPage {
        open_incidents,
        on_call,
        nav: Some(Nav::new(&s, "/")),
        user_name: s.user.name.clone(),
        user_email: s.user.email.clone(),
        user_count,
        database: state.store.backend(),
        pending_jobs,
        events: events
            .into_iter()
            .map(|e| {
                (
                    e.at.strftime("%Y-%m-%d %H:%M").to_string(),
                    e.kind.as_str().to_owned(),
                )
            })
            .collect(),
    };
    Ok(html(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Option<Nav>,
    users: Vec<User>,
    next_cursor: Option<String>,
    can_create: bool,
    csrf: String,
    message: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct UsersQuery {
    cursor: Option<String>,
}

async fn render_users(
    state: &AppState,
    s: &WebSession,
    cursor: Option<String>,
    status: StatusCode,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let page = state
        .store
        .list_users(page_cursor(cursor.as_deref()), Limit::DEFAULT.get())
        .await?;
    let next_cursor = next_cursor(page.next);
    Ok(html(
        status,
        &UsersPage {
            nav: Some(Nav::new(s, "/users")),
            users: page.items,
            next_cursor,
            can_create: s.user.role.allows(Role::Admin),
            csrf: s.session.csrf_token.clone(),
            message,
            error,
        },
    ))
}

async fn users_page(
    State(state): State<AppState>,
    s: WebSession,
    Query(q): Query<UsersQuery>,
) -> Result<Response, ApiError> {
    render_users(&state, &s, q.cursor, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
struct AddUserForm {
    csrf: String,
    name: String,
    email: String,
    role: String,
    password: String,
}

async fn add_user(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<AddUserForm>,
) -> Result<Response, ApiError> {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    if !s.user.role.allows(Role::Admin) {
        return Ok(message(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Only admins can add users.",
        ));
    }
    let outcome = match f.role.parse::<Role>() {
        Ok(role) => {
            let body = crate::people::api::CreateUser {
                email: f.email,
                name: f.name,
                role,
                password: f.password,
            };
            crate::people::api::create_user_with(&state, Actor::User(s.user.id), &body).await
        }
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(u) => {
            render_users(
                &state,
                &s,
                None,
                StatusCode::OK,
                Some(format!("Added {}.", u.email)),
                None,
            )
            .await
        }
        Err(e @ (ApiError::BadRequest { .. } | ApiError::Conflict { .. })) => {
            render_users(
                &state,
                &s,
                None,
                StatusCode::BAD_REQUEST,
                None,
                Some(e.to_string()),
            )
            .await
        }
        Err(e) => Err(e),
    }
}
