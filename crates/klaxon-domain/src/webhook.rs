//! Outgoing webhooks: other tools follow incidents by receiving their timeline events.
use jiff::{SignedDuration, Timestamp};

use crate::Invalid;
use crate::event::EventKind;

/// Which events a webhook receives: exact kinds (`incident.resolved`) or prefixes ending in
/// `.` (`incident.`, `notification.`). Empty: every incident event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventFilter(Vec<String>);

impl EventFilter {
    pub fn parse(kinds: &[String]) -> Result<Self, Invalid> {
        let mut out = Vec::new();
        for k in kinds.iter().map(|k| k.trim()).filter(|k| !k.is_empty()) {
            let known = EventKind::ALL
                .iter()
                .any(|e| e.as_str() == k || (k.ends_with('.') && e.as_str().starts_with(k)));
            if !known {
                return Err(Invalid::new(
                    "events",
                    format!(
                        "{k} is not an event kind or a prefix of one (e.g. incident.resolved, incident.)"
                    ),
                ));
            }
            if !out.iter().any(|o| o == k) {
                out.push(k.to_owned());
            }
        }
        Ok(Self(out))
    }

    pub fn matches(&self, kind: EventKind) -> bool {
        self.0.is_empty()
            || self.0.iter().any(|k| {
                kind.as_str() == k || (k.ends_with('.') && kind.as_str().starts_with(k.as_str()))
            })
    }

    pub fn kinds(&self) -> &[String] {
        &self.0
    }
}

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: u32 = 8;

/// When to try again after `attempts` tries: 30 s, 1 min, 2 min, ... at most an hour. None
/// once the attempts are spent.
pub fn retry_at(attempts: u32, now: Timestamp) -> Option<Timestamp> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let secs = 30i64
        .saturating_mul(1 << attempts.saturating_sub(1).min(10))
        .min(3600);
    now.checked_add(SignedDuration::from_secs(secs)).ok()
}

/// What an HTTP answer (or none) means for a delivery: receivers take deliveries at least once
/// and tell them apart by the delivery id, so anything short of a refusal is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    /// 4xx other than 408 and 429: the receiver will not take it.
    Refused,
    Retry,
}

pub fn judge(status: Option<u16>) -> Answer {
    match status {
        Some(200..=299) => Answer::Accepted,
        Some(408 | 429) | Some(500..=599) | None => Answer::Retry,
        Some(_) => Answer::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_take_kinds_and_prefixes() {
        let all = EventFilter::parse(&[]).unwrap();
        assert!(all.matches(EventKind::IncidentNoteAdded));
        let f =
            EventFilter::parse(&["incident.resolved".into(), " notification. ".into()]).unwrap();
        assert!(f.matches(EventKind::IncidentResolved));
        assert!(f.matches(EventKind::NotificationSent));
        assert!(!f.matches(EventKind::IncidentAcknowledged));
        assert_eq!(f.kinds(), ["incident.resolved", "notification."]);
        let e = EventFilter::parse(&["incident.exploded".into()]).unwrap_err();
        assert_eq!(e.field, "events");
        assert!(EventFilter::parse(&["incident".into()]).is_err());
    }

    #[test]
    fn retries_back_off_then_stop() {
        let t0: Timestamp = "2026-11-21T00:00:00Z".parse().unwrap();
        let gap = |n| retry_at(n, t0).map(|t| t.duration_since(t0).as_secs());
        assert_eq!(gap(1), Some(30));
        assert_eq!(gap(2), Some(60));
        assert_eq!(gap(3), Some(120));
        assert_eq!(gap(7), Some(1920));
        assert_eq!(gap(MAX_ATTEMPTS), None);
        assert_eq!(judge(Some(204)), Answer::Accepted);
        assert_eq!(judge(Some(410)), Answer::Refused);
        assert_eq!(judge(Some(429)), Answer::Retry);
        assert_eq!(judge(Some(503)), Answer::Retry);
        assert_eq!(judge(None), Answer::Retry);
    }
}
