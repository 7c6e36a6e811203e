//! People's accounts on the REST API: users, who am I, API tokens, and the audit log.
use crate::shared::api::{
    ApiJson, ApiQuery, Caller, EventOut, ListOf, PageParams, decode_cursor, encode_cursor,
    events_page, parse_id,
};
use crate::shared::crypto::{self, random_bytes};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use klaxon_domain::auth::{DisplayName, EmailAddress, NewPassword, Role, TokenName};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{ApiTokenId, UserId};
use klaxon_domain::page::Limit;
use klaxon_store::{ApiToken, NewApiToken, NewUser, User};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, crate::people::manage::update_user))
        .routes(routes!(crate::people::manage::reset_password))
        .routes(routes!(crate::people::manage::change_own_password))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(list_events))
}

// --- handlers ----------------------------------------------------------------------------------

/// The caller: its user, its token and the role in effect.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, body = MeOut), (status = 401, body = ErrorBody)))]
async fn me(caller: Caller) -> Json<MeOut> {
    Json(MeOut {
        role: caller.role,
        user: caller.user.into(),
        token: caller.token.into(),
    })
}

/// Lists users (viewer or above).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(PageParams),
    responses((status = 200, body = ListOf<UserOut>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<UserOut>>> {
    caller.require(Role::Viewer)?;
    let limit = Limit::parse(p.limit)?;
    let after = decode_cursor::<UserId>("users", p.cursor.as_deref())?;
    let page = state.store.list_users(after, limit.get()).await?;
    Ok(Json(ListOf {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(|id| encode_cursor("users", id)),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// One line, 1 to 100 characters, trimmed.
    #[schema(
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    pub role: Role,
    /// 12 to 128 characters, not easy to guess (common or breached passwords, repeats and
    /// sequences are refused with the reason).
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
}

/// Creates a user (admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = UserOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let user = create_user_with(&state, caller.actor(), &body).await?;
    Ok((StatusCode::CREATED, Json(UserOut::from(user))))
}

/// Parses, hashes and stores a new user; shared by the API and the web UI.
pub async fn create_user_with(
    state: &AppState,
    actor: Actor,
    body: &CreateUser,
) -> ApiResult<User> {
    let email = EmailAddress::parse(&body.email)?;
    let name = DisplayName::parse(&body.name)?;
    let password = NewPassword::parse(&body.password)?;
    let now = state.clock.now();
    let new = NewUser {
        id: UserId::new(now, random_bytes()),
        email,
        name,
        role: body.role,
        password_hash: state.passwords.hash(password.expose()).await?,
        created_at: now,
    };
    let event = NewEvent::new(
        SubjectType::User,
        new.id,
        now,
        actor,
        EventKind::UserCreated,
        json!({"email": new.email, "name": new.name, "role": new.role}),
    );
    Ok(state.store.create_user(new, event).await?)
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = terms::doc::USER, min_length = 1)),
    responses((status = 200, body = UserOut), (status = 404, body = ErrorBody)))]
async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<UserOut>> {
    caller.require(Role::Viewer)?;
    let id = terms::user(&state, &id, At::Path("id")).await?;
    let user = state
        .store
        .user(id)
        .await
        .map_err(ApiError::or_not_found("user"))?;
    Ok(Json(user.into()))
}

/// Lists API tokens: your own, or everyone's for an admin.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(PageParams),
    responses((status = 200, body = ListOf<TokenOut>), (status = 401, body = ErrorBody)))]
async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<TokenOut>>> {
    let limit = Limit::parse(p.limit)?;
    let after = decode_cursor::<ApiTokenId>("tokens", p.cursor.as_deref())?;
    let owner = (!caller.role.allows(Role::Admin)).then_some(caller.user.id);
    let page = state.store.list_tokens(owner, after, limit.get()).await?;
    Ok(Json(ListOf {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(|id| encode_cursor("tokens", id)),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// One line, 1 to 100 characters, trimmed.
    #[schema(
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// At most the caller's own role.
    pub role: Role,
}

/// Creates an API token for the caller's user. The secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = CreatedTokenOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateToken>,
) -> ApiResult<impl IntoResponse> {
    let name = TokenName::parse(&body.name)?;
    if !caller.role.allows(body.role) {
        return Err(ApiError::Forbidden(format!(
            "a token cannot have more power than its creator ({})",
            caller.role
        )));
    }
    let (token, secret) =
        issue_token(&state, caller.user.id, name, body.role, caller.actor()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTokenOut {
            token: token.into(),
            secret,
        }),
    ))
}

/// Creates a token for `user`; shared by the API, the web UI and the offline CLI.
pub async fn issue_token(
    state: &AppState,
    user: UserId,
    name: TokenName,
    role: Role,
    actor: Actor,
) -> ApiResult<(ApiToken, String)> {
    let (secret, digest) = crypto::new_api_token();
    let now = state.clock.now();
    let new = NewApiToken {
        id: ApiTokenId::new(now, random_bytes()),
        name,
        role,
        user_id: user,
        prefix: crypto::token_prefix(&secret),
        hash: digest,
        created_at: now,
    };
    let event = NewEvent::new(
        SubjectType::ApiToken,
        new.id,
        now,
        actor,
        EventKind::ApiTokenCreated,
        json!({"name": new.name, "role": new.role, "prefix": new.prefix, "user_id": user}),
    );
    let token = state.store.create_token(new, event).await?;
    Ok((token, secret))
}

/// Revokes a token: your own, or anyone's for an admin.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = uuid::Uuid, Path, description = "Token id")),
    responses((status = 200, body = TokenOut), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenOut>> {
    let id = parse_id::<ApiTokenId>(&id, "token")?;
    let token = revoke_token_with(&state, caller.user.id, caller.role, caller.actor(), id).await?;
    Ok(Json(token.into()))
}

pub async fn revoke_token_with(
    state: &AppState,
    user: UserId,
    role: Role,
    actor: Actor,
    id: ApiTokenId,
) -> ApiResult<ApiToken> {
    let not_found = ApiError::or_not_found("token");
    let token = state.store.token(id).await.map_err(&not_found)?;
    // Someone else's token is "not found" to a non-admin: do not reveal that it exists.
    if token.user_id != user && !role.allows(Role::Admin) {
        return Err(ApiError::not_found("token"));
    }
    let now = state.clock.now();
    let event = NewEvent::new(
        SubjectType::ApiToken,
        id,
        now,
        actor,
        EventKind::ApiTokenRevoked,
        json!({"name": token.name, "prefix": token.prefix}),
    );
    state
        .store
        .revoke_token(id, now, event)
        .await
        .map_err(not_found)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    #[param(value_type = klaxon_domain::event::SubjectType)]
    pub subject_type: String,
    /// The subject's id, or what people call it for its type: an incident's number (`75` or
    /// `#75`), a user's e-mail address, a service's, escalation policy's, schedule's, webhook's
    /// or integration's name (exact, else ignoring ASCII case). A term that names nothing, or
    /// several, is a 400 naming `subject_id`; a UUID is always read as an id (one that names
    /// nothing has no events). API tokens, jobs and alerts go by id; the system by `klaxon`
    /// (start-up) or `login` (failed sign-ins).
    pub subject_id: String,
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The events of one subject, oldest first (admin: this is the audit log).
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventParams),
    responses((status = 200, body = ListOf<EventOut>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<EventParams>,
) -> ApiResult<Json<ListOf<EventOut>>> {
    caller.require(Role::Admin)?;
    let st = SubjectType::parse(&p.subject_type).ok_or_else(|| {
        let all: Vec<&str> = SubjectType::ALL.iter().map(|t| t.as_str()).collect();
        ApiError::invalid(
            "subject_type",
            format!("must be one of: {}", all.join(", ")),
        )
    })?;
    let subject = terms::subject(&state, st, &p.subject_id, At::Field("subject_id")).await?;
    events_page(&state, st, &subject, p.limit, p.cursor.as_deref())
        .await
        .map(Json)
}

// --- DTOs --------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    /// False once deactivated: no sign-in, no tokens, no pages.
    pub active: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deactivated_at: Option<jiff::Timestamp>,
    /// The IANA zone pages show this person times in; null until they choose one.
    pub time_zone: Option<String>,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        Self {
            active: u.active(),
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            created_at: u.created_at,
            deactivated_at: u.deactivated_at,
            time_zone: u.time_zone,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    pub user: UserOut,
    /// The role in effect for this request.
    pub role: Role,
    pub token: TokenOut,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: ApiTokenId,
    pub name: String,
    pub role: Role,
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    /// The first characters of the token.
    pub prefix: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<jiff::Timestamp>,
}

impl From<ApiToken> for TokenOut {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id,
            name: t.name,
            role: t.role,
            user_id: t.user_id,
            prefix: t.prefix,
            created_at: t.created_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTokenOut {
    #[serde(flatten)]
    pub token: TokenOut,
    /// The token itself. Shown this once; only its digest is stored.
    pub secret: String,
}
