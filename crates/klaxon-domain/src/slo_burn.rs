//! The error budget an incident burned: its SLOs' bad events (or bad minutes) between its
//! impact start (or its declaration) and its resolution, as a share of the budget of the SLO
//! window it ended in. Pure; the formulas are in docs/slos.md ("Incidents and budgets").
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::slo::{Basis, Budget, Counts, MINUTE_WINDOWS_UP_TO, Objective, Resolution, Span};
use crate::slo::{pieces, step_of, step_up};

/// What an incident cost one SLO.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Burned {
    /// Bad and all events (or minutes) during the incident.
    pub bad: f64,
    pub total: f64,
    /// The budget of the SLO's window as it stood when the incident ended; none for an event
    /// SLI that had no events in that window.
    pub allowed: Option<f64>,
    /// bad / allowed: 0.25 is a quarter of the window's budget. None without a budget.
    pub share: Option<f64>,
}

/// The burn from the counts during the incident and over the SLO's window at its end.
/// `window_len` is the window's whole length (a time SLI's budget is a share of it).
pub fn burned(
    objective: Objective,
    basis: Basis,
    during: Counts,
    window: Counts,
    window_len: SignedDuration,
) -> Burned {
    let allowed = match basis {
        Basis::Events => Budget::events(objective, window).allowed,
        Basis::Time => Budget::time(objective, window, window_len).allowed,
    };
    let allowed = (allowed > 0.0).then_some(allowed);
    let bad = during.bad();
    Burned {
        bad,
        total: during.total,
        allowed,
        share: allowed.map(|a| bad / a),
    }
}

/// The slices that sum pushed counts over an incident's `[from, to)`, rounded out to whole
/// slices (a slice counts by its start): minutes while minute slices are kept (the incident
/// began within the last day before `now`; its whole five minutes and hours from those
/// slices), hours (with whole UTC days from day slices) after that.
pub fn incident_spans(from: Timestamp, to: Timestamp, now: Timestamp) -> Vec<Span> {
    let resolution = if now.duration_since(from) <= MINUTE_WINDOWS_UP_TO {
        Resolution::Minute
    } else {
        Resolution::Hour
    };
    let len = resolution.length();
    let span = Span {
        from: step_of(from, len),
        to: step_up(to.max(from), len),
        resolution,
    };
    if span.from == span.to {
        // An incident resolved the instant it began still covers the slice it is in.
        return vec![Span {
            to: span.from + len,
            ..span
        }];
    }
    pieces(span)
}

/// The slices that sum pushed counts over an SLO's window `[from, to)` up to the end of an
/// incident: its whole hours (and days), then the minutes of its last hour while minute slices
/// are kept (`to` within the last day before `now`). An hour slice is not read past `to`, so
/// events after the incident never count in its budget; later, without minutes, the last
/// partial hour is left out.
pub fn window_spans(from: Timestamp, to: Timestamp, now: Timestamp) -> Vec<Span> {
    let cut = step_of(to, Resolution::Hour.length()).max(from);
    let mut out = pieces(Span {
        from,
        to: cut,
        resolution: Resolution::Hour,
    });
    if cut < to && now.duration_since(cut) <= MINUTE_WINDOWS_UP_TO {
        out.push(Span {
            from: cut,
            to,
            resolution: Resolution::Minute,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn an_event_slo_burn_is_a_share_of_its_windows_budget() {
        // 99.9 % over a window of 1,000,000 events allows 1,000 bad ones; the incident had 250
        // bad of 20,000: a quarter of the budget.
        let b = burned(
            Objective::new(99.9).unwrap(),
            Basis::Events,
            Counts::new(19_750.0, 20_000.0),
            Counts::new(999_000.0, 1_000_000.0),
            SignedDuration::from_hours(24 * 30),
        );
        assert_eq!(b.bad, 250.0);
        assert_eq!(b.total, 20_000.0);
        assert!((b.allowed.unwrap() - 1_000.0).abs() < 1e-6);
        assert!((b.share.unwrap() - 0.25).abs() < 1e-9);
    }

    #[test]
    fn a_time_slo_burn_is_a_share_of_the_whole_windows_minutes() {
        // 99.9 % over 30 days allows 43.2 bad minutes; 21.6 down is half of it.
        let b = burned(
            Objective::new(99.9).unwrap(),
            Basis::Time,
            Counts::new(38.4, 60.0),
            Counts::new(100.0, 100.0),
            SignedDuration::from_hours(24 * 30),
        );
        assert!((b.allowed.unwrap() - 43.2).abs() < 1e-9);
        assert!((b.share.unwrap() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn no_events_in_the_window_is_no_budget_rather_than_infinity() {
        let b = burned(
            Objective::new(99.0).unwrap(),
            Basis::Events,
            Counts::default(),
            Counts::default(),
            SignedDuration::from_hours(24 * 7),
        );
        assert_eq!((b.allowed, b.share), (None, None));
    }

    #[test]
    fn a_recent_incident_is_summed_by_the_minute_rounded_out() {
        let now = at("2026-03-02T12:00:00Z");
        let spans = incident_spans(at("2026-03-02T10:00:30Z"), at("2026-03-02T10:20:10Z"), now);
        // Its whole five minutes from five-minute slices, the last minute alone.
        assert_eq!(
            spans,
            vec![
                Span {
                    from: at("2026-03-02T10:00:00Z"),
                    to: at("2026-03-02T10:20:00Z"),
                    resolution: Resolution::FiveMinutes,
                },
                Span {
                    from: at("2026-03-02T10:20:00Z"),
                    to: at("2026-03-02T10:21:00Z"),
                    resolution: Resolution::Minute,
                }
            ]
        );
        // Resolved the instant it began: still its own minute.
        let t = at("2026-03-02T11:00:00Z");
        assert_eq!(incident_spans(t, t, now)[0].to, at("2026-03-02T11:01:00Z"));
    }

    #[test]
    fn a_window_ends_with_the_minutes_of_its_last_hour_while_they_are_kept() {
        let span = |f: &str, t: &str, resolution| Span {
            from: at(f),
            to: at(t),
            resolution,
        };
        let (from, to) = (at("2026-02-01T10:12:00Z"), at("2026-03-03T10:12:00Z"));
        assert_eq!(
            window_spans(from, to, at("2026-03-03T10:20:00Z")),
            vec![
                span(
                    "2026-02-01T10:12:00Z",
                    "2026-02-02T00:00:00Z",
                    Resolution::Hour
                ),
                span(
                    "2026-02-02T00:00:00Z",
                    "2026-03-03T00:00:00Z",
                    Resolution::Day
                ),
                span(
                    "2026-03-03T00:00:00Z",
                    "2026-03-03T10:00:00Z",
                    Resolution::Hour
                ),
                span(
                    "2026-03-03T10:00:00Z",
                    "2026-03-03T10:12:00Z",
                    Resolution::Minute
                ),
            ]
        );
        // Two days on, the minutes are gone: the whole hours only, never the hour past `to`.
        let later = window_spans(from, to, at("2026-03-05T10:20:00Z"));
        assert_eq!(later.last().unwrap().to, at("2026-03-03T10:00:00Z"));
    }

    #[test]
    fn an_older_incident_is_summed_by_the_hour_and_its_whole_days() {
        let now = at("2026-03-10T00:00:00Z");
        let spans = incident_spans(at("2026-03-01T22:10:00Z"), at("2026-03-04T01:05:00Z"), now);
        let span = |f: &str, t: &str, resolution| Span {
            from: at(f),
            to: at(t),
            resolution,
        };
        assert_eq!(
            spans,
            vec![
                span(
                    "2026-03-01T22:00:00Z",
                    "2026-03-02T00:00:00Z",
                    Resolution::Hour
                ),
                span(
                    "2026-03-02T00:00:00Z",
                    "2026-03-04T00:00:00Z",
                    Resolution::Day
                ),
                span(
                    "2026-03-04T00:00:00Z",
                    "2026-03-04T02:00:00Z",
                    Resolution::Hour
                ),
            ]
        );
    }
}
