//! Drills: incidents declared for practice. A scenario scripts what happens during one (alerts
//! that fire and resolve, news that arrives) at minute offsets from its start, and sets the
//! targets the response is measured against; a drill's scorecard is that measure.
//!
//! A scenario is a typed document, YAML or JSON of the same shape:
//!
//! ```yaml
//! name: checkout-db-failover
//! title: Checkout database fails over
//! service: checkout
//! severity: SEV2
//! targets: { acknowledge_minutes: 5, roles: [commander, communications_lead], roles_minutes: 10 }
//! steps:
//!   - at: 0
//!     alert: { summary: "Checkout p99 above 2 s", dedup_key: checkout-latency, severity: critical }
//!   - at: 4
//!     note: "Support: customers say payments fail"
//!   - at: 12
//!     resolve: checkout-latency
//! ```
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Invalid;
use crate::alert::Severity as AlertSeverity;
use crate::incident::Severity;

/// At most this many steps in one scenario.
pub const MAX_STEPS: usize = 100;
/// Steps happen within a day of the start; targets are at most a day too.
pub const MAX_MINUTES: u32 = 24 * 60;
/// Names a scenario may not take: the pages beside `/drills/scenarios/{name}`.
pub const RESERVED_NAMES: [&str; 3] = ["new", "record", "preview"];
/// What every drill's incident title starts with, so no reader takes it for the real thing.
pub const TITLE_MARK: &str = "DRILL: ";

/// The incident title a drill (or not) carries: marked once, or unmarked.
pub fn marked_title(title: &str, drill: bool) -> String {
    let bare = title.strip_prefix(TITLE_MARK).unwrap_or(title);
    if drill {
        format!("{TITLE_MARK}{bare}")
    } else {
        bare.to_owned()
    }
}

/// The targets a response is measured against; each is optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DrillTargets)]
pub struct Targets {
    /// Minutes from the start to the first acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledge_minutes: Option<u32>,
    /// The roles to assemble (each assigned to someone); the commander when absent.
    #[serde(default = "commander_only")]
    pub roles: Vec<String>,
    /// Minutes from the start until every role in `roles` is held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles_minutes: Option<u32>,
    /// Minutes from the start to the first stakeholder update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_update_minutes: Option<u32>,
    /// Runbook steps to complete during the drill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook_steps: Option<u32>,
}

fn commander_only() -> Vec<String> {
    vec!["commander".to_owned()]
}

impl Default for Targets {
    fn default() -> Self {
        Self {
            acknowledge_minutes: None,
            roles: commander_only(),
            roles_minutes: None,
            first_update_minutes: None,
            runbook_steps: None,
        }
    }
}

/// An alert a scenario raises on the drill's incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrillAlert {
    pub summary: String,
    /// Names the alert within the scenario: `resolve` refers to it.
    pub dedup_key: String,
    #[serde(default = "error_severity")]
    pub severity: AlertSeverity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Free-form details, as a monitoring tool would send them (runbooks read
    /// `alert.details.*`).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

fn error_severity() -> AlertSeverity {
    AlertSeverity::Error
}

/// One thing that happens at `at` minutes after the start: exactly one of `alert`, `resolve`
/// (an earlier alert's `dedup_key`) or `note` (news for the responders, on the timeline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DrillScenarioStep)]
pub struct ScenarioStep {
    /// Minutes after the start (fractions allowed: 0.5 is 30 s).
    pub at: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<DrillAlert>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act<'a> {
    Alert(&'a DrillAlert),
    Resolve(&'a str),
    Note(&'a str),
}

impl ScenarioStep {
    /// Its offset from the start, to the millisecond.
    pub fn offset(&self) -> SignedDuration {
        SignedDuration::from_millis((self.at * 60_000.0).round() as i64)
    }

    pub fn act(&self) -> Option<Act<'_>> {
        match (&self.alert, &self.resolve, &self.note) {
            (Some(a), None, None) => Some(Act::Alert(a)),
            (None, Some(k), None) => Some(Act::Resolve(k)),
            (None, None, Some(n)) => Some(Act::Note(n)),
            _ => None,
        }
    }
}

/// A drill as written: what it is called, what the incident looks like, what happens, and the
/// targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DrillScenario)]
pub struct Scenario {
    /// Its key: lower-case letters, digits and dashes; unique.
    pub name: String,
    /// The drill incident's title ("DRILL: " is put in front).
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The service the incident is on, by name or id: its escalation policy pages real
    /// people. Needed when the scenario raises alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub severity: Severity,
    #[serde(default)]
    pub targets: Targets,
    #[serde(default)]
    pub steps: Vec<ScenarioStep>,
}

fn filled(at: impl Fn() -> String, s: &str, max: usize) -> Result<(), Invalid> {
    if s.trim().is_empty() {
        return Err(Invalid::new(at(), "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(Invalid::new(
            at(),
            format!("is longer than {max} characters"),
        ));
    }
    Ok(())
}

fn minutes(at: &str, m: Option<u32>) -> Result<(), Invalid> {
    match m {
        Some(m) if m == 0 || m > MAX_MINUTES => Err(Invalid::new(
            at,
            format!("must be between 1 and {MAX_MINUTES} minutes"),
        )),
        _ => Ok(()),
    }
}

impl Scenario {
    /// Checks what serde cannot: names, lengths, the steps' order and that each `resolve`
    /// names an alert raised before it.
    pub fn check(&self) -> Result<(), Invalid> {
        if !crate::runbook::is_runbook_name(&self.name) || RESERVED_NAMES.contains(&&*self.name) {
            return Err(Invalid::new(
                "name",
                format!(
                    "`{}` is not a scenario name: lower-case letters, digits and dashes, at most 63",
                    self.name
                ),
            ));
        }
        // As an incident's title is checked at declaration, with room for the mark.
        crate::incident::parse_title("title", &self.title, 200 - TITLE_MARK.len())?;
        if self.description.chars().count() > 20_000 {
            return Err(Invalid::new(
                "description",
                "is longer than 20000 characters",
            ));
        }
        if let Some(s) = &self.service {
            filled(|| "service".into(), s, 200)?;
        }
        let t = &self.targets;
        minutes("targets.acknowledge_minutes", t.acknowledge_minutes)?;
        minutes("targets.roles_minutes", t.roles_minutes)?;
        minutes("targets.first_update_minutes", t.first_update_minutes)?;
        if t.runbook_steps.is_some_and(|n| n > 1000) {
            return Err(Invalid::new(
                "targets.runbook_steps",
                "must be at most 1000",
            ));
        }
        if t.roles.is_empty() && t.roles_minutes.is_some() {
            return Err(Invalid::new(
                "targets.roles",
                "must name a role when roles_minutes is set",
            ));
        }
        for (i, r) in t.roles.iter().enumerate() {
            filled(|| format!("targets.roles[{i}]"), r, 40)?;
        }
        if self.steps.len() > MAX_STEPS {
            return Err(Invalid::new(
                "steps",
                format!("has more than {MAX_STEPS} steps"),
            ));
        }
        let mut raised: Vec<&str> = Vec::new();
        // Keys raised and not resolved yet: a second alert under one would be a duplicate.
        let mut open: Vec<&str> = Vec::new();
        let mut last = 0.0;
        for (i, s) in self.steps.iter().enumerate() {
            let at = |f: &str| format!("steps[{i}].{f}");
            if !s.at.is_finite() || s.at < 0.0 || s.at > f64::from(MAX_MINUTES) {
                return Err(Invalid::new(
                    at("at"),
                    format!("must be between 0 and {MAX_MINUTES} minutes"),
                ));
            }
            if s.at < last {
                return Err(Invalid::new(
                    at("at"),
                    "must not be before the step above it: steps are in time order",
                ));
            }
            last = s.at;
            match s.act() {
                None => {
                    return Err(Invalid::new(
                        format!("steps[{i}]"),
                        "needs exactly one of alert, resolve or note",
                    ));
                }
                Some(Act::Alert(a)) => {
                    if self.service.is_none() {
                        return Err(Invalid::new(
                            "service",
                            "is needed to raise alerts: they are raised on a service",
                        ));
                    }
                    filled(|| at("alert.summary"), &a.summary, 1024)?;
                    // Raised as `drill:<id>:<key>`: 43 more, within an alert key's 255.
                    filled(|| at("alert.dedup_key"), &a.dedup_key, 212)?;
                    for (f, v) in [
                        ("source", &a.source),
                        ("component", &a.component),
                        ("group", &a.group),
                        ("class", &a.class),
                    ] {
                        if let Some(v) = v {
                            filled(|| at(&format!("alert.{f}")), v, 255)?;
                        }
                    }
                    if !(a.details.is_null() || a.details.is_object()) {
                        return Err(Invalid::new(at("alert.details"), "must be a mapping"));
                    }
                    if open.contains(&a.dedup_key.as_str()) {
                        return Err(Invalid::new(
                            at("alert.dedup_key"),
                            format!(
                                "`{}` is raised above and not resolved yet: resolve it first, \
                                 or give this alert a key of its own",
                                a.dedup_key
                            ),
                        ));
                    }
                    raised.push(&a.dedup_key);
                    open.push(&a.dedup_key);
                }
                Some(Act::Resolve(k)) => {
                    if !raised.contains(&k) {
                        return Err(Invalid::new(
                            at("resolve"),
                            format!("no alert above has the dedup_key `{k}`"),
                        ));
                    }
                    open.retain(|o| *o != k);
                }
                Some(Act::Note(n)) => filled(|| at("note"), n, 2000)?,
            }
        }
        Ok(())
    }

    /// The steps due by `elapsed` after the start, by position.
    pub fn due(&self, elapsed: SignedDuration) -> impl Iterator<Item = usize> + '_ {
        self.steps
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.offset() <= elapsed)
            .map(|(i, _)| i)
    }

    /// When the first step after `elapsed` is due, as an offset from the start.
    pub fn next_after(&self, elapsed: SignedDuration) -> Option<SignedDuration> {
        self.steps
            .iter()
            .map(ScenarioStep::offset)
            .find(|o| *o > elapsed)
    }
}

/// Minutes as people read them: "4.5 min", "1 h 30 min".
pub fn minutes_text(m: f64) -> String {
    if m >= 60.0 {
        let h = (m / 60.0).floor();
        let rest = m - h * 60.0;
        if rest.abs() < 0.005 {
            format!("{h} h")
        } else {
            format!("{h} h {} min", (rest * 100.0).round() / 100.0)
        }
    } else {
        format!("{} min", (m * 100.0).round() / 100.0)
    }
}

impl Scenario {
    /// What happens, in words: one line per step, then one per target.
    pub fn describe(&self) -> (Vec<String>, Vec<String>) {
        let steps = self
            .steps
            .iter()
            .map(|s| {
                let what = match s.act() {
                    Some(Act::Alert(a)) => format!(
                        "the alert “{}” fires ({}, key {})",
                        a.summary, a.severity, a.dedup_key
                    ),
                    Some(Act::Resolve(k)) => format!("the alert with key {k} resolves"),
                    Some(Act::Note(n)) => format!("news for the responders: “{n}”"),
                    None => "nothing".to_owned(),
                };
                format!("At {}: {what}", minutes_text(s.at))
            })
            .collect();
        let t = &self.targets;
        let mut targets = Vec::new();
        if let Some(m) = t.acknowledge_minutes {
            targets.push(format!(
                "Acknowledged within {}",
                minutes_text(f64::from(m))
            ));
        }
        if let Some(m) = t.roles_minutes {
            targets.push(format!(
                "Roles held ({}) within {}",
                t.roles.join(", "),
                minutes_text(f64::from(m))
            ));
        }
        if let Some(m) = t.first_update_minutes {
            targets.push(format!(
                "First stakeholder update within {}",
                minutes_text(f64::from(m))
            ));
        }
        if let Some(n) = t.runbook_steps {
            targets.push(format!("At least {n} runbook steps completed"));
        }
        (steps, targets)
    }
}

/// A YAML (or JSON) scenario, checked.
pub fn parse(text: &str) -> Result<Scenario, Invalid> {
    let s: Scenario = crate::yaml::typed("scenario", text)?;
    s.check()?;
    Ok(s)
}

/// An alert of a past incident, for [`record`].
#[derive(Debug, Clone, PartialEq)]
pub struct PastAlert {
    pub created_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub summary: String,
    pub dedup_key: String,
    pub severity: AlertSeverity,
    pub source: Option<String>,
    pub component: Option<String>,
    pub group: Option<String>,
    pub class: Option<String>,
    pub details: serde_json::Value,
}

/// Minutes to a hundredth (0.6 s), as a scenario writes them.
fn minutes_of(d: SignedDuration) -> f64 {
    (d.as_millis() as f64 / 600.0).round() / 100.0
}

/// A scenario replaying a past incident's alerts at the offsets they came (from the first),
/// each resolved when it was. Steps past a day, or past [`MAX_STEPS`], are left out; the
/// count left out is returned.
pub fn record(
    name: String,
    title: &str,
    service: Option<String>,
    severity: Severity,
    mut alerts: Vec<PastAlert>,
) -> (Scenario, usize) {
    alerts.sort_by_key(|a| a.created_at);
    let start = alerts.first().map(|a| a.created_at);
    let mut steps: Vec<(SignedDuration, usize, ScenarioStep)> = Vec::new();
    let limit = SignedDuration::from_mins(i64::from(MAX_MINUTES));
    let mut left_out = 0;
    for (n, a) in alerts.into_iter().enumerate() {
        let start = start.unwrap_or(a.created_at);
        let at = a.created_at.duration_since(start);
        if at > limit {
            left_out += 1;
            continue;
        }
        // The same key twice: the second is its own alert once the first resolved.
        let key = a.dedup_key.clone();
        match a.resolved_at.map(|r| r.duration_since(start).max(at)) {
            Some(r) if r <= limit => {
                let step = ScenarioStep {
                    at: minutes_of(r),
                    alert: None,
                    resolve: Some(key.clone()),
                    note: None,
                };
                steps.push((r, 2 * n + 1, step));
            }
            Some(_) => left_out += 1,
            None => {}
        }
        let alert = DrillAlert {
            summary: a.summary,
            dedup_key: key,
            severity: a.severity,
            source: a.source,
            component: a.component,
            group: a.group,
            class: a.class,
            details: a.details,
        };
        let step = ScenarioStep {
            at: minutes_of(at),
            alert: Some(alert),
            resolve: None,
            note: None,
        };
        steps.push((at, 2 * n, step));
    }
    steps.sort_by_key(|(at, n, _)| (*at, *n));
    let mut kept: Vec<ScenarioStep> = Vec::new();
    // Keys raised in the replay and not resolved yet.
    let mut open: Vec<String> = Vec::new();
    for (_, _, s) in steps {
        if kept.len() == MAX_STEPS {
            left_out += 1;
            continue;
        }
        match (&s.alert, &s.resolve) {
            // The same key again while its alert is open was one alert: counted, not raised.
            (Some(a), _) if open.contains(&a.dedup_key) => {
                left_out += 1;
                continue;
            }
            (Some(a), _) => open.push(a.dedup_key.clone()),
            // A resolve whose alert was left out (or resolved already) goes too.
            (None, Some(k)) if !open.contains(k) => continue,
            (None, Some(k)) => open.retain(|o| o != k),
            _ => {}
        }
        kept.push(s);
    }
    let scenario = Scenario {
        name,
        // Within the room a scenario's title has (the mark goes in front).
        title: title
            .strip_prefix(TITLE_MARK)
            .unwrap_or(title)
            .chars()
            .take(200 - TITLE_MARK.len())
            .collect(),
        description: String::new(),
        service,
        severity,
        targets: Targets::default(),
        steps: kept,
    };
    (scenario, left_out)
}

/// What a drill's incident shows about the response, read from its timeline.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScoreFacts {
    pub acknowledged_at: Option<Timestamp>,
    /// When each role was first assigned during the drill.
    pub roles: Vec<(String, Timestamp)>,
    pub first_update_at: Option<Timestamp>,
    /// Runbook steps that succeeded (done, approved, or run without error) on the incident.
    pub runbook_steps_done: u32,
}

/// One timed measure: how long from the start, against its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = DrillTiming)]
pub struct Timing {
    /// Seconds from the start; none if it has not happened.
    pub seconds: Option<i64>,
    pub target_seconds: Option<i64>,
    /// Against the target: none without a target, or while it may still be met.
    pub met: Option<bool>,
}

/// A drill's scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = DrillScorecard)]
pub struct Scorecard {
    pub acknowledge: Timing,
    /// Until every role in the targets was held.
    pub roles: Timing,
    /// The target roles nobody was assigned.
    pub roles_missing: Vec<String>,
    pub first_update: Timing,
    pub runbook_steps: u32,
    pub runbook_steps_target: Option<u32>,
    pub runbook_steps_met: Option<bool>,
    /// Whether the drill was over when it was scored (a running drill's card may change).
    pub over: bool,
}

fn timing(
    start: Timestamp,
    at: Option<Timestamp>,
    target: Option<u32>,
    now: Timestamp,
    over: bool,
) -> Timing {
    let seconds = at.map(|t| t.duration_since(start).as_secs().max(0));
    let target_seconds = target.map(|m| i64::from(m) * 60);
    let met = target_seconds.and_then(|t| match seconds {
        Some(s) => Some(s <= t),
        // Not yet: missed once the target passed or the drill ended.
        None if over || now.duration_since(start).as_secs() > t => Some(false),
        None => None,
    });
    Timing {
        seconds,
        target_seconds,
        met,
    }
}

/// Seconds as people read them: "45 s", "3 min 20 s", "1 h 5 min".
pub fn duration_text(secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

impl Timing {
    /// "3 min 20 s (target 5 min: met)", "not yet (target 15 min)", "never (target 10 min:
    /// missed)".
    pub fn text(&self) -> String {
        let value = match self.seconds {
            Some(s) => duration_text(s),
            None if self.met == Some(false) => "never".to_owned(),
            None => "not yet".to_owned(),
        };
        match (self.target_seconds, self.met) {
            (Some(t), Some(true)) => format!("{value} (target {}: met)", duration_text(t)),
            (Some(t), Some(false)) => format!("{value} (target {}: missed)", duration_text(t)),
            (Some(t), None) => format!("{value} (target {})", duration_text(t)),
            (None, _) => value,
        }
    }
}

impl Scorecard {
    /// The whole card in one sentence, for the timeline.
    pub fn summary(&self) -> String {
        let steps = match (self.runbook_steps_target, self.runbook_steps_met) {
            (Some(t), Some(true)) => format!("{} (target {t}: met)", self.runbook_steps),
            (Some(t), Some(false)) => format!("{} (target {t}: missed)", self.runbook_steps),
            (Some(t), None) => format!("{} (target {t})", self.runbook_steps),
            (None, _) => self.runbook_steps.to_string(),
        };
        let missing = if self.roles_missing.is_empty() {
            String::new()
        } else {
            format!(", nobody held {}", self.roles_missing.join(", "))
        };
        format!(
            "acknowledged: {}; roles assembled: {}{missing}; first update: {}; runbook steps \
             completed: {steps}",
            self.acknowledge.text(),
            self.roles.text(),
            self.first_update.text(),
        )
    }
}

/// Scores a drill that started at `start`, at `now` (its end if `over`).
pub fn score(
    start: Timestamp,
    targets: &Targets,
    facts: &ScoreFacts,
    now: Timestamp,
    over: bool,
) -> Scorecard {
    let mut missing = Vec::new();
    let mut assembled: Option<Timestamp> = Some(start);
    for role in &targets.roles {
        match facts
            .roles
            .iter()
            .filter(|(r, _)| r == role)
            .map(|(_, at)| *at)
            .min()
        {
            Some(at) => assembled = assembled.map(|a| a.max(at)),
            None => {
                missing.push(role.clone());
                assembled = None;
            }
        }
    }
    let steps_target = targets.runbook_steps;
    Scorecard {
        acknowledge: timing(
            start,
            facts.acknowledged_at,
            targets.acknowledge_minutes,
            now,
            over,
        ),
        roles: timing(start, assembled, targets.roles_minutes, now, over),
        roles_missing: missing,
        first_update: timing(
            start,
            facts.first_update_at,
            targets.first_update_minutes,
            now,
            over,
        ),
        runbook_steps: facts.runbook_steps_done,
        runbook_steps_target: steps_target,
        runbook_steps_met: steps_target.and_then(|t| {
            if facts.runbook_steps_done >= t {
                Some(true)
            } else {
                over.then_some(false)
            }
        }),
        over,
    }
}

#[cfg(test)]
#[path = "drill_tests.rs"]
mod tests;
