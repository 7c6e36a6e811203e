//! People pages: an admin's page for one user (details, role, deactivation, password reset),
//! and each person's own account page (their password and their API tokens). Forms call the
//! same functions as the REST API.
use askama::Template;
use axum::Router;
use axum::extract::Query;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use klaxon_domain::auth::{Role, TokenName};
use klaxon_domain::event::Actor;
use klaxon_domain::ids::{ApiTokenId, UserId};
use klaxon_domain::page::Limit;
use klaxon_store::{ApiToken, User};
use serde::Deserialize;

use crate::people::api::{issue_token, revoke_token_with};
use crate::people::manage::{
    ChangePassword, UpdateUser, change_own_password_with, update_user_with,
};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::time::Reader;
use crate::shared::web::message;
use crate::shared::web::next_cursor;
use crate::shared::web::page_cursor;
use crate::shared::web::{CsrfForm, PageResult, forbidden, not_found_page};
use crate::shared::web::{FormErrors, Nav, WebSession, html};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users/{id}", get(user_page).post(edit_user))
        .route("/users/{id}/active", post(set_active))
        .route("/users/{id}/password", post(reset_password))
        .route("/account", get(account_page))
        .route("/account/password", post(change_password))
        .route("/account/time-zone", post(set_time_zone))
        .route("/account/tokens", post(create_token))
        .route("/account/tokens/{id}/revoke", post(revoke_token))
        .route("/users", get(users_page).post(add_user))
        .merge(super::login::router())
}

// --- one user (admins) ---------------------------------------------------------------------

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    nav: Option<Nav>,
    user: User,
    /// The details form: the saved values, or what was typed when refused.
    form_name: String,
    form_email: String,
    roles: Vec<(&'static str, bool)>,
    csrf: String,
    notice: Option<String>,
    /// Each form's refusal, shown on that form.
    details_errors: FormErrors,
    password_errors: FormErrors,
    active_errors: FormErrors,
    reader: Reader,
}

/// The form sent from a user's page: a refusal is shown on it, beside its fields.
enum UserForm {
    /// Name, e-mail and role, with what was typed.
    Details(EditUserForm),
    Password,
    Active,
}

#[derive(Default)]
struct UserFeedback {
    notice: Option<String>,
    typed: Option<EditUserForm>,
    details: FormErrors,
    password: FormErrors,
    active: FormErrors,
}

async fn render_user(
    state: &AppState,
    s: &WebSession,
    id: UserId,
    status: StatusCode,
    fb: UserFeedback,
) -> PageResult {
    let user = match state.store.user(id).await {
        Ok(u) => u,
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    let typed = fb.typed.unwrap_or_else(|| EditUserForm {
        csrf: String::new(),
        name: user.name.clone(),
        email: user.email.clone(),
        role: user.role.as_str().to_owned(),
    });
    Ok(html(
        status,
        &UserPage {
            nav: Some(Nav::new(s, "/users")),
            roles: Role::ALL
                .iter()
                .map(|r| (r.as_str(), r.as_str() == typed.role))
                .collect(),
            form_name: typed.name,
            form_email: typed.email,
            user,
            csrf: s.session.csrf_token.clone(),
            notice: fb.notice,
            details_errors: fb.details,
            password_errors: fb.password,
            active_errors: fb.active,
            reader: s.reader(),
        },
    ))
}

/// The user a path names, when the signed-in person is an admin; otherwise the page to answer.
#[allow(clippy::result_large_err)] // the error is the page to answer with
fn admin_target(s: &WebSession, raw: &str) -> Result<UserId, axum::response::Response> {
    if s.user.role != Role::Admin {
        return Err(forbidden("manage users"));
    }
    raw.parse().map_err(|_| not_found_page())
}

async fn user_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
) -> PageResult {
    match admin_target(&s, &raw) {
        Ok(id) => render_user(&state, &s, id, StatusCode::OK, UserFeedback::default()).await,
        Err(r) => Ok(r),
    }
}

/// After a form on a user's page: the page again, with what happened, or why not on the form
/// that was sent.
async fn after_user_form<T>(
    state: &AppState,
    s: &WebSession,
    id: UserId,
    outcome: Result<T, ApiError>,
    done: &str,
    sent: UserForm,
) -> PageResult {
    let e = match outcome {
        Ok(_) => {
            let fb = UserFeedback {
                notice: Some(done.into()),
                ..UserFeedback::default()
            };
            return render_user(state, s, id, StatusCode::OK, fb).await;
        }
        Err(e) => e,
    };
    let status = e.status();
    let errors = FormErrors::from_error(e)?;
    let mut fb = UserFeedback::default();
    match sent {
        UserForm::Details(typed) => {
            fb.typed = Some(typed);
            fb.details = errors;
        }
        UserForm::Password => fb.password = errors,
        UserForm::Active => fb.active = errors,
    }
    render_user(state, s, id, status, fb).await
}

#[derive(Deserialize)]
struct EditUserForm {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

async fn edit_user(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<EditUserForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let id = match admin_target(&s, &raw) {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let outcome = match f.role.parse::<Role>() {
        Ok(role) => {
            let body = UpdateUser {
                name: Some(f.name.clone()),
                email: Some(f.email.clone()),
                role: Some(role),
                active: None,
                time_zone: None,
            };
            update_user_with(&state, &s.user, s.user.role, actor(&s), id, &body).await
        }
        Err(e) => Err(e.into()),
    };
    after_user_form(&state, &s, id, outcome, "Saved.", UserForm::Details(f)).await
}

#[derive(Deserialize)]
struct ActiveForm {
    csrf: String,
    active: String,
}

async fn set_active(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<ActiveForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let id = match admin_target(&s, &raw) {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let active = f.active == "true";
    let body = UpdateUser {
        name: None,
        email: None,
        role: None,
        active: Some(active),
        time_zone: None,
    };
    let outcome = update_user_with(&state, &s.user, s.user.role, actor(&s), id, &body).await;
    let done = if active {
        "Reactivated. Their old API tokens stay revoked."
    } else {
        "Deactivated: their sessions have ended and their API tokens are revoked."
    };
    after_user_form(&state, &s, id, outcome, done, UserForm::Active).await
}

#[derive(Deserialize)]
struct ResetForm {
    csrf: String,
    #[serde(default)]
    password: String,
}

async fn reset_password(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<ResetForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let id = match admin_target(&s, &raw) {
        Ok(id) => id,
        Err(r) => return Ok(r),
    };
    let outcome =
        crate::people::manage::reset_password_with(&state, id, &f.password, actor(&s)).await;
    after_user_form(
        &state,
        &s,
        id,
        outcome,
        "Password set; their web sessions have ended.",
        UserForm::Password,
    )
    .await
}

fn actor(s: &WebSession) -> Actor {
    Actor::User(s.user.id)
}

// --- your account: password and API tokens ----------------------------------------------------

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    nav: Option<Nav>,
    user: User,
    tokens: Vec<ApiToken>,
    /// Roles a new token may have (at most the user's own), and which is chosen.
    roles: Vec<(&'static str, bool)>,
    /// Right after creating a token: its name and secret, shown this once.
    created: Option<(String, String)>,
    csrf: String,
    notice: Option<String>,
    reader: Reader,
    zone_chosen: bool,
    /// The time-zone box: what was typed when refused, else the saved zone.
    zone_value: String,
    /// The new token's name: what was typed when refused.
    token_name: String,
    /// Each form's refusal, shown on that form.
    zone_errors: FormErrors,
    token_errors: FormErrors,
    password_errors: FormErrors,
    revoke_errors: FormErrors,
}

#[derive(Default)]
struct Feedback {
    created: Option<(String, String)>,
    notice: Option<String>,
    zone_typed: Option<String>,
    /// The new-token form's name and role, as typed.
    token_typed: Option<(String, String)>,
    zone: FormErrors,
    token: FormErrors,
    password: FormErrors,
    revoke: FormErrors,
}

/// The form sent from the account page, whose refusal is shown on it.
enum AccountForm {
    /// A new token, with the name and role typed.
    Token(String, String),
    Password,
    Revoke,
}

async fn render_account(
    state: &AppState,
    s: &WebSession,
    status: StatusCode,
    fb: Feedback,
) -> PageResult {
    let mut tokens = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .list_tokens(Some(s.user.id), after, Limit::MAX)
            .await?;
        tokens.extend(page.items.into_iter().filter(|t| t.revoked_at.is_none()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let (token_name, token_role) = fb.token_typed.unwrap_or_default();
    Ok(html(
        status,
        &AccountPage {
            nav: Some(Nav::new(s, "/account")),
            user: s.user.clone(),
            tokens,
            roles: Role::ALL
                .iter()
                .filter(|r| s.user.role.allows(**r))
                .map(|r| (r.as_str(), r.as_str() == token_role))
                .collect(),
            created: fb.created,
            csrf: s.session.csrf_token.clone(),
            notice: fb.notice,
            reader: s.reader(),
            zone_chosen: s.user.time_zone.is_some(),
            zone_value: fb
                .zone_typed
                .or_else(|| s.user.time_zone.clone())
                .unwrap_or_default(),
            token_name,
            zone_errors: fb.zone,
            token_errors: fb.token,
            password_errors: fb.password,
            revoke_errors: fb.revoke,
        },
    ))
}

async fn account_page(State(state): State<AppState>, s: WebSession) -> PageResult {
    render_account(&state, &s, StatusCode::OK, Feedback::default()).await
}

/// The account page after a form: what happened, or why not on the form that was sent.
async fn after_account_form(
    state: &AppState,
    s: &WebSession,
    outcome: Result<Feedback, ApiError>,
    sent: AccountForm,
) -> PageResult {
    let e = match outcome {
        Ok(fb) => return render_account(state, s, StatusCode::OK, fb).await,
        Err(e) => e,
    };
    let status = e.status();
    let errors = match (e, &sent) {
        // Wrong current passwords are throttled; say so where the password is typed.
        (ApiError::TooManyRequests { retry_after_secs }, _) => FormErrors::field(
            "current_password",
            &format!(
                "too many wrong passwords: try again in {} min",
                retry_after_secs.div_ceil(60)
            ),
        ),
        // The only refusal of a token's power is about its role.
        (ApiError::Forbidden(m), AccountForm::Token(..)) => FormErrors::field("role", &m),
        (e, _) => FormErrors::from_error(e)?,
    };
    let fb = match sent {
        AccountForm::Token(name, role) => Feedback {
            token_typed: Some((name, role)),
            token: errors,
            ..Feedback::default()
        },
        AccountForm::Password => Feedback {
            password: errors,
            ..Feedback::default()
        },
        AccountForm::Revoke => Feedback {
            revoke: errors,
            ..Feedback::default()
        },
    };
    render_account(state, s, status, fb).await
}

#[derive(Deserialize)]
struct ZoneForm {
    csrf: String,
    time_zone: String,
    /// The page to return to: a path of ours, never another site.
    #[serde(default)]
    back: String,
}

async fn set_time_zone(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<ZoneForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let body = UpdateUser {
        name: None,
        email: None,
        role: None,
        active: None,
        time_zone: Some(f.time_zone.clone()),
    };
    match update_user_with(&state, &s.user, s.user.role, actor(&s), s.user.id, &body).await {
        Ok(_) => {
            let back = if f.back.starts_with('/') && !f.back.starts_with("//") {
                f.back.as_str()
            } else {
                "/account"
            };
            Ok(Redirect::to(back).into_response())
        }
        Err(e) => {
            let status = e.status();
            let fb = Feedback {
                zone_typed: Some(f.time_zone),
                zone: FormErrors::from_error(e)?,
                ..Feedback::default()
            };
            render_account(&state, &s, status, fb).await
        }
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<PasswordForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let body = ChangePassword {
        current_password: f.current_password,
        new_password: f.new_password,
    };
    let outcome =
        change_own_password_with(&state, &s.user, &body, Some(s.cookie_hash()), actor(&s))
            .await
            .map(|()| Feedback {
                notice: Some(
                    "Password changed. Your other web sessions have ended; this one stays.".into(),
                ),
                ..Feedback::default()
            });
    after_account_form(&state, &s, outcome, AccountForm::Password).await
}

#[derive(Deserialize)]
struct TokenForm {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

async fn create_token(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<TokenForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let outcome = async {
        let name = TokenName::parse(&f.name)?;
        let role: Role = f.role.parse()?;
        if !s.user.role.allows(role) {
            return Err(ApiError::Forbidden(format!(
                "a token cannot have more power than you ({})",
                s.user.role
            )));
        }
        let (token, secret) = issue_token(&state, s.user.id, name, role, actor(&s)).await?;
        Ok(Feedback {
            created: Some((token.name, secret)),
            ..Feedback::default()
        })
    }
    .await;
    let sent = AccountForm::Token(f.name, f.role);
    after_account_form(&state, &s, outcome, sent).await
}

async fn revoke_token(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let Ok(id) = raw.parse::<ApiTokenId>() else {
        return Ok(not_found_page());
    };
    // Only your own tokens here, admin or not: the page lists nobody else's.
    match state.store.token(id).await {
        Ok(t) if t.user_id == s.user.id => {}
        Ok(_) => return Ok(not_found_page()),
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    }
    let outcome = revoke_token_with(&state, s.user.id, s.user.role, actor(&s), id)
        .await
        .map(|t| Feedback {
            notice: Some(format!("Revoked {}.", t.name)),
            ..Feedback::default()
        });
    match outcome {
        Err(ApiError::NotFound(_)) => Ok(Redirect::to("/account").into_response()),
        outcome => after_account_form(&state, &s, outcome, AccountForm::Revoke).await,
    }
}

// --- the users list ------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Option<Nav>,
    users: Vec<User>,
    next_cursor: Option<String>,
    can_create: bool,
    csrf: String,
    message: Option<String>,
    reader: Reader,
    /// The add-user form: what was typed, kept when it is refused.
    form: AddUserForm,
    errors: FormErrors,
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
    form: AddUserForm,
    errors: FormErrors,
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
            reader: s.reader(),
            form,
            errors,
        },
    ))
}

async fn users_page(
    State(state): State<AppState>,
    s: WebSession,
    Query(q): Query<UsersQuery>,
) -> Result<Response, ApiError> {
    let blank = AddUserForm {
        role: "responder".into(),
        ..AddUserForm::default()
    };
    render_users(
        &state,
        &s,
        q.cursor,
        StatusCode::OK,
        None,
        blank,
        FormErrors::default(),
    )
    .await
}

#[derive(Deserialize, Default)]
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
    Form(mut f): Form<AddUserForm>,
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
                email: f.email.clone(),
                name: f.name.clone(),
                role,
                password: std::mem::take(&mut f.password),
            };
            crate::people::api::create_user_with(&state, Actor::User(s.user.id), &body).await
        }
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(u) => {
            let blank = AddUserForm {
                role: "responder".into(),
                ..AddUserForm::default()
            };
            let done = Some(format!("Added {}.", u.email));
            render_users(
                &state,
                &s,
                None,
                StatusCode::OK,
                done,
                blank,
                FormErrors::default(),
            )
            .await
        }
        Err(e) => {
            let status = e.status();
            let errors = FormErrors::from_error(e)?;
            render_users(&state, &s, None, status, None, f, errors).await
        }
    }
}
