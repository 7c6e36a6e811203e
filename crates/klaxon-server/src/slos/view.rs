//! An SLO as the API and the pages show it: its definition, its budget and burn rates now, its
//! rules' states, and its burn-down.
use jiff::Timestamp;
use klaxon_domain::ids::{ServiceId, SloId};
use klaxon_domain::slo::availability;
use klaxon_domain::slo::{self, Basis, BudgetStatus, Counts, Resolution, Sli, Slo, Urgency};
use serde::Serialize;
use utoipa::ToSchema;

use super::api::window_spelling;
use super::evaluate::{Reads, STEP, observe};
use super::prometheus;
use crate::shared::error::ApiResult;
use crate::shared::state::AppState;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BudgetOut {
    /// `events` (event SLIs: a share of the events so far) or `minutes` (time SLIs: a share of
    /// the whole window).
    pub unit: &'static str,
    /// Good and total events (or minutes) in the window so far.
    pub good: f64,
    pub total: f64,
    /// What the window may spend, what it has spent, and what is left (below 0: overspent).
    pub allowed: f64,
    pub spent: f64,
    pub remaining: f64,
    /// remaining / allowed; null before any event.
    pub remaining_share: Option<f64>,
    /// The burn rate over the window so far (1 spends the budget exactly by its end).
    pub burn_rate: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleOut {
    pub name: String,
    pub urgency: Urgency,
    /// The windows, as `1h`, `5m`.
    pub long: String,
    pub short: String,
    /// The burn rate both windows must exceed to fire.
    pub rate: f64,
    /// The share of the budget burning at `rate` for `long` spends.
    pub budget_spent: f64,
    pub firing: bool,
    /// When it last fired or resolved.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub since: Option<Timestamp>,
    /// The burn rates now over each window; null when the source gave no answer.
    pub long_burn_rate: Option<f64>,
    pub short_burn_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SloOut {
    pub id: SloId,
    pub service_id: ServiceId,
    pub service_name: String,
    pub name: String,
    pub description: String,
    /// Percent.
    pub objective: f64,
    /// `7d`, `28d`, `30d`, `90d` or `month`.
    pub window: String,
    /// The calendar month's time zone.
    pub time_zone: Option<String>,
    pub sli: Sli,
    pub at_risk: f64,
    pub status: BudgetStatus,
    #[schema(value_type = String, format = DateTime)]
    pub status_since: Timestamp,
    /// Since when its SLI's source has given no answer (null while it answers).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub silent_since: Option<Timestamp>,
    /// The window now: `[start, end)`; a rolling window ends now.
    #[schema(value_type = String, format = DateTime)]
    pub window_start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub window_end: Timestamp,
    /// The budget over the window so far; null when the source gave no answer.
    pub budget: Option<BudgetOut>,
    pub rules: Vec<RuleOut>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// One point of a burn-down chart.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct PointOut {
    /// The end of the hour it covers.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The budget's remaining share then; null before any event.
    pub remaining_share: Option<f64>,
}

/// Where a reader's view ends. Pushed counts: the end of the current minute, so counts pushed
/// a moment ago show at once (the evaluator judges whole minutes only, up to the current one).
/// Prometheus and availability: now, as the source knows it.
fn view_end(state: &AppState, sli: &Sli) -> Timestamp {
    let now = state.clock.now();
    match sli {
        Sli::Pushed => slo::step_of(now, STEP) + STEP,
        Sli::Prometheus { .. } | Sli::Availability { .. } => now,
    }
}

pub fn reads(state: &AppState) -> Reads<'_> {
    Reads {
        store: state.store.as_ref(),
        http: state.engine.http(),
        settings: &state.settings,
    }
}

/// The SLO as it stands now.
pub async fn now(state: &AppState, s: Slo) -> ApiResult<SloOut> {
    let step = view_end(state, &s.sli);
    let seen = observe(reads(state), &s, step).await?;
    let silence = jiff::SignedDuration::from_mins(state.settings.slos.silence_minutes.into());
    let d = slo::evaluate(&s, step, &seen, silence);
    let service_name = state
        .store
        .service(s.service_id)
        .await
        .map(|svc| svc.name)
        .unwrap_or_default();
    let (window, time_zone) = window_spelling(&s.window);
    let (window_start, end) = s.window.bounds(step);
    let unit = match s.sli.basis() {
        Basis::Events => "events",
        Basis::Time => "minutes",
    };
    let budget = d.budget.zip(seen.window).map(|(b, c)| BudgetOut {
        unit,
        good: c.good,
        total: c.total,
        allowed: b.allowed,
        spent: b.spent,
        remaining: b.remaining,
        remaining_share: b.remaining_share,
        burn_rate: b.burn_rate,
    });
    let rules = s
        .rules
        .iter()
        .zip(&d.rates)
        .map(|(r, rates)| RuleOut {
            name: r.rule.name.clone(),
            urgency: r.rule.urgency,
            long: slo::format_duration(r.rule.long),
            short: slo::format_duration(r.rule.short),
            rate: r.rule.rate,
            budget_spent: r.rule.budget_spent,
            // As last evaluated, not as these numbers would make it: the evaluator decides.
            firing: r.firing,
            since: r.since,
            long_burn_rate: rates.long,
            short_burn_rate: rates.short,
        })
        .collect();
    Ok(SloOut {
        id: s.id,
        service_id: s.service_id,
        service_name,
        name: s.name,
        description: s.description,
        objective: s.objective.percent(),
        window,
        time_zone,
        sli: s.sli,
        at_risk: s.at_risk,
        status: s.status,
        status_since: s.status_since,
        silent_since: if seen.answered {
            None
        } else {
            s.silent_since.or(Some(step))
        },
        window_start,
        window_end: end,
        budget,
        rules,
        created_at: s.created_at,
        updated_at: s.updated_at,
    })
}

/// The budget's remaining share after each hour of the window so far.
pub async fn burn_down(state: &AppState, s: &Slo) -> ApiResult<Vec<PointOut>> {
    let step = view_end(state, &s.sli);
    let (start, _) = s.window.bounds(step);
    let hour = Resolution::Hour.length();
    let ended: Vec<(Timestamp, Counts)> = match &s.sli {
        // Each hour's point is at its end.
        Sli::Pushed => state
            .store
            .slo_slices(s.id, Resolution::Hour, start, step)
            .await?
            .into_iter()
            .map(|(at, c)| (at + hour, c))
            .collect(),
        Sli::Prometheus { .. } => prometheus_hours(state, &s.sli, start, step)
            .await
            .unwrap_or_default(),
        // Up and watched minutes of each hour, from one read of the source's changes.
        Sli::Availability { .. } => match s.sli.source() {
            Some(source) => state
                .store
                .availability_changes(&[source], start, step)
                .await?
                .remove(&source)
                .map(|c| availability::hours(&c, start, step))
                .unwrap_or_default(),
            None => Vec::new(),
        },
    };
    Ok(
        slo::burn_down(s.objective, s.sli.basis(), s.window.length(step), &ended)
            .into_iter()
            .map(|(at, remaining_share)| PointOut {
                at,
                remaining_share,
            })
            .collect(),
    )
}

/// Hourly good and total events from a Prometheus source, each at the end of its hour: the
/// ratio's and the total's expressions over one hour, stepped by the hour.
async fn prometheus_hours(
    state: &AppState,
    sli: &Sli,
    start: Timestamp,
    end: Timestamp,
) -> Result<Vec<(Timestamp, Counts)>, prometheus::QueryError> {
    let Sli::Prometheus {
        source,
        good,
        bad,
        total,
    } = sli
    else {
        return Ok(Vec::new());
    };
    let Some(src) = state.settings.slos.source(source) else {
        return Ok(Vec::new());
    };
    let hour = Resolution::Hour.length();
    let first = slo::step_of(start, hour) + hour;
    let range = |expr: &str| {
        let expr = slo::promql(expr, hour);
        async move {
            prometheus::query_range(
                state.engine.http(),
                &state.settings.slos,
                src,
                &expr,
                (first, end),
                hour,
            )
            .await
        }
    };
    let totals = range(total).await?;
    let (ratio, is_good) = match (good, bad) {
        (Some(g), _) => (range(g).await?, true),
        (None, Some(b)) => (range(b).await?, false),
        _ => return Ok(Vec::new()),
    };
    let ratio: std::collections::HashMap<Timestamp, f64> = ratio.into_iter().collect();
    Ok(totals
        .into_iter()
        .map(|(at, all)| {
            let r = ratio.get(&at).copied().unwrap_or(0.0);
            (at, Counts::from_ratio(is_good, r, all))
        })
        .collect())
}
