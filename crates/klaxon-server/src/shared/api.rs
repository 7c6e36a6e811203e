//! What every REST endpoint uses: JSON body and query extractors with errors in the API's shape,
//! the authenticated caller, event and list answers, and cursor paging.
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, SubjectType};
use klaxon_domain::page::Limit;
use klaxon_store::{ApiToken, Event, User};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::shared::crypto::{self, hex, unhex};
use crate::shared::error::{ApiError, ApiResult};
use crate::shared::state::AppState;

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
                ApiError::PayloadTooLarge("this server accepts (server.body_limit_bytes)".into())
            }
            other => ApiError::BadRequest {
                code: "invalid_body",
                message: other.body_text(),
                field: None,
            },
        })?;
        // serde also reads a struct from a JSON array of its fields in order (`[null, null]`
        // cleared an incident's first two milestones); every body of this API is an object.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return Err(ApiError::BadRequest {
                code: "invalid_field",
                message: "the body: invalid type: sequence, expected a JSON object".into(),
                field: None,
            });
        }
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let bytes = crate::shared::nul::json(bytes);
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
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
            let message = plain(msg.split(" at line ").next().unwrap_or(&msg));
            // "." is the body itself (a string where an object belongs): no field to name.
            if field == "." {
                return ApiError::BadRequest {
                    code: "invalid_field",
                    message: format!("the body: {message}"),
                    field: None,
                };
            }
            ApiError::BadRequest {
                code: "invalid_field",
                message: format!("{field}: {message}"),
                field: Some(field),
            }
        }
    })
}

/// A deserializer's message in the caller's terms: serde names the Rust types it expected
/// (`expected struct CreateService`, `expected u32`), which mean nothing to a client.
fn plain(msg: &str) -> String {
    let Some((head, expected)) = msg.rsplit_once("expected ") else {
        return msg.to_owned();
    };
    let wanted = match expected.split_whitespace().next().unwrap_or_default() {
        "struct" | "map" => "a JSON object",
        "enum" => "one of the values this field takes",
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "sequence" => "a JSON array",
        "bool" => "true or false",
        _ => return msg.to_owned(),
    };
    format!("{head}expected {wanted}")
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

/// The token of an `Authorization: Bearer <token>` header. The scheme's name is
/// case-insensitive (RFC 9110 §11.1), so `bearer` and `BEARER` are taken too.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
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
            .and_then(bearer_token)
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

#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// The event's id, the same as `seq`.
    pub id: i64,
    pub seq: i64,
    #[schema(value_type = klaxon_domain::event::SubjectType)]
    pub subject_type: String,
    pub subject_id: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    /// `system`, `user:<id>` or `token:<id>`.
    pub actor: String,
    #[schema(value_type = klaxon_domain::event::EventKind)]
    pub kind: String,
    /// What happened, in the kind's own fields: a JSON object, free-form per kind (an
    /// `*.updated` event holds `{"field": {"from": …, "to": …}}`).
    #[schema(value_type = std::collections::BTreeMap<String, serde_json::Value>)]
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
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The schema of a time filter that an empty value leaves out: RFC 3339, or empty.
pub(crate) fn time_or_empty() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let string = || ObjectBuilder::new().schema_type(Type::String);
    AnyOfBuilder::new()
        .item(string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))
        .item(string().max_length(Some(0)))
        .into()
}

/// An optional id in a body, or what people call the thing instead (an incident's number, a
/// user's e-mail, a name: `shared::terms`), which the field's description says; empty or null
/// leave it out, or clear it, as a web form sends.
pub(crate) fn nullable_id_or_empty() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
    AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
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
    raw.map(|s| parse_field_id(s, field)).transpose()
}

/// The `{id}` of a path, naming what it should be: a malformed id is a bad request (400, field
/// `id`), not a missing thing, so a caller sees their mistake.
pub(crate) fn parse_id<T: std::str::FromStr>(raw: &str, what: &str) -> ApiResult<T> {
    raw.parse()
        .map_err(|_| ApiError::invalid("id", format!("is not a valid {what} id")))
}

/// An id in another path parameter or a body field, named `field`.
pub(crate) fn parse_field_id<T: std::str::FromStr>(raw: &str, field: &str) -> ApiResult<T> {
    raw.parse()
        .map_err(|_| ApiError::invalid(field, "is not a valid id"))
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
