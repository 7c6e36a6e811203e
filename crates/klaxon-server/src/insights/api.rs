//! The REST face of insights: `/api/v1/insights/…`. A period is `from`/`to` (RFC 3339 instants
//! or `YYYY-MM-DD` dates, UTC; `to` exclusive, a date `to` includes its day); answers are JSON,
//! or CSV with `?format=csv` or `Accept: text/csv`.
use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::auth::Role;
use klaxon_domain::page::Limit;
use klaxon_domain::schedule::RANGE_MAX;
use klaxon_store::{ScheduleWithOverrides, Store};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::csv;
use super::report::{self, GroupBy, MetricsReport, Names, NoiseReport, OnCallReport, Person};
use crate::shared::api::{ApiQuery, Caller};
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::lists;
use crate::shared::state::AppState;
use crate::slos::burns::BudgetReport;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(incident_metrics))
        .routes(routes!(alert_noise))
        .routes(routes!(oncall_load))
        .routes(routes!(slo_budget))
}

/// The default period: the 28 days up to now.
pub const DEFAULT_DAYS: i64 = 28;

#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeriodParams {
    /// Start of the period: an RFC 3339 instant or a `YYYY-MM-DD` date (its midnight, UTC).
    /// Default: 28 days before `to`.
    #[param(value_type = Option<String>)]
    pub from: Option<String>,
    /// End of the period, exclusive: an instant, or a date (the period then includes that
    /// day). Default: now. At most 366 days after `from`; before `from` is a 400 naming `to`.
    #[param(value_type = Option<String>)]
    pub to: Option<String>,
    /// `service`, `team` (escalation policy), `severity` or `category` (metrics groups by it;
    /// the other reports only check it).
    #[param(value_type = Option<report::GroupBy>)]
    pub group_by: Option<String>,
    /// `json` (default) or `csv`; `Accept: text/csv` also asks for CSV.
    #[param(value_type = Option<String>)]
    pub format: Option<String>,
    /// With CSV, which table: metrics `groups` (default), `weeks` or `severity`; on-call
    /// `people` (default) or `schedules`; SLO budget `incidents` (default) or `services`.
    #[param(value_type = Option<String>)]
    pub table: Option<String>,
}

fn instant(field: &str, raw: &str, end: bool) -> ApiResult<Timestamp> {
    let raw = raw.trim();
    if let Ok(t) = raw.parse::<Timestamp>() {
        return Ok(t);
    }
    if let Ok(t) = raw.replace(' ', "+").parse::<Timestamp>() {
        return Ok(t);
    }
    let date: jiff::civil::Date = raw.parse().map_err(|_| {
        ApiError::invalid(
            field,
            "must be an RFC 3339 instant (2026-03-02T09:00:00Z) or a date (2026-03-02)",
        )
    })?;
    let day = if end {
        date.tomorrow().unwrap_or(date)
    } else {
        date
    };
    day.to_zoned(TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|_| ApiError::invalid(field, "is out of range"))
}

/// `[from, to)` from the query. An end before (or at) the start is a 400 naming `to`.
pub fn period(p: &PeriodParams, now: Timestamp) -> ApiResult<(Timestamp, Timestamp)> {
    let to = match p.to.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(raw) => instant("to", raw, true)?,
        None => now,
    };
    let from = match p.from.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(raw) => instant("from", raw, false)?,
        None => to
            .checked_sub(SignedDuration::from_hours(24 * DEFAULT_DAYS))
            .unwrap_or(Timestamp::MIN),
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

pub fn group_by(p: &PeriodParams) -> ApiResult<Option<GroupBy>> {
    p.group_by
        .as_deref()
        .map(|s| s.parse::<GroupBy>().map_err(ApiError::from))
        .transpose()
}

fn wants_csv(p: &PeriodParams, headers: &HeaderMap) -> ApiResult<bool> {
    match p.format.as_deref() {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(_) => Err(ApiError::invalid("format", "must be json or csv")),
        None => Ok(headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv"))),
    }
}

async fn names(state: &AppState) -> ApiResult<Names> {
    let services = lists::all_services(state)
        .await?
        .into_iter()
        .map(|s| (s.id.to_string(), s.name))
        .collect();
    let policies = lists::all_policies(state)
        .await?
        .into_iter()
        .map(|p| (p.id.to_string(), p.name))
        .collect();
    Ok(Names {
        services,
        policies,
        users: HashMap::new(),
    })
}

pub async fn metrics_with(state: &AppState, p: &PeriodParams) -> ApiResult<MetricsReport> {
    let (from, to) = period(p, state.clock.now())?;
    let by = group_by(p)?;
    let rows = state.store.insight_incidents(from, to).await?;
    Ok(report::metrics(&rows, from, to, by, &names(state).await?))
}

pub async fn noise_with(state: &AppState, p: &PeriodParams) -> ApiResult<NoiseReport> {
    let (from, to) = period(p, state.clock.now())?;
    // Not used here, but a value that could never be right is refused everywhere alike.
    group_by(p)?;
    let rows = state.store.insight_incidents(from, to).await?;
    Ok(report::noise(&rows, from, to, &names(state).await?))
}

/// Every user, deactivated ones too (their past load still counts).
async fn people(store: &dyn Store) -> ApiResult<HashMap<klaxon_domain::ids::UserId, Person>> {
    let mut out = HashMap::new();
    let mut after = None;
    loop {
        let page = store.list_users(after, Limit::MAX).await?;
        for u in page.items {
            let tz = u.time_zone.as_deref().and_then(|z| TimeZone::get(z).ok());
            let zone = match (&tz, &u.time_zone) {
                (Some(_), Some(z)) => z.clone(),
                _ => "UTC".to_owned(),
            };
            out.insert(
                u.id,
                Person {
                    name: u.name,
                    zone,
                    tz: tz.unwrap_or(TimeZone::UTC),
                },
            );
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

pub async fn oncall_with(state: &AppState, p: &PeriodParams) -> ApiResult<OnCallReport> {
    let (from, to) = period(p, state.clock.now())?;
    group_by(p)?;
    let mut schedules = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .list_schedules_with_overrides(after, Limit::MAX, from, to)
            .await?;
        for s in &page.items {
            schedules.push(shifts_of(s, from, to)?);
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    schedules.sort_by(|a, b| a.1.cmp(&b.1));
    let pages = state.store.insight_pages(from, to).await?;
    let people = people(state.store.as_ref()).await?;
    Ok(report::oncall(&schedules, &pages, &people, from, to))
}

fn shifts_of(
    s: &ScheduleWithOverrides,
    from: Timestamp,
    to: Timestamp,
) -> ApiResult<(
    klaxon_domain::ids::ScheduleId,
    String,
    Vec<klaxon_domain::schedule::Shift>,
)> {
    let d = s
        .to_domain()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("schedule {}: {e}", s.schedule.id)))?;
    Ok((s.schedule.id, s.schedule.name.clone(), d.shifts(from, to)))
}

fn answer<T: serde::Serialize>(csv: Option<String>, json: T) -> Response {
    match csv {
        Some(body) => ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response(),
        None => Json(json).into_response(),
    }
}

/// Per-incident durations over a period: count, mean, median and p90 of TTD, TTA, TTM, TTR and
/// the whole duration, overall, by group and week by week; SEV1/SEV2 counts and minutes. Drills
/// are left out (any role).
#[utoipa::path(get, path = "/api/v1/insights/incidents/metrics", tag = "insights",
    operation_id = "insights_incident_metrics", params(PeriodParams),
    responses((status = 200, description = "CSV with ?format=csv or Accept: text/csv", content((MetricsReport = "application/json"), (String = "text/csv"))),
              (status = 400, body = ErrorBody)))]
async fn incident_metrics(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<PeriodParams>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let csv = wants_csv(&p, &headers)?;
    let r = metrics_with(&state, &p).await?;
    let body = csv
        .then(|| csv::metrics(&r, p.table.as_deref()))
        .transpose()?;
    Ok(answer(body, r))
}

/// Alert noise over a period: alerts per incident, services with the most alerts, alerts that
/// resolved on their own before anyone acknowledged, incidents nobody acknowledged (any role).
#[utoipa::path(get, path = "/api/v1/insights/alert-noise", tag = "insights",
    operation_id = "insights_alert_noise", params(PeriodParams),
    responses((status = 200, description = "CSV: one row per service", content((NoiseReport = "application/json"), (String = "text/csv"))),
              (status = 400, body = ErrorBody)))]
async fn alert_noise(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<PeriodParams>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let csv = wants_csv(&p, &headers)?;
    let r = noise_with(&state, &p).await?;
    let body = csv.then(|| csv::noise(&r));
    Ok(answer(body, r))
}

/// On-call load over a period, per person and per schedule: hours on call and pages by band
/// (business, off, sleep hours) in each person's zone, incidents per shift, and each
/// schedule's members side by side (any role).
#[utoipa::path(get, path = "/api/v1/insights/oncall-load", tag = "insights",
    operation_id = "insights_oncall_load", params(PeriodParams),
    responses((status = 200, description = "CSV: people (or ?table=schedules)", content((OnCallReport = "application/json"), (String = "text/csv"))),
              (status = 400, body = ErrorBody)))]
async fn oncall_load(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<PeriodParams>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let csv = wants_csv(&p, &headers)?;
    let r = oncall_with(&state, &p).await?;
    let body = csv
        .then(|| csv::oncall(&r, p.table.as_deref()))
        .transpose()?;
    Ok(answer(body, r))
}

pub async fn budget_with(state: &AppState, p: &PeriodParams) -> ApiResult<BudgetReport> {
    let (from, to) = period(p, state.clock.now())?;
    group_by(p)?;
    crate::slos::burns::ranking(state, from, to).await
}

/// The error budget incidents spent over a period: incidents declared in it ranked by the share
/// of an SLO's window budget each spent, and each service's SLOs by the sum (any role). Burns
/// are kept for resolved incidents a few minutes after they resolve (docs/slos.md).
#[utoipa::path(get, path = "/api/v1/insights/slo-budget", tag = "insights",
    operation_id = "insights_slo_budget", params(PeriodParams),
    responses((status = 200, description = "CSV: incidents (or ?table=services)", content((BudgetReport = "application/json"), (String = "text/csv"))),
              (status = 400, body = ErrorBody)))]
async fn slo_budget(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<PeriodParams>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let csv = wants_csv(&p, &headers)?;
    let r = budget_with(&state, &p).await?;
    let body = csv
        .then(|| csv::budget(&r, p.table.as_deref()))
        .transpose()?;
    Ok(answer(body, r))
}
