//! Service level objectives: error budgets and multi-window, multi-burn-rate alerting (the SRE
//! Workbook, chapter 5). Pure: the engine gathers good and total counts per window from the
//! SLI's source, this decides what they mean. The formulas are stated in docs/slos.md; keep the
//! two in step.
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan, Zoned};
use serde::{Deserialize, Serialize};

use crate::ids::{CheckId, ComponentId, ServiceId, SloId};
use crate::{Invalid, named_enum};

pub mod availability;

/// The share of good events (or good time) an SLO promises, as a percentage strictly between
/// 0 and 100: 99.9 means 0.1 % of the events may be bad.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
pub struct Objective(f64);

impl Objective {
    pub fn new(percent: f64) -> Result<Self, Invalid> {
        if percent.is_finite() && percent > 0.0 && percent < 100.0 {
            Ok(Self(percent))
        } else {
            Err(Invalid::new(
                "objective",
                "must be a percentage above 0 and below 100, such as 99.9",
            ))
        }
    }

    pub fn percent(self) -> f64 {
        self.0
    }

    /// The error budget as a fraction of all events: 1 − objective (0.001 for 99.9 %).
    pub fn budget(self) -> f64 {
        1.0 - self.0 / 100.0
    }
}

/// The rolling window lengths an SLO may have, in days.
pub const ROLLING_DAYS: [i32; 4] = [7, 28, 30, 90];

/// The period an SLO is measured over.
#[derive(Debug, Clone, PartialEq)]
pub enum Window {
    /// The last `days` days, moving with time.
    Rolling { days: i32 },
    /// The calendar month in a time zone: the budget starts afresh on the 1st.
    CalendarMonth { tz: TimeZone },
}

impl Window {
    pub fn rolling(days: i32) -> Result<Self, Invalid> {
        if ROLLING_DAYS.contains(&days) {
            Ok(Window::Rolling { days })
        } else {
            Err(Invalid::new(
                "window",
                "a rolling window is 7, 28, 30 or 90 days",
            ))
        }
    }

    /// `[start, end)` of the window that holds `now`: for a rolling window, the `days` up to
    /// now; for a calendar month, the whole month (its end is still to come).
    pub fn bounds(&self, now: Timestamp) -> (Timestamp, Timestamp) {
        match self {
            Window::Rolling { days } => (
                now.checked_sub(SignedDuration::from_hours(24 * i64::from(*days)))
                    .unwrap_or(Timestamp::MIN),
                now,
            ),
            Window::CalendarMonth { tz } => {
                let here = now.to_zoned(tz.clone());
                let start = month_start(&here);
                let end = start
                    .checked_add(1.month())
                    .map(|z| z.timestamp())
                    .unwrap_or(Timestamp::MAX);
                (start.timestamp(), end)
            }
        }
    }

    /// The length default rules are scaled to: a calendar month counts as 30 days, so its
    /// rules do not change from month to month.
    pub fn nominal(&self) -> SignedDuration {
        let days = match self {
            Window::Rolling { days } => i64::from(*days),
            Window::CalendarMonth { .. } => 30,
        };
        SignedDuration::from_hours(24 * days)
    }

    /// The whole window's length at `now` (a calendar month has 28 to 31 days, and 23 or 25
    /// hours on the day its zone changes clocks).
    pub fn length(&self, now: Timestamp) -> SignedDuration {
        let (start, end) = self.bounds(now);
        end.duration_since(start)
    }
}

fn month_start(z: &Zoned) -> Zoned {
    z.first_of_month()
        .and_then(|d| d.start_of_day())
        .unwrap_or_else(|_| z.clone())
}

/// Good and total events (or good and total minutes, for a time-based SLI) over some span.
/// Floating point: Prometheus' `increase()` is not a whole number.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Counts {
    pub good: f64,
    pub total: f64,
}

impl Counts {
    pub fn new(good: f64, total: f64) -> Self {
        Self { good, total }
    }

    /// Bad events: total − good, never below zero (a counter reset can make good > total).
    pub fn bad(self) -> f64 {
        (self.total - self.good).max(0.0)
    }

    /// The share of bad events; none without events.
    pub fn error_rate(self) -> Option<f64> {
        (self.total > 0.0).then(|| (self.bad() / self.total).min(1.0))
    }

    /// How fast the budget burns: the error rate over the budget. 1 spends the budget exactly
    /// over the window; no events burn nothing.
    pub fn burn_rate(self, objective: Objective) -> f64 {
        self.error_rate().unwrap_or(0.0) / objective.budget()
    }
}

impl Counts {
    /// From a ratio SLI's answers: `ratio` good (or, `ratio_is_good` false, bad) events of
    /// `total`; good stays between 0 and total.
    pub fn from_ratio(ratio_is_good: bool, ratio: f64, total: f64) -> Self {
        let good = if ratio_is_good {
            ratio.min(total)
        } else {
            (total - ratio).max(0.0)
        };
        Counts::new(good.max(0.0), total)
    }
}

impl std::ops::Add for Counts {
    type Output = Counts;
    fn add(self, o: Counts) -> Counts {
        Counts::new(self.good + o.good, self.total + o.total)
    }
}

impl std::iter::Sum for Counts {
    fn sum<I: Iterator<Item = Counts>>(iter: I) -> Counts {
        iter.fold(Counts::default(), |a, b| a + b)
    }
}

named_enum! {
    /// What a burn-rate rule does when it fires.
    pub enum Urgency (field = "urgency", schema = "SloUrgency") {
        /// Wake someone: a high-urgency alert.
        Page = "page",
        /// Look at it in working hours: a low-urgency alert.
        Ticket = "ticket",
    }
}

/// One multi-window burn-rate rule: it fires when the burn rate over both windows is above
/// `rate`, and resolves when the long window falls back to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BurnRule {
    /// Stable within an SLO: the alert's dedup key is made of it.
    pub name: String,
    pub urgency: Urgency,
    /// The share of the whole budget that burning at `rate` for `long` spends.
    pub budget_spent: f64,
    #[schema(value_type = String, example = "PT1H")]
    pub long: SignedDuration,
    #[schema(value_type = String, example = "PT5M")]
    pub short: SignedDuration,
    /// The burn rate both windows must exceed.
    pub rate: f64,
}

/// The Workbook's three rules for a 30-day window (budget spent, long window, urgency). The
/// short window is a twelfth of the long one.
const WORKBOOK: [(&str, Urgency, f64, i64); 3] = [
    ("page-fast", Urgency::Page, 0.02, 3600),
    ("page-slow", Urgency::Page, 0.05, 6 * 3600),
    ("ticket", Urgency::Ticket, 0.10, 3 * 86_400),
];

/// The default rules for a window of `window` length: the Workbook's budget shares and
/// look-back windows, with the rate that spends that share in the long window. For 30 days
/// that is 14.4, 6 and 1; for 7 days 3.36, 1.4 and 0.233; for 90 days 43.2, 18 and 3.
pub fn default_rules(window: SignedDuration) -> Vec<BurnRule> {
    WORKBOOK
        .iter()
        .map(|&(name, urgency, spent, long_secs)| {
            let long = SignedDuration::from_secs(long_secs);
            BurnRule {
                name: name.to_owned(),
                urgency,
                budget_spent: spent,
                long,
                short: SignedDuration::from_secs(long_secs / 12),
                rate: threshold(spent, window, long),
            }
        })
        .collect()
}

/// The burn rate that spends `spent` of the budget of a `window` in `long`:
/// spent × window / long.
pub fn threshold(spent: f64, window: SignedDuration, long: SignedDuration) -> f64 {
    spent * window.as_secs_f64() / long.as_secs_f64()
}

/// The burn rates a rule is judged on; `None` where the SLI's source gave no answer for that
/// window (it is down, or silent): no answer is no evidence either way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub long: Option<f64>,
    pub short: Option<f64>,
}

/// Whether `rule` fires now, given whether it fired at the previous step. A quiet rule fires
/// only when both windows are above the rate (the long one shows the budget really burns, the
/// short one that it still does); a firing rule resolves only when the long window is back at
/// or under the rate, so it does not flap while the short window dips. Without an answer for a
/// window a rule keeps its state.
pub fn fires(rule: &BurnRule, was_firing: bool, rates: Rates) -> bool {
    // Above by more than floating-point rounding: 144 bad in 10,000 at 99.9 % is 14.4, not
    // 14.400000000000002.
    let above = |r: f64| r > rule.rate * (1.0 + 1e-9);
    if was_firing {
        rates.long.is_none_or(above)
    } else {
        matches!((rates.long, rates.short), (Some(l), Some(s)) if above(l) && above(s))
    }
}

named_enum! {
    /// How much of its budget an SLO has left.
    pub enum BudgetStatus (field = "status", schema = "SloBudgetStatus") {
        Healthy = "healthy",
        /// At or under the at-risk share (default 20 %).
        AtRisk = "at_risk",
        /// Nothing left.
        Exhausted = "exhausted",
    }
}

/// How far past a threshold the budget must recover before its status improves: 2 points of
/// the budget, so a budget hovering at 20 % does not flap between healthy and at risk.
pub const HYSTERESIS: f64 = 0.02;

/// The status for `remaining` (a fraction of the budget; below zero when overspent). It gets
/// worse as soon as a threshold is crossed, and better only once the budget is
/// [`HYSTERESIS`] past it.
pub fn status(previous: Option<BudgetStatus>, remaining: f64, at_risk: f64) -> BudgetStatus {
    let now = classify(remaining, at_risk, 0.0);
    match previous {
        // Better than before (statuses order best first): only as far as the margin allows.
        Some(prev) if now < prev => classify(remaining, at_risk, HYSTERESIS).min(prev),
        _ => now,
    }
}

fn classify(remaining: f64, at_risk: f64, margin: f64) -> BudgetStatus {
    if remaining <= margin {
        BudgetStatus::Exhausted
    } else if remaining <= at_risk + margin {
        BudgetStatus::AtRisk
    } else {
        BudgetStatus::Healthy
    }
}

/// An SLO's budget over its window so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Budget {
    /// What the window may spend: bad events (event SLIs: a share of the events so far) or
    /// bad minutes (time SLIs: a share of the whole window).
    pub allowed: f64,
    /// What it has spent.
    pub spent: f64,
    /// allowed − spent; below zero when overspent.
    pub remaining: f64,
    /// remaining / allowed: 1 is untouched, 0 is gone. None when nothing is allowed yet (an
    /// event SLI with no events).
    pub remaining_share: Option<f64>,
    /// The burn rate over the window so far.
    pub burn_rate: f64,
}

impl Budget {
    /// For an event SLI: the budget is a share of the events seen so far in the window, so it
    /// grows with traffic. remaining share = 1 − error rate / (1 − objective).
    pub fn events(objective: Objective, counts: Counts) -> Self {
        let allowed = objective.budget() * counts.total;
        let spent = counts.bad();
        Self {
            allowed,
            spent,
            remaining: allowed - spent,
            remaining_share: (allowed > 0.0).then(|| 1.0 - spent / allowed),
            burn_rate: counts.burn_rate(objective),
        }
    }

    /// For a time SLI (availability): the budget is a share of the whole window's minutes,
    /// known ahead, so a month of 99.9 % has 43.2 minutes from its first day.
    /// `counts` are good and observed minutes so far.
    pub fn time(objective: Objective, counts: Counts, window: SignedDuration) -> Self {
        let allowed = objective.budget() * window.as_secs_f64() / 60.0;
        let spent = counts.bad();
        Self {
            allowed,
            spent,
            remaining: allowed - spent,
            remaining_share: (allowed > 0.0).then(|| 1.0 - spent / allowed),
            burn_rate: counts.burn_rate(objective),
        }
    }
}

/// What an SLI counts: events, or minutes of good and bad time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    Events,
    Time,
}

/// The budget's remaining share after each slice of the window, oldest first: the points of a
/// burn-down chart. `slices` are consecutive counts with the instant each ends.
pub fn burn_down(
    objective: Objective,
    basis: Basis,
    window: SignedDuration,
    slices: &[(Timestamp, Counts)],
) -> Vec<(Timestamp, Option<f64>)> {
    let mut sum = Counts::default();
    slices
        .iter()
        .map(|&(at, c)| {
            sum = sum + c;
            let b = match basis {
                Basis::Events => Budget::events(objective, sum),
                Basis::Time => Budget::time(objective, sum, window),
            };
            (at, b.remaining_share)
        })
        .collect()
}

/// A look-back window as people write it: a whole number and a unit, `30s`, `5m`, `6h` or
/// `3d`.
pub fn parse_duration(field: &str, raw: &str) -> Result<SignedDuration, Invalid> {
    let raw = raw.trim();
    let bad = || {
        Invalid::new(
            field,
            "must be a whole number and a unit: 30s, 5m, 6h or 3d",
        )
    };
    let unit = raw.chars().last().ok_or_else(bad)?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    let n: i64 = raw[..raw.len() - 1].parse().map_err(|_| bad())?;
    if n <= 0 || n > 400 * 86_400 / secs {
        return Err(bad());
    }
    Ok(SignedDuration::from_secs(n * secs))
}

/// The shortest of [`parse_duration`]'s spellings for `d`: `3d`, `6h`, `5m`, `30s`.
pub fn format_duration(d: SignedDuration) -> String {
    let s = d.as_secs();
    match () {
        _ if s != 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        _ if s != 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        _ if s != 0 && s % 60 == 0 => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

/// The evaluation step that holds `at`: steps are whole multiples of `step` since the epoch, so
/// every instance names the same step and one evaluation per SLO and step is a key.
pub fn step_of(at: Timestamp, step: SignedDuration) -> Timestamp {
    let step_ms = step.as_millis().max(1) as i64;
    let ms = at.as_millisecond();
    Timestamp::from_millisecond(ms - ms.rem_euclid(step_ms)).unwrap_or(at)
}

/// The first multiple of `step` at or after `at`: the end of the slice `at` falls in (or `at`
/// itself on an edge).
pub fn step_up(at: Timestamp, step: SignedDuration) -> Timestamp {
    let down = step_of(at, step);
    if down == at { at } else { down + step }
}

/// What the SLI's source showed for one evaluation: per rule (in the SLO's order) the counts
/// over its long and short windows, and over the SLO's window so far. `None` where the source
/// gave no answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observed {
    pub rules: Vec<(Option<Counts>, Option<Counts>)>,
    pub window: Option<Counts>,
    /// Whether the source answered every question asked of it.
    pub answered: bool,
}

/// A rule that changed at this evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Fired,
    Resolved,
}

/// What one evaluation decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Each rule's state after it, and what changed.
    pub rules: Vec<(RuleState, Option<Transition>)>,
    /// The rates each rule was judged on.
    pub rates: Vec<Rates>,
    /// The budget over the window so far, when the source answered.
    pub budget: Option<Budget>,
    pub status: BudgetStatus,
    pub status_since: Timestamp,
    /// Since when the source has been silent, and whether its alert opens or resolves now.
    pub silent_since: Option<Timestamp>,
    pub silent_alert: Option<Transition>,
}

impl Decision {
    /// Whether anything is to be written: a rule moved, the budget's status did, or the
    /// source fell silent or spoke again.
    pub fn changed(&self, slo: &Slo) -> bool {
        self.status != slo.status
            || self.rules.iter().any(|(_, t)| t.is_some())
            || self.silent_since != slo.silent_since
            || self.silent_alert.is_some()
    }

    /// Whether the "silent" alert is open after this evaluation.
    pub fn silent_alerted(&self, slo: &Slo) -> bool {
        match self.silent_alert {
            Some(Transition::Fired) => true,
            Some(Transition::Resolved) => false,
            None => slo.silent_alerted,
        }
    }
}

/// The spans `[from, to)` an evaluation at `step` reads: each rule's long and short window, in
/// order, ending at the step, and the SLO's window so far.
pub fn spans(slo: &Slo, step: Timestamp) -> (Vec<(Span, Span)>, Span) {
    let back = |len: SignedDuration| Span {
        from: step.checked_sub(len).unwrap_or(Timestamp::MIN),
        to: step,
        resolution: resolution_for(len),
    };
    let rules = slo
        .rules
        .iter()
        .map(|r| (back(r.rule.long), back(r.rule.short)))
        .collect();
    let (start, _) = slo.window.bounds(step);
    let window = Span {
        from: start,
        to: step,
        resolution: Resolution::Hour,
    };
    (rules, window)
}

/// A span of slices to sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub from: Timestamp,
    pub to: Timestamp,
    pub resolution: Resolution,
}

/// Decides an evaluation at `step` from what was observed: each rule by [`fires`], the budget
/// over the window, its status by [`status`], and whether the source has been silent for
/// `silence` or longer (its own alert, rather than pages from no data).
pub fn evaluate(slo: &Slo, step: Timestamp, seen: &Observed, silence: SignedDuration) -> Decision {
    let mut rules = Vec::with_capacity(slo.rules.len());
    let mut all_rates = Vec::with_capacity(slo.rules.len());
    for (i, r) in slo.rules.iter().enumerate() {
        // A source that left any question unanswered is not judged on the rest: every rule and
        // the status hold (a half answer, a window timing out, is no evidence either).
        let (long, short) = seen
            .rules
            .get(i)
            .copied()
            .filter(|_| seen.answered)
            .unwrap_or((None, None));
        let rates = Rates {
            long: long.map(|c| c.burn_rate(slo.objective)),
            short: short.map(|c| c.burn_rate(slo.objective)),
        };
        let now = fires(&r.rule, r.firing, rates);
        let transition = match (r.firing, now) {
            (false, true) => Some(Transition::Fired),
            (true, false) => Some(Transition::Resolved),
            _ => None,
        };
        let state = RuleState {
            rule: r.rule.clone(),
            firing: now,
            since: if transition.is_some() {
                Some(step)
            } else {
                r.since
            },
        };
        rules.push((state, transition));
        all_rates.push(rates);
    }
    let budget = seen
        .window
        .filter(|_| seen.answered)
        .map(|c| match slo.sli.basis() {
            Basis::Events => Budget::events(slo.objective, c),
            Basis::Time => Budget::time(slo.objective, c, slo.window.length(step)),
        });
    let next = match budget.and_then(|b| b.remaining_share) {
        Some(share) => status(Some(slo.status), share, slo.at_risk),
        None => slo.status,
    };
    let silent_since = if seen.answered {
        None
    } else {
        Some(slo.silent_since.unwrap_or(step))
    };
    let silent_long = silent_since.is_some_and(|since| step.duration_since(since) >= silence);
    let silent_alert = match (slo.silent_alerted, silent_long) {
        (false, true) => Some(Transition::Fired),
        (true, false) if seen.answered => Some(Transition::Resolved),
        _ => None,
    };
    Decision {
        rules,
        rates: all_rates,
        budget,
        status: next,
        status_since: if next == slo.status {
            slo.status_since
        } else {
            step
        },
        silent_since,
        silent_alert,
    }
}

/// Windows up to this long are summed from per-minute slices; longer ones from per-hour
/// slices (their edges rounded to the hour, a 1/72 of the shortest of them at most).
pub const MINUTE_WINDOWS_UP_TO: SignedDuration = SignedDuration::from_hours(24);

/// The slice resolution a window of `len` is summed at.
pub fn resolution_for(len: SignedDuration) -> Resolution {
    if len <= MINUTE_WINDOWS_UP_TO {
        Resolution::Minute
    } else {
        Resolution::Hour
    }
}

named_enum! {
    /// How finely pushed counts are kept.
    pub enum Resolution (field = "resolution") {
        Minute = "minute",
        /// Five minutes: a short window's middle, so an hour sums about 16 rows, not 60.
        FiveMinutes = "five_minutes",
        Hour = "hour",
        /// UTC days: a long window's middle, so a 30-day sum reads about 80 rows, not 720.
        Day = "day",
    }
}

impl Resolution {
    pub fn length(self) -> SignedDuration {
        match self {
            Resolution::Minute => SignedDuration::from_secs(60),
            Resolution::FiveMinutes => SignedDuration::from_secs(300),
            Resolution::Hour => SignedDuration::from_hours(1),
            Resolution::Day => SignedDuration::from_hours(24),
        }
    }

    /// The next coarser resolution: each of its slices is a whole number of this one's.
    fn coarser(self) -> Option<Resolution> {
        match self {
            Resolution::Minute => Some(Resolution::FiveMinutes),
            Resolution::FiveMinutes => Some(Resolution::Hour),
            Resolution::Hour => Some(Resolution::Day),
            Resolution::Day => None,
        }
    }
}

/// A span as the slices that sum it fastest: its whole coarser slices from the coarser
/// resolution, over and over (a minute span's whole five minutes, their whole hours, those
/// hours' whole UTC days), the ends at each level's own. The same sum as the span's own slices
/// (each count is added to its slice at every resolution).
pub fn pieces(span: Span) -> Vec<Span> {
    let Some(coarse) = span.resolution.coarser() else {
        return vec![span];
    };
    // Slices belong to a span by their start, so its edges are whole slices.
    let fine = span.resolution.length();
    let (from, to) = (step_up(span.from, fine), step_up(span.to, fine));
    let (c0, c1) = (step_up(from, coarse.length()), step_of(to, coarse.length()));
    if c0 >= c1 {
        return vec![span];
    }
    let part = |from, to, resolution| Span {
        from,
        to,
        resolution,
    };
    let mut out = Vec::new();
    if span.from < c0 {
        out.push(part(span.from, c0, span.resolution));
    }
    out.extend(pieces(part(c0, c1, coarse)));
    if c1 < span.to {
        out.push(part(c1, span.to, span.resolution));
    }
    out
}

/// Where an SLO's good and total events (or minutes) come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Sli {
    /// Good and total counts sent to Klaxon (`POST /api/v1/slos/{id}/counts`), for teams
    /// without Prometheus.
    Pushed,
    /// A ratio of two PromQL expressions asked of a configured Prometheus-compatible source:
    /// `good` (or `bad`) events over `total` events, each with `{{window}}` where the range
    /// goes: `sum(increase(http_requests_total{code=~"5.."}[{{window}}]))`.
    Prometheus {
        /// The source's name in the configuration (`[[slos.sources]]`).
        source: String,
        good: Option<String>,
        bad: Option<String>,
        total: String,
    },
    /// The time an uptime check or a status-page component (one of them, on the SLO's service)
    /// was up: good minutes are up minutes, total minutes those it was watched. A time SLI.
    Availability {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        check: Option<CheckId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        component: Option<ComponentId>,
    },
}

/// Where a PromQL expression takes its range.
pub const WINDOW_PLACEHOLDER: &str = "{{window}}";

/// `expr` with its range set to `window` (`5m`, `1h`, `3d`: PromQL's own spelling).
pub fn promql(expr: &str, window: SignedDuration) -> String {
    expr.replace(WINDOW_PLACEHOLDER, &format_duration(window))
}

impl Sli {
    pub fn kind(&self) -> &'static str {
        match self {
            Sli::Pushed => "pushed",
            Sli::Prometheus { .. } => "prometheus",
            Sli::Availability { .. } => "availability",
        }
    }

    pub fn basis(&self) -> Basis {
        match self {
            Sli::Availability { .. } => Basis::Time,
            Sli::Pushed | Sli::Prometheus { .. } => Basis::Events,
        }
    }

    /// What an availability SLI watches; `None` for the other kinds (or one not checked yet).
    pub fn source(&self) -> Option<availability::Source> {
        match self {
            Sli::Availability {
                check: Some(c),
                component: None,
            } => Some(availability::Source::Check(*c)),
            Sli::Availability {
                check: None,
                component: Some(c),
            } => Some(availability::Source::Component(*c)),
            _ => None,
        }
    }

    /// Checks the SLI's shape: a known source, one of `good` and `bad`, and every expression
    /// with its `{{window}}`; an availability SLI's one check or component. Whether Prometheus
    /// takes the expressions, and whether the check or component is the service's, is asked at
    /// save time.
    pub fn check(&self, sources: &[&str]) -> Result<(), Invalid> {
        if let Sli::Availability { .. } = self {
            return match self.source() {
                Some(_) => Ok(()),
                None => Err(Invalid::new(
                    "sli.check",
                    "give check or component, one of them",
                )),
            };
        }
        let Sli::Prometheus {
            source,
            good,
            bad,
            total,
        } = self
        else {
            return Ok(());
        };
        if !sources.contains(&source.as_str()) {
            return Err(Invalid::new(
                "sli.source",
                if sources.is_empty() {
                    "no Prometheus source is configured ([[slos.sources]])".to_owned()
                } else {
                    format!(
                        "must be one of the configured sources: {}",
                        sources.join(", ")
                    )
                },
            ));
        }
        let (field, ratio) = match (good, bad) {
            (Some(g), None) => ("sli.good", g),
            (None, Some(b)) => ("sli.bad", b),
            _ => {
                return Err(Invalid::new(
                    "sli.good",
                    "give good or bad, one of them, over total",
                ));
            }
        };
        for (field, expr) in [(field, ratio), ("sli.total", total)] {
            if expr.trim().is_empty() || expr.len() > 4000 {
                return Err(Invalid::new(
                    field,
                    "must be a PromQL expression of 1 to 4,000 characters",
                ));
            }
            if !expr.contains(WINDOW_PLACEHOLDER) {
                return Err(Invalid::new(
                    field,
                    "must say where its range goes with {{window}}, such as rate(x[{{window}}])",
                ));
            }
        }
        Ok(())
    }
}

/// A rule and whether it is firing.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleState {
    pub rule: BurnRule,
    pub firing: bool,
    /// When it last fired or resolved.
    pub since: Option<Timestamp>,
}

/// A service level objective on a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    pub id: SloId,
    pub service_id: ServiceId,
    pub name: String,
    pub description: String,
    pub objective: Objective,
    pub window: Window,
    pub sli: Sli,
    /// The remaining share of the budget at or under which it is at risk (default 0.2).
    pub at_risk: f64,
    pub rules: Vec<RuleState>,
    pub status: BudgetStatus,
    pub status_since: Timestamp,
    /// The last evaluation step that changed something (by any instance).
    pub evaluated_step: Option<Timestamp>,
    /// Since when the SLI's source has not answered, and whether its "silent" alert is open.
    pub silent_since: Option<Timestamp>,
    pub silent_alerted: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The at-risk share unless an SLO says otherwise.
pub const DEFAULT_AT_RISK: f64 = 0.2;

/// A name for people: 1 to 200 characters after trimming.
pub fn name(raw: &str) -> Result<String, Invalid> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > 200 {
        return Err(Invalid::new("name", "must be 1 to 200 characters"));
    }
    Ok(t.to_owned())
}

pub fn at_risk(share: f64) -> Result<f64, Invalid> {
    if share.is_finite() && share > 0.0 && share < 1.0 {
        Ok(share)
    } else {
        Err(Invalid::new(
            "at_risk",
            "must be a share of the budget above 0 and below 1, such as 0.2",
        ))
    }
}

/// Rules an SLO may have: 1 to 10, names unique (1 to 40 letters, digits, `-` or `_`), each
/// short window at least a minute and shorter than its long one, the long one within the SLO's
/// window, and a rate above 0.
pub fn check_rules(rules: &[BurnRule], window: SignedDuration) -> Result<(), Invalid> {
    if rules.is_empty() || rules.len() > 10 {
        return Err(Invalid::new("rules", "an SLO has 1 to 10 rules"));
    }
    for (i, r) in rules.iter().enumerate() {
        let field = |f: &str| format!("rules[{i}].{f}");
        let ok_name = !r.name.is_empty()
            && r.name.len() <= 40
            && r.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok_name {
            return Err(Invalid::new(
                field("name"),
                "must be 1 to 40 letters, digits, - or _",
            ));
        }
        if rules[..i].iter().any(|o| o.name == r.name) {
            return Err(Invalid::new(field("name"), "is used by another rule"));
        }
        if r.short < SignedDuration::from_secs(60) {
            return Err(Invalid::new(field("short"), "must be at least a minute"));
        }
        if r.long <= r.short {
            return Err(Invalid::new(
                field("long"),
                "must be longer than the short window",
            ));
        }
        if r.long > window {
            return Err(Invalid::new(
                field("long"),
                "must not be longer than the SLO's window",
            ));
        }
        if !(r.rate.is_finite() && r.rate > 0.0) {
            return Err(Invalid::new(field("rate"), "must be above 0"));
        }
        if !(r.budget_spent.is_finite() && r.budget_spent >= 0.0) {
            return Err(Invalid::new(field("budget_spent"), "must be 0 or more"));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "slo_tests.rs"]
mod tests;
