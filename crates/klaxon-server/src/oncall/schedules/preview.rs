//! Previewing a schedule before it is saved: the shifts a definition would give, computed by the
//! same domain code as a saved schedule's, with nothing written. The web form's Preview button,
//! `POST /api/v1/schedules/preview` and `klaxon schedules preview` all go through
//! [`preview_with`].
use axum::Json;
use axum::extract::State;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::auth::Role;
use klaxon_domain::ids::ScheduleId;
use klaxon_domain::schedule::{Layer, Override, RANGE_MAX, Schedule};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{LayerShiftsOut, ShiftOut, checked_layers, rendered_shifts};
use crate::shared::api::{ApiJson, Caller};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(preview_schedule))
}

/// How far a preview looks when its end is left out.
pub const PREVIEW_RANGE: SignedDuration = SignedDuration::from_hours(14 * 24);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewSchedule {
    /// An IANA name, like `Europe/Berlin`.
    #[schema(example = "Europe/Berlin")]
    pub time_zone: String,
    /// As for creating a schedule, lowest priority first.
    #[schema(min_items = 1, max_items = 20)]
    pub layers: Vec<Layer>,
    /// A saved schedule whose overrides apply, to preview a change to it.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub schedule_id: Option<ScheduleId>,
    /// Start of the range (default: now, or the earliest layer start if that is later).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub from: Option<Timestamp>,
    /// End of the range, at most 366 days after `from` (default: 14 days after it).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub to: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewOut {
    /// The zone's canonical IANA name.
    pub time_zone: String,
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    /// The final schedule, as `GET /api/v1/schedules/{id}/shifts` would give it once saved.
    pub shifts: Vec<ShiftOut>,
    /// Each layer on its own, in the order given.
    pub layers: Vec<LayerShiftsOut>,
}

/// The shifts a schedule definition would give (viewer), checked like a create or an update
/// (400 naming the field), without saving anything.
#[utoipa::path(post, path = "/api/v1/schedules/preview", tag = "on-call", request_body = PreviewSchedule,
    responses((status = 200, body = PreviewOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn preview_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PreviewSchedule>,
) -> ApiResult<Json<PreviewOut>> {
    caller.require(Role::Viewer)?;
    preview_with(&state, body).await.map(Json)
}

pub async fn preview_with(state: &AppState, body: PreviewSchedule) -> ApiResult<PreviewOut> {
    let (time_zone, layers) = checked_layers(state, &body.time_zone, body.layers).await?;
    let bare = Schedule::new(&time_zone, layers, Vec::new())?;
    let from = match body.from {
        Some(f) => f,
        None => default_from(&bare, state.clock.now()),
    };
    let to = body
        .to
        .unwrap_or_else(|| from.saturating_add(PREVIEW_RANGE).unwrap_or(Timestamp::MAX));
    if to <= from {
        return Err(ApiError::invalid("to", "must be after from"));
    }
    if to.duration_since(from) > RANGE_MAX {
        return Err(ApiError::invalid(
            "to",
            "must be at most 366 days after from",
        ));
    }
    let schedule = match body.schedule_id {
        None => bare,
        Some(id) => {
            let stored = state
                .store
                .schedule_with_overrides(id, from, to)
                .await
                .map_err(ApiError::or_not_found("schedule"))?;
            let overrides = stored
                .overrides
                .iter()
                .map(|o| Override {
                    start: o.start,
                    end: o.end,
                    user: o.user_id,
                })
                .collect();
            let (time_zone, layers, _) = bare.into_parts();
            Schedule::new(&time_zone, layers, overrides)?
        }
    };
    let (shifts, layers) = rendered_shifts(state, &schedule, from, to).await?;
    Ok(PreviewOut {
        time_zone: schedule.time_zone().to_owned(),
        from,
        to,
        shifts,
        layers,
    })
}

/// Now, or the first instant any layer starts if that is later: a schedule that begins next
/// month is previewed from its beginning, not as two empty weeks.
pub fn default_from(s: &Schedule, now: Timestamp) -> Timestamp {
    let first = s
        .layers()
        .iter()
        .filter_map(|l| l.start.to_zoned(s.tz().clone()).ok())
        .map(|z| z.timestamp())
        .min();
    match first {
        Some(f) if f > now => f,
        _ => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_domain::ids::UserId;
    use klaxon_domain::schedule::{Turn, TurnUnit};

    #[test]
    fn a_schedule_that_starts_later_is_previewed_from_its_start() {
        let layer = |start: &str| Layer {
            name: "l".into(),
            start: start.parse().unwrap(),
            end: None,
            users: vec![UserId(
                "0195b6c8-0000-7000-8000-000000000001".parse().unwrap(),
            )],
            turn: Turn {
                count: 1,
                unit: TurnUnit::Days,
            },
            restrictions: Vec::new(),
        };
        let now: Timestamp = "2026-11-21T09:00:00Z".parse().unwrap();
        let s = Schedule::new(
            "Europe/Berlin",
            vec![layer("2026-12-01T09:00"), layer("2026-12-03T09:00")],
            Vec::new(),
        )
        .unwrap();
        assert_eq!(
            default_from(&s, now),
            "2026-12-01T08:00:00Z".parse::<Timestamp>().unwrap()
        );
        let s = Schedule::new("UTC", vec![layer("2026-11-01T09:00")], Vec::new()).unwrap();
        assert_eq!(default_from(&s, now), now);
    }
}
