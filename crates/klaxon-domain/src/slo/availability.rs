//! Availability SLIs: the time an uptime check or a status-page component was up, in minutes.
//! Good minutes are the up ones, total minutes those the source was watched (from its first
//! recorded state on; nothing before it existed counts). A time SLI: its budget is a share of
//! the whole window ([`super::Budget::time`]). docs/slos.md states the rules; keep them in step.
use jiff::{SignedDuration, Timestamp};

use super::{Counts, Resolution, step_of};
use crate::check::CheckState;
use crate::ids::{CheckId, ComponentId};
use crate::status::ComponentStatus;

/// What an availability SLI watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Check(CheckId),
    Component(ComponentId),
}

/// A state a source entered at `at`. `down` is the share of its time that counts as down: 0
/// up, 1 down, between for a component's partial outage (its page's weight).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub at: Timestamp,
    pub down: f64,
}

/// A check is down or it is not.
pub fn check_down(state: CheckState) -> f64 {
    match state {
        CheckState::Up => 0.0,
        CheckState::Down => 1.0,
    }
}

/// A component's status as downtime, as its status page's uptime bars count it (Statuspage's
/// and Instatus' convention): a major outage is down, a partial outage down by the page's
/// `partial_weight` (0.3 unless changed), degraded performance and planned maintenance up.
pub fn component_down(status: ComponentStatus, partial_weight: f64) -> f64 {
    match status {
        ComponentStatus::MajorOutage => 1.0,
        ComponentStatus::PartialOutage => partial_weight.clamp(0.0, 1.0),
        ComponentStatus::Operational
        | ComponentStatus::DegradedPerformance
        | ComponentStatus::UnderMaintenance => 0.0,
    }
}

fn mins(d: SignedDuration) -> f64 {
    d.as_secs_f64() / 60.0
}

/// Up (good) and watched (total) minutes over `[from, to)`, from a source's changes in time
/// order: the last one at or before `from` gives the state the span starts in; before the
/// first one the source did not exist yet, so that time is not counted at all.
pub fn minutes(changes: &[Change], from: Timestamp, to: Timestamp) -> Counts {
    let mut out = Counts::default();
    for (i, c) in changes.iter().enumerate() {
        let start = c.at.max(from);
        let end = changes.get(i + 1).map_or(to, |n| n.at).min(to);
        if end <= start {
            continue;
        }
        let m = mins(end.duration_since(start));
        out.total += m;
        out.good += m * (1.0 - c.down.clamp(0.0, 1.0));
    }
    out
}

/// The minutes of each UTC hour of `[from, to)`, oldest first, each at its end (the last one
/// at `to`, the hour under way): the slices of a burn-down chart.
pub fn hours(changes: &[Change], from: Timestamp, to: Timestamp) -> Vec<(Timestamp, Counts)> {
    let hour = Resolution::Hour.length();
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let end = (step_of(start, hour) + hour).min(to);
        out.push((end, minutes(changes, start, end)));
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(m: i64) -> Timestamp {
        "2026-11-21T09:00:00Z".parse::<Timestamp>().unwrap() + SignedDuration::from_mins(m)
    }

    fn up(m: i64) -> Change {
        Change {
            at: t(m),
            down: 0.0,
        }
    }

    fn down(m: i64) -> Change {
        Change {
            at: t(m),
            down: 1.0,
        }
    }

    #[test]
    fn no_change_in_the_span_keeps_the_state_it_started_in() {
        // Up since long before: the whole span is up; down since before: all of it is down.
        assert_eq!(minutes(&[up(-600)], t(0), t(60)), Counts::new(60.0, 60.0));
        assert_eq!(minutes(&[down(-600)], t(0), t(60)), Counts::new(0.0, 60.0));
        // No change at all: a source that does not exist watches nothing.
        assert_eq!(minutes(&[], t(0), t(60)), Counts::default());
    }

    #[test]
    fn a_span_counts_only_its_own_part_of_an_outage() {
        let changes = [up(-600), down(10), up(25)];
        // 15 minutes down inside an hour.
        assert_eq!(minutes(&changes, t(0), t(60)), Counts::new(45.0, 60.0));
        // A span that cuts the outage at both edges: 5 of its 10 minutes.
        assert_eq!(minutes(&changes, t(20), t(30)), Counts::new(5.0, 10.0));
        // Spans inside the outage, and after it.
        assert_eq!(minutes(&changes, t(12), t(17)), Counts::new(0.0, 5.0));
        assert_eq!(minutes(&changes, t(25), t(85)), Counts::new(60.0, 60.0));
    }

    #[test]
    fn a_change_exactly_at_an_edge_belongs_to_the_span_it_starts() {
        let changes = [up(-600), down(10), up(25)];
        // Ending when it goes down: nothing down yet. Starting when it goes down: down at once.
        assert_eq!(minutes(&changes, t(0), t(10)), Counts::new(10.0, 10.0));
        assert_eq!(minutes(&changes, t(10), t(15)), Counts::new(0.0, 5.0));
        // Ending when it comes back up: all down; starting then: all up.
        assert_eq!(minutes(&changes, t(20), t(25)), Counts::new(0.0, 5.0));
        assert_eq!(minutes(&changes, t(25), t(30)), Counts::new(5.0, 5.0));
        // An empty span counts nothing.
        assert_eq!(minutes(&changes, t(10), t(10)), Counts::default());
    }

    #[test]
    fn time_before_the_source_existed_is_not_counted() {
        // Created up 20 minutes into the hour, down for 4 minutes at 30.
        let changes = [up(20), down(30), up(34)];
        assert_eq!(minutes(&changes, t(0), t(60)), Counts::new(36.0, 40.0));
        // A span wholly before it: nothing watched, so no error rate either.
        let before = minutes(&changes, t(0), t(20));
        assert_eq!(before, Counts::default());
        assert_eq!(before.error_rate(), None);
    }

    #[test]
    fn seconds_count_as_fractions_of_a_minute_and_partial_outages_by_weight() {
        let changes = [
            up(-60),
            Change {
                at: t(0) + SignedDuration::from_secs(30),
                down: component_down(ComponentStatus::PartialOutage, 0.3),
            },
            Change {
                at: t(10) + SignedDuration::from_secs(30),
                down: component_down(ComponentStatus::DegradedPerformance, 0.3),
            },
        ];
        let c = minutes(&changes, t(0), t(20));
        assert_eq!(c.total, 20.0);
        // Ten minutes of partial outage at 0.3 are three minutes down.
        assert!((c.good - 17.0).abs() < 1e-9, "{c:?}");
        assert_eq!(component_down(ComponentStatus::MajorOutage, 0.3), 1.0);
        assert_eq!(component_down(ComponentStatus::UnderMaintenance, 0.3), 0.0);
        assert_eq!(check_down(CheckState::Down), 1.0);
    }

    #[test]
    fn the_sli_reads_as_its_kind_and_one_source() {
        use super::super::{Basis, Sli};
        let id: CheckId = "0190e2a4-0000-7000-8000-000000000001".parse().unwrap();
        let sli: Sli = serde_json::from_str(
            r#"{"kind": "availability", "check": "0190e2a4-0000-7000-8000-000000000001"}"#,
        )
        .unwrap();
        assert_eq!(sli.source(), Some(Source::Check(id)));
        assert_eq!(sli.basis(), Basis::Time);
        assert_eq!(
            serde_json::to_value(&sli).unwrap(),
            serde_json::json!({"kind": "availability", "check": id})
        );
        assert!(sli.check(&[]).is_ok());
        // Neither, or both: refused on `sli.check`.
        for bad in [
            Sli::Availability {
                check: None,
                component: None,
            },
            Sli::Availability {
                check: Some(id),
                component: Some(ComponentId(id.0)),
            },
        ] {
            assert_eq!(bad.check(&[]).unwrap_err().field, "sli.check");
            assert_eq!(bad.source(), None);
        }
    }

    #[test]
    fn hours_slice_a_span_at_utc_hours_with_the_last_one_ending_at_its_end() {
        let changes = [up(-600), down(50), up(70)];
        let got = hours(&changes, t(-30), t(90));
        assert_eq!(
            got,
            [
                (t(0), Counts::new(30.0, 30.0)),
                (t(60), Counts::new(50.0, 60.0)),
                (t(90), Counts::new(20.0, 30.0)),
            ]
        );
        // Their sum is the span's.
        let sum: Counts = got.into_iter().map(|(_, c)| c).sum();
        assert_eq!(sum, minutes(&changes, t(-30), t(90)));
    }
}
