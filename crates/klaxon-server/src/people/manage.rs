//! Managing people: changing a user's details and role, deactivating and reactivating them,
//! and passwords (an admin's reset, and changing one's own).
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use klaxon_domain::auth::{
    DisplayName, EmailAddress, NewPassword, Role, UserPatch, UserStanding, check_user_change,
};
use klaxon_domain::escalation::Target;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::UserId;
use klaxon_domain::page::Limit;
use klaxon_store::{User, UserChange, UserSnapshot};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::people::api::UserOut;
use crate::shared::api::{ApiJson, Caller};
use crate::shared::changes::set_noting;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

/// A user named in input (a schedule layer, an escalation target, a person paged in) must
/// exist and be active: a 400 naming `field` otherwise.
pub(crate) async fn active_user(state: &AppState, field: &str, id: UserId) -> ApiResult<User> {
    match state.store.user(id).await {
        Ok(u) if u.active() => Ok(u),
        Ok(u) => Err(ApiError::invalid(
            field,
            format!("{} ({}) is deactivated", u.name, u.id),
        )),
        Err(e) if e.is_not_found() => Err(ApiError::invalid(field, format!("no user {id}"))),
        Err(e) => Err(e.into()),
    }
}

/// What would page `user` today: schedules naming them in a layer or in an override that has
/// not ended, and escalation policies targeting them directly.
pub(crate) async fn duties(state: &AppState, user: UserId) -> ApiResult<Vec<String>> {
    let now = state.clock.now();
    let until = now
        .checked_add(jiff::SignedDuration::from_hours(24 * 366 * 10))
        .unwrap_or(Timestamp::MAX);
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .list_schedules_with_overrides(after, Limit::MAX, now, until)
            .await?;
        for s in &page.items {
            if s.schedule.users().contains(&user) || s.overrides.iter().any(|o| o.user_id == user) {
                out.push(format!("schedule {}", s.schedule.name));
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    for p in crate::shared::lists::all_policies(state).await? {
        let targets = p.plan.levels.iter().flat_map(|l| l.targets.iter());
        if targets.into_iter().any(|t| *t == Target::User(user)) {
            out.push(format!("escalation policy {}", p.name));
        }
    }
    Ok(out)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[schema(
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: Option<String>,
    /// Also the login name.
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    pub role: Option<Role>,
    /// `false` deactivates the user: their sessions end, their API tokens are revoked, they
    /// cannot sign in and are not paged. Refused while a schedule or escalation policy still
    /// names them, for yourself, and for the last active admin. `true` reactivates.
    pub active: Option<bool>,
    /// The IANA time zone pages show this person times in, like `Europe/Berlin`. Anyone may
    /// set their own.
    #[schema(example = "Europe/Berlin", max_length = 64)]
    pub time_zone: Option<String>,
}

impl UpdateUser {
    fn parse(&self) -> ApiResult<UserPatch> {
        Ok(UserPatch {
            name: self.name.as_deref().map(DisplayName::parse).transpose()?,
            email: self.email.as_deref().map(EmailAddress::parse).transpose()?,
            role: self.role,
            active: self.active,
            time_zone: self
                .time_zone
                .as_deref()
                .map(|z| klaxon_domain::clock::zone_name("time_zone", z))
                .transpose()?,
        })
    }
}

/// Changes a user (admin; anyone may change their own name).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UpdateUser,
    params(("id" = String, Path, description = terms::doc::USER, min_length = 1)),
    responses((status = 200, body = UserOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<Json<UserOut>> {
    let id = terms::user(&state, &id, At::Path("id")).await?;
    let user =
        update_user_with(&state, &caller.user, caller.role, caller.actor(), id, &body).await?;
    Ok(Json(user.into()))
}

/// Checks and applies a change to a user; shared by the API and the web UI.
pub async fn update_user_with(
    state: &AppState,
    by: &User,
    role: Role,
    actor: Actor,
    id: UserId,
    body: &UpdateUser,
) -> ApiResult<User> {
    let patch = body.parse()?;
    // The e-mail is the login name: a leaked token of its owner must not be able to change it.
    let admin_only = patch.role.is_some() || patch.active.is_some() || patch.email.is_some();
    if !role.allows(Role::Admin) && (id != by.id || admin_only) {
        return Err(ApiError::Forbidden(
            "only an admin can change another user, an e-mail, a role or whether a user is active"
                .into(),
        ));
    }
    let duties = if patch.active == Some(false) {
        duties(state, id).await?
    } else {
        Vec::new()
    };
    let by_self = id == by.id;
    let now = state.clock.now();
    let edit = Box::new(move |snap: &UserSnapshot| {
        let standing = UserStanding {
            role: snap.user.role,
            active: snap.user.active(),
            other_admins: snap.other_admins,
            duties,
            by_self,
        };
        check_user_change(&standing, &patch)?;
        Ok(apply(&snap.user, &patch, now, actor))
    });
    let changed = state
        .store
        .change_user(id, edit)
        .await
        .map_err(ApiError::or_not_found("user"))?;
    Ok(changed?)
}

/// The user after `patch`, with an event for each kind of change that happened.
fn apply(old: &User, patch: &UserPatch, now: Timestamp, actor: Actor) -> UserChange {
    let mut new = old.clone();
    let mut fields = Map::new();
    let to_text = |t: &str| t.to_owned();
    set_noting(
        &mut fields,
        "name",
        &mut new.name,
        patch.name.as_ref().map(|n| to_text(n.as_str())),
    );
    set_noting(
        &mut fields,
        "email",
        &mut new.email,
        patch.email.as_ref().map(|e| to_text(e.as_str())),
    );
    set_noting(&mut fields, "role", &mut new.role, patch.role);
    set_noting(
        &mut fields,
        "time_zone",
        &mut new.time_zone,
        patch.time_zone.clone().map(Some),
    );
    let event =
        |kind, data: Value| NewEvent::new(SubjectType::User, old.id, now, actor, kind, data);
    let mut events = Vec::new();
    if !fields.is_empty() {
        events.push(event(EventKind::UserUpdated, Value::Object(fields)));
    }
    match patch.active {
        Some(false) if old.active() => {
            new.deactivated_at = Some(now);
            events.push(event(EventKind::UserDeactivated, json!({})));
        }
        Some(true) if !old.active() => {
            new.deactivated_at = None;
            events.push(event(EventKind::UserReactivated, json!({})));
        }
        _ => {}
    }
    UserChange { user: new, events }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    /// The user's new password, 12 to 128 characters and not easy to guess (common or breached
    /// passwords, repeats and sequences are refused with the reason). Their web sessions end.
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
}

/// Sets another user's password (admin), e.g. when they have lost theirs. Their web sessions
/// end; their API tokens keep working.
#[utoipa::path(post, path = "/api/v1/users/{id}/password", tag = "users", request_body = ResetPassword,
    params(("id" = String, Path, description = terms::doc::USER, min_length = 1)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResetPassword>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let id = terms::user(&state, &id, At::Path("id")).await?;
    reset_password_with(&state, id, &body.password, caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An admin sets `id`'s password; shared by the API and the web UI.
pub async fn reset_password_with(
    state: &AppState,
    id: UserId,
    password: &str,
    actor: Actor,
) -> ApiResult<()> {
    set_password_with(state, id, password, None, actor, "reset").await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    /// 12 to 128 characters, not easy to guess (common or breached passwords, repeats and
    /// sequences are refused with the reason).
    #[schema(min_length = 12, max_length = 128)]
    pub new_password: String,
}

/// Changes the caller's own password; every web session of theirs ends.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "auth", request_body = ChangePassword,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn change_own_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ChangePassword>,
) -> ApiResult<StatusCode> {
    change_own_password_with(&state, &caller.user, &body, None, caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks the current password, then sets the new one; `keep` is the web session making the
/// change, which stays signed in.
pub async fn change_own_password_with(
    state: &AppState,
    who: &User,
    body: &ChangePassword,
    keep: Option<[u8; 32]>,
    actor: Actor,
) -> ApiResult<()> {
    let new = NewPassword::parse(&body.new_password)
        .map_err(|e| ApiError::invalid("new_password", e.reason))?;
    if !is_own_password(state, who, &body.current_password).await? {
        tracing::warn!(user = %who.id, "password change with a wrong current password");
        return Err(ApiError::invalid(
            "current_password",
            "is not your password",
        ));
    }
    set_password_with(state, who.id, new.expose(), keep, actor, "changed").await
}

async fn set_password_with(
    state: &AppState,
    id: UserId,
    raw: &str,
    keep: Option<[u8; 32]>,
    actor: Actor,
    how: &str,
) -> ApiResult<()> {
    let password = NewPassword::parse(raw)?;
    let hash = state.passwords.hash(password.expose()).await?;
    let event = NewEvent::new(
        SubjectType::User,
        id,
        state.clock.now(),
        actor,
        EventKind::UserPasswordChanged,
        json!({"how": how}),
    );
    state
        .store
        .set_password(id, hash, keep, event)
        .await
        .map_err(ApiError::or_not_found("user"))
}

/// Re-authentication: the caller's own password (`who` is the signed-in user), whoever's
/// method it is.
pub async fn check_password(state: &AppState, who: &User, password: &str) -> ApiResult<()> {
    if is_own_password(state, who, password).await? {
        Ok(())
    } else {
        tracing::warn!(user = %who.id, "contact method change with a wrong password");
        Err(ApiError::invalid("password", "is not your password"))
    }
}

/// Whether `password` is `who`'s current password. Wrong guesses are throttled per user like
/// logins (`auth.login_failures_per_account_and_address` per window), so a stolen token or
/// session cannot be used to guess the password behind it.
pub async fn is_own_password(state: &AppState, who: &User, password: &str) -> ApiResult<bool> {
    let now = state.clock.now();
    let throttle = crate::people::login::login_throttle(&state.settings.auth);
    let key = format!("password-check:{}", who.id);
    let failures = state
        .store
        .count_login_failures(&key, throttle.since(now))
        .await?;
    if failures >= throttle.per_account_and_address {
        tracing::warn!(user = %who.id, "password check throttled");
        return Err(ApiError::TooManyRequests {
            retry_after_secs: throttle.window.as_secs().unsigned_abs(),
        });
    }
    let creds = state.store.user_credentials(&who.email).await?;
    let ok = state
        .passwords
        .verify(password, Some(creds.password_hash))
        .await
        .map_err(ApiError::Internal)?;
    if ok {
        state.store.clear_login_failures(&key).await?;
    } else {
        let event = NewEvent::new(
            SubjectType::User,
            who.id,
            now,
            Actor::User(who.id),
            EventKind::UserPasswordCheckFailed,
            json!({}),
        );
        state.store.record_login_failure(&[key], now, event).await?;
    }
    Ok(ok)
}
