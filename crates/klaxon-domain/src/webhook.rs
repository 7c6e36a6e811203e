//! Outgoing webhooks: other tools follow incidents by receiving their timeline events.
use jiff::{SignedDuration, Timestamp};

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
