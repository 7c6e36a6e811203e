//! Action items: what an incident (or its postmortem) taught, to be done by someone by a date.
//!
//! The rules here are pure: the due date from the SLO, the state moves, when an owner is
//! reminded, and when an incident counts as "learned from".
use jiff::{SignedDuration, Timestamp};

use crate::{Invalid, named_enum};

named_enum! {
    /// What an item does about the incident.
    pub enum ActionKind (field = "kind") {
        Prevent = "prevent",
        Mitigate = "mitigate",
        Detect = "detect",
        Process = "process",
    }
}

named_enum! {
    pub enum ActionState (field = "state") {
        Open = "open",
        InProgress = "in_progress",
        Done = "done",
        WontDo = "wont_do",
    }
}

impl ActionState {
    /// Still to be done: open or in progress.
    pub fn is_open(self) -> bool {
        matches!(self, ActionState::Open | ActionState::InProgress)
    }
}

pub const TITLE_MAX: usize = 200;
pub const REASON_MAX: usize = 2_000;
pub const TRACKER_URL_MAX: usize = 2_000;

/// How long items have, and when owners hear about them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slo {
    /// Days a priority item has (Atlassian's 4 weeks by default).
    pub priority_days: u32,
    /// Days any other item has (8 weeks by default).
    pub other_days: u32,
    /// Days before the due date that the first reminder goes.
    pub remind_before_days: u32,
}

impl Default for Slo {
    fn default() -> Self {
        Self {
            priority_days: 28,
            other_days: 56,
            remind_before_days: 3,
        }
    }
}

const DAY: SignedDuration = SignedDuration::from_hours(24);

fn days(n: u32) -> SignedDuration {
    SignedDuration::from_hours(24 * i64::from(n))
}

/// The due date: the one given, which may not be in the past, or `now` plus the SLO.
pub fn due_at(
    priority: bool,
    given: Option<Timestamp>,
    now: Timestamp,
    slo: &Slo,
) -> Result<Timestamp, Invalid> {
    match given {
        Some(t) if t < now => Err(Invalid::new("due_at", "must not be in the past")),
        Some(t) => Ok(t),
        None => {
            let n = if priority {
                slo.priority_days
            } else {
                slo.other_days
            };
            Ok(now.saturating_add(days(n)).unwrap_or(now))
        }
    }
}

/// The reason kept with a state: required (and trimmed) for won't do, none otherwise.
pub fn reason_for(state: ActionState, reason: Option<&str>) -> Result<Option<String>, Invalid> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    match (state, reason) {
        (ActionState::WontDo, None) => Err(Invalid::new(
            "reason",
            "say why the item will not be done (required for wont_do)",
        )),
        (ActionState::WontDo, Some(r)) if r.chars().count() > REASON_MAX => Err(Invalid::new(
            "reason",
            format!("must be at most {REASON_MAX} characters"),
        )),
        (ActionState::WontDo, Some(r)) => Ok(Some(r.to_owned())),
        _ => Ok(None),
    }
}

/// An outside tracker's link: an http(s) URL.
pub fn parse_tracker_url(raw: &str) -> Result<Option<String>, Invalid> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let lower = s.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://"))
        || s.chars().any(char::is_whitespace)
        || s.chars().count() > TRACKER_URL_MAX
    {
        return Err(Invalid::new(
            "tracker_url",
            "must be an http:// or https:// link",
        ));
    }
    Ok(Some(s.to_owned()))
}

/// From when an item's owner may be reminded: `remind_before_days` before it is due.
pub fn reminders_from(due_at: Timestamp, slo: &Slo) -> Timestamp {
    due_at
        .saturating_sub(days(slo.remind_before_days))
        .unwrap_or(due_at)
}

/// Whether the owner is reminded now: the item is still open, its reminder window has begun
/// (before and after the due date alike), and they were not reminded in the last day.
pub fn reminder_due(
    state: ActionState,
    due_at: Timestamp,
    last_reminded_at: Option<Timestamp>,
    now: Timestamp,
    slo: &Slo,
) -> bool {
    state.is_open()
        && now >= reminders_from(due_at, slo)
        && last_reminded_at.is_none_or(|last| now >= last.saturating_add(DAY).unwrap_or(last))
}

/// The last reminder time an item may have and still be reminded at `now`.
pub fn reminded_before(now: Timestamp) -> Timestamp {
    now.saturating_sub(DAY).unwrap_or(now)
}

/// Whether an item is overdue at `now`: still open after its due date.
pub fn is_overdue(state: ActionState, due_at: Timestamp, now: Timestamp) -> bool {
    state.is_open() && due_at < now
}

/// An incident is learned from when none of its priority items is still open; items that are
/// not priority never hold it back.
pub fn learned_from(items: impl IntoIterator<Item = (bool, ActionState)>) -> bool {
    !items
        .into_iter()
        .any(|(priority, state)| priority && state.is_open())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn due_dates_follow_the_slo_and_refuse_the_past() {
        let now = t("2026-11-21T09:00:00Z");
        let slo = Slo::default();
        assert_eq!(
            due_at(true, None, now, &slo).unwrap(),
            t("2026-12-19T09:00:00Z")
        );
        assert_eq!(
            due_at(false, None, now, &slo).unwrap(),
            t("2027-01-16T09:00:00Z")
        );
        let given = t("2026-11-22T00:00:00Z");
        assert_eq!(due_at(true, Some(given), now, &slo).unwrap(), given);
        assert_eq!(
            due_at(true, Some(t("2026-11-21T08:59:59Z")), now, &slo)
                .unwrap_err()
                .field,
            "due_at"
        );
    }

    #[test]
    fn wont_do_needs_a_reason_and_other_states_keep_none() {
        assert_eq!(
            reason_for(ActionState::WontDo, Some("  "))
                .unwrap_err()
                .field,
            "reason"
        );
        assert_eq!(
            reason_for(ActionState::WontDo, Some(" covered by #12 ")).unwrap(),
            Some("covered by #12".into())
        );
        assert_eq!(reason_for(ActionState::Done, Some("x")).unwrap(), None);
    }

    #[test]
    fn owners_are_reminded_daily_from_before_the_due_date_until_done() {
        let slo = Slo::default();
        let due = t("2026-12-10T09:00:00Z");
        let open = ActionState::Open;
        assert!(!reminder_due(
            open,
            due,
            None,
            t("2026-12-07T08:59:00Z"),
            &slo
        ));
        assert!(reminder_due(
            open,
            due,
            None,
            t("2026-12-07T09:00:00Z"),
            &slo
        ));
        let last = Some(t("2026-12-07T09:00:00Z"));
        assert!(!reminder_due(
            open,
            due,
            last,
            t("2026-12-08T08:59:00Z"),
            &slo
        ));
        assert!(reminder_due(
            open,
            due,
            last,
            t("2026-12-08T09:00:00Z"),
            &slo
        ));
        // After the due date, still daily.
        let last = Some(t("2026-12-20T09:00:00Z"));
        assert!(reminder_due(
            ActionState::InProgress,
            due,
            last,
            t("2026-12-21T10:00:00Z"),
            &slo
        ));
        for closed in [ActionState::Done, ActionState::WontDo] {
            assert!(!reminder_due(
                closed,
                due,
                None,
                t("2026-12-21T10:00:00Z"),
                &slo
            ));
        }
    }

    #[test]
    fn only_an_open_priority_item_holds_learning_back() {
        assert!(learned_from([]));
        assert!(learned_from([(false, ActionState::Open)]));
        assert!(learned_from([
            (true, ActionState::Done),
            (true, ActionState::WontDo)
        ]));
        assert!(!learned_from([(true, ActionState::InProgress)]));
        assert!(!learned_from([(true, ActionState::Open)]));
    }

    #[test]
    fn tracker_links_are_web_links() {
        assert_eq!(parse_tracker_url(" ").unwrap(), None);
        assert!(parse_tracker_url("javascript:alert(1)").is_err());
        assert_eq!(
            parse_tracker_url("https://jira.example.com/browse/OPS-1").unwrap(),
            Some("https://jira.example.com/browse/OPS-1".into())
        );
    }
}
