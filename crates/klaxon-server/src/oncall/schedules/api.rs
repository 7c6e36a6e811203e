//! The REST API for on-call schedules: their definitions and overrides, the shifts they give
//! over a range, and who is on call; and the lookup the escalation step pages schedules with.
//!
//! Nothing about turns is stored: every answer is computed from a schedule's layers and the
//! overrides around the instants asked about (see [`klaxon_domain::schedule`]).
use std::collections::HashSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::auth::Role;
use klaxon_domain::escalation::Target;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{OverrideId, ScheduleId, UserId};
use klaxon_domain::page::Limit;
use klaxon_domain::schedule::{Layer, OVERRIDES_MAX, RANGE_MAX, Schedule, Shift};
use klaxon_domain::service as rules;
use klaxon_store::{
    ScheduleOverride, ScheduleRecord, ScheduleWithOverrides, Store, StoreError, StoreResult,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::shared::api::{
    ApiJson, ApiQuery, Caller, ListOf, PageParams, decode_cursor, encode_cursor, page_in_memory,
    parse_field_id,
};
use crate::shared::crypto::random_bytes;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::lists::user_names;
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_schedules, create_schedule))
        .routes(routes!(get_schedule, update_schedule, delete_schedule))
        .routes(routes!(list_overrides, create_override))
        .routes(routes!(delete_override))
        .routes(routes!(schedule_shifts))
        .routes(routes!(schedule_on_call))
        .routes(routes!(on_call))
        .merge(super::preview::router())
}

/// How far from the instant asked about a current shift's start and end are looked for: a
/// shift longer than that is reported cut at these bounds. Twice this is [`RANGE_MAX`].
const HORIZON_DAYS: i64 = 183;
/// Shifts are first looked for within a day of the instant, then further out only when the
/// shift found reaches the edge of the window: most turns are a day or a week.
const SEARCH_DAYS: [i64; 4] = [1, 8, 32, HORIZON_DAYS];
/// The default length of a range whose end is left out.
const DEFAULT_RANGE: SignedDuration = SignedDuration::from_hours(7 * 24);

// --- DTOs --------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: ScheduleId,
    pub name: String,
    pub description: String,
    /// IANA name, like `Europe/Berlin`: layer starts and restrictions are read in it.
    pub time_zone: String,
    /// Layers, lowest priority first: `{"name", "start": "2026-03-02T09:00" (local),
    /// "end": RFC 3339 or null, "users": [ids], "turn": {"count": 1, "unit": "weeks"},
    /// "restrictions": [{"type": "daily", "start": "09:00", "duration_minutes": 480}]}`.
    pub layers: Vec<Layer>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<ScheduleRecord> for ScheduleOut {
    fn from(s: ScheduleRecord) -> Self {
        Self {
            id: s.id,
            name: s.name,
            description: s.description,
            time_zone: s.time_zone,
            layers: s.layers,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSchedule {
    #[schema(max_length = 100, pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    /// An IANA name, like `Europe/Berlin`.
    #[schema(example = "Europe/Berlin")]
    pub time_zone: String,
    /// Each layer's `users` name people by id or e-mail address.
    #[schema(min_items = 1, max_items = 20)]
    pub layers: Vec<Layer>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSchedule {
    #[schema(max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    #[schema(example = "Europe/Berlin")]
    pub time_zone: Option<String>,
    /// Replaces every layer.
    /// Each layer's `users` name people by id or e-mail address.
    #[schema(min_items = 1, max_items = 20)]
    pub layers: Option<Vec<Layer>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverrideOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: OverrideId,
    #[schema(value_type = String, format = Uuid)]
    pub schedule_id: ScheduleId,
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<ScheduleOverride> for OverrideOut {
    fn from(o: ScheduleOverride) -> Self {
        Self {
            id: o.id,
            schedule_id: o.schedule_id,
            user_id: o.user_id,
            start: o.start,
            end: o.end,
            created_at: o.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOverride {
    /// Who is on call instead of whoever the layers give, gaps included: a user id or e-mail
    /// address.
    #[schema(value_type = String, min_length = 1)]
    pub user_id: UserId,
    /// RFC 3339, like `2026-03-02T18:00:00+01:00`.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
}

/// A range of instants, RFC 3339 (`Z` or an offset; write `+` as `%2B` in a URL).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RangeParams {
    /// Start of the range (default: now).
    #[param(value_type = Option<jiff::Timestamp>)]
    pub from: Option<String>,
    /// End of the range, at most 366 days after `from` (default: `from` plus the default
    /// length: 7 days for shifts, 366 for overrides).
    #[param(value_type = Option<jiff::Timestamp>)]
    pub to: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OverrideParams {
    /// Start of the range (default: now).
    #[param(value_type = Option<jiff::Timestamp>)]
    pub from: Option<String>,
    /// End of the range, at most 366 days after `from` (default: 366 days).
    #[param(value_type = Option<jiff::Timestamp>)]
    pub to: Option<String>,
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AtParams {
    /// The instant, RFC 3339 (default: now).
    #[param(value_type = Option<jiff::Timestamp>)]
    pub at: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OnCallParams {
    /// The instant, RFC 3339 (default: now).
    #[param(value_type = Option<jiff::Timestamp>)]
    pub at: Option<String>,
    /// Schedules per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShiftOut {
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    /// `null` for a user who no longer exists.
    pub user_name: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LayerShiftsOut {
    pub name: String,
    pub shifts: Vec<ShiftOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShiftsOut {
    #[schema(value_type = String, format = Uuid)]
    pub schedule_id: ScheduleId,
    pub time_zone: String,
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    /// The final schedule: layers and overrides together, sorted and without overlaps. Between
    /// shifts nobody is on call.
    pub shifts: Vec<ShiftOut>,
    /// Each layer on its own, in the schedule's order (the last has the highest priority).
    pub layers: Vec<LayerShiftsOut>,
}

/// Who is on call in one schedule at one instant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OnCallOut {
    #[schema(value_type = String, format = Uuid)]
    pub schedule_id: ScheduleId,
    pub schedule_name: String,
    /// `null` when nobody is on call then.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub user_id: Option<UserId>,
    pub user_name: Option<String>,
    /// The shift that instant falls in (looked for up to 183 days either side).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub end: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OnCallListOut {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub items: Vec<OnCallOut>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

// --- shared checks -----------------------------------------------------------------------------

/// An RFC 3339 instant from a query string, blaming `field`. A `+` decoded as a space (an
/// offset written unescaped) is read as the `+` it was meant to be.
fn instant(field: &str, raw: &str) -> ApiResult<Timestamp> {
    let raw = raw.trim();
    raw.parse()
        .or_else(|_| raw.replace(' ', "+").parse())
        .map_err(|_| {
            ApiError::invalid(
                field,
                "must be an RFC 3339 instant, like 2026-03-02T09:00:00Z",
            )
        })
}

/// `[from, to)` from the query: `from` defaults to `now`, `to` to `from + default_len`; the
/// range must be non-empty and at most [`RANGE_MAX`] long.
fn range(
    p: &RangeParams,
    now: Timestamp,
    default_len: SignedDuration,
) -> ApiResult<(Timestamp, Timestamp)> {
    let from = match &p.from {
        Some(raw) => instant("from", raw)?,
        None => now,
    };
    let to = match &p.to {
        Some(raw) => instant("to", raw)?,
        None => from.saturating_add(default_len).unwrap_or(Timestamp::MAX),
    };
    if to <= from {
        return Err(ApiError::invalid("to", "must be after from"));
    }
    if to.duration_since(from) > RANGE_MAX {
        return Err(ApiError::invalid(
            "to",
            "must be at most 366 days after from",
        ));
    }
    Ok((from, to))
}

fn at_or_now(raw: Option<&str>, now: Timestamp) -> ApiResult<Timestamp> {
    raw.map_or(Ok(now), |raw| instant("at", raw))
}

/// Checks the zone and layers with the domain's rules (400 naming the field), then that every
/// user they name exists and is active (400 naming `layers[i].users`). Returns the canonical zone name and
/// the layers as the domain cleaned them.
pub(super) async fn checked_layers(
    state: &AppState,
    time_zone: &str,
    layers: Vec<Layer>,
) -> ApiResult<(String, Vec<Layer>)> {
    let (time_zone, layers, _) = Schedule::new(time_zone, layers, Vec::new())?.into_parts();
    let mut known = HashSet::new();
    for (i, layer) in layers.iter().enumerate() {
        for &user in &layer.users {
            if known.contains(&user) {
                continue;
            }
            crate::people::manage::active_user(state, &format!("layers[{i}].users"), user).await?;
            known.insert(user);
        }
    }
    Ok((time_zone, layers))
}

fn schedule_conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { constraint } if constraint == "schedules_name" => {
            ApiError::Conflict {
                message: "a schedule with this name exists".into(),
                field: Some("name".into()),
            }
        }
        StoreError::Conflict { constraint } if constraint == "schedule_in_use" => {
            ApiError::Conflict {
                message: "escalation policies page this schedule: take it out of them first".into(),
                field: None,
            }
        }
        e => ApiError::or_not_found("schedule")(e),
    }
}

/// The domain schedule of a stored one. Stored layers were checked when written, so this fails
/// only on a broken database.
pub(crate) fn domain(s: &ScheduleWithOverrides) -> ApiResult<Schedule> {
    s.to_domain().map_err(|e| {
        ApiError::Internal(anyhow::anyhow!(
            "stored schedule {} is invalid: {e}",
            s.schedule.id
        ))
    })
}

/// The final shift `at` falls in, if anyone is on call then. Its start and end are exact unless
/// they lie more than [`HORIZON_DAYS`] away, where they are cut.
pub fn current_shift(s: &Schedule, at: Timestamp) -> Option<Shift> {
    s.on_call(at)?;
    let mut found = None;
    for days in SEARCH_DAYS {
        let half = SignedDuration::from_hours(days * 24);
        let from = at.saturating_sub(half).unwrap_or(Timestamp::MIN);
        let to = at.saturating_add(half).unwrap_or(Timestamp::MAX);
        let shift = s
            .shifts(from, to)
            .into_iter()
            .find(|sh| sh.start <= at && at < sh.end)?;
        found = Some(shift);
        if shift.start > from && shift.end < to {
            break;
        }
    }
    found
}

/// The overrides to read to answer "who is on call at `at`, in which shift".
fn horizon(at: Timestamp) -> (Timestamp, Timestamp) {
    let half = SignedDuration::from_hours(HORIZON_DAYS * 24);
    (
        at.saturating_sub(half).unwrap_or(Timestamp::MIN),
        at.saturating_add(half).unwrap_or(Timestamp::MAX),
    )
}

/// Who is on call in `s` at `at`, without the user's name.
fn on_call_row(s: &ScheduleWithOverrides, at: Timestamp) -> ApiResult<OnCallOut> {
    let shift = current_shift(&domain(s)?, at);
    Ok(OnCallOut {
        schedule_id: s.schedule.id,
        schedule_name: s.schedule.name.clone(),
        user_id: shift.map(|sh| sh.user),
        user_name: None,
        start: shift.map(|sh| sh.start),
        end: shift.map(|sh| sh.end),
    })
}

// --- paging ------------------------------------------------------------------------------------

/// Who a level's targets reach at one instant.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reached {
    /// Each user once, in target order: named directly or on call in a schedule.
    pub users: Vec<UserId>,
    /// Which user each schedule gave.
    pub via_schedules: Vec<(ScheduleId, UserId)>,
    /// Schedules with nobody on call then (or deleted meanwhile).
    pub empty_schedules: Vec<ScheduleId>,
}

impl Reached {
    /// For the `incident.escalated` event.
    pub fn schedules_json(&self) -> serde_json::Value {
        self.via_schedules
            .iter()
            .map(|(s, u)| json!({"schedule_id": s, "user_id": u}))
            .collect()
    }
}

/// Resolves a level's targets to the users to page at `at`: users as they are, schedules to
/// whoever is on call in them then. A user reached twice is listed once.
pub async fn reach(store: &dyn Store, targets: &[Target], at: Timestamp) -> StoreResult<Reached> {
    let mut out = Reached::default();
    for target in targets {
        let user = match *target {
            Target::User(u) => u,
            Target::Schedule(id) => {
                let end = at
                    .saturating_add(SignedDuration::from_secs(1))
                    .unwrap_or(at);
                let who = match store.schedule_with_overrides(id, at, end).await {
                    Ok(s) => match s.to_domain() {
                        Ok(schedule) => schedule.on_call(at),
                        Err(e) => {
                            tracing::error!(schedule = %id, error = %e, "stored schedule is invalid: paging nobody through it");
                            None
                        }
                    },
                    Err(e) if e.is_not_found() => None,
                    Err(e) => return Err(e),
                };
                let Some(u) = who else {
                    out.empty_schedules.push(id);
                    continue;
                };
                out.via_schedules.push((id, u));
                u
            }
        };
        if !out.users.contains(&user) {
            out.users.push(user);
        }
    }
    Ok(out)
}

// --- schedules ---------------------------------------------------------------------------------

/// Lists schedules.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "on-call", params(PageParams),
    responses((status = 200, body = ListOf<ScheduleOut>), (status = 400, body = ErrorBody)))]
async fn list_schedules(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<ScheduleOut>>> {
    caller.require(Role::Viewer)?;
    let limit = Limit::parse(p.limit)?;
    let after = decode_cursor::<ScheduleId>("schedules", p.cursor.as_deref())?;
    let page = state.store.list_schedules(after, limit.get()).await?;
    Ok(Json(ListOf {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(|id| encode_cursor("schedules", id)),
    }))
}

/// Creates a schedule (admin).
#[utoipa::path(post, path = "/api/v1/schedules", tag = "on-call", request_body = CreateSchedule,
    responses((status = 201, body = ScheduleOut), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut body): ApiJson<serde_json::Value>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    layer_user_ids(&state, &mut body).await?;
    let body: CreateSchedule = terms::from_json(&body)?;
    let s = create_schedule_with(&state, caller.actor(), body).await?;
    Ok((StatusCode::CREATED, Json(ScheduleOut::from(s))))
}

/// A schedule body's layers may name people by e-mail address: each becomes its id first.
async fn layer_user_ids(state: &AppState, body: &mut serde_json::Value) -> ApiResult<()> {
    use klaxon_domain::schedule::{LAYERS_MAX, USERS_MAX};
    terms::users_in(state, body, ("layers", LAYERS_MAX), ("users", USERS_MAX)).await
}

pub async fn create_schedule_with(
    state: &AppState,
    actor: Actor,
    body: CreateSchedule,
) -> ApiResult<ScheduleRecord> {
    let now = state.clock.now();
    let name = rules::text(&body.name, "name", rules::NAME_MAX)?;
    let description =
        rules::optional_text(&body.description, "description", rules::DESCRIPTION_MAX)?;
    let (time_zone, layers) = checked_layers(state, &body.time_zone, body.layers).await?;
    let s = ScheduleRecord {
        id: ScheduleId::new(now, random_bytes()),
        name,
        description,
        time_zone,
        layers,
        created_at: now,
        updated_at: now,
    };
    let e = NewEvent::new(
        SubjectType::Schedule,
        s.id,
        now,
        actor,
        EventKind::ScheduleCreated,
        json!({"name": s.name, "description": s.description, "time_zone": s.time_zone,
               "layers": s.layers}),
    );
    state
        .store
        .create_schedule(s, e)
        .await
        .map_err(schedule_conflict)
}

/// One schedule.
#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "on-call",
    params(("id" = String, Path, description = terms::doc::SCHEDULE, min_length = 1)),
    responses((status = 200, body = ScheduleOut), (status = 404, body = ErrorBody)))]
async fn get_schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ScheduleOut>> {
    caller.require(Role::Viewer)?;
    let id = terms::schedule(&state, &id, At::Path("id")).await?;
    let s = state
        .store
        .schedule(id)
        .await
        .map_err(ApiError::or_not_found("schedule"))?;
    Ok(Json(s.into()))
}

/// Changes a schedule (admin). Who is on call follows the new layers at once; overrides stay.
#[utoipa::path(patch, path = "/api/v1/schedules/{id}", tag = "on-call", request_body = UpdateSchedule,
    params(("id" = String, Path, description = terms::doc::SCHEDULE, min_length = 1)),
    responses((status = 200, body = ScheduleOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn update_schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(mut body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<ScheduleOut>> {
    caller.require(Role::Admin)?;
    let id = terms::schedule(&state, &id, At::Path("id")).await?;
    layer_user_ids(&state, &mut body).await?;
    let body: UpdateSchedule = terms::from_json(&body)?;
    let s = update_schedule_with(&state, caller.actor(), id, body).await?;
    Ok(Json(s.into()))
}

pub async fn update_schedule_with(
    state: &AppState,
    actor: Actor,
    id: ScheduleId,
    body: UpdateSchedule,
) -> ApiResult<ScheduleRecord> {
    let mut s = state
        .store
        .schedule(id)
        .await
        .map_err(ApiError::or_not_found("schedule"))?;
    let mut changed = serde_json::Map::new();
    if let Some(name) = &body.name {
        s.name = rules::text(name, "name", rules::NAME_MAX)?;
        changed.insert("name".into(), json!(s.name));
    }
    if let Some(d) = &body.description {
        s.description = rules::optional_text(d, "description", rules::DESCRIPTION_MAX)?;
        changed.insert("description".into(), json!(s.description));
    }
    if body.time_zone.is_some() || body.layers.is_some() {
        let zone = body.time_zone.unwrap_or_else(|| s.time_zone.clone());
        let layers = body.layers.unwrap_or_else(|| s.layers.clone());
        (s.time_zone, s.layers) = checked_layers(state, &zone, layers).await?;
        changed.insert("time_zone".into(), json!(s.time_zone));
        changed.insert("layers".into(), json!(s.layers));
    }
    let now = state.clock.now();
    s.updated_at = now;
    let e = NewEvent::new(
        SubjectType::Schedule,
        id,
        now,
        actor,
        EventKind::ScheduleUpdated,
        serde_json::Value::Object(changed),
    );
    state
        .store
        .update_schedule(s, e)
        .await
        .map_err(schedule_conflict)
}

/// Deletes a schedule and its overrides (admin); refused (409) while an escalation policy
/// pages it.
#[utoipa::path(delete, path = "/api/v1/schedules/{id}", tag = "on-call",
    params(("id" = String, Path, description = terms::doc::SCHEDULE, min_length = 1)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let id = terms::schedule(&state, &id, At::Path("id")).await?;
    delete_schedule_with(&state, caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_schedule_with(state: &AppState, actor: Actor, id: ScheduleId) -> ApiResult<()> {
    let s = state
        .store
        .schedule(id)
        .await
        .map_err(ApiError::or_not_found("schedule"))?;
    let e = NewEvent::new(
        SubjectType::Schedule,
        id,
        state.clock.now(),
        actor,
        EventKind::ScheduleDeleted,
        json!({"name": s.name}),
    );
    state
        .store
        .delete_schedule(id, e)
        .await
        .map_err(schedule_conflict)
}

// --- overrides ---------------------------------------------------------------------------------

/// A schedule's overrides that overlap a range (default: from now, for 366 days), by start.
#[utoipa::path(get, path = "/api/v1/schedules/{id}/overrides", tag = "on-call",
    params(("id" = String, Path, description = terms::doc::SCHEDULE, min_length = 1), OverrideParams),
    responses((status = 200, body = ListOf<OverrideOut>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_overrides(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<OverrideParams>,
) -> ApiResult<Json<ListOf<OverrideOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::schedule(&state, &id, At::Path("id")).await?;
    let span = RangeParams {
        from: p.from,
        to: p.to,
    };
    let (from, to) = range(&span, state.clock.now(), RANGE_MAX)?;
    state
        .store
        .schedule(id)
        .await
        .map_err(ApiError::or_not_found("schedule"))?;
    let items = state.store.list_schedule_overrides(id, from, to).await?;
    let page = PageParams {
        limit: p.limit,
        cursor: p.cursor,
    };
    Ok(Json(page_in_memory("overrides", items, &page, Into::into)?))
}

/// Puts someone on call in a schedule for a while (responder): they take the page instead of
/// whoever the layers give. Of overlapping overrides, the one starting last wins.
#[utoipa::path(post, path = "/api/v1/schedules/{id}/overrides", tag = "on-call", request_body = CreateOverride,
    params(("id" = String, Path, description = terms::doc::SCHEDULE, min_length = 1)),
    responses((status = 201, body = OverrideOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_override(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(mut body): ApiJson<serde_json::Value>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Responder)?;
    let id = terms::schedule(&state, &id, At::Path("id")).await?;
    if let Some(raw) = terms::text_at(&mut body, "user_id") {
        *raw = terms::user(&state, raw, At::Field("user_id"))
            .await?
            .to_string();
    }
    let body: CreateOverride = terms::from_json(&body)?;
    let o = add_override_with(&state, caller.actor(), id, body).await?;
    Ok((StatusCode::CREATED, Json(OverrideOut::from(o))))
}

pub async fn add_override_with(
    state: &AppState,
    actor: Actor,
    schedule: ScheduleId,
    body: CreateOverride,
) -> ApiResult<ScheduleOverride> {
    let now = state.clock.now();
    if body.end <= body.start {
        return Err(ApiError::invalid("end", "must be after start"));
    }
    if body.end <= now {
        return Err(ApiError::invalid("end", "must be in the future"));
    }
    state
        .store
        .schedule(schedule)
        .await
        .map_err(ApiError::or_not_found("schedule"))?;
    crate::people::manage::active_user(state, "user_id", body.user_id).await?;
    // Answers read the overrides of at most RANGE_MAX at a time; keep that many bounded.
    let near = state
        .store
        .list_schedule_overrides(
            schedule,
            body.start
                .saturating_sub(RANGE_MAX)
                .unwrap_or(Timestamp::MIN),
            body.end.saturating_add(RANGE_MAX).unwrap_or(Timestamp::MAX),
        )
        .await?;
    if near.len() >= OVERRIDES_MAX {
        return Err(ApiError::invalid(
            "start",
            format!(
                "the schedule has {OVERRIDES_MAX} overrides within a year of this one: remove some first"
            ),
        ));
    }
    let o = ScheduleOverride {
        id: OverrideId::new(now, random_bytes()),
        schedule_id: schedule,
        user_id: body.user_id,
        start: body.start,
        end: body.end,
        created_at: now,
    };
    let e = NewEvent::new(
        SubjectType::Schedule,
        schedule,
        now,
        actor,
        EventKind::ScheduleOverrideAdded,
        json!({"override_id": o.id, "user_id": o.user_id, "start": o.start, "end": o.end}),
    );
    state
        .store
        .create_schedule_override(o, e)
        .await
        .map_err(ApiError::or_not_found("schedule"))
}

/// Removes an override (responder).
#[utoipa::path(delete, path = "/api/v1/schedules/{id}/overrides/{override_id}", tag = "on-call",
    params(("id" = String, Path, description = terms::doc::SCHEDULE, min_length = 1), ("override_id" = uuid::Uuid, Path, description = "Override id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_override(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, override_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    let id = terms::schedule(&state, &id, At::Path("id")).await?;
    let oid = parse_field_id::<OverrideId>(&override_id, "override_id")?;
    remove_override_with(&state, caller.actor(), id, oid).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_override_with(
    state: &AppState,
    actor: Actor,
    schedule: ScheduleId,
    id: OverrideId,
) -> ApiResult<()> {
    let not_found = ApiError::or_not_found("override");
    let o = state
        .store
        .schedule_override(schedule, id)
        .await
        .map_err(&not_found)?;
    let e = NewEvent::new(
        SubjectType::Schedule,
        schedule,
        state.clock.now(),
        actor,
        EventKind::ScheduleOverrideRemoved,
        json!({"override_id": o.id, "user_id": o.user_id, "start": o.start, "end": o.end}),
    );
    state
        .store
        .delete_schedule_override(schedule, id, e)
        .await
        .map_err(not_found)
}

// --- shifts and who is on call -----------------------------------------------------------------

/// The shifts a schedule gives over a range (default: the next 7 days; at most 366 days): the
/// final ones, and each layer's on its own.
#[utoipa::path(get, path = "/api/v1/schedules/{id}/shifts", tag = "on-call",
    params(("id" = String, Path, description = terms::doc::SCHEDULE, min_length = 1), RangeParams),
    responses((status = 200, body = ShiftsOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn schedule_shifts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<RangeParams>,
) -> ApiResult<Json<ShiftsOut>> {
    caller.require(Role::Viewer)?;
    let id = terms::schedule(&state, &id, At::Path("id")).await?;
    let (from, to) = range(&p, state.clock.now(), DEFAULT_RANGE)?;
    shifts_with(&state, id, from, to).await.map(Json)
}

pub async fn shifts_with(
    state: &AppState,
    id: ScheduleId,
    from: Timestamp,
    to: Timestamp,
) -> ApiResult<ShiftsOut> {
    let stored = state
        .store
        .schedule_with_overrides(id, from, to)
        .await
        .map_err(ApiError::or_not_found("schedule"))?;
    let schedule = domain(&stored)?;
    let (shifts, layers) = rendered_shifts(state, &schedule, from, to).await?;
    Ok(ShiftsOut {
        schedule_id: id,
        time_zone: schedule.time_zone().to_owned(),
        from,
        to,
        shifts,
        layers,
    })
}

/// The final shifts of `schedule` over `[from, to)` and each layer's, with the users' names:
/// what the shifts endpoint and the preview answer.
pub(super) async fn rendered_shifts(
    state: &AppState,
    schedule: &Schedule,
    from: Timestamp,
    to: Timestamp,
) -> ApiResult<(Vec<ShiftOut>, Vec<LayerShiftsOut>)> {
    let final_shifts = schedule.shifts(from, to);
    let layers: Vec<(String, Vec<Shift>)> = schedule
        .layers()
        .iter()
        .enumerate()
        .map(|(i, l)| (l.name.clone(), schedule.layer_shifts(i, from, to)))
        .collect();
    let users: Vec<UserId> = final_shifts
        .iter()
        .chain(layers.iter().flat_map(|(_, s)| s))
        .map(|s| s.user)
        .collect();
    let names = user_names(state.store.as_ref(), users).await?;
    let out = |shifts: Vec<Shift>| -> Vec<ShiftOut> {
        shifts
            .into_iter()
            .map(|s| ShiftOut {
                user_id: s.user,
                user_name: names.get(&s.user).cloned(),
                start: s.start,
                end: s.end,
            })
            .collect()
    };
    Ok((
        out(final_shifts),
        layers
            .into_iter()
            .map(|(name, shifts)| LayerShiftsOut {
                name,
                shifts: out(shifts),
            })
            .collect(),
    ))
}

/// Who is on call in one schedule now (or at `at`), with the shift.
#[utoipa::path(get, path = "/api/v1/schedules/{id}/oncalls", tag = "on-call",
    params(("id" = String, Path, description = terms::doc::SCHEDULE, min_length = 1), AtParams),
    responses((status = 200, body = OnCallOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn schedule_on_call(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<AtParams>,
) -> ApiResult<Json<OnCallOut>> {
    caller.require(Role::Viewer)?;
    let id = terms::schedule(&state, &id, At::Path("id")).await?;
    let at = at_or_now(p.at.as_deref(), state.clock.now())?;
    schedule_on_call_with(&state, id, at).await.map(Json)
}

/// Who is on call in one schedule at `at`, with the shift and the user's name.
pub async fn schedule_on_call_with(
    state: &AppState,
    id: ScheduleId,
    at: Timestamp,
) -> ApiResult<OnCallOut> {
    let (from, to) = horizon(at);
    let stored = state
        .store
        .schedule_with_overrides(id, from, to)
        .await
        .map_err(ApiError::or_not_found("schedule"))?;
    let mut row = on_call_row(&stored, at)?;
    if let Some(user) = row.user_id {
        row.user_name = user_names(state.store.as_ref(), vec![user])
            .await?
            .remove(&user);
    }
    Ok(row)
}

/// Who is on call now (or at `at`) in every schedule, a page of schedules at a time (by id).
#[utoipa::path(get, path = "/api/v1/oncalls", tag = "on-call", params(OnCallParams),
    responses((status = 200, body = OnCallListOut), (status = 400, body = ErrorBody)))]
async fn on_call(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<OnCallParams>,
) -> ApiResult<Json<OnCallListOut>> {
    caller.require(Role::Viewer)?;
    let at = at_or_now(p.at.as_deref(), state.clock.now())?;
    let limit = Limit::parse(p.limit)?;
    let after = decode_cursor::<ScheduleId>("oncall", p.cursor.as_deref())?;
    let page = on_call_with(&state, at, after, limit.get()).await?;
    Ok(Json(OnCallListOut {
        at,
        items: page.items,
        next_cursor: page.next.map(|id| encode_cursor("oncall", id)),
    }))
}

/// A page of [`on_call_with`]: each schedule's row, its time zone alongside.
pub struct OnCallPage {
    pub items: Vec<OnCallOut>,
    /// The zone of each item's schedule, in the same order.
    pub time_zones: Vec<String>,
    pub next: Option<ScheduleId>,
}

/// Who is on call at `at` in a page of schedules (by id, after `after`), with names.
pub async fn on_call_with(
    state: &AppState,
    at: Timestamp,
    after: Option<ScheduleId>,
    limit: u32,
) -> ApiResult<OnCallPage> {
    let (from, to) = horizon(at);
    let page = state
        .store
        .list_schedules_with_overrides(after, limit, from, to)
        .await?;
    let mut items = page
        .items
        .iter()
        .map(|s| on_call_row(s, at))
        .collect::<ApiResult<Vec<_>>>()?;
    let users: Vec<UserId> = items.iter().filter_map(|r| r.user_id).collect();
    let names = user_names(state.store.as_ref(), users).await?;
    for row in &mut items {
        row.user_name = row.user_id.and_then(|u| names.get(&u).cloned());
    }
    Ok(OnCallPage {
        items,
        time_zones: page
            .items
            .into_iter()
            .map(|s| s.schedule.time_zone)
            .collect(),
        next: page.next,
    })
}
