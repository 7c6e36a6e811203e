//! The secret store runbook steps name (`{{ secrets.LB_TOKEN }}`): values sealed at rest with
//! the configured `runbooks.secret_key`, set and removed by admins, never shown to anyone (the
//! API lists names and dates only), opened only to fill a step, and masked in its output.
//! Also `/api/v1/secrets`.
use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::runbook::{self, MAX_SECRET};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::shared::api::{ApiJson, Caller};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;

/// Where secret events go in the audit log: the system's subject `secrets`.
pub const SUBJECT: &str = "secrets";

const OFF: &str = "the secret store is off: set runbooks.secret_key (64 hex digits) first";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_secrets))
        .routes(routes!(set_secret, delete_secret))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretIn {
    /// At most 16 KiB. Never shown again.
    pub value: String,
}

/// The value stays out of any debug output.
impl std::fmt::Debug for SecretIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretIn { value: … }")
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SecretOut {
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: jiff::Timestamp,
}

fn event(name: &str, at: jiff::Timestamp, actor: Actor, kind: EventKind) -> NewEvent {
    NewEvent::new(
        SubjectType::System,
        SUBJECT,
        at,
        actor,
        kind,
        json!({"name": name}),
    )
}

/// Seals and keeps a secret (admins; the caller checks).
pub async fn set_with(state: &AppState, actor: Actor, name: &str, value: &str) -> ApiResult<()> {
    let name = runbook::secret_name(name)?;
    if value.is_empty() || value.len() > MAX_SECRET {
        return Err(ApiError::invalid("value", "give 1 byte to 16 KiB"));
    }
    let Some(key) = state.settings.runbooks.seal_key() else {
        return Err(ApiError::Conflict {
            message: OFF.into(),
            field: None,
        });
    };
    let now = state.clock.now();
    let sealed = key.seal(&name, value.as_bytes());
    let e = event(&name, now, actor, EventKind::SecretSet);
    Ok(state.store.put_secret(&name, &sealed, now, e).await?)
}

pub async fn delete_with(state: &AppState, actor: Actor, name: &str) -> ApiResult<()> {
    let e = event(name, state.clock.now(), actor, EventKind::SecretDeleted);
    state
        .store
        .delete_secret(name, e)
        .await
        .map_err(ApiError::or_not_found("secret"))
}

pub async fn list(state: &AppState) -> ApiResult<Vec<SecretOut>> {
    Ok(state
        .store
        .list_secrets()
        .await?
        .into_iter()
        .map(|s| SecretOut {
            name: s.name,
            created_at: s.created_at,
            updated_at: s.updated_at,
        })
        .collect())
}

/// The values of the secrets named, opened to fill a step; an error naming the first that is
/// missing (or that no longer opens: the key changed).
pub async fn open(
    store: &dyn klaxon_store::Store,
    settings: &crate::Settings,
    names: &[String],
) -> Result<BTreeMap<String, String>, String> {
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    let key = settings.runbooks.seal_key().ok_or_else(|| OFF.to_owned())?;
    let sealed: BTreeMap<String, Vec<u8>> = store
        .sealed_secrets(names)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect();
    let mut out = BTreeMap::new();
    for n in names {
        let s = sealed
            .get(n)
            .ok_or_else(|| format!("secrets.{n}: no secret of that name"))?;
        let plain = key
            .open(n, s)
            .ok_or_else(|| format!("secrets.{n}: does not open with the configured key"))?;
        out.insert(n.clone(), String::from_utf8_lossy(&plain).into_owned());
    }
    Ok(out)
}

/// The secrets' names and dates, never their values (admin).
#[utoipa::path(get, path = "/api/v1/secrets", tag = "runbooks",
    responses((status = 200, body = Vec<SecretOut>), (status = 403, body = ErrorBody)))]
async fn list_secrets(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<SecretOut>>> {
    caller.require(Role::Admin)?;
    Ok(Json(list(&state).await?))
}

/// Sets or replaces a secret (admin). 409 while no `runbooks.secret_key` is configured.
#[utoipa::path(put, path = "/api/v1/secrets/{name}", tag = "runbooks", request_body = SecretIn,
    params(("name" = String, Path, description = "Capital letters, digits and _ (LB_TOKEN)")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn set_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(b): ApiJson<SecretIn>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    set_with(&state, caller.actor(), &name, &b.value).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a secret (admin); steps naming it fail until it is set again.
#[utoipa::path(delete, path = "/api/v1/secrets/{name}", tag = "runbooks",
    params(("name" = String, Path, description = "The secret's name")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    delete_with(&state, caller.actor(), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
