//! The REST API under `/api/v1`, with its OpenAPI document.
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use klaxon_domain::auth::{DisplayName, EmailAddress, NewPassword, Role, TokenName};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{ApiTokenId, UserId};
use klaxon_domain::page::Limit;
use klaxon_store::{ApiToken, Event, NewApiToken, NewUser, User};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::shared::crypto::{self, hex, random_bytes, unhex};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};

// --- extractors --------------------------------------------------------------------------------

/// A JSON body whose errors name the field to blame (`serde_path_to_error`).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json") || ct.contains("+json"));
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "expected Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(_)
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                ApiError::PayloadTooLarge
            }
            other => ApiError::BadRequest {
                code: "invalid_body",
                message: other.body_text(),
                field: None,
            },
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::BadRequest {
                code: "invalid_json",
                message: format!("malformed JSON: {inner}"),
                field: None,
            }
        } else {
            // For a missing field serde's message names it; the path points at its parent.
            let msg = inner.to_string();
            let field = match msg.strip_prefix("missing field `") {
                Some(rest) => {
                    let name = rest.split('`').next().unwrap_or_default();
                    if path == "." {
                        name.to_owned()
                    } else {
                        format!("{path}.{name}")
                    }
                }
                None => path,
            };
            let message = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
            ApiError::BadRequest {
                code: "invalid_field",
                message: format!("{field}: {message}"),
                field: Some(field),
            }
        }
    })
}

/// Query parameters, with 400s in the API's error shape.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded_deserializer(q);
        de.map(ApiQuery)
    }
}

fn serde_urlencoded_deserializer<T: DeserializeOwned>(q: &str) -> ApiResult<T> {
    axum::extract::Query::<T>::try_from_uri(&format!("/?{q}").parse().map_err(|_| {
        ApiError::BadRequest {
            code: "invalid_query",
            message: "malformed query string".into(),
            field: None,
        }
    })?)
    .map(|axum::extract::Query(t)| t)
    .map_err(|e| {
        let text = e.body_text();
        let reason = text
            .trim_start_matches("Failed to deserialize query string: ")
            .to_owned();
        // "limit: invalid digit…" or "missing field `subject_id`".
        let field = match reason.split_once(": ") {
            Some((f, _))
                if !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                Some(f.to_owned())
            }
            _ => reason.split('`').nth(1).map(str::to_owned),
        };
        ApiError::BadRequest {
            code: "invalid_query",
            message: reason,
            field,
        }
    })
}

/// The authenticated caller of an API request (`Authorization: Bearer klx_…`).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub token: ApiToken,
    /// The token's role, never more than its user's.
    pub role: Role,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor::Token(self.token.id)
    }

    pub fn require(&self, role: Role) -> ApiResult<()> {
        if self.role.allows(role) {
            Ok(())
        } else {
            tracing::warn!(user = %self.user.id, token = %self.token.id, have = %self.role, need = %role, "forbidden");
            Err(ApiError::Forbidden(format!(
                "this needs the {role} role; the token has {}",
                self.role
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::Unauthorized("missing Authorization: Bearer token".into()))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("Authorization must be: Bearer <token>".into())
            })?;
        match state
            .store
            .token_by_hash(&crypto::sha256(token.as_bytes()))
            .await
        {
            Ok((token, user)) => {
                let role = token.role.min(user.role);
                Ok(Caller { user, token, role })
            }
            Err(e) if e.is_not_found() => {
                tracing::warn!("rejected an unknown or revoked API token");
                Err(ApiError::Unauthorized("unknown or revoked token".into()))
            }
            Err(e) => Err(e.into()),
        }
    }
}

// --- DTOs --------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    pub email: String,
    pub name: String,
    #[schema(value_type = String, example = "responder")]
    pub role: Role,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    /// False once deactivated: no sign-in, no tokens, no pages.
    pub active: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deactivated_at: Option<jiff::Timestamp>,
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
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    pub user: UserOut,
    /// The role in effect for this request.
    #[schema(value_type = String)]
    pub role: Role,
    pub token: TokenOut,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: ApiTokenId,
    pub name: String,
    #[schema(value_type = String)]
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

#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// The event's id, the same as `seq`.
    pub id: i64,
    pub seq: i64,
    pub subject_type: String,
    pub subject_id: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    /// `system`, `user:<id>` or `token:<id>`.
    pub actor: String,
    pub kind: String,
    pub data: serde_json::Value,
    /// Pinned to the top of its incident's timeline.
    pub pinned: bool,
}

impl From<Event> for EventOut {
    fn from(e: Event) -> Self {
        Self {
            id: e.seq,
            seq: e.seq,
            subject_type: e.subject_type.as_str().into(),
            subject_id: e.subject_id,
            at: e.at,
            actor: e.actor.encode(),
            kind: e.kind.as_str().into(),
            data: e.data,
            pinned: e.pinned,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListOf<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// Items per page, 1–500 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Cursors are opaque to clients: the id to continue after, tagged with the list it belongs to.
pub(crate) fn encode_cursor(list: &str, id: impl std::fmt::Display) -> String {
    hex(format!("{list}:{id}").as_bytes())
}

/// A page from `items`, read with one more than `limit`: the extra one only says that more
/// exist, and the last one kept is the cursor (`key`) to go on after.
pub(crate) fn page_of<T, O: ToSchema, K: std::fmt::Display>(
    list: &str,
    mut items: Vec<T>,
    limit: usize,
    key: impl Fn(&T) -> K,
    out: impl FnMut(T) -> O,
) -> ListOf<O> {
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = more
        .then(|| items.last().map(|i| encode_cursor(list, key(i))))
        .flatten();
    ListOf {
        items: items.into_iter().map(out).collect(),
        next_cursor,
    }
}

/// Pages a list the server reads whole because it is small and belongs to one parent (an
/// incident's tasks, a service's integrations, a user's contact methods): the cursor is the
/// position to go on from, so an item removed between two pages can shift the rest by one.
pub(crate) fn page_in_memory<T, O: ToSchema>(
    list: &str,
    items: Vec<T>,
    p: &PageParams,
    out: impl FnMut(T) -> O,
) -> ApiResult<ListOf<O>> {
    let limit = Limit::parse(p.limit)?.get() as usize;
    let start = decode_cursor::<usize>(list, p.cursor.as_deref())?.unwrap_or(0);
    let total = items.len();
    let items: Vec<O> = items.into_iter().skip(start).take(limit).map(out).collect();
    let end = start + items.len();
    Ok(ListOf {
        items,
        next_cursor: (end < total).then(|| encode_cursor(list, end)),
    })
}

pub(crate) fn decode_cursor<T: std::str::FromStr>(
    list: &str,
    cursor: Option<&str>,
) -> ApiResult<Option<T>> {
    let Some(c) = cursor else { return Ok(None) };
    let bad = || ApiError::invalid("cursor", "is not a cursor this list gave out");
    let text = String::from_utf8(unhex(c).ok_or_else(bad)?).map_err(|_| bad())?;
    let (tag, id) = text.split_once(':').ok_or_else(bad)?;
    if tag != list {
        return Err(bad());
    }
    id.parse().map(Some).map_err(|_| bad())
}

/// An optional id filter: absent, or an id (400 naming `field` otherwise).
pub(crate) fn filter_id<T: std::str::FromStr>(
    raw: Option<&str>,
    field: &str,
) -> ApiResult<Option<T>> {
    raw.map(|s| {
        s.parse()
            .map_err(|_| ApiError::invalid(field, "is not an id"))
    })
    .transpose()
}

pub(crate) fn parse_id<T: std::str::FromStr>(raw: &str, what: &str) -> ApiResult<T> {
    raw.parse().map_err(|_| ApiError::not_found(what))
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
    pub email: String,
    pub name: String,
    #[schema(value_type = String, example = "responder")]
    pub role: Role,
    /// At least 12 characters.
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
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = UserOut), (status = 404, body = ErrorBody)))]
async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<UserOut>> {
    caller.require(Role::Viewer)?;
    let id = parse_id::<UserId>(&id, "user")?;
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
    pub name: String,
    /// At most the caller's own role.
    #[schema(value_type = String, example = "viewer")]
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
    params(("id" = String, Path, description = "Token id")),
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
#[serde(deny_unknown_fields)]
pub struct EventParams {
    /// `user`, `api_token`, `job` or `system`.
    pub subject_type: String,
    pub subject_id: String,
    pub limit: Option<i64>,
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
        ApiError::invalid(
            "subject_type",
            "must be one of: user, api_token, job, system",
        )
    })?;
    events_page(&state, st, &p.subject_id, p.limit, p.cursor.as_deref())
        .await
        .map(Json)
}

/// One page of a subject's events, oldest first; shared by the audit log and the timelines.
pub(crate) async fn events_page(
    state: &AppState,
    subject_type: SubjectType,
    subject_id: &str,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> ApiResult<ListOf<EventOut>> {
    let limit = Limit::parse(limit)?;
    let after = decode_cursor::<i64>("events", cursor)?;
    let items = state
        .store
        .events(subject_type, subject_id, after, limit.get() + 1)
        .await?;
    Ok(page_of(
        "events",
        items,
        limit.get() as usize,
        |e| e.seq,
        Into::into,
    ))
}

// --- the document ------------------------------------------------------------------------------

#[derive(OpenApi)]
#[openapi(
    info(title = "Klaxon API", description = "Incident management: alerts, on-call, incidents, status pages."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(me))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, crate::people::api::update_user))
        .routes(routes!(crate::people::api::reset_password))
        .routes(routes!(crate::people::api::change_own_password))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(list_events))
        .merge(crate::alerts::api::router())
        .merge(crate::incidents::api_router())
        .merge(crate::webhooks::api::router())
        .merge(crate::oncall::api::router())
        .merge(crate::oncall::schedules::api::router())
}

/// The OpenAPI document, built once.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOC.get_or_init(|| router().split_for_parts().1)
}

pub async fn openapi_json() -> impl IntoResponse {
    Json(openapi())
}
