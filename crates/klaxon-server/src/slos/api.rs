//! The REST face of SLOs: `/api/v1/slos/…`, and the operations the web pages share.
use axum::Json;
use axum::extract::rejection::StringRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{ServiceId, SloId};
use klaxon_domain::slo::{
    self, BudgetStatus, BurnRule, Counts, Objective, RuleState, Sli, Slo, Urgency, Window,
};
use klaxon_store::StoreError;
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::apply::{self, ApplyReport};
use super::prometheus::QueryError;
use super::view::{self, SloOut};
use crate::shared::api::{ApiJson, ApiQuery, Caller, parse_field_id};
use crate::shared::crypto::random_bytes;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_slos, create_slo))
        .routes(routes!(get_slo, update_slo, delete_slo))
        .routes(routes!(push_counts))
        .routes(routes!(burn_down))
        .routes(routes!(apply_openslo))
        .routes(routes!(export_openslo))
        .routes(routes!(export_one_openslo))
        .routes(routes!(incident_budget))
}

// --- wire types ---------------------------------------------------------------------------------

/// A burn-rate rule as written: `rate`, or the `budget_spent` share it is derived from
/// (rate = budget_spent × window / long).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleIn {
    /// 1 to 40 letters, digits, `-` or `_`; unique in the SLO.
    pub name: String,
    pub urgency: Urgency,
    /// The long window: `1h`, `6h`, `3d` (a number and s, m, h or d).
    pub long: String,
    /// The short window, shorter than the long one (the Workbook takes a twelfth).
    pub short: String,
    pub rate: Option<f64>,
    pub budget_spent: Option<f64>,
}

/// A new SLO.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSlo {
    /// The service: its id or name.
    #[schema(min_length = 1)]
    pub service: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    /// The promised share of good events, in percent, above 0 and below 100 (99.9).
    pub objective: f64,
    /// `7d`, `28d`, `30d` or `90d` (rolling), or `month` (the calendar month in `time_zone`).
    pub window: String,
    /// For `month`: an IANA time zone (default UTC).
    pub time_zone: Option<String>,
    /// Where good and total events come from: `{"kind": "pushed"}`, or `{"kind":
    /// "prometheus", "source": "main", "bad": "sum(increase(x{code=~\"5..\"}[{{window}}]))",
    /// "total": "sum(increase(x[{{window}}]))"}` (or `good` instead of `bad`), or the up time
    /// of one of the service's uptime checks or status-page components: `{"kind":
    /// "availability", "check": "<id>"}` (or `"component"`).
    pub sli: Sli,
    /// The remaining share of the budget at or under which it is at risk (default 0.2).
    pub at_risk: Option<f64>,
    /// Burn-rate rules; by default the Workbook's three, scaled to the window.
    pub rules: Option<Vec<RuleIn>>,
}

/// What to change; absent fields stay. New `rules` replace the old; a rule that keeps its
/// name keeps whether it is firing.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SloPatch {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    pub objective: Option<f64>,
    pub window: Option<String>,
    pub time_zone: Option<String>,
    pub sli: Option<Sli>,
    pub at_risk: Option<f64>,
    pub rules: Option<Vec<RuleIn>>,
}

/// Good and total events of one moment.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountIn {
    /// When they happened (default: now); not in the future, not older than 90 days.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub at: Option<Timestamp>,
    pub good: f64,
    pub total: f64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountsIn {
    /// 1 to 1,000 entries, summed into the minute and the hour that hold them.
    pub counts: Vec<CountIn>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only this service's SLOs: its id or name.
    pub service: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApplyParams {
    /// Say what would change, and write nothing.
    pub dry_run: Option<bool>,
}

// --- parsing ------------------------------------------------------------------------------------

/// The window from its spelling and zone.
pub fn window(raw: &str, tz: Option<&str>) -> ApiResult<Window> {
    let raw = raw.trim();
    if raw == "month" {
        let tz = match tz.map(str::trim).filter(|t| !t.is_empty()) {
            Some(name) => TimeZone::get(name)
                .map_err(|_| ApiError::invalid("time_zone", "is not a known IANA time zone"))?,
            None => TimeZone::UTC,
        };
        return Ok(Window::CalendarMonth { tz });
    }
    if tz.is_some_and(|t| !t.trim().is_empty()) {
        return Err(ApiError::invalid(
            "time_zone",
            "is only for the window month",
        ));
    }
    raw.strip_suffix('d')
        .and_then(|d| d.parse::<i32>().ok())
        .and_then(|days| Window::rolling(days).ok())
        .ok_or_else(|| ApiError::invalid("window", "must be 7d, 28d, 30d, 90d or month"))
}

/// The spelling of a window (`30d`, `month`) and its zone (months only).
pub fn window_spelling(w: &Window) -> (String, Option<String>) {
    match w {
        Window::Rolling { days } => (format!("{days}d"), None),
        Window::CalendarMonth { tz } => (
            "month".into(),
            Some(tz.iana_name().unwrap_or("UTC").to_owned()),
        ),
    }
}

fn rules(given: Option<&[RuleIn]>, w: &Window) -> ApiResult<Vec<BurnRule>> {
    let nominal = w.nominal();
    let Some(given) = given else {
        return Ok(slo::default_rules(nominal));
    };
    let mut out = Vec::with_capacity(given.len());
    for (i, r) in given.iter().enumerate() {
        let field = |f: &str| format!("rules[{i}].{f}");
        let long = slo::parse_duration(&field("long"), &r.long)?;
        let short = slo::parse_duration(&field("short"), &r.short)?;
        let (rate, spent) = match (r.rate, r.budget_spent) {
            (Some(rate), None) => (rate, rate * long.as_secs_f64() / nominal.as_secs_f64()),
            (None, Some(spent)) => (slo::threshold(spent, nominal, long), spent),
            _ => {
                return Err(ApiError::invalid(
                    field("rate"),
                    "give rate or budget_spent, one of them",
                ));
            }
        };
        out.push(BurnRule {
            name: r.name.trim().to_owned(),
            urgency: r.urgency,
            budget_spent: spent,
            long,
            short,
            rate,
        });
    }
    slo::check_rules(&out, nominal)?;
    Ok(out)
}

fn with_states(rules: Vec<BurnRule>) -> Vec<RuleState> {
    rules
        .into_iter()
        .map(|rule| RuleState {
            rule,
            firing: false,
            since: None,
        })
        .collect()
}

pub(super) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { .. } => ApiError::Conflict {
            message: "name: the service already has an SLO of that name".into(),
            field: Some("name".into()),
        },
        e => ApiError::or_not_found("SLO")(e),
    }
}

fn event(id: SloId, at: Timestamp, actor: Actor, kind: EventKind, slo: &Slo) -> NewEvent {
    let (window, tz) = window_spelling(&slo.window);
    NewEvent::new(
        SubjectType::Slo,
        id,
        at,
        actor,
        kind,
        json!({"name": slo.name, "service_id": slo.service_id,
               "objective": slo.objective.percent(), "window": window, "time_zone": tz}),
    )
}

// --- operations ---------------------------------------------------------------------------------

/// Checks an SLI before it is saved: its shape, then (Prometheus) each expression asked of its
/// source over five minutes, so one Prometheus refuses is a 400 with Prometheus' own words.
pub async fn check_sli(state: &AppState, sli: &Sli) -> ApiResult<()> {
    let names: Vec<&str> = state
        .settings
        .slos
        .sources
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    sli.check(&names)?;
    let Sli::Prometheus {
        source,
        good,
        bad,
        total,
    } = sli
    else {
        return Ok(());
    };
    let Some(src) = state.settings.slos.source(source) else {
        return Err(ApiError::invalid(
            "sli.source",
            "is not a configured source",
        ));
    };
    let now = state.clock.now();
    let five = jiff::SignedDuration::from_mins(5);
    for (field, expr) in [
        ("sli.good", good),
        ("sli.bad", bad),
        ("sli.total", &Some(total.clone())),
    ] {
        let Some(expr) = expr else { continue };
        let asked = super::prometheus::query(
            state.engine.http(),
            &state.settings.slos,
            src,
            &slo::promql(expr, five),
            now,
        )
        .await;
        match asked {
            Ok(_) => {}
            Err(QueryError::Rejected(m)) => {
                return Err(ApiError::invalid(
                    field,
                    format!("Prometheus refused it: {m}"),
                ));
            }
            Err(QueryError::Unreachable(m)) => {
                return Err(ApiError::invalid(
                    "sli.source",
                    format!(
                        "{source} did not answer ({m}), so the expressions could not be checked"
                    ),
                ));
            }
        }
    }
    Ok(())
}

pub async fn create_with(state: &AppState, actor: Actor, n: NewSlo) -> ApiResult<Slo> {
    let s = check_new(state, n).await?;
    insert(state, actor, s).await
}

/// A new SLO checked as `create_with` checks it, written nowhere: apply checks a whole file
/// before it writes anything.
pub async fn check_new(state: &AppState, n: NewSlo) -> ApiResult<Slo> {
    let now = state.clock.now();
    let service = terms::service(state, &n.service, At::Field("service")).await?;
    let w = window(&n.window, n.time_zone.as_deref())?;
    check_sli(state, &n.sli).await?;
    super::availability::check_source(state, &n.sli, service).await?;
    Ok(Slo {
        id: SloId::new(now, random_bytes()),
        service_id: service,
        name: slo::name(&n.name)?,
        description: description(&n.description)?,
        objective: Objective::new(n.objective)?,
        rules: with_states(rules(n.rules.as_deref(), &w)?),
        window: w,
        sli: n.sli,
        at_risk: slo::at_risk(n.at_risk.unwrap_or(slo::DEFAULT_AT_RISK))?,
        status: BudgetStatus::Healthy,
        status_since: now,
        evaluated_step: None,
        silent_since: None,
        silent_alerted: false,
        created_at: now,
        updated_at: now,
    })
}

/// Writes an SLO `check_new` made.
pub async fn insert(state: &AppState, actor: Actor, s: Slo) -> ApiResult<Slo> {
    let now = state.clock.now();
    let e = event(s.id, now, actor, EventKind::SloCreated, &s);
    match state
        .store
        .create_slo(&s, e, &super::evaluate::job(now))
        .await
    {
        Ok(()) => Ok(s),
        Err(StoreError::NotFound) => Err(ApiError::invalid("service", "no such service")),
        Err(e) => Err(store_error(e)),
    }
}

fn description(raw: &str) -> ApiResult<String> {
    let d = raw.trim();
    if d.chars().count() > 2000 {
        return Err(ApiError::invalid(
            "description",
            "must be at most 2,000 characters",
        ));
    }
    Ok(d.to_owned())
}

pub async fn update_with(state: &AppState, actor: Actor, id: SloId, p: SloPatch) -> ApiResult<Slo> {
    let old = state.store.slo(id).await.map_err(store_error)?;
    let s = check_patch(state, &old, p).await?;
    save(state, actor, &old, s).await
}

/// `old` changed by `p`, checked as `update_with` checks it, written nowhere.
pub async fn check_patch(state: &AppState, old: &Slo, p: SloPatch) -> ApiResult<Slo> {
    let mut s = old.clone();
    if let Some(n) = &p.name {
        s.name = slo::name(n)?;
    }
    if let Some(d) = &p.description {
        s.description = description(d)?;
    }
    if let Some(o) = p.objective {
        s.objective = Objective::new(o)?;
    }
    let window_moved = p.window.is_some() || p.time_zone.is_some();
    if window_moved {
        let (cur, cur_tz) = window_spelling(&s.window);
        let raw = p.window.as_deref().unwrap_or(&cur);
        let tz = p
            .time_zone
            .as_deref()
            .or(cur_tz.as_deref().filter(|_| raw == "month"));
        s.window = window(raw, tz)?;
    }
    if let Some(sli) = p.sli {
        check_sli(state, &sli).await?;
        super::availability::check_source(state, &sli, s.service_id).await?;
        s.sli = sli;
    }
    if let Some(a) = p.at_risk {
        s.at_risk = slo::at_risk(a)?;
    }
    if let Some(r) = &p.rules {
        s.rules = with_states(rules(Some(r), &s.window)?);
    } else if window_moved {
        // The rules stay as written; they must still fit the window.
        let kept: Vec<BurnRule> = s.rules.iter().map(|r| r.rule.clone()).collect();
        slo::check_rules(&kept, s.window.nominal())?;
    }
    s.updated_at = state.clock.now();
    Ok(s)
}

/// Writes `s`, which `check_patch` made from `old`. The store keeps a rule's firing state by
/// its name; the alerts of firing rules that went away are resolved.
pub async fn save(state: &AppState, actor: Actor, old: &Slo, s: Slo) -> ApiResult<Slo> {
    let now = state.clock.now();
    let id = old.id;
    let e = event(id, now, actor, EventKind::SloUpdated, &s);
    state.store.update_slo(&s, e).await.map_err(store_error)?;
    // A firing rule that went away would leave its alert open for good.
    let gone: Vec<&str> = old
        .rules
        .iter()
        .filter(|r| r.firing && !s.rules.iter().any(|n| n.rule.name == r.rule.name))
        .map(|r| r.rule.name.as_str())
        .collect();
    super::evaluate::resolve_alerts(state.store.as_ref(), old, &gone, false, now).await?;
    state.store.slo(id).await.map_err(store_error)
}

pub async fn delete_with(state: &AppState, actor: Actor, id: SloId) -> ApiResult<()> {
    let now = state.clock.now();
    let s = state.store.slo(id).await.map_err(store_error)?;
    let e = event(id, now, actor, EventKind::SloDeleted, &s);
    state.store.delete_slo(id, e).await.map_err(store_error)?;
    // Its open alerts would have nothing left to resolve them.
    let firing: Vec<&str> = s
        .rules
        .iter()
        .filter(|r| r.firing)
        .map(|r| r.rule.name.as_str())
        .collect();
    super::evaluate::resolve_alerts(state.store.as_ref(), &s, &firing, s.silent_alerted, now)
        .await?;
    Ok(())
}

/// Checks and adds pushed counts, to an SLO whose SLI is pushed counts (409 otherwise).
pub async fn push_with(state: &AppState, id: SloId, c: &CountsIn) -> ApiResult<()> {
    let s = state.store.slo(id).await.map_err(store_error)?;
    if s.sli != Sli::Pushed {
        return Err(ApiError::Conflict {
            message: "this SLO's SLI is not pushed counts".into(),
            field: None,
        });
    }
    if c.counts.is_empty() || c.counts.len() > 1000 {
        return Err(ApiError::invalid("counts", "give 1 to 1,000 entries"));
    }
    let now = state.clock.now();
    let oldest = now - jiff::SignedDuration::from_hours(24 * 90);
    let soonest = now + jiff::SignedDuration::from_mins(1); // a little clock skew
    let mut rows = Vec::with_capacity(c.counts.len());
    for (i, e) in c.counts.iter().enumerate() {
        let f = |name: &str| format!("counts[{i}].{name}");
        if !(e.good.is_finite() && e.good >= 0.0) {
            return Err(ApiError::invalid(f("good"), "must be a number, 0 or more"));
        }
        if !(e.total.is_finite() && e.total >= e.good) {
            return Err(ApiError::invalid(
                f("total"),
                "must be a number no smaller than good",
            ));
        }
        let at = e.at.unwrap_or(now);
        if at > soonest {
            return Err(ApiError::invalid(f("at"), "must not be in the future"));
        }
        if at < oldest {
            return Err(ApiError::invalid(
                f("at"),
                "must be within the last 90 days",
            ));
        }
        rows.push((at, Counts::new(e.good, e.total)));
    }
    state
        .store
        .push_slo_counts(id, &rows)
        .await
        .map_err(store_error)
}

pub(super) fn slo_id(raw: &str) -> ApiResult<SloId> {
    parse_field_id::<SloId>(raw, "id")
}

pub(super) async fn service_filter(
    state: &AppState,
    raw: Option<&str>,
) -> ApiResult<Option<ServiceId>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Ok(Some(terms::service(state, s, At::Field("service")).await?)),
        None => Ok(None),
    }
}

// --- handlers -----------------------------------------------------------------------------------

/// The SLOs, by service and name, each with its budget and rules now.
#[utoipa::path(get, path = "/api/v1/slos", tag = "slos", params(ListParams),
    responses((status = 200, body = Vec<SloOut>), (status = 400, body = ErrorBody)))]
async fn list_slos(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<Vec<SloOut>>> {
    caller.require(Role::Viewer)?;
    let service = service_filter(&state, p.service.as_deref()).await?;
    let mut out = Vec::new();
    for s in state.store.list_slos(service).await? {
        out.push(view::now(&state, s).await?);
    }
    Ok(Json(out))
}

/// Defines an SLO on a service (admin). 201 with the SLO.
#[utoipa::path(post, path = "/api/v1/slos", tag = "slos", request_body = NewSlo,
    responses((status = 201, body = SloOut), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_slo(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewSlo>,
) -> ApiResult<(StatusCode, Json<SloOut>)> {
    caller.require(Role::Admin)?;
    let s = create_with(&state, caller.actor(), body).await?;
    Ok((StatusCode::CREATED, Json(view::now(&state, s).await?)))
}

/// One SLO with its budget, its burn rates and its rules' states now.
#[utoipa::path(get, path = "/api/v1/slos/{id}", tag = "slos",
    params(("id" = uuid::Uuid, Path, description = "SLO id")),
    responses((status = 200, body = SloOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_slo(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SloOut>> {
    caller.require(Role::Viewer)?;
    let s = state.store.slo(slo_id(&id)?).await.map_err(store_error)?;
    Ok(Json(view::now(&state, s).await?))
}

/// Changes an SLO (admin).
#[utoipa::path(patch, path = "/api/v1/slos/{id}", tag = "slos", request_body = SloPatch,
    params(("id" = uuid::Uuid, Path, description = "SLO id")),
    responses((status = 200, body = SloOut), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_slo(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SloPatch>,
) -> ApiResult<Json<SloOut>> {
    caller.require(Role::Admin)?;
    let s = update_with(&state, caller.actor(), slo_id(&id)?, body).await?;
    Ok(Json(view::now(&state, s).await?))
}

/// Removes an SLO with its counts (admin). An alert its rules opened stays until resolved.
#[utoipa::path(delete, path = "/api/v1/slos/{id}", tag = "slos",
    params(("id" = uuid::Uuid, Path, description = "SLO id")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_slo(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    delete_with(&state, caller.actor(), slo_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds good and total counts to an SLO whose SLI is `pushed` (responder or a token). 204 once
/// they are committed.
#[utoipa::path(post, path = "/api/v1/slos/{id}/counts", tag = "slos", request_body = CountsIn,
    params(("id" = uuid::Uuid, Path, description = "SLO id")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn push_counts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CountsIn>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    push_with(&state, slo_id(&id)?, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The budget's remaining share after each hour of the window so far: a burn-down chart.
#[utoipa::path(get, path = "/api/v1/slos/{id}/burn-down", tag = "slos",
    params(("id" = uuid::Uuid, Path, description = "SLO id")),
    responses((status = 200, body = Vec<view::PointOut>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn burn_down(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<view::PointOut>>> {
    caller.require(Role::Viewer)?;
    let s = state.store.slo(slo_id(&id)?).await.map_err(store_error)?;
    Ok(Json(view::burn_down(&state, &s).await?))
}

/// Applies a file of OpenSLO v1 documents (admin): each SLO, known by its service and name, is
/// created, updated or left alone, and the answer says which, with the fields that changed.
/// The whole file is checked before anything is written; a bad document is a 400 naming its
/// place (`documents[1].spec.objectives[0].targetPercent`). See docs/slos.md, "SLOs as code".
#[utoipa::path(post, path = "/api/v1/slos/apply", tag = "slos", operation_id = "apply_openslo",
    params(ApplyParams),
    request_body(content = String, content_type = "application/yaml", description = "OpenSLO v1 documents"),
    responses((status = 200, body = ApplyReport), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn apply_openslo(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ApplyParams>,
    body: Result<String, StringRejection>,
) -> ApiResult<Json<ApplyReport>> {
    caller.require(Role::Admin)?;
    // The API's own error shape, as ApiJson gives for JSON bodies.
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge("this server accepts (server.body_limit_bytes)".into())
        } else {
            ApiError::BadRequest {
                code: "invalid_body",
                message: e.body_text(),
                field: None,
            }
        }
    })?;
    let dry_run = p.dry_run.unwrap_or(false);
    Ok(Json(
        apply::apply_with(&state, caller.actor(), &body, dry_run).await?,
    ))
}

/// What an export answers. No JSON Schema is given: the answer is a stream of YAML documents
/// (one per SLO, each starting `---`), which no single schema describes.
const OPENSLO_YAML: &str =
    "OpenSLO v1 YAML: one SLO document per SLO, each starting with ---; empty when there are none";

/// The SLOs (of one service, with `service`) as OpenSLO v1 YAML: one SLO document each, its
/// SLI and alert policies inline.
#[utoipa::path(get, path = "/api/v1/slos/openslo", tag = "slos", operation_id = "export_openslo",
    params(ListParams),
    responses((status = 200, description = OPENSLO_YAML, content_type = "application/yaml"), (status = 400, body = ErrorBody)))]
async fn export_openslo(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let service = service_filter(&state, p.service.as_deref()).await?;
    let slos = state.store.list_slos(service).await?;
    Ok(apply::yaml_answer(
        apply::export_with(&state, &slos).await?,
        None,
    ))
}

/// One SLO as OpenSLO v1 YAML.
#[utoipa::path(get, path = "/api/v1/slos/{id}/openslo", tag = "slos", operation_id = "export_one_openslo",
    params(("id" = uuid::Uuid, Path, description = "SLO id")),
    responses((status = 200, description = OPENSLO_YAML, content_type = "application/yaml"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn export_one_openslo(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let s = state.store.slo(slo_id(&id)?).await.map_err(store_error)?;
    Ok(apply::yaml_answer(
        apply::export_with(&state, std::slice::from_ref(&s)).await?,
        None,
    ))
}

/// The error budget an incident burned of each SLO of its service, from its impact start (or
/// declaration) to its resolution (or now while open): bad events (or minutes) and their share
/// of the budget of the SLO's window it ended in. Empty without SLOs.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/slo-budget", tag = "slos",
    operation_id = "incident_slo_budget",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 200, body = Vec<super::burns::BurnOut>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn incident_budget(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<super::burns::BurnOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let i = state
        .store
        .incident(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    Ok(Json(super::burns::for_incident(&state, &i).await?))
}
