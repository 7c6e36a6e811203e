//! Learning from incidents: the numbers. Per-incident durations from the milestones, their
//! aggregates over a set, week buckets for trends, and the on-call bands (business, off,
//! sleep hours) in a person's own time zone. Pure: the server reads the rows, this computes.
//! The formulas are stated in docs/learning.md; keep the two in step.
use jiff::civil::{DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use crate::incident::Milestones;
use crate::named_enum;

/// One measured duration. A missing start or end is "not applicable" (never zero, which would
/// drag a mean down); an end before its start is "invalid" (kept out of aggregates, but shown
/// so someone fixes the milestone).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Measure {
    Measured {
        /// Whole and fractional seconds from start to end.
        seconds: f64,
    },
    NotApplicable,
    Invalid,
}

impl Measure {
    /// From `start` to `end`, when both are known.
    pub fn between(start: Option<Timestamp>, end: Option<Timestamp>) -> Self {
        match (start, end) {
            (Some(s), Some(e)) if e < s => Measure::Invalid,
            (Some(s), Some(e)) => Measure::Measured {
                seconds: millis(e.as_millisecond() - s.as_millisecond()),
            },
            _ => Measure::NotApplicable,
        }
    }

    pub fn seconds(&self) -> Option<f64> {
        match self {
            Measure::Measured { seconds } => Some(*seconds),
            _ => None,
        }
    }

    /// For people: "1 h 5 min", "not applicable", "invalid (end before start)".
    pub fn label(&self) -> String {
        match self {
            Measure::Measured { seconds } => human(*seconds),
            Measure::NotApplicable => "not applicable".into(),
            Measure::Invalid => "invalid (end before start)".into(),
        }
    }
}

fn millis(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// "45 s", "12 min 5 s", "3 h 20 min", "2 d 4 h".
pub fn human(seconds: f64) -> String {
    let s = seconds.round() as i64;
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    match () {
        _ if d > 0 => format!("{d} d {h} h"),
        _ if h > 0 => format!("{h} h {m} min"),
        _ if m > 0 => format!("{m} min {sec} s"),
        _ => format!("{sec} s"),
    }
}

/// The durations of one incident. See [`durations`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Durations {
    /// Time to detect: impact started → detected.
    pub ttd: Measure,
    /// Time to acknowledge: declared (or triggered) → acknowledged.
    pub tta: Measure,
    /// Time to mitigate: impact started (or, unknown, declared) → mitigated.
    pub ttm: Measure,
    /// Time to resolve: impact started (or, unknown, declared) → resolved.
    pub ttr: Measure,
    /// The whole incident: declared → closed (or, not closed yet, resolved).
    pub duration: Measure,
}

/// The metric names, in order; also the API's and CSV's column stems.
pub const METRICS: [&str; 5] = ["ttd", "tta", "ttm", "ttr", "duration"];

impl Durations {
    pub fn get(&self, name: &str) -> Measure {
        match name {
            "ttd" => self.ttd,
            "tta" => self.tta,
            "ttm" => self.ttm,
            "ttr" => self.ttr,
            _ => self.duration,
        }
    }
}

/// The per-incident durations from its milestones, recomputed on every read, so an edited
/// milestone changes them at once. `declared_at` is when the incident was declared by a person
/// or triggered by an alert. The R in TTR is **resolve**: impact start to the `resolved_at`
/// milestone (service restored and confirmed), not repair or recovery; mitigation has its own
/// TTM.
pub fn durations(m: &Milestones) -> Durations {
    let from_impact = m.impact_started_at.or(m.declared_at);
    Durations {
        ttd: Measure::between(m.impact_started_at, m.detected_at),
        tta: Measure::between(m.declared_at, m.acknowledged_at),
        ttm: Measure::between(from_impact, m.mitigated_at),
        ttr: Measure::between(from_impact, m.resolved_at),
        duration: Measure::between(m.declared_at, m.closed_at.or(m.resolved_at)),
    }
}

named_enum! {
    /// What a metrics report is grouped by.
    pub enum GroupBy (field = "group_by", schema = "InsightsGroupBy") {
        Service = "service",
        /// The service's escalation policy: the team that answers.
        Team = "team",
        Severity = "severity",
        Category = "category",
    }
}

/// Count, mean, median and p90 of a set of measured values (seconds). Values that are not
/// applicable or invalid are not in the set; an empty set has no mean, median or p90.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stats {
    pub count: u64,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

/// Median: the middle value, or the mean of the two middle ones. p90: nearest rank, the value
/// at rank ⌈0.9 n⌉ of the sorted values (so always one of the values, never interpolated).
pub fn stats(values: &[f64]) -> Stats {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return Stats::default();
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let rank = (n * 9).div_ceil(10).max(1);
    Stats {
        count: n as u64,
        mean: Some(v.iter().sum::<f64>() / n as f64),
        median: Some(median),
        p90: Some(v[rank - 1]),
    }
}

/// The week an instant falls in, for trends: its Monday 00:00 UTC. UTC, so a week is the same
/// for every reader and every export.
pub fn week_start(at: Timestamp) -> Timestamp {
    let z = at.to_zoned(TimeZone::UTC);
    let back = i64::from(z.weekday().to_monday_zero_offset());
    let monday = z.date() - back.days();
    monday
        .to_zoned(TimeZone::UTC)
        .map(|z| z.timestamp())
        .unwrap_or(at)
}

/// Every week start from `from`'s week to `to`'s (inclusive), so a trend shows empty weeks too.
pub fn weeks(from: Timestamp, to: Timestamp) -> Vec<Timestamp> {
    let mut out = Vec::new();
    let mut w = week_start(from);
    let last = week_start(to);
    while w <= last && out.len() < 10_000 {
        out.push(w);
        w = match w.checked_add(jiff::SignedDuration::from_hours(24 * 7)) {
            Ok(n) => n,
            Err(_) => break,
        };
    }
    out
}

/// The on-call bands, as PagerDuty counts interruptions, in the person's own time zone.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// 08:00–18:00 Monday to Friday.
    Business,
    /// Outside business and sleep hours: 18:00–22:00 weekdays, 08:00–22:00 weekends.
    Off,
    /// 22:00–08:00, every day.
    Sleep,
}

impl Band {
    pub const ALL: [Band; 3] = [Band::Business, Band::Off, Band::Sleep];

    pub fn as_str(self) -> &'static str {
        match self {
            Band::Business => "business",
            Band::Off => "off",
            Band::Sleep => "sleep",
        }
    }
}

/// The band of a local wall-clock time.
fn band_of_civil(dt: DateTime) -> Band {
    let h = dt.hour();
    if !(8..22).contains(&h) {
        return Band::Sleep;
    }
    let weekday = !matches!(dt.weekday(), Weekday::Saturday | Weekday::Sunday);
    if weekday && h < 18 {
        Band::Business
    } else {
        Band::Off
    }
}

/// The band a page sent at `at` falls in, for someone in `tz`.
pub fn classify(at: Timestamp, tz: &TimeZone) -> Band {
    band_of_civil(at.to_zoned(tz.clone()).datetime())
}

/// Seconds spent in each band.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BandSeconds {
    pub business: f64,
    pub off: f64,
    pub sleep: f64,
}

impl BandSeconds {
    pub fn get(&self, b: Band) -> f64 {
        match b {
            Band::Business => self.business,
            Band::Off => self.off,
            Band::Sleep => self.sleep,
        }
    }

    fn add(&mut self, b: Band, s: f64) {
        match b {
            Band::Business => self.business += s,
            Band::Off => self.off += s,
            Band::Sleep => self.sleep += s,
        }
    }

    pub fn total(&self) -> f64 {
        self.business + self.off + self.sleep
    }

    pub fn plus(mut self, o: &BandSeconds) -> Self {
        self.business += o.business;
        self.off += o.off;
        self.sleep += o.sleep;
        self
    }
}

/// The next band boundary (a local 08:00, 18:00 or 22:00) strictly after `at`. Elapsed time is
/// measured between instants, so a night across a DST change is 9 or 11 hours of sleep band.
fn next_boundary(at: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    let date = at.to_zoned(tz.clone()).date();
    [0i64, 1]
        .into_iter()
        .filter_map(|d| date.checked_add(d.days()).ok())
        .flat_map(|day| [8, 18, 22].map(|h| day.at(h, 0, 0, 0)))
        .filter_map(|dt| tz.to_ambiguous_zoned(dt).compatible().ok())
        .map(|z| z.timestamp())
        .find(|t| *t > at)
}

/// Splits the on-call interval [`from`, `to`) into seconds per band in `tz`.
pub fn split(from: Timestamp, to: Timestamp, tz: &TimeZone) -> BandSeconds {
    let mut out = BandSeconds::default();
    let mut at = from;
    while at < to {
        let next = next_boundary(at, tz).map_or(to, |b| b.min(to));
        out.add(
            classify(at, tz),
            millis(next.as_millisecond() - at.as_millisecond()),
        );
        if next <= at {
            break;
        }
        at = next;
    }
    out
}

#[cfg(test)]
mod tests;
